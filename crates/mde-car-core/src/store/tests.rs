use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::*;
use crate::model::{
    Device, DeviceAddress, DeviceVulnerability, LogonObservation, MacAddress, NetworkObservation,
    ObservedAddress, VulnerabilityChange, VulnerabilityChangeKind,
};

fn at(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn device(id: &str, ips: &[(&str, Option<&str>)]) -> Device {
    Device {
        id: id.to_owned(),
        computer_dns_name: Some(format!("{id}.contoso.com")),
        first_seen: Some(at("2026-11-01T00:00:00Z")),
        last_seen: Some(at("2026-11-27T10:00:00.1234567Z")),
        os_platform: Some("Windows11".to_owned()),
        os_version: None,
        os_build: Some(22631),
        version: Some("23H2".to_owned()),
        os_architecture: Some("64-bit".to_owned()),
        health_status: Some("Active".to_owned()),
        onboarding_status: Some("Onboarded".to_owned()),
        risk_score: Some("Medium".to_owned()),
        exposure_level: Some("Low".to_owned()),
        device_value: Some("Normal".to_owned()),
        machine_tags: vec!["finance".to_owned()],
        rbac_group_id: Some(7),
        rbac_group_name: Some("Finance".to_owned()),
        aad_device_id: None,
        is_aad_joined: Some(true),
        last_ip_address: None,
        last_external_ip_address: Some("52.1.2.3".parse().unwrap()),
        merged_into_machine_id: None,
        is_potential_duplication: false,
        addresses: ips
            .iter()
            .map(|(ip, mac)| DeviceAddress {
                ip: ip.parse().unwrap(),
                mac: mac.map(|m| m.parse::<MacAddress>().unwrap()),
                interface_type: Some("Ethernet".to_owned()),
                operational_status: Some("Up".to_owned()),
            })
            .collect(),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
    Fixture { _dir: dir, store }
}

impl Fixture {
    fn run(&self, now: &str, fill: impl FnOnce(&mut SyncBatch)) -> Changes {
        let now = at(now);
        let run_id = self.store.begin_run("c1", "full", "test", now).unwrap();
        let mut batch = SyncBatch {
            connection_id: "c1".to_owned(),
            run_id,
            now,
            ..SyncBatch::default()
        };
        fill(&mut batch);
        self.store
            .apply_sync(&batch, &RunFinish::default())
            .unwrap()
    }

    fn scalar(&self, sql: &str) -> i64 {
        self.store
            .with(|db| db.query_row(sql, [], |row| row.get(0)))
            .unwrap()
    }
}

fn full(devices: Vec<Device>) -> Option<DeviceBatch> {
    Some(DeviceBatch {
        devices,
        complete_full_listing: true,
    })
}

#[test]
fn devices_and_their_links_are_added_then_counted_as_unchanged() {
    let f = fixture();
    let listing = || {
        vec![
            device(
                "a",
                &[("10.0.0.5", Some("00155DAA0001")), ("127.0.0.1", None)],
            ),
            device("b", &[("10.0.0.6", Some("00155DAA0002"))]),
        ]
    };
    let first = f.run("2026-11-28T00:00:00Z", |b| b.devices = full(listing()));
    assert_eq!(
        first["assets"],
        ChangeCount {
            added: 2,
            updated: 0,
            deactivated: 0
        }
    );
    assert_eq!(
        first["ip_addresses"].added, 5,
        "2 + 1 local addresses and 2 external (shared) links"
    );
    assert_eq!(first["mac_addresses"].added, 2);
    assert_eq!(first["hostnames"].added, 2);
    let second = f.run("2026-11-28T01:00:00Z", |b| b.devices = full(listing()));
    assert_eq!(second["assets"], ChangeCount::default());
    assert_eq!(second["ip_addresses"], ChangeCount::default());
    assert_eq!(
        f.scalar("SELECT count(*) FROM ip_addresses"),
        4,
        "52.1.2.3 is one vertex shared by both"
    );
    assert_eq!(
        f.scalar("SELECT class = 'loopback' FROM ip_addresses WHERE text = '127.0.0.1'"),
        1
    );
    assert_eq!(
        f.scalar("SELECT defender_last_seen FROM assets WHERE device_id = 'a'"),
        at("2026-11-27T10:00:00.123Z").timestamp_millis(),
        "ms precision"
    );
}

#[test]
fn a_vanished_device_is_deactivated_only_by_a_complete_full_listing() {
    let f = fixture();
    f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![device("a", &[]), device("b", &[])])
    });
    let partial = f.run("2026-11-28T01:00:00Z", |b| {
        b.devices = Some(DeviceBatch {
            devices: vec![device("a", &[])],
            complete_full_listing: false,
        })
    });
    assert_eq!(partial["assets"].deactivated, 0);
    assert_eq!(
        f.scalar("SELECT active FROM assets WHERE device_id = 'b'"),
        1
    );
    let complete = f.run("2026-11-28T02:00:00Z", |b| {
        b.devices = full(vec![device("a", &[])])
    });
    assert_eq!(complete["assets"].deactivated, 1);
    assert_eq!(
        f.scalar(
            "SELECT active = 0 AND inactive_reason = 'vanished' FROM assets WHERE device_id = 'b'"
        ),
        1
    );
    // It comes back when listed again.
    f.run("2026-11-28T03:00:00Z", |b| {
        b.devices = full(vec![device("a", &[]), device("b", &[])])
    });
    assert_eq!(
        f.scalar("SELECT active FROM assets WHERE device_id = 'b'"),
        1
    );
}

