#!/usr/bin/env bash
# Builds the .deb users download: the Tauri bundler's package, with its contents compressed
# again by dpkg-deb with xz. The bundler writes gzip and has no setting for it (tauri-apps/tauri
# issue 9846); xz, Debian's own default, makes the download about a third smaller, and every
# dpkg since Debian 7 reads it. Prints the package's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

# The `dist` profile (Cargo.toml): the release build made small, as users download it.
ui/node_modules/.bin/tauri build --bundles deb -- --profile dist >&2
deb=$(ls -t target/dist/bundle/deb/*.deb | head -n 1)
gzip_size=$(stat -c %s "$deb")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb --raw-extract "$deb" "$work/root"
dpkg-deb -Zxz -z9 -Sextreme --root-owner-group --build "$work/root" "$work/tack.deb" >/dev/null
mv "$work/tack.deb" "$deb"
echo "built $deb: $(stat -c %s "$deb") bytes (the bundler's gzip: $gzip_size); binary $(stat -c %s target/dist/tack-desktop) bytes" >&2
echo "$deb"
