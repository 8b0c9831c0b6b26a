//! `mde-car search`: the Explorer's result list on a terminal. `--json` prints the core's
//! result types as they serialize (documented in the README, "Searching").

use std::process::ExitCode;

use mde_car_core::{
    Core,
    search::{
        AlertCounts, AssetHit, ConnectionRef, DefenderRating, SearchRequest, SearchResults,
        VulnerabilitySummary,
    },
};

use crate::{
    cli::SearchArgs,
    print::{emit, emit_text, or_dash, say, time_or_dash},
};

pub(crate) async fn run(core: &Core, args: SearchArgs) -> anyhow::Result<ExitCode> {
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
        emit(&out)
    } else {
        print_results(&mut out, &results);
        emit_text(&out)
    }
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
            .map(|c| format!(" in {}", connection_name(c)))
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
    // The next page's flag, ready to paste; none after the last page or past the end.
    if results.offset + shown < results.total && shown > 0 {
        say!(out);
        say!(out, "more: --offset {}", results.offset + shown);
    }
}

fn print_hit(out: &mut String, hit: &AssetHit) {
    say!(
        out,
        "#{}  {}  [{}]  {}{}",
        hit.asset_id,
        hit.name.as_deref().unwrap_or(&hit.device_id),
        connection_name(&hit.connection),
        hit.os.describe(),
        if hit.active { "" } else { "  (inactive)" }
    );
    say!(
        out,
        "    risk {:.1} {} · Defender {}",
        hit.risk.score,
        hit.risk.level.key(),
        defender_text(&hit.defender),
    );
    say!(
        out,
        "    {} · {} · last seen {}",
        alerts_text(&hit.alerts),
        vulnerabilities_text(&hit.vulnerabilities),
        time_or_dash(hit.last_seen)
    );
    for relation in &hit.relations {
        say!(out, "    {}", relation.text);
    }
}

/// A connection removed since the sync has no name any more; its id still tells it apart.
pub(crate) fn connection_name(connection: &ConnectionRef) -> &str {
    connection.name.as_deref().unwrap_or(&connection.id)
}

/// Defender's own ratings, shown beside mde-car's risk so the two can be compared.
pub(crate) fn defender_text(rating: &DefenderRating) -> String {
    format!(
        "risk {}, exposure {}, device value {}",
        or_dash(rating.risk_score.as_deref()),
        or_dash(rating.exposure_level.as_deref()),
        or_dash(rating.device_value.as_deref())
    )
}

pub(crate) fn alerts_text(alerts: &AlertCounts) -> String {
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

pub(crate) fn vulnerabilities_text(summary: &VulnerabilitySummary) -> String {
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
