#!/usr/bin/env bash
# Brings a fresh Debian/Ubuntu machine to the point where `make run` and `make test` work:
# system packages (Tauri's WebKitGTK build deps, Xvfb, WebKitWebDriver, D-Bus, gnome-keyring),
# tauri-driver, cargo-deny, and the npm packages of ui/ and tests/e2e/. Idempotent: each step
# checks first.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Tauri's documented Debian build list, plus what running and testing the app needs.
BUILD_PKGS=(libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev pkg-config libdbus-1-dev)
# dbus-x11 is deliberately absent: with it, the app autolaunches a session bus that outlives it.
RUN_PKGS=(xvfb xauth x11-utils webkit2gtk-driver imagemagick dbus gnome-keyring libsecret-tools
  keyutils xdotool)
# `make package` and its test (tests/package/): dpkg-shlibdeps (dpkg-dev), lintian, man and col,
# systemd-analyze for the units.
PACKAGE_PKGS=(dpkg-dev lintian man-db bsdextrautils systemd)

missing=()
for pkg in "${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${PACKAGE_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo is missing; install Rust with rustup (https://rustup.rs) first" >&2
  exit 1
fi

# tauri-driver bridges WebDriver clients to WebKitWebDriver for the E2E tests.
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "install-deps: cargo install tauri-driver"
  cargo install tauri-driver --locked --version 2.1.0
fi

# cargo-deny checks the dependency graph against deny.toml (`make deny`, `make audit`). Pinned:
# another version may read deny.toml differently. Built from source, about 5 minutes on 2 cores.
CARGO_DENY_VERSION=0.20.2
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  echo "install-deps: cargo install cargo-deny $CARGO_DENY_VERSION"
  cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION"
fi

# npm packages: reinstalled when a lockfile is newer than the last install.
npm_ci() {
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -f "$dir/node_modules/.installed" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.installed" ]; then
    echo "install-deps: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$dir/node_modules/.installed"
  fi
}
npm_ci ui
npm_ci tests/e2e
