//! The local database (SQLite, WAL): connection test results now; the asset graph and sync runs
//! later. Migrations are numbered SQL files applied in order and recorded in `user_version`.
//!
//! Invariant: `store` does no HTTP and knows nothing of Defender's wire format.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use rusqlite::{Connection as Db, OptionalExtension, TransactionBehavior, params};

use crate::model::{TestReport, Timestamp};

mod availability;
mod graph;
mod runs;
mod scores;

pub use crate::model::RunStatus;
pub use availability::{Availability, Unavailable};
pub use graph::{
    ChangeCount, Changes, DeviceBatch, INACTIVE_DEACTIVATION_DAYS, SyncBatch, VulnerabilityBatch,
    account_key, address_class, address_key,
};
pub use runs::{ConnectionCounts, RiskCounts, RunFinish, RunRecord};
#[cfg(test)]
pub(crate) use scores::{ALERT_COUNTS, VULNERABILITY_SUMMARY};
pub(crate) use scores::{alert_counts, store_risk, vulnerability_summary};

/// What the database could not do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {path} is damaged or not an mde-car database ({reason}); move it aside and sync again to rebuild it (connections and secrets are kept elsewhere)"
    )]
    Damaged { path: String, reason: String },
    /// SQLite's `SQLITE_FULL`: a write needed room the disk (or file system) holding the data
    /// folder does not have. The statement or transaction rolled back whole.
    #[error(
        "the disk holding the data folder {folder} is full; free some space on it and try again — what was stored before is kept"
    )]
    DiskFull { folder: String },
    #[error("the database {path} failed: {source}")]
    Database {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A bug or an unexpected condition (a value that does not serialize).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Append-only: a released migration is never edited.
const MIGRATIONS: &[&str] = &[
    include_str!("store/0001_init.sql"),
    include_str!("store/0002_asset_graph.sql"),
    include_str!("store/0003_search_indexes.sql"),
    include_str!("store/0004_open_leases.sql"),
    include_str!("store/0005_shared_addresses.sql"),
    include_str!("store/0006_stored_risk.sql"),
    include_str!("store/0007_partial_runs.sql"),
    include_str!("store/0008_unavailable_data.sql"),
];

/// The longest save measured: a full sync of 20,000 devices (the tenant of the largest sync
/// test) holds its one write transaction for about 15 s.
const LONGEST_SAVE_MEASURED: Duration = Duration::from_secs(15);
/// The largest tenant the bound below is sized for, as a multiple of the measured one: saves
/// grow about linearly with the devices, and Defender tenants of 100,000 devices exist.
const LARGEST_TENANT_FACTOR: u32 = 5;
/// Room for a slower disk or machine, and for a second writer queued behind the first.
const SAFETY_FACTOR: u32 = 4;
/// How long a statement waits for another connection's lock (another process saving a sync:
/// the app and the daemon, or two CLI syncs) before it fails with "database is locked":
/// derived from the longest save, 15 s × 5 × 4 = 5 min. The wait ends as soon as the other
/// commits, so the bound costs nothing while saves are sound; it only decides how long a hung
/// holder is waited for before the failure names the database.
const BUSY_TIMEOUT: Duration = LONGEST_SAVE_MEASURED
    .saturating_mul(LARGEST_TENANT_FACTOR)
    .saturating_mul(SAFETY_FACTOR);

/// A handle to the database; cheap to clone. Calls block, so async callers use
/// `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    /// The one writer. A sync holds it for the length of its transaction.
    db: Arc<Mutex<Db>>,
    /// Searches read here: in WAL mode a reader sees the last committed state and is never
    /// blocked by a writer, so the explorer answers while a sync is being saved.
    reader: Arc<Mutex<Db>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Store::open_with(path, BUSY_TIMEOUT)?.0)
    }

    /// Opens with another lock wait than [`BUSY_TIMEOUT`] (tests wait briefly); returns the
    /// number of migrations this call applied.
    pub(crate) fn open_with(path: &Path, busy_timeout: Duration) -> Result<(Store, usize)> {
        let fail = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                StoreError::Damaged {
                    path: path.display().to_string(),
                    reason: source.to_string(),
                }
            }
            _ => database_error(path, source),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::Database {
                path: path.display().to_string(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(error)),
            })?;
        }
        let mut db = Db::open(path).map_err(fail)?;
        db.busy_timeout(busy_timeout).map_err(fail)?;
        #[cfg(feature = "failpoints")]
        cache_for_tests(&db).map_err(fail)?;
        use_wal(&db).map_err(fail)?;
        db.pragma_update(None, "foreign_keys", true).map_err(fail)?;
        let migrated = migrate(&mut db).map_err(fail)?;
        let reader = Db::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        // A WAL reader is rarely made to wait (a checkpoint, another process opening the
        // file), but when it is, as long as a writer.
        reader.busy_timeout(busy_timeout).map_err(fail)?;
        let store = Store {
            db: Arc::new(Mutex::new(db)),
            reader: Arc::new(Mutex::new(reader)),
            path: path.to_owned(),
        };
        Ok((store, migrated))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&mut Db) -> rusqlite::Result<T>) -> Result<T> {
        let mut db = unpoisoned(&self.db);
        f(&mut db).map_err(|source| database_error(&self.path, source))
    }

    /// SQLite's `data_version` as the writer connection sees it: it changes only when another
    /// connection (another process: the CLI, the daemon) commits. `None` while this process is
    /// writing (the caller asks again later).
    pub fn outside_version(&self) -> Result<Option<i64>> {
        let Ok(db) = self.db.try_lock() else {
            return Ok(None);
        };
        db.query_row("PRAGMA data_version", [], |row| row.get("data_version"))
            .map(Some)
            .map_err(|source| database_error(&self.path, source))
    }

    /// Runs another module's read-only queries (search) on the database, under the same lock
    /// as everything else, so a search sees a committed sync run whole or not at all.
    /// Runs read-only queries on the reader connection (see [`Store::reader`]).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Db) -> rusqlite::Result<T>) -> Result<T> {
        let db = unpoisoned(&self.reader);
        f(&db).map_err(|source| database_error(&self.path, source))
    }

    pub fn save_test_report(&self, connection_id: &str, report: &TestReport) -> Result<()> {
        let json = serde_json::to_string(report).map_err(|error| {
            StoreError::Internal(format!("test report does not serialize: {error}"))
        })?;
        self.with(|db| {
            db.execute(
                "INSERT INTO connection_tests (connection_id, tested_at, report) VALUES (?1, ?2, ?3)
                 ON CONFLICT (connection_id) DO UPDATE SET tested_at = excluded.tested_at, report = excluded.report",
                params![connection_id, report.tested_at.to_rfc3339(), json],
            )
            .map(drop)
        })
    }

    pub fn last_test_report(&self, connection_id: &str) -> Result<Option<TestReport>> {
        let json: Option<String> = self.with(|db| {
            db.query_row(
                "SELECT report FROM connection_tests WHERE connection_id = ?1",
                [connection_id],
                |row| row.get("report"),
            )
            .optional()
        })?;
        // A report this version can't read is as good as none: the next test replaces it.
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Removes everything stored for a connection: test results, runs, watermarks, its
    /// assets with their links, and its alerts. Shared vertices (addresses, host names) stay.
    pub fn forget_connection(&self, connection_id: &str) -> Result<()> {
        self.with(|db| {
            let tx = write_transaction(db)?;
            for table in [
                "connection_tests",
                "sync_runs",
                "sync_watermarks",
                "unavailable_data",
                "alerts",
                "assets",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE connection_id = ?1"),
                    [connection_id],
                )?;
            }
            tx.commit()
        })
    }

    /// Applies a run's data and records the run as succeeded (or partial, as `finish` says), in
    /// one transaction: either all of it is visible afterwards, or none of it.
    pub fn apply_sync(&self, batch: &SyncBatch, finish: &RunFinish) -> Result<Changes> {
        self.with(|db| {
            let tx = write_transaction(db)?;
            #[cfg(feature = "failpoints")]
            size_cap_for_tests(&tx)?;
            fail_point!("store::save::begun");
            let changes = graph::apply(&tx, batch)?;
            store_risk(&tx, &batch.connection_id)?;
            fail_point!("store::save::risk_written");
            runs::finish(
                &tx,
                batch.run_id,
                if finish.partial {
                    RunStatus::Partial
                } else {
                    RunStatus::Succeeded
                },
                finish,
                &changes,
                // The run ends now; `batch.now` is its start, which timestamps the data.
                chrono::Utc::now(),
            )?;
            fail_point!("store::save::run_ended");
            tx.commit()?;
            fail_point!("store::save::committed");
            Ok(changes)
        })
    }

    /// Starts a run record; returns its id. The caller holds the connection's run lock.
    pub fn begin_run(
        &self,
        connection_id: &str,
        mode: &str,
        trigger: &str,
        started_at: Timestamp,
    ) -> Result<i64> {
        self.with(|db| runs::begin(db, connection_id, mode, trigger, started_at))
    }

    /// Ends a run that did not commit data (failed or cancelled).
    pub fn end_run_without_data(
        &self,
        run_id: i64,
        status: RunStatus,
        finish: &RunFinish,
        at: Timestamp,
    ) -> Result<()> {
        self.with(|db| {
            let tx = write_transaction(db)?;
            runs::finish(&tx, run_id, status, finish, &Changes::new(), at)?;
            tx.commit()
        })
    }

    /// Ends the connection's run record that is still `running` and began at `since` or later
    /// as failed with `finish`'s error: a run whose task panicked. Returns its id and whether
    /// it was a full run; `None` when there is none (an older one is a dead process's, which
    /// the next run marks interrupted). The caller holds the connection's run lock.
    pub fn fail_running_run(
        &self,
        connection_id: &str,
        since: Timestamp,
        finish: &RunFinish,
        at: Timestamp,
    ) -> Result<Option<(i64, bool)>> {
        self.with(|db| {
            let tx = write_transaction(db)?;
            let running = runs::running(&tx, connection_id, since)?;
            if let Some((run_id, _)) = running {
                runs::finish(&tx, run_id, RunStatus::Failed, finish, &Changes::new(), at)?;
            }
            tx.commit()?;
            Ok(running)
        })
    }

    /// The data types Defender answered it does not offer the connection.
    pub fn unavailable_data(&self, connection_id: &str) -> Result<Vec<Unavailable>> {
        self.with(|db| availability::list(db, connection_id))
    }

    /// Records what a test of the connection found out about each data type.
    pub fn record_availability(
        &self,
        connection_id: &str,
        answers: &[(String, Availability)],
        now: Timestamp,
    ) -> Result<()> {
        self.with(|db| {
            let tx = write_transaction(db)?;
            availability::record(&tx, connection_id, answers, now)?;
            tx.commit()
        })
    }

    pub fn watermarks(
        &self,
        connection_id: &str,
    ) -> Result<std::collections::HashMap<String, Timestamp>> {
        self.with(|db| runs::watermarks(db, connection_id))
    }

    /// The newest runs of a connection, newest first.
    pub fn runs(&self, connection_id: &str, limit: usize) -> Result<Vec<RunRecord>> {
        self.with(|db| runs::list(db, connection_id, limit))
    }

    /// What a connection card counts.
    pub fn connection_counts(&self, connection_id: &str) -> Result<ConnectionCounts> {
        self.with(|db| runs::counts(db, connection_id))
    }
}

