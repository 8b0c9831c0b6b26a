#!/usr/bin/env bash
# Runs the end-to-end tests against the real app window. Expects a display (Xvfb), a session bus
# with an unlocked Secret Service (see `make test-e2e`), and built binaries:
# target/debug/mde-car-desktop and target/debug/mde-sim (under CARGO_TARGET_DIR when set).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
mkdir -p output
export PATH="$HOME/.cargo/bin:$PATH"

# The app's data folder for this run; tauri-driver's children inherit it.
MDE_CAR_DATA_DIR=$(mktemp -d)
export MDE_CAR_DATA_DIR
# The app writes exports here instead of asking with the native save dialog (which WebDriver
# cannot drive); see src-tauri/src/export.rs.
MDE_CAR_EXPORT_DIR=$(mktemp -d)
export MDE_CAR_EXPORT_DIR
target=${CARGO_TARGET_DIR:-$root/target}
export MDE_CAR_APP="$target/debug/mde-car-desktop"
export MDE_SIM_BIN="$target/debug/mde-sim"
export E2E_OUTPUT="$PWD/output"

tauri-driver --port 4444 --native-port 4445 >output/tauri-driver.log 2>&1 &
driver=$!
cleanup() { kill "$driver" 2>/dev/null || true; wait "$driver" 2>/dev/null || true; rm -rf "$MDE_CAR_DATA_DIR" "$MDE_CAR_EXPORT_DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/4444) 2>/dev/null && break
  sleep 0.1
done
# Every test file, or the ones named (`tests/e2e/run.sh partial-run.test.mjs`).
if [ "$#" -gt 0 ]; then files=("$@"); else files=(./*.test.mjs); fi
node --test --test-concurrency=1 "${files[@]}"
