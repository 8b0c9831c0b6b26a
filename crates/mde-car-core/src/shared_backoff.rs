//! The attempt backoff every process on one data folder shares. For each connection: how many
//! scheduled attempts in a row ended before a run was recorded (a locked keyring, a missing
//! secret, a moved CA file, a busy database), and the time before which no process attempts
//! again. Without it, the desktop app and `mde-car daemon` on one folder would each keep their
//! own and attempt once per step each.
//!
//! The record is a small JSON file next to the connection's run lock
//! (`locks/sync-<id>.backoff.json`), not a table in the store, because the store is one of the
//! causes it backs off from: an attempt that failed on a busy database would wait on that same
//! database (up to the store's busy bound, minutes, with the run lock held) to record why, and
//! an edit's reset would wait for another process's save. A file is written at once whatever
//! the database is doing, and read without waiting for anyone.
//!
//! A write replaces the file whole (a temporary file renamed over it), so a reader sees the old
//! record or the new one, never half of one. Read-change-replace happens under a lock file of
//! its own, held for that moment only, so an edit's reset and an attempt's failure never
//! overwrite each other. A file that cannot be read counts as no backoff where it is read (the
//! scheduler's in-process backoff still holds), and the next write replaces it.

use std::{io::ErrorKind, path::Path, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    model::Timestamp,
    paths::{DataDir, LockFailure, LockFile},
};

/// The shared backoff file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the shared backoff file {path} could not be {action}: {reason}")]
pub(crate) struct SharedBackoffError {
    path: String,
    action: &'static str,
    reason: String,
}

type Result<T, E = SharedBackoffError> = std::result::Result<T, E>;

/// One connection's shared backoff, as its file holds it. No file is the default: no failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SharedBackoff {
    /// Scheduled attempts in a row that ended before a run was recorded.
    pub(crate) failures: u32,
    /// No process attempts before this; `None` after a recorded run or an edit.
    #[serde(with = "crate::model::json_time::option")]
    pub(crate) not_before: Option<Timestamp>,
    /// How many edits of the connection reset the backoff. An attempt that read a smaller count
    /// began before an edit, so it records nothing over the edit's reset: the edit may be the fix.
    pub(crate) resets: u64,
    /// Why the last of those attempts ended (what the error said), so every process, and
    /// `mde-car status` or the card after a restart, can tell why no run was recorded. Error
    /// messages never hold a secret.
    pub(crate) last_failure: Option<AttemptFailure>,
}

/// The end of an attempt that recorded no run: the error's stable code and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttemptFailure {
    pub(crate) code: String,
    pub(crate) message: String,
    #[serde(with = "crate::model::json_time")]
    pub(crate) at: Timestamp,
}

/// The clock shared not-before times are written and read with: the system's wall clock, the
/// one clock every process on the folder has in common. Tests on tokio's paused clock use one
/// that follows tokio's instead, so hours of backoff pass in an instant.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum WallClock {
    #[default]
    System,
    /// The wall time `wall` at tokio's `at`, moved on as far as tokio's clock has moved since.
    #[cfg(test)]
    FollowingTokio {
        wall: Timestamp,
        at: tokio::time::Instant,
    },
}

impl WallClock {
    pub(crate) fn now(self) -> Timestamp {
        match self {
            WallClock::System => Utc::now(),
            #[cfg(test)]
            WallClock::FollowingTokio { wall, at } => {
                wall + chrono::Duration::from_std(at.elapsed()).unwrap_or(chrono::Duration::MAX)
            }
        }
    }

    /// A clock that starts at the system's time now and moves with tokio's (paused) clock.
    #[cfg(test)]
    pub(crate) fn following_tokio() -> WallClock {
        WallClock::FollowingTokio {
            wall: Utc::now(),
            at: tokio::time::Instant::now(),
        }
    }
}

/// The connection's shared backoff; no file means none.
pub(crate) fn read(data_dir: &DataDir, connection_id: &str) -> Result<SharedBackoff> {
    read_file(&data_dir.shared_backoff_file(connection_id))
}

