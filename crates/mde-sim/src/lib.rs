//! mde-sim (docs being written).
pub mod clock;
pub mod config;
pub mod faults;
pub mod format;
mod hunting;
pub mod kql;
mod limits;
pub mod requests;
mod server;
mod sim;
pub mod tenant;

pub use clock::SimClock;
pub use config::{
    AppRegistration, CallLimit, ClockMode, DEFAULT_ROLES, PagingMode, Quirks, RateLimits, SimConfig,
};
pub use faults::{FaultId, FaultKind, FaultRule, Faults};
pub use requests::{Endpoint, RequestRecord, Requests};
pub use sim::{LogonUserFact, Sim, Truth, VulnerabilityFact};
pub use tenant::{MutationError, Tenant};
