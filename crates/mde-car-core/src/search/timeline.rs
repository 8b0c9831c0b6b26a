//! Who held one address when ([`ip_timeline`]): every asset that has or had it, as intervals
//! on a timeline, with each holder as a result row (risk and relations).
//!
//! It asks the result table's matching (`matching.rs`) for the address without a time or a
//! page, so the timeline and a search of the same address never disagree on who held it; each
//! matching link becomes one bar: a lease for as long as it lasted, a device-record or external
//! address from the first sync that saw it to the last (or on, while it holds).

use std::collections::HashMap;

use rusqlite::Connection as Db;
use serde::Serialize;

use super::{
    AssetHit, ConnectionRef, Query, RelationSource, Result, SearchError, blocking,
    connection_names, find_connection, from_ms,
    hits::hit,
    keep_statements,
    matching::{self, Candidate, Link, LinkSource, empty_note, target},
};
use crate::{config::Connection, model::Timestamp, store::Store};

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

/// The timeline of `ip`, in the filter's connection or all.
pub(super) fn timeline_in(
    db: &Db,
    ip: std::net::IpAddr,
    filter: Option<&ConnectionRef>,
    names: &HashMap<String, String>,
) -> rusqlite::Result<IpTimeline> {
    keep_statements(db);
    let query = Query::Address { ip, at: None };
    let target = target(&query);
    let connection = filter.map(|f| f.id.as_str());
    let (matches, _) = matching::matches(db, &target, connection, None)?;
    let mut found = Vec::with_capacity(matches.len());
    for found_match in matches {
        found.extend(Candidate::load(db, found_match.asset_id, &target)?);
    }
    let hidden = match connection {
        Some(connection) => matching::hidden(db, &target, connection)?,
        None => 0,
    };
    let first = |c: &Candidate| c.links.iter().map(|l| l.first_seen).min().unwrap_or(0);
    found.sort_by_key(|c| (first(c), c.asset.id));
    let mut spans: Vec<TimelineSpan> = found
        .iter()
        .flat_map(|c| c.links.iter().map(span))
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

/// The bar of one matching link: a lease until it ended, a device-record or external address
/// until the last sync that saw it (open while it holds).
fn span(link: &Link) -> TimelineSpan {
    TimelineSpan {
        asset_id: link.asset_id,
        source: RelationSource::of(link.source),
        from: from_ms(link.first_seen),
        until: match link.source {
            LinkSource::IpHistory => link.until.map(from_ms),
            _ if link.active => None,
            _ => Some(from_ms(link.last_seen)),
        },
        last_seen: from_ms(link.last_seen),
    }
}
