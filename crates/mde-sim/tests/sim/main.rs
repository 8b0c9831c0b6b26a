//! Conformance tests of the simulator, one module per area.

mod generator;
mod machines;
mod support;
mod tokens;
