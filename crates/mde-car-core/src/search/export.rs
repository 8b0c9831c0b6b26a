//! Exports of what the Explorer shows — a search's results (every page), an IP's timeline and
//! an asset's detail — as CSV or JSON, for a ticket, a spreadsheet or another tool.
//!
//! The formatting lives here so every shell writes the same files. Both formats carry the
//! same facts:
//! - **CSV**: one header row, then one row per item (a result, a timeline bar, or one fact of
//!   the device view in a long `section,key,value,…` layout); RFC 4180 quoting by the `csv`
//!   crate; times in ISO 8601 UTC (`2026-11-20T14:00:00Z`). Free-text cells that a spreadsheet
//!   would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) get
//!   a leading `'`, because device names, alert titles and tags come from the tenant and are
//!   not trusted; numbers are written as they are.
//! - **JSON**: the same shapes `mde-car search --json` and `mde-car asset --json` print, with
//!   `exportedAt` added (and, for results, how many of the matches the file holds).
//!
//! A results export holds at most [`MAX_EXPORT_ROWS`] assets (10 pages of the largest size)
//! and says so when the search matched more: a larger list is a range that needs narrowing,
//! not a file to read.

use std::{borrow::Cow, path::Path};

use chrono::Utc;
use rusqlite::Connection as Db;
use serde::Serialize;

use super::{
    AccountView, AddressLink, AlertView, AssetDetail, AssetHit, AssetRisk, ConnectionRef,
    IpTimeline, Lease, LinkedValue, MAX_LIMIT, Query, RelationKind, RelationSource, Result,
    SearchError, SearchRequest, SearchResults, SortKey, VulnerabilityView, asset_detail, blocking,
    hits::{Page, prepare_search, search_in},
    ip_timeline,
};
use crate::{
    config::Connection,
    model::{Timestamp, json_time},
    store::Store,
};

/// The most assets one results export holds.
pub const MAX_EXPORT_ROWS: usize = 10_000;

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    /// `csv` or `json`, any case.
    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "json" => Some(ExportFormat::Json),
            _ => None,
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }

    /// The name a save dialog's filter shows.
    pub fn label(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV (comma-separated values)",
            ExportFormat::Json => "JSON",
        }
    }
}

/// A formatted export, ready to be written where the person chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// A file name to suggest: `mde-car-search-10.1.2.0_24-20261120T1400Z.csv`.
    pub file_name: String,
    pub format: ExportFormat,
    pub content: String,
    /// Items in the file: results, timeline bars, or (for an asset) 1.
    pub items: usize,
    /// Items there were; more than `items` when the export was capped.
    pub total: usize,
    /// Whether the cap left items out.
    pub truncated: bool,
    /// One sentence for the person: "Exported 120 results" or what was left out.
    pub summary: String,
}

impl Export {
    /// Writes the file, replacing one that exists (the save dialog has asked about that):
    /// atomically and readable by the user only (see [`crate::paths::write_atomically`]), so a
    /// full disk never leaves half an export and other local users cannot read it.
    pub async fn write_to(&self, path: &Path) -> Result<()> {
        let (target, content) = (path.to_owned(), self.content.clone());
        let written = tokio::task::spawn_blocking(move || {
            crate::paths::write_atomically(&target, content.as_bytes())
        })
        .await
        .unwrap_or_else(|error| Err(std::io::Error::other(error.to_string())));
        written.map_err(|error| SearchError::ExportFile {
            path: path.display().to_string(),
            reason: error.to_string(),
        })
    }
}

/// Every page of a search's results (up to [`MAX_EXPORT_ROWS`] assets), sorted as asked; the
/// request's offset and limit are ignored.
pub async fn export_search(
    store: &Store,
    connections: &[Connection],
    request: &SearchRequest,
    format: ExportFormat,
) -> Result<Export> {
    let prepared = prepare_search(connections, request)?;
    let store = store.clone();
    let (sort, reverse) = (request.sort, request.reverse);
    let results = blocking(move || {
        store.read(|db| {
            all_results(
                db,
                &prepared.query,
                prepared.notes,
                prepared.filter.as_ref(),
                sort,
                reverse,
                &prepared.names,
                MAX_LIMIT,
                MAX_EXPORT_ROWS,
            )
        })
    })
    .await?;
    search_export(&results, format, Utc::now())
}

