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
        certificate: None,
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

/// The loop against a fake core, on tokio's paused clock: time moves only when every task
/// waits, so hours of backoff pass in an instant and every wait is exact.
mod backoff {
    use std::{
        collections::VecDeque,
        sync::{
            Arc, Mutex,
            atomic::{AtomicBool, AtomicU64, Ordering},
        },
    };

    use tokio::sync::watch;

    use super::{super::run as scheduler_loop, *};

    /// What the fake does with the next attempt.
    #[derive(Debug, Clone, Copy)]
    enum Attempt {
        /// `start_run` fails at once (registering failed): `ended` is dropped untold.
        FailAtOnce,
        /// The run starts, then fails before recording (keyring locked, secret missing): told
        /// from its task, then the scheduler is woken, as the core does.
        FailInTask,
        /// A run is recorded as succeeded, started this long before now.
        Succeed { started_ago: chrono::Duration },
        /// Under the run lock, another process is found to have just attempted: it moved the
        /// shared not-before this far on, and nothing is attempted here.
        Skip { shared_for: Duration },
        /// As `FailInTask`, but the connections are edited while the attempt is going.
        FailInTaskEditedMeanwhile,
    }

    struct Fake {
        connection: Connection,
        runs: Mutex<Vec<RunRecord>>,
        running: AtomicBool,
        /// Runs ended so far, as the registry counts them.
        ended: AtomicU64,
        /// The running run ends while the next read of the runs is under way.
        end_during_read: AtomicBool,
        elsewhere: AtomicBool,
        edits: AtomicU64,
        /// The not-before the processes share, on tokio's clock.
        shared: Mutex<Option<Instant>>,
        /// Attempts to come; `then` once they are used up.
        next: Mutex<VecDeque<Attempt>>,
        then: Attempt,
        attempts: watch::Sender<Vec<Instant>>,
        skips: watch::Sender<Vec<Instant>>,
        passes: watch::Sender<Vec<Instant>>,
        wake: Arc<Notify>,
    }

    #[derive(Clone)]
    struct Handle(Arc<Fake>);

    impl ScheduleHandle for Handle {
        type Error = String;

        async fn connections(&self) -> Result<Vec<(Connection, Vec<RunRecord>)>, String> {
            self.0
                .passes
                .send_modify(|passes| passes.push(Instant::now()));
            let mut stored = self.0.runs.lock().unwrap();
            let runs = stored.clone();
            if self.0.end_during_read.swap(false, Ordering::SeqCst) {
                // Recorded, then unregistered, after the read took the records.
                stored[0].status = RunStatus::Succeeded;
                self.0.running.store(false, Ordering::SeqCst);
                self.0.ended.fetch_add(1, Ordering::SeqCst);
            }
            Ok(vec![(self.0.connection.clone(), runs)])
        }

        fn is_running(&self, _: &str) -> bool {
            self.0.running.load(Ordering::SeqCst)
        }

        fn runs_ended(&self) -> u64 {
            self.0.ended.load(Ordering::SeqCst)
        }

        fn running_elsewhere(&self, _: &str) -> bool {
            self.0.elsewhere.load(Ordering::SeqCst)
        }

        fn edits(&self) -> u64 {
            self.0.edits.load(Ordering::SeqCst)
        }

        fn shared_backoff(&self, _: &str) -> Option<Duration> {
            let at = (*self.0.shared.lock().unwrap())?;
            let now = Instant::now();
            (at > now).then(|| at - now)
        }

