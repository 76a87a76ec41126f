#!/usr/bin/env bash
# Renders icons/src/*.svg into every size the Tauri bundler and the Linux desktop use.
# Small sizes come from tack-small.svg (bolder, no margin) so the pin stays readable at 16 px.
# Needs rsvg-convert (librsvg2-bin) and convert (imagemagick).
set -euo pipefail
cd "$(dirname "$0")/../icons"
big=src/tack.svg
small=src/tack-small.svg
render() { rsvg-convert -w "$2" -h "$2" "$1" -o "$3"; }
render "$small" 16 16x16.png
render "$small" 32 32x32.png
render "$small" 48 48x48.png
render "$big" 64 64x64.png
render "$big" 128 128x128.png
render "$big" 256 128x128@2x.png
render "$big" 256 256x256.png
render "$big" 512 icon.png
convert 16x16.png 32x32.png 48x48.png 64x64.png 256x256.png icon.ico