#[test]
fn an_address_missing_from_the_latest_record_becomes_history() {
    let f = fixture();
    f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![device("a", &[("10.0.0.5", Some("00155DAA0001"))])])
    });
    let moved = f.run("2026-11-28T01:00:00Z", |b| {
        b.devices = full(vec![device("a", &[("10.0.0.9", Some("00155DAA0001"))])])
    });
    assert_eq!(
        moved["ip_addresses"],
        ChangeCount {
            added: 1,
            updated: 0,
            deactivated: 1
        }
    );
    assert_eq!(
        f.scalar("SELECT active FROM asset_ip_addresses JOIN ip_addresses ON ip_addresses.id = ip_id WHERE text = '10.0.0.5'"),
        0
    );
    assert_eq!(
        f.scalar("SELECT count(*) FROM asset_ip_addresses"),
        3,
        "the old link stays as history"
    );
}

#[test]
fn inactive_devices_unseen_for_15_days_are_deactivated() {
    let f = fixture();
    let mut stale = device("old", &[]);
    stale.health_status = Some("Inactive".to_owned());
    stale.last_seen = Some(at("2026-11-10T00:00:00Z"));
    let mut recent = device("recent", &[]);
    recent.health_status = Some("Inactive".to_owned());
    recent.last_seen = Some(at("2026-11-20T00:00:00Z"));
    let changes = f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![stale, recent])
    });
    assert_eq!(changes["assets"].deactivated, 1);
    assert_eq!(
        f.scalar("SELECT inactive_reason = 'inactive_15_days' FROM assets WHERE device_id = 'old'"),
        1
    );
    assert_eq!(
        f.scalar("SELECT active FROM assets WHERE device_id = 'recent'"),
        1
    );
}

fn report(device_id: &str, time: &str, ips: &[&str]) -> NetworkObservation {
    NetworkObservation {
        timestamp: at(time),
        device_id: device_id.into(),
        adapter_name: Some("Ethernet".into()),
        mac: Some(
            format!("00155DAA00{}", if device_id == "a" { "01" } else { "02" })
                .parse()
                .unwrap(),
        ),
        addresses: ips
            .iter()
            .map(|ip| ObservedAddress {
                ip: ip.parse::<IpAddr>().unwrap(),
                prefix: Some(24),
            })
            .collect(),
    }
}

