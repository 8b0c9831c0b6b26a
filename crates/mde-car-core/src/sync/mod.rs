//! The sync engine: one run of one connection, from Defender to the asset graph.
//!
//! A run: take the connection's run lock (one run per connection, across processes) → record
//! the run → [`plan`] from the watermarks → fetch every enabled data type through the
//! Defender client → apply everything and advance the watermarks **in one transaction**. A
//! failure, a cancel, a kill or a lost network before that transaction leaves the previous
//! state and watermarks untouched, so the next run catches up. A data type whose permission is
//! missing is skipped with a note instead of failing the run; devices are required.

pub mod plan;

use std::{collections::BTreeMap, sync::Arc};

use chrono::Utc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Connection,
    events::{SyncEvent, SyncStep},
    mde::{self, MdeClient, MdeError},
    paths::{DataDir, LockFailure, LockFile},
    store::{
        Changes, DeviceBatch, RunFinish, RunStatus, Store, StoreError, SyncBatch,
        VulnerabilityBatch,
    },
};

/// Why a run could not be done or recorded (a run that fails on Defender's side is an `Ok`
/// outcome with that status, not this).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Another run of the connection holds its run lock, here or in another process.
    #[error("a sync of '{0}' is already running")]
    AlreadyRunning(String),
    #[error("the run lock file {path} could not be locked: {reason}")]
    RunLock { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = SyncError> = std::result::Result<T, E>;

pub use plan::{SyncPlan, VulnerabilityPlan};

/// Why a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
    Cli,
}

