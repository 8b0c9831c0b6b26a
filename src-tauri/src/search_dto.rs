//! The Explorer's wire types: serde + specta mirrors of `mde_car_core::search`, converted by
//! hand like `dto.rs` does for connections. Times travel as RFC 3339 strings; counts as u32.
//! Asset and run numbers (SQLite row ids) stay i64 on the wire and are typed `number` for
//! TypeScript (`#[specta(type = u32)]`): exact below 2^53. Scores and CVSS are f64, which
//! specta types `number | null` (a NaN would arrive as null).

use mde_car_core::search as core;
use serde::{Deserialize, Serialize};
use specta::Type;

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn small_usize(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn time(time: mde_car_core::model::Timestamp) -> String {
    time.to_rfc3339()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    Relevance,
    Risk,
    Name,
    LastSeen,
}

impl From<core::SortKey> for SortKey {
    fn from(key: core::SortKey) -> Self {
        match key {
            core::SortKey::Relevance => SortKey::Relevance,
            core::SortKey::Risk => SortKey::Risk,
            core::SortKey::Name => SortKey::Name,
            core::SortKey::LastSeen => SortKey::LastSeen,
        }
    }
}

impl From<SortKey> for core::SortKey {
    fn from(key: SortKey) -> Self {
        match key {
            SortKey::Relevance => core::SortKey::Relevance,
            SortKey::Risk => core::SortKey::Risk,
            SortKey::Name => core::SortKey::Name,
            SortKey::LastSeen => core::SortKey::LastSeen,
        }
    }
}

/// One search as the Explorer asks it.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub query: String,
    /// A separately given time; the same as `@ time` in the text.
    pub at: Option<String>,
    /// Only this connection (id or name).
    pub connection: Option<String>,
    pub sort: SortKey,
    pub reverse: bool,
    pub offset: u32,
    /// At most 1,000.
    pub limit: u32,
}

impl From<SearchRequest> for core::SearchRequest {
    fn from(request: SearchRequest) -> Self {
        let blank_to_none = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        core::SearchRequest {
            query: request.query,
            at: blank_to_none(request.at),
            connection: blank_to_none(request.connection),
            sort: request.sort.into(),
            reverse: request.reverse,
            offset: request.offset as usize,
            limit: request.limit as usize,
        }
    }
}

/// What the query was read as.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct QueryInfo {
    /// `ip`, `ip_at_time`, `cidr`, `cidr_at_time`, `hostname` or `mac`.
    pub kind: String,
    /// The searched value in its normal form.
    pub value: String,
    pub at: Option<String>,
}

