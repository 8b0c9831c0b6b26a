//! `mde-car daemon` as a service runs it: it syncs what is due, picks up a connection another
//! process adds while it runs, and stops cleanly on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command as Process, Stdio},
    sync::mpsc,
    time::Duration,
};

use mde_car_tests::Workspace;
use mde_sim::{Sim, SimConfig};
use rusqlite::Connection as Db;

fn add(workspace: &Workspace, sim: &Sim, name: &str) {
    workspace
        .add_simulated(sim, name, None)
        .args(["--frequency", "1h"])
        .assert()
        .success();
}

/// The next line that contains `wanted`, within `secs`. Blocks this worker only (the simulator
/// serves from the others).
fn line_with(lines: &mpsc::Receiver<String>, wanted: &str, secs: u64) -> String {
    tokio::task::block_in_place(|| next_line_with(lines, wanted, secs))
}

fn next_line_with(lines: &mpsc::Receiver<String>, wanted: &str, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(wanted) => return line,
            Ok(_) => {}
            Err(error) => panic!("no line with {wanted:?} in {secs} s: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_syncs_what_is_due_follows_new_connections_and_stops_on_sigterm() {
    let sim = Sim::start(SimConfig {
        devices: 60,
        seed: 3,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let workspace = Workspace::new();
    add(&workspace, &sim, "Contoso");
    let mut daemon = Process::new(mde_car_tests::mde_car_binary())
        .env("MDE_CAR_DATA_DIR", workspace.data_dir())
        .arg("daemon")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (send, lines) = mpsc::channel();
    let stdout = daemon.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    // Never synced is overdue: the daemon syncs it at once and names it.
    let done = line_with(&lines, "Contoso: succeeded", 60);
    assert!(done.contains("UTC"), "{done}");
    // Another process adds a connection; the daemon notices without a restart.
    add(&workspace, &sim, "Fabrikam");
    line_with(&lines, "Fabrikam: succeeded", 60);

    let pid = daemon.id().to_string();
    let killed = Process::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    let db = Db::open(workspace.data_dir().join("mde-car.sqlite3")).unwrap();
    let running: i64 = db
        .query_row(
            "SELECT count(*) FROM sync_runs WHERE status = 'running'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(running, 0, "no run left half-done");
}
