//! `make bench`: release-mode benchmarks of mde-car's sync and search and of the simulator at
//! scale, each figure reported next to a floor measured in the same run on the same machine, as
//! a ratio.
//!
//! - **sync**: a full sync of a simulated tenant through `Core::sync_connection`, against the
//!   same HTTP requests replayed with a plain reqwest loop plus the same number of rows
//!   inserted into a bare SQLite table; then an incremental run with nothing changed.
//! - **search**: a store of many assets built through `Store::apply_sync`, then every query
//!   kind through `Core` with random existing keys, against a bare indexed point lookup.
//! - **sim**: `mde_sim::Sim::start` on a 200,000-device tenant (start-up time and peak memory,
//!   against a deep copy of the generated tenant), then the tenant fully served: every machine
//!   and alert paged with `$top`/`$skip` (every id checked), against the simulator's own JSON
//!   built in-process plus the same bytes from a bare server; and one hunting query over all of
//!   `DeviceNetworkInfo`.
//!
//! Prints a `metric | value | floor | ratio` table and writes the same as JSON. Not part of
//! `make test`: speed is checked here, never by timed tests. Each benchmark runs in a child
//! process of its own (this binary with `--only`), so each one's peak memory is its own.

mod report;
mod search;
mod sim;
mod sync;
mod tenant;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};

use crate::report::{Report, Row, say};

#[derive(Debug, Parser)]
#[command(
    name = "mde-car-bench",
    about = "Release-mode benchmarks of mde-car's sync and search and of the simulator, as ratios against floors measured in the same run"
)]
struct Options {
    /// Devices of the simulated tenant the sync benchmark syncs [default: 20000; 2000 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=200_000))]
    devices: Option<u64>,
    /// Assets in the store the search benchmark searches [default: 1000000; 50000 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1_000..=5_000_000))]
    assets: Option<u64>,
    /// Devices of the tenant the sim benchmark generates and serves [default: 200000; 20000 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    sim_devices: Option<u64>,
    /// A smoke run: small sizes and short timings
    #[arg(long)]
    quick: bool,
    /// Timed calls per query at most [default: 1000; 200 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    iterations: Option<u64>,
    /// Seconds per query at most; at least 10 calls are timed anyway [default: 5; 1 with --quick]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    seconds: Option<f64>,
    /// Run one benchmark only
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Where the JSON report goes
    #[arg(long, value_name = "FILE", default_value = "target/bench/report.json")]
    out: PathBuf,
    /// Run by the parent process: write the JSON only, print no table
    #[arg(long, hide = true)]
    child: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Sync,
    Search,
    Sim,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.01..=3_600.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "'{text}' is not a number of seconds between 0.01 and 3600"
        )),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let pick = |given: Option<u64>, full: u64, quick: u64| {
        usize::try_from(given.unwrap_or(if options.quick { quick } else { full }))
            .unwrap_or(usize::MAX)
    };
    let devices = pick(options.devices, 20_000, 2_000);
    let assets = pick(options.assets, 1_000_000, 50_000);
    let sim_devices = pick(options.sim_devices, 200_000, 20_000);
    let budget = search::Budget {
        iterations: pick(options.iterations, 1_000, 200),
        seconds: options
            .seconds
            .unwrap_or(if options.quick { 1.0 } else { 5.0 }),
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if !options.child {
        say(&format!(
            "mde-car-bench: {devices} devices (sync), {assets} assets (search), {sim_devices} devices \
             (sim), {cores} cores{}",
            if cfg!(debug_assertions) {
                " -- a DEBUG build: figures mean little, run `make bench`"
            } else {
                ""
            }
        ));
    }

    let mut rows: Vec<Row> = Vec::new();
    match options.only {
        Some(Only::Sync) => sync::run(devices, &mut rows).await?,
        Some(Only::Search) => search::run(assets, &budget, &mut rows).await?,
        Some(Only::Sim) => sim::run(sim_devices, &mut rows).await?,
        None => {
            let parts = tempfile::tempdir().context("creating a folder for the partial reports")?;
            for name in ["sync", "search", "sim"] {
                let out = parts.path().join(format!("{name}.json"));
                let status = std::process::Command::new(
                    std::env::current_exe().context("finding this benchmark's executable")?,
                )
                .args([
                    "--devices",
                    &devices.to_string(),
                    "--assets",
                    &assets.to_string(),
                    "--sim-devices",
                    &sim_devices.to_string(),
                ])
                .args(["--iterations", &budget.iterations.to_string()])
                .args(["--seconds", &budget.seconds.to_string()])
                .args(["--only", name, "--child", "--out"])
                .arg(&out)
                .status()
                .with_context(|| format!("starting the {name} benchmark"))?;
                if !status.success() {
                    bail!("the {name} benchmark failed ({status}); its error is above");
                }
                rows.extend(Report::read_json(&out)?.rows);
            }
        }
    }

    let report = Report {
        generated_at: chrono::Utc::now().to_rfc3339(),
        cores,
        options: serde_json::json!({
            "devices": devices,
            "assets": assets,
            "sim_devices": sim_devices,
            "iterations": budget.iterations,
            "seconds": budget.seconds,
            "quick": options.quick,
            "release": !cfg!(debug_assertions),
        }),
        rows,
    };
    if options.child {
        return report.write_json(&options.out);
    }
    say("");
    report.print();
    report.write_json(&options.out)?;
    say(&format!("report written to {}", options.out.display()));
    Ok(())
}
