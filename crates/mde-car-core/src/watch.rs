//! Notices what other processes change: the CLI or the daemon syncing into the same database,
//! or editing connections in the same settings file. The desktop app learns of its own changes
//! from its own events; this turns the others' into the same events, so an open window stays
//! true without the user reloading it.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// What another process changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutsideChange {
    /// A commit to the database (a sync, a deleted connection).
    Store,
    /// The settings file (connections added, edited or removed).
    Settings,
}

/// How often the database and the settings file are looked at. Both checks are a `PRAGMA` and
/// a `stat`, cheap enough to run every few seconds.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_secs(2);

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

/// Watches `store` and the settings file at `settings_path` until `stop`, and calls `changed`
/// for what it sees change.
pub(crate) async fn watch(
    store: Store,
    settings_path: std::path::PathBuf,
    stop: CancellationToken,
    changed: impl Fn(OutsideChange),
) {
    let mut settings = stamp(&settings_path);
    let mut version = outside_version(&store).await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        let now = outside_version(&store).await;
        if let (Some(before), Some(after)) = (version, now)
            && before != after
        {
            changed(OutsideChange::Store);
        }
        if now.is_some() {
            version = now;
        }
        let seen = stamp(&settings_path);
        if seen != settings {
            settings = seen;
            // Also seen for this process's own edits (they were announced already); a second
            // refresh of the list is harmless.
            changed(OutsideChange::Settings);
        }
    }
}

async fn outside_version(store: &Store) -> Option<i64> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || store.outside_version()).await {
        Ok(Ok(version)) => version,
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not check the database for other processes' changes");
            None
        }
        Err(_) => None,
    }
}
