#!/usr/bin/env bash
# Regenerates the UI's TypeScript from Rust: the engine's event contract (bindings.ts) and the
# shell's commands (commands.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p tack-client --features ts --example ts_bindings > ui/src/lib/backend/bindings.ts
cargo run -q -p tack-history --features ts --example ts_history > ui/src/lib/backend/history.ts
cargo run -q --example ts_commands > ui/src/lib/backend/commands.ts
