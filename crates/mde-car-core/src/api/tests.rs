use chrono::Utc;

use super::{ConnectionStatus, Core, group_digits, run_status_line};
use crate::{
    config::{ConnectionDraft, DataSelection, Frequency},
    events::SyncEvent,
    mde::{Budgets, ClientOptions, Endpoint},
    paths::DataDir,
    store::{RunRecord, RunStatus},
    sync::Trigger,
};

/// A connection to the simulated tenant, as the form would add it.
fn sim_draft(sim: &mde_sim::Sim, name: &str) -> ConnectionDraft {
    ConnectionDraft {
        name: name.to_owned(),
        description: String::new(),
        tenant_id: sim.tenant_id(),
        client_id: sim.client_id(),
        client_secret: Some(sim.client_secret()),
        credential: Default::default(),
        certificate: None,
        private_key: None,
        frequency: Frequency::Interval { minutes: 60 },
        cloud: Default::default(),
        api_base_url: Some(sim.api_base()),
        login_authority: Some(sim.authority()),
        proxy_url: None,
        ca_certificate_file: None,
        data: DataSelection::default(),
    }
}

fn run(status: RunStatus) -> RunRecord {
    RunRecord {
        id: 1,
        connection_id: "c1".to_owned(),
        mode: "full".to_owned(),
        trigger: "manual".to_owned(),
        started_at: Utc::now(),
        finished_at: Some(Utc::now()),
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
fn counts_are_grouped_by_thousands() {
    for (n, text) in [
        (0, "0"),
        (7, "7"),
        (999, "999"),
        (1_000, "1,000"),
        (12_402, "12,402"),
        (1_234_567, "1,234,567"),
    ] {
        assert_eq!(group_digits(n), text);
    }
}

#[test]
fn a_card_line_counts_the_notes_it_does_not_repeat() {
    let mut ok = run(RunStatus::Succeeded);
    assert_eq!(
        run_status_line(&ok, 12_402),
        (
            ConnectionStatus::Connected,
            "Synced 12,402 devices".to_owned()
        )
    );
    assert_eq!(run_status_line(&ok, 1).1, "Synced 1 device");
    ok.notes = vec!["alerts skipped: no Alert.Read.All".to_owned()];
    assert_eq!(run_status_line(&ok, 3).1, "Synced 3 devices, with a note");
    ok.notes.push("vulnerabilities skipped".to_owned());
    assert_eq!(run_status_line(&ok, 3).1, "Synced 3 devices, with 2 notes");
}

#[test]
fn a_failed_run_says_what_to_do_next() {
    let mut failed = run(RunStatus::Failed);
    failed.error_code = Some("auth".to_owned());
    failed.error = Some("sign-in failed: the client secret is wrong".to_owned());
    let (status, text) = run_status_line(&failed, 0);
    assert_eq!(status, ConnectionStatus::Error);
    assert_eq!(
        text,
        "Sync failed: sign-in failed: the client secret is wrong — run Test to see what is wrong with the credentials"
    );
    let killed = run(RunStatus::Interrupted);
    assert!(
        run_status_line(&killed, 0)
            .1
            .ends_with("the next sync starts over; nothing was lost"),
    );
}

/// A panic in the client, after the run was recorded: the run ends failed (`internal`) with
/// plain words, `Finished` says so, and the connection syncs again at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_a_run_ends_it_as_failed_and_the_next_run_starts_at_once() {
    let sim = mde_sim::Sim::start(mde_sim::SimConfig {
        devices: 20,
        seed: 5,
        rate_scale: 600.0,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(DataDir::new(dir.path())).unwrap();
    let options = |panic_on| ClientOptions {
        page_size: sim.config().max_page_size.min(10_000),
        budgets: Budgets::default().scaled(600.0),
        panic_on,
        ..Default::default()
    };
    core.set_client_options(options(Some(Endpoint::Machines)));
    let id = core
        .add_connection(&sim_draft(&sim, "Panics"))
        .await
        .unwrap()
        .connection
        .id;

    let mut events = core.subscribe();
    core.start_sync(&id, false, Trigger::Manual).unwrap();
    let finished = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            if let Ok(event @ SyncEvent::Finished { .. }) = events.recv().await {
                return event;
            }
        }
    })
    .await
    .expect("the panicked run was announced as finished");
    let SyncEvent::Finished {
        run_id,
        status,
        summary,
        error_code,
        ..
    } = finished
    else {
        unreachable!()
    };
    assert!(run_id.is_some(), "the run had been recorded");
    assert_eq!(status, RunStatus::Failed);
    assert_eq!(error_code.as_deref(), Some("internal"));
    assert!(
        summary.contains("an internal error stopped the sync"),
        "{summary}"
    );
    assert!(
        !summary.contains("injected"),
        "the panic's words stay in the log: {summary}"
    );
    assert!(!core.is_syncing(&id));
    let runs = core.sync_runs(&id, 5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, run_id.unwrap());
    assert_eq!(runs[0].status, RunStatus::Failed, "not left running");
    assert_eq!(runs[0].error_code.as_deref(), Some("internal"));
    assert!(runs[0].finished_at.is_some());

    // Without the bug, the next run is accepted at once and succeeds.
    core.set_client_options(options(None));
    let outcome = core
        .sync_connection(&id, false, Trigger::Manual)
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
    assert!(outcome.full, "the failed run moved no watermark");
}

