use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;

fn at(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// An attempt that failed at `at` for want of its secret.
fn failure(at: Timestamp) -> AttemptFailure {
    AttemptFailure {
        code: "keyring".to_owned(),
        message: "no secret is stored for the connection".to_owned(),
        at,
    }
}

/// A wait of `failures` minutes, so each step is told apart.
fn minutes(failures: u32) -> Duration {
    Duration::from_secs(60 * u64::from(failures))
}

#[test]
fn failures_count_up_and_each_sets_the_not_before_from_its_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path());
    assert_eq!(read(&data_dir, "c").unwrap(), SharedBackoff::default());

    let seen = read(&data_dir, "c").unwrap();
    let first = record_failure(
        &data_dir,
        "c",
        &seen,
        at("2026-11-28T12:00:00Z"),
        failure(at("2026-11-28T12:00:00Z")),
        minutes,
    )
    .unwrap()
    .unwrap();
    assert_eq!(first.failures, 1);
    assert_eq!(first.not_before, Some(at("2026-11-28T12:01:00Z")));
    assert_eq!(
        first.last_failure,
        Some(failure(at("2026-11-28T12:00:00Z"))),
        "why it failed is kept for every process to show"
    );

    // Another process reads it, attempts and fails too.
    let seen = read(&data_dir, "c").unwrap();
    assert_eq!(seen, first, "what one process writes, another reads");
    let second = record_failure(
        &data_dir,
        "c",
        &seen,
        at("2026-11-28T12:01:00Z"),
        failure(at("2026-11-28T12:01:00Z")),
        minutes,
    )
    .unwrap()
    .unwrap();
    assert_eq!(second.failures, 2);
    assert_eq!(second.not_before, Some(at("2026-11-28T12:03:00Z")));
    assert_eq!(read(&data_dir, "c").unwrap(), second);
    assert_eq!(
        read(&data_dir, "other").unwrap(),
        SharedBackoff::default(),
        "per connection"
    );
}

#[test]
fn an_edit_resets_it_and_outweighs_an_attempt_begun_before_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path());
    let now = at("2026-11-28T12:00:00Z");
    let seen = read(&data_dir, "c").unwrap();
    record_failure(&data_dir, "c", &seen, now, failure(now), minutes).unwrap();

    // An attempt reads the record under the run lock; the user edits the connection while
    // it runs with the old settings; then it fails.
    let before_edit = read(&data_dir, "c").unwrap();
    reset_for_edit(&data_dir, "c").unwrap();
    let reset = read(&data_dir, "c").unwrap();
    assert_eq!((reset.failures, reset.not_before), (0, None));
    assert_eq!(
        record_failure(&data_dir, "c", &before_edit, now, failure(now), minutes).unwrap(),
        None,
        "the failure with the old settings counts for nothing"
    );
    assert_eq!(read(&data_dir, "c").unwrap(), reset, "the reset stands");

    // An attempt begun after the edit counts from the start again.
    let after_edit = read(&data_dir, "c").unwrap();
    let next = record_failure(&data_dir, "c", &after_edit, now, failure(now), minutes)
        .unwrap()
        .unwrap();
    assert_eq!(next.failures, 1);
}

#[test]
fn a_recorded_run_ends_it_and_a_run_with_nothing_to_end_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path());
    record_run(&data_dir, "c").unwrap();
    assert!(
        !data_dir.shared_backoff_file("c").exists(),
        "no file for a connection that never backed off"
    );

    reset_for_edit(&data_dir, "c").unwrap();
    let seen = read(&data_dir, "c").unwrap();
    record_failure(
        &data_dir,
        "c",
        &seen,
        at("2026-11-28T12:00:00Z"),
        failure(at("2026-11-28T12:00:00Z")),
        minutes,
    )
    .unwrap();
    record_run(&data_dir, "c").unwrap();
    let ended = read(&data_dir, "c").unwrap();
    assert_eq!((ended.failures, ended.not_before), (0, None));
    assert_eq!(ended.last_failure, None, "a recorded run speaks for itself");
    assert_eq!(ended.resets, 1, "the edits are still counted");

    forget(&data_dir, "c").unwrap();
    assert!(!data_dir.shared_backoff_file("c").exists());
    forget(&data_dir, "c").expect("forgetting twice is no error");
}

#[test]
fn a_damaged_record_reads_as_an_error_and_the_next_failure_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path());
    let path = data_dir.shared_backoff_file("c");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{\"failures\": 3, \"notBef").unwrap();
    let error = read(&data_dir, "c").unwrap_err().to_string();
    assert!(error.contains("could not be read"), "{error}");

    let written = record_failure(
        &data_dir,
        "c",
        &SharedBackoff::default(),
        at("2026-11-28T12:00:00Z"),
        failure(at("2026-11-28T12:00:00Z")),
        minutes,
    )
    .unwrap()
    .unwrap();
    assert_eq!(written.failures, 1, "counted from nothing");
    assert_eq!(read(&data_dir, "c").unwrap(), written);
    let temporaries: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        temporaries.is_empty(),
        "the temporary file was renamed into place: {temporaries:?}"
    );
}

#[test]
fn a_record_that_cannot_be_written_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = DataDir::new(dir.path());
    // A directory where the record belongs: it can be neither read nor replaced.
    std::fs::create_dir_all(data_dir.shared_backoff_file("c")).unwrap();
    assert!(read(&data_dir, "c").is_err());
    let error = record_failure(
        &data_dir,
        "c",
        &SharedBackoff::default(),
        at("2026-11-28T12:00:00Z"),
        failure(at("2026-11-28T12:00:00Z")),
        minutes,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("could not be replaced"), "{error}");
}
