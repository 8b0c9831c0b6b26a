//! `mde-car`: the core without a window — connections, the demo tenant (later sync, daemon,
//! search) — on the same settings file and keyring entries as the desktop app.

// A command-line tool's job is to print.
#![allow(clippy::print_stdout)]

mod search;

use std::{
    io::{BufRead, IsTerminal},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use mde_car_core::{
    ConnectionView, Core, ErrorCode,
    config::{Cloud, ConnectionDraft, DataSelection, Frequency},
    events::SyncEvent,
    paths::DataDir,
    probe::TestReport,
    store::{RunRecord, RunStatus},
    sync::Trigger,
};
use serde_json::json;

/// Exit status of a connection test that ran but did not connect.
const EXIT_TEST_FAILED: u8 = 3;
/// Exit status of invalid input.
const EXIT_INVALID: u8 = 2;
/// Exit status of a sync run that failed or was cancelled.
const EXIT_SYNC_FAILED: u8 = 4;

#[derive(Parser)]
#[command(
    name = "mde-car",
    version,
    about = "MDE Connected Assets & Risk, headless"
)]
struct Cli {
    /// Folder holding settings, database and logs [env: MDE_CAR_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Also print log lines to stderr
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list, edit, test and remove Defender connections
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Run one sync of a connection now and wait for it
    Sync {
        /// Connection name or id
        name: String,
        /// A full listing and export, even when an incremental run would do
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sync every connection at its frequency until Ctrl+C (no window needed)
    Daemon,
    /// Past sync runs of a connection, newest first
    Runs {
        /// Connection name or id
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Find devices by IP, CIDR range, host name, MAC, or IP at a time, with their risk
    Search(search::SearchArgs),
    /// Everything stored about one device: identity, network history, accounts, alerts, risk
    Asset(search::AssetArgs),
    /// Start the bundled simulated tenant and add a connection to it
    Demo {
        /// Keep the simulator running and print its credentials, until Ctrl+C
        #[arg(long)]
        serve: bool,
    },
}

#[derive(Subcommand)]
enum ConnectionCommand {
    /// Add a connection; the client secret is read from a prompt or, with --secret-stdin, from stdin
    Add(Box<AddArgs>),
    /// List connections
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a connection's settings; only the options given change
    Edit(Box<EditArgs>),
    /// Sign in and make one small API call; exit status 3 when the connection does not work
    Test {
        /// Connection name or id
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a connection and its secret from the OS keyring
    Remove {
        /// Connection name or id
        name: String,
    },
}

#[derive(Args)]
struct AddArgs {
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "")]
    description: String,
    /// Directory (tenant) ID, or a verified domain such as contoso.onmicrosoft.com
    #[arg(long)]
    tenant: String,
    /// Application (client) ID
    #[arg(long)]
    client_id: String,
    /// 15m, 1h, 4h, 6h, 12h, 24h, or a cron expression such as "0 */4 * * *"
    #[arg(long, default_value = "4h")]
    frequency: String,
    /// commercial, gcc, gcc_high or dod
    #[arg(long, default_value = "commercial")]
    cloud: String,
    /// Override of the Defender API base URL (regional host, proxy)
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    /// Override of the login authority
    #[arg(long, value_name = "URL")]
    authority: Option<String>,
    /// HTTP(S) proxy for this connection, e.g. http://proxy.corp.example:8080 (without it,
    /// HTTPS_PROXY and NO_PROXY apply)
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// PEM file of extra CA certificates to trust, e.g. a TLS-inspecting proxy's CA
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    #[command(flatten)]
    data: DataFlags,
    /// Read the client secret from the first line of stdin instead of a prompt
    #[arg(long)]
    secret_stdin: bool,
}

#[derive(Args)]
struct DataFlags {
    /// Do not import alerts
    #[arg(long)]
    no_alerts: bool,
    /// Do not import vulnerabilities
    #[arg(long)]
    no_vulnerabilities: bool,
    /// Do not import logged-on users
    #[arg(long)]
    no_users: bool,
    /// Do not import IP address history
    #[arg(long)]
    no_ip_history: bool,
}

#[derive(Args)]
struct EditArgs {
    /// Connection name or id
    target: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    frequency: Option<String>,
    #[arg(long)]
    cloud: Option<String>,
    /// Override of the Defender API base URL; an empty value removes the override
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    /// Override of the login authority; an empty value removes the override
    #[arg(long, value_name = "URL")]
    authority: Option<String>,
    /// HTTP(S) proxy for this connection; an empty value removes it
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// PEM file of extra CA certificates to trust; an empty value removes it
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Import alerts, vulnerabilities, users, ip-history: e.g. --data alerts,ip-history
    #[arg(long, value_delimiter = ',')]
    data: Option<Vec<String>>,
    /// Replace the client secret with the first line of stdin
    #[arg(long, conflicts_with = "replace_secret")]
    secret_stdin: bool,
    /// Replace the client secret, asking for it at a prompt
    #[arg(long)]
    replace_secret: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(data_dir) = DataDir::resolve(cli.data_dir.clone()) else {
        eprintln!("error: no data folder: pass --data-dir or set MDE_CAR_DATA_DIR");
        return ExitCode::from(EXIT_INVALID);
    };
    let _log_guard = mde_car_core::logging::init(&data_dir, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: the async runtime did not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, data_dir)) {
        Ok(code) => code,
        Err(error) => {
            let code = error
                .downcast_ref::<mde_car_core::Error>()
                .map(|core_error| core_error.code());
            eprintln!("error: {error:#}");
            if let Some(mde_car_core::Error::Validation(fields)) =
                error.downcast_ref::<mde_car_core::Error>()
            {
                for field in fields {
                    eprintln!("  {}: {}", cli_flag(field.field), field.message);
                }
            }
            match code {
                Some(ErrorCode::Validation | ErrorCode::DuplicateName | ErrorCode::NotFound) => {
                    ExitCode::from(EXIT_INVALID)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(cli: Cli, data_dir: DataDir) -> anyhow::Result<ExitCode> {
    let core = Core::open(data_dir)?;
    match cli.command {
        Command::Connection(ConnectionCommand::Add(args)) => {
            let mut draft = ConnectionDraft {
                name: args.name,
                description: args.description,
                tenant_id: args.tenant,
                client_id: args.client_id,
                client_secret: None,
                frequency: Frequency::parse_cli(&args.frequency)
                    .map_err(anyhow::Error::msg)
                    .context("--frequency")?,
                cloud: args
                    .cloud
                    .parse::<Cloud>()
                    .map_err(anyhow::Error::msg)
                    .context("--cloud")?,
                api_base_url: args.api_base,
                login_authority: args.authority,
                proxy_url: args.proxy,
                ca_certificate_file: args.ca_cert.as_deref().map(absolute_path),
                data: DataSelection {
                    alerts: !args.data.no_alerts,
                    vulnerabilities: !args.data.no_vulnerabilities,
                    logged_on_users: !args.data.no_users,
                    ip_history: !args.data.no_ip_history,
                },
            };
            // Check everything else first, so nobody types a secret for a draft that fails.
            let problems: Vec<_> = core
                .validate_connection(&draft, None)
                .await?
                .into_iter()
                .filter(|problem| problem.field != "clientSecret")
                .collect();
            if !problems.is_empty() {
                return Err(mde_car_core::Error::Validation(problems).into());
            }
            draft.client_secret = Some(read_secret(args.secret_stdin)?);
            let view = core.add_connection(&draft).await?;
            println!(
                "added connection '{}' ({}); the secret is in the OS keyring",
                view.connection.name, view.connection.id
            );
            println!("next: mde-car connection test '{}'", view.connection.name);
        }
        Command::Connection(ConnectionCommand::List { json }) => {
            let views = core.list_connections().await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&views.iter().map(view_json).collect::<Vec<_>>())?
                );
            } else if views.is_empty() {
                println!(
                    "no connections; add one with `mde-car connection add` or try `mde-car demo`"
                );
            } else {
                for view in &views {
                    print_view(view);
                }
            }
        }
        Command::Connection(ConnectionCommand::Edit(args)) => {
            let existing = core.find_connection(&args.target).await?;
            let empty_to_none = |value: String| Some(value).filter(|v| !v.trim().is_empty());
            let draft = ConnectionDraft {
                name: args.name.unwrap_or(existing.name),
                description: args.description.unwrap_or(existing.description),
                tenant_id: args.tenant.unwrap_or(existing.tenant_id),
                client_id: args.client_id.unwrap_or(existing.client_id),
                client_secret: if args.secret_stdin || args.replace_secret {
                    Some(read_secret(args.secret_stdin)?)
                } else {
                    None
                },
                frequency: match args.frequency {
                    Some(text) => Frequency::parse_cli(&text)
                        .map_err(anyhow::Error::msg)
                        .context("--frequency")?,
                    None => existing.frequency,
                },
                cloud: match args.cloud {
                    Some(text) => text
                        .parse::<Cloud>()
                        .map_err(anyhow::Error::msg)
                        .context("--cloud")?,
                    None => existing.cloud,
                },
                api_base_url: args.api_base.map_or(existing.api_base_url, empty_to_none),
                login_authority: args
                    .authority
                    .map_or(existing.login_authority, empty_to_none),
                proxy_url: args.proxy.map_or(existing.proxy_url, empty_to_none),
                ca_certificate_file: match args.ca_cert.as_deref() {
                    Some(file) if file.as_os_str().is_empty() => None,
                    Some(file) => Some(absolute_path(file)),
                    None => existing.ca_certificate_file,
                },
                data: match args.data {
                    Some(kinds) => parse_data(&kinds)?,
                    None => existing.data,
                },
            };
            let view = core.update_connection(&existing.id, &draft).await?;
            println!("updated connection '{}'", view.connection.name);
        }
        Command::Connection(ConnectionCommand::Test { name, json }) => {
            let connection = core.find_connection(&name).await?;
            let report = core.test_connection(&connection.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
            } else {
                print_report(&connection.name, &report);
            }
            if !report.ok {
                return Ok(ExitCode::from(EXIT_TEST_FAILED));
            }
        }
        Command::Connection(ConnectionCommand::Remove { name }) => {
            let connection = core.find_connection(&name).await?;
            core.delete_connection(&connection.id).await?;
            println!("removed connection '{}' and its secret", connection.name);
        }
        Command::Sync { name, full, json } => {
            let connection = core.find_connection(&name).await?;
            let printer = (!json).then(|| spawn_progress_printer(&core, &connection.id));
            let outcome = core
                .sync_connection(&connection.id, full, Trigger::Cli)
                .await?;
            if let Some(printer) = printer {
                printer.abort();
            }
            let run = core.sync_runs(&connection.id, 1).await?.into_iter().next();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&run.as_ref().map(run_json))?
                );
            } else {
                println!(
                    "{}: {}",
                    connection.name,
                    mde_car_core::sync::summary(&outcome)
                );
                if let Some(run) = &run {
                    print_run_numbers(run);
                }
            }
            if outcome.status != RunStatus::Succeeded {
                return Ok(ExitCode::from(EXIT_SYNC_FAILED));
            }
        }
        Command::Runs { name, limit, json } => {
            let connection = core.find_connection(&name).await?;
            let runs = core.sync_runs(&connection.id, limit).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&runs.iter().map(run_json).collect::<Vec<_>>())?
                );
            } else if runs.is_empty() {
                println!(
                    "{} has not been synced yet; run `mde-car sync '{}'`",
                    connection.name, connection.name
                );
            } else {
                for run in &runs {
                    println!(
                        "#{} {} {} ({}) {}",
                        run.id,
                        run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        run.status.key(),
                        run.mode,
                        run.error.as_deref().unwrap_or("")
                    );
                    print_run_numbers(run);
                }
            }
        }
        Command::Daemon => {
            let stop = tokio_util::sync::CancellationToken::new();
            let scheduler = core.start_scheduler(stop.clone());
            // Connections added or edited by another mde-car process (the app, the CLI) reach
            // the scheduler without a restart.
            let watcher = core.watch_other_processes(stop.clone());
            let mut events = core.subscribe();
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .context("listening for SIGTERM")?;
            println!(
                "mde-car daemon: syncing every connection on its schedule; Ctrl+C or SIGTERM stops"
            );
            loop {
                tokio::select! {
                    signal = tokio::signal::ctrl_c() => {
                        signal.context("waiting for Ctrl+C")?;
                        break;
                    }
                    _ = terminate.recv() => break,
                    event = events.recv() => {
                        if let Ok(SyncEvent::Finished { connection_id, status, summary, .. }) = event {
                            let name = core
                                .find_connection(&connection_id)
                                .await
                                .map_or(connection_id, |connection| connection.name);
                            println!(
                                "{} {name}: {} — {summary}",
                                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
                                status.key()
                            );
                        }
                    }
                }
            }
            // A run in progress is cancelled: it records itself as cancelled, nothing is half
            // written.
            stop.cancel();
            let connections = core.list_connection_records().await.unwrap_or_default();
            for connection in &connections {
                core.cancel_sync(&connection.id);
            }
            let _ = scheduler.await;
            let _ = watcher.await;
            // Let cancelled runs record themselves (they stop at their next call or page).
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
            while connections.iter().any(|c| core.is_syncing(&c.id))
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        Command::Search(args) => return search::search(&core, args).await,
        Command::Asset(args) => return search::asset(&core, args).await,
        Command::Demo { serve } => {
            let view = core.start_demo().await?;
            let report = core.test_connection(&view.connection.id).await?;
            println!(
                "demo connection '{}' is ready (bundled simulator at {})",
                view.connection.name, view.endpoints.api_base
            );
            print_report(&view.connection.name, &report);
            if serve {
                println!("tenant ID:  {}", view.connection.tenant_id);
                println!("client ID:  {}", view.connection.client_id);
                println!("authority:  {}", view.endpoints.authority);
                println!("API base:   {}", view.endpoints.api_base);
                println!("the simulator runs until Ctrl+C");
                tokio::signal::ctrl_c()
                    .await
                    .context("waiting for Ctrl+C")?;
            } else {
                println!("the simulator starts again whenever the demo connection is used");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the client secret from stdin (first line) or a hidden prompt; never from argv, where
/// other users could read it in the process list and shells keep it in their history.
fn read_secret(from_stdin: bool) -> anyhow::Result<String> {
    let secret = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Client secret (Value): ")
            .context("reading the secret at the prompt")?
    } else {
        anyhow::bail!("no terminal to ask for the client secret: pipe it in with --secret-stdin");
    };
    if secret.is_empty() {
        anyhow::bail!("the client secret is empty");
    }
    Ok(secret)
}

fn parse_data(kinds: &[String]) -> anyhow::Result<DataSelection> {
    let mut data = DataSelection {
        alerts: false,
        vulnerabilities: false,
        logged_on_users: false,
        ip_history: false,
    };
    for kind in kinds
        .iter()
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty() && k != "devices")
    {
        match kind.as_str() {
            "alerts" => data.alerts = true,
            "vulnerabilities" => data.vulnerabilities = true,
            "users" | "logged-on-users" => data.logged_on_users = true,
            "ip-history" => data.ip_history = true,
            other => anyhow::bail!(
                "--data: unknown kind '{other}'; use alerts, vulnerabilities, users, ip-history"
            ),
        }
    }
    Ok(data)
}

fn cli_flag(field: &str) -> &str {
    match field {
        "tenantId" => "--tenant",
        "clientId" => "--client-id",
        "clientSecret" => "secret",
        "apiBaseUrl" => "--api-base",
        "loginAuthority" => "--authority",
        "name" => "--name",
        "description" => "--description",
        "frequency" => "--frequency",
        other => other,
    }
}

fn status_key(view: &ConnectionView) -> &'static str {
    match view.status {
        mde_car_core::ConnectionStatus::NeverSynced => "never_synced",
        mde_car_core::ConnectionStatus::Connected => "connected",
        mde_car_core::ConnectionStatus::Syncing => "syncing",
        mde_car_core::ConnectionStatus::Error => "error",
    }
}