#[test]
fn leases_record_who_held_an_address_when_across_dhcp_churn() {
    let f = fixture();
    let reports = vec![
        report("a", "2026-11-20T08:00:00Z", &["10.1.2.3"]),
        report("a", "2026-11-21T08:00:00Z", &["10.1.2.3"]),
        report("a", "2026-11-22T08:00:00Z", &["10.1.2.9"]),
        report("b", "2026-11-23T08:00:00Z", &["10.1.2.3"]),
    ];
    f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![device("a", &[]), device("b", &[])]);
        b.network = Some(reports.clone());
    });
    let holder = |time: &str| -> String {
        let t = at(time).timestamp_millis();
        f.store
            .with(|db| {
                db.query_row(
                    "SELECT group_concat(device_id) FROM ip_leases JOIN assets ON assets.id = asset_id
                     JOIN ip_addresses ON ip_addresses.id = ip_id
                     WHERE text = '10.1.2.3' AND since <= ?1 AND (until IS NULL OR until > ?1)",
                    [t],
                    |row| row.get::<_, Option<String>>(0),
                )
            })
            .unwrap()
            .unwrap_or_default()
    };
    assert_eq!(holder("2026-11-20T12:00:00Z"), "a");
    assert_eq!(
        holder("2026-11-22T12:00:00Z"),
        "",
        "a released it, b did not have it yet"
    );
    assert_eq!(holder("2026-11-24T12:00:00Z"), "b");
    assert_eq!(holder("2026-11-19T12:00:00Z"), "");
    // The overlap window of the next run brings the same reports again: nothing changes.
    let again = f.run("2026-11-28T01:00:00Z", |b| b.network = Some(reports));
    assert_eq!(
        again.get("ip_leases").copied().unwrap_or_default(),
        ChangeCount::default()
    );
}

#[test]
fn local_accounts_of_two_machines_stay_two_accounts() {
    let f = fixture();
    let logon = |device_id: &str, domain: Option<&str>, sid: Option<&str>| LogonObservation {
        timestamp: at("2026-11-27T09:00:00Z"),
        device_id: device_id.to_owned(),
        account_domain: domain.map(str::to_owned),
        account_name: "administrator".to_owned(),
        account_sid: sid.map(str::to_owned),
        logon_type: Some("Interactive".to_owned()),
        is_local_admin: Some(true),
    };
    f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![device("a", &[]), device("b", &[])]);
        b.logons = Some(vec![
            logon("a", Some("HOST-A"), None),
            logon("b", Some("HOST-B"), None),
            logon("a", Some("CONTOSO"), Some("S-1-5-21-1-500")),
        ]);
    });
    assert_eq!(f.scalar("SELECT count(*) FROM accounts"), 3);
    assert_eq!(
        f.scalar("SELECT count(*) FROM accounts WHERE key = 'sid:S-1-5-21-1-500'"),
        1
    );
    assert_eq!(
        account_key(None, "Admin", None, "dev1"),
        "local:dev1\\admin"
    );
}

#[test]
fn vulnerabilities_follow_the_full_export_and_the_delta() {
    let f = fixture();
    let row = |device_id: &str, cve: &str| DeviceVulnerability {
        device_id: device_id.into(),
        cve_id: cve.into(),
        cvss_score: Some(7.8),
        severity: Some("High".into()),
        software_vendor: "microsoft".into(),
        software_name: "edge".into(),
        software_version: "120.0".into(),
        first_seen: None,
        last_seen: None,
    };
    let first = f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![device("a", &[]), device("b", &[])]);
        b.vulnerabilities = Some(VulnerabilityBatch::Full(vec![
            row("a", "CVE-2026-1"),
            row("b", "CVE-2026-1"),
            row("a", "CVE-2026-2"),
        ]));
    });
    assert_eq!(first["vulnerabilities"].added, 3);
    assert_eq!(
        f.scalar(
            "SELECT CAST(round(cvss * 10) AS INTEGER) FROM vulnerabilities WHERE cve = 'CVE-2026-1'"
        ),
        78,
        "decimal CVSS kept"
    );
    let delta = f.run("2026-11-28T06:00:00Z", |b| {
        b.vulnerabilities = Some(VulnerabilityBatch::Delta(vec![
            VulnerabilityChange {
                kind: VulnerabilityChangeKind::Fixed,
                event_time: at("2026-11-28T05:00:00Z"),
                vulnerability: row("a", "CVE-2026-2"),
            },
            VulnerabilityChange {
                kind: VulnerabilityChangeKind::New,
                event_time: at("2026-11-28T05:00:00Z"),
                vulnerability: row("b", "CVE-2026-3"),
            },
        ]));
    });
    assert_eq!(
        delta["vulnerabilities"],
        ChangeCount {
            added: 1,
            updated: 0,
            deactivated: 1
        }
    );
    let full_again = f.run("2026-11-29T00:00:00Z", |b| {
        b.vulnerabilities = Some(VulnerabilityBatch::Full(vec![row("a", "CVE-2026-1")]));
    });
    assert_eq!(
        full_again["vulnerabilities"].deactivated, 2,
        "b's two CVEs are gone from the export"
    );
    assert_eq!(f.store.connection_counts("c1").unwrap().vulnerabilities, 1);
}

