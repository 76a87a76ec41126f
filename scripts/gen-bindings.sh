#!/usr/bin/env bash
# Regenerates the UI's TypeScript types from the engine's Rust event contract.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p tack-client --features ts --example ts_bindings > ui/src/lib/backend/bindings.ts
