//! Crash safety, measured. A sync killed with SIGKILL at each named fail point of a run — the
//! run lock, its record, the token, every stage's fetch, every part of the save, just before
//! and just after its commit — leaves a store that opens, passes SQLite's integrity check and
//! holds exactly what was committed before the kill; the killed run reads as interrupted, and
//! the next run converges to what an uninterrupted run stores. A full disk during a save fails
//! the run with plain words and keeps the store as it was; with space again, the next run
//! succeeds. (The kill during a migration is a unit test of the store, beside `migrate`.)
//!
//! The kill is real: the test runs its own binary again as a child that runs `child_sync` alone
//! (a no-op in a normal test run). The child configures the point to SIGKILL the process and
//! syncs the parent's data folder through the real `Core`, against the parent's simulator over
//! HTTP, with the connection and keyring secret the parent added. The parent's only
//! synchronisation is waiting for the child's exit, and a child that was not killed — a point
//! never reached — fails the test.

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::process::ExitStatusExt,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Instant,
};

use chrono::Duration;
use mde_car_core::{
    Core,
    mde::{Budgets, ClientOptions},
    paths::DataDir,
    store::RunStatus,
    sync::{SyncOutcome, Trigger},
};
use mde_sim::{Sim, SimConfig};
use rusqlite::{Connection as Db, types::ValueRef};

use crate::sync::{change_every_stage, same, sim_draft};

/// Devices of the tenant: enough that every stage has data and a save fills many pages (the
/// store's page cache spills into the WAL before the commit), small enough that the many runs
/// stay quick in a debug build.
const DEVICES: usize = 400;

/// The points of a run where the kill is tested, in the order a run passes them, each with how
/// far the run got. A kill at any of them must leave the data as the previous run committed it.
const BEFORE_COMMIT: &[(&str, Reached)] = &[
    ("sync::run_lock_taken", Reached::Nothing),
    ("sync::run_recorded", Reached::Record),
    ("mde::token_fetched", Reached::Record),
    ("sync::devices_fetched", Reached::Record),
    ("sync::alerts_fetched", Reached::Record),
    ("sync::ip_history_fetched", Reached::Record),
    ("sync::logons_fetched", Reached::Record),
    ("sync::vulnerabilities_fetched", Reached::Record),
    ("store::save::begun", Reached::Record),
    ("store::save::devices_written", Reached::Spilled),
    ("store::save::alerts_written", Reached::Spilled),
    ("store::save::ip_history_written", Reached::Spilled),
    ("store::save::logons_written", Reached::Spilled),
    ("store::save::vulnerabilities_written", Reached::Spilled),
    ("store::save::watermarks_written", Reached::Spilled),
    ("store::save::risk_written", Reached::Spilled),
    ("store::save::run_ended", Reached::Spilled),
];

/// What a run killed at a point had written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reached {
    /// Nothing.
    Nothing,
    /// Its record, committed as `running` (the next run, or a reader, calls it interrupted).
    Record,
    /// Its record, and part of its save's transaction: pages the small cache spilled into the
    /// WAL uncommitted, which the next open must ignore.
    Spilled,
}
/// After the commit, before the run reports back: the store holds the run's data whole.
const AFTER_COMMIT: &str = "store::save::committed";

