//! What the core tells its shells while it works: a closed set of events on a broadcast bus.
//! The desktop shell forwards them to the window as typed events; the CLI prints them; tests
//! assert on them. Events never carry a secret or a token.

use crate::model::RunStatus;

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
        run_id: i64,
        step: SyncStep,
        page: u32,
        items: u64,
        estimated_total: Option<u64>,
    },
    /// The run waits for Defender's rate limit: because Defender answered 429
    /// (`by_service`), or because the client keeps to its share of the limit.
    Throttled {
        connection_id: String,
        run_id: i64,
        wait_secs: u64,
        by_service: bool,
    },
    /// A run ended, or could not start (`run_id` is `None`: the secret is missing, another
    /// process is syncing the connection, the database failed). `error_code` is the run's
    /// error key (`auth`, `network`, …) or the core's [`crate::ErrorCode`] key when it could
    /// not start.
    Finished {
        connection_id: String,
        run_id: Option<i64>,
        status: RunStatus,
        summary: String,
        error_code: Option<String>,
    },
    /// A connection was added, changed or removed (by this process, or by another one that
    /// wrote the settings file).
    ConnectionsChanged,
    /// Another process (the CLI, the daemon) committed to the database: runs, counts and
    /// search results may have changed.
    StoreChanged,
}

impl SyncEvent {
    pub fn connection_id(&self) -> Option<&str> {
        match self {
            SyncEvent::Started { connection_id, .. }
            | SyncEvent::Progress { connection_id, .. }
            | SyncEvent::Throttled { connection_id, .. }
            | SyncEvent::Finished { connection_id, .. } => Some(connection_id),
            SyncEvent::ConnectionsChanged | SyncEvent::StoreChanged => None,
        }
    }
}
