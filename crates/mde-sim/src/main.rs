//! `mde-sim`: serve a simulated Defender for Endpoint tenant until Ctrl-C.
//!
//! ```text
//! mde-sim --devices 500 --seed 1 --port 8443 --rate-scale 60 --paging skip-only \
//!         --fault 500@machines=0.05 --fault retired --fault empty-page@alerts=once \
//!         --fail export=404 --shrink-machines 10% --export-omit 0.05 \
//!         --future-alerts 3 --future-by 2h --clock-jump -1h@5m
//! ```
//! Prints the tenant id, client id and secret to configure a client with. The faults and what a
//! real tenant shows them for are documented in the library (`mde_sim::faults`).

// The binary's job is to print connection details for a person.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Parser;
use mde_sim::clock::{parse_duration, parse_offset};
use mde_sim::{
    Answer, ClockMode, Endpoint, EndpointFailure, ExportRows, FaultRule, FutureDated, PagingMode,
    Portion, Sim, SimConfig,
};

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
    /// A fault, `KIND[@ENDPOINT][=HOW-OFTEN]`; repeatable. HOW-OFTEN: a probability from 0 to
    /// 1, `always` (the default), `once` or a count such as `3x`. Kinds: 500, 503, reset,
    /// truncate, slow, token-expired, shuffle, 404, retired, 429, preempted, too-large,
    /// empty-page (the first page of machines or alerts is `"value": []`).
    #[arg(long = "fault", value_name = "KIND[@ENDPOINT][=HOW-OFTEN]")]
    faults: Vec<String>,
    /// An endpoint that fails on every call, `ENDPOINT=STATUS`; repeatable. 404: absent in this
    /// tenant (`export=404`, no vulnerability-management licence), 403: a role the app lacks,
    /// 403-disabled: a feature the tenant has not switched on (`DisabledFeature`), 400: the
    /// request is rejected, 500: a server error. Endpoints: machines, machine,
    /// logonusers, findbyip, findbytag, machine-alerts, machine-vulnerabilities, alerts, alert,
    /// alert-machine, vulnerabilities, machines-vulnerabilities, export, delta-export,
    /// advanced-queries, graph-hunting.
    #[arg(long = "fail", value_name = "ENDPOINT=STATUS")]
    failures: Vec<String>,
    /// A hostile answer: the endpoint answers SPEC instead of its own 2xx answers;
    /// repeatable. SPEC is `body STATUS TYPE TEXT` (`machines=body 200 html <html>`) or JSON
    /// Pointer edits of the real answer joined by ` && ` (`set /value/0/id 5`, `copy FROM TO`,
    /// `remove POINTER`); `ENDPOINT=@FILE` reads SPEC from FILE (for huge or multi-line bodies).
    /// Endpoints: token and those of --fail.
    #[arg(long = "answer", value_name = "ENDPOINT=SPEC")]
    answers: Vec<String>,
    /// `/api/machines` lists only part of the devices, as after a partial outage: a count (40),
    /// a percentage (25%) or a fraction (0.25). Everything else still sees every device.
    #[arg(long, value_name = "AMOUNT")]
    shrink_machines: Option<String>,
    /// Chance, 0 to 1, that a vulnerability row (machinesVulnerabilities, the full and the
    /// delta export) is silently left out; the same rows on every call.
    #[arg(long, value_name = "FRACTION")]
    export_omit: Option<String>,
    /// Chance, 0 to 1, that a vulnerability row has a broken key (`deviceId` null or `cveId`
    /// empty); the same rows on every call.
    #[arg(long, value_name = "FRACTION")]
    export_malformed: Option<String>,
    /// Alerts whose `lastUpdateTime` is put --future-by ahead of now at start: a count (3), a
    /// percentage (5%) or a fraction (0.05).
    #[arg(long, value_name = "AMOUNT")]
    future_alerts: Option<String>,
    /// Machines whose `lastSeen` is put --future-by ahead of now at start: a count, a percentage
    /// or a fraction.
    #[arg(long, value_name = "AMOUNT")]
    future_machines: Option<String>,
    /// How far ahead --future-alerts and --future-machines lie: 90s, 15m, 2h, 1d (default 1h).
    #[arg(long, value_name = "DURATION")]
    future_by: Option<String>,
    /// Steps the simulated clock by OFFSET (`-2h` back, `+30m` forward) AFTER that much real
    /// time (`-2h@5m`; at once without `@AFTER`); repeatable. Tokens, `lastSeen`, alert times and
    /// hunting follow; the rate-limit windows do not.
    #[arg(
        long = "clock-jump",
        value_name = "OFFSET[@AFTER]",
        allow_hyphen_values = true
    )]
    clock_jumps: Vec<String>,
    /// `running` (follows the wall clock, default) or `frozen`.
    #[arg(long, default_value = "running")]
    clock: String,
    /// Largest `$top` and default page size (10,000 in the real service).
    #[arg(long, default_value_t = 10_000)]
    max_page_size: usize,
    /// Every N seconds, apply ordinary activity (reports, DHCP moves, alerts); 0 = never.
    #[arg(long, default_value_t = 0)]
    churn_every: u64,
    /// A certificate (PEM or DER) to register with the app for certificate sign-in, as
    /// uploading it under "Certificates & secrets" does; may be given more than once.
    #[arg(long = "certificate", value_name = "FILE")]
    certificates: Vec<std::path::PathBuf>,
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
    let failures: Vec<EndpointFailure> = args
        .failures
        .iter()
        .map(|spec| EndpointFailure::parse(spec).map_err(|error| anyhow!("--fail: {error}")))
        .collect::<Result<_, _>>()?;
    let answers = args
        .answers
        .iter()
        .map(|spec| answer(spec).map_err(|error| anyhow!("--answer: {error}")))
        .collect::<Result<Vec<_>, _>>()?;
    let shrink_machines = args
        .shrink_machines
        .as_deref()
        .map(|text| Portion::parse(text).map_err(|error| anyhow!("--shrink-machines: {error}")))
        .transpose()?;
    let export_rows = ExportRows {
        omit: chance("--export-omit", args.export_omit.as_deref())?,
        malformed: chance("--export-malformed", args.export_malformed.as_deref())?,
    };
    let future_dated = future_dated(&args)?;
    let clock_jumps: Vec<(chrono::TimeDelta, Duration)> = args
        .clock_jumps
        .iter()
        .map(|spec| clock_jump(spec))
        .collect::<Result<_, _>>()?;
    let sim = Sim::start(SimConfig {
        devices: args.devices,
        seed: args.seed,
        port: args.port,
        rate_scale: args.rate_scale,
        paging,
        clock,
        max_page_size: args.max_page_size,
        failures,
        shrink_machines,
        export_rows,
        future_dated,
        ..SimConfig::default()
    })
    .await
    .context("starting the simulator")?;
    for rule in rules {
        sim.faults().add(rule);
    }
    for file in &args.certificates {
        let bytes = std::fs::read(file)
            .with_context(|| format!("reading the certificate {}", file.display()))?;
        let thumbprint = sim
            .add_certificate(&sim.client_id(), &bytes)
            .with_context(|| format!("registering the certificate {}", file.display()))?;
        eprintln!(
            "registered certificate {} (SHA-256 {thumbprint})",
            file.display()
        );
    }
    for (endpoint, answer) in answers {
        sim.faults().answer(endpoint, answer);
    }
    for (offset, after) in clock_jumps {
        if after.is_zero() {
            sim.jump_clock(offset);
            continue;
        }
        let sim = sim.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            sim.jump_clock(offset);
        });
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