// What the parent tells its child.
const CHILD_DATA_DIR: &str = "MDE_CAR_CRASH_CHILD_DATA_DIR";
const CHILD_CONNECTION: &str = "MDE_CAR_CRASH_CHILD_CONNECTION";
const CHILD_FULL: &str = "MDE_CAR_CRASH_CHILD_FULL";
/// The fail point where the child kills itself.
const CHILD_KILL_AT: &str = "MDE_CAR_CRASH_CHILD_KILL_AT";
/// `NAME=ACTIONS;…`: other fail points to configure (`fail::cfg`), such as the size cap.
const CHILD_FAIL: &str = "MDE_CAR_CRASH_CHILD_FAIL";
/// The killed runs' page cache: a few dozen KiB instead of 2 MiB, so that their saves spill
/// into the WAL long before the commit, as a large tenant's do.
const SMALL_CACHE: &str = "store::open::cache_pages=return(16)";

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_each_point_of_a_run_keeps_the_last_commit_and_the_next_run_converges() {
    let clock = Instant::now();
    let sim = start_sim().await;
    let victim_dir = tempfile::tempdir().unwrap();
    let reference_dir = tempfile::tempdir().unwrap();
    let victim = Folder::synced(&sim, victim_dir.path()).await;
    let reference = Folder::synced(&sim, reference_dir.path()).await;
    // The tenant changes in every stage after the first commit, so the state committed before
    // a kill can be told from the state the killed run would have saved.
    change_every_stage(&sim);
    let leases_since = (chrono::Utc::now() - Duration::days(29)).timestamp_millis();
    let committed_first = content(&victim.database(), leases_since);
    let uninterrupted = reference.sync_uninterrupted(true).await;
    assert_eq!(
        uninterrupted.status,
        RunStatus::Succeeded,
        "{:?}",
        uninterrupted.error
    );
    let expected = content(&reference.database(), leases_since);
    assert!(
        expected.len() > 1000 && expected != committed_first,
        "the reference stored the changed tenant ({} rows)",
        expected.len()
    );

    // The WAL as a kill left it when the run had written its record and nothing else.
    let mut wal_of_the_record = 0;
    for (index, (point, reached)) in BEFORE_COMMIT.iter().copied().enumerate() {
        let before = snapshot(&victim.database());
        // Full and incremental runs in turn: both pass every point.
        let child = sync_in_child(&victim, index % 2 == 0, Some(point), Some(SMALL_CACHE));
        assert_killed(&child, point);
        // Read before anything opens the file: the last connection to close empties the WAL.
        let wal = wal_length(&victim.database());
        match reached {
            Reached::Nothing => {}
            Reached::Record => wal_of_the_record = wal,
            Reached::Spilled => assert!(
                wal > wal_of_the_record,
                "at {point} the save had spilled into the WAL ({wal} bytes, {wal_of_the_record} with the run's record alone)"
            ),
        }
        let recorded = reached != Reached::Nothing;
        assert_eq!(
            integrity(&victim.database()),
            "ok",
            "after a kill at {point}"
        );
        assert_kept(&before, &snapshot(&victim.database()), recorded, point);
        let core = victim.open();
        let runs = core.sync_runs(&victim.id, 100).await.unwrap();
        assert!(
            runs.iter().all(|run| run.status != RunStatus::Running),
            "after a kill at {point}, no run reads as running: {:?}",
            runs.iter().map(|run| run.status).collect::<Vec<_>>()
        );
        if recorded {
            assert_eq!(runs[0].status, RunStatus::Interrupted, "killed at {point}");
            let card = core.list_connections().await.unwrap();
            assert_eq!(
                card[0].last_run.as_ref().map(|run| run.status),
                Some(RunStatus::Interrupted),
                "the card shows the killed run at {point}"
            );
        }
    }

    let child = sync_in_child(&victim, true, Some(AFTER_COMMIT), Some(SMALL_CACHE));
    assert_killed(&child, AFTER_COMMIT);
    assert_eq!(integrity(&victim.database()), "ok", "after the commit");
    same(
        &content(&victim.database(), leases_since),
        &expected,
        "killed after its commit, the run's data is there whole",
    );
    let core = victim.open();
    assert_eq!(
        core.sync_runs(&victim.id, 1).await.unwrap()[0].status,
        RunStatus::Succeeded,
        "the run was recorded in its commit"
    );
    drop(core);

    // The next run, uninterrupted, converges to what the reference stores.
    let next = victim.sync_uninterrupted(false).await;
    assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.error);
    same(
        &content(&victim.database(), leases_since),
        &expected,
        "the next run converges",
    );
    let db = Db::open(victim.database()).unwrap();
    let statuses = strings(&db, "SELECT status FROM sync_runs ORDER BY id");
    let killed_with_a_record = BEFORE_COMMIT
        .iter()
        .filter(|(_, reached)| *reached != Reached::Nothing)
        .count();
    let counted = |status: &str| {
        db.query_row(
            "SELECT count(*) FROM sync_runs WHERE status = ?1",
            [status],
            |row| row.get::<_, usize>(0),
        )
        .unwrap()
    };
    assert_eq!(counted("running"), 0, "{statuses:?}");
    assert_eq!(
        counted("interrupted"),
        killed_with_a_record,
        "each killed run is on record as interrupted: {statuses:?}"
    );
    eprintln!(
        "kill -9 at {} points of a run, then a run to converge: {:.1} s",
        BEFORE_COMMIT.len() + 1,
        clock.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_during_a_save_fails_the_run_plainly_and_keeps_the_store() {
    let clock = Instant::now();
    let sim = start_sim().await;
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = Folder::synced(&sim, reference_dir.path()).await;
    // A real full disk where the machine lets the test mount a small file system; SQLite's
    // own size cap (the same SQLITE_FULL) always, so that path is tested everywhere.
    let disk = SmallDisk::mount();
    let on_disk = match &disk {
        Some(disk) => Some(Folder::synced(&sim, &disk.path().join("data")).await),
        None => {
            eprintln!("disk full: mounting a small tmpfs was refused; only the size cap runs");
            None
        }
    };
    let capped_dir = tempfile::tempdir().unwrap();
    let capped = Folder::synced(&sim, capped_dir.path()).await;
    change_every_stage(&sim);
    // And an alert on every device, so that the save must grow the database file: changes
    // that fit in its pages' free space would not need the room a full disk lacks.
    let devices = sim.truth().machine_ids();
    sim.truth().write(|tenant, now| {
        for device in &devices {
            tenant.add_alert(device, now).unwrap();
        }
    });
    let leases_since = (chrono::Utc::now() - Duration::days(29)).timestamp_millis();
    let outcome = reference.sync_uninterrupted(true).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let expected = content(&reference.database(), leases_since);

    if let (Some(disk), Some(folder)) = (&disk, &on_disk) {
        eprintln!("disk full: a tmpfs of the free space the run's record needs, and no more");
        let before = snapshot(&folder.database());
        // One core through the failure and the recovery: nothing in the process is wedged.
        let core = folder.open();
        // The WAL the first sync grew is emptied, as SQLite leaves it when the last connection
        // closes, so the save must grow the file on the full disk (a WAL with room to spare
        // would take a small save without asking the file system for space).
        let db = Db::open(folder.database()).unwrap();
        db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        drop(db);
        // Room for the run's record (a few pages of the WAL), not for its data.
        disk.leave_free(64 * 1024);
        let failed = core
            .sync_connection(&folder.id, true, Trigger::Cli)
            .await
            .unwrap();
        assert_eq!(failed.status, RunStatus::Failed, "{:?}", failed.error);
        let stored = core.sync_runs(&folder.id, 1).await.unwrap().remove(0);
        assert_eq!(stored.id, failed.run_id);
        assert_eq!(stored.error, failed.error, "the history says the same");
        assert_disk_full_run(folder, &stored, &before);

        disk.grow();
        let next = core
            .sync_connection(&folder.id, true, Trigger::Cli)
            .await
            .unwrap();
        assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.error);
        assert_eq!(integrity(&folder.database()), "ok");
        same(
            &content(&folder.database(), leases_since),
            &expected,
            "with space again, the next run converges",
        );
    }

    eprintln!("disk full: SQLite's max_page_count capped at the database's size");
    let before = snapshot(&capped.database());
    // Configured in a child of its own: a fail point is global to its process, and other
    // tests of this binary save at the same time.
    let child = sync_in_child(&capped, true, None, Some("store::save::size_cap=return(0)"));
    assert!(child.status.success(), "{}", output_tail(&child));
    let core = capped.open();
    let stored = core.sync_runs(&capped.id, 1).await.unwrap().remove(0);
    assert_disk_full_run(&capped, &stored, &before);
    let next = core
        .sync_connection(&capped.id, true, Trigger::Cli)
        .await
        .unwrap();
    assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.error);
    same(
        &content(&capped.database(), leases_since),
        &expected,
        "without the cap, the next run converges",
    );
    drop(core);
    drop(on_disk);
    drop(disk);
    eprintln!("disk full: {:.1} s", clock.elapsed().as_secs_f64());
}