impl Trigger {
    fn key(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    pub run_id: i64,
    pub full: bool,
    pub status: RunStatus,
    pub changes: Changes,
    pub api_calls: BTreeMap<String, u64>,
    pub throttled_ms: u64,
    pub notes: Vec<String>,
    /// Plain words for a failed or cancelled run.
    pub error: Option<String>,
    pub error_code: Option<String>,
}

/// Everything a run needs.
pub(crate) struct RunContext {
    pub store: Store,
    /// The connection's client: its token cache and rate budget outlive the run.
    pub client: MdeClient,
    pub data_dir: DataDir,
    pub connection: Connection,
    pub events: broadcast::Sender<SyncEvent>,
    pub cancel: CancellationToken,
    pub force_full: bool,
    /// The user accepted a much smaller device listing than before (see [`SHRINK_LIMIT`]).
    pub accept_shrink: bool,
    pub trigger: Trigger,
}

/// Runs one sync. `Err` only for problems before a run could be recorded (lock, database);
/// a run that fails or is cancelled is an `Ok` outcome with that status. Sends Started,
/// Progress and Throttled events; the caller sends Finished.
pub(crate) async fn run(context: RunContext) -> Result<SyncOutcome> {
    // Held until the run's outcome is stored and logged.
    let (_lock, begun) = begin(&context).await?;
    let client = client_for_run(&context, begun.run_id);
    let fetched = fetch(&client, &context, &begun.plan, begun.run_id, begun.started).await;
    let mut finish = RunFinish {
        api_calls: client.call_counts(),
        throttled_ms: u64::try_from(client.throttled_time().as_millis()).unwrap_or(u64::MAX),
        ..RunFinish::default()
    };
    let outcome = match fetched {
        Ok(fetched) => {
            finish.notes = fetched.notes;
            finish.partial = fetched.partial;
            finish.error_code = match (fetched.shrink_refused, fetched.partial) {
                (true, _) => Some(LISTING_SHRANK.to_owned()),
                (false, true) => Some(DATA_MISSING.to_owned()),
                (false, false) => None,
            };
            finish_with_data(&context, &begun, fetched.batch, finish).await?
        }
        Err(error) => finish_without_data(&context, &begun, &error, finish).await?,
    };
    let summary = summary(&outcome);
    tracing::info!(connection = %context.connection.name, run_id = begun.run_id, status = outcome.status.key(), %summary, "sync finished");
    // The Finished event is the caller's: it is sent once the run is no longer registered, so
    // a "Sync now" right after it is accepted.
    Ok(outcome)
}

/// A recorded run: what the steps after [`begin`] need of it.
struct Begun {
    run_id: i64,
    started: crate::model::Timestamp,
    plan: SyncPlan,
}

/// Takes the run lock, plans from the watermarks, records the run and announces it. The
/// watermarks are read under the lock, so no other run moves them between plan and fetch.
async fn begin(context: &RunContext) -> Result<(LockFile, Begun)> {
    let lock = acquire_run_lock(&context.data_dir, &context.connection)?;
    fail_point!("sync::run_lock_taken");
    let started = Utc::now();
    let watermarks = blocking({
        let store = context.store.clone();
        let id = context.connection.id.clone();
        move || store.watermarks(&id)
    })
    .await?;
    let plan = plan::plan(
        &watermarks,
        context.connection.data,
        started,
        context.force_full,
    );
    let run_id = blocking({
        let store = context.store.clone();
        let id = context.connection.id.clone();
        let mode = if plan.full { "full" } else { "incremental" };
        let trigger = context.trigger.key();
        move || store.begin_run(&id, mode, trigger, started)
    })
    .await?;
    fail_point!("sync::run_recorded");
    let _ = context.events.send(SyncEvent::Started {
        connection_id: context.connection.id.clone(),
        run_id,
        full: plan.full,
    });
    tracing::info!(connection = %context.connection.name, run_id, full = plan.full, "sync started");
    let begun = Begun {
        run_id,
        started,
        plan,
    };
    Ok((lock, begun))
}

/// The connection's client for this run: it stops on the run's cancel, and its paging and
/// throttling reach the run's listeners as Progress and Throttled events.
fn client_for_run(context: &RunContext, run_id: i64) -> MdeClient {
    let events = context.events.clone();
    let progress_connection = context.connection.id.clone();
    let progress = Arc::new(move |progress: mde::Progress| {
        let _ = events.send(SyncEvent::Progress {
            connection_id: progress_connection.clone(),
            run_id,
            step: step_of(progress.endpoint),
            page: progress.page,
            items: progress.items_so_far,
            estimated_total: progress.estimated_total,
        });
    });
    let events = context.events.clone();
    let wait_connection = context.connection.id.clone();
    let waits = Arc::new(move |wait: mde::Wait| {
        let _ = events.send(SyncEvent::Throttled {
            connection_id: wait_connection.clone(),
            run_id,
            wait_secs: wait.duration.as_secs_f64().ceil() as u64,
            by_service: wait.reason == mde::WaitReason::ServiceAsked,
        });
    });
    context
        .client
        .clone()
        .with_cancel(context.cancel.clone())
        .with_progress(progress)
        .with_waits(waits)
}

/// Applies the fetched data and records the run as succeeded, in the store's one transaction.
async fn finish_with_data(
    context: &RunContext,
    begun: &Begun,
    batch: SyncBatch,
    finish: RunFinish,
) -> Result<SyncOutcome> {
    let _ = context.events.send(SyncEvent::Progress {
        connection_id: context.connection.id.clone(),
        run_id: begun.run_id,
        step: SyncStep::Saving,
        page: 0,
        items: 0,
        estimated_total: None,
    });
    let store = context.store.clone();
    let finish_for_store = finish.clone();
    let changes = match blocking(move || store.apply_sync(&batch, &finish_for_store)).await {
        Ok(changes) => changes,
        Err(error) => return finish_after_failed_save(context, begun, error, finish).await,
    };
    Ok(SyncOutcome {
        run_id: begun.run_id,
        full: begun.plan.full,
        status: if finish.partial {
            RunStatus::Partial
        } else {
            RunStatus::Succeeded
        },
        changes,
        api_calls: finish.api_calls,
        throttled_ms: finish.throttled_ms,
        notes: finish.notes,
        error: None,
        error_code: finish.error_code,
    })
}

/// A save that failed rolled back whole, so nothing changed: the run is recorded as failed with
/// the store's error (instead of staying `running` until the next run calls it interrupted).
/// Only when that cannot be written either does the error come back as `Err`.
async fn finish_after_failed_save(
    context: &RunContext,
    begun: &Begun,
    error: SyncError,
    mut finish: RunFinish,
) -> Result<SyncOutcome> {
    tracing::warn!(connection = %context.connection.name, run_id = begun.run_id, %error, "the sync's data could not be saved");
    finish.error_code = Some(
        match error {
            SyncError::Internal(_) => "internal",
            SyncError::Store(StoreError::DiskFull { .. }) => DISK_FULL,
            _ => "storage",
        }
        .to_owned(),
    );
    finish.error = Some(format!("the data could not be saved: {error}"));
    let store = context.store.clone();
    let finish_for_store = finish.clone();
    let run_id = begun.run_id;
    let ended = blocking(move || {
        store.end_run_without_data(run_id, RunStatus::Failed, &finish_for_store, Utc::now())
    })
    .await;
    if let Err(also) = ended {
        tracing::warn!(connection = %context.connection.name, run_id, error = %also, "the failed save could not be recorded either");
        return Err(error);
    }
    Ok(SyncOutcome {
        run_id,
        full: begun.plan.full,
        status: RunStatus::Failed,
        changes: Changes::new(),
        api_calls: finish.api_calls,
        throttled_ms: finish.throttled_ms,
        notes: finish.notes,
        error: finish.error,
        error_code: finish.error_code,
    })
}

/// Records a run that failed or was cancelled before its data was applied: the data and
/// watermarks stay as they were, so the next run catches up.
async fn finish_without_data(
    context: &RunContext,
    begun: &Begun,
    error: &MdeError,
    mut finish: RunFinish,
) -> Result<SyncOutcome> {
    // A cancel that lands while a call fails for another reason still ends the run as cancelled.
    let status = if matches!(error, MdeError::Cancelled) || context.cancel.is_cancelled() {
        RunStatus::Cancelled
    } else {
        RunStatus::Failed
    };
    finish.error_code = Some(error.code().to_owned());
    finish.error = Some(if status == RunStatus::Cancelled {
        "cancelled".to_owned()
    } else {
        error.to_string()
    });
    let store = context.store.clone();
    let finish_for_store = finish.clone();
    let run_id = begun.run_id;
    blocking(move || store.end_run_without_data(run_id, status, &finish_for_store, Utc::now()))
        .await?;
    Ok(SyncOutcome {
        run_id,
        full: begun.plan.full,
        status,
        changes: Changes::new(),
        api_calls: finish.api_calls,
        throttled_ms: finish.throttled_ms,
        notes: finish.notes,
        error: finish.error,
        error_code: finish.error_code,
    })
}

/// What a run fetched: the batch to save, notes in words, and whether some data is missing.
struct Fetched {
    batch: SyncBatch,
    notes: Vec<String>,
    /// A stage failed or an answer was not trusted: the run ends as partial.
    partial: bool,
    /// The device listing was much smaller than before and not accepted, so no device was
    /// marked gone: the run's code says so, for the card to offer accepting it.
    shrink_refused: bool,
}

/// The code of a partial run whose device listing was refused as implausibly small.
pub const LISTING_SHRANK: &str = "listing_shrank";
/// The code of a partial run with a stage that failed or an answer that was not trusted.
pub const DATA_MISSING: &str = "data_missing";
/// The code of a run whose save failed because the disk holding the data folder is full; the
/// run's error says so and what to do.
pub const DISK_FULL: &str = "disk_full";

/// A data type besides devices. Each is fetched on its own: when one fails, for any reason,
/// the run saves the rest, keeps that type's stored data and watermark exactly as they were,
/// and the next run tries it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Alerts,
    IpHistory,
    LoggedOnUsers,
    Vulnerabilities,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Alerts => "Alerts",
            Stage::IpHistory => "IP history",
            Stage::LoggedOnUsers => "Logged-on users",
            Stage::Vulnerabilities => "Vulnerabilities",
        }
    }
}