/// The desktop app and `mde-car daemon` on one data folder, as two `Core`s over the same files
/// (settings, database, keyring entries, lock and backoff files), each with its scheduler. The
/// connection's secret is missing from the keyring, so every attempt fails before a run is
/// recorded.
mod app_and_daemon {
    use std::{sync::Arc, time::Duration};

    use tokio::{sync::watch, time::Instant};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::{
        scheduler::{AttemptEnd, AttemptOutcome, ScheduleHandle},
        secrets::SecretStore,
        shared_backoff::{self, WallClock},
        sync,
    };

    const MINUTE: Duration = Duration::from_secs(60);

    /// The scheduler's wait before jitter after the `step`-th attempt in a row that recorded no
    /// run: two minutes, doubling, capped at thirty. Jitter adds up to as much again.
    fn base(step: u32) -> Duration {
        (2 * MINUTE * 2u32.pow(step - 1)).min(30 * MINUTE)
    }

    fn draft(description: &str) -> ConnectionDraft {
        ConnectionDraft {
            name: "Locked out".to_owned(),
            description: description.to_owned(),
            tenant_id: "2f6f3b4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c".to_owned(),
            client_id: "7a8b9c0d-1e2f-4a5b-8c9d-0e1f2a3b4c5d".to_owned(),
            client_secret: Some("a-client-secret-value~1".to_owned()),
            credential: Default::default(),
            certificate: None,
            private_key: None,
            frequency: Frequency::Interval { minutes: 60 },
            cloud: Default::default(),
            // Nothing is ever sent (the secret is missing); were it, it would go to a closed
            // port of this machine, never to Microsoft.
            api_base_url: Some("http://127.0.0.1:9".to_owned()),
            login_authority: Some("http://127.0.0.1:9".to_owned()),
            proxy_url: None,
            ca_certificate_file: None,
            data: DataSelection::default(),
        }
    }

    /// One attempt as its process announced it: when, by whom, and how it ended.
    #[derive(Debug, Clone)]
    struct Attempt {
        at: Instant,
        by: &'static str,
        run_id: Option<i64>,
        error_code: Option<String>,
    }

    type Attempts = Arc<watch::Sender<Vec<Attempt>>>;