/// A run whose save met a full disk: failed (not running, not partial), saying plainly that
/// the disk holding the data folder is full and what to do; the store whole and as before.
fn assert_disk_full_run(folder: &Folder, run: &mde_car_core::store::RunRecord, before: &Snapshot) {
    assert_eq!(run.status, RunStatus::Failed, "{:?}", run.error);
    assert_eq!(run.error_code.as_deref(), Some("disk_full"));
    let error = run.error.clone().unwrap_or_default();
    let folder_text = folder.root.display().to_string();
    for words in [
        "the data could not be saved",
        "the disk holding the data folder",
        folder_text.as_str(),
        "is full",
        "free some space",
        "what was stored before is kept",
    ] {
        assert!(error.contains(words), "{words:?} in {error:?}");
    }
    assert_eq!(integrity(&folder.database()), "ok");
    let after = snapshot(&folder.database());
    assert_same_rows(&before.rows, &after.rows, "a full disk");
    let new: Vec<&(String, String)> = after
        .runs
        .iter()
        .filter(|(id, _)| !before.runs.contains_key(id))
        .map(|(_, run)| run)
        .collect();
    assert_eq!(new.len(), 1, "one new run record: {new:?}");
    assert_eq!(new[0].0, "failed");
}

/// The child side of the tests above: one sync of the folder its parent names, with the fail
/// points its parent asks for. Run without that parent (a normal test run), it does nothing.
#[tokio::test(flavor = "multi_thread")]
async fn child_sync() {
    let Ok(root) = std::env::var(CHILD_DATA_DIR) else {
        return;
    };
    let id = std::env::var(CHILD_CONNECTION).unwrap();
    let full = std::env::var(CHILD_FULL).unwrap() == "1";
    if let Ok(point) = std::env::var(CHILD_KILL_AT) {
        fail::cfg_callback(point, kill_this_process).unwrap();
    }
    if let Ok(specs) = std::env::var(CHILD_FAIL) {
        for spec in specs.split(';') {
            let (name, actions) = spec.split_once('=').unwrap();
            fail::cfg(name, actions).unwrap();
        }
    }
    let folder = Folder {
        root: PathBuf::from(root),
        id,
    };
    let outcome = folder
        .open()
        .sync_connection(&folder.id, full, Trigger::Cli)
        .await;
    // Shown by the parent when the run was meant to die and did not.
    eprintln!("the child's run ended: {outcome:?}");
}

