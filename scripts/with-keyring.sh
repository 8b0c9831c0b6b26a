#!/usr/bin/env bash
# Runs a command with a real, unlocked Secret Service (gnome-keyring) on the current session bus.
# Use inside `dbus-run-session --`. The keyring files live in a throw-away folder, so tests never
# touch the user's own keyring.
set -euo pipefail
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
# gnome-keyring needs a non-empty password to create and unlock the login keyring without a
# GUI prompt (it would try to start gcr-prompter, which has no display).
printf '%s' "${KEYRING_PASSWORD:-mde-car-test}" | XDG_DATA_HOME="$keyring_home" \
  gnome-keyring-daemon --unlock --components=secrets >/dev/null
for _ in $(seq 100); do
  dbus-send --session --dest=org.freedesktop.DBus --print-reply /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true' && break
  sleep 0.05
done
"$@"
