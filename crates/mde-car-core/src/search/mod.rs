//! Search over the asset graph: which devices sit behind an IP address, a range, a host name
//! or a MAC — now or at a given time — and how risky each one is.
//!
//! Use cases (on [`Core`]): [`Core::search`] (the Explorer's result table),
//! [`Core::ip_timeline`] (who held one address when) and [`Core::asset_detail`] (the device
//! view). They read the store only; nothing here calls Defender.
//!
//! # What a query may be
//!
//! One string (see [`Query::parse`]); surrounding spaces are ignored:
//!
//! | form | example | matches |
//! |---|---|---|
//! | IPv4 or IPv6 address | `10.1.2.3`, `2001:db8::1`, `[fe80::1]` | devices that have or had it: on their device record, as their external (egress) address, or in their IP history |
//! | CIDR range | `10.1.2.0/24`, `2001:db8::/32` | the same for every address in the range (host bits are zeroed: `10.1.2.7/24` is `10.1.2.0/24`) |
//! | address or range at a time | `10.1.2.3 @ 2026-11-20 14:00`, `10.1.2.3 @ 2026-11-20T14:00:00Z`, or the time given separately (`--at`) | only devices that held it at that moment |
//! | host name prefix | `web01`, `WEB01.contoso`, `db-*` | devices whose host name (current or former) starts with it, any case |
//! | MAC address | `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff`, `aabbccddeeff` | devices with that adapter (current or former) |
//!
//! Times: `YYYY-MM-DD HH:MM[:SS[.fff]]`, with a space or `T`, optionally followed by `Z`, `UTC`
//! or an offset (`+01:00`); a bare date is its midnight. **A time without a zone is UTC** and
//! the results say so. Text of digits and dots is always read as IPv4, so `10.1.2` is an error
//! that suggests `10.1.2.0/24` rather than a host name search. Every other mistake (`300.1.1.1`,
//! `10.0.0.0/33`, an unreadable time, a pasted 10 kB log line, an empty box) is a
//! [`QueryError`] naming what is wrong and what is accepted.
//!
//! # How a result relates to the query
//!
//! Every hit carries its [`Relation`]s, so a NAT address linked to 40 devices explains itself
//! (IBM's CAR connector left such links unexplained): current or past holder, the evidence
//! (device record, external address, IP history, host name, MAC), the address class
//! (private, public, link-local, loopback, other; `external` for an egress address, with how
//! many devices share it), and first/last seen.
//!
//! For "who held it at T": an address with IP history (DeviceNetworkInfo leases) in a
//! connection is answered from the history alone: exactly the lease covering T. Device-record
//! links only record the syncs that saw them, so they answer only where there is no history —
//! always for external addresses — and say that they are sync snapshots.
//!
//! # Risk
//!
//! Each hit has Defender's own risk level, exposure level and device value, and mde-car's
//! computed 0–10 score with a breakdown ([`AssetRisk`]); the formula is documented in
//! [`risk`](self::compute_risk) and the README ("Searching").
//!
//! # Speed
//!
//! Two phases. First, SQLite finds, groups, counts, sorts and pages the matching assets in one
//! statement (`sql::matches`): an exact address is an index seek on
//! `ip_addresses.address`, a range one range scan on it (16 bytes, IPv4 mapped into IPv6, so
//! one ordering serves both families), a host name prefix one range on `hostnames.name`
//! (NOCASE), a MAC one seek; the links follow through their `*_by_*` indexes. Second, only the
//! page's assets are read in full: their matching links by primary key, their active alerts
//! from a covering index, their vulnerabilities by primary key. Measured on a store of a
//! million assets (3 million address links, 2 million leases, 5 million vulnerability links):
//! an exact address answers in about 0.2 ms, a /24 in 2 ms, a /16 of 20,000 matches in about
//! 47 ms sorted by relevance or by risk (each sync stores the risk score; `make bench`).

mod export;
mod live;
mod query;
mod sql;

use std::{cmp::Reverse, collections::HashMap};

use ipnet::IpNet;
use rusqlite::Connection as Db;
use serde::{Deserialize, Serialize};

pub use crate::risk::{
    AlertCounts, AssetRisk, RiskComponent, RiskFactor, RiskInput, RiskLevel, VulnerabilitySummary,
    compute_risk,
};
pub use export::{
    ASSET_COLUMNS, Export, ExportFormat, MAX_EXPORT_ROWS, SEARCH_COLUMNS, TIMELINE_COLUMNS,
    asset_export, search_export, timeline_export,
};
pub use export::{export_asset, export_ip_timeline, export_search};
pub use live::{
    Attribution, LIVE_WINDOW_DAYS, LiveDevice, LiveRequest, confirm_attribution, live_request,
};
pub use query::{
    ACCEPTED_FORMS, ACCEPTED_TIMES, MAX_QUERY_CHARS, ParsedTime, Query, QueryError, QueryInfo,
    format_time, parse_time,
};

use self::sql::{Link, LinkSource, from_ms};
use crate::{
    config::{Connection, FieldError},
    mde::MdeError,
    model::Timestamp,
    store::{Store, StoreError, address_key},
};

/// Results per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most results one page may hold.
pub const MAX_LIMIT: usize = 1_000;