/// A device listing under this share of the devices active before counts as implausible: an
/// outage or a filtering proxy, not half a fleet retired between two syncs. Nothing is then
/// deactivated unless the user accepts the listing (`mde-car sync NAME --full --accept-shrink`).
const SHRINK_LIMIT: f64 = 0.5;

/// Fetches what the plan asks for. Devices are the spine: if they cannot be listed, the run
/// fails and changes nothing. Every other stage can fail on its own (see [`Stage`]).
async fn fetch(
    client: &MdeClient,
    context: &RunContext,
    plan: &SyncPlan,
    run_id: i64,
    started: crate::model::Timestamp,
) -> std::result::Result<Fetched, MdeError> {
    let mut fetched = Fetched {
        batch: SyncBatch {
            connection_id: context.connection.id.clone(),
            run_id,
            now: started,
            ..SyncBatch::default()
        },
        notes: Vec::new(),
        partial: false,
        shrink_refused: false,
    };
    let known = known_counts(context).await;
    let mut watermarks = Watermarks::new(started);
    fetch_devices(
        client,
        context,
        plan,
        known.devices,
        &mut fetched,
        &mut watermarks,
    )
    .await?;
    fail_point!("sync::devices_fetched");

    if let Some(since) = plan.alerts {
        let answer = client.list_alerts(since).await;
        fail_point!("sync::alerts_fetched");
        if let Some(listing) = fetched.stage(Stage::Alerts, answer)? {
            match listing.items.iter().map(|a| a.last_updated).max() {
                Some(newest) => watermarks.newest(plan::ALERTS, newest, "alerts"),
                None if since.is_none() => watermarks.set(plan::ALERTS, started),
                None => {}
            }
            fetched.batch.alerts = Some(listing.items);
        }
    }
    if let Some((from, to)) = plan.network {
        let answer = client.network_history(from, to).await;
        fail_point!("sync::ip_history_fetched");
        if let Some(rows) = fetched.stage(Stage::IpHistory, answer)? {
            watermarks.set(plan::NETWORK, to);
            fetched.batch.network = Some(rows);
        }
    }
    if let Some((from, to)) = plan.logons {
        let answer = client.logons(from, to).await;
        fail_point!("sync::logons_fetched");
        if let Some(rows) = fetched.stage(Stage::LoggedOnUsers, answer)? {
            watermarks.set(plan::LOGONS, to);
            fetched.batch.logons = Some(rows);
        }
    }
    if let Some(vulnerabilities) = plan.vulnerabilities {
        let answer = fetch_vulnerabilities(client, vulnerabilities, known.vulnerabilities).await;
        fail_point!("sync::vulnerabilities_fetched");
        if let Some((batch, doubt)) = fetched.stage(Stage::Vulnerabilities, answer)? {
            if let Some(doubt) = doubt {
                fetched.notes.push(doubt);
                fetched.partial = true;
            }
            watermarks.set(plan::VULNERABILITIES, started);
            fetched.batch.vulnerabilities = Some(batch);
        }
    }
    fetched.notes.extend(watermarks.future_note());
    fetched.batch.watermarks = watermarks.marks;
    Ok(fetched)
}

