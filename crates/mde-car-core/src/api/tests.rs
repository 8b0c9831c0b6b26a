use chrono::Utc;

use super::{ConnectionStatus, group_digits, run_status_line};
use crate::store::{RunRecord, RunStatus};

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