#[test]
fn a_failed_run_leaves_no_data_and_runs_are_listed_newest_first() {
    let f = fixture();
    f.run("2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![device("a", &[])]);
        b.watermarks = vec![("devices".to_owned(), at("2026-11-27T10:00:00Z"))];
    });
    let failed = f
        .store
        .begin_run("c1", "incremental", "test", at("2026-11-28T01:00:00Z"))
        .unwrap();
    let finish = RunFinish {
        error_code: Some("network".to_owned()),
        error: Some("unreachable".to_owned()),
        ..RunFinish::default()
    };
    f.store
        .end_run_without_data(
            failed,
            RunStatus::Failed,
            &finish,
            at("2026-11-28T01:00:05Z"),
        )
        .unwrap();
    let runs = f.store.runs("c1", 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[1].status, RunStatus::Succeeded);
    assert_eq!(runs[1].changes["assets"].added, 1);
    assert_eq!(
        f.store.watermarks("c1").unwrap()["devices"],
        at("2026-11-27T10:00:00Z")
    );
    // A run left running by a dead process is marked interrupted when the next one begins.
    let dead = f
        .store
        .begin_run("c1", "full", "test", at("2026-11-28T02:00:00Z"))
        .unwrap();
    f.store
        .begin_run("c1", "full", "test", at("2026-11-28T03:00:00Z"))
        .unwrap();
    let runs = f.store.runs("c1", 10).unwrap();
    assert_eq!(
        runs.iter().find(|r| r.id == dead).unwrap().status,
        RunStatus::Interrupted
    );
}

#[test]
fn a_damaged_database_file_is_named_left_alone_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mde-car.sqlite3");
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    let Err(error) = Store::open(&path) else {
        panic!("a file of garbage opened as a store");
    };
    assert!(
        matches!(error, crate::store::StoreError::Damaged { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("mde-car.sqlite3"), "{message}");
    assert!(message.contains("move it aside"), "{message}");
    assert_eq!(
        crate::Error::from(error).code(),
        crate::error::ErrorCode::Storage
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file was changed"
    );
}

/// Two stores opening `path` at the same moment (two processes starting together); returns how
/// many migrations each applied.
fn open_together(path: &std::path::Path) -> Vec<usize> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let openers: Vec<_> = (0..2)
        .map(|_| {
            let (barrier, path) = (barrier.clone(), path.to_owned());
            std::thread::spawn(move || {
                barrier.wait();
                Store::open_with(&path, BUSY_TIMEOUT).map(|(_, migrated)| migrated)
            })
        })
        .collect();
    openers
        .into_iter()
        .map(|opener| opener.join().unwrap().unwrap())
        .collect()
}

fn schema_of(path: &std::path::Path) -> (usize, Vec<String>) {
    let db = Db::open(path).unwrap();
    let version = schema_version(&db).unwrap();
    let mut statement = db
        .prepare("SELECT type || ' ' || name FROM sqlite_master ORDER BY 1")
        .unwrap();
    let objects = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (version, objects)
}

