//! Search on a large store. The store is built through the real write path (`Store::begin_run`
//! and `Store::apply_sync`, one full sync batch per synthetic tenant of 20,000 devices), then
//! every query kind is timed through `Core` with random existing keys, against a bare indexed
//! point lookup on the same file.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DurationRound, Utc};
use mde_car_core::{
    Core,
    model::Timestamp,
    paths::DataDir,
    search::{SearchRequest, SortKey},
    store::{DeviceBatch, RunFinish, Store, SyncBatch, VulnerabilityBatch, address_key},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    report::{Latency, Row, memory, reset_peak, say, short},
    sync::{bare_inserts, count_rows, files_size},
    tenant::{self, Synthetic},
};

/// Devices per synthetic tenant: one sync batch each.
const TENANT_SIZE: usize = 20_000;
const SECTION: &str = "search";

pub(crate) struct Budget {
    /// Samples per query at most.
    pub(crate) iterations: usize,
    /// Time per query at most (at least [`MIN_SAMPLES`] samples are taken anyway).
    pub(crate) seconds: f64,
}

const MIN_SAMPLES: usize = 10;
const WARM_UP: usize = 5;

/// The store's shape: how many tenants, and the size of each.
#[derive(Debug, Clone, Copy)]
struct Layout {
    assets: usize,
    now: Timestamp,
}

impl Layout {
    fn tenants(&self) -> usize {
        self.assets.div_ceil(TENANT_SIZE)
    }

    fn size(&self, tenant: usize) -> usize {
        (self.assets - tenant * TENANT_SIZE).min(TENANT_SIZE)
    }

    fn random_device(&self, rng: &mut ChaCha8Rng) -> anyhow::Result<Synthetic> {
        let tenant = rng.random_range(0..self.tenants());
        let size = self.size(tenant);
        tenant::device(tenant, rng.random_range(0..size), size, self.now)
    }
}

