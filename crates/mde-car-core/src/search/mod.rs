//! Search over the asset graph: which devices sit behind an IP address, a range, a host name
//! or a MAC — now or at a given time — and how risky each one is.
//!
//! Use cases, functions over the store and the connections that `Core` delegates to:
//! [`search()`] (the Explorer's result table), [`ip_timeline`] (who held one address when),
//! [`asset_detail`] (the device view), the exports and the live check. They read the store
//! only; nothing here but the live check calls Defender.
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
//! # Risk
//!
//! Each hit has Defender's own risk level, exposure level and device value, and mde-car's
//! computed 0–10 score with a breakdown ([`AssetRisk`]); the formula is documented in
//! [`risk`](self::compute_risk) and the README ("Searching").
//!
//! # How it is built
//!
//! One module per answer, each with its use case, its view types, its reading of the store and
//! its SQL, so following one question stays in one file:
//!
//! - `hits.rs`: the result table ([`search`]): one page of matching assets, their risk, and how
//!   each relates to the query (see there for the relations and for speed).
//! - `timeline.rs`: who held one address when ([`ip_timeline`]), from the same matching as the
//!   result table, without a page.
//! - `detail.rs`: the device view ([`asset_detail`]), one statement and one reader per section.
//! - `matching.rs`: what a query matches, in the store's terms; shared by the result table and
//!   the timeline.
//! - `sql.rs`: the statements more than one answer runs: the asset row a result row and the
//!   device view both show, and the risk inputs.
//!
//! What they share is here: the errors, the view types more than one answer returns (a result
//! row is also a timeline's holder), the connection look-ups and the blocking read. Every
//! statement runs on a borrowed connection and starts from an index (see
//! `store/0003_search_indexes.sql`); joins are written `CROSS JOIN` where SQLite must keep the
//! indexed table outside, so a missing ANALYZE never turns a seek into a scan. Rows are read
//! by column name, so a column added to a SELECT cannot shift the others.

mod detail;
mod export;
mod hits;
mod live;
mod matching;
mod query;
mod sql;
mod timeline;

use std::collections::HashMap;

use chrono::DateTime;
use rusqlite::Connection as Db;
use serde::Serialize;

pub use crate::risk::{
    AlertCounts, AssetRisk, RiskComponent, RiskFactor, RiskInput, RiskLevel, VulnerabilitySummary,
    compute_risk,
};
pub use detail::{
    AccountView, AddressLink, AlertView, AssetDetail, Lease, LinkedValue, RunRef,
    VulnerabilityView, asset_detail,
};
pub use export::{
    ASSET_COLUMNS, Export, ExportFormat, MAX_EXPORT_ROWS, SEARCH_COLUMNS, TIMELINE_COLUMNS,
    asset_export, search_export, timeline_export,
};
pub use export::{export_asset, export_ip_timeline, export_search};
pub use hits::{DEFAULT_LIMIT, MAX_LIMIT, SearchRequest, SearchResults, SortKey, search};
pub use live::{
    Attribution, LIVE_WINDOW_DAYS, LiveDevice, LiveRequest, confirm_attribution, live_request,
};
pub use query::{
    ACCEPTED_FORMS, ACCEPTED_TIMES, MAX_QUERY_CHARS, ParsedTime, Query, QueryError, QueryInfo,
    format_time, parse_time,
};
pub use timeline::{IpTimeline, TimelineSpan, ip_timeline};

// The unit tests (`tests.rs`, `export/tests.rs`) reach the answers' insides as `search::…`.
#[cfg(test)]
use self::{
    detail::{detail_in, resolve_asset},
    hits::{Page, order, search_in},
    matching::{prefix_upper_bound, target},
    timeline::timeline_in,
};
use self::{matching::LinkSource, sql::AssetRow};
use crate::{
    config::{Connection, FieldError},
    mde::MdeError,
    model::Timestamp,
    store::StoreError,
};

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

/// A connection as results name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRef {
    pub id: String,
    /// `None` when the connection is no longer configured.
    pub name: Option<String>,
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

/// A stored time (milliseconds since 1970, UTC) as a timestamp.
fn from_ms(value: i64) -> Timestamp {
    DateTime::from_timestamp_millis(value).unwrap_or_default()
}

/// The operating system of an asset, as a result row and the device view show it.
fn os_info(asset: &AssetRow) -> OsInfo {
    OsInfo {
        platform: asset.os_platform.clone(),
        version: asset.os_version.clone(),
        build: asset.os_build,
        release: asset.os_release.clone(),
        architecture: asset.os_architecture.clone(),
    }
}

/// An asset's alert counts, vulnerability summary and computed risk, as a result row and the
/// device view show them.
fn risk_of(
    db: &Db,
    asset: &AssetRow,
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

#[cfg(test)]
mod tests;