fn print_view(view: &ConnectionView) {
    let connection = &view.connection;
    println!(
        "{}{}",
        connection.name,
        if connection.demo { "  [demo]" } else { "" }
    );
    println!(
        "  tenant     {}  ({})",
        connection.tenant_id,
        connection.cloud.label()
    );
    println!("  client ID  {}", connection.client_id);
    println!("  schedule   {}", view.frequency_text);
    println!("  status     {}: {}", status_key(view), view.status_text);
    println!("  API        {}", view.endpoints.api_base);
    if let Some(proxy) = &connection.proxy_url {
        println!("  proxy      {}", mde_car_core::http::redacted(proxy));
    }
    if let Some(file) = &connection.ca_certificate_file {
        println!("  CA file    {file}");
    }
    println!("  needs      {}", view.required_permissions.join(", "));
}

fn print_report(name: &str, report: &TestReport) {
    println!("{name}: {} — {}", report.title, report.detail);
    if !report.granted_roles.is_empty() {
        println!("  granted: {}", report.granted_roles.join(", "));
    }
    if !report.missing_roles.is_empty() {
        println!("  missing: {}", report.missing_roles.join(", "));
    }
}

fn view_json(view: &ConnectionView) -> serde_json::Value {
    let connection = &view.connection;
    json!({
        "id": connection.id,
        "name": connection.name,
        "description": connection.description,
        "tenantId": connection.tenant_id,
        "clientId": connection.client_id,
        "cloud": connection.cloud.key(),
        "frequency": connection.frequency,
        "frequencyText": view.frequency_text,
        "apiBase": view.endpoints.api_base,
        "loginAuthority": view.endpoints.authority,
        "proxyUrl": connection.proxy_url.as_deref().map(mde_car_core::http::redacted),
        "caCertificateFile": connection.ca_certificate_file,
        "data": connection.data,
        "demo": connection.demo,
        "requiredPermissions": view.required_permissions,
        "status": status_key(view),
        "statusText": view.status_text,
        "lastTest": view.last_test.as_ref().map(report_json),
    })
}

