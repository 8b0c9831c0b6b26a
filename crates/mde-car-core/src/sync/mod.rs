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
        Ok((batch, notes)) => {
            finish.notes = notes;
            finish_with_data(&context, &begun, batch, finish).await?
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
        status: RunStatus::Succeeded,
        changes,
        api_calls: finish.api_calls,
        throttled_ms: finish.throttled_ms,
        notes: finish.notes,
        error: None,
        error_code: None,
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

/// Fetches what the plan asks for. Optional data types whose permission is missing are
/// skipped with a note; anything else that fails fails the run.
async fn fetch(
    client: &MdeClient,
    context: &RunContext,
    plan: &SyncPlan,
    run_id: i64,
    started: crate::model::Timestamp,
) -> std::result::Result<(SyncBatch, Vec<String>), MdeError> {
    let mut notes = Vec::new();
    let mut watermarks = Vec::new();
    let mut batch = SyncBatch {
        connection_id: context.connection.id.clone(),
        run_id,
        now: started,
        ..SyncBatch::default()
    };

    let listing = client.list_devices(plan.devices_since).await?;
    let newest = listing.items.iter().filter_map(|d| d.last_seen).max();
    if let Some(newest) = newest {
        watermarks.push((plan::DEVICES.to_owned(), newest));
    } else if plan.devices_since.is_none() {
        watermarks.push((plan::DEVICES.to_owned(), started));
    }
    if plan.full && listing.complete {
        watermarks.push((plan::RECONCILE.to_owned(), started));
    }
    batch.devices = Some(DeviceBatch {
        complete_full_listing: plan.full && listing.complete,
        devices: listing.items,
    });

    if let Some(since) = plan.alerts
        && let Some(listing) =
            skip_if_forbidden(client.list_alerts(since).await, "Alerts", &mut notes)?
    {
        if let Some(newest) = listing.items.iter().map(|a| a.last_updated).max() {
            watermarks.push((plan::ALERTS.to_owned(), newest));
        } else if since.is_none() {
            watermarks.push((plan::ALERTS.to_owned(), started));
        }
        batch.alerts = Some(listing.items);
    }
    if let Some((from, to)) = plan.network
        && let Some(rows) = skip_if_forbidden(
            client.network_history(from, to).await,
            "IP history",
            &mut notes,
        )?
    {
        watermarks.push((plan::NETWORK.to_owned(), to));
        batch.network = Some(rows);
    }
    if let Some((from, to)) = plan.logons
        && let Some(rows) =
            skip_if_forbidden(client.logons(from, to).await, "Logged-on users", &mut notes)?
    {
        watermarks.push((plan::LOGONS.to_owned(), to));
        batch.logons = Some(rows);
    }
    if let Some(vulnerabilities) = plan.vulnerabilities {
        let fetched = match vulnerabilities {
            VulnerabilityPlan::Delta { since } => match client.vulnerability_changes(since).await {
                Ok(changes) => Ok(VulnerabilityBatch::Delta(changes)),
                // Older than Defender's 14-day delta window: fall back to the full export.
                Err(MdeError::DeltaWindowExceeded) => client
                    .vulnerabilities_full()
                    .await
                    .map(VulnerabilityBatch::Full),
                Err(error) => Err(error),
            },
            VulnerabilityPlan::Full => client
                .vulnerabilities_full()
                .await
                .map(VulnerabilityBatch::Full),
        };
        if let Some(found) = skip_if_forbidden(fetched, "Vulnerabilities", &mut notes)? {
            watermarks.push((plan::VULNERABILITIES.to_owned(), started));
            batch.vulnerabilities = Some(found);
        }
    }
    batch.watermarks = watermarks;
    Ok((batch, notes))
}

fn skip_if_forbidden<T>(
    result: std::result::Result<T, MdeError>,
    what: &str,
    notes: &mut Vec<String>,
) -> std::result::Result<Option<T>, MdeError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(MdeError::Forbidden { required, .. }) => {
            notes.push(format!(
                "{what} skipped: the app registration lacks {}; grant it in Entra ID to import them",
                if required.is_empty() { "a permission".to_owned() } else { required.join(" or ") }
            ));
            Ok(None)
        }
        Err(error) => Err(error),
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
        RunStatus::Succeeded => {
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