/// What a search, timeline or asset look-up could not do, for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(
        "the asset reference is empty; give the asset's number (from search results), connection:device-id, or a Defender device id"
    )]
    EmptyAssetReference,
    #[error(
        "no asset '{0}' in the store; give the asset's number (from search results), connection:device-id, or a Defender device id, and check that the connection has been synced"
    )]
    AssetNotFound(String),
    #[error(
        "the Defender device id '{id}' is in {} connections; name one: {}",
        candidates.len(),
        candidates.join(" or ")
    )]
    AmbiguousAsset { id: String, candidates: Vec<String> },
    #[error(
        "the IP view shows one address; '{text}' is {kind}: search for it instead, or give a single address such as 10.1.2.3"
    )]
    NotAnAddress { text: String, kind: &'static str },
    #[error(
        "a live check asks who had an address at a time; give the time too, such as 10.1.2.3 @ 2026-11-20 14:00"
    )]
    LiveCheckNeedsTime,
    #[error(
        "Defender answers live for the last 30 days only, and {at} is outside them; the local IP history still answers for it"
    )]
    OutsideLiveWindow { at: String },
    #[error("the export could not be written to {path}: {reason}; choose another folder")]
    ExportFile { path: String, reason: String },
    /// The connection filter names no connection.
    #[error("no connection named '{0}'; `mde-car connection list` shows the names")]
    ConnectionNotFound(String),
    /// The live check's request to the connection's tenant failed.
    #[error("Defender did not answer for '{connection}': {source}")]
    Defender {
        connection: String,
        #[source]
        source: MdeError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or an unexpected condition.
    #[error("{0}")]
    Internal(String),
}

/// What a search answers with.
pub type Result<T, E = SearchError> = std::result::Result<T, E>;

impl SearchError {
    /// The input field the problem is about, for a form to show it next to.
    pub fn fields(&self) -> Vec<FieldError> {
        match self {
            SearchError::Query(QueryError::Time { .. } | QueryError::TimeTwice { .. })
            | SearchError::LiveCheckNeedsTime
            | SearchError::OutsideLiveWindow { .. } => {
                vec![FieldError::new("at", self.to_string())]
            }
            SearchError::Query(_) | SearchError::NotAnAddress { .. } => {
                vec![FieldError::new("query", self.to_string())]
            }
            SearchError::EmptyAssetReference
            | SearchError::AssetNotFound(_)
            | SearchError::AmbiguousAsset { .. } => {
                vec![FieldError::new("asset", self.to_string())]
            }
            SearchError::ExportFile { .. }
            | SearchError::ConnectionNotFound(_)
            | SearchError::Defender { .. }
            | SearchError::Store(_)
            | SearchError::Internal(_) => Vec::new(),
        }
    }
}

/// How results are ordered. Each key has a natural direction; `reverse` flips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Current holders (and holders at the asked time) first, then the most recently seen
    /// relation, then the name.
    #[default]
    Relevance,
    /// Highest computed risk first.
    Risk,
    /// A to Z.
    Name,
    /// Most recently seen by Defender first.
    LastSeen,
}

impl SortKey {
    /// `relevance`, `risk`, `name` or `last-seen` (also `last_seen`, `lastseen`).
    pub fn parse(text: &str) -> Option<SortKey> {
        match text
            .trim()
            .to_ascii_lowercase()
            .replace(['_', ' '], "-")
            .as_str()
        {
            "relevance" => Some(SortKey::Relevance),
            "risk" => Some(SortKey::Risk),
            "name" => Some(SortKey::Name),
            "last-seen" | "lastseen" => Some(SortKey::LastSeen),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            SortKey::Relevance => "relevance",
            SortKey::Risk => "risk",
            SortKey::Name => "name",
            SortKey::LastSeen => "last_seen",
        }
    }
}

/// One search as the Explorer or the CLI asks it. Blank `at` and `connection` mean none.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// The search box's text.
    pub query: String,
    /// A separately given time (`--at`); the same as `@ time` in the text.
    pub at: Option<String>,
    /// Only this connection (name or id); all connections when `None`.
    pub connection: Option<String>,
    pub sort: SortKey,
    /// Reverse the sort key's natural direction.
    pub reverse: bool,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub offset: usize,
    /// At most [`MAX_LIMIT`]; 0 counts without returning rows.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub limit: usize,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>) -> SearchRequest {
        SearchRequest {
            query: query.into(),
            at: None,
            connection: None,
            sort: SortKey::default(),
            reverse: false,
            offset: 0,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// A connection as results name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRef {
    pub id: String,
    /// `None` when the connection is no longer configured.
    pub name: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    pub query: Query,
    /// What the query was read as: "devices that held IP address 10.1.2.3 (private)".
    pub interpretation: String,
    /// Things to know about these results: times read as UTC, why nothing matched, matches
    /// the connection filter hid, a limit lowered.
    pub notes: Vec<String>,
    /// The connection filter, when one was given.
    pub connection: Option<ConnectionRef>,
    pub sort: SortKey,
    pub reverse: bool,
    /// Matching assets in all, over every page.
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub total: usize,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub offset: usize,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub limit: usize,
    pub hits: Vec<AssetHit>,
}

/// Defender's own rating of a device, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DefenderRating {
    /// Risk level: None, Informational, Low, Medium, High.
    pub risk_score: Option<String>,
    /// None, Low, Medium, High.
    pub exposure_level: Option<String>,
    /// Low, Normal, High.
    pub device_value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    pub platform: Option<String>,
    pub version: Option<String>,
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub build: Option<i64>,
    /// e.g. 22H2.
    pub release: Option<String>,
    pub architecture: Option<String>,
}