#[test]
fn two_processes_opening_a_new_or_old_file_together_both_succeed_and_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.sqlite3");
    Store::open(&reference).unwrap();
    let expected = schema_of(&reference);
    assert_eq!(expected.0, MIGRATIONS.len());
    // A race is not lost every time: several rounds of each.
    for round in 0..4 {
        let new = dir.path().join(format!("new-{round}.sqlite3"));
        let mut migrated = open_together(&new);
        migrated.sort_unstable();
        assert_eq!(
            migrated,
            [0, MIGRATIONS.len()],
            "one of them migrated, once"
        );
        assert_eq!(schema_of(&new), expected);

        // An old file: the first three migrations applied by an earlier version.
        let old = dir.path().join(format!("old-{round}.sqlite3"));
        let db = Db::open(&old).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        for (index, sql) in MIGRATIONS.iter().take(3).enumerate() {
            db.execute_batch(sql).unwrap();
            db.pragma_update(None, "user_version", index + 1).unwrap();
        }
        drop(db);
        let mut migrated = open_together(&old);
        migrated.sort_unstable();
        assert_eq!(migrated, [0, MIGRATIONS.len() - 3]);
        assert_eq!(schema_of(&old), expected);
    }
}

/// Another process's long save: a second connection takes the write lock, keeps it for `hold`,
/// then commits, and tells when it committed. Returns once the lock is taken.
fn hold_write_lock(
    path: &std::path::Path,
    hold: std::time::Duration,
) -> std::thread::JoinHandle<std::time::Instant> {
    let path = path.to_owned();
    let (locked, taken) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let db = Db::open(&path).unwrap();
        db.execute_batch(
            "BEGIN IMMEDIATE;
             INSERT OR REPLACE INTO connection_tests (connection_id, tested_at, report) VALUES ('other', 'x', '{}');",
        )
        .unwrap();
        locked.send(()).unwrap();
        // The length of the other process's save, not a wait for anything: whatever it is,
        // the save below cannot finish before this commit.
        #[allow(clippy::disallowed_methods)]
        std::thread::sleep(hold);
        db.execute_batch("COMMIT").unwrap();
        std::time::Instant::now()
    });
    // A holder that failed before taking the lock fails the test here instead of hanging it.
    taken
        .recv()
        .expect("the other connection took the write lock");
    holder
}

#[test]
fn a_save_waits_for_another_process_holding_the_write_lock_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let hold = std::time::Duration::from_millis(1_500);

    // Waiting longer than the other's save (as BUSY_TIMEOUT does): the save waits, then lands.
    let (store, _) = Store::open_with(&path, hold * 20).unwrap();
    let now = at("2026-11-28T00:00:00Z");
    let run_id = store.begin_run("c1", "full", "test", now).unwrap();
    let holder = hold_write_lock(&path, hold);
    let batch = SyncBatch {
        connection_id: "c1".to_owned(),
        run_id,
        now,
        devices: full(vec![device("a", &[("10.0.0.1", None)])]),
        ..SyncBatch::default()
    };
    let changes = store.apply_sync(&batch, &RunFinish::default()).unwrap();
    let saved = std::time::Instant::now();
    let committed = holder.join().unwrap();
    assert!(
        saved >= committed,
        "the save finished while the lock was held"
    );
    assert_eq!(changes["assets"].added, 1);
    assert_eq!(store.runs("c1", 1).unwrap()[0].status, RunStatus::Succeeded);

    // Waiting less (the old 10 s against a 15 s save, scaled down): the save fails, and says
    // which database and why.
    let (impatient, _) = Store::open_with(&path, hold / 10).unwrap();
    let run_id = impatient.begin_run("c1", "full", "test", now).unwrap();
    let holder = hold_write_lock(&path, hold);
    let error = impatient
        .apply_sync(
            &SyncBatch {
                run_id,
                ..SyncBatch {
                    connection_id: "c1".to_owned(),
                    now,
                    ..SyncBatch::default()
                }
            },
            &RunFinish::default(),
        )
        .unwrap_err();
    holder.join().unwrap();
    let message = error.to_string();
    assert!(message.contains("db.sqlite3"), "{message}");
    assert!(message.contains("locked"), "{message}");
}