pub(crate) async fn run(assets: usize, budget: &Budget, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary data folder")?;
    let data = DataDir::new(dir.path());
    let layout = Layout {
        assets,
        now: Utc::now()
            .duration_trunc(chrono::Duration::seconds(1))
            .context("truncating the clock")?,
    };

    say(&format!(
        "search: building a store of {assets} assets through Store::apply_sync ({} batches) ...",
        layout.tenants()
    ));
    let database = data.database_file();
    let before = memory();
    let peak_reset = reset_peak();
    let (build, generation) = tokio::task::spawn_blocking({
        let database = database.clone();
        move || build_store(&database, &layout)
    })
    .await
    .context("the store build stopped")??;
    let after = memory();
    let n_rows = count_rows(&database)?;
    let floor = bare_inserts(&dir.path().join("floor.sqlite3"), n_rows)?;
    let rate = assets as f64 / build.as_secs_f64();
    let floor_rate = assets as f64 / floor.as_secs_f64();
    rows.push(
        Row::new(
            SECTION,
            format!("store build, {assets} assets (apply_sync)"),
            rate,
            "assets/s",
        )
        .rate_floor(floor_rate)
        .note(format!(
            "{} rows bare-inserted in {:.1} s",
            short(n_rows as f64),
            floor.as_secs_f64()
        )),
    );
    rows.push(
        Row::new(
            SECTION,
            "  build time (data generation excluded)",
            build.as_secs_f64(),
            "s",
        )
        .floor(floor.as_secs_f64())
        .note(format!(
            "generation took {:.1} s more",
            generation.as_secs_f64()
        )),
    );
    rows.push(Row::new(SECTION, "  rows written", n_rows as f64, "rows"));
    rows.push(Row::new(
        SECTION,
        "  store on disk (db + WAL)",
        files_size(dir.path(), "mde-car.sqlite3") as f64 / 1_048_576.0,
        "MiB",
    ));
    if let (Some(before), Some(after), true) = (before, after, peak_reset) {
        rows.push(
            Row::new(
                SECTION,
                "  peak RSS during the build (VmHWM)",
                after.peak_mib,
                "MiB",
            )
            .note(format!("RSS before {}", short(before.rss_mib))),
        );
    }

    let core = Core::open(data).context("opening the core on the built store")?;
    let mut rng = ChaCha8Rng::seed_from_u64(42);

    say("search: bare point lookups (the floor) ...");
    let floor = point_lookups(&database, &layout, &mut rng, budget)?;
    rows.push(
        Row::new(
            SECTION,
            "floor: SELECT id FROM ip_addresses WHERE address = ?",
            floor.p50_ms,
            "ms",
        )
        .latency(floor)
        .note("prepared statement, random stored keys"),
    );

    let kinds: [(&str, Kind); 8] = [
        ("exact IP (a device's corporate address)", Kind::ExactIp),
        ("/24 CIDR", Kind::Cidr24),
        ("/16 CIDR, sort relevance", Kind::Cidr16(SortKey::Relevance)),
        ("/16 CIDR, sort risk", Kind::Cidr16(SortKey::Risk)),
        ("host name prefix", Kind::HostPrefix),
        ("MAC", Kind::Mac),
        ("IP @ time", Kind::IpAtTime),
        ("exact IP (a shared home address)", Kind::HomeIp),
    ];
    for (label, kind) in kinds {
        say(&format!("search: {label} ..."));
        let requests = (0..budget.iterations + WARM_UP)
            .map(|_| Ok(kind.request(&layout.random_device(&mut rng)?)))
            .collect::<anyhow::Result<Vec<Option<SearchRequest>>>>()?;
        let requests: Vec<SearchRequest> = requests.into_iter().flatten().collect();
        let mut matches = 0usize;
        let latency = measure(
            budget,
            requests.len(),
            |index| {
                let core = core.clone();
                let request = &requests[index];
                async move {
                    let results = core
                        .search(request)
                        .await
                        .with_context(|| format!("searching {:?}", request.query))?;
                    Ok(results.total)
                }
            },
            &mut matches,
        )
        .await?;
        rows.push(
            Row::new(SECTION, label, latency.p50_ms, "ms")
                .latency(latency)
                .floor(floor.p50_ms)
                .note(format!(
                    "floor p50; {} matches on average",
                    short(matches as f64)
                )),
        );
    }

    say("search: asset detail and IP timeline ...");
    let ids: Vec<String> = (0..budget.iterations + WARM_UP)
        .map(|_| rng.random_range(1..=assets).to_string())
        .collect();
    let mut found = 0usize;
    let latency = measure(
        budget,
        ids.len(),
        |index| {
            let core = core.clone();
            let id = &ids[index];
            async move {
                let detail = core
                    .asset_detail(id)
                    .await
                    .with_context(|| format!("asset {id}"))?;
                Ok(detail.ip_addresses.len())
            }
        },
        &mut found,
    )
    .await?;
    rows.push(
        Row::new(SECTION, "asset detail", latency.p50_ms, "ms")
            .latency(latency)
            .floor(floor.p50_ms)
            .note(format!(
                "floor p50; {} address links on average",
                short(found as f64)
            )),
    );
    let addresses = (0..budget.iterations + WARM_UP)
        .map(|_| Ok(layout.random_device(&mut rng)?.corporate.to_string()))
        .collect::<anyhow::Result<Vec<String>>>()?;
    let mut spans = 0usize;
    let latency = measure(
        budget,
        addresses.len(),
        |index| {
            let core = core.clone();
            let address = &addresses[index];
            async move {
                let timeline = core
                    .ip_timeline(address, None)
                    .await
                    .with_context(|| format!("timeline of {address}"))?;
                Ok(timeline.spans.len())
            }
        },
        &mut spans,
    )
    .await?;
    rows.push(
        Row::new(SECTION, "IP timeline", latency.p50_ms, "ms")
            .latency(latency)
            .floor(floor.p50_ms)
            .note(format!(
                "floor p50; {} spans on average",
                short(spans as f64)
            )),
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    ExactIp,
    HomeIp,
    Cidr24,
    Cidr16(SortKey),
    HostPrefix,
    Mac,
    IpAtTime,
}

impl Kind {
    /// The request for one random device; `None` when the device has nothing of this kind.
    fn request(self, device: &Synthetic) -> Option<SearchRequest> {
        let v4: Vec<IpAddr> = device
            .device
            .addresses
            .iter()
            .map(|address| address.ip)
            .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
            .collect();
        let [a, b, c, _] = device.corporate.octets();
        let query = match self {
            Kind::ExactIp => Some(device.corporate.to_string()),
            Kind::HomeIp => v4
                .iter()
                .find(|ip| ip.to_string().starts_with("192.168."))
                .map(ToString::to_string),
            Kind::Cidr24 => Some(format!("{a}.{b}.{c}.0/24")),
            Kind::Cidr16(_) => Some(format!("{a}.{b}.0.0/16")),
            Kind::HostPrefix => device
                .device
                .computer_dns_name
                .as_deref()
                .and_then(|name| name.split('.').next())
                .map(|host| host[..host.len().saturating_sub(1)].to_owned()),
            Kind::Mac => Some(device.mac.to_string()),
            Kind::IpAtTime => {
                let (ip, at) = device.previous;
                Some(format!("{ip} @ {}", at.format("%Y-%m-%d %H:%M")))
            }
        };
        query.map(|query| {
            let mut request = SearchRequest::new(query);
            if let Kind::Cidr16(sort) = self {
                request.sort = sort;
            }
            request
        })
    }
}

/// Times `run(index)` for index 0.. after [`WARM_UP`] untimed calls, until the budget's
/// iterations or seconds are used (at least [`MIN_SAMPLES`]); `total` receives the mean of what
/// the calls return (match counts).
async fn measure<F, Fut>(
    budget: &Budget,
    available: usize,
    mut run: F,
    total: &mut usize,
) -> anyhow::Result<Latency>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let mut samples = Vec::new();
    let mut sum = 0usize;
    let started = Instant::now();
    for index in 0..available {
        let call = Instant::now();
        let found = run(index).await?;
        let took = call.elapsed();
        if index < WARM_UP.min(available.saturating_sub(MIN_SAMPLES)) {
            continue;
        }
        samples.push(took);
        sum += found;
        let out_of_time = started.elapsed().as_secs_f64() >= budget.seconds;
        if samples.len() >= budget.iterations || (out_of_time && samples.len() >= MIN_SAMPLES) {
            break;
        }
    }
    *total = sum / samples.len().max(1);
    Latency::of(&mut samples).context("no samples: nothing to time")
}