        fn start_run(&self, _: &str, ended: AttemptEnd) -> Result<(), String> {
            let fake = self.0.clone();
            let attempt = fake.next.lock().unwrap().pop_front().unwrap_or(fake.then);
            if let Attempt::Skip { shared_for } = attempt {
                *fake.shared.lock().unwrap() = Some(Instant::now() + shared_for);
                fake.skips.send_modify(|at| at.push(Instant::now()));
                ended.tell(AttemptOutcome::Skipped);
                return Ok(());
            }
            fake.attempts.send_modify(|at| at.push(Instant::now()));
            match attempt {
                Attempt::Skip { .. } => unreachable!("handled above"),
                Attempt::FailAtOnce => {
                    fake.wake.notify_one();
                    Err("the keyring is locked".to_owned())
                }
                Attempt::FailInTask | Attempt::FailInTaskEditedMeanwhile => {
                    fake.running.store(true, Ordering::SeqCst);
                    tokio::spawn(async move {
                        tokio::task::yield_now().await;
                        if matches!(attempt, Attempt::FailInTaskEditedMeanwhile) {
                            fake.edits.fetch_add(1, Ordering::SeqCst);
                            fake.wake.notify_one();
                            tokio::task::yield_now().await;
                        }
                        ended.tell(AttemptOutcome::NotRecorded);
                        fake.running.store(false, Ordering::SeqCst);
                        fake.ended.fetch_add(1, Ordering::SeqCst);
                        fake.wake.notify_one();
                    });
                    Ok(())
                }
                Attempt::Succeed { started_ago } => {
                    let mut runs = fake.runs.lock().unwrap();
                    let started = Utc::now() - started_ago;
                    let id = i64::try_from(runs.len()).unwrap() + 1;
                    runs.insert(
                        0,
                        RunRecord {
                            id,
                            started_at: started,
                            finished_at: Some(started),
                            ..super::run("2026-11-28T12:00:00Z", RunStatus::Succeeded)
                        },
                    );
                    drop(runs);
                    ended.tell(AttemptOutcome::Recorded);
                    fake.wake.notify_one();
                    Ok(())
                }
            }
        }
    }

    /// Starts the loop over a fake whose attempts go as `next`, then as `then`.
    fn start(next: &[Attempt], then: Attempt) -> (Arc<Fake>, CancellationToken) {
        let fake = Arc::new(Fake {
            connection: connection(Frequency::Interval { minutes: 60 }),
            runs: Mutex::new(Vec::new()),
            running: AtomicBool::new(false),
            ended: AtomicU64::new(0),
            end_during_read: AtomicBool::new(false),
            elsewhere: AtomicBool::new(false),
            edits: AtomicU64::new(0),
            shared: Mutex::new(None),
            next: Mutex::new(next.iter().copied().collect()),
            then,
            attempts: watch::Sender::new(Vec::new()),
            skips: watch::Sender::new(Vec::new()),
            passes: watch::Sender::new(Vec::new()),
            wake: Arc::new(Notify::new()),
        });
        let stop = CancellationToken::new();
        tokio::spawn(scheduler_loop(
            Handle(fake.clone()),
            stop.clone(),
            fake.wake.clone(),
        ));
        (fake, stop)
    }

    /// The attempts' times once there are `n` (the clock moves on while this waits).
    async fn attempts(fake: &Fake, n: usize) -> Vec<Instant> {
        fake.attempts
            .subscribe()
            .wait_for(|at| at.len() >= n)
            .await
            .unwrap()
            .clone()
    }