    /// Notes every end `core` announces into `attempts`, at the instant it is announced (on the
    /// paused clock, the instant the attempt was made).
    fn listen(core: &Core, by: &'static str, attempts: &Attempts, stop: &CancellationToken) {
        let (mut events, attempts, stop) = (core.subscribe(), attempts.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => return,
                    event = events.recv() => event,
                };
                if let Ok(SyncEvent::Finished {
                    run_id, error_code, ..
                }) = event
                {
                    let attempt = Attempt {
                        at: Instant::now(),
                        by,
                        run_id,
                        error_code,
                    };
                    attempts.send_modify(|all| all.push(attempt));
                }
            }
        });
    }

    async fn first(attempts: &Attempts, n: usize) -> Vec<Attempt> {
        attempts
            .subscribe()
            .wait_for(|all| all.len() >= n)
            .await
            .unwrap()
            .clone()
    }

    /// The connection `core` adds, with its secret then taken out of the keyring.
    async fn locked_out(core: &Core) -> String {
        let id = core.add_connection(&draft("")).await.unwrap().connection.id;
        let secret_of = id.clone();
        tokio::task::spawn_blocking(move || SecretStore.delete(&secret_of))
            .await
            .unwrap()
            .unwrap();
        id
    }

    fn gaps(attempts: &[Attempt]) -> Vec<Duration> {
        attempts
            .windows(2)
            .map(|pair| pair[1].at - pair[0].at)
            .collect()
    }

    /// "app at +0 s, daemon at +152 s, …", for failure messages.
    fn timeline(attempts: &[Attempt]) -> String {
        let Some(start) = attempts.first().map(|attempt| attempt.at) else {
            return "no attempts".to_owned();
        };
        attempts
            .iter()
            .map(|attempt| format!("{} at +{} s", attempt.by, (attempt.at - start).as_secs()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Each gap is the wait of its step: within the step's base and twice that.
    fn assert_one_per_step(attempts: &[Attempt]) {
        for (step, gap) in (1..).zip(gaps(attempts)) {
            let base = base(step);
            assert!(
                (base..=base * 2).contains(&gap),
                "after failure {step}, the next attempt came after {gap:?}, not within {base:?} \
                 and twice that: {}",
                timeline(attempts)
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn make_one_attempt_per_connection_per_backoff_step_and_an_edit_starts_it_over() {
        let dir = tempfile::tempdir().unwrap();
        let clock = WallClock::following_tokio();
        let app = Core::open_with_backoff_clock(DataDir::new(dir.path()), clock).unwrap();
        let daemon = Core::open_with_backoff_clock(DataDir::new(dir.path()), clock).unwrap();
        let id = locked_out(&app).await;

        let attempts: Attempts = Arc::new(watch::Sender::new(Vec::new()));
        let stop = CancellationToken::new();
        listen(&app, "app", &attempts, &stop);
        listen(&daemon, "daemon", &attempts, &stop);
        let schedulers = [
            app.start_scheduler(stop.clone()),
            daemon.start_scheduler(stop.clone()),
        ];

        // Both find the connection due at once, and keep finding it due: without the shared
        // backoff each would attempt once per step, two attempts a step.
        let seen = first(&attempts, 6).await;
        for attempt in &seen {
            assert_eq!(attempt.run_id, None, "no run is recorded: {attempt:?}");
            assert_eq!(
                attempt.error_code.as_deref(),
                Some("keyring"),
                "{attempt:?}"
            );
        }
        assert_one_per_step(&seen);
        let shared = shared_backoff::read(&DataDir::new(dir.path()), &id).unwrap();
        assert_eq!(
            shared.failures, 6,
            "every attempt counted once, by whichever made it"
        );
        let last = seen[5].at;
        let held = daemon
            .shared_backoff(&id)
            .expect("held back after six failures");
        assert!(
            (base(6)..=base(6) * 2).contains(&held),
            "the daemon waits the sixth step: {held:?}"
        );
        assert!(
            app.shared_backoff(&id).is_some_and(|wait| wait == held),
            "the app waits for the same time"
        );

        // Well before the next step, the connection is edited in the app (the secret is still
        // missing): it is tried again at once, and the steps start over.
        tokio::time::sleep(MINUTE).await;
        assert_eq!(attempts.borrow().len(), 6, "nothing tried within a minute");
        app.update_connection(
            &id,
            &ConnectionDraft {
                client_secret: None,
                ..draft("edited")
            },
        )
        .await
        .unwrap();
        let edited = Instant::now();
        assert!(
            edited - last < base(6),
            "the edit came before the next step"
        );
        let after = first(&attempts, 8).await;
        assert_eq!(
            after[6].at,
            edited,
            "tried again at once after the edit: {}",
            timeline(&after)
        );
        assert_one_per_step(&after[6..]);
        let shared = shared_backoff::read(&DataDir::new(dir.path()), &id).unwrap();
        assert_eq!(shared.failures, 2, "counted from the edit");

        stop.cancel();
        for scheduler in schedulers {
            scheduler.await.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backoff_that_cannot_be_shared_falls_back_to_the_process_own() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let core =
            Core::open_with_backoff_clock(data_dir.clone(), WallClock::following_tokio()).unwrap();
        let id = locked_out(&core).await;
        // A directory where the shared record belongs: it can be neither read nor written.
        std::fs::create_dir_all(data_dir.shared_backoff_file(&id)).unwrap();
        assert!(shared_backoff::read(&data_dir, &id).is_err());

        let attempts: Attempts = Arc::new(watch::Sender::new(Vec::new()));
        let stop = CancellationToken::new();
        listen(&core, "app", &attempts, &stop);
        let scheduler = core.start_scheduler(stop.clone());
        // Once per step of the process's own backoff, not in a loop.
        let seen = first(&attempts, 5).await;
        assert!(seen.iter().all(|attempt| attempt.run_id.is_none()));
        assert_one_per_step(&seen);
        assert_eq!(core.shared_backoff(&id), None, "nothing shared");
        stop.cancel();
        scheduler.await.unwrap();
    }

    /// What `start_run` decides under the run lock, called as a scheduler's pass would.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_attempt_goes_ahead_only_while_the_run_lock_is_free_and_the_shared_step_is_over() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::new(dir.path());
        let core = Core::open(data_dir.clone()).unwrap();
        let id = locked_out(&core).await;
        let mut events = core.subscribe();

        // Another process attempted since this one's pass read the shared backoff.
        let stepped = shared_backoff::record_failure(
            &data_dir,
            &id,
            &shared_backoff::read(&data_dir, &id).unwrap(),
            Utc::now(),
            shared_backoff::AttemptFailure {
                code: "keyring".to_owned(),
                message: "the keyring is locked".to_owned(),
                at: Utc::now(),
            },
            |_| 3 * MINUTE,
        )
        .unwrap()
        .unwrap();
        let (ended, mut heard) = AttemptEnd::heard_by_test(&id);
        core.start_run(&id, ended).unwrap();
        assert_eq!(
            heard.recv().await.unwrap().outcome(),
            AttemptOutcome::Skipped
        );
        assert!(!core.is_syncing(&id), "nothing was started");

        // Another process holds the run lock.
        let held = sync::lock_run(&data_dir, &id, "elsewhere").unwrap();
        shared_backoff::reset_for_edit(&data_dir, &id).unwrap();
        let (ended, mut heard) = AttemptEnd::heard_by_test(&id);
        core.start_run(&id, ended).unwrap();
        assert_eq!(
            heard.recv().await.unwrap().outcome(),
            AttemptOutcome::Skipped
        );
        assert!(!core.is_syncing(&id), "nothing was started");
        drop(held);

        // Free and due: the attempt is made, fails before a run is recorded, and records the
        // next step before it lets the lock go.
        let (ended, mut heard) = AttemptEnd::heard_by_test(&id);
        core.start_run(&id, ended).unwrap();
        assert_eq!(
            heard.recv().await.unwrap().outcome(),
            AttemptOutcome::NotRecorded
        );
        let shared = shared_backoff::read(&data_dir, &id).unwrap();
        assert_eq!(shared.failures, 1, "counted from the reset");
        assert!(shared.resets > stepped.resets);
        // Why it failed is shown from the shared record, in this process or any other.
        let failure = shared.last_failure.as_ref().unwrap();
        assert_eq!(failure.code, "keyring");
        let view = Core::open(data_dir.clone())
            .unwrap()
            .list_connections()
            .await
            .unwrap()
            .remove(0);
        assert_eq!(view.status, ConnectionStatus::Error);
        assert!(
            view.status_text.starts_with("Sync could not start: ")
                && view
                    .status_text
                    .contains(failure.message.trim_end_matches('.')),
            "{}",
            view.status_text
        );
        let finished = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(SyncEvent::Finished { error_code, .. }) = events.recv().await {
                    return error_code;
                }
            }
        })
        .await
        .expect("the one attempt was announced");
        assert_eq!(
            finished.as_deref(),
            Some("keyring"),
            "the first end announced is the attempt's: the skips announced nothing"
        );
        assert!(
            !sync::running_elsewhere(&data_dir, &id),
            "the run lock was let go"
        );
    }

    /// In real time, against the simulator: the app's scheduler fails once (the secret is
    /// missing) and the daemon sees the shared backoff; the secret comes back (not an edit),
    /// the daemon records a run, and the backoff is over for both.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_recorded_run_ends_the_shared_backoff_for_every_process() {
        let sim = mde_sim::Sim::start(mde_sim::SimConfig {
            devices: 10,
            seed: 8,
            rate_scale: 600.0,
            ..Default::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let app = Core::open(DataDir::new(dir.path())).unwrap();
        let daemon = Core::open(DataDir::new(dir.path())).unwrap();
        let id = app
            .add_connection(&super::sim_draft(&sim, "Locked out"))
            .await
            .unwrap()
            .connection
            .id;
        let secret_of = id.clone();
        tokio::task::spawn_blocking(move || SecretStore.delete(&secret_of))
            .await
            .unwrap()
            .unwrap();

        let mut events = app.subscribe();
        let stop = CancellationToken::new();
        let scheduler = app.start_scheduler(stop.clone());
        let code = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Ok(SyncEvent::Finished { error_code, .. }) = events.recv().await {
                    return error_code;
                }
            }
        })
        .await
        .expect("the scheduled attempt ended");
        stop.cancel();
        scheduler.await.unwrap();
        assert_eq!(code.as_deref(), Some("keyring"));

        let held = daemon
            .shared_backoff(&id)
            .expect("the daemon honours the app's backoff");
        assert!((MINUTE..=4 * MINUTE).contains(&held), "{held:?}");
        let card = daemon.list_connections().await.unwrap().remove(0);
        let next = card.next_sync_at.unwrap();
        assert!(
            next > Utc::now() + chrono::Duration::minutes(1),
            "the card says when the next attempt comes: {next}"
        );

        let secret = secrecy::SecretString::from(sim.client_secret());
        let secret_of = id.clone();
        tokio::task::spawn_blocking(move || SecretStore.set(&secret_of, &secret))
            .await
            .unwrap()
            .unwrap();
        let outcome = daemon
            .sync_connection(&id, false, Trigger::Cli)
            .await
            .unwrap();
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        assert_eq!(app.shared_backoff(&id), None, "over for the app");
        assert_eq!(daemon.shared_backoff(&id), None, "over for the daemon");
        let shared = shared_backoff::read(&DataDir::new(dir.path()), &id).unwrap();
        assert_eq!((shared.failures, shared.not_before), (0, None));
    }
}

