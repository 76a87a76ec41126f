#!/usr/bin/env bash
# Installs what Tack needs to build, run and test, and nothing that is already there.
# Safe to run again. Usage: scripts/setup.sh [run|test]   (test also installs the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-test}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages ------------------------------------------------------------------------
apt_packages=(
  build-essential pkg-config libssl-dev
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev
  libsqlite3-dev
  file xdg-utils
)
if [ "$purpose" = test ]; then
  apt_packages+=(xvfb webkit2gtk-driver pushpin redis-server python3-websockets imagemagick librsvg2-bin xdotool iproute2 chromium)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "$purpose" = test ]; then
  # The Debian package enables services we don't use: tests start their own Pushpin and Redis
  # on free loopback ports, so a system-wide instance is never in the way.
  true
fi

# --- Rust -------------------------------------------------------------------------------------
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first (https://rustup.rs)" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
if [ "$purpose" = test ]; then
  command -v tauri-driver >/dev/null || { say "cargo install tauri-driver"; cargo install tauri-driver --locked --version '^2'; }
  command -v cargo-fuzz >/dev/null || { say "cargo install cargo-fuzz"; cargo install cargo-fuzz --locked; }
  command -v cargo-nextest >/dev/null || { say "cargo install cargo-nextest"; cargo install cargo-nextest --locked; }
fi

# --- The web UI -----------------------------------------------------------------------------
command -v npm >/dev/null || { echo "npm not found: install Node.js 20 or newer" >&2; exit 1; }
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  say "npm ci (ui/)"
  npm --prefix ui ci --no-audit --no-fund
fi
