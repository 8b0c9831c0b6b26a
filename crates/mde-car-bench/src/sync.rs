//! Full and incremental sync of a simulated tenant through the real `Core`, against floors:
//! the same HTTP requests replayed with a plain reqwest loop (no parsing), and the same number
//! of rows inserted into a bare SQLite table.

use std::{
    collections::BTreeMap,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use mde_car_core::{
    Core,
    config::{ConnectionDraft, DataSelection, Frequency},
    events::{SyncEvent, SyncStep},
    mde::{Budgets, ClientOptions},
    paths::DataDir,
    store::RunStatus,
    sync::Trigger,
};
use mde_sim::{Sim, SimConfig, requests::Endpoint};
use tokio::sync::broadcast::error::RecvError;

use crate::report::{Row, memory, millis, reset_peak, say, short};

/// How much faster than real time Defender's rate-limit windows run, in the simulator and in
/// the client's budgets alike: an hour of Defender's limits passes in one second, so the run
/// measures the client's own work, not the wait Defender would impose.
const RATE_SCALE: f64 = 3_600.0;

/// The tables a sync writes data rows to (not run records).
const DATA_TABLES: &[&str] = &[
    "assets",
    "ip_addresses",
    "mac_addresses",
    "hostnames",
    "accounts",
    "applications",
    "vulnerabilities",
    "alerts",
    "asset_ip_addresses",
    "asset_mac_addresses",
    "asset_hostnames",
    "asset_accounts",
    "asset_vulnerabilities",
    "ip_leases",
];

const SECTION: &str = "sync";

pub(crate) async fn run(devices: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    say(&format!(
        "sync: simulating a tenant of {devices} devices ..."
    ));
    let sim = Sim::start(SimConfig {
        devices,
        seed: 7,
        rate_scale: RATE_SCALE,
        ..SimConfig::default()
    })
    .await
    .context("starting the simulator")?;
    let dir = tempfile::tempdir().context("creating a temporary data folder")?;
    let core = Core::open(DataDir::new(dir.path())).context("opening the core")?;
    core.set_client_options(ClientOptions {
        budgets: Budgets::default().scaled(RATE_SCALE),
        ..ClientOptions::default()
    });
    let view = core
        .add_connection(&ConnectionDraft {
            name: "Bench".to_owned(),
            description: String::new(),
            tenant_id: sim.tenant_id(),
            client_id: sim.client_id(),
            client_secret: Some(sim.client_secret()),
            frequency: Frequency::Interval { minutes: 60 },
            cloud: Default::default(),
            api_base_url: Some(sim.api_base()),
            login_authority: Some(sim.authority()),
            data: DataSelection::default(),
            ..ConnectionDraft::default()
        })
        .await
        .context(
            "adding the simulated tenant's connection (its secret goes to the OS keyring: run \
             through `make bench`, which starts one)",
        )?;
    let id = view.connection.id;

    say("sync: full run ...");
    let before = memory();
    let peak_reset = reset_peak();
    let log_start = sim.requests().all().len();
    let phases = watch_phases(&core);
    let started = Instant::now();
    let outcome = core
        .sync_connection(&id, false, Trigger::Cli)
        .await
        .context("running the full sync")?;
    let wall = started.elapsed();
    let (fetch_phase, save_phase) = phases.await.unwrap_or((None, None));
    let after = memory();
    if outcome.status != RunStatus::Succeeded {
        bail!(
            "the full sync ended {}: {}",
            outcome.status.key(),
            outcome.error.unwrap_or_default()
        );
    }
    let full_calls: u64 = outcome.api_calls.values().sum();
    let requests: Vec<_> = sim.requests().all().split_off(log_start);

    say("sync: measuring the floors (replaying the requests, bare inserts) ...");
    let fetch = replay(&sim, &requests).await?;
    let database = dir.path().join("mde-car.sqlite3");
    let n_rows = count_rows(&database)?;
    let store_floor = bare_inserts(&dir.path().join("floor.sqlite3"), n_rows)?;
    let floor = fetch.elapsed + store_floor;

    rows.push(
        Row::new(
            SECTION,
            format!("full sync, {devices} devices (wall)"),
            wall.as_secs_f64(),
            "s",
        )
        .floor(floor.as_secs_f64())
        .note(format!(
            "fetch {:.2} s + store {:.2} s",
            fetch.elapsed.as_secs_f64(),
            store_floor.as_secs_f64()
        )),
    );
    if let (Some(fetch_phase), Some(save_phase)) = (fetch_phase, save_phase) {
        rows.push(
            Row::new(
                SECTION,
                "  fetch phase (start to Saving)",
                fetch_phase.as_secs_f64(),
                "s",
            )
            .floor(fetch.elapsed.as_secs_f64()),
        );
        rows.push(
            Row::new(
                SECTION,
                "  save phase (Saving to end)",
                save_phase.as_secs_f64(),
                "s",
            )
            .floor(store_floor.as_secs_f64()),
        );
    }
    rows.push(
        Row::new(
            SECTION,
            "  throttled (client budget + 429s)",
            outcome.throttled_ms as f64 / 1_000.0,
            "s",
        )
        .note(format!("rate limits run {RATE_SCALE}x real time")),
    );
    rows.push(Row::new(
        SECTION,
        "  API calls (incl. token)",
        full_calls as f64,
        "calls",
    ));
    let breakdown: Vec<String> = fetch
        .by_endpoint
        .iter()
        .map(|(endpoint, (n, bytes))| {
            format!(
                "{endpoint} {n} calls {} MiB",
                short(*bytes as f64 / 1_048_576.0)
            )
        })
        .collect();
    rows.push(
        Row::new(
            SECTION,
            "  fetched (replayed)",
            fetch.bytes as f64 / 1_048_576.0,
            "MiB",
        )
        .note(format!(
            "{}; {} requests, {} throttled by the sim",
            breakdown.join(", "),
            fetch.requests,
            fetch.throttled
        )),
    );
    rows.push(
        Row::new(SECTION, "  rows written", n_rows as f64, "rows")
            .note("assets, vertices, links, leases, alerts"),
    );
    if let (Some(before), Some(after)) = (before, after) {
        rows.push(Row::new(
            SECTION,
            "  RSS before (simulator loaded)",
            before.rss_mib,
            "MiB",
        ));
        let label = if peak_reset {
            "  peak RSS during the sync (VmHWM)"
        } else {
            "  peak RSS since start (VmHWM)"
        };
        rows.push(
            Row::new(SECTION, label, after.peak_mib, "MiB").note(format!(
                "+{} MiB over before",
                short(after.peak_mib - before.rss_mib)
            )),
        );
    }
    rows.push(Row::new(
        SECTION,
        "  store on disk (db + WAL)",
        files_size(dir.path(), "mde-car.sqlite3") as f64 / 1_048_576.0,
        "MiB",
    ));

    say("sync: incremental run, nothing changed ...");
    let started = Instant::now();
    let outcome = core
        .sync_connection(&id, false, Trigger::Cli)
        .await
        .context("running the incremental sync")?;
    let wall = started.elapsed();
    if outcome.status != RunStatus::Succeeded || outcome.full {
        bail!(
            "the second sync was {} and ended {}: {}",
            if outcome.full { "full" } else { "incremental" },
            outcome.status.key(),
            outcome.error.unwrap_or_default()
        );
    }
    let calls: u64 = outcome.api_calls.values().sum();
    let detail: Vec<String> = outcome
        .api_calls
        .iter()
        .map(|(endpoint, n)| format!("{endpoint} {n}"))
        .collect();
    rows.push(
        Row::new(
            SECTION,
            "incremental, no changes: API calls",
            calls as f64,
            "calls",
        )
        .note(format!("target <= 5; {}", detail.join(", "))),
    );
    rows.push(Row::new(
        SECTION,
        "incremental, no changes (wall)",
        millis(wall),
        "ms",
    ));
    sim.shutdown().await;
    Ok(())
}

/// When the run's fetch phase and save phase took, from its events: `Started` to
/// `Progress(Saving)` and `Progress(Saving)` to `Finished`.
fn watch_phases(core: &Core) -> tokio::task::JoinHandle<(Option<Duration>, Option<Duration>)> {
    let mut events = core.subscribe();
    tokio::spawn(async move {
        let (mut started, mut saving) = (None, None);
        loop {
            match events.recv().await {
                Ok(SyncEvent::Started { .. }) => started = Some(Instant::now()),
                Ok(SyncEvent::Progress {
                    step: SyncStep::Saving,
                    ..
                }) => saving = Some(Instant::now()),
                Ok(SyncEvent::Finished { .. }) | Err(RecvError::Closed) => break,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
            }
        }
        let finished = Instant::now();
        match (started, saving) {
            (Some(started), Some(saving)) => (Some(saving - started), Some(finished - saving)),
            _ => (None, None),
        }
    })
}

struct Replay {
    elapsed: Duration,
    requests: usize,
    bytes: u64,
    /// 429s the simulator answered during the replay; their waits are not in `elapsed`.
    throttled: usize,
    /// Requests and bytes per endpoint.
    by_endpoint: BTreeMap<&'static str, (usize, u64)>,
}

/// Sends the sync's successful API requests again, in order, with a plain client and a fresh
/// token, reading each body as bytes: the least any client could spend fetching the same data.
async fn replay(sim: &Sim, log: &[mde_sim::requests::RequestRecord]) -> anyhow::Result<Replay> {
    let http = mde_car_core::http::client().map_err(anyhow::Error::msg)?;
    let defender_token = token(&http, sim, &sim.scope()).await?;
    let graph_token = if log.iter().any(|r| r.endpoint == Endpoint::GraphHunting) {
        Some(token(&http, sim, "https://graph.microsoft.com/.default").await?)
    } else {
        None
    };
    let mut result = Replay {
        elapsed: Duration::ZERO,
        requests: 0,
        bytes: 0,
        throttled: 0,
        by_endpoint: BTreeMap::new(),
    };
    let wanted = log
        .iter()
        .filter(|r| r.endpoint != Endpoint::Token && (200..300).contains(&r.status));
    for record in wanted {
        let url = match &record.query {
            Some(query) => format!("{}{}?{query}", sim.url(), record.path),
            None => format!("{}{}", sim.url(), record.path),
        };
        let bearer = match (&graph_token, record.endpoint) {
            (Some(graph), Endpoint::GraphHunting) => graph,
            _ => &defender_token,
        };
        loop {
            let request = if record.method.eq_ignore_ascii_case("POST") {
                http.post(&url)
                    .header("content-type", "application/json")
                    .body(record.body.clone().unwrap_or_default())
            } else {
                http.get(&url)
            };
            let started = Instant::now();
            let response = request
                .bearer_auth(bearer)
                .send()
                .await
                .with_context(|| format!("replaying {} {}", record.method, record.path))?;
            let status = response.status();
            if status.as_u16() == 429 {
                result.throttled += 1;
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            let body = response
                .bytes()
                .await
                .context("reading a replayed answer")?;
            result.elapsed += started.elapsed();
            if !status.is_success() {
                bail!(
                    "replaying {} {} answered {status}",
                    record.method,
                    record.path
                );
            }
            result.requests += 1;
            result.bytes += body.len() as u64;
            let entry = result
                .by_endpoint
                .entry(record.endpoint.name())
                .or_default();
            entry.0 += 1;
            entry.1 += body.len() as u64;
            break;
        }
    }
    Ok(result)
}

pub(crate) async fn token(
    http: &reqwest::Client,
    sim: &Sim,
    scope: &str,
) -> anyhow::Result<String> {
    let (client_id, secret) = (sim.client_id(), sim.client_secret());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", scope),
    ];
    let answer: serde_json::Value = http
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .context("asking the simulator for a token")?
        .json()
        .await
        .context("reading the token answer")?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the token answer has no access_token")
}

/// Data rows in the store after the sync.
pub(crate) fn count_rows(database: &Path) -> anyhow::Result<u64> {
    let db = rusqlite::Connection::open(database).context("opening the synced store")?;
    let mut total = 0u64;
    for table in DATA_TABLES {
        let n: i64 = db
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .with_context(|| format!("counting {table}"))?;
        total += n.unsigned_abs();
    }
    Ok(total)
}

/// Inserts `n_rows` rows into one bare table (no index but the rowid) with one prepared
/// statement in one transaction, WAL like the store: the least any store could spend.
pub(crate) fn bare_inserts(path: &Path, n_rows: u64) -> anyhow::Result<Duration> {
    let mut db = rusqlite::Connection::open(path).context("creating the floor database")?;
    db.pragma_update(None, "journal_mode", "WAL")
        .context("setting WAL on the floor database")?;
    db.execute_batch(
        "CREATE TABLE floor_rows (id INTEGER PRIMARY KEY, key BLOB NOT NULL, seen INTEGER, label TEXT)",
    )
    .context("creating the floor table")?;
    let started = Instant::now();
    let tx = db.transaction().context("starting the floor transaction")?;
    {
        let mut insert = tx
            .prepare("INSERT INTO floor_rows (key, seen, label) VALUES (?1, ?2, ?3)")
            .context("preparing the floor insert")?;
        for index in 0..n_rows {
            insert
                .execute(rusqlite::params![index.to_be_bytes(), index as i64, "row"])
                .context("inserting a floor row")?;
        }
    }
    tx.commit().context("committing the floor rows")?;
    Ok(started.elapsed())
}

/// Bytes of `name` and its `-wal` / `-shm` companions in `dir`.
pub(crate) fn files_size(dir: &Path, name: &str) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(dir.join(format!("{name}{suffix}"))).ok())
        .map(|meta| meta.len())
        .sum()
}