/// Records that an attempt ended before a run was recorded: one failure more, and no attempt
/// before `now` plus `delay` of the new failure count. `seen` is the record the attempt read
/// under the run lock before it began, which the caller still holds. Returns the new record, or
/// `None` when an edit reset the backoff since `seen` was read (the attempt was made with the
/// settings the edit replaced, so it counts for nothing).
pub(crate) fn record_failure(
    data_dir: &DataDir,
    connection_id: &str,
    seen: &SharedBackoff,
    now: Timestamp,
    failure: AttemptFailure,
    delay: impl FnOnce(u32) -> Duration,
) -> Result<Option<SharedBackoff>> {
    change(data_dir, connection_id, |current| {
        if current.resets != seen.resets {
            return None;
        }
        let failures = current.failures.saturating_add(1);
        let wait = chrono::Duration::from_std(delay(failures)).unwrap_or(chrono::Duration::MAX);
        Some(SharedBackoff {
            failures,
            not_before: Some(
                now.checked_add_signed(wait)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            ),
            resets: current.resets,
            last_failure: Some(failure),
        })
    })
}

/// A run of the connection was recorded: from here its history decides when it runs, for every
/// process. The caller holds the run lock.
pub(crate) fn record_run(data_dir: &DataDir, connection_id: &str) -> Result<()> {
    // Most runs find no backoff: they write nothing and create no file.
    if read(data_dir, connection_id).is_ok_and(|record| record.not_before.is_none()) {
        return Ok(());
    }
    change(data_dir, connection_id, |current| {
        Some(SharedBackoff {
            failures: 0,
            not_before: None,
            resets: current.resets,
            last_failure: None,
        })
    })
    .map(drop)
}

/// The connection was edited: its backoff starts over, for every process, and an attempt that
/// is still going with the old settings records nothing over this.
pub(crate) fn reset_for_edit(data_dir: &DataDir, connection_id: &str) -> Result<()> {
    change(data_dir, connection_id, |current| {
        Some(SharedBackoff {
            failures: 0,
            not_before: None,
            resets: current.resets.saturating_add(1),
            last_failure: None,
        })
    })
    .map(drop)
}

/// The connection was deleted: its record goes too (its lock files stay, as run locks do).
pub(crate) fn forget(data_dir: &DataDir, connection_id: &str) -> Result<()> {
    let _lock = lock(&data_dir.shared_backoff_lock_file(connection_id))?;
    let path = data_dir.shared_backoff_file(connection_id);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
        Err(error) => Err(failure(&path, "removed", &error)),
    }
}

/// Reads the record, lets `update` decide what replaces it (`None`: nothing), and writes that,
/// all under the record's lock. Returns what was written.
fn change(
    data_dir: &DataDir,
    connection_id: &str,
    update: impl FnOnce(SharedBackoff) -> Option<SharedBackoff>,
) -> Result<Option<SharedBackoff>> {
    let _lock = lock(&data_dir.shared_backoff_lock_file(connection_id))?;
    let path = data_dir.shared_backoff_file(connection_id);
    // A damaged record is replaced instead of blocking every later write.
    let current = read_file(&path).unwrap_or_default();
    let Some(next) = update(current) else {
        return Ok(None);
    };
    write_replacing(&path, &next)?;
    Ok(Some(next))
}

fn lock(path: &Path) -> Result<LockFile> {
    LockFile::acquire(path).map_err(|failed| match failed {
        LockFailure::Io(error) => failure(path, "locked", &error),
        LockFailure::Held => SharedBackoffError {
            path: path.display().to_string(),
            action: "locked",
            reason: "another holder has it".to_owned(),
        },
    })
}

fn read_file(path: &Path) -> Result<SharedBackoff> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| SharedBackoffError {
            path: path.display().to_string(),
            action: "read",
            reason: error.to_string(),
        }),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(SharedBackoff::default()),
        Err(error) => Err(failure(path, "read", &error)),
    }
}

/// Replaces the record whole (see [`crate::paths::write_atomically`]), so no reader ever sees a
/// partial one.
fn write_replacing(path: &Path, record: &SharedBackoff) -> Result<()> {
    let text = serde_json::to_vec(record).map_err(|error| SharedBackoffError {
        path: path.display().to_string(),
        action: "written",
        reason: error.to_string(),
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|error| failure(dir, "created", &error))?;
    }
    crate::paths::write_atomically(path, &text).map_err(|error| failure(path, "replaced", &error))
}

fn failure(path: &Path, action: &'static str, error: &std::io::Error) -> SharedBackoffError {
    SharedBackoffError {
        path: path.display().to_string(),
        action,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests;