/// Who held `address` when, as [`ip_timeline`] answers it.
pub async fn export_ip_timeline(
    store: &Store,
    connections: &[Connection],
    address: &str,
    connection: Option<&str>,
    format: ExportFormat,
) -> Result<Export> {
    let timeline = ip_timeline(store, connections, address, connection).await?;
    timeline_export(&timeline, format, Utc::now())
}

/// The device view of one asset, as [`asset_detail`] answers it.
pub async fn export_asset(
    store: &Store,
    connections: &[Connection],
    reference: &str,
    format: ExportFormat,
) -> Result<Export> {
    let detail = asset_detail(store, connections, reference).await?;
    asset_export(&detail, format, Utc::now())
}

/// Reads every page (of `page_size`) of a search, up to `cap` assets, into one result set.
/// The first page's notes stand for all of them; `limit` is how many the set holds.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one search, as search_in takes them"
)]
pub(super) fn all_results(
    db: &Db,
    query: &Query,
    notes: Vec<String>,
    filter: Option<&ConnectionRef>,
    sort: SortKey,
    reverse: bool,
    names: &std::collections::HashMap<String, String>,
    page_size: usize,
    cap: usize,
) -> rusqlite::Result<SearchResults> {
    let page_size = page_size.clamp(1, MAX_LIMIT);
    let page = |offset: usize, limit: usize| Page {
        sort,
        reverse,
        offset,
        limit,
    };
    let mut results = search_in(
        db,
        query.clone(),
        notes,
        filter,
        page(0, page_size.min(cap)),
        names,
    )?;
    let wanted = results.total.min(cap);
    while results.hits.len() < wanted {
        let offset = results.hits.len();
        let next = search_in(
            db,
            query.clone(),
            Vec::new(),
            filter,
            page(offset, page_size.min(wanted - offset)),
            names,
        )?;
        if next.hits.is_empty() {
            break;
        }
        results.hits.extend(next.hits);
    }
    results.limit = results.hits.len();
    Ok(results)
}

/// `2026-11-20T14:00:00.000Z`: the one time format of every surface (see `model::json_time`).
fn iso(time: &Timestamp) -> String {
    json_time::text(time)
}

fn iso_opt(time: Option<&Timestamp>) -> String {
    time.map(iso).unwrap_or_default()
}

/// A free-text cell a spreadsheet will not run as a formula (OWASP "CSV injection"): one whose
/// first character is a formula sign, or a tab or line break, or that reaches one after leading
/// spaces (spreadsheets skip them), gets a leading `'`. The fullwidth signs count too: some
/// spreadsheets fold `＝` into `=`.
fn text(value: &str) -> Cow<'_, str> {
    const FORMULA: [char; 8] = ['=', '+', '-', '@', '＝', '＋', '－', '＠'];
    let starts_control = value.starts_with(['\t', '\r', '\n']);
    let first = value.trim_start().chars().next();
    if starts_control || first.is_some_and(|c| FORMULA.contains(&c)) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

fn opt_text(value: Option<&String>) -> Cow<'_, str> {
    value.map_or(Cow::Borrowed(""), |value| text(value))
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// `20261120T1400Z`, for file names.
fn stamp(time: &Timestamp) -> String {
    time.format("%Y%m%dT%H%MZ").to_string()
}

/// A file-name-safe version of a query or device name: letters, digits, `.` and `-` kept,
/// everything else `_`, at most 60 characters.
fn slug(value: &str) -> String {
    let cleaned: String = value
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let cleaned = cleaned.trim_matches(['_', '.']).to_owned();
    if cleaned.is_empty() {
        "export".to_owned()
    } else {
        cleaned
    }
}

fn file_name(kind: &str, subject: &str, format: ExportFormat, now: &Timestamp) -> String {
    format!(
        "mde-car-{kind}-{}-{}.{}",
        slug(subject),
        stamp(now),
        format.extension()
    )
}

struct Table {
    writer: csv::Writer<Vec<u8>>,
}

impl Table {
    fn new(header: &[&str]) -> Result<Table> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer
            .write_record(header)
            .map_err(|error| csv_error(&error))?;
        Ok(Table { writer })
    }

    fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cow<'a, str>>) -> Result<()> {
        for cell in cells {
            self.writer
                .write_field(cell.as_bytes())
                .map_err(|error| csv_error(&error))?;
        }
        self.writer
            .write_record(None::<&[u8]>)
            .map_err(|error| csv_error(&error))
    }

    fn finish(self) -> Result<String> {
        let bytes = self.writer.into_inner().map_err(|error| {
            SearchError::Internal(format!("the CSV could not be finished: {error}"))
        })?;
        String::from_utf8(bytes)
            .map_err(|error| SearchError::Internal(format!("the CSV is not UTF-8: {error}")))
    }
}