impl Fetched {
    /// A stage's answer: its value, or — for any failure but a cancel — `None` with a note
    /// saying what is missing, why and what to do, and the run marked partial.
    fn stage<T>(
        &mut self,
        stage: Stage,
        result: std::result::Result<T, MdeError>,
    ) -> std::result::Result<Option<T>, MdeError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(MdeError::Cancelled) => Err(MdeError::Cancelled),
            Err(error) => {
                tracing::warn!(stage = stage.label(), %error, "a stage of the sync failed; the rest is saved");
                self.notes.push(stage_note(stage, &error));
                self.partial = true;
                Ok(None)
            }
        }
    }
}

/// "Vulnerabilities skipped: … ; … . What was stored before is kept."
fn stage_note(stage: Stage, error: &MdeError) -> String {
    let what = stage.label();
    let (why, next) = match error {
        MdeError::Forbidden { required, .. } => (
            format!(
                "the app registration lacks {}",
                if required.is_empty() {
                    "a permission".to_owned()
                } else {
                    required.join(" or ")
                }
            ),
            "grant it in Entra ID to import them, or turn this data off in Edit".to_owned(),
        ),
        MdeError::Api { status: 404, .. } => (
            format!("this tenant or cloud does not offer it ({error})"),
            match stage {
                Stage::Vulnerabilities => {
                    "the tenant may lack a Defender Vulnerability Management licence, or the cloud may not offer it; turn vulnerabilities off in Edit if it never will".to_owned()
                }
                _ => "turn this data off in Edit if this tenant never offers it".to_owned(),
            },
        ),
        MdeError::Auth(_) => (
            error.to_string(),
            "run Test to see what is wrong with the credentials".to_owned(),
        ),
        _ if error.is_retryable() => (
            format!("{error}, even after retries"),
            "the next sync tries again".to_owned(),
        ),
        _ => (error.to_string(), "the next sync tries again".to_owned()),
    };
    format!("{what} skipped: {why}; {next}. What was stored before is kept")
}

/// What the store knows of the connection before this run: the yardstick for answers that
/// would deactivate or mark fixed. A store that cannot say counts as empty.
async fn known_counts(context: &RunContext) -> crate::store::ConnectionCounts {
    let store = context.store.clone();
    let id = context.connection.id.clone();
    blocking(move || store.connection_counts(&id))
        .await
        .unwrap_or_default()
}