/// SIGKILL to this very process, as `kill -9` sends it: no destructor, no unwinding, no flush.
fn kill_this_process() {
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    // Not reached: a SIGKILL a process sends itself takes it before `raise` returns.
    std::process::abort();
}

/// Runs one sync of `folder` in a child process (`child_sync` of this binary) and waits for
/// its end. `kill_at` names the point where the child kills itself; `fail` (`NAME=ACTIONS`)
/// configures another point.
fn sync_in_child(folder: &Folder, full: bool, kill_at: Option<&str>, fail: Option<&str>) -> Output {
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "crash::child_sync", "--nocapture"])
        .env(CHILD_DATA_DIR, &folder.root)
        .env(CHILD_CONNECTION, &folder.id)
        .env(CHILD_FULL, if full { "1" } else { "0" })
        .env_remove(CHILD_KILL_AT)
        .env_remove(CHILD_FAIL)
        .stdin(Stdio::null());
    if let Some(point) = kill_at {
        child.env(CHILD_KILL_AT, point);
    }
    if let Some(spec) = fail {
        child.env(CHILD_FAIL, spec);
    }
    child.output().unwrap()
}

fn assert_killed(child: &Output, point: &str) {
    assert_eq!(
        child.status.signal(),
        Some(9),
        "the child was to die by SIGKILL at {point} (a point never reached ends the run): {}; {}",
        child.status,
        output_tail(child)
    );
}