    async fn passes(fake: &Fake, n: usize) -> Vec<Instant> {
        fake.passes
            .subscribe()
            .wait_for(|at| at.len() >= n)
            .await
            .unwrap()
            .clone()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    /// The wait before the `step`-th retry (1-based) before jitter: 2 min doubling, capped.
    fn base(step: u32) -> Duration {
        (ATTEMPT_RETRY_FIRST * 2u32.pow(step - 1).min(1 << 10)).min(ATTEMPT_RETRY_BASE_MAX)
    }

    fn gaps(times: &[Instant]) -> Vec<Duration> {
        times.windows(2).map(|pair| pair[1] - pair[0]).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_sync_now_that_ends_while_the_runs_are_read_is_not_run_again() {
        // Sync now is running (its record says so) and ends while a pass reads the records:
        // the pass holds a `running` record, which counts as no run, and sees it idle.
        let (fake, stop) = start(
            &[],
            Attempt::Succeed {
                started_ago: chrono::Duration::zero(),
            },
        );
        *fake.runs.lock().unwrap() = vec![RunRecord {
            started_at: Utc::now(),
            finished_at: None,
            ..run("2026-11-28T12:00:00Z", RunStatus::Running)
        }];
        fake.running.store(true, Ordering::SeqCst);
        fake.end_during_read.store(true, Ordering::SeqCst);
        // The pass that saw it end reads again at once, and the next at the recheck.
        passes(&fake, 3).await;
        assert!(
            fake.attempts.borrow().is_empty(),
            "a run that just succeeded was started again"
        );
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_that_record_no_run_back_off_exponentially_up_to_the_cap() {
        let (fake, stop) = start(&[], Attempt::FailAtOnce);
        let times = attempts(&fake, 12).await;
        for (step, gap) in (1..).zip(gaps(&times)) {
            let base = base(step);
            assert!(
                (base..=base * 2).contains(&gap),
                "retry {step} came after {gap:?}, not within {base:?} and twice that"
            );
            assert!(gap <= Duration::from_secs(3600), "retry {step}: {gap:?}");
        }
        let last = gaps(&times)[10];
        assert!(last >= 30 * MINUTE, "capped, not shrinking: {last:?}");
        // Passes: one per recheck and one per woken end, not a loop.
        let elapsed = times[11] - times[0];
        let passes = fake.passes.borrow().len();
        let bound = usize::try_from(elapsed.as_secs() / RECHECK.as_secs()).unwrap() + 2 * 12 + 2;
        assert!(passes <= bound, "{passes} passes in {elapsed:?}");
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_that_fails_before_recording_is_retried_once_per_step_not_at_once() {
        // The secret is missing: each attempt starts, fails in its task and wakes the loop.
        let (fake, stop) = start(&[], Attempt::FailInTask);
        let times = attempts(&fake, 3).await;
        let gaps = gaps(&times);
        assert!((2 * MINUTE..=4 * MINUTE).contains(&gaps[0]), "{gaps:?}");
        assert!((4 * MINUTE..=8 * MINUTE).contains(&gaps[1]), "{gaps:?}");
        // The wake after the first failure made one more pass, which did not start again.
        let passes = fake.passes.borrow().clone();
        let at_first = passes.iter().filter(|at| **at == times[0]).count();
        assert!(at_first <= 3, "{at_first} passes at the first failure");
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_syncing_in_another_process_is_skipped_until_its_lock_is_released() {
        let (fake, stop) = start(
            &[],
            Attempt::Succeed {
                started_ago: chrono::Duration::zero(),
            },
        );
        fake.elsewhere.store(true, Ordering::SeqCst);
        fake.wake.notify_one();
        let seen = passes(&fake, 8).await;
        assert!(
            fake.attempts.borrow().is_empty(),
            "started while another process held the run lock"
        );
        // Looked at once per recheck, not in a loop (the first pass may precede the flag).
        for gap in gaps(&seen[2..]) {
            assert_eq!(gap, RECHECK);
        }
        fake.elsewhere.store(false, Ordering::SeqCst);
        let released = Instant::now();
        let times = attempts(&fake, 1).await;
        assert!(
            times[0] - released <= RECHECK,
            "retried {:?} after the release",
            times[0] - released
        );
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_or_an_edit_ends_the_backoff() {
        // Five failures (the next wait is 30 to 60 minutes), then a success whose run is two
        // hours old, so the schedule makes the connection due again at once; then failures.
        let overdue = Attempt::Succeed {
            started_ago: chrono::Duration::hours(2),
        };
        let fail = Attempt::FailAtOnce;
        let (fake, stop) = start(&[fail, fail, fail, fail, fail, overdue], fail);
        let times = attempts(&fake, 8).await;
        let gaps = gaps(&times);
        assert!(gaps[4] >= base(5), "the sixth attempt waited: {gaps:?}");
        assert_eq!(
            gaps[5],
            Duration::ZERO,
            "due by the schedule after the success"
        );
        assert!(
            (2 * MINUTE..=4 * MINUTE).contains(&gaps[6]),
            "the backoff starts over after a success: {gaps:?}"
        );

        // Three more failures, five since the success (the next wait is 30 to 60 minutes),
        // then the connection is edited: it is tried again at once.
        let times = attempts(&fake, 11).await;
        let edited = Instant::now();
        assert!(
            edited - times[10] < base(5),
            "the edit comes before the retry"
        );
        fake.edits.fetch_add(1, Ordering::SeqCst);
        fake.wake.notify_one();
        let times = attempts(&fake, 12).await;
        assert_eq!(times[11], edited, "tried again at once after the edit");
        let after_edit = attempts(&fake, 13).await;
        assert!(
            (2 * MINUTE..=4 * MINUTE).contains(&(after_edit[12] - after_edit[11])),
            "the backoff starts over after an edit"
        );
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_waits_for_the_later_of_its_own_backoff_and_the_shared_one() {
        let (fake, stop) = start(&[], Attempt::FailAtOnce);
        let first = attempts(&fake, 1).await[0];
        // Another process attempted meanwhile: every process waits twenty minutes, longer
        // than this one's own first step (two to four).
        *fake.shared.lock().unwrap() = Some(first + 20 * MINUTE);
        fake.wake.notify_one();
        let second = attempts(&fake, 2).await[1];
        assert_eq!(
            second - first,
            20 * MINUTE,
            "held back by the shared backoff"
        );
        // A shared not-before that comes before this process's own step (four to eight
        // minutes) holds nothing back.
        *fake.shared.lock().unwrap() = Some(second + MINUTE);
        let third = attempts(&fake, 3).await[2];
        assert!(
            (4 * MINUTE..=8 * MINUTE).contains(&(third - second)),
            "its own step: {:?}",
            third - second
        );
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_skipped_attempt_is_no_backoff_step_and_the_shared_not_before_decides() {
        // Found due, but another process attempted under the lock first and moved the shared
        // not-before a minute on; this process's own backoff, had the skip counted, would hold
        // it two to four.
        let (fake, stop) = start(&[Attempt::Skip { shared_for: MINUTE }], Attempt::FailAtOnce);
        let skipped = fake
            .skips
            .subscribe()
            .wait_for(|at| !at.is_empty())
            .await
            .unwrap()[0];
        let times = attempts(&fake, 2).await;
        assert_eq!(times[0] - skipped, MINUTE, "tried at the shared not-before");
        assert!(
            (2 * MINUTE..=4 * MINUTE).contains(&(times[1] - times[0])),
            "the first step after the first failure: {:?}",
            times[1] - times[0]
        );
        stop.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn an_edit_during_a_failing_attempt_leaves_no_backoff_behind() {
        // Three failures (the next wait is 8 to 16 minutes), then one during which the
        // connection is edited: the edit may be the fix, so the next attempt comes at once.
        let fail = Attempt::FailInTask;
        let (fake, stop) = start(
            &[fail, fail, fail, Attempt::FailInTaskEditedMeanwhile],
            fail,
        );
        let times = attempts(&fake, 6).await;
        let gaps = gaps(&times);
        assert!(gaps[2] >= base(3), "backing off before the edit: {gaps:?}");
        assert_eq!(gaps[3], Duration::ZERO, "tried again at once: {gaps:?}");
        assert!(
            (2 * MINUTE..=4 * MINUTE).contains(&gaps[4]),
            "the backoff starts over: {gaps:?}"
        );
        stop.cancel();
    }
}

#[test]
fn a_run_recorded_in_the_future_does_not_hold_scheduling_back() {
    // The last run was recorded two days ahead; the clock has jumped back since.
    let now = at("2026-11-28T12:00:00Z");
    let hourly = connection(Frequency::Interval { minutes: 60 });
    assert_eq!(
        next_due(
            &hourly,
            &[run("2026-11-30T12:00:00Z", RunStatus::Succeeded)],
            now
        ),
        at("2026-11-28T13:00:00Z"),
        "due an hour from now, not two days from now"
    );
    let failed = next_due(
        &hourly,
        &[run("2026-11-30T12:00:00Z", RunStatus::Failed)],
        now,
    );
    assert!(
        failed <= at("2026-11-28T12:05:00Z"),
        "a failure is retried soon: {failed}"
    );
}
