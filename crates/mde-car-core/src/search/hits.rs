//! The result table: one sorted page of the assets a query matches, each with its risk and
//! its relations to the query ([`search`]). The IP timeline's holders are result rows too
//! ([`hit`]).
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
//! # Speed
//!
//! Two phases. First, SQLite finds, groups, counts, sorts and pages the matching assets in one
//! statement (`matching::matches`): an exact address is an index seek on
//! `ip_addresses.address`, a range one range scan on it (16 bytes, IPv4 mapped into IPv6, so
//! one ordering serves both families), a host name prefix one range on `hostnames.name`
//! (NOCASE), a MAC one seek; the links follow through their `*_by_*` indexes. Second, only the
//! page's assets are read in full: their matching links by primary key, their active alerts
//! from a covering index, their vulnerabilities by primary key. Measured on a store of a
//! million assets (3 million address links, 2 million leases, 5 million vulnerability links):
//! an exact address answers in about 0.2 ms, a /24 in 2 ms, a /16 of 20,000 matches in about
//! 47 ms sorted by relevance or by risk (each sync stores the risk score; `make bench`).

use std::{cmp::Reverse, collections::HashMap};

use rusqlite::Connection as Db;
use serde::{Deserialize, Serialize};

use super::{
    AssetHit, ConnectionRef, DefenderRating, Query, Relation, RelationKind, RelationSource, Result,
    blocking, connection_names, find_connection, from_ms, keep_statements,
    matching::{self, Candidate, Link, LinkSource, empty_note, target},
    os_info, risk_of,
};
use crate::{config::Connection, store::Store};

// The statements, named so a test can check that each one starts from an index.

pub(super) const EXTERNAL_SHARERS: &str = "SELECT count(*) FROM asset_ip_addresses WHERE ip_id = ?1 AND source = 'external' AND active = 1";

/// Results per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most results one page may hold.
pub const MAX_LIMIT: usize = 1_000;

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
pub(super) fn prepare_search(
    connections: &[Connection],
    request: &SearchRequest,
) -> Result<PreparedSearch> {
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

/// A blank optional field of a request means it was not given.
fn blank_is_none(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

/// A request read and checked, before the store is asked.
pub(super) struct PreparedSearch {
    pub(super) query: Query,
    pub(super) notes: Vec<String>,
    pub(super) filter: Option<ConnectionRef>,
    pub(super) names: HashMap<String, String>,
}

/// Sorting and paging of one search.
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    pub(super) sort: SortKey,
    pub(super) reverse: bool,
    pub(super) offset: usize,
    pub(super) limit: usize,
}

/// The SQL order of a sort key in its natural direction (flipped whole by `reverse`, like
/// [`SortKey`] says). Risk orders by the score each sync stores.
pub(super) fn order(key: SortKey, reverse: bool, at_time: bool) -> matching::Order {
    let by_name = [
        ("a.name IS NULL", true),
        ("lower(coalesce(a.name, a.device_id))", true),
        ("a.id", true),
    ];
    let mut order: matching::Order = match key {
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

/// One page of the results of `query`, with the notes that explain it.
pub(super) fn search_in(
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
        matching::matches(db, &target, connection, Some((&order, limit, page.offset)))?;
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
        Some(connection) => matching::hidden(db, &target, connection)?,
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
    for candidate in found {
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

/// The result row of a found asset. `sharers` keeps how many devices share each external
/// address, so a page with one NAT address counts them once.
pub(super) fn hit(
    db: &Db,
    candidate: Candidate,
    at: Option<i64>,
    names: &HashMap<String, String>,
    sharers: &mut HashMap<i64, u64>,
) -> rusqlite::Result<AssetHit> {
    let Candidate { asset, mut links } = candidate;
    let (alerts, vulnerabilities, risk) = risk_of(db, &asset)?;
    // Current first, then the most recently confirmed.
    links.sort_by_key(|link| (!link.active, Reverse(link.last_seen), link.value.clone()));
    let mut relations = Vec::with_capacity(links.len());
    for link in &links {
        let shared_by = match (link.source, link.ip_id) {
            (LinkSource::External, Some(ip_id)) => Some(match sharers.get(&ip_id) {
                Some(count) => *count,
                None => {
                    let count = external_sharers(db, ip_id)?;
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

/// Devices that have `ip_id` as their active external address (NAT egress sharing).
fn external_sharers(db: &Db, ip_id: i64) -> rusqlite::Result<u64> {
    db.prepare_cached(EXTERNAL_SHARERS)?
        .query_row([ip_id], |row| row.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
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

/// How `link` relates its asset to the query, as data and in words.
fn relation(link: &Link, at: Option<i64>, shared_by: Option<u64>) -> Relation {
    let (kind, text) = match link.source {
        LinkSource::HostName => (RelationKind::HostName, host_name_words(link)),
        LinkSource::Mac => (RelationKind::MacAddress, mac_words(link)),
        _ => (holder_kind(link, at), holder_words(link, at, shared_by)),
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

/// "host name web01.contoso.com (current), seen … – … UTC", or "former host name …".
fn host_name_words(link: &Link) -> String {
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
    }
}

/// "adapter with MAC …, seen … – … UTC", or "former adapter with MAC …".
fn mac_words(link: &Link) -> String {
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
    )
}

/// Holder at the asked time, or current or past holder of an address.
fn holder_kind(link: &Link, at: Option<i64>) -> RelationKind {
    match at {
        Some(_) => RelationKind::HolderAtTime,
        None if link.active => RelationKind::CurrentHolder,
        None => RelationKind::PastHolder,
    }
}

/// "current holder of 10.1.2.3 (private): IP history: …": the role, the address class and the
/// evidence.
fn holder_words(link: &Link, at: Option<i64>, shared_by: Option<u64>) -> String {
    let role = match at {
        Some(at) => format!("held {} at {} UTC", link.value, short(at)),
        None if link.active => format!("current holder of {}", link.value),
        None => format!("past holder of {}", link.value),
    };
    let class = link.class.clone().map(|class| class.replace('_', "-"));
    let class_words = match (link.source, &class) {
        (LinkSource::External, Some(class)) => format!("external, {class}"),
        (_, Some(class)) => class.clone(),
        (_, None) => "unknown class".to_owned(),
    };
    format!("{role} ({class_words}): {}", evidence(link, at, shared_by))
}

/// What shows that the asset held the address: its IP history, its external address (with how
/// many share it) or its device record.
fn evidence(link: &Link, at: Option<i64>, shared_by: Option<u64>) -> String {
    match link.source {
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
    }
}