impl OsInfo {
    /// "Windows11 23H2 (build 22631)".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.platform.clone());
        parts.extend(self.version.clone());
        parts.extend(self.release.clone());
        if let Some(build) = self.build {
            parts.push(format!("(build {build})"));
        }
        parts.join(" ")
    }
}

/// One asset in the results.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AssetHit {
    /// mde-car's number of the asset (`mde-car asset N`).
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub asset_id: i64,
    pub connection: ConnectionRef,
    /// Defender's device (machine) id.
    pub device_id: String,
    pub name: Option<String>,
    pub os: OsInfo,
    pub health_status: Option<String>,
    /// False once the device vanished from Defender's listing or was inactive for 15 days.
    pub active: bool,
    pub risk: AssetRisk,
    pub defender: DefenderRating,
    pub alerts: AlertCounts,
    pub vulnerabilities: VulnerabilitySummary,
    /// How this asset relates to the query, strongest first.
    pub relations: Vec<Relation>,
    /// Defender's last full report of the device.
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub last_seen: Option<Timestamp>,
    /// The last sync that listed the device.
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_synced: Timestamp,
}

/// How an asset relates to the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// It has the address now.
    CurrentHolder,
    /// It had the address.
    PastHolder,
    /// It had the address at the asked time.
    HolderAtTime,
    /// Its host name (current or former) starts with the query.
    HostName,
    /// It has (or had) an adapter with the MAC.
    MacAddress,
}

/// Where the evidence for a relation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RelationSource {
    /// The address list of Defender's device record, as of each sync.
    DeviceRecord,
    /// The device record's `lastExternalIpAddress`: the public address it was last seen
    /// connecting from, often a NAT shared by many devices.
    ExternalAddress,
    /// Lease intervals rebuilt from DeviceNetworkInfo (advanced hunting) reports.
    IpHistory,
    HostName,
    MacAddress,
}

impl RelationSource {
    fn of(source: LinkSource) -> RelationSource {
        match source {
            LinkSource::DeviceRecord => RelationSource::DeviceRecord,
            LinkSource::External => RelationSource::ExternalAddress,
            LinkSource::IpHistory => RelationSource::IpHistory,
            LinkSource::HostName => RelationSource::HostName,
            LinkSource::Mac => RelationSource::MacAddress,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Relation {
    pub kind: RelationKind,
    pub source: RelationSource,
    /// The matched address, host name or MAC.
    pub value: String,
    /// For addresses: `private`, `public`, `link_local`, `loopback`, `other`, or `external`
    /// for an egress address.
    pub address_class: Option<String>,
    /// The link holds now (open lease, or asserted by the latest sync).
    pub current: bool,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub first_seen: Timestamp,
    /// The last time the link was confirmed (a sync or a network report), or the lease end.
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_seen: Timestamp,
    /// End of a closed lease.
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub until: Option<Timestamp>,
    /// For an external address: how many devices have it as their external address now.
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub shared_by: Option<u64>,
    /// The relation in words.
    pub text: String,
}

/// One bar of the IP timeline: an asset holding the address over an interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TimelineSpan {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub asset_id: i64,
    pub source: RelationSource,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub from: Timestamp,
    /// `None` while the asset still holds it.
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub until: Option<Timestamp>,
    /// The last confirmation (a sync or a network report).
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_seen: Timestamp,
}

/// Everything known about who held one address.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct IpTimeline {
    pub address: String,
    pub family: u8,
    /// private | public | link_local | loopback | other.
    pub class: String,
    /// Intervals, oldest first.
    pub spans: Vec<TimelineSpan>,
    /// Every asset that held it, in the order of its first interval, with risk.
    pub holders: Vec<AssetHit>,
    pub notes: Vec<String>,
}

/// One value (host name, MAC) linked to an asset over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct LinkedValue {
    pub value: String,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub first_seen: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_seen: Timestamp,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AddressLink {
    pub address: String,
    pub family: u8,
    pub class: String,
    /// `device_record` or `external_address`.
    pub source: RelationSource,
    pub mac: Option<String>,
    pub interface_type: Option<String>,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub first_seen: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_seen: Timestamp,
    pub active: bool,
}

/// One lease from the IP history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub address: String,
    pub class: String,
    pub mac: Option<String>,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub since: Timestamp,
    /// `None` while held.
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub until: Option<Timestamp>,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_report: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub domain: Option<String>,
    pub name: String,
    pub sid: Option<String>,
    pub logon_type: Option<String>,
    pub is_local_admin: Option<bool>,
    /// First and last logon seen.
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub first_seen: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_seen: Timestamp,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    pub alert_id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    /// Not Resolved.
    pub active: bool,
    pub category: Option<String>,
    pub detection_source: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub updated: Timestamp,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub first_event: Option<Timestamp>,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub last_event: Option<Timestamp>,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub resolved: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityView {
    pub cve: String,
    pub cvss: Option<f64>,
    pub severity: Option<String>,
    pub vendor: String,
    pub product: String,
    pub version: String,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub first_seen: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_seen: Timestamp,
    /// Not fixed.
    pub active: bool,
}

/// A sync run an asset came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub id: i64,
    pub mode: String,
    pub trigger: String,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub started_at: Timestamp,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub finished_at: Option<Timestamp>,
    pub status: String,
}

