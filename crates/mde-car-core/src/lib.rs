//! mde-car's core: everything the product does, without a window.
//!
//! Code map, by layer (lowest first; a module uses only lower layers, which a test checks —
//! see ARCHITECTURE.md):
//! 1. [`model`] (Defender data as the core sees it, run statuses, test reports, the one JSON
//!    time format), [`paths`] (the data folder, lock files), [`http`] (the one HTTP client
//!    builder), `risk` (the 0–10 risk formula, a pure function);
//! 2. [`config`] (what a connection is, its validation and hosts), [`logging`], `secrets`
//!    (client secrets in the OS keyring);
//! 3. [`settings`] (the settings document and its file), `auth` (Entra ID sign-in), [`store`]
//!    (the SQLite asset graph and run history), [`events`] (what the core tells its shells),
//!    `demo` (the bundled simulator as a demo tenant, only with the `demo` feature),
//!    `shared_backoff` (the attempt backoff every process on the data folder honours);
//! 4. [`mde`] (the Defender client), [`probe`] ("Test connection");
//! 5. [`sync`] (one run of one connection), [`search`] (hits, IP timeline, asset detail,
//!    exports, the live check), `scheduler`, `registry` (runs in progress), `watch` (other
//!    processes' changes);
//! 6. `error`: [`Error`], composed from every module's own error, and [`ErrorCode`];
//! 7. [`api`]: [`Core`], the facade the shells call.
//!
//! Features: `demo` links the simulator for the demo tenant (the shipped CLI and app);
//! `specta` derives `specta::Type` on the serializable types for the desktop's IPC bindings;
//! `failpoints` turns the named points of `fail_point!` on, for the core's own tests only.

/// A named point of a run or a save where a test can stop the process (the crash-safety tests
/// kill it there with SIGKILL) or make the step fail. With the `failpoints` feature it is
/// `fail::fail_point!`, inert until a test configures that name; without it, nothing at all.
/// Names say where they are: `module::step`.
#[cfg(feature = "failpoints")]
macro_rules! fail_point {
    ($name:literal) => {
        fail::fail_point!($name)
    };
}
#[cfg(not(feature = "failpoints"))]
macro_rules! fail_point {
    ($name:literal) => {};
}

pub mod api;
mod auth;
pub mod config;
mod demo;
mod error;
pub mod events;
pub mod http;
pub mod logging;
pub mod mde;
pub mod model;
pub mod paths;
pub mod probe;
mod registry;
mod risk;
mod scheduler;
pub mod search;
pub mod secrets;
pub mod settings;
mod shared_backoff;
pub mod store;
pub mod sync;
mod watch;

pub use api::{AppInfo, ConnectionStatus, ConnectionView, Core, Counts};
pub use config::FieldError;
pub use error::{Error, ErrorCode, Result};