fn csv_error(error: &csv::Error) -> SearchError {
    SearchError::Internal(format!("a CSV row could not be written: {error}"))
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|error| SearchError::Internal(format!("the JSON could not be written: {error}")))
}

fn relation_kind(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::CurrentHolder => "current_holder",
        RelationKind::PastHolder => "past_holder",
        RelationKind::HolderAtTime => "holder_at_time",
        RelationKind::HostName => "host_name",
        RelationKind::MacAddress => "mac_address",
    }
}

fn relation_source(source: RelationSource) -> &'static str {
    match source {
        RelationSource::DeviceRecord => "device_record",
        RelationSource::ExternalAddress => "external_address",
        RelationSource::IpHistory => "ip_history",
        RelationSource::HostName => "host_name",
        RelationSource::MacAddress => "mac_address",
    }
}

fn connection_name(connection: &ConnectionRef) -> &str {
    connection.name.as_deref().unwrap_or(&connection.id)
}

fn cvss(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.1}")).unwrap_or_default()
}

/// The columns of a results CSV, one row per asset.
pub const SEARCH_COLUMNS: &[&str] = &[
    "asset_id",
    "name",
    "connection",
    "device_id",
    "os",
    "health_status",
    "active",
    "risk_score",
    "risk_level",
    "risk_summary",
    "defender_risk_level",
    "exposure_level",
    "device_value",
    "alerts_high",
    "alerts_medium",
    "alerts_low",
    "alerts_informational",
    "vulnerabilities",
    "vulnerabilities_critical",
    "vulnerabilities_high",
    "max_cvss",
    "relation",
    "relation_value",
    "address_class",
    "relation_current",
    "relation_first_seen",
    "relation_last_seen",
    "relation_until",
    "relations",
    "last_seen",
    "last_synced",
];

fn hit_row(table: &mut Table, hit: &AssetHit) -> Result<()> {
    let strongest = hit.relations.first();
    let relations = hit
        .relations
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let os = hit.os.describe();
    let cells: Vec<Cow<'_, str>> = vec![
        hit.asset_id.to_string().into(),
        opt_text(hit.name.as_ref()),
        text(connection_name(&hit.connection)),
        text(&hit.device_id),
        text(&os),
        opt_text(hit.health_status.as_ref()),
        yes_no(hit.active).into(),
        format!("{:.1}", hit.risk.score).into(),
        hit.risk.level.key().into(),
        text(&hit.risk.summary),
        opt_text(hit.defender.risk_score.as_ref()),
        opt_text(hit.defender.exposure_level.as_ref()),
        opt_text(hit.defender.device_value.as_ref()),
        hit.alerts.high.to_string().into(),
        hit.alerts.medium.to_string().into(),
        hit.alerts.low.to_string().into(),
        hit.alerts.informational.to_string().into(),
        hit.vulnerabilities.active.to_string().into(),
        hit.vulnerabilities.critical.to_string().into(),
        hit.vulnerabilities.high.to_string().into(),
        cvss(hit.vulnerabilities.max_cvss).into(),
        strongest
            .map(|r| relation_kind(r.kind))
            .unwrap_or_default()
            .into(),
        strongest.map_or(Cow::Borrowed(""), |r| text(&r.value)),
        strongest
            .and_then(|r| r.address_class.clone())
            .unwrap_or_default()
            .into(),
        strongest
            .map(|r| yes_no(r.current))
            .unwrap_or_default()
            .into(),
        strongest
            .map(|r| iso(&r.first_seen))
            .unwrap_or_default()
            .into(),
        strongest
            .map(|r| iso(&r.last_seen))
            .unwrap_or_default()
            .into(),
        iso_opt(strongest.and_then(|r| r.until.as_ref())).into(),
        text(&relations),
        iso_opt(hit.last_seen.as_ref()).into(),
        iso(&hit.last_synced).into(),
    ];
    table.row(cells)
}