#[test]
fn a_run_left_running_by_a_panic_is_ended_as_failed() {
    let f = fixture();
    let run_id = f
        .store
        .begin_run("c1", "full", "test", at("2026-11-28T00:00:00Z"))
        .unwrap();
    let finish = RunFinish {
        error_code: Some("internal".to_owned()),
        error: Some("an internal error stopped the sync".to_owned()),
        ..RunFinish::default()
    };
    // A run begun before the attempt is not the attempt's (a dead process's): left alone.
    let later = at("2026-11-28T00:00:01Z");
    let ended = f
        .store
        .fail_running_run("c1", later, &finish, later)
        .unwrap();
    assert_eq!(ended, None);
    assert_eq!(f.store.runs("c1", 1).unwrap()[0].status, RunStatus::Running);
    let since = at("2026-11-28T00:00:00Z");
    let ended = f
        .store
        .fail_running_run("c1", since, &finish, at("2026-11-28T00:00:05Z"))
        .unwrap();
    assert_eq!(ended, Some((run_id, true)));
    let run = &f.store.runs("c1", 1).unwrap()[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error_code.as_deref(), Some("internal"));
    assert_eq!(run.finished_at, Some(at("2026-11-28T00:00:05Z")));
    // Nothing is running any more: nothing to end.
    let again = at("2026-11-28T00:00:06Z");
    assert_eq!(
        f.store
            .fail_running_run("c1", since, &finish, again)
            .unwrap(),
        None
    );
}

#[test]
fn a_panic_while_the_database_is_in_use_does_not_wedge_the_store() {
    let f = fixture();
    let store = f.store.clone();
    let panicked = std::thread::spawn(move || {
        let _ = store.with(|db| -> rusqlite::Result<()> {
            let tx = db.transaction()?;
            tx.execute("INSERT INTO connection_tests (connection_id, tested_at, report) VALUES ('c1', 'x', '{}')", [])?;
            panic!("a bug while the writer is held");
        });
    })
    .join();
    assert!(panicked.is_err());
    // The half-done transaction rolled back, and the store answers.
    assert!(f.store.last_test_report("c1").unwrap().is_none());
    f.store
        .begin_run("c1", "full", "test", at("2026-11-28T00:00:00Z"))
        .unwrap();
}

// The migration kill test: the parent names the file and after how many of the scripts the
// file lacks its child dies, inside the migration's one transaction.
const MIGRATION_CHILD_FILE: &str = "MDE_CAR_MIGRATION_CHILD_FILE";
const MIGRATION_CHILD_AFTER: &str = "MDE_CAR_MIGRATION_CHILD_AFTER";
/// The child's page cache in pages (see `cache_for_tests`).
const MIGRATION_CHILD_CACHE: &str = "MDE_CAR_MIGRATION_CHILD_CACHE";

#[test]
fn kill_9_inside_a_migration_leaves_the_old_file_whole_and_the_next_open_migrates_it() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.sqlite3");
    Store::open(&reference).unwrap();
    let expected = schema_of(&reference);
    let old_version = 3;
    let lacking = MIGRATIONS.len() - old_version;
    // After the first script the file lacks, and after the last one (the commit is next):
    // between two scripts, and with every one of them applied but not committed.
    for after in [1, lacking] {
        let path = dir.path().join(format!("old-{after}.sqlite3"));
        old_file_with_data(&path, old_version);
        let before = everything_in(&path);
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "store::tests::migration_child", "--nocapture"])
            .env(MIGRATION_CHILD_FILE, &path)
            .env(MIGRATION_CHILD_AFTER, after.to_string())
            .env(MIGRATION_CHILD_CACHE, "16")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&child.status),
            Some(9),
            "the child was to die by SIGKILL after {after} migration(s): {}; {}{}",
            child.status,
            String::from_utf8_lossy(&child.stdout),
            String::from_utf8_lossy(&child.stderr)
        );
        // Read before anything opens the file: the last connection to close empties the WAL.
        let wal_length =
            std::fs::metadata(path.with_extension("sqlite3-wal")).map_or(0, |m| m.len());
        let db = Db::open(&path).unwrap();
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "killed after {after}");
        if after == lacking {
            assert!(
                wal_length > 0,
                "the migration had spilled into the WAL before the kill"
            );
        }
        drop(db);
        assert_eq!(
            everything_in(&path),
            before,
            "killed after {after} migration(s), the file is the old one: version, schema, rows"
        );

        let (store, migrated) = Store::open_with(&path, BUSY_TIMEOUT).unwrap();
        assert_eq!(migrated, lacking, "the next open migrates it whole");
        assert_eq!(schema_of(&path), expected);
        let runs = store.runs("c1", 10).unwrap();
        assert_eq!(
            runs.iter().map(|run| run.status).collect::<Vec<_>>(),
            [RunStatus::Succeeded, RunStatus::Failed],
            "the runs survive the table's rebuild"
        );
        assert_eq!(store.connection_counts("c1").unwrap().devices, 1);
    }
}