/// The floor: one prepared, indexed point lookup by address on the same database file.
fn point_lookups(
    database: &std::path::Path,
    layout: &Layout,
    rng: &mut ChaCha8Rng,
    budget: &Budget,
) -> anyhow::Result<Latency> {
    let db = rusqlite::Connection::open_with_flags(
        database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .context("opening the store for the floor")?;
    let mut lookup = db
        .prepare("SELECT id FROM ip_addresses WHERE address = ?1")
        .context("preparing the floor lookup")?;
    let keys = (0..budget.iterations.max(1_000) + WARM_UP)
        .map(|_| {
            let device = layout.random_device(rng)?;
            let ip = device
                .device
                .addresses
                .iter()
                .map(|address| address.ip)
                .find(|ip| ip.is_ipv4() && !ip.is_loopback())
                .unwrap_or(IpAddr::V4(device.corporate));
            Ok(address_key(ip))
        })
        .collect::<anyhow::Result<Vec<[u8; 16]>>>()?;
    let mut samples = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let started = Instant::now();
        let id: i64 = lookup
            .query_row([key.as_slice()], |row| row.get(0))
            .context("a stored address was not found by the floor lookup")?;
        let took = started.elapsed();
        std::hint::black_box(id);
        if index >= WARM_UP {
            samples.push(took);
        }
    }
    Latency::of(&mut samples).context("no floor samples")
}

/// Applies one full sync batch per synthetic tenant. Returns the time spent in the store
/// (begin_run + apply_sync) and the time spent generating the data.
fn build_store(
    database: &std::path::Path,
    layout: &Layout,
) -> anyhow::Result<(Duration, Duration)> {
    let store = Store::open(database).context("creating the store")?;
    let (mut in_store, mut generating) = (Duration::ZERO, Duration::ZERO);
    for tenant in 0..layout.tenants() {
        let started = Instant::now();
        let size = layout.size(tenant);
        let mut devices = Vec::with_capacity(size);
        let (mut network, mut alerts, mut vulnerabilities) = (Vec::new(), Vec::new(), Vec::new());
        for index in 0..size {
            let synthetic = tenant::device(tenant, index, size, layout.now)?;
            network.extend(synthetic.reports);
            alerts.extend(synthetic.alerts);
            vulnerabilities.extend(synthetic.vulnerabilities);
            devices.push(synthetic.device);
        }
        generating += started.elapsed();

        let started = Instant::now();
        let connection_id = format!("tenant-{tenant:03}");
        let run_id = store
            .begin_run(&connection_id, "full", "bench", layout.now)
            .context("starting a run")?;
        let batch = SyncBatch {
            connection_id,
            run_id,
            now: layout.now,
            devices: Some(DeviceBatch {
                devices,
                complete_full_listing: true,
            }),
            alerts: Some(alerts),
            network: Some(network),
            logons: None,
            vulnerabilities: Some(VulnerabilityBatch::Full(vulnerabilities)),
            watermarks: Vec::new(),
            availability: Vec::new(),
        };
        store
            .apply_sync(&batch, &RunFinish::default())
            .context("applying a batch")?;
        in_store += started.elapsed();
        if (tenant + 1).is_multiple_of(10) {
            say(&format!(
                "  {} of {} batches, {:.0} s in the store",
                tenant + 1,
                layout.tenants(),
                in_store.as_secs_f64()
            ));
        }
    }
    Ok((in_store, generating))
}