fn output_tail(child: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let start = text.len().saturating_sub(3000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("the child's output ends:\n{}", &text[start..])
}

/// The store as plain SQL reads it after a kill must be the one before, except the run
/// history: a run recorded by then is there as `running` (earlier killed ones interrupted).
fn assert_kept(before: &Snapshot, after: &Snapshot, recorded: bool, point: &str) {
    assert_same_rows(&before.rows, &after.rows, &format!("a kill at {point}"));
    for (id, (status, rest)) in &before.runs {
        let now = after.runs.get(id);
        let status = if recorded && status == "running" {
            "interrupted"
        } else {
            status
        };
        assert_eq!(
            now,
            Some(&(status.to_owned(), rest.clone())),
            "run {id} after a kill at {point}"
        );
    }
    let new: Vec<&(String, String)> = after
        .runs
        .iter()
        .filter(|(id, _)| !before.runs.contains_key(id))
        .map(|(_, run)| run)
        .collect();
    if recorded {
        assert_eq!(new.len(), 1, "the killed run's record at {point}: {new:?}");
        assert_eq!(new[0].0, "running", "as the file holds it, at {point}");
    } else {
        assert!(new.is_empty(), "no run recorded at {point}: {new:?}");
    }
}

fn assert_same_rows(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
    what: &str,
) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "{what}: the tables"
    );
    for (table, rows) in before {
        let kept: BTreeSet<&String> = rows.iter().collect();
        let now: BTreeSet<&String> = after[table].iter().collect();
        let missing: Vec<&&String> = kept.difference(&now).take(3).collect();
        let extra: Vec<&&String> = now.difference(&kept).take(3).collect();
        assert!(
            rows.len() == after[table].len() && missing.is_empty() && extra.is_empty(),
            "{what}: {table} changed ({} rows before, {} after); missing {missing:?}; extra {extra:?}",
            rows.len(),
            after[table].len()
        );
    }
}

