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
        .add_connection(&ConnectionDraft {
            name: "Panics".to_owned(),
            description: String::new(),
            tenant_id: sim.tenant_id(),
            client_id: sim.client_id(),
            client_secret: Some(sim.client_secret()),
            frequency: Frequency::Interval { minutes: 60 },
            cloud: Default::default(),
            api_base_url: Some(sim.api_base()),
            login_authority: Some(sim.authority()),
            proxy_url: None,
            ca_certificate_file: None,
            data: DataSelection::default(),
        })
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
