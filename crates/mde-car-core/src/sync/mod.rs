//! The sync engine: one run of one connection, from Defender to the asset graph.
//!
//! A run: under the connection's run lock (one run per connection, across processes; the
//! caller takes it, see [`lock_run`]) → record the run → [`plan`] from the watermarks → fetch
//! every enabled data type through the Defender client → apply everything and advance the
//! watermarks **in one transaction**. A failure, a cancel, a kill or a lost network before that
//! transaction leaves the previous state and watermarks untouched, so the next run catches up.
//! A data type whose permission is missing is skipped with a note instead of failing the run;
//! devices are required.

mod check;
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
    shared_backoff,
    store::{
        Availability, Changes, DeviceBatch, RunFinish, RunStatus, Store, StoreError, SyncBatch,
        Unavailable, VulnerabilityBatch,
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

pub(crate) use check::{availability_answers, check_data, hunting_note};
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

impl SyncOutcome {
    /// The outcome of the recorded run `begun`, as `finish` recorded it.
    fn of(begun: &Begun, status: RunStatus, changes: Changes, finish: RunFinish) -> SyncOutcome {
        SyncOutcome {
            run_id: begun.run_id,
            full: begun.plan.full,
            status,
            changes,
            api_calls: finish.api_calls,
            throttled_ms: finish.throttled_ms,
            notes: finish.notes,
            error: finish.error,
            error_code: finish.error_code,
        }
    }
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

/// Runs one sync; the caller holds the connection's run lock ([`lock_run`]) throughout. `Err`
/// only for problems before a run could be recorded (the database); a run that fails or is
/// cancelled is an `Ok` outcome with that status. Sends Started, Progress and Throttled events;
/// the caller sends Finished.
pub(crate) async fn run(context: RunContext) -> Result<SyncOutcome> {
    let begun = begin(&context).await?;
    let client = client_for_run(&context, begun.run_id);
    let fetched = fetch(&client, &context, &begun).await;
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
    /// Data types Defender answered it does not offer, as the store remembers them.
    unavailable: Vec<Unavailable>,
    /// Those of them this run does not ask for (answered so within [`RECHECK_UNAVAILABLE`]).
    skipped: Vec<Unavailable>,
}

/// Plans from the watermarks, records the run and announces it. The watermarks are read under
/// the run lock, so no other run moves them between plan and fetch.
async fn begin(context: &RunContext) -> Result<Begun> {
    fail_point!("sync::run_lock_taken");
    let started = Utc::now();
    let watermarks = blocking({
        let store = context.store.clone();
        let id = context.connection.id.clone();
        move || store.watermarks(&id)
    })
    .await?;
    let unavailable = blocking({
        let store = context.store.clone();
        let id = context.connection.id.clone();
        move || store.unavailable_data(&id)
    })
    .await?;
    let skipped = not_asked_again(&unavailable, context.connection.data, started);
    let mut data = context.connection.data;
    for remembered in &skipped {
        if let Some(stage) = Stage::of_kind(&remembered.kind) {
            stage.turn_off(&mut data);
        }
    }
    let plan = plan::plan(&watermarks, data, started, context.force_full);
    let run_id = blocking({
        let store = context.store.clone();
        let id = context.connection.id.clone();
        let mode = if plan.full { "full" } else { "incremental" };
        let trigger = context.trigger.key();
        move || store.begin_run(&id, mode, trigger, started)
    })
    .await?;
    end_shared_backoff(context).await;
    fail_point!("sync::run_recorded");
    let _ = context.events.send(SyncEvent::Started {
        connection_id: context.connection.id.clone(),
        run_id,
        full: plan.full,
    });
    tracing::info!(connection = %context.connection.name, run_id, full = plan.full, "sync started");
    Ok(Begun {
        run_id,
        started,
        plan,
        unavailable,
        skipped,
    })
}

/// A run is recorded: the attempts that failed before one was are behind, and from here the
/// history decides when the connection runs, in every process on the data folder.
async fn end_shared_backoff(context: &RunContext) {
    let (data_dir, id) = (context.data_dir.clone(), context.connection.id.clone());
    let ended = tokio::task::spawn_blocking(move || shared_backoff::record_run(&data_dir, &id))
        .await
        .map_err(|error| error.to_string())
        .and_then(|ended| ended.map_err(|error| error.to_string()));
    if let Err(error) = ended {
        // The stale not-before holds the connection back one step at most.
        tracing::warn!(connection = %context.connection.name, %error, "the shared backoff could not be ended");
    }
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
    let status = if finish.partial {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    };
    Ok(SyncOutcome::of(begun, status, changes, finish))
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
    Ok(SyncOutcome::of(
        begun,
        RunStatus::Failed,
        Changes::new(),
        finish,
    ))
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
    Ok(SyncOutcome::of(begun, status, Changes::new(), finish))
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
    /// The data types the store remembers as not offered (see [`Stage::lasting_cause`]).
    known_unavailable: std::collections::BTreeSet<String>,
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
    const ALL: [Stage; 4] = [
        Stage::Alerts,
        Stage::IpHistory,
        Stage::LoggedOnUsers,
        Stage::Vulnerabilities,
    ];

    /// The stage's name in the store: its watermark's.
    fn kind(self) -> &'static str {
        match self {
            Stage::Alerts => plan::ALERTS,
            Stage::IpHistory => plan::NETWORK,
            Stage::LoggedOnUsers => plan::LOGONS,
            Stage::Vulnerabilities => plan::VULNERABILITIES,
        }
    }

    fn of_kind(kind: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.kind() == kind)
    }

    fn is_selected(self, data: crate::config::DataSelection) -> bool {
        match self {
            Stage::Alerts => data.alerts,
            Stage::IpHistory => data.ip_history,
            Stage::LoggedOnUsers => data.logged_on_users,
            Stage::Vulnerabilities => data.vulnerabilities,
        }
    }

    fn turn_off(self, data: &mut crate::config::DataSelection) {
        match self {
            Stage::Alerts => data.alerts = false,
            Stage::IpHistory => data.ip_history = false,
            Stage::LoggedOnUsers => data.logged_on_users = false,
            Stage::Vulnerabilities => data.vulnerabilities = false,
        }
    }

    /// Why a failure will last: a 404 means the tenant or its cloud does not have the data (no
    /// Defender Vulnerability Management licence, Graph hunting absent in a sovereign cloud),
    /// and a 403 `DisabledFeature` that the tenant has not switched it on
    /// (docs/defender-api.md#data-a-tenant-does-not-offer). Asking again on every run would
    /// cost a call and end every run partial for the same reason. Everything else may pass by
    /// the next run.
    fn lasting_cause(error: &MdeError) -> Option<String> {
        let lasting = match error {
            MdeError::Api { status: 404, .. } => true,
            MdeError::Api {
                status: 403,
                code: Some(code),
                ..
            } => code == "DisabledFeature",
            _ => false,
        };
        lasting.then(|| error.to_string())
    }

    /// Why a tenant may not offer the stage's data (after a 404).
    fn likely_absence(self) -> &'static str {
        match self {
            Stage::Vulnerabilities => {
                "the tenant may lack a Defender Vulnerability Management licence, or the cloud may not offer it"
            }
            _ => "the tenant's licence or cloud may not include it",
        }
    }

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
    begun: &Begun,
) -> std::result::Result<Fetched, MdeError> {
    let (plan, started) = (&begun.plan, begun.started);
    let mut fetched = Fetched {
        batch: SyncBatch {
            connection_id: context.connection.id.clone(),
            run_id: begun.run_id,
            now: started,
            ..SyncBatch::default()
        },
        notes: begun.skipped.iter().filter_map(skipped_note).collect(),
        partial: false,
        shrink_refused: false,
        known_unavailable: begun.unavailable.iter().map(|u| u.kind.clone()).collect(),
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
            if listing.skipped > 0 {
                fetched.notes.push(format!(
                    "Alerts: {} record{} Defender sent could not be read (a field of the wrong type, no id or no time) and {} left out; the log has why. The next sync tries again",
                    listing.skipped,
                    if listing.skipped == 1 { "" } else { "s" },
                    if listing.skipped == 1 { "was" } else { "were" },
                ));
                fetched.partial = true;
            }
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
        let known = self.known_unavailable.contains(stage.kind());
        match result {
            Ok(value) => {
                if known {
                    self.batch
                        .availability
                        .push((stage.kind().to_owned(), Availability::Available));
                }
                Ok(Some(value))
            }
            Err(MdeError::Cancelled) => Err(MdeError::Cancelled),
            Err(error) => {
                tracing::warn!(stage = stage.label(), %error, "a stage of the sync failed; the rest is saved");
                self.notes.push(stage_note(stage, &error));
                if let Some(reason) = Stage::lasting_cause(&error) {
                    self.batch.availability.push((
                        stage.kind().to_owned(),
                        Availability::Unavailable { reason },
                    ));
                }
                // A data type still missing for the reason already on record is how this
                // tenant is, not a failure of this run.
                self.partial |= !(known && Stage::lasting_cause(&error).is_some());
                Ok(None)
            }
        }
    }
}