impl From<&core::Query> for QueryInfo {
    fn from(query: &core::Query) -> Self {
        QueryInfo {
            kind: query.kind().to_owned(),
            value: query.value(),
            at: query.at().map(time),
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRef {
    pub id: String,
    /// `None` when the connection is no longer configured.
    pub name: Option<String>,
}

impl From<core::ConnectionRef> for ConnectionRef {
    fn from(connection: core::ConnectionRef) -> Self {
        ConnectionRef {
            id: connection.id,
            name: connection.name,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DefenderRating {
    pub risk_score: Option<String>,
    pub exposure_level: Option<String>,
    pub device_value: Option<String>,
}

impl From<core::DefenderRating> for DefenderRating {
    fn from(rating: core::DefenderRating) -> Self {
        DefenderRating {
            risk_score: rating.risk_score,
            exposure_level: rating.exposure_level,
            device_value: rating.device_value,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    pub platform: Option<String>,
    pub version: Option<String>,
    pub build: Option<u32>,
    pub release: Option<String>,
    pub architecture: Option<String>,
    /// "Windows11 23H2 (build 22631)".
    pub description: String,
}

impl From<core::OsInfo> for OsInfo {
    fn from(os: core::OsInfo) -> Self {
        OsInfo {
            description: os.describe(),
            platform: os.platform,
            version: os.version,
            build: os.build.and_then(|b| u32::try_from(b).ok()),
            release: os.release,
            architecture: os.architecture,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl From<core::RiskLevel> for RiskLevel {
    fn from(level: core::RiskLevel) -> Self {
        match level {
            core::RiskLevel::None => RiskLevel::None,
            core::RiskLevel::Low => RiskLevel::Low,
            core::RiskLevel::Medium => RiskLevel::Medium,
            core::RiskLevel::High => RiskLevel::High,
            core::RiskLevel::Critical => RiskLevel::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum RiskFactor {
    HighestCvss,
    SevereVulnerabilities,
    Alerts,
    DeviceValue,
    Cap,
}

impl From<core::RiskFactor> for RiskFactor {
    fn from(factor: core::RiskFactor) -> Self {
        match factor {
            core::RiskFactor::HighestCvss => RiskFactor::HighestCvss,
            core::RiskFactor::SevereVulnerabilities => RiskFactor::SevereVulnerabilities,
            core::RiskFactor::Alerts => RiskFactor::Alerts,
            core::RiskFactor::DeviceValue => RiskFactor::DeviceValue,
            core::RiskFactor::Cap => RiskFactor::Cap,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RiskComponent {
    pub factor: RiskFactor,
    /// What this part adds; the parts add up to the score.
    pub points: f64,
    pub explanation: String,
}

/// mde-car's 0–10 risk with its "why this score".
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AssetRisk {
    pub score: f64,
    pub level: RiskLevel,
    pub components: Vec<RiskComponent>,
    pub summary: String,
}

impl From<core::AssetRisk> for AssetRisk {
    fn from(risk: core::AssetRisk) -> Self {
        AssetRisk {
            score: risk.score,
            level: risk.level.into(),
            components: risk
                .components
                .into_iter()
                .map(|c| RiskComponent {
                    factor: c.factor.into(),
                    points: c.points,
                    explanation: c.explanation,
                })
                .collect(),
            summary: risk.summary,
        }
    }
}

/// Active alerts by severity.
#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AlertCounts {
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub informational: u32,
    pub total: u32,
}

impl From<core::AlertCounts> for AlertCounts {
    fn from(counts: core::AlertCounts) -> Self {
        AlertCounts {
            high: small(counts.high),
            medium: small(counts.medium),
            low: small(counts.low),
            informational: small(counts.informational),
            total: small(counts.total()),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilitySummary {
    pub active: u32,
    pub critical: u32,
    pub high: u32,
    pub max_cvss: Option<f64>,
}

impl From<core::VulnerabilitySummary> for VulnerabilitySummary {
    fn from(summary: core::VulnerabilitySummary) -> Self {
        VulnerabilitySummary {
            active: small(summary.active),
            critical: small(summary.critical),
            high: small(summary.high),
            max_cvss: summary.max_cvss,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    CurrentHolder,
    PastHolder,
    HolderAtTime,
    HostName,
    MacAddress,
}

impl From<core::RelationKind> for RelationKind {
    fn from(kind: core::RelationKind) -> Self {
        match kind {
            core::RelationKind::CurrentHolder => RelationKind::CurrentHolder,
            core::RelationKind::PastHolder => RelationKind::PastHolder,
            core::RelationKind::HolderAtTime => RelationKind::HolderAtTime,
            core::RelationKind::HostName => RelationKind::HostName,
            core::RelationKind::MacAddress => RelationKind::MacAddress,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum RelationSource {
    DeviceRecord,
    ExternalAddress,
    IpHistory,
    HostName,
    MacAddress,
}

impl From<core::RelationSource> for RelationSource {
    fn from(source: core::RelationSource) -> Self {
        match source {
            core::RelationSource::DeviceRecord => RelationSource::DeviceRecord,
            core::RelationSource::ExternalAddress => RelationSource::ExternalAddress,
            core::RelationSource::IpHistory => RelationSource::IpHistory,
            core::RelationSource::HostName => RelationSource::HostName,
            core::RelationSource::MacAddress => RelationSource::MacAddress,
        }
    }
}

/// How a result relates to the query.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Relation {
    pub kind: RelationKind,
    pub source: RelationSource,
    pub value: String,
    /// private | public | link_local | loopback | other | external.
    pub address_class: Option<String>,
    pub current: bool,
    pub first_seen: String,
    pub last_seen: String,
    pub until: Option<String>,
    pub shared_by: Option<u32>,
    pub text: String,
}

impl From<core::Relation> for Relation {
    fn from(relation: core::Relation) -> Self {
        Relation {
            kind: relation.kind.into(),
            source: relation.source.into(),
            value: relation.value,
            address_class: relation.address_class,
            current: relation.current,
            first_seen: time(relation.first_seen),
            last_seen: time(relation.last_seen),
            until: relation.until.map(time),
            shared_by: relation.shared_by.map(small),
            text: relation.text,
        }
    }
}

/// One asset in the results.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AssetHit {
    #[specta(type = u32)]
    pub asset_id: i64,
    pub connection: ConnectionRef,
    pub device_id: String,
    pub name: Option<String>,
    pub os: OsInfo,
    pub health_status: Option<String>,
    pub active: bool,
    pub risk: AssetRisk,
    pub defender: DefenderRating,
    pub alerts: AlertCounts,
    pub vulnerabilities: VulnerabilitySummary,
    pub relations: Vec<Relation>,
    pub last_seen: Option<String>,
    pub last_synced: String,
}

impl From<core::AssetHit> for AssetHit {
    fn from(hit: core::AssetHit) -> Self {
        AssetHit {
            asset_id: hit.asset_id,
            connection: hit.connection.into(),
            device_id: hit.device_id,
            name: hit.name,
            os: hit.os.into(),
            health_status: hit.health_status,
            active: hit.active,
            risk: hit.risk.into(),
            defender: hit.defender.into(),
            alerts: hit.alerts.into(),
            vulnerabilities: hit.vulnerabilities.into(),
            relations: hit.relations.into_iter().map(Into::into).collect(),
            last_seen: hit.last_seen.map(time),
            last_synced: time(hit.last_synced),
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    pub query: QueryInfo,
    pub interpretation: String,
    pub notes: Vec<String>,
    pub connection: Option<ConnectionRef>,
    pub sort: SortKey,
    pub reverse: bool,
    pub total: u32,
    pub offset: u32,
    pub limit: u32,
    pub hits: Vec<AssetHit>,
}

impl From<core::SearchResults> for SearchResults {
    fn from(results: core::SearchResults) -> Self {
        SearchResults {
            query: (&results.query).into(),
            interpretation: results.interpretation,
            notes: results.notes,
            connection: results.connection.map(Into::into),
            sort: results.sort.into(),
            reverse: results.reverse,
            total: small_usize(results.total),
            offset: small_usize(results.offset),
            limit: small_usize(results.limit),
            hits: results.hits.into_iter().map(Into::into).collect(),
        }
    }
}

/// One bar of the IP timeline.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TimelineSpan {
    #[specta(type = u32)]
    pub asset_id: i64,
    pub source: RelationSource,
    pub from: String,
    /// `None` while the asset still holds it.
    pub until: Option<String>,
    pub last_seen: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct IpTimeline {
    pub address: String,
    pub family: u8,
    pub class: String,
    pub spans: Vec<TimelineSpan>,
    pub holders: Vec<AssetHit>,
    pub notes: Vec<String>,
}

impl From<core::IpTimeline> for IpTimeline {
    fn from(timeline: core::IpTimeline) -> Self {
        IpTimeline {
            address: timeline.address,
            family: timeline.family,
            class: timeline.class,
            spans: timeline
                .spans
                .into_iter()
                .map(|span| TimelineSpan {
                    asset_id: span.asset_id,
                    source: span.source.into(),
                    from: time(span.from),
                    until: span.until.map(time),
                    last_seen: time(span.last_seen),
                })
                .collect(),
            holders: timeline.holders.into_iter().map(Into::into).collect(),
            notes: timeline.notes,
        }
    }
}

/// A host name or MAC over time.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LinkedValue {
    pub value: String,
    pub first_seen: String,
    pub last_seen: String,
    pub active: bool,
}

impl From<core::LinkedValue> for LinkedValue {
    fn from(linked: core::LinkedValue) -> Self {
        LinkedValue {
            value: linked.value,
            first_seen: time(linked.first_seen),
            last_seen: time(linked.last_seen),
            active: linked.active,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AddressLink {
    pub address: String,
    pub family: u8,
    pub class: String,
    pub source: RelationSource,
    pub mac: Option<String>,
    pub interface_type: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub address: String,
    pub class: String,
    pub mac: Option<String>,
    pub since: String,
    pub until: Option<String>,
    pub last_report: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub domain: Option<String>,
    pub name: String,
    pub sid: Option<String>,
    pub logon_type: Option<String>,
    pub is_local_admin: Option<bool>,
    pub first_seen: String,
    pub last_seen: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AlertItem {
    pub alert_id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub active: bool,
    pub category: Option<String>,
    pub detection_source: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub created: String,
    pub updated: String,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub resolved: Option<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityItem {
    pub cve: String,
    pub cvss: Option<f64>,
    pub severity: Option<String>,
    pub vendor: String,
    pub product: String,
    pub version: String,
    pub first_seen: String,
    pub last_seen: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    #[specta(type = u32)]
    pub id: i64,
    pub mode: String,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
}

impl From<core::RunRef> for RunRef {
    fn from(run: core::RunRef) -> Self {
        RunRef {
            id: run.id,
            mode: run.mode,
            trigger: run.trigger,
            started_at: time(run.started_at),
            finished_at: run.finished_at.map(time),
            status: run.status,
        }
    }
}

/// The device view.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AssetDetail {
    #[specta(type = u32)]
    pub asset_id: i64,
    pub connection: ConnectionRef,
    pub device_id: String,
    pub name: Option<String>,
    pub os: OsInfo,
    pub health_status: Option<String>,
    pub onboarding_status: Option<String>,
    #[specta(type = Option<u32>)]
    pub rbac_group_id: Option<i64>,
    pub rbac_group_name: Option<String>,
    pub tags: Vec<String>,
    pub aad_device_id: Option<String>,
    pub aad_joined: Option<bool>,
    pub merged_into: Option<String>,
    pub potential_duplicate: bool,
    pub active: bool,
    pub inactive_reason: Option<String>,
    pub defender_first_seen: Option<String>,
    pub defender_last_seen: Option<String>,
    pub first_synced: String,
    pub last_synced: String,
    pub defender: DefenderRating,
    pub risk: AssetRisk,
    pub alert_counts: AlertCounts,
    pub vulnerability_summary: VulnerabilitySummary,
    pub host_names: Vec<LinkedValue>,
    pub ip_addresses: Vec<AddressLink>,
    /// Newest first.
    pub ip_history: Vec<Lease>,
    pub mac_addresses: Vec<LinkedValue>,
    pub accounts: Vec<Account>,
    /// Active first, newest first.
    pub alerts: Vec<AlertItem>,
    /// Active first, highest CVSS first.
    pub vulnerabilities: Vec<VulnerabilityItem>,
    pub first_run: Option<RunRef>,
    pub last_run: Option<RunRef>,
}

impl From<core::AssetDetail> for AssetDetail {
    fn from(detail: core::AssetDetail) -> Self {
        AssetDetail {
            asset_id: detail.asset_id,
            connection: detail.connection.into(),
            device_id: detail.device_id,
            name: detail.name,
            os: detail.os.into(),
            health_status: detail.health_status,
            onboarding_status: detail.onboarding_status,
            rbac_group_id: detail.rbac_group_id,
            rbac_group_name: detail.rbac_group_name,
            tags: detail.tags,
            aad_device_id: detail.aad_device_id,
            aad_joined: detail.aad_joined,
            merged_into: detail.merged_into,
            potential_duplicate: detail.potential_duplicate,
            active: detail.active,
            inactive_reason: detail.inactive_reason,
            defender_first_seen: detail.defender_first_seen.map(time),
            defender_last_seen: detail.defender_last_seen.map(time),
            first_synced: time(detail.first_synced),
            last_synced: time(detail.last_synced),
            defender: detail.defender.into(),
            risk: detail.risk.into(),
            alert_counts: detail.alert_counts.into(),
            vulnerability_summary: detail.vulnerability_summary.into(),
            host_names: detail.host_names.into_iter().map(Into::into).collect(),
            ip_addresses: detail
                .ip_addresses
                .into_iter()
                .map(|a| AddressLink {
                    address: a.address,
                    family: a.family,
                    class: a.class,
                    source: a.source.into(),
                    mac: a.mac,
                    interface_type: a.interface_type,
                    first_seen: time(a.first_seen),
                    last_seen: time(a.last_seen),
                    active: a.active,
                })
                .collect(),
            ip_history: detail
                .ip_history
                .into_iter()
                .map(|l| Lease {
                    address: l.address,
                    class: l.class,
                    mac: l.mac,
                    since: time(l.since),
                    until: l.until.map(time),
                    last_report: time(l.last_report),
                })
                .collect(),
            mac_addresses: detail.mac_addresses.into_iter().map(Into::into).collect(),
            accounts: detail
                .accounts
                .into_iter()
                .map(|a| Account {
                    domain: a.domain,
                    name: a.name,
                    sid: a.sid,
                    logon_type: a.logon_type,
                    is_local_admin: a.is_local_admin,
                    first_seen: time(a.first_seen),
                    last_seen: time(a.last_seen),
                    active: a.active,
                })
                .collect(),
            alerts: detail
                .alerts
                .into_iter()
                .map(|a| AlertItem {
                    alert_id: a.alert_id,
                    title: a.title,
                    severity: a.severity,
                    status: a.status,
                    active: a.active,
                    category: a.category,
                    detection_source: a.detection_source,
                    classification: a.classification,
                    determination: a.determination,
                    created: time(a.created),
                    updated: time(a.updated),
                    first_event: a.first_event.map(time),
                    last_event: a.last_event.map(time),
                    resolved: a.resolved.map(time),
                })
                .collect(),
            vulnerabilities: detail
                .vulnerabilities
                .into_iter()
                .map(|v| VulnerabilityItem {
                    cve: v.cve,
                    cvss: v.cvss,
                    severity: v.severity,
                    vendor: v.vendor,
                    product: v.product,
                    version: v.version,
                    first_seen: time(v.first_seen),
                    last_seen: time(v.last_seen),
                    active: v.active,
                })
                .collect(),
            first_run: detail.first_run.map(Into::into),
            last_run: detail.last_run.map(Into::into),
        }
    }
}

/// A device Defender named in a live check.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LiveDevice {
    pub device_id: String,
    pub name: Option<String>,
    pub last_seen: Option<String>,
    #[specta(type = Option<u32>)]
    pub asset_id: Option<i64>,
}

/// Defender's live answer to "who had this IP at that time", next to the local one.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    pub connection: ConnectionRef,
    pub address: String,
    pub at: String,
    pub live: Vec<LiveDevice>,
    pub local: Vec<String>,
    pub agrees: bool,
    pub summary: String,
}

impl From<core::Attribution> for Attribution {
    fn from(attribution: core::Attribution) -> Self {
        Attribution {
            connection: attribution.connection.into(),
            address: attribution.address,
            at: time(attribution.at),
            live: attribution
                .live
                .into_iter()
                .map(|d| LiveDevice {
                    device_id: d.device_id,
                    name: d.name,
                    last_seen: d.last_seen.map(time),
                    asset_id: d.asset_id,
                })
                .collect(),
            local: attribution.local,
            agrees: attribution.agrees,
            summary: attribution.summary,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl From<ExportFormat> for core::ExportFormat {
    fn from(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Csv => core::ExportFormat::Csv,
            ExportFormat::Json => core::ExportFormat::Json,
        }
    }
}

/// What became of an export: written (where), or the save dialog was cancelled.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportOutcome {
    pub saved: bool,
    /// Where the file was written.
    pub path: Option<String>,
    /// The suggested file name.
    pub file_name: String,
    pub items: u32,
    pub total: u32,
    pub truncated: bool,
    /// "Exported 120 results", or what the cap left out.
    pub summary: String,
}

impl ExportOutcome {
    pub fn new(export: &core::Export, path: Option<&std::path::Path>) -> ExportOutcome {
        ExportOutcome {
            saved: path.is_some(),
            path: path.map(|p| p.display().to_string()),
            file_name: export.file_name.clone(),
            items: small_usize(export.items),
            total: small_usize(export.total),
            truncated: export.truncated,
            summary: export.summary.clone(),
        }
    }
}
