//! The scheduler: runs every connection at its frequency (interval or cron), at most one run per
//! connection at a time. When a connection is due is computed from its run history alone, so a
//! run that became due while the app was closed starts as soon as it opens, and a daemon and the
//! app agree on it. Failed runs are retried sooner, with a capped exponential backoff, but never
//! later than the schedule itself.
//!
//! An attempt that fails before a run is recorded (the keyring is locked or the secret missing,
//! the CA file moved, the database is busy) leaves no history to back off from, so such a cause
//! costs one attempt (settings read, keyring call, log line, event) per backoff step instead of
//! a loop. Two backoffs hold it, and a pass waits for the later: the process's own per
//! connection ([`Backoff`]), and the one every process on the data folder shares (the
//! `shared_backoff` file the attempting process records, read through
//! [`ScheduleHandle::shared_backoff`]). An attempt is made under the connection's run lock, and
//! the shared not-before is read again under it, so when the desktop app and a daemon wake
//! together one attempts and the other finds the lock held or the not-before moved on: one
//! attempt per connection per step across processes. When the shared record cannot be written,
//! the process's own backoff still holds. A connection another process is syncing is skipped
//! while its run lock is held, and looked at again at the next recheck.

use std::{collections::HashMap, sync::Arc, time::Duration};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use chrono::Utc;
use tokio::{
    sync::{Notify, mpsc},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::{
    config::Connection,
    model::{RunStatus, Timestamp},
    store::RunRecord,
};

/// What the scheduler needs of the core, and no more: the connections with their recent runs,
/// whether one is running here or in another process, how often connections were edited, the
/// backoff the processes share, and a way to start a run. `Core` provides it; tests can too.
pub(crate) trait ScheduleHandle: Send + Sync + 'static {
    /// What a failure to list or start says in the log.
    type Error: std::fmt::Display + Send;

    /// Every connection with its newest runs (newest first).
    fn connections(
        &self,
    ) -> impl Future<Output = Result<Vec<(Connection, Vec<RunRecord>)>, Self::Error>> + Send;

    fn is_running(&self, connection_id: &str) -> bool;

    /// How many runs of this process have ended so far (any trigger).
    fn runs_ended(&self) -> u64;

    /// Whether another process (the CLI, a daemon, the app) runs a sync of the connection now:
    /// its run lock is held.
    fn running_elsewhere(&self, connection_id: &str) -> bool;

    /// How many times the connections were added, edited or removed so far (here, or in the
    /// settings file by another process). A change ends every backoff: the edit may be the fix.
    fn edits(&self) -> u64;

    /// How much longer every process on the data folder holds attempts at the connection back
    /// (see [`shared_wait`]); `None` when nothing does. Read on every pass: another process may
    /// have attempted since.
    fn shared_backoff(&self, connection_id: &str) -> Option<Duration>;

    /// Starts a scheduled run in the background and tells `ended` how it ended — before the
    /// run is unregistered, so the scheduler never sees it idle and unreported. The attempt is
    /// made under the connection's run lock, after the shared backoff is read again under it:
    /// when another process holds the lock or has moved the backoff on, nothing is attempted
    /// and `ended` is told [`AttemptOutcome::Skipped`]. An attempt that records no run records
    /// the next shared step before it lets the lock go. An `ended` dropped untold (a start that
    /// failed at once, a task that died) counts as an attempt that recorded no run.
    fn start_run(&self, connection_id: &str, ended: AttemptEnd) -> Result<(), Self::Error>;
}

/// How a scheduled attempt ended, as the scheduler's backoff sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    /// A run record was made, whatever the run's status: a recorded failure backs off through
    /// the history (see [`next_due`]).
    Recorded,
    /// The attempt ended before a run was recorded: the next one waits a backoff step.
    NotRecorded,
    /// Nothing was attempted: under the run lock, another process was found attempting or to
    /// have just attempted. Its record decides the next wait; the next pass reads it.
    Skipped,
}