/// "Vulnerabilities skipped: … ; … . What was stored before is kept."
fn stage_note(stage: Stage, error: &MdeError) -> String {
    let (why, next) = cause(stage, error);
    format!(
        "{} skipped: {why}; {next}. What was stored before is kept",
        stage.label()
    )
}

/// Why a stage failed and what to do, in words.
fn cause(stage: Stage, error: &MdeError) -> (String, String) {
    match error {
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
        _ if Stage::lasting_cause(error).is_some() => (
            format!("this tenant or cloud does not offer it ({error})"),
            format!(
                "{}; mde-car asks again in a day or when you test the connection, and you can turn it off in Edit if it never will",
                stage.likely_absence()
            ),
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
    }
}

/// How long a data type Defender answered it does not offer is left alone before a run asks
/// again. Licences and clouds change rarely; a day bounds how long a newly bought licence
/// waits (a test of the connection checks at once).
pub const RECHECK_UNAVAILABLE: chrono::Duration = chrono::Duration::hours(24);

/// The remembered unavailable data types this run leaves alone: selected, and answered so less
/// than [`RECHECK_UNAVAILABLE`] ago. A check dated in the future (the clock jumped back) is
/// asked again: left alone, it would be until real time caught up.
fn not_asked_again(
    unavailable: &[Unavailable],
    data: crate::config::DataSelection,
    now: crate::model::Timestamp,
) -> Vec<Unavailable> {
    unavailable
        .iter()
        .filter(|remembered| {
            Stage::of_kind(&remembered.kind).is_some_and(|stage| stage.is_selected(data))
                && remembered.checked_at <= now
                && now - remembered.checked_at < RECHECK_UNAVAILABLE
        })
        .cloned()
        .collect()
}

/// "Vulnerabilities not asked for: …" for a data type this run leaves alone.
fn skipped_note(remembered: &Unavailable) -> Option<String> {
    let stage = Stage::of_kind(&remembered.kind)?;
    let time = |t: crate::model::Timestamp| t.format("%Y-%m-%d %H:%M UTC").to_string();
    Some(format!(
        "{} not asked for: since {} Defender answers that this tenant or cloud does not offer them ({}); {}. mde-car asks again after {} or when you test the connection; turn them off in Edit if it never will. What was stored before is kept",
        stage.label(),
        time(remembered.since),
        remembered.reason,
        stage.likely_absence(),
        time(remembered.checked_at + RECHECK_UNAVAILABLE)
    ))
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
    if let Some(note) = unread_devices_note(&listing, plan.full) {
        fetched.notes.push(note);
        fetched.partial = true;
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

/// What a device listing could not give, when anything: records that could not be read (a
/// field of the wrong type, no id), or a full listing that could not be proven whole. Either
/// way no device was marked gone, and the run says so instead of passing for complete.
fn unread_devices_note(listing: &mde::Listing<crate::model::Device>, full: bool) -> Option<String> {
    let gone = if full {
        ", so no device was marked gone"
    } else {
        ""
    };
    if listing.skipped > 0 {
        Some(format!(
            "Devices: {} record{} Defender sent could not be read (a field of the wrong type, or no id) and {} left out{gone}; the log has why. The next sync tries again",
            listing.skipped,
            if listing.skipped == 1 { "" } else { "s" },
            if listing.skipped == 1 { "was" } else { "were" },
        ))
    } else if full && !listing.complete {
        Some(format!(
            "Devices: Defender's listing could not be proven complete (it changed while it was read: {} device{} came twice){gone}; the next full sync tries again",
            listing.duplicates,
            if listing.duplicates == 1 { "" } else { "s" },
        ))
    } else {
        None
    }
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
/// `locks/sync-<connection id>.lock`, held for the whole attempt — from before the secret is
/// read to after its outcome is recorded, so two processes never both attempt, and a
/// scheduled attempt that records no run writes the shared backoff before another can start.
/// `name` is what "already running" calls the connection.
pub(crate) fn lock_run(data_dir: &DataDir, connection_id: &str, name: &str) -> Result<LockFile> {
    let path = data_dir.run_lock_file(connection_id);
    LockFile::try_acquire(&path).map_err(|failure| match failure {
        LockFailure::Held => SyncError::AlreadyRunning(name.to_owned()),
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
/// run, or `None` when the run had no record yet. `_run_lock` is the run's lock, which its
/// caller held through the panic, so the record ended is this run's.
pub(crate) fn end_after_panic(
    store: &Store,
    _run_lock: &LockFile,
    connection: &Connection,
    since: crate::model::Timestamp,
    message: &str,
) -> Result<Option<(i64, bool)>> {
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
