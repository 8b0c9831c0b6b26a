//! The scheduler: runs every connection at its frequency (interval or cron), at most one run per
//! connection at a time. When a connection is due is computed from its run history alone, so a
//! run that became due while the app was closed starts as soon as it opens, and a daemon and the
//! app agree on it. Failed runs are retried sooner, with a capped exponential backoff, but never
//! later than the schedule itself.
//!
//! An attempt that fails before a run is recorded (the keyring is locked or the secret missing,
//! the CA file moved, the database is busy) leaves no history to back off from: the scheduler
//! keeps a backoff of its own per connection for those ([`Backoff`]), so such a cause costs one
//! attempt (settings read, keyring call, log line, event) per backoff step instead of a loop. A
//! connection another process is syncing is skipped while its run lock is held, and looked at
//! again at the next recheck.

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
/// whether one is running here or in another process, how often connections were edited, and
/// a way to start a run. `Core` provides it; tests can too.
pub(crate) trait ScheduleHandle: Send + Sync + 'static {
    /// What a failure to list or start says in the log.
    type Error: std::fmt::Display + Send;

    /// Every connection with its newest runs (newest first).
    fn connections(
        &self,
    ) -> impl Future<Output = Result<Vec<(Connection, Vec<RunRecord>)>, Self::Error>> + Send;

    fn is_running(&self, connection_id: &str) -> bool;

    /// Whether another process (the CLI, a daemon, the app) runs a sync of the connection now:
    /// its run lock is held.
    fn running_elsewhere(&self, connection_id: &str) -> bool;

    /// How many times the connections were added, edited or removed so far (here, or in the
    /// settings file by another process). A change ends every backoff: the edit may be the fix.
    fn edits(&self) -> u64;

    /// Starts a scheduled run in the background and tells `ended` how it ended — before the
    /// run is unregistered, so the scheduler never sees it idle and unreported. An `ended`
    /// dropped untold (a start that failed at once, a task that died) counts as an attempt
    /// that recorded no run.
    fn start_run(&self, connection_id: &str, ended: AttemptEnd) -> Result<(), Self::Error>;
}

/// The end of one scheduled attempt, told back to the scheduler (see
/// [`ScheduleHandle::start_run`]).
#[derive(Debug)]
pub(crate) struct AttemptEnd {
    connection_id: String,
    reports: mpsc::UnboundedSender<Report>,
    told: bool,
}

/// An attempt's end: the connection, and whether a run record was made.
type Report = (String, bool);

impl AttemptEnd {
    /// The attempt is over; `recorded` says whether it got as far as a run record (whatever
    /// the run's status: a recorded failure backs off through the history, see [`next_due`]).
    pub(crate) fn tell(mut self, recorded: bool) {
        self.send(recorded);
    }

    fn send(&mut self, recorded: bool) {
        if !self.told {
            self.told = true;
            // The scheduler stopped: nobody needs to know any more.
            let _ = self.reports.send((self.connection_id.clone(), recorded));
        }
    }
}

impl Drop for AttemptEnd {
    fn drop(&mut self) {
        self.send(false);
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
/// (`RETRY_MAX`), and two processes failing alike (the daemon and the app on a locked keyring)
/// drift apart instead of trying in step.
const ATTEMPT_RETRY_BASE_MAX: Duration = Duration::from_secs(30 * 60);

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
    /// An attempt ended: one that recorded no run waits the next step; one that did ends the
    /// backoff.
    fn ended(&mut self, connection_id: &str, recorded: bool, now: Instant) {
        if recorded {
            self.backoffs.remove(connection_id);
            return;
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
        while let Ok((connection_id, recorded)) = reports.try_recv() {
            self.ended(&connection_id, recorded, Instant::now());
            ended.push(connection_id);
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
            Some((connection_id, recorded)) = reports.recv() => {
                state.ended(&connection_id, recorded, Instant::now());
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
    // Ends reported before the runs are read are judged with the runs they recorded.
    state.take_reports(reports);
    state.saw_edits(handle.edits());
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
    let mut sleep_for = RECHECK;
    for (connection, runs) in idle {
        state.saw_runs(&connection.id, &runs);
        if ended_meanwhile.contains(&connection.id) {
            sleep_for = Duration::ZERO;
            continue;
        }
        // Its run lock is held: that process records the run; look again at the recheck.
        if handle.running_elsewhere(&connection.id) {
            continue;
        }
        let due = next_due(&connection, &runs, now);
        let not_before = state.not_before(&connection.id);
        if due <= now && not_before.is_none_or(|at| at <= clock) {
            let ended = AttemptEnd {
                connection_id: connection.id.clone(),
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