/// The store's error for what SQLite answered on the file at `path`: a full disk is told as
/// such, with the folder to free space in, since that is what the user can act on.
fn database_error(path: &Path, source: rusqlite::Error) -> StoreError {
    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        let folder = path.parent().unwrap_or(path);
        return StoreError::DiskFull {
            folder: folder.display().to_string(),
        };
    }
    StoreError::Database {
        path: path.display().to_string(),
        source,
    }
}

/// Tests only (the `failpoints` feature): where no small file system can be mounted, the
/// disk-full test fills the "disk" by capping the database at its current size plus the pages
/// the point `store::save::size_cap` is given (`return(PAGES)`), so the save's growth fails
/// with SQLite's own `SQLITE_FULL`, as on a full disk.
#[cfg(feature = "failpoints")]
fn size_cap_for_tests(db: &Db) -> rusqlite::Result<()> {
    let headroom = fail::eval("store::save::size_cap", |arg| {
        arg.and_then(|pages| pages.parse::<i64>().ok())
    });
    if let Some(Some(headroom)) = headroom {
        let pages: i64 = db.pragma_query_value(None, "page_count", |row| row.get(0))?;
        db.pragma_update(None, "max_page_count", pages + headroom)?;
    }
    Ok(())
}

/// Tests only (the `failpoints` feature): `store::open::cache_pages` (`return(PAGES)`) shrinks
/// the writer's page cache, so that a small test tenant's save spills into the WAL before its
/// commit, as a large tenant's does (SQLite's cache holds 2 MiB): a kill inside the save then
/// leaves the transaction's uncommitted frames in the WAL, which the next open must ignore.
#[cfg(feature = "failpoints")]
fn cache_for_tests(db: &Db) -> rusqlite::Result<()> {
    let pages = fail::eval("store::open::cache_pages", |arg| {
        arg.and_then(|pages| pages.parse::<i64>().ok())
    });
    if let Some(Some(pages)) = pages {
        db.pragma_update(None, "cache_size", pages)?;
    }
    Ok(())
}