/// The device view.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AssetDetail {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub asset_id: i64,
    pub connection: ConnectionRef,
    pub device_id: String,
    pub name: Option<String>,
    pub os: OsInfo,
    pub health_status: Option<String>,
    pub onboarding_status: Option<String>,
    #[cfg_attr(feature = "specta", specta(type = Option<u32>))]
    pub rbac_group_id: Option<i64>,
    pub rbac_group_name: Option<String>,
    pub tags: Vec<String>,
    /// Entra ID device id.
    pub aad_device_id: Option<String>,
    pub aad_joined: Option<bool>,
    pub merged_into: Option<String>,
    pub potential_duplicate: bool,
    pub active: bool,
    /// `vanished` or `inactive_15_days`.
    pub inactive_reason: Option<String>,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub defender_first_seen: Option<Timestamp>,
    #[serde(with = "crate::model::json_time::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub defender_last_seen: Option<Timestamp>,
    /// The first and last sync that listed the device.
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub first_synced: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub last_synced: Timestamp,
    pub defender: DefenderRating,
    pub risk: AssetRisk,
    pub alert_counts: AlertCounts,
    pub vulnerability_summary: VulnerabilitySummary,
    pub host_names: Vec<LinkedValue>,
    pub ip_addresses: Vec<AddressLink>,
    /// IP history, newest first.
    pub ip_history: Vec<Lease>,
    pub mac_addresses: Vec<LinkedValue>,
    pub accounts: Vec<AccountView>,
    /// Active alerts first, newest first.
    pub alerts: Vec<AlertView>,
    /// Active first, highest CVSS first.
    pub vulnerabilities: Vec<VulnerabilityView>,
    pub first_run: Option<RunRef>,
    pub last_run: Option<RunRef>,
}

/// Runs one search over every connection (or the one the request names), sorted and paged.
pub async fn search(
    store: &Store,
    connections: &[Connection],
    request: &SearchRequest,
) -> Result<SearchResults> {
    let prepared = prepare_search(connections, request)?;
    let page = Page {
        sort: request.sort,
        reverse: request.reverse,
        offset: request.offset,
        limit: request.limit,
    };
    let store = store.clone();
    blocking(move || {
        store.read(|db| {
            search_in(
                db,
                prepared.query,
                prepared.notes,
                prepared.filter.as_ref(),
                page,
                &prepared.names,
            )
        })
    })
    .await
}

/// The parsed query, the connection filter and the connections' names of a request.
fn prepare_search(connections: &[Connection], request: &SearchRequest) -> Result<PreparedSearch> {
    let (query, notes) =
        Query::parse_explained(&request.query, blank_is_none(request.at.as_deref()))?;
    let filter = match blank_is_none(request.connection.as_deref()) {
        Some(wanted) => Some(find_connection(connections, wanted)?),
        None => None,
    };
    Ok(PreparedSearch {
        query,
        notes,
        filter,
        names: connection_names(connections),
    })
}

/// Every asset that held `address`, as intervals on a timeline, with risk.
pub async fn ip_timeline(
    store: &Store,
    connections: &[Connection],
    address: &str,
    connection: Option<&str>,
) -> Result<IpTimeline> {
    let ip = match Query::parse(address, None)? {
        Query::Address { ip, at: None } => ip,
        other => {
            return Err(SearchError::NotAnAddress {
                text: address.trim().to_owned(),
                kind: other.kind_phrase(),
            });
        }
    };
    let filter = match connection {
        Some(wanted) => Some(find_connection(connections, wanted)?),
        None => None,
    };
    let names = connection_names(connections);
    let store = store.clone();
    blocking(move || store.read(|db| timeline_in(db, ip, filter.as_ref(), &names))).await
}

/// The device view of one asset: `reference` is mde-car's asset number,
/// `connection:device-id` (connection by name or id), or a Defender device id that only one
/// connection has.
pub async fn asset_detail(
    store: &Store,
    connections: &[Connection],
    reference: &str,
) -> Result<AssetDetail> {
    let reference = reference.trim().to_owned();
    if reference.is_empty() {
        return Err(SearchError::EmptyAssetReference);
    }
    let scope = match reference.rsplit_once(':') {
        Some((connection, device)) if !connection.trim().is_empty() => Some((
            find_connection(connections, connection)?.id,
            device.trim().to_owned(),
        )),
        _ => None,
    };
    let names = connection_names(connections);
    let store = store.clone();
    blocking(move || {
        store.read(|db| {
            keep_statements(db);
            let id = match resolve_asset(db, &reference, scope.as_ref(), &names)? {
                Ok(id) => id,
                Err(error) => return Ok(Err(error)),
            };
            Ok(detail_in(db, id, &names)?.ok_or(SearchError::AssetNotFound(reference)))
        })
    })
    .await?
}

/// A blank optional field of a request means it was not given.
fn blank_is_none(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// A request read and checked, before the store is asked.
struct PreparedSearch {
    query: Query,
    notes: Vec<String>,
    filter: Option<ConnectionRef>,
    names: HashMap<String, String>,
}

fn find_connection(connections: &[Connection], wanted: &str) -> Result<ConnectionRef> {
    let wanted = wanted.trim();
    connections
        .iter()
        .find(|c| c.id == wanted)
        .or_else(|| {
            connections
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(wanted))
        })
        .map(|c| ConnectionRef {
            id: c.id.clone(),
            name: Some(c.name.clone()),
        })
        .ok_or_else(|| SearchError::ConnectionNotFound(wanted.to_owned()))
}

fn connection_names(connections: &[Connection]) -> HashMap<String, String> {
    connections
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect()
}

/// Runs store reads off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SearchError::Internal(format!("a search task failed: {error}")))?
        .map_err(SearchError::from)
}

