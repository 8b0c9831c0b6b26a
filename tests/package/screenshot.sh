#!/usr/bin/env bash
# Opens the installed app and takes a screenshot of the screen once the page has painted and
# settled. Run by tests/package/run.sh inside `xvfb-run ... dbus-run-session --
# scripts/with-keyring.sh`, with SHOT (the PNG to write) and MDE_CAR_DATA_DIR set.
# Synchronises by polling, with deadlines: the window by its title, then the screen until it has
# content (many colours: text, not a blank or single-colour page) and two captures in a row agree.
set -euo pipefail
: "${SHOT:?SHOT names the PNG to write}"
dir=$(dirname "$SHOT")
title='MDE Connected Assets & Risk'

/usr/bin/mde-car-desktop >"$dir/app.log" 2>&1 &
app=$!
trap 'kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true' EXIT

alive() {
  kill -0 "$app" 2>/dev/null || { echo "screenshot: the app exited early (log: $dir/app.log)" >&2; tail -20 "$dir/app.log" >&2; exit 1; }
}

deadline=$((SECONDS + 60))
window=""
until window=$(xdotool search --name "^${title}\$" 2>/dev/null | head -1) && [ -n "$window" ]; do
  alive
  [ "$SECONDS" -lt "$deadline" ] || { echo "screenshot: no window titled '$title' within 60 s" >&2; exit 1; }
  sleep 0.2
done
echo "screenshot: window $window is up"

deadline=$((SECONDS + 60))
previous=""
while :; do
  alive
  import -window root "$dir/capture.png"
  colours=$(identify -format '%k' "$dir/capture.png")
  if [ "$colours" -ge 64 ] && [ -n "$previous" ] &&
    [ "$(compare -metric AE "$dir/capture.png" "$previous" null: 2>&1 || true)" = 0 ]; then
    break
  fi
  [ "$SECONDS" -lt "$deadline" ] || { echo "screenshot: the page did not paint and settle within 60 s ($colours colours)" >&2; exit 1; }
  cp "$dir/capture.png" "$dir/previous.png"
  previous=$dir/previous.png
  sleep 0.3
done
mv "$dir/capture.png" "$SHOT"
echo "screenshot: $SHOT ($colours colours)"