/// Puts the file in WAL mode. Two processes creating the file together can both hold a read
/// lock while each asks for the exclusive lock the switch needs; SQLite then fails one of them
/// at once rather than let both wait for ever. Asked again, that one waits for the other (the
/// busy timeout) and finds the file in WAL mode already.
fn use_wal(db: &Db) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match db.pragma_update(None, "journal_mode", "WAL") {
            Err(error)
                if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && tries < 3 =>
            {
                tries += 1;
            }
            done => return done,
        }
    }
}

/// A lock that a panic poisoned still guards a usable connection: the panicking call's
/// transaction rolled back when it was dropped, so the store keeps working instead of
/// answering "poisoned" to every later call.
fn unpoisoned(mutex: &Mutex<Db>) -> MutexGuard<'_, Db> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A transaction that takes the write lock at `BEGIN`, waiting for another process's save
/// (see [`BUSY_TIMEOUT`]). A deferred one would read first and then, asking to write after the
/// other committed, fail at once: its snapshot is stale and waiting cannot help.
fn write_transaction(db: &mut Db) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    db.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn schema_version(db: &Db) -> rusqlite::Result<usize> {
    db.pragma_query_value(None, "user_version", |row| row.get("user_version"))
}

/// Applies the migrations the file lacks; returns how many. Two processes opening an old file
/// together both succeed: the version is read again inside a write transaction, so the second
/// waits for the first and then finds nothing left to do.
fn migrate(db: &mut Db) -> rusqlite::Result<usize> {
    // Versions only grow: a file that is current needs no write lock (an open must not wait
    // for another process's save).
    let seen = schema_version(db)?;
    check_known(seen)?;
    if seen == MIGRATIONS.len() {
        return Ok(0);
    }
    let tx = write_transaction(db)?;
    let applied = schema_version(&tx)?;
    check_known(applied)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        fail_point!("store::migrate::applied_one");
    }
    tx.commit()?;
    Ok(MIGRATIONS.len() - applied)
}

/// A file written by a newer mde-car is left alone.
fn check_known(applied: usize) -> rusqlite::Result<()> {
    if applied > MIGRATIONS.len() {
        return Err(rusqlite::Error::ToSqlConversionFailure(
            format!(
                "the database was written by a newer mde-car (schema {applied}, this one knows {})",
                MIGRATIONS.len()
            )
            .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
