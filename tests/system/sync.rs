//! `mde-car sync` as a process: killed with SIGKILL at many points of a run, the store is never
//! corrupt, and the next run converges to what one uninterrupted run stores.

use std::{
    collections::BTreeSet,
    process::{Command as Process, Stdio},
    time::Duration,
};

use mde_car_tests::Workspace;
use mde_sim::{Sim, SimConfig};
use rusqlite::Connection as Db;

fn add(workspace: &Workspace, sim: &Sim) {
    workspace
        .add_simulated(sim, "Contoso", None)
        .assert()
        .success();
}

/// What a run stores, without the times and run ids that differ between runs. Leases are
/// compared from `leases_since` (ms) on: one cutoff for both sides, or a lease that starts right
/// on it is in one set and not the other.
fn content(workspace: &Workspace, leases_since: i64) -> BTreeSet<String> {
    let db = Db::open(workspace.data_dir().join("mde-car.sqlite3")).unwrap();
    let mut rows = BTreeSet::new();
    for sql in [
        "SELECT 'asset ' || device_id || ' ' || active || ' ' || coalesce(name, '') FROM assets".to_owned(),
        "SELECT 'ip ' || a.device_id || ' ' || i.text || ' ' || l.source || ' ' || l.active FROM asset_ip_addresses l JOIN assets a ON a.id = l.asset_id JOIN ip_addresses i ON i.id = l.ip_id".to_owned(),
        "SELECT 'alert ' || alert_id || ' ' || status FROM alerts".to_owned(),
        "SELECT 'vuln ' || a.device_id || ' ' || v.cve || ' ' || l.active FROM asset_vulnerabilities l JOIN assets a ON a.id = l.asset_id JOIN vulnerabilities v ON v.id = l.vulnerability_id".to_owned(),
        "SELECT 'account ' || a.device_id || ' ' || c.key FROM asset_accounts l JOIN assets a ON a.id = l.asset_id JOIN accounts c ON c.id = l.account_id".to_owned(),
        // Hunting keeps 30 days and each run asks for the 30 days before its own start, so the
        // oldest reports depend on when a run started: compare the settled part.
        format!(
            "SELECT 'lease ' || a.device_id || ' ' || i.text || ' ' || l.since || ' ' || coalesce(l.until, 0) FROM ip_leases l JOIN assets a ON a.id = l.asset_id JOIN ip_addresses i ON i.id = l.ip_id WHERE l.since > {leases_since}"
        ),
    ] {
        let mut statement = db.prepare(&sql).unwrap();
        for row in statement.query_map([], |row| row.get::<_, String>(0)).unwrap() {
            rows.insert(row.unwrap());
        }
    }
    rows
}

fn integrity(workspace: &Workspace) -> String {
    let db = Db::open(workspace.data_dir().join("mde-car.sqlite3")).unwrap();
    db.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_many_points_never_corrupts_and_the_next_run_converges() {
    let sim = Sim::start(SimConfig {
        devices: 1500,
        seed: 5,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // The reference: one uninterrupted run.
    let reference = Workspace::new();
    add(&reference, &sim);
    reference.cli().args(["sync", "Contoso"]).assert().success();
    let leases_since = (chrono::Utc::now() - chrono::Duration::days(29)).timestamp_millis();
    let expected = content(&reference, leases_since);
    assert!(
        expected.len() > 1000,
        "the reference run stored the tenant ({} rows)",
        expected.len()
    );

    let victim = Workspace::new();
    add(&victim, &sim);
    let binary = mde_car_tests::mde_car_binary();
    // Kill points spread over a run (a run here takes a second or two in a debug build).
    for (attempt, delay_ms) in [40_u64, 90, 150, 230, 320, 450, 600, 800, 1100, 1500]
        .into_iter()
        .enumerate()
    {
        let mut child = Process::new(&binary)
            .env("MDE_CAR_DATA_DIR", victim.data_dir())
            .args(["sync", "Contoso"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        // SIGKILL: no destructor, no cleanup.
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            integrity(&victim),
            "ok",
            "after the kill at {delay_ms} ms (attempt {attempt})"
        );
    }
    victim.cli().args(["sync", "Contoso"]).assert().success();
    let converged = content(&victim, leases_since);
    let missing: Vec<&String> = expected.difference(&converged).take(5).collect();
    let extra: Vec<&String> = converged.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    // The killed runs are on record as interrupted, not left running.
    let db = Db::open(victim.data_dir().join("mde-car.sqlite3")).unwrap();
    let running: i64 = db
        .query_row(
            "SELECT count(*) FROM sync_runs WHERE status = 'running'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(running, 0);
}