/// The end of one scheduled attempt, told back to the scheduler (see
/// [`ScheduleHandle::start_run`]).
#[derive(Debug)]
pub(crate) struct AttemptEnd {
    connection_id: String,
    /// The count of connection edits when the attempt began (see [`ScheduleHandle::edits`]).
    edits: u64,
    reports: mpsc::UnboundedSender<Report>,
    told: bool,
}

/// An attempt's end, as the loop takes it in.
#[derive(Debug)]
pub(crate) struct Report {
    connection_id: String,
    outcome: AttemptOutcome,
    /// The count of edits when the attempt began: one made since ended the backoff, and the
    /// attempt's failure says nothing about the edited settings.
    edits: u64,
}

impl AttemptEnd {
    /// The attempt is over, as `outcome` says.
    pub(crate) fn tell(mut self, outcome: AttemptOutcome) {
        self.send(outcome);
    }

    fn send(&mut self, outcome: AttemptOutcome) {
        if !self.told {
            self.told = true;
            // The scheduler stopped: nobody needs to know any more.
            let _ = self.reports.send(Report {
                connection_id: self.connection_id.clone(),
                outcome,
                edits: self.edits,
            });
        }
    }
}

#[cfg(test)]
impl AttemptEnd {
    /// An end for a test that calls a [`ScheduleHandle`] itself; the receiver hears it.
    pub(crate) fn heard_by_test(
        connection_id: &str,
    ) -> (AttemptEnd, mpsc::UnboundedReceiver<Report>) {
        let (reports, heard) = mpsc::unbounded_channel();
        let end = AttemptEnd {
            connection_id: connection_id.to_owned(),
            edits: 0,
            reports,
            told: false,
        };
        (end, heard)
    }
}

#[cfg(test)]
impl Report {
    pub(crate) fn outcome(&self) -> AttemptOutcome {
        self.outcome
    }
}

impl Drop for AttemptEnd {
    fn drop(&mut self) {
        self.send(AttemptOutcome::NotRecorded);
    }
}

/// First retry after a failed run; doubles per consecutive failure.
const RETRY_FIRST: chrono::Duration = chrono::Duration::minutes(2);
/// Longest wait between retries of a failing connection (the schedule may come first).
const RETRY_MAX: chrono::Duration = chrono::Duration::hours(1);
/// The scheduler re-reads settings at least this often (connections added by the CLI), and
/// looks again at a connection another process is syncing.
const RECHECK: Duration = Duration::from_secs(60);

/// First wait after an attempt that recorded no run; doubles per consecutive one.
const ATTEMPT_RETRY_FIRST: Duration = Duration::from_secs(2 * 60);
/// The doubling stops here. Jitter adds up to the same again, so a wait stays under an hour
/// (`RETRY_MAX`), and waits drawn by different processes do not fall in step.
const ATTEMPT_RETRY_BASE_MAX: Duration = Duration::from_secs(30 * 60);
/// The longest wait after an attempt that recorded no run: the cap with all its jitter.
const ATTEMPT_WAIT_MAX: Duration = ATTEMPT_RETRY_BASE_MAX.saturating_mul(2);
/// Steps after which the doubling has reached the cap (2 min doubles past 30 in 4); later
/// steps are all alike.
const ATTEMPT_STEPS_TO_CAP: usize = 8;

/// When `connection` should run next, from its newest runs (newest first).
pub(crate) fn next_due(connection: &Connection, runs: &[RunRecord], now: Timestamp) -> Timestamp {
    let Some(latest) = runs.iter().find(|run| run.status != RunStatus::Running) else {
        return now; // never synced: due now
    };
    // A run recorded while the clock ran ahead (it has since jumped back) counts as run now, so
    // it does not hold scheduling back until real time catches up with it.
    let started = latest.started_at.min(now);
    let scheduled = connection.frequency.next_after(started).unwrap_or(now);
    let failures = runs
        .iter()
        .take_while(|run| matches!(run.status, RunStatus::Failed | RunStatus::Interrupted))
        .count();
    if failures == 0 {
        return scheduled;
    }
    let exponent = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(10);
    let backoff = (RETRY_FIRST * 2_i32.pow(exponent)).min(RETRY_MAX);
    let retry = latest.finished_at.unwrap_or(started).min(now) + backoff;
    retry.min(scheduled)
}

