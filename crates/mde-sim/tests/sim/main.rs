//! Conformance tests of the simulator, one module per area.

mod alerts;
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