/// A chance flag: absent = 0, else a number from 0 to 1.
fn chance(flag: &str, text: Option<&str>) -> anyhow::Result<f64> {
    let Some(text) = text else {
        return Ok(0.0);
    };
    match text.trim().parse::<f64>() {
        Ok(chance) if (0.0..=1.0).contains(&chance) => Ok(chance),
        _ => Err(anyhow!(
            "{flag} must be a number from 0 to 1 (0.1 = one row in ten), not {text:?}"
        )),
    }
}

/// `--future-alerts`, `--future-machines` and `--future-by`.
fn future_dated(args: &Args) -> anyhow::Result<Option<FutureDated>> {
    let portion = |flag: &str, text: Option<&str>| {
        text.map(|text| Portion::parse(text).map_err(|error| anyhow!("{flag}: {error}")))
            .transpose()
    };
    let alerts = portion("--future-alerts", args.future_alerts.as_deref())?;
    let machines = portion("--future-machines", args.future_machines.as_deref())?;
    let ahead = args
        .future_by
        .as_deref()
        .map(|text| parse_duration(text).map_err(|error| anyhow!("--future-by: {error}")))
        .transpose()?;
    if alerts.is_none() && machines.is_none() {
        if ahead.is_some() {
            return Err(anyhow!(
                "--future-by needs --future-alerts or --future-machines (what to date ahead)"
            ));
        }
        return Ok(None);
    }
    let defaults = FutureDated::default();
    Ok(Some(FutureDated {
        alerts: alerts.unwrap_or(defaults.alerts),
        machines: machines.unwrap_or(defaults.machines),
        ahead: ahead.unwrap_or(defaults.ahead),
    }))
}

/// `--clock-jump OFFSET[@AFTER]`: (offset, real delay).
fn clock_jump(spec: &str) -> anyhow::Result<(chrono::TimeDelta, Duration)> {
    let (offset, after) = match spec.split_once('@') {
        Some((offset, after)) => (
            offset,
            parse_duration(after).map_err(|error| anyhow!("--clock-jump {spec:?}: {error}"))?,
        ),
        None => (spec, Duration::ZERO),
    };
    let offset = parse_offset(offset).map_err(|error| anyhow!("--clock-jump {spec:?}: {error}"))?;
    Ok((offset, after))
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

/// `ENDPOINT=SPEC` or `ENDPOINT=@FILE` of `--answer`.
fn answer(spec: &str) -> Result<(Endpoint, Answer), String> {
    let (name, text) = spec
        .split_once('=')
        .ok_or_else(|| format!("bad answer {spec:?}: give ENDPOINT=SPEC or ENDPOINT=@FILE"))?;
    let endpoint = Endpoint::parse(name.trim())
        .filter(|endpoint| *endpoint != Endpoint::Unknown)
        .ok_or_else(|| {
            format!(
                "unknown endpoint {name:?}; endpoints: {}",
                Endpoint::ALL
                    .into_iter()
                    .filter(|endpoint| *endpoint != Endpoint::Unknown)
                    .map(Endpoint::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let text = match text.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|error| format!("the answer file {file:?} could not be read: {error}"))?,
        None => text.to_owned(),
    };
    Ok((
        endpoint,
        Answer::parse(text.trim_end_matches(['\r', '\n']))?,
    ))
}