/// The simulator, its present 2 h 10 min back so that the 2 hours `change_every_stage` moves
/// it on stay in the past of the client's clock (and in its hunting window).
async fn start_sim() -> Sim {
    Sim::start(SimConfig {
        devices: DEVICES,
        seed: 23,
        rate_scale: 600.0,
        start_time: Some(chrono::Utc::now() - Duration::minutes(130)),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn client_options() -> ClientOptions {
    ClientOptions {
        page_size: 10_000,
        budgets: Budgets::default().scaled(600.0),
        ..Default::default()
    }
}

/// A data folder with the simulated tenant's connection in it.
struct Folder {
    root: PathBuf,
    id: String,
}

impl Folder {
    /// Adds the connection (its secret in the keyring) in `root` and syncs it once; the core
    /// is closed again, so what follows starts from the files alone.
    async fn synced(sim: &Sim, root: &Path) -> Folder {
        let core = Core::open(DataDir::new(root)).unwrap();
        core.set_client_options(client_options());
        let view = core.add_connection(&sim_draft(sim)).await.unwrap();
        let folder = Folder {
            root: root.to_owned(),
            id: view.connection.id,
        };
        let first = core
            .sync_connection(&folder.id, false, Trigger::Cli)
            .await
            .unwrap();
        assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
        folder
    }

    fn open(&self) -> Core {
        let core = Core::open(DataDir::new(&self.root)).unwrap();
        core.set_client_options(client_options());
        core
    }

    fn database(&self) -> PathBuf {
        DataDir::new(&self.root).database_file()
    }

    /// One run in this process, to its end.
    async fn sync_uninterrupted(&self, full: bool) -> SyncOutcome {
        self.open()
            .sync_connection(&self.id, full, Trigger::Cli)
            .await
            .unwrap()
    }
}

/// A small tmpfs holding a data folder, so that a save meets a really full disk (ENOSPC from
/// the kernel). Mounting needs the right to (root); unmounted when dropped, also when the test
/// fails.
struct SmallDisk {
    dir: tempfile::TempDir,
}

/// Room for the first sync and what follows, when the disk is not being kept full.
const ROOMY: &str = "size=256m";

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("{ROOMY},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Shrinks the file system to what it holds now plus `bytes`.
    fn leave_free(&self, bytes: u64) {
        let out = Command::new("stat")
            .args(["-f", "-c", "%b %f %S"])
            .arg(self.path())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let numbers: Vec<u64> = text
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let [blocks, free, block_size] = numbers[..] else {
            panic!("stat -f said {text:?}");
        };
        let used = (blocks - free) * block_size;
        self.remount(&format!("size={}", used + bytes));
    }

    /// Gives the space back.
    fn grow(&self) {
        self.remount(ROOMY);
    }

    fn remount(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{size}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(status.success(), "remount {size}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: a file still open in it (a failing test's store) does not keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// The store as plain SQL reads it: every row of every table with all its columns, and the
/// schema; the run history apart, by id, each run's status apart from its other columns.
#[derive(Debug)]
struct Snapshot {
    rows: BTreeMap<String, Vec<String>>,
    runs: BTreeMap<i64, (String, String)>,
}

fn snapshot(path: &Path) -> Snapshot {
    let db = Db::open(path).unwrap();
    let mut rows = BTreeMap::new();
    rows.insert(
        "sqlite_schema".to_owned(),
        strings(
            &db,
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema",
        )
        .into_iter()
        .collect(),
    );
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    rows.insert("user_version".to_owned(), vec![version.to_string()]);
    for table in strings(&db, "SELECT name FROM sqlite_schema WHERE type = 'table'") {
        if table == "sync_runs" {
            continue;
        }
        let mut table_rows = Vec::new();
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = statement.column_count();
        let mut query = statement.query([]).unwrap();
        while let Some(row) = query.next().unwrap() {
            table_rows.push(
                (0..columns)
                    .map(|i| render(row.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join(" | "),
            );
        }
        table_rows.sort_unstable();
        rows.insert(table, table_rows);
    }
    let mut runs = BTreeMap::new();
    let mut statement = db.prepare("SELECT * FROM sync_runs").unwrap();
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut query = statement.query([]).unwrap();
    while let Some(row) = query.next().unwrap() {
        let id: i64 = row.get("id").unwrap();
        let status: String = row.get("status").unwrap();
        let rest = names
            .iter()
            .enumerate()
            .filter(|(_, name)| *name != "status")
            .map(|(i, name)| format!("{name}={}", render(row.get_ref(i).unwrap())))
            .collect::<Vec<_>>()
            .join(" ");
        runs.insert(id, (status, rest));
    }
    Snapshot { rows, runs }
}

fn render(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => format!("{x:?}"),
        ValueRef::Text(text) => format!("{:?}", String::from_utf8_lossy(text)),
        ValueRef::Blob(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn strings(db: &Db, sql: &str) -> Vec<String> {
    let mut statement = db.prepare(sql).unwrap();
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The length of the database's WAL file; 0 when there is none.
fn wal_length(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |meta| meta.len())
}

fn integrity(path: &Path) -> String {
    let db = Db::open(path).unwrap();
    db.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

/// What a run stores, without the times and run ids that differ between two folders synced
/// alike (as in the system test of `mde-car sync`). Leases are compared from `leases_since`
/// (ms) on: each run asks hunting for the 30 days before its own start, so the oldest reports
/// depend on when it started.
fn content(path: &Path, leases_since: i64) -> BTreeSet<String> {
    let db = Db::open(path).unwrap();
    let mut rows = BTreeSet::new();
    for sql in [
        "SELECT 'asset ' || device_id || ' ' || active || ' ' || coalesce(name, '') || ' ' || coalesce(inactive_reason, '') || ' ' || computed_risk_level FROM assets".to_owned(),
        "SELECT 'ip ' || a.device_id || ' ' || i.text || ' ' || l.source || ' ' || l.active FROM asset_ip_addresses l JOIN assets a ON a.id = l.asset_id JOIN ip_addresses i ON i.id = l.ip_id".to_owned(),
        "SELECT 'alert ' || alert_id || ' ' || status FROM alerts".to_owned(),
        "SELECT 'vuln ' || a.device_id || ' ' || v.cve || ' ' || l.active FROM asset_vulnerabilities l JOIN assets a ON a.id = l.asset_id JOIN vulnerabilities v ON v.id = l.vulnerability_id".to_owned(),
        "SELECT 'account ' || a.device_id || ' ' || c.key FROM asset_accounts l JOIN assets a ON a.id = l.asset_id JOIN accounts c ON c.id = l.account_id".to_owned(),
        "SELECT 'host ' || name FROM hostnames".to_owned(),
        format!(
            "SELECT 'lease ' || a.device_id || ' ' || i.text || ' ' || l.since || ' ' || coalesce(l.until, 0) FROM ip_leases l JOIN assets a ON a.id = l.asset_id JOIN ip_addresses i ON i.id = l.ip_id WHERE l.since > {leases_since}"
        ),
    ] {
        rows.extend(strings(&db, &sql));
    }
    rows
}