/// A results export as JSON: the search and its answer, with what the file holds.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchExportJson<'a> {
    exported_at: String,
    query: &'a Query,
    interpretation: &'a str,
    notes: &'a [String],
    connection: Option<&'a ConnectionRef>,
    sort: SortKey,
    reverse: bool,
    /// Matching assets in all.
    total: usize,
    /// Assets in this file.
    exported: usize,
    truncated: bool,
    hits: &'a [AssetHit],
}

/// Formats a results set (as [`export_search`] gathers it) in `format`.
pub fn search_export(
    results: &SearchResults,
    format: ExportFormat,
    now: Timestamp,
) -> Result<Export> {
    let items = results.hits.len();
    let truncated = results.total > items;
    let content = match format {
        ExportFormat::Csv => {
            let mut table = Table::new(SEARCH_COLUMNS)?;
            for hit in &results.hits {
                hit_row(&mut table, hit)?;
            }
            table.finish()?
        }
        ExportFormat::Json => json(&SearchExportJson {
            exported_at: iso(&now),
            query: &results.query,
            interpretation: &results.interpretation,
            notes: &results.notes,
            connection: results.connection.as_ref(),
            sort: results.sort,
            reverse: results.reverse,
            total: results.total,
            exported: items,
            truncated,
            hits: &results.hits,
        })?,
    };
    let summary = if truncated {
        format!(
            "Exported the first {items} of {} results (an export holds at most {MAX_EXPORT_ROWS}); narrow the search for the rest",
            results.total
        )
    } else {
        format!(
            "Exported {items} {}",
            if items == 1 { "result" } else { "results" }
        )
    };
    Ok(Export {
        file_name: file_name("search", &results.query.to_string(), format, &now),
        format,
        content,
        items,
        total: results.total,
        truncated,
        summary,
    })
}

/// The columns of a timeline CSV, one row per interval.
pub const TIMELINE_COLUMNS: &[&str] = &[
    "address",
    "address_class",
    "asset_id",
    "name",
    "connection",
    "device_id",
    "source",
    "from",
    "until",
    "current",
    "last_seen",
    "risk_score",
    "risk_level",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TimelineExportJson<'a> {
    exported_at: String,
    #[serde(flatten)]
    timeline: &'a IpTimeline,
}

/// Formats an IP timeline in `format`.
pub fn timeline_export(
    timeline: &IpTimeline,
    format: ExportFormat,
    now: Timestamp,
) -> Result<Export> {
    let content = match format {
        ExportFormat::Csv => {
            let mut table = Table::new(TIMELINE_COLUMNS)?;
            for span in &timeline.spans {
                let holder = timeline
                    .holders
                    .iter()
                    .find(|h| h.asset_id == span.asset_id);
                table.row([
                    Cow::Borrowed(timeline.address.as_str()),
                    timeline.class.as_str().into(),
                    span.asset_id.to_string().into(),
                    holder.map_or(Cow::Borrowed(""), |h| opt_text(h.name.as_ref())),
                    holder.map_or(Cow::Borrowed(""), |h| text(connection_name(&h.connection))),
                    holder.map_or(Cow::Borrowed(""), |h| text(&h.device_id)),
                    relation_source(span.source).into(),
                    iso(&span.from).into(),
                    iso_opt(span.until.as_ref()).into(),
                    yes_no(span.until.is_none()).into(),
                    iso(&span.last_seen).into(),
                    holder
                        .map(|h| format!("{:.1}", h.risk.score))
                        .unwrap_or_default()
                        .into(),
                    holder
                        .map(|h| h.risk.level.key())
                        .unwrap_or_default()
                        .into(),
                ])?;
            }
            table.finish()?
        }
        ExportFormat::Json => json(&TimelineExportJson {
            exported_at: iso(&now),
            timeline,
        })?,
    };
    let items = timeline.spans.len();
    Ok(Export {
        file_name: file_name("ip", &timeline.address, format, &now),
        format,
        content,
        items,
        total: items,
        truncated: false,
        summary: format!(
            "Exported {items} {} of {} held by {} {}",
            if items == 1 { "interval" } else { "intervals" },
            timeline.address,
            timeline.holders.len(),
            if timeline.holders.len() == 1 {
                "device"
            } else {
                "devices"
            }
        ),
    })
}

