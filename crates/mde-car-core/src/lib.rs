//! mde-car's core: everything the product does, without a window.
//!
//! Code map:
//! - [`api`]: [`Core`], the use cases shells call;
//! - [`config`]: connections, their validation and hosts;
//! - [`settings`]: the settings document and its file;
//! - [`secrets`]: client secrets in the OS keyring;
//! - [`store`]: the SQLite database;
//! - [`auth`]: Entra ID client-credentials sign-in;
//! - [`probe`]: "Test connection";
//! - [`demo`]: the bundled simulator as a demo tenant;
//! - [`paths`], [`http`], [`logging`], [`error`]: plumbing.

pub mod api;
pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod http;
pub mod logging;
pub mod mde;
pub mod model;
pub mod paths;
pub mod probe;
mod registry;
pub mod risk;
pub mod scheduler;
pub mod search;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod sync;
pub mod watch;

pub use api::{AppInfo, ConnectionStatus, ConnectionView, Core, Counts};
pub use config::FieldError;
pub use error::{Error, ErrorCode, Result};