/// The waits of one connection whose attempts end before a run is recorded. backon's iterator
/// does the arithmetic (doubling, cap, jitter), as it does for the client's retries.
#[derive(Debug)]
struct Backoff {
    delays: ExponentialBackoff,
    /// No attempt before this.
    not_before: Instant,
    /// The newest run record of the connection when the backoff began: a newer one (a run
    /// recorded here or by another process) means the cause is gone, and the history decides.
    newest_run: Option<i64>,
}

fn delays() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(ATTEMPT_RETRY_FIRST)
        .with_max_delay(ATTEMPT_RETRY_BASE_MAX)
        .with_jitter()
        .without_max_times()
        .build()
}

/// The wait after the `failures`-th attempt in a row that recorded no run, with fresh jitter:
/// the step the attempting process writes into the shared backoff, the same arithmetic as the
/// process's own [`Backoff`].
pub(crate) fn attempt_delay(failures: u32) -> Duration {
    let step = usize::try_from(failures.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .min(ATTEMPT_STEPS_TO_CAP);
    delays().nth(step).unwrap_or(ATTEMPT_WAIT_MAX)
}

/// How long a shared not-before still holds attempts back at `now`; `None` when it is over.
/// One further off than the longest wait was written by a clock that ran ahead and has since
/// been set back: it counts as over, as a run recorded in the future counts as run now in
/// [`next_due`], instead of holding the connection back until real time catches up.
pub(crate) fn shared_wait(not_before: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    let wait = (not_before? - now).to_std().ok()?;
    (!wait.is_zero() && wait <= ATTEMPT_WAIT_MAX).then_some(wait)
}

/// What the loop remembers between passes. Time is tokio's, so tests run it on a paused clock.
#[derive(Debug, Default)]
struct State {
    backoffs: HashMap<String, Backoff>,
    /// The newest run record seen of each connection: a running maximum, so a pass that could
    /// not read the runs does not look like a new run.
    newest_run: HashMap<String, i64>,
    edits: u64,
}

impl State {
    /// An attempt ended: one that recorded no run waits the next step, unless the connections
    /// were edited since it began; one that did ends the backoff. `self.edits` is current.
    fn ended(&mut self, report: &Report, now: Instant) {
        let connection_id = report.connection_id.as_str();
        match report.outcome {
            AttemptOutcome::Recorded => {
                self.backoffs.remove(connection_id);
                return;
            }
            AttemptOutcome::Skipped => return,
            AttemptOutcome::NotRecorded if report.edits != self.edits => return,
            AttemptOutcome::NotRecorded => {}
        }
        let newest_run = self.newest_run.get(connection_id).copied();
        let backoff = self
            .backoffs
            .entry(connection_id.to_owned())
            .or_insert_with(|| Backoff {
                delays: delays(),
                not_before: now,
                newest_run,
            });
        // Without a max count the iterator never ends; the cap is the fallback all the same.
        let wait = backoff.delays.next().unwrap_or(ATTEMPT_RETRY_BASE_MAX * 2);
        backoff.not_before = now + wait;
        tracing::info!(
            connection = connection_id,
            wait_s = wait.as_secs(),
            "the sync did not start; trying again after a pause"
        );
    }

    /// Takes in what the connection's runs say: a run newer than a backoff ends it.
    fn saw_runs(&mut self, connection_id: &str, runs: &[RunRecord]) {
        let Some(newest) = runs.iter().map(|run| run.id).max() else {
            return;
        };
        let known = self.newest_run.entry(connection_id.to_owned()).or_default();
        *known = (*known).max(newest);
        if self
            .backoffs
            .get(connection_id)
            .is_some_and(|backoff| backoff.newest_run.is_none_or(|before| newest > before))
        {
            self.backoffs.remove(connection_id);
        }
    }

    /// A change to the connections ends every backoff (the edit may have fixed the cause).
    fn saw_edits(&mut self, edits: u64) {
        if edits != self.edits {
            self.edits = edits;
            self.backoffs.clear();
        }
    }

    fn not_before(&self, connection_id: &str) -> Option<Instant> {
        self.backoffs
            .get(connection_id)
            .map(|backoff| backoff.not_before)
    }

    /// Takes in the ends reported so far; returns the connections they were of.
    fn take_reports(&mut self, reports: &mut mpsc::UnboundedReceiver<Report>) -> Vec<String> {
        let mut ended = Vec::new();
        while let Ok(report) = reports.try_recv() {
            self.ended(&report, Instant::now());
            ended.push(report.connection_id);
        }
        ended
    }
}

/// Runs until `stop` is cancelled. `wake` makes it look again at once (settings changed).
/// The scheduler's loop: starts each connection's run when it is due, sleeps until the next one
/// is (at most [`RECHECK`]), and looks again at once when `wake` is notified or an attempt
/// ends.
pub(crate) async fn run(handle: impl ScheduleHandle, stop: CancellationToken, wake: Arc<Notify>) {
    tracing::info!("scheduler started");
    let (report_to, mut reports) = mpsc::unbounded_channel::<Report>();
    let mut state = State::default();
    loop {
        let sleep_for = pass(&handle, &mut state, &report_to, &mut reports).await;
        tokio::select! {
            () = stop.cancelled() => break,
            () = wake.notified() => {}
            Some(report) = reports.recv() => {
                state.saw_edits(handle.edits());
                state.ended(&report, Instant::now());
            }
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
    tracing::info!("scheduler stopped");
}

/// One look at every connection: starts those due, returns how long to sleep.
async fn pass(
    handle: &impl ScheduleHandle,
    state: &mut State,
    report_to: &mpsc::UnboundedSender<Report>,
    reports: &mut mpsc::UnboundedReceiver<Report>,
) -> Duration {
    // Ends reported before the runs are read are judged with the runs they recorded, and
    // with the edits made so far.
    state.saw_edits(handle.edits());
    state.take_reports(reports);
    let ended_before = handle.runs_ended();
    let connections = match handle.connections().await {
        Ok(connections) => connections,
        Err(error) => {
            tracing::warn!(%error, "scheduler could not read the connections");
            return RECHECK;
        }
    };
    let (now, clock) = (Utc::now(), Instant::now());
    let idle: Vec<(Connection, Vec<RunRecord>)> = connections
        .into_iter()
        .filter(|(connection, _)| !handle.is_running(&connection.id))
        .collect();
    // After the running check: a run tells its end before it unregisters, so every attempt
    // seen idle above has told it by now. One that ended while the runs were being read is
    // judged on the next pass, with runs read after its end.
    let ended_meanwhile = state.take_reports(reports);
    // A run of any trigger (Sync now, too) that ended while the runs were read may have been
    // read `running`, which counts as no run: it would look due and start again at once.
    let any_ended_meanwhile = handle.runs_ended() != ended_before;
    let mut sleep_for = RECHECK;
    for (connection, runs) in idle {
        state.saw_runs(&connection.id, &runs);
        if any_ended_meanwhile || ended_meanwhile.contains(&connection.id) {
            sleep_for = Duration::ZERO;
            continue;
        }
        // Its run lock is held: that process records the run; look again at the recheck.
        if handle.running_elsewhere(&connection.id) {
            continue;
        }
        let due = next_due(&connection, &runs, now);
        // The later of this process's own backoff and the one the processes share.
        let shared = handle
            .shared_backoff(&connection.id)
            .map(|wait| clock + wait);
        let not_before = state.not_before(&connection.id).max(shared);
        if due <= now && not_before.is_none_or(|at| at <= clock) {
            let ended = AttemptEnd {
                connection_id: connection.id.clone(),
                edits: state.edits,
                reports: report_to.clone(),
                told: false,
            };
            if let Err(error) = handle.start_run(&connection.id, ended) {
                tracing::warn!(connection = %connection.name, %error, "scheduled sync did not start");
            }
            continue;
        }
        let until_due = (due - now).to_std().unwrap_or(Duration::ZERO);
        let until_retry =
            not_before.map_or(Duration::ZERO, |at| at.saturating_duration_since(clock));
        sleep_for = sleep_for.min(until_due.max(until_retry));
    }
    sleep_for
}

#[cfg(test)]
mod tests;
