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

/// Text from the tenant or the network as a terminal may show it: control characters (which
/// could move the cursor, rewrite earlier lines or set the window title: terminal escape
/// injection) and the bidirectional overrides (which could show a name reversed) are written as
/// visible `\u{…}` escapes. Line breaks are kept only when `lines` is true, for a whole report
/// whose line breaks are the program's own.
pub(crate) fn terminal_safe(text: &str, lines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(lines && c == '\n'))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            safe.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            safe.push(c);
        }
    }
    std::borrow::Cow::Owned(safe)
}

/// A human-readable report on stdout, made terminal-safe (see [`terminal_safe`]); the JSON
/// forms go through [`emit`], whose strings serde has escaped already.
pub(crate) fn emit_text(text: &str) -> anyhow::Result<ExitCode> {
    emit(&terminal_safe(text, true))
}

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
    // Everything here comes from the settings file, which a hand edit can fill with anything.
    let safe = |text: &str| terminal_safe(text, false).into_owned();
    println!(
        "{}{}{}",
        safe(&connection.name),
        if connection.demo { "  [demo]" } else { "" },
        if view.problems.is_empty() {
            ""
        } else {
            "  [invalid settings: not synced or tested]"
        }
    );
    for problem in &view.problems {
        println!(
            "  INVALID    \"{}\": {}",
            problem.field,
            safe(&problem.message)
        );
    }
    println!(
        "  tenant     {}  ({})",
        safe(&connection.tenant_id),
        connection.cloud.label()
    );
    println!("  client ID  {}", safe(&connection.client_id));
    println!("  schedule   {}", safe(&view.frequency_text));
    println!(
        "  status     {}: {}",
        status_key(view),
        safe(&view.status_text)
    );
    if let Some(notice) = &view.certificate_notice {
        println!("  certificate {}", safe(notice));
    }
    println!("  API        {}", safe(&view.endpoints.api_base));
    // A proxy URL may carry a password; it is never printed.
    if let Some(proxy) = &connection.proxy_url {
        println!(
            "  proxy      {}",
            safe(&mde_car_core::http::redacted(proxy))
        );
    }
    if let Some(file) = &connection.ca_certificate_file {
        println!("  CA file    {}", safe(file));
    }
    println!("  needs      {}", view.required_permissions.join(", "));
}

pub(crate) fn print_report(name: &str, report: &TestReport) {
    println!(
        "{}: {} — {}",
        terminal_safe(name, false),
        report.title,
        terminal_safe(&report.detail, false)
    );
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
            println!(
                "  {data:<16} {state}: {}",
                terminal_safe(&check.detail, false)
            );
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
        println!("  note: {}", terminal_safe(note, false));
    }
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn tenant_text_cannot_drive_the_terminal() {
        assert_eq!(
            terminal_safe("laptop-17 (Contoso)", false),
            "laptop-17 (Contoso)"
        );
        // An escape that would set the window title, a cursor move, a bell, DEL and a C1 CSI.
        assert_eq!(
            terminal_safe("\u{1b}]0;owned\u{7}x\u{1b}[2Ay\u{7f}\u{9b}", false),
            "\\u{1b}]0;owned\\u{7}x\\u{1b}[2Ay\\u{7f}\\u{9b}"
        );
        // A right-to-left override would show "exe.txt" reversed.
        assert_eq!(
            terminal_safe("a\u{202e}txt.exe", false),
            "a\\u{202e}txt.exe"
        );
        assert_eq!(terminal_safe("one\ntwo\r", false), "one\\u{a}two\\u{d}");
        assert_eq!(terminal_safe("one\ntwo\r", true), "one\ntwo\\u{d}");
    }
}
