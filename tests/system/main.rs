//! System tests: the `mde-car` CLI and the core against the simulator, with the real OS keyring
//! (run under `scripts/with-keyring.sh`) and real files.

mod cli;
mod secrets;
