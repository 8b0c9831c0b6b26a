//! `mde-sim`: serve a simulated Defender for Endpoint tenant until Ctrl-C.
//!
//! ```text
//! mde-sim --devices 500 --seed 1 --port 8443 --rate-scale 60 --paging skip-only \
//!         --fault 500@machines=0.05 --fault retired
//! ```
//! Prints the tenant id, client id and secret to configure a client with.

// The binary's job is to print connection details for a person.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Parser;
use mde_sim::{ClockMode, FaultRule, PagingMode, Sim, SimConfig};

#[derive(Debug, Parser)]
#[command(
    name = "mde-sim",
    about = "A Microsoft Defender for Endpoint + Entra ID simulator"
)]
struct Args {
    /// Devices to generate.
    #[arg(long, default_value_t = 500)]
    devices: usize,
    /// Seed of the tenant and of its credentials (same seed, same credentials).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Rate-limit windows run this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    rate_scale: f64,
    /// `skip-only` (default), `graph-like` or `buggy-2022`.
    #[arg(long, default_value = "skip-only")]
    paging: String,
    /// A fault, `KIND[@ENDPOINT][=PROBABILITY]`; repeatable. Kinds: 500, 503, reset, truncate,
    /// slow, token-expired, shuffle, 404, retired, 429, preempted, too-large.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// `running` (follows the wall clock, default) or `frozen`.
    #[arg(long, default_value = "running")]
    clock: String,
    /// Largest `$top` and default page size (10,000 in the real service).
    #[arg(long, default_value_t = 10_000)]
    max_page_size: usize,
    /// Every N seconds, apply ordinary activity (reports, DHCP moves, alerts); 0 = never.
    #[arg(long, default_value_t = 0)]
    churn_every: u64,
    /// Print the connection details as one JSON line (for scripts and tests) instead of text.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let paging = PagingMode::parse(&args.paging).ok_or_else(|| {
        anyhow!(
            "unknown paging mode {:?}; use skip-only, graph-like or buggy-2022",
            args.paging
        )
    })?;
    let clock = match args.clock.as_str() {
        "running" => ClockMode::Running,
        "frozen" => ClockMode::Frozen,
        other => {
            return Err(anyhow!(
                "unknown clock mode {other:?}; use running or frozen"
            ));
        }
    };
    if !(args.rate_scale > 0.0 && args.rate_scale.is_finite()) {
        return Err(anyhow!(
            "--rate-scale must be a positive number (60 = a minute's limits in one second)"
        ));
    }
    let rules: Vec<FaultRule> = args
        .faults
        .iter()
        .map(|spec| FaultRule::parse(spec).map_err(|error| anyhow!(error)))
        .collect::<Result<_, _>>()?;
    let sim = Sim::start(SimConfig {
        devices: args.devices,
        seed: args.seed,
        port: args.port,
        rate_scale: args.rate_scale,
        paging,
        clock,
        max_page_size: args.max_page_size,
        ..SimConfig::default()
    })
    .await
    .context("starting the simulator")?;
    for rule in rules {
        sim.faults().add(rule);
    }
    if args.json {
        let details = serde_json::json!({
            "url": sim.url(),
            "authority": sim.authority(),
            "apiBase": sim.api_base(),
            "tenantId": sim.tenant_id(),
            "tenantDomain": sim.tenant_domain(),
            "clientId": sim.client_id(),
            "clientSecret": sim.client_secret(),
            "devices": sim.truth().machine_count(),
        });
        println!("{details}");
    } else {
        print_details(&sim);
    }
    if args.churn_every > 0 {
        let truth = sim.truth();
        let every = Duration::from_secs(args.churn_every);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                truth.churn();
            }
        });
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    sim.shutdown().await;
    Ok(())
}

fn print_details(sim: &Sim) {
    println!("mde-sim listening on {}", sim.url());
    println!("tenant id:     {}", sim.tenant_id());
    println!("tenant domain: {}", sim.tenant_domain());
    println!("client id:     {}", sim.client_id());
    println!("client secret: {}", sim.client_secret());
    println!("token url:     {}", sim.token_url());
    println!("scope:         {}", sim.scope());
    println!("api base:      {}", sim.api_base());
    println!("devices:       {}", sim.truth().machine_count());
}
