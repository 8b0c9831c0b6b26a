//! `mde-car search` and `mde-car asset`: the Explorer on a terminal. `--json` prints the core's
//! result types as they serialize (documented in the README, "Searching").

use std::process::ExitCode;

use clap::Args;
use mde_car_core::{
    Core,
    search::{
        AlertCounts, AssetDetail, AssetHit, DEFAULT_LIMIT, SearchRequest, SearchResults, SortKey,
        VulnerabilitySummary,
    },
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

/// Writes the output; a closed pipe (`| head`) ends it quietly.
fn emit(text: &str) -> anyhow::Result<ExitCode> {
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

#[derive(Args)]
pub(crate) struct SearchArgs {
    /// An IP address, CIDR range, host name (or its beginning), MAC address, or IP @ time;
    /// several words are joined, so `10.1.2.3 @ 2026-11-20 14:00` needs no quotes
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    query: Vec<String>,
    /// Who held the address at this time: 2026-11-20 14:00 (UTC), 2026-11-20T14:00:00Z, or
    /// with an offset (+01:00); a time without a zone is UTC
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Only this connection (name or id)
    #[arg(long, value_name = "NAME")]
    connection: Option<String>,
    /// relevance (current holders first), risk, name or last-seen
    #[arg(long, default_value = "relevance", value_parser = parse_sort)]
    sort: SortKey,
    /// Reverse the sort order
    #[arg(long)]
    reverse: bool,
    /// Results per page (at most 1000)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: usize,
    /// Results to skip (the page's start)
    #[arg(long, default_value_t = 0)]
    offset: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct AssetArgs {
    /// The asset's number (from search results), CONNECTION:DEVICE-ID, or a Defender device id
    id: String,
    #[arg(long)]
    json: bool,
}

fn parse_sort(text: &str) -> Result<SortKey, String> {
    SortKey::parse(text).ok_or_else(|| {
        format!("'{text}' is not a sort order; use relevance, risk, name or last-seen")
    })
}

pub(crate) async fn search(core: &Core, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let request = SearchRequest {
        query: args.query.join(" "),
        at: args.at,
        connection: args.connection,
        sort: args.sort,
        reverse: args.reverse,
        offset: args.offset,
        limit: args.limit,
    };
    let results = core.search(&request).await?;
    let mut out = String::new();
    if args.json {
        say!(out, "{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_results(&mut out, &results);
    }
    emit(&out)
}

pub(crate) async fn asset(core: &Core, args: AssetArgs) -> anyhow::Result<ExitCode> {
    let detail = core.asset_detail(&args.id).await?;
    let mut out = String::new();
    if args.json {
        say!(out, "{}", serde_json::to_string_pretty(&detail)?);
    } else {
        print_detail(&mut out, &detail);
    }
    emit(&out)
}

fn time(value: mde_car_core::model::Timestamp) -> String {
    value.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn or_dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("—")
}

fn print_results(out: &mut String, results: &SearchResults) {
    let shown = results.hits.len();
    let range = if shown == 0 {
        "none shown".to_owned()
    } else {
        format!("{}–{} shown", results.offset + 1, results.offset + shown)
    };
    say!(
        out,
        "{}{}: {} result{}, {range}, by {}{}",
        results.interpretation,
        results
            .connection
            .as_ref()
            .map(|c| format!(" in {}", c.name.as_deref().unwrap_or(&c.id)))
            .unwrap_or_default(),
        results.total,
        if results.total == 1 { "" } else { "s" },
        results.sort.key().replace('_', " "),
        if results.reverse { " (reversed)" } else { "" }
    );
    for note in &results.notes {
        say!(out, "note: {note}");
    }
    for hit in &results.hits {
        say!(out);
        print_hit(out, hit);
    }
    if results.offset + shown < results.total && shown > 0 {
        say!(out);
        say!(out, "more: --offset {}", results.offset + shown);
    }
}

fn alerts_text(alerts: &AlertCounts) -> String {
    if alerts.total() == 0 {
        return "no active alerts".to_owned();
    }
    let parts: Vec<String> = [
        (alerts.high, "high"),
        (alerts.medium, "medium"),
        (alerts.low, "low"),
        (alerts.informational, "informational"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, name)| format!("{count} {name}"))
    .collect();
    format!("active alerts {}", parts.join(", "))
}

fn vulnerabilities_text(summary: &VulnerabilitySummary) -> String {
    if summary.active == 0 {
        return "no active vulnerabilities".to_owned();
    }
    format!(
        "{} vulnerabilit{} ({} critical, {} high), max CVSS {}",
        summary.active,
        if summary.active == 1 { "y" } else { "ies" },
        summary.critical,
        summary.high,
        summary
            .max_cvss
            .map_or("unknown".to_owned(), |cvss| format!("{cvss:.1}"))
    )
}

fn print_hit(out: &mut String, hit: &AssetHit) {
    say!(
        out,
        "#{}  {}  [{}]  {}{}",
        hit.asset_id,
        hit.name.as_deref().unwrap_or(&hit.device_id),
        hit.connection.name.as_deref().unwrap_or(&hit.connection.id),
        hit.os.describe(),
        if hit.active { "" } else { "  (inactive)" }
    );
    say!(
        out,
        "    risk {:.1} {} · Defender risk {}, exposure {}, device value {}",
        hit.risk.score,
        hit.risk.level.key(),
        or_dash(hit.defender.risk_score.as_deref()),
        or_dash(hit.defender.exposure_level.as_deref()),
        or_dash(hit.defender.device_value.as_deref()),
    );
    say!(
        out,
        "    {} · {} · last seen {}",
        alerts_text(&hit.alerts),
        vulnerabilities_text(&hit.vulnerabilities),
        hit.last_seen.map_or("—".to_owned(), time)
    );
    for relation in &hit.relations {
        say!(out, "    {}", relation.text);
    }
}

fn print_detail(out: &mut String, detail: &AssetDetail) {
    say!(
        out,
        "#{}  {}  [{}]{}",
        detail.asset_id,
        detail.name.as_deref().unwrap_or(&detail.device_id),
        detail
            .connection
            .name
            .as_deref()
            .unwrap_or(&detail.connection.id),
        if detail.active {
            String::new()
        } else {
            format!(
                "  (inactive: {})",
                detail.inactive_reason.as_deref().unwrap_or("unknown")
            )
        }
    );
    say!(out);
    say!(
        out,
        "Risk {:.1} ({})",
        detail.risk.score,
        detail.risk.level.key()
    );
    for component in &detail.risk.components {
        say!(out, "  {}", component.explanation);
    }
    say!(
        out,
        "  Defender: risk {}, exposure {}, device value {}",
        or_dash(detail.defender.risk_score.as_deref()),
        or_dash(detail.defender.exposure_level.as_deref()),
        or_dash(detail.defender.device_value.as_deref())
    );
    say!(out);
    say!(out, "Identity");
    say!(out, "  device id       {}", detail.device_id);
    say!(
        out,
        "  Entra device id {}",
        or_dash(detail.aad_device_id.as_deref())
    );
    say!(out, "  OS              {}", detail.os.describe());
    say!(
        out,
        "  health          {} ({})",
        or_dash(detail.health_status.as_deref()),
        or_dash(detail.onboarding_status.as_deref())
    );
    say!(
        out,
        "  group           {}",
        or_dash(detail.rbac_group_name.as_deref())
    );
    say!(
        out,
        "  tags            {}",
        if detail.tags.is_empty() {
            "—".to_owned()
        } else {
            detail.tags.join(", ")
        }
    );
    if let Some(merged) = &detail.merged_into {
        say!(out, "  merged into     {merged}");
    }
    say!(
        out,
        "  seen by Defender {} – {}",
        detail.defender_first_seen.map_or("—".to_owned(), time),
        detail.defender_last_seen.map_or("—".to_owned(), time)
    );
    let state = |active: bool| if active { "current" } else { "former" };
    say!(out);
    say!(out, "Host names");
    for name in &detail.host_names {
        say!(
            out,
            "  {}  {}, seen {} – {}",
            name.value,
            state(name.active),
            time(name.first_seen),
            time(name.last_seen)
        );
    }
    say!(out);
    say!(out, "IP addresses (device record)");
    for address in &detail.ip_addresses {
        say!(
            out,
            "  {}  {}{}{}, {}, seen {} – {}",
            address.address,
            address.class,
            match address.source {
                mde_car_core::search::RelationSource::ExternalAddress => ", external",
                _ => "",
            },
            address
                .mac
                .as_deref()
                .map(|mac| format!(", MAC {mac}"))
                .unwrap_or_default(),
            state(address.active),
            time(address.first_seen),
            time(address.last_seen)
        );
    }
    if !detail.ip_history.is_empty() {
        say!(out);
        say!(out, "IP history (DeviceNetworkInfo)");
        for lease in &detail.ip_history {
            say!(
                out,
                "  {}  {} – {}{}",
                lease.address,
                time(lease.since),
                lease.until.map_or("now".to_owned(), time),
                lease
                    .mac
                    .as_deref()
                    .map(|mac| format!(", MAC {mac}"))
                    .unwrap_or_default()
            );
        }
    }
    say!(out);
    say!(out, "MAC addresses");
    for mac in &detail.mac_addresses {
        say!(
            out,
            "  {}  {}, seen {} – {}",
            mac.value,
            state(mac.active),
            time(mac.first_seen),
            time(mac.last_seen)
        );
    }
    say!(out);
    say!(out, "Accounts");
    for account in &detail.accounts {
        say!(
            out,
            "  {}\\{}  {}{}, logons {} – {}",
            or_dash(account.domain.as_deref()),
            account.name,
            or_dash(account.sid.as_deref()),
            if account.is_local_admin == Some(true) {
                ", local admin"
            } else {
                ""
            },
            time(account.first_seen),
            time(account.last_seen)
        );
    }
    say!(out);
    say!(out, "Alerts ({})", alerts_text(&detail.alert_counts));
    for alert in &detail.alerts {
        say!(
            out,
            "  {} {} [{}] {}  created {}",
            alert.severity,
            alert.status,
            alert.alert_id,
            alert.title,
            time(alert.created)
        );
    }
    say!(out);
    say!(
        out,
        "Vulnerabilities ({})",
        vulnerabilities_text(&detail.vulnerability_summary)
    );
    for vulnerability in &detail.vulnerabilities {
        say!(
            out,
            "  {}  CVSS {}  {} {} {}{}",
            vulnerability.cve,
            vulnerability
                .cvss
                .map_or("—".to_owned(), |cvss| format!("{cvss:.1}")),
            vulnerability.vendor,
            vulnerability.product,
            vulnerability.version,
            if vulnerability.active {
                ""
            } else {
                "  (fixed)"
            }
        );
    }
    say!(out);
    say!(
        out,
        "Source: connection {} ({}), first synced {} (run #{}), last synced {} (run #{})",
        detail
            .connection
            .name
            .as_deref()
            .unwrap_or(&detail.connection.id),
        detail.connection.id,
        time(detail.first_synced),
        detail
            .first_run
            .as_ref()
            .map_or("?".to_owned(), |run| run.id.to_string()),
        time(detail.last_synced),
        detail
            .last_run
            .as_ref()
            .map_or("?".to_owned(), |run| run.id.to_string()),
    );
}