/// Prepared statements kept per connection. A search uses up to about a dozen (more than
/// rusqlite's default of 16 with the device view's), and re-preparing a CTE statement costs
/// more than running it.
const STATEMENT_CACHE: usize = 64;

fn keep_statements(db: &Db) {
    db.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
}

/// Sorting and paging of one search.
#[derive(Debug, Clone, Copy)]
struct Page {
    sort: SortKey,
    reverse: bool,
    offset: usize,
    limit: usize,
}

/// The 16-byte key range of a query's addresses.
fn key_range(query: &Query) -> Option<([u8; 16], [u8; 16])> {
    match query {
        Query::Address { ip, .. } => Some((address_key(*ip), address_key(*ip))),
        Query::Range { network, .. } => Some(network_keys(network)),
        Query::HostName { .. } | Query::Mac { .. } => None,
    }
}

fn network_keys(network: &IpNet) -> ([u8; 16], [u8; 16]) {
    (
        address_key(network.network()),
        address_key(network.broadcast()),
    )
}

/// The exclusive upper bound of a NOCASE prefix range: the prefix with its last character
/// raised by one. Host name queries are ASCII letters, digits, '-', '.' and '_', so the raised
/// character never wraps.
fn prefix_upper_bound(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).unwrap_or_else(|_| format!("{prefix}\u{10FFFF}"))
}

/// What `query` matches on, in the store's terms.
fn target(query: &Query) -> sql::Target {
    match query {
        Query::HostName { prefix } => sql::Target::HostNames {
            low: prefix.clone(),
            high: prefix_upper_bound(prefix),
        },
        Query::Mac { mac } => sql::Target::Mac {
            address: mac.to_string(),
        },
        Query::Address { at, .. } | Query::Range { at, .. } => {
            let (low, high) = key_range(query).unwrap_or(([0; 16], [0; 16]));
            sql::Target::Addresses {
                low,
                high,
                at: at.map(|t| t.timestamp_millis()),
            }
        }
    }
}

/// The SQL order of a sort key in its natural direction (flipped whole by `reverse`, like
/// [`SortKey`] says). Risk orders by the score each sync stores.
fn order(key: SortKey, reverse: bool, at_time: bool) -> sql::Order {
    let by_name = [
        ("a.name IS NULL", true),
        ("lower(coalesce(a.name, a.device_id))", true),
        ("a.id", true),
    ];
    let mut order: sql::Order = match key {
        SortKey::Risk => vec![("a.computed_risk", false)],
        SortKey::Relevance if at_time => vec![("g.latest", false)],
        SortKey::Relevance => vec![("g.current", false), ("g.latest", false)],
        SortKey::Name => Vec::new(),
        SortKey::LastSeen => vec![("coalesce(a.defender_last_seen, a.last_seen)", false)],
    };
    order.extend(by_name);
    if reverse {
        for term in &mut order {
            term.1 = !term.1;
        }
    }
    order
}

/// An asset with the links that matched it.
struct Candidate {
    asset: sql::AssetRow,
    links: Vec<Link>,
    risk: Option<(AlertCounts, VulnerabilitySummary, AssetRisk)>,
}

impl Candidate {
    fn load(db: &Db, asset_id: i64, target: &sql::Target) -> rusqlite::Result<Option<Candidate>> {
        let Some(asset) = sql::asset(db, asset_id)? else {
            return Ok(None);
        };
        Ok(Some(Candidate {
            asset,
            links: sql::links_of(db, asset_id, target)?,
            risk: None,
        }))
    }

    fn compute_risk(&mut self, db: &Db) -> rusqlite::Result<()> {
        if self.risk.is_none() {
            self.risk = Some(risk_of(db, &self.asset)?);
        }
        Ok(())
    }
}

fn risk_of(
    db: &Db,
    asset: &sql::AssetRow,
) -> rusqlite::Result<(AlertCounts, VulnerabilitySummary, AssetRisk)> {
    let alerts = sql::alert_counts(db, &asset.connection_id, &asset.device_id)?;
    let vulnerabilities = sql::vulnerability_summary(db, asset.id)?;
    let risk = compute_risk(&RiskInput {
        alerts,
        vulnerabilities,
        device_value: asset.device_value.clone(),
    });
    Ok((alerts, vulnerabilities, risk))
}

fn search_in(
    db: &Db,
    query: Query,
    mut notes: Vec<String>,
    filter: Option<&ConnectionRef>,
    page: Page,
    names: &HashMap<String, String>,
) -> rusqlite::Result<SearchResults> {
    keep_statements(db);
    let at = query.at().map(|t| t.timestamp_millis());
    let target = target(&query);
    let connection = filter.map(|f| f.id.as_str());
    let limit = page.limit.min(MAX_LIMIT);
    let order = order(page.sort, page.reverse, at.is_some());
    let (matches, total) =
        sql::matches(db, &target, connection, Some((&order, limit, page.offset)))?;
    let mut found = Vec::with_capacity(matches.len());
    for found_match in matches {
        found.extend(Candidate::load(db, found_match.asset_id, &target)?);
    }
    if page.limit > MAX_LIMIT {
        notes.push(format!(
            "a page holds at most {MAX_LIMIT} results; showing {MAX_LIMIT} (use the offset for more)"
        ));
    }
    if total == 0 {
        notes.push(empty_note(db, &query)?);
    } else if page.offset >= total && limit > 0 {
        notes.push(format!(
            "the offset {} is past the last of the {total} results",
            page.offset
        ));
    }
    let hidden = match connection {
        Some(connection) => sql::hidden(db, &target, connection)?,
        None => 0,
    };
    if hidden > 0 {
        notes.push(format!(
            "{hidden} more {} in other connections (search without the connection filter to see {})",
            if hidden == 1 { "match is" } else { "matches are" },
            if hidden == 1 { "it" } else { "them" }
        ));
    }
    let mut sharers = HashMap::new();
    let mut hits = Vec::with_capacity(found.len());
    for mut candidate in found {
        candidate.compute_risk(db)?;
        hits.push(hit(db, candidate, at, names, &mut sharers)?);
    }
    Ok(SearchResults {
        interpretation: query.describe(),
        query,
        notes,
        connection: filter.cloned(),
        sort: page.sort,
        reverse: page.reverse,
        total,
        offset: page.offset,
        limit,
        hits,
    })
}

