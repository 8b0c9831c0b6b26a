//! Notices what other processes change: the CLI or the daemon syncing into the same database,
//! or editing connections in the same settings file. The desktop app learns of its own changes
//! from its own events; this turns the others' into the same events, so an open window stays
//! true without the user reloading it.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::{api::Core, events::SyncEvent};

/// How often the database and the settings file are looked at. Both checks are a `PRAGMA` and
/// a `stat`, cheap enough to run every few seconds.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// What was last seen of the settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &std::path::Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
    })
}

impl Core {
    /// Watches for other processes' changes until `stop`; sends [`SyncEvent::StoreChanged`]
    /// and [`SyncEvent::ConnectionsChanged`] when it sees some.
    pub fn watch_other_processes(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let core = self.clone();
        tokio::spawn(async move {
            let settings_path = core.settings_path();
            let mut settings = stamp(&settings_path);
            let mut version = core.outside_version().await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(WATCH_INTERVAL) => {}
                }
                let now = core.outside_version().await;
                if let (Some(before), Some(after)) = (version, now)
                    && before != after
                {
                    core.announce(SyncEvent::StoreChanged);
                }
                if now.is_some() {
                    version = now;
                }
                let seen = stamp(&settings_path);
                if seen != settings {
                    settings = seen;
                    // Also sent for this process's own edits (they were announced already);
                    // a second refresh of the list is harmless.
                    core.settings_changed_outside();
                }
            }
        })
    }

    async fn outside_version(&self) -> Option<i64> {
        let store = self.store().clone();
        match tokio::task::spawn_blocking(move || store.outside_version()).await {
            Ok(Ok(version)) => version,
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not check the database for other processes' changes");
                None
            }
            Err(_) => None,
        }
    }
}