/// Settings are checked on every load by the form's rules: a hand edit the form would refuse is
/// shown on the card and in the CLI, never synced, tested or scheduled, and an edit fixes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edited_connection_the_form_refuses_is_shown_never_used_and_fixed_by_an_edit() {
    use crate::scheduler::ScheduleHandle;

    let sim = mde_sim::Sim::start(mde_sim::SimConfig {
        devices: 5,
        seed: 12,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(DataDir::new(dir.path())).unwrap();
    let id = core
        .add_connection(&sim_draft(&sim, "Hand edited"))
        .await
        .unwrap()
        .connection
        .id;
    // Every host is still the simulator's; only the schedule is one the form never accepts.
    let file = DataDir::new(dir.path()).settings_file();
    let mut written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    written["connections"][0]["frequency"] = serde_json::json!({"kind": "interval", "minutes": 0});
    std::fs::write(&file, serde_json::to_vec(&written).unwrap()).unwrap();

    let view = core.list_connections().await.unwrap().remove(0);
    assert_eq!(view.status, ConnectionStatus::Error);
    assert_eq!(
        view.problems.iter().map(|p| p.field).collect::<Vec<_>>(),
        ["frequency"]
    );
    assert!(
        view.status_text.contains("\"frequency\"") && view.status_text.contains("Edit"),
        "{}",
        view.status_text
    );
    assert_eq!(
        view.next_sync_at, None,
        "an invalid connection is never due"
    );
    assert!(
        ScheduleHandle::connections(&core).await.unwrap().is_empty(),
        "the scheduler sees it"
    );
    for refused in [
        core.sync_connection(&id, false, Trigger::Manual)
            .await
            .map(|_| ()),
        core.test_connection(&id).await.map(|_| ()),
    ] {
        let error = refused.unwrap_err();
        assert_eq!(error.code(), crate::ErrorCode::Validation);
        let message = error.to_string();
        assert!(
            message.contains(&file.display().to_string())
                && message.contains("'Hand edited'")
                && message.contains("\"frequency\""),
            "{message}"
        );
        assert_eq!(error.fields().len(), 1);
    }
    assert_eq!(
        sim.requests().all().len(),
        0,
        "a request reached the tenant"
    );
    assert!(core.sync_runs(&id, 5).await.unwrap().is_empty());

    // The form's Save with a valid schedule fixes it.
    let fixed = ConnectionDraft {
        client_secret: None,
        ..sim_draft(&sim, "Hand edited")
    };
    let view = core.update_connection(&id, &fixed).await.unwrap();
    assert!(view.problems.is_empty());
    core.sync_connection(&id, false, Trigger::Manual)
        .await
        .unwrap();
}
