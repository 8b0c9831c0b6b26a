//! The core's integration tests, one binary: the core against the simulator (`mde-sim`).

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod certificates;
mod crash;
mod layers;
mod mde_client;
mod properties;
mod search;
mod sync;