/// Why nothing matched, so an empty table is never silent.
fn empty_note(db: &Db, query: &Query) -> rusqlite::Result<String> {
    Ok(match query {
        Query::HostName { prefix } => format!("no device has a host name starting with '{prefix}'"),
        Query::Mac { mac } => format!("no device has or had an adapter with MAC {mac}"),
        Query::Address { at, .. } | Query::Range { at, .. } => {
            let (low, high) = key_range(query).unwrap_or(([0; 16], [0; 16]));
            let value = query.value();
            match at {
                _ if !sql::any_address(db, &low, &high)? => format!(
                    "no synced device has had {value}: not on a device record, as an external address, or in the IP history"
                ),
                Some(at) => format!(
                    "devices have had {value}, but none at {} as far as the synced data shows; search without the time to see who held it when",
                    format_time(*at)
                ),
                None => format!("no device in this connection has had {value}"),
            }
        }
    })
}

fn hit(
    db: &Db,
    candidate: Candidate,
    at: Option<i64>,
    names: &HashMap<String, String>,
    sharers: &mut HashMap<i64, u64>,
) -> rusqlite::Result<AssetHit> {
    let Candidate {
        asset,
        mut links,
        risk,
    } = candidate;
    let (alerts, vulnerabilities, risk) = match risk {
        Some(risk) => risk,
        None => risk_of(db, &asset)?,
    };
    // Current first, then the most recently confirmed.
    links.sort_by_key(|link| (!link.active, Reverse(link.last_seen), link.value.clone()));
    let mut relations = Vec::with_capacity(links.len());
    for link in &links {
        let shared_by = match (link.source, link.ip_id) {
            (LinkSource::External, Some(ip_id)) => Some(match sharers.get(&ip_id) {
                Some(count) => *count,
                None => {
                    let count = sql::external_sharers(db, ip_id)?;
                    sharers.insert(ip_id, count);
                    count
                }
            }),
            _ => None,
        };
        relations.push(relation(link, at, shared_by));
    }
    Ok(AssetHit {
        asset_id: asset.id,
        connection: ConnectionRef {
            name: names.get(&asset.connection_id).cloned(),
            id: asset.connection_id.clone(),
        },
        device_id: asset.device_id.clone(),
        name: asset.name.clone(),
        os: os_info(&asset),
        health_status: asset.health_status.clone(),
        active: asset.active,
        risk,
        defender: DefenderRating {
            risk_score: asset.risk_score.clone(),
            exposure_level: asset.exposure_level.clone(),
            device_value: asset.device_value.clone(),
        },
        alerts,
        vulnerabilities,
        relations,
        last_seen: asset.defender_last_seen.map(from_ms),
        last_synced: from_ms(asset.last_seen),
    })
}

fn os_info(asset: &sql::AssetRow) -> OsInfo {
    OsInfo {
        platform: asset.os_platform.clone(),
        version: asset.os_version.clone(),
        build: asset.os_build,
        release: asset.os_release.clone(),
        architecture: asset.os_architecture.clone(),
    }
}

/// `2026-11-20 14:00`: minutes are enough inside a sentence that says UTC once.
fn short(ms: i64) -> String {
    from_ms(ms).format("%Y-%m-%d %H:%M").to_string()
}

/// "at the sync of …" or "at syncs … – …": a device-record link is only known at syncs.
fn syncs(link: &Link) -> String {
    if link.first_seen == link.last_seen {
        format!("at the sync of {} UTC", short(link.first_seen))
    } else {
        format!(
            "at syncs {} – {} UTC",
            short(link.first_seen),
            short(link.last_seen)
        )
    }
}