/// The child side of the test above: opens the file its parent names, with the process set to
/// die by SIGKILL once the parent's number of migration scripts is applied. Run without that
/// parent (a normal test run), it does nothing.
#[test]
fn migration_child() {
    let Ok(path) = std::env::var(MIGRATION_CHILD_FILE) else {
        return;
    };
    let after: usize = std::env::var(MIGRATION_CHILD_AFTER)
        .unwrap()
        .parse()
        .unwrap();
    let applied = std::sync::atomic::AtomicUsize::new(0);
    fail::cfg_callback("store::migrate::applied_one", move || {
        if applied.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == after {
            // SIGKILL, as `kill -9` sends it: no destructor, no rollback, no unwinding.
            let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            std::process::abort();
        }
    })
    .unwrap();
    let cache = std::env::var(MIGRATION_CHILD_CACHE).unwrap();
    fail::cfg("store::open::cache_pages", &format!("return({cache})")).unwrap();
    let opened = Store::open(std::path::Path::new(&path));
    // Shown by the parent when the open was meant to die and did not.
    eprintln!("the child's open ended: {:?}", opened.map(|_| ()));
}

/// A file an older mde-car wrote: the first `version` migrations, a connection test, two runs
/// and a device of one connection, and thousands of runs of another (so that rebuilding the
/// run table in 0007 writes more pages than the child's small page cache holds).
fn old_file_with_data(path: &std::path::Path, version: usize) {
    let db = Db::open(path).unwrap();
    db.pragma_update(None, "journal_mode", "WAL").unwrap();
    for (index, sql) in MIGRATIONS.iter().take(version).enumerate() {
        db.execute_batch(sql).unwrap();
        db.pragma_update(None, "user_version", index + 1).unwrap();
    }
    db.execute_batch(
        "INSERT INTO connection_tests (connection_id, tested_at, report) VALUES ('c1', '2026-11-01T00:00:00Z', '{}');
         INSERT INTO sync_runs (connection_id, mode, trigger, started_at, finished_at, status, error_code, error)
             VALUES ('c1', 'full', 'cli', 1000, 2000, 'failed', 'network', 'could not connect'),
                    ('c1', 'full', 'cli', 3000, 4000, 'succeeded', NULL, NULL);
         INSERT INTO assets (connection_id, device_id, name, first_seen, last_seen, first_run, last_run)
             VALUES ('c1', 'd1', 'pc-1.contoso.com', 3000, 3000, 2, 2);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO sync_runs (connection_id, mode, trigger, started_at, finished_at, status, notes)
             SELECT 'c0', 'incremental', 'schedule', i, i + 1, 'succeeded', '[\"a note long enough to fill the pages\"]' FROM n;",
    )
    .unwrap();
}

/// The file as plain SQL reads it: its version, its schema and every row of every table.
fn everything_in(path: &std::path::Path) -> (usize, Vec<String>) {
    let db = Db::open(path).unwrap();
    let mut rows: Vec<String> = Vec::new();
    let tables: Vec<(String, String)> = {
        let mut statement = db
            .prepare("SELECT name, coalesce(sql, '') FROM sqlite_master ORDER BY name")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for (name, sql) in &tables {
        rows.push(format!("schema {name}: {sql}"));
        if !sql.starts_with("CREATE TABLE") {
            continue;
        }
        let mut statement = db.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
        let columns = statement.column_count();
        let mut query = statement.query([]).unwrap();
        while let Some(row) = query.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(text) => {
                        format!("{:?}", String::from_utf8_lossy(text))
                    }
                    other => format!("{other:?}"),
                })
                .collect();
            rows.push(format!("{name}: {}", values.join(" | ")));
        }
    }
    rows.sort_unstable();
    (schema_version(&db).unwrap(), rows)
}
