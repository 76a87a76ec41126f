#!/usr/bin/env bash
# Builds the .deb users download (scripts/package.sh), installs it with dpkg, launches the installed
# app under Xvfb and checks that its window opens and its built-in server starts. Removes the
# package afterwards. (AppImage needs linuxdeploy downloaded from the internet: not built here.)
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
artifacts=${TACK_E2E_ARTIFACTS:-$PWD/tests/e2e/artifacts}
mkdir -p "$artifacts"

deb=$(scripts/package.sh | tail -n 1)

as_root dpkg -i "$deb"
trap 'as_root dpkg -r tack >/dev/null 2>&1 || true' EXIT
for f in /usr/bin/tack-desktop /usr/share/applications/Tack.desktop \
         /usr/share/icons/hicolor/32x32/apps/tack-desktop.png /usr/share/icons/hicolor/128x128/apps/tack-desktop.png; do
  [ -e "$f" ] || { echo "the package did not install $f"; dpkg -L tack; exit 1; }
done
grep -q '^Exec=tack-desktop' /usr/share/applications/Tack.desktop

display=:$(( 200 + RANDOM % 50 ))
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
for _ in $(seq 1 100); do  # until the X server takes clients
  DISPLAY=$display xdotool getdisplaygeometry >/dev/null 2>&1 && break
  sleep 0.1
done
home=$(mktemp -d)
DISPLAY=$display HOME=$home XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config /usr/bin/tack-desktop &
app=$!
trap 'kill $app $xvfb 2>/dev/null || true; as_root dpkg -r tack >/dev/null 2>&1 || true; rm -rf "$home"' EXIT

# The window appears...
DISPLAY=$display timeout 60 xdotool search --sync --onlyvisible --name '^Tack$' >/dev/null \
  || { echo "the installed app opened no window titled Tack"; exit 1; }
# ...and the UI asked the shell to start the built-in server, which now listens on loopback.
for _ in $(seq 1 120); do
  ss -ltnpH 2>/dev/null | grep -q "pid=$app," && break
  sleep 0.5
done
ss -ltnpH | grep -q "pid=$app," || { echo "the installed app's built-in server never listened"; exit 1; }
DISPLAY=$display import -window root "$artifacts/installed-app.png"
echo "installed app: window open, built-in server listening; screenshot $artifacts/installed-app.png"
