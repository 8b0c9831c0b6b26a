# Entry points. `make run` and `make test` work on a fresh Debian/Ubuntu machine with Rust and
# Node.js installed: both first run scripts/install-deps.sh, which installs what is missing.

SHELL := /bin/bash
CARGO ?= cargo
APP := target/debug/mde-car-desktop
# A private session bus with an unlocked gnome-keyring: the OS keyring the tests use for real.
WITH_KEYRING := dbus-run-session -- scripts/with-keyring.sh
HEADLESS := xvfb-run -a -s "-screen 0 1280x800x24"

.PHONY: setup ui build run test test-rust test-ui test-e2e lint deny audit fmt fmt-check bindings bindings-check bench sim demo clean

setup:
	@scripts/install-deps.sh

ui:
	npm --prefix ui run build

build: setup ui
	$(CARGO) build -p mde-car-desktop -p mde-car-cli -p mde-sim

## Set up, build and open the app.
run: build
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "make run: no display (DISPLAY/WAYLAND_DISPLAY unset); run it from a desktop session, or see README 'Headless'"; exit 1; fi
	$(APP)

## Set up, then every check and test: format, lints, dependency rules, bindings, Rust, UI,
## end-to-end.
test: setup ui fmt-check lint deny bindings-check test-rust test-ui test-e2e
	@echo "make test: all checks passed"

test-rust:
	# The system tests run these binaries as processes.
	$(CARGO) build -p mde-car-cli -p mde-sim
	$(WITH_KEYRING) $(CARGO) test --workspace --exclude mde-car-desktop
	# The shell's tests link the mock runtime; they need no display.
	$(WITH_KEYRING) $(CARGO) test -p mde-car-desktop

test-ui:
	npm --prefix ui test

test-e2e:
	$(CARGO) build -p mde-car-desktop -p mde-sim
	$(HEADLESS) $(WITH_KEYRING) tests/e2e/run.sh

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# The core alone, as its own default build: without the demo feature the simulator is not
	# linked, and the client, sync, store and search must still build (tests included).
	$(CARGO) clippy -p mde-car-core --all-targets -- -D warnings
	# Its library as shipped builds compile it: without the dev-dependencies there is no
	# `failpoints` feature, and the fail points must compile to nothing cleanly.
	$(CARGO) clippy -p mde-car-core --lib -- -D warnings

## The dependency graph against deny.toml: licences, banned crates and wildcard versions, and
## sources (crates.io only). Needs no network once cargo has the crates. Duplicate versions are
## reported as warnings.
deny:
	$(CARGO) deny check --hide-inclusion-graph licenses bans sources

## Known vulnerabilities, not part of `make test`: Cargo.lock against the RustSec advisory
## database, which cargo-deny fetches from GitHub (so this needs network access to it), with the
## accepted advisories of deny.toml; then the npm registry's advisories for the UI's runtime
## packages. docs/supply-chain.md lists what is accepted and why.
audit:
	$(CARGO) deny check --hide-inclusion-graph advisories
	npm --prefix ui audit --omit=dev

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

## Regenerate ui/src/bindings.ts from the Rust commands.
bindings:
	$(CARGO) test -p mde-car-desktop --test bindings

## Fail when the committed bindings differ from what the Rust code generates.
bindings-check: bindings
	@git diff --exit-code -- ui/src/bindings.ts || { echo "ui/src/bindings.ts is stale: run 'make bindings' and commit it"; exit 1; }

## Release-mode benchmarks of sync, search and the simulator, as ratios against floors measured
## in the same run (README "Benchmarks"). Not part of `make test`. BENCH_ARGS=--quick for a smoke run.
bench:
	$(CARGO) build --release -p mde-car-bench
	$(WITH_KEYRING) $(CARGO) run --release -q -p mde-car-bench -- $(BENCH_ARGS)

## The simulator alone, printing the credentials to use.
sim:
	$(CARGO) run -p mde-sim -- --devices 500

## The demo tenant through the CLI.
demo:
	$(WITH_KEYRING) $(CARGO) run -p mde-car-cli -- demo

clean:
	$(CARGO) clean
	rm -rf ui/dist tests/e2e/output