/// The columns of an asset CSV: one fact per row, grouped by section.
pub const ASSET_COLUMNS: &[&str] = &[
    "section",
    "key",
    "value",
    "detail",
    "first_seen",
    "last_seen",
    "active",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AssetExportJson<'a> {
    exported_at: String,
    #[serde(flatten)]
    detail: &'a AssetDetail,
}

/// One row of the asset CSV, before quoting.
struct Fact {
    section: &'static str,
    key: String,
    value: String,
    detail: String,
    first_seen: Option<Timestamp>,
    last_seen: Option<Timestamp>,
    active: Option<bool>,
}

impl Fact {
    fn identity(key: &str, value: impl Into<String>) -> Fact {
        Fact {
            section: "identity",
            key: key.to_owned(),
            value: value.into(),
            detail: String::new(),
            first_seen: None,
            last_seen: None,
            active: None,
        }
    }
}

/// Every fact of the device view, section by section in the order the view shows them.
fn asset_facts(detail: &AssetDetail) -> Vec<Fact> {
    let mut facts = identity_facts(detail);
    facts.extend(risk_facts(&detail.risk));
    facts.extend(
        detail
            .host_names
            .iter()
            .map(|name| linked_fact("host_name", name)),
    );
    facts.extend(detail.ip_addresses.iter().map(address_fact));
    facts.extend(detail.ip_history.iter().map(lease_fact));
    facts.extend(
        detail
            .mac_addresses
            .iter()
            .map(|mac| linked_fact("mac_address", mac)),
    );
    facts.extend(detail.accounts.iter().map(account_fact));
    facts.extend(detail.alerts.iter().map(alert_fact));
    facts.extend(detail.vulnerabilities.iter().map(vulnerability_fact));
    facts.extend(run_facts(detail));
    facts
}

/// Identity: who the device is, where it is managed, and Defender's rating of it.
fn identity_facts(detail: &AssetDetail) -> Vec<Fact> {
    let some = |value: &Option<String>| value.clone().unwrap_or_default();
    [
        ("asset_id", detail.asset_id.to_string()),
        ("name", some(&detail.name)),
        ("device_id", detail.device_id.clone()),
        ("connection", connection_name(&detail.connection).to_owned()),
        ("connection_id", detail.connection.id.clone()),
        ("os", detail.os.describe()),
        ("os_architecture", some(&detail.os.architecture)),
        ("health_status", some(&detail.health_status)),
        ("onboarding_status", some(&detail.onboarding_status)),
        ("aad_device_id", some(&detail.aad_device_id)),
        (
            "aad_joined",
            detail.aad_joined.map(yes_no).unwrap_or_default().to_owned(),
        ),
        ("device_group", some(&detail.rbac_group_name)),
        ("tags", detail.tags.join("; ")),
        ("active", yes_no(detail.active).to_owned()),
        ("inactive_reason", some(&detail.inactive_reason)),
        (
            "defender_first_seen",
            iso_opt(detail.defender_first_seen.as_ref()),
        ),
        (
            "defender_last_seen",
            iso_opt(detail.defender_last_seen.as_ref()),
        ),
        ("defender_risk_level", some(&detail.defender.risk_score)),
        ("exposure_level", some(&detail.defender.exposure_level)),
        ("device_value", some(&detail.defender.device_value)),
    ]
    .into_iter()
    .map(|(key, value)| Fact::identity(key, value))
    .collect()
}

/// Risk: the computed score, then each component of it.
fn risk_facts(risk: &AssetRisk) -> Vec<Fact> {
    let mut facts = vec![Fact {
        section: "risk",
        key: "score".to_owned(),
        value: format!("{:.1}", risk.score),
        detail: risk.summary.clone(),
        first_seen: None,
        last_seen: None,
        active: None,
    }];
    facts.extend(risk.components.iter().map(|component| {
        Fact {
            section: "risk",
            key: serde_json::to_value(component.factor)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            value: format!("{:.1}", component.points),
            detail: component.explanation.clone(),
            first_seen: None,
            last_seen: None,
            active: None,
        }
    }));
    facts
}

/// A host name or a MAC of the device.
fn linked_fact(section: &'static str, linked: &LinkedValue) -> Fact {
    Fact {
        section,
        key: linked.value.clone(),
        value: String::new(),
        detail: String::new(),
        first_seen: Some(linked.first_seen),
        last_seen: Some(linked.last_seen),
        active: Some(linked.active),
    }
}

