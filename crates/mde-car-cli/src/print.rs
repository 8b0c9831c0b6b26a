//! Terminal text more than one command prints: a connection, a connection test, a run's
//! numbers, times and missing values, and the way search and asset write their output.

use std::process::ExitCode;

use mde_car_core::{
    ConnectionStatus, ConnectionView,
    model::{DataKind, DataState, Timestamp},
    probe::TestReport,
    store::RunRecord,
};

/// A line into the output text (`println!` panics when the reader goes away, as `| head` does).
macro_rules! say {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use say;

/// Writes the output; a closed pipe (`| head`) ends it quietly.
pub(crate) fn emit(text: &str) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// A `--json` document on stdout, pretty-printed as every command prints its JSON.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) fn time(value: Timestamp) -> String {
    value.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(crate) fn time_or_dash(value: Option<Timestamp>) -> String {
    value.map_or("—".to_owned(), time)
}

/// Defender leaves many fields empty rather than absent; both read as a dash.
pub(crate) fn or_dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("—")
}

/// The status as scripts match it, the same word in text and in JSON.
pub(crate) fn status_key(view: &ConnectionView) -> &'static str {
    match view.status {
        ConnectionStatus::NeverSynced => "never_synced",
        ConnectionStatus::Connected => "connected",
        ConnectionStatus::Syncing => "syncing",
        ConnectionStatus::Error => "error",
    }
}

pub(crate) fn print_view(view: &ConnectionView) {
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
    // A proxy URL may carry a password; it is never printed.
    if let Some(proxy) = &connection.proxy_url {
        println!("  proxy      {}", mde_car_core::http::redacted(proxy));
    }
    if let Some(file) = &connection.ca_certificate_file {
        println!("  CA file    {file}");
    }
    println!("  needs      {}", view.required_permissions.join(", "));
}

pub(crate) fn print_report(name: &str, report: &TestReport) {
    println!("{name}: {} — {}", report.title, report.detail);
    if !report.granted_roles.is_empty() {
        println!("  granted: {}", report.granted_roles.join(", "));
    }
    if !report.missing_roles.is_empty() {
        println!("  missing: {}", report.missing_roles.join(", "));
    }
    for check in &report.data {
        let state = match check.state {
            DataState::Available => "available",
            DataState::NotSelected => "turned off",
            DataState::MissingPermission => "missing permission",
            DataState::NotOffered => "not offered",
            DataState::Failed => "failed",
        };
        let data = match check.data {
            DataKind::Alerts => "alerts",
            DataKind::IpHistory => "IP history",
            DataKind::LoggedOnUsers => "logged-on users",
            DataKind::Vulnerabilities => "vulnerabilities",
        };
        if check.detail.is_empty() {
            println!("  {data:<16} {state}");
        } else {
            println!("  {data:<16} {state}: {}", check.detail);
        }
    }
}

/// What a run cost (calls, rate-limit waits) and what it changed, under its headline.
pub(crate) fn print_run_numbers(run: &RunRecord) {
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