/// The device listing, and whether it may deactivate the devices it lacks: only a complete
/// full listing that is plausible (see [`SHRINK_LIMIT`]), or one the user accepted.
async fn fetch_devices(
    client: &MdeClient,
    context: &RunContext,
    plan: &SyncPlan,
    active_before: u64,
    fetched: &mut Fetched,
    watermarks: &mut Watermarks,
) -> std::result::Result<(), MdeError> {
    let listing = client.list_devices(plan.devices_since).await?;
    match listing.items.iter().filter_map(|d| d.last_seen).max() {
        Some(newest) => watermarks.newest(plan::DEVICES, newest, "devices"),
        None if plan.devices_since.is_none() => watermarks.set(plan::DEVICES, watermarks.started),
        None => {}
    }
    let listed = listing.items.len() as u64;
    let shrunk = plan.full
        && listing.complete
        && active_before > 0
        && (listed as f64) < active_before as f64 * SHRINK_LIMIT;
    let trusted = plan.full && listing.complete && (!shrunk || context.accept_shrink);
    if shrunk && !context.accept_shrink {
        fetched.notes.push(format!(
            "Defender listed {listed} devices where {active_before} were active at the last sync; no device was marked gone. If the tenant really shrank, accept it with Accept smaller listing on the card (or `mde-car sync {} --full --accept-shrink`)",
            shell_word(&context.connection.name)
        ));
        fetched.partial = true;
        fetched.shrink_refused = true;
    } else if shrunk {
        fetched.notes.push(format!(
            "Defender listed {listed} devices where {active_before} were active; accepted, so the others were marked gone"
        ));
    }
    if trusted {
        watermarks.set(plan::RECONCILE, watermarks.started);
    }
    fetched.batch.devices = Some(DeviceBatch {
        complete_full_listing: trusted,
        devices: listing.items,
    });
    Ok(())
}

