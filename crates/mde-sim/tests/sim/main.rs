//! Conformance tests of the simulator, one module per area.

// Helpers outside #[test] functions unwrap too: any failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod alerts;
mod assertions;
mod degraded;
mod faults;
mod generator;
mod hunting;
mod limits;
mod machines;
mod odata;
mod paging;
mod support;
mod tokens;
mod vulnerabilities;
