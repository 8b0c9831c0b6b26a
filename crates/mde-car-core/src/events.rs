//! What the core tells its shells while it works: a closed set of events on a broadcast bus.
//! The desktop shell forwards them to the window as typed events; the CLI prints them; tests
//! assert on them. Events never carry a secret or a token.

use crate::store::RunStatus;

/// A step of a sync run, as the progress bar names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStep {
    SigningIn,
    Devices,
    Alerts,
    IpHistory,
    LoggedOnUsers,
    Vulnerabilities,
    Saving,
}

impl SyncStep {
    pub fn label(self) -> &'static str {
        match self {
            SyncStep::SigningIn => "Signing in",
            SyncStep::Devices => "Devices",
            SyncStep::Alerts => "Alerts",
            SyncStep::IpHistory => "IP history",
            SyncStep::LoggedOnUsers => "Logged-on users",
            SyncStep::Vulnerabilities => "Vulnerabilities",
            SyncStep::Saving => "Saving",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SyncEvent {
    Started {
        connection_id: String,
        run_id: i64,
        full: bool,
    },
    Progress {
        connection_id: String,
        step: SyncStep,
        page: u32,
        items: u64,
        estimated_total: Option<u64>,
    },
    /// The run waits for Defender's rate limit.
    Throttled {
        connection_id: String,
        wait_secs: u64,
    },
    Finished {
        connection_id: String,
        run_id: i64,
        status: RunStatus,
        summary: String,
    },
    /// A connection was added, changed or removed (by this process).
    ConnectionsChanged,
}

impl SyncEvent {
    pub fn connection_id(&self) -> Option<&str> {
        match self {
            SyncEvent::Started { connection_id, .. }
            | SyncEvent::Progress { connection_id, .. }
            | SyncEvent::Throttled { connection_id, .. }
            | SyncEvent::Finished { connection_id, .. } => Some(connection_id),
            SyncEvent::ConnectionsChanged => None,
        }
    }
}
