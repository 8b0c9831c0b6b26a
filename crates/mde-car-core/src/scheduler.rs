//! The scheduler: runs every connection at its frequency (interval or cron), at most one run per
//! connection at a time. When a connection is due is computed from its run history alone, so a
//! run that became due while the app was closed starts as soon as it opens, and a daemon and the
//! app agree on it. Failed runs are retried sooner, with a capped exponential backoff, but never
//! later than the schedule itself.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Connection,
    model::{RunStatus, Timestamp},
    store::RunRecord,
};

/// What the scheduler needs of the core, and no more: the connections with their recent runs,
/// whether one is running here, and a way to start a run. `Core` provides it; tests can too.
pub(crate) trait ScheduleHandle: Send + Sync + 'static {
    /// What a failure to list or start says in the log.
    type Error: std::fmt::Display + Send;

    /// Every connection with its newest runs (newest first).
    fn connections(
        &self,
    ) -> impl Future<Output = Result<Vec<(Connection, Vec<RunRecord>)>, Self::Error>> + Send;

    fn is_running(&self, connection_id: &str) -> bool;

    /// Starts a scheduled run in the background.
    fn start_run(&self, connection_id: &str) -> Result<(), Self::Error>;
}

/// First retry after a failed run; doubles per consecutive failure.
const RETRY_FIRST: chrono::Duration = chrono::Duration::minutes(2);
/// Longest wait between retries of a failing connection (the schedule may come first).
const RETRY_MAX: chrono::Duration = chrono::Duration::hours(1);
/// The scheduler re-reads settings at least this often (connections added by the CLI).
const RECHECK: Duration = Duration::from_secs(60);

/// When `connection` should run next, from its newest runs (newest first).
pub(crate) fn next_due(connection: &Connection, runs: &[RunRecord], now: Timestamp) -> Timestamp {
    let Some(latest) = runs.iter().find(|run| run.status != RunStatus::Running) else {
        return now; // never synced: due now
    };
    let scheduled = connection
        .frequency
        .next_after(latest.started_at)
        .unwrap_or(now);
    let failures = runs
        .iter()
        .take_while(|run| matches!(run.status, RunStatus::Failed | RunStatus::Interrupted))
        .count();
    if failures == 0 {
        return scheduled;
    }
    let exponent = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(10);
    let backoff = (RETRY_FIRST * 2_i32.pow(exponent)).min(RETRY_MAX);
    let retry = latest.finished_at.unwrap_or(latest.started_at) + backoff;
    retry.min(scheduled)
}

/// Runs until `stop` is cancelled. `wake` makes it look again at once (settings changed).
/// The scheduler's loop: starts each connection's run when it is due, sleeps until the next one
/// is (at most [`RECHECK`]), and looks again at once when `wake` is notified.
pub(crate) async fn run(
    handle: impl ScheduleHandle,
    stop: CancellationToken,
    wake: std::sync::Arc<tokio::sync::Notify>,
) {
    tracing::info!("scheduler started");
    loop {
        let now = Utc::now();
        let mut sleep_for = RECHECK;
        match handle.connections().await {
            Ok(connections) => {
                for (connection, runs) in connections {
                    if handle.is_running(&connection.id) {
                        continue;
                    }
                    let due = next_due(&connection, &runs, now);
                    if due <= now {
                        if let Err(error) = handle.start_run(&connection.id) {
                            tracing::warn!(connection = %connection.name, %error, "scheduled sync did not start");
                        }
                    } else if let Ok(wait) = (due - now).to_std() {
                        sleep_for = sleep_for.min(wait);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "scheduler could not read the connections"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = wake.notified() => {}
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
    tracing::info!("scheduler stopped");
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::config::{Cloud, DataSelection, Frequency};

    fn at(text: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn connection(frequency: Frequency) -> Connection {
        Connection {
            id: "c".to_owned(),
            name: "c".to_owned(),
            description: String::new(),
            tenant_id: "t".to_owned(),
            client_id: "x".to_owned(),
            frequency,
            cloud: Cloud::Commercial,
            api_base_url: None,
            login_authority: None,
            proxy_url: None,
            ca_certificate_file: None,
            data: DataSelection::default(),
            demo: false,
            created_at: at("2026-11-01T00:00:00Z"),
        }
    }

    fn run(started: &str, status: RunStatus) -> RunRecord {
        RunRecord {
            id: 1,
            connection_id: "c".to_owned(),
            mode: "incremental".to_owned(),
            trigger: "schedule".to_owned(),
            started_at: at(started),
            finished_at: Some(at(started) + chrono::Duration::seconds(30)),
            status,
            error_code: None,
            error: None,
            api_calls: Default::default(),
            throttled_ms: 0,
            changes: Default::default(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn never_synced_is_due_now_and_intervals_count_from_the_last_start() {
        let now = at("2026-11-28T12:00:00Z");
        let hourly = connection(Frequency::Interval { minutes: 60 });
        assert_eq!(next_due(&hourly, &[], now), now);
        assert_eq!(
            next_due(
                &hourly,
                &[run("2026-11-28T11:30:00Z", RunStatus::Succeeded)],
                now
            ),
            at("2026-11-28T12:30:00Z")
        );
        // Overdue (the app was closed): due in the past, so it runs at once.
        assert!(
            next_due(
                &hourly,
                &[run("2026-11-27T08:00:00Z", RunStatus::Succeeded)],
                now
            ) < now
        );
    }

    #[test]
    fn cron_schedules_and_failures_back_off_but_never_past_the_schedule() {
        let now = at("2026-11-28T12:10:00Z");
        let cron = connection(Frequency::Cron {
            expression: "0 */4 * * *".to_owned(),
        });
        assert_eq!(
            next_due(
                &cron,
                &[run("2026-11-28T12:00:00Z", RunStatus::Succeeded)],
                now
            ),
            at("2026-11-28T16:00:00Z")
        );
        let one_failure = [run("2026-11-28T12:00:00Z", RunStatus::Failed)];
        assert_eq!(
            next_due(&cron, &one_failure, now),
            at("2026-11-28T12:02:30Z")
        );
        let three = [
            run("2026-11-28T12:00:00Z", RunStatus::Failed),
            run("2026-11-28T11:50:00Z", RunStatus::Failed),
            run("2026-11-28T11:40:00Z", RunStatus::Failed),
        ];
        assert_eq!(next_due(&cron, &three, now), at("2026-11-28T12:08:30Z"));
        let many: Vec<RunRecord> = (0..12)
            .map(|_| run("2026-11-28T12:00:00Z", RunStatus::Failed))
            .collect();
        assert_eq!(
            next_due(&cron, &many, now),
            at("2026-11-28T13:00:30Z"),
            "capped at an hour"
        );
        let fifteen = connection(Frequency::Interval { minutes: 15 });
        assert_eq!(
            next_due(&fifteen, &many, now),
            at("2026-11-28T12:15:00Z"),
            "the schedule comes first"
        );
    }
}
