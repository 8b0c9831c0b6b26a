# Entry points. `make run` and `make test` work on a fresh Debian/Ubuntu machine with Rust and
# Node.js installed: both first run scripts/install-deps.sh, which installs what is missing.

SHELL := /bin/bash
CARGO ?= cargo
APP := target/debug/mde-car-desktop
# A private session bus with an unlocked gnome-keyring: the OS keyring the tests use for real.
WITH_KEYRING := dbus-run-session -- scripts/with-keyring.sh
HEADLESS := xvfb-run -a -s "-screen 0 1280x800x24"
# `make fuzz`: seconds per target, a single input's time limit (a hang fails), memory and input
# size limits, and the cargo-fuzz that runs them.
FUZZ_SECONDS ?= 600
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB ?= 2048
FUZZ_MAX_LEN ?= 65536
FUZZ_TARGETS ?= search_query frequency paging_links machines alerts vulnerabilities hunting token settings
CARGO_FUZZ_VERSION := 0.13.2

.PHONY: setup ui build run package test test-rust test-ui test-e2e test-package screenshots lint deny audit fmt fmt-check bindings bindings-check bench fuzz sim demo clean

setup:
	@scripts/install-deps.sh

ui:
	npm --prefix ui run build

build: setup ui
	$(CARGO) build -p mde-car-desktop -p mde-car-cli -p mde-sim

## Set up, build and open the app.
run: build
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "make run: no display (DISPLAY/WAYLAND_DISPLAY unset); run it from a desktop session, or see README 'Run the daemon on a server'"; exit 1; fi
	$(APP)

## The .deb, release build: the app, the `mde-car` command and its man pages, the systemd units
## (README "Install from the package"; scripts/package.sh, packaging/).
package: setup
	scripts/package.sh

## Set up, then every check and test: format, lints, dependency rules, bindings, Rust, UI,
## end-to-end, the package.
test: setup ui fmt-check lint deny bindings-check test-rust test-ui test-e2e test-package
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

## The README's certificate screenshots (docs/screenshots/), taken by the certificate end-to-end
## test in the real window under Xvfb.
screenshots:
	$(CARGO) build -p mde-car-desktop -p mde-sim
	mkdir -p docs/screenshots
	$(HEADLESS) $(WITH_KEYRING) env E2E_DOCS_SCREENSHOTS=$(CURDIR)/docs/screenshots tests/e2e/run.sh certificates.test.mjs

## The .deb (debug build) built, checked, linted, installed, opened under Xvfb and purged
## (tests/package/run.sh; needs root or sudo). UPDATE_SCREENSHOTS=1 saves
## docs/screenshots/installed-app.png.
test-package:
	tests/package/run.sh

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

## Every fuzz target (fuzz/, docs/fuzzing.md) for FUZZ_SECONDS each (default 600) with the
## nightly toolchain, seeded from fuzz/seeds/; stops at the first crash, timeout or memory blow-up
## and prints the input that caused it. Not part of `make test`. FUZZ_TARGETS=… for a subset.
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)
	$(CARGO) +nightly fuzz build
	@for target in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$target; \
	  echo "make fuzz: $$target for $(FUZZ_SECONDS) s"; \
	  if ! $(CARGO) +nightly fuzz run $$target fuzz/corpus/$$target fuzz/seeds/$$target -- \
	      -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
	      -malloc_limit_mb=$(FUZZ_RSS_MB) -max_len=$(FUZZ_MAX_LEN) -print_final_stats=1; then \
	    echo "make fuzz: $$target failed; its input is in fuzz/artifacts/$$target/:"; \
	    ls -1t fuzz/artifacts/$$target/; exit 1; \
	  fi; \
	done; echo "make fuzz: every target ran $(FUZZ_SECONDS) s without a failure"

## The simulator alone, printing the credentials to use.
sim:
	$(CARGO) run -p mde-sim -- --devices 500

## The demo tenant through the CLI.
demo:
	$(WITH_KEYRING) $(CARGO) run -p mde-car-cli -- demo

clean:
	$(CARGO) clean
	rm -rf ui/dist tests/e2e/output