fn relation(link: &Link, at: Option<i64>, shared_by: Option<u64>) -> Relation {
    let class = link.class.clone().map(|class| class.replace('_', "-"));
    let (kind, text) = match link.source {
        LinkSource::HostName => (
            RelationKind::HostName,
            if link.active {
                format!(
                    "host name {} (current), seen {} – {} UTC",
                    link.value,
                    short(link.first_seen),
                    short(link.last_seen)
                )
            } else {
                format!(
                    "former host name {}, seen {} – {} UTC",
                    link.value,
                    short(link.first_seen),
                    short(link.last_seen)
                )
            },
        ),
        LinkSource::Mac => (
            RelationKind::MacAddress,
            format!(
                "{} MAC {}, seen {} – {} UTC",
                if link.active {
                    "adapter with"
                } else {
                    "former adapter with"
                },
                link.value,
                short(link.first_seen),
                short(link.last_seen)
            ),
        ),
        source => {
            let role = match at {
                Some(at) => format!("held {} at {} UTC", link.value, short(at)),
                None if link.active => format!("current holder of {}", link.value),
                None => format!("past holder of {}", link.value),
            };
            let evidence = match source {
                LinkSource::IpHistory => match link.until {
                    None => format!(
                        "IP history: since {}, last reported {} UTC",
                        short(link.first_seen),
                        short(link.last_seen)
                    ),
                    Some(until) => format!(
                        "IP history: {} – {} UTC",
                        short(link.first_seen),
                        short(until)
                    ),
                },
                LinkSource::External => format!(
                    "its external address: the public address Defender saw it connect from{}; on its record {}",
                    match shared_by {
                        Some(n) if n > 1 => format!(" (NAT: {n} devices have it now)"),
                        _ => String::new(),
                    },
                    syncs(link)
                ),
                _ => format!(
                    "on Defender's device record {}{}",
                    syncs(link),
                    if at.is_some() {
                        " (no IP history for this address to narrow it down)"
                    } else {
                        ""
                    }
                ),
            };
            let kind = match at {
                Some(_) => RelationKind::HolderAtTime,
                None if link.active => RelationKind::CurrentHolder,
                None => RelationKind::PastHolder,
            };
            let class_words = match (source, &class) {
                (LinkSource::External, Some(class)) => format!("external, {class}"),
                (_, Some(class)) => class.clone(),
                (_, None) => "unknown class".to_owned(),
            };
            (kind, format!("{role} ({class_words}): {evidence}"))
        }
    };
    Relation {
        kind,
        source: RelationSource::of(link.source),
        value: link.value.clone(),
        address_class: match link.source {
            LinkSource::External => Some("external".to_owned()),
            _ => link.class.clone(),
        },
        current: link.active,
        first_seen: from_ms(link.first_seen),
        last_seen: from_ms(link.last_seen),
        until: link.until.map(from_ms),
        shared_by,
        text,
    }
}

fn timeline_in(
    db: &Db,
    ip: std::net::IpAddr,
    filter: Option<&ConnectionRef>,
    names: &HashMap<String, String>,
) -> rusqlite::Result<IpTimeline> {
    keep_statements(db);
    let query = Query::Address { ip, at: None };
    let target = target(&query);
    let connection = filter.map(|f| f.id.as_str());
    let (matches, _) = sql::matches(db, &target, connection, None)?;
    let mut found = Vec::with_capacity(matches.len());
    for found_match in matches {
        found.extend(Candidate::load(db, found_match.asset_id, &target)?);
    }
    let hidden = match connection {
        Some(connection) => sql::hidden(db, &target, connection)?,
        None => 0,
    };
    let first = |c: &Candidate| c.links.iter().map(|l| l.first_seen).min().unwrap_or(0);
    found.sort_by_key(|c| (first(c), c.asset.id));
    let mut spans: Vec<TimelineSpan> = found
        .iter()
        .flat_map(|c| {
            c.links.iter().map(|link| TimelineSpan {
                asset_id: link.asset_id,
                source: RelationSource::of(link.source),
                from: from_ms(link.first_seen),
                until: match link.source {
                    LinkSource::IpHistory => link.until.map(from_ms),
                    _ if link.active => None,
                    _ => Some(from_ms(link.last_seen)),
                },
                last_seen: from_ms(link.last_seen),
            })
        })
        .collect();
    spans.sort_by_key(|span| (span.from, span.asset_id));
    let mut notes = Vec::new();
    if found.is_empty() {
        notes.push(empty_note(db, &query)?);
    }
    if hidden > 0 {
        notes.push(format!(
            "{hidden} more {} in other connections",
            if hidden == 1 {
                "holder is"
            } else {
                "holders are"
            }
        ));
    }
    let mut sharers = HashMap::new();
    let mut holders = Vec::with_capacity(found.len());
    for candidate in found {
        holders.push(hit(db, candidate, None, names, &mut sharers)?);
    }
    Ok(IpTimeline {
        address: ip.to_string(),
        family: if ip.is_ipv4() { 4 } else { 6 },
        class: crate::store::address_class(ip).to_owned(),
        spans,
        holders,
        notes,
    })
}

/// The asset `reference` names, or why none or several do. `scope` is the connection id and
/// device id of a `connection:device-id` reference.
fn resolve_asset(
    db: &Db,
    reference: &str,
    scope: Option<&(String, String)>,
    names: &HashMap<String, String>,
) -> rusqlite::Result<std::result::Result<i64, SearchError>> {
    if let Some((connection_id, device_id)) = scope {
        let found = sql::assets_by_device_id(db, device_id, Some(connection_id))?;
        let found = if found.is_empty() {
            sql::assets_by_device_id(db, &device_id.to_ascii_lowercase(), Some(connection_id))?
        } else {
            found
        };
        return Ok(found
            .first()
            .map(|(id, _)| *id)
            .ok_or_else(|| SearchError::AssetNotFound(reference.to_owned())));
    }
    if reference.len() < 19
        && reference.chars().all(|c| c.is_ascii_digit())
        && let Ok(id) = reference.parse::<i64>()
        && sql::asset(db, id)?.is_some()
    {
        return Ok(Ok(id));
    }
    let mut found = sql::assets_by_device_id(db, reference, None)?;
    if found.is_empty() {
        found = sql::assets_by_device_id(db, &reference.to_ascii_lowercase(), None)?;
    }
    Ok(match found.as_slice() {
        [] => Err(SearchError::AssetNotFound(reference.to_owned())),
        [(id, _)] => Ok(*id),
        several => Err(SearchError::AmbiguousAsset {
            id: reference.to_owned(),
            candidates: several
                .iter()
                .map(|(_, connection_id)| {
                    format!(
                        "'{}:{reference}'",
                        names.get(connection_id).unwrap_or(connection_id)
                    )
                })
                .collect(),
        }),
    })
}