fn report_json(report: &TestReport) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_else(|_| json!({ "ok": report.ok }))
}

/// Prints one line per step while a run goes on.
fn spawn_progress_printer(core: &Core, connection_id: &str) -> tokio::task::JoinHandle<()> {
    let mut events = core.subscribe();
    let connection_id = connection_id.to_owned();
    tokio::spawn(async move {
        let mut last_step = None;
        while let Ok(event) = events.recv().await {
            match event {
                SyncEvent::Progress {
                    connection_id: id,
                    step,
                    page,
                    items,
                    ..
                } if id == connection_id && (last_step != Some(step) || page % 10 == 0) => {
                    eprintln!("  {}: page {page}, {items} items", step.label());
                    last_step = Some(step);
                }
                SyncEvent::Throttled {
                    connection_id: id,
                    wait_secs,
                    by_service,
                    ..
                } if id == connection_id => {
                    if by_service {
                        eprintln!("  throttled by Defender: waiting {wait_secs} s as asked");
                    } else {
                        eprintln!("  keeping within Defender's rate limit: waiting {wait_secs} s");
                    }
                }
                _ => {}
            }
        }
    })
}

fn print_run_numbers(run: &RunRecord) {
    let calls: u64 = run.api_calls.values().sum();
    let per_endpoint: Vec<String> = run
        .api_calls
        .iter()
        .map(|(endpoint, n)| format!("{endpoint} {n}"))
        .collect();
    println!(
        "  {calls} API calls ({}), {} ms waiting on rate limits",
        per_endpoint.join(", "),
        run.throttled_ms
    );
    for (entity, count) in &run.changes {
        println!(
            "  {entity}: {} added, {} updated, {} deactivated",
            count.added, count.updated, count.deactivated
        );
    }
    for note in &run.notes {
        println!("  note: {note}");
    }
}

fn run_json(run: &RunRecord) -> serde_json::Value {
    json!({
        "id": run.id,
        "connectionId": run.connection_id,
        "mode": run.mode,
        "trigger": run.trigger,
        "startedAt": run.started_at.to_rfc3339(),
        "finishedAt": run.finished_at.map(|t| t.to_rfc3339()),
        "status": run.status.key(),
        "errorCode": run.error_code,
        "error": run.error,
        "apiCalls": run.api_calls,
        "throttledMs": run.throttled_ms,
        "changes": run.changes,
        "notes": run.notes,
    })
}

/// The settings hold full paths: the daemon and the app do not share the CLI's working folder.
fn absolute_path(file: &std::path::Path) -> String {
    std::path::absolute(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string()
}
