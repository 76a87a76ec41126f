#!/usr/bin/env bash
# Sets up what is missing, then opens Tack on its built-in server.
# Extra arguments go to the app, e.g. scripts/run.sh --connect http://127.0.0.1:7999
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
npm --prefix ui run build
exec cargo run -p tack-desktop -- "$@"