fn detail_in(
    db: &Db,
    id: i64,
    names: &HashMap<String, String>,
) -> rusqlite::Result<Option<AssetDetail>> {
    let Some(rows) = sql::detail(db, id)? else {
        return Ok(None);
    };
    let asset = &rows.asset;
    let alert_counts = sql::alert_counts(db, &asset.connection_id, &asset.device_id)?;
    let vulnerability_summary = sql::vulnerability_summary(db, asset.id)?;
    let risk = compute_risk(&RiskInput {
        alerts: alert_counts,
        vulnerabilities: vulnerability_summary,
        device_value: asset.device_value.clone(),
    });
    let linked = |link: &Link| LinkedValue {
        value: link.value.clone(),
        first_seen: from_ms(link.first_seen),
        last_seen: from_ms(link.last_seen),
        active: link.active,
    };
    let run = |run_id: i64| {
        rows.runs
            .iter()
            .find(|run| run.id == run_id)
            .map(|run| RunRef {
                id: run.id,
                mode: run.mode.clone(),
                trigger: run.trigger.clone(),
                started_at: from_ms(run.started_at),
                finished_at: run.finished_at.map(from_ms),
                status: run.status.clone(),
            })
    };
    Ok(Some(AssetDetail {
        asset_id: asset.id,
        connection: ConnectionRef {
            id: asset.connection_id.clone(),
            name: names.get(&asset.connection_id).cloned(),
        },
        device_id: asset.device_id.clone(),
        name: asset.name.clone(),
        os: os_info(asset),
        health_status: asset.health_status.clone(),
        onboarding_status: rows.onboarding_status.clone(),
        rbac_group_id: rows.rbac_group_id,
        rbac_group_name: rows.rbac_group_name.clone(),
        tags: serde_json::from_str(&rows.tags).unwrap_or_default(),
        aad_device_id: rows.aad_device_id.clone(),
        aad_joined: rows.aad_joined,
        merged_into: rows.merged_into.clone(),
        potential_duplicate: rows.potential_duplicate,
        active: asset.active,
        inactive_reason: rows.inactive_reason.clone(),
        defender_first_seen: rows.defender_first_seen.map(from_ms),
        defender_last_seen: asset.defender_last_seen.map(from_ms),
        first_synced: from_ms(rows.first_seen),
        last_synced: from_ms(asset.last_seen),
        defender: DefenderRating {
            risk_score: asset.risk_score.clone(),
            exposure_level: asset.exposure_level.clone(),
            device_value: asset.device_value.clone(),
        },
        risk,
        alert_counts,
        vulnerability_summary,
        host_names: rows.hostnames.iter().map(linked).collect(),
        ip_addresses: rows
            .addresses
            .iter()
            .map(|row| AddressLink {
                address: row.text.clone(),
                family: row.family,
                class: row.class.clone(),
                source: if row.source == "external" {
                    RelationSource::ExternalAddress
                } else {
                    RelationSource::DeviceRecord
                },
                mac: row.mac.clone(),
                interface_type: row.interface_type.clone(),
                first_seen: from_ms(row.first_seen),
                last_seen: from_ms(row.last_seen),
                active: row.active,
            })
            .collect(),
        ip_history: rows
            .leases
            .iter()
            .map(|row| Lease {
                address: row.text.clone(),
                class: row.class.clone(),
                mac: row.mac.clone(),
                since: from_ms(row.since),
                until: row.until.map(from_ms),
                last_report: from_ms(row.last_report),
            })
            .collect(),
        mac_addresses: rows.macs.iter().map(linked).collect(),
        accounts: rows
            .accounts
            .iter()
            .map(|row| AccountView {
                domain: row.domain.clone(),
                name: row.name.clone(),
                sid: row.sid.clone(),
                logon_type: row.logon_type.clone(),
                is_local_admin: row.is_local_admin,
                first_seen: from_ms(row.first_seen),
                last_seen: from_ms(row.last_seen),
                active: row.active,
            })
            .collect(),
        alerts: rows
            .alerts
            .iter()
            .map(|row| AlertView {
                alert_id: row.alert_id.clone(),
                title: row.title.clone(),
                severity: row.severity.clone(),
                active: row.status != "Resolved",
                status: row.status.clone(),
                category: row.category.clone(),
                detection_source: row.detection_source.clone(),
                classification: row.classification.clone(),
                determination: row.determination.clone(),
                created: from_ms(row.created),
                updated: from_ms(row.updated),
                first_event: row.first_event.map(from_ms),
                last_event: row.last_event.map(from_ms),
                resolved: row.resolved.map(from_ms),
            })
            .collect(),
        vulnerabilities: rows
            .vulnerabilities
            .iter()
            .map(|row| VulnerabilityView {
                cve: row.cve.clone(),
                cvss: row.cvss,
                severity: row.severity.clone(),
                vendor: row.vendor.clone(),
                product: row.product.clone(),
                version: row.version.clone(),
                first_seen: from_ms(row.first_seen),
                last_seen: from_ms(row.last_seen),
                active: row.active,
            })
            .collect(),
        first_run: run(rows.first_run),
        last_run: run(rows.last_run),
    }))
}

#[cfg(test)]
mod tests;