/// An address of the device record (or its external address), with its adapter.
fn address_fact(address: &AddressLink) -> Fact {
    let mut about = vec![relation_source(address.source).to_owned()];
    about.extend(address.mac.as_ref().map(|mac| format!("MAC {mac}")));
    about.extend(address.interface_type.clone());
    Fact {
        section: "ip_address",
        key: address.address.clone(),
        value: address.class.clone(),
        detail: about.join(", "),
        first_seen: Some(address.first_seen),
        last_seen: Some(address.last_seen),
        active: Some(address.active),
    }
}

/// A lease of the IP history.
fn lease_fact(lease: &Lease) -> Fact {
    Fact {
        section: "ip_history",
        key: lease.address.clone(),
        value: lease.class.clone(),
        detail: lease
            .mac
            .as_ref()
            .map(|mac| format!("MAC {mac}"))
            .unwrap_or_default(),
        first_seen: Some(lease.since),
        last_seen: Some(lease.until.unwrap_or(lease.last_report)),
        active: Some(lease.until.is_none()),
    }
}

/// An account that logged on, as `DOMAIN\name`.
fn account_fact(account: &AccountView) -> Fact {
    let mut about = Vec::new();
    about.extend(account.sid.clone());
    if account.is_local_admin == Some(true) {
        about.push("local admin".to_owned());
    }
    Fact {
        section: "account",
        key: match &account.domain {
            Some(domain) => format!("{domain}\\{}", account.name),
            None => account.name.clone(),
        },
        value: account.logon_type.clone().unwrap_or_default(),
        detail: about.join(", "),
        first_seen: Some(account.first_seen),
        last_seen: Some(account.last_seen),
        active: Some(account.active),
    }
}

fn alert_fact(alert: &AlertView) -> Fact {
    Fact {
        section: "alert",
        key: alert.alert_id.clone(),
        value: alert.severity.clone(),
        detail: format!("{}: {}", alert.status, alert.title),
        first_seen: Some(alert.created),
        last_seen: Some(alert.updated),
        active: Some(alert.active),
    }
}

/// A CVE, its score and the software version it is in.
fn vulnerability_fact(vulnerability: &VulnerabilityView) -> Fact {
    Fact {
        section: "vulnerability",
        key: vulnerability.cve.clone(),
        value: cvss(vulnerability.cvss),
        detail: format!(
            "{} {} {}{}",
            vulnerability.vendor,
            vulnerability.product,
            vulnerability.version,
            vulnerability
                .severity
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default()
        ),
        first_seen: Some(vulnerability.first_seen),
        last_seen: Some(vulnerability.last_seen),
        active: Some(vulnerability.active),
    }
}

/// The first and the last sync run that listed the device.
fn run_facts(detail: &AssetDetail) -> Vec<Fact> {
    [
        ("first_run", &detail.first_run),
        ("last_run", &detail.last_run),
    ]
    .into_iter()
    .filter_map(|(key, run)| {
        run.as_ref().map(|run| Fact {
            section: "sync_run",
            key: key.to_owned(),
            value: run.id.to_string(),
            detail: format!("{} {} run, {}", run.trigger, run.mode, run.status),
            first_seen: Some(run.started_at),
            last_seen: run.finished_at,
            active: None,
        })
    })
    .collect()
}

/// Formats an asset's detail in `format`.
pub fn asset_export(detail: &AssetDetail, format: ExportFormat, now: Timestamp) -> Result<Export> {
    let content = match format {
        ExportFormat::Csv => {
            let mut table = Table::new(ASSET_COLUMNS)?;
            for fact in asset_facts(detail) {
                table.row([
                    Cow::Borrowed(fact.section),
                    text(&fact.key),
                    text(&fact.value),
                    text(&fact.detail),
                    iso_opt(fact.first_seen.as_ref()).into(),
                    iso_opt(fact.last_seen.as_ref()).into(),
                    fact.active.map(yes_no).unwrap_or_default().into(),
                ])?;
            }
            table.finish()?
        }
        ExportFormat::Json => json(&AssetExportJson {
            exported_at: iso(&now),
            detail,
        })?,
    };
    let name = detail.name.as_deref().unwrap_or(&detail.device_id);
    Ok(Export {
        file_name: file_name("asset", name, format, &now),
        format,
        content,
        items: 1,
        total: 1,
        truncated: false,
        summary: format!("Exported the device view of {name}"),
    })
}

#[cfg(test)]
mod tests;