/// A connection name as a shell reads it in a suggested command.
fn shell_word(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

/// The vulnerability export or delta, and a doubt when the answer cannot be trusted whole: an
/// export with unreadable rows, or an empty one while links are known, marks nothing fixed.
async fn fetch_vulnerabilities(
    client: &MdeClient,
    plan: VulnerabilityPlan,
    active_before: u64,
) -> std::result::Result<(VulnerabilityBatch, Option<String>), MdeError> {
    let since = match plan {
        VulnerabilityPlan::Delta { since } => Some(since),
        VulnerabilityPlan::Full => None,
    };
    if let Some(since) = since {
        match client.vulnerability_changes(since).await {
            Ok(changes) => return Ok((VulnerabilityBatch::Delta(changes), None)),
            // Older than Defender's 14-day delta window: fall back to the full export.
            Err(MdeError::DeltaWindowExceeded) => {}
            Err(error) => return Err(error),
        }
    }
    let export = client.vulnerability_export().await?;
    if !export.complete {
        return Ok((
            VulnerabilityBatch::Partial(export.items),
            Some("Vulnerabilities: the export had rows that could not be read, so no vulnerability was marked fixed this time; the next full export tries again".to_owned()),
        ));
    }
    if export.items.is_empty() && active_before > 0 {
        return Ok((
            VulnerabilityBatch::Partial(export.items),
            Some(format!(
                "Vulnerabilities: the export was empty while {active_before} were known, so none was marked fixed; the next full export tries again"
            )),
        ));
    }
    Ok((VulnerabilityBatch::Full(export.items), None))
}

/// The watermarks a run advances. Times from the network never move one past the run's start:
/// a record dated in the future (a skewed clock at the source) would otherwise stop the next
/// runs from asking for anything older.
struct Watermarks {
    started: crate::model::Timestamp,
    marks: Vec<(String, crate::model::Timestamp)>,
    /// What came from the future, and the newest such time.
    future: Vec<(&'static str, crate::model::Timestamp)>,
}

impl Watermarks {
    fn new(started: crate::model::Timestamp) -> Self {
        Watermarks {
            started,
            marks: Vec::new(),
            future: Vec::new(),
        }
    }

    fn set(&mut self, kind: &str, value: crate::model::Timestamp) {
        self.marks.push((kind.to_owned(), value.min(self.started)));
    }

    /// The newest time the source reported, clamped to the run's start.
    fn newest(&mut self, kind: &str, newest: crate::model::Timestamp, what: &'static str) {
        if newest > self.started {
            self.future.push((what, newest));
        }
        self.set(kind, newest);
    }

    fn future_note(&self) -> Option<String> {
        let (what, newest) = self.future.iter().max_by_key(|(_, time)| *time)?;
        Some(format!(
            "Some {what} are dated in the future (up to {}); they were saved as reported and the sync continues from now",
            newest.format("%Y-%m-%d %H:%M:%S UTC")
        ))
    }
}

fn step_of(endpoint: mde::EndpointKind) -> SyncStep {
    match endpoint {
        mde::EndpointKind::Token => SyncStep::SigningIn,
        mde::EndpointKind::Machines => SyncStep::Devices,
        mde::EndpointKind::Alerts => SyncStep::Alerts,
        mde::EndpointKind::NetworkHistory => SyncStep::IpHistory,
        mde::EndpointKind::Logons => SyncStep::LoggedOnUsers,
        mde::EndpointKind::Vulnerabilities => SyncStep::Vulnerabilities,
    }
}

/// One line for the card and the log: "412 devices (3 new), 37 alerts, 2 vulnerabilities fixed".
pub fn summary(outcome: &SyncOutcome) -> String {
    match outcome.status {
        RunStatus::Succeeded | RunStatus::Partial => {
            let mut parts = Vec::new();
            for (entity, label) in [
                ("assets", "devices"),
                ("alerts", "alerts"),
                ("vulnerabilities", "vulnerabilities"),
                ("ip_leases", "IP leases"),
            ] {
                if let Some(count) = outcome.changes.get(entity)
                    && (count.added + count.updated + count.deactivated) > 0
                {
                    parts.push(format!(
                        "{label}: {} new, {} changed, {} gone",
                        count.added, count.updated, count.deactivated
                    ));
                }
            }
            let mut text = if parts.is_empty() {
                "no changes".to_owned()
            } else {
                parts.join("; ")
            };
            for note in &outcome.notes {
                text.push_str(&format!(" ({note})"));
            }
            text
        }
        RunStatus::Cancelled => "cancelled; nothing was changed".to_owned(),
        _ => format!(
            "failed, nothing was changed: {}",
            outcome.error.as_deref().unwrap_or("unknown error")
        ),
    }
}

/// At most one run per connection, across processes (app, CLI, daemon): the exclusive lock on
/// `locks/sync-<connection id>.lock`, held for the whole run.
fn acquire_run_lock(data_dir: &DataDir, connection: &Connection) -> Result<LockFile> {
    let path = data_dir.run_lock_file(&connection.id);
    LockFile::try_acquire(&path).map_err(|failure| match failure {
        LockFailure::Held => SyncError::AlreadyRunning(connection.name.clone()),
        LockFailure::Io(error) => SyncError::RunLock {
            path: path.display().to_string(),
            reason: error.to_string(),
        },
    })
}

/// Whether another process (the CLI, a daemon) is running a sync of the connection now: its
/// run lock is held. A run record left `running` by a killed process has no holder.
pub(crate) fn running_elsewhere(data_dir: &DataDir, connection_id: &str) -> bool {
    LockFile::is_held(&data_dir.run_lock_file(connection_id))
}

/// Ends the record that a run whose task panicked left `running` (one begun at `since` or
/// later), as failed (`internal`) with `message`; returns its id and whether it was a full
/// run, or `None` when the run had no record yet. Done under the run lock (the panic released
/// it), so the record ended is this run's: while another process holds the lock, its own run
/// began and marked ours `interrupted`, or will.
pub(crate) fn end_after_panic(
    store: &Store,
    data_dir: &DataDir,
    connection: &Connection,
    since: crate::model::Timestamp,
    message: &str,
) -> Result<Option<(i64, bool)>> {
    let _lock = match acquire_run_lock(data_dir, connection) {
        Ok(lock) => lock,
        Err(SyncError::AlreadyRunning(_)) => return Ok(None),
        Err(error) => return Err(error),
    };
    let finish = RunFinish {
        error_code: Some("internal".to_owned()),
        error: Some(message.to_owned()),
        ..RunFinish::default()
    };
    Ok(store.fail_running_run(&connection.id, since, &finish, Utc::now())?)
}

/// Runs store work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SyncError::Internal(format!("a background task failed: {error}")))?
        .map_err(SyncError::from)
}
