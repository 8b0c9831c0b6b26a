//! System tests: the `mde-car` CLI and the core against the simulator, with the real OS keyring
//! (run under `scripts/with-keyring.sh`) and real files.

// Test helpers fail loudly by design; clippy's test exemption covers only `#[test]` bodies.
#![allow(clippy::unwrap_used)]

mod cli;
mod daemon;
mod headless;
mod hostile;
mod network;
mod search;
mod secrets;
mod simulator;
mod sync;
