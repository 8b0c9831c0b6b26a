//! What a query matches, in the store's terms: the [`Target`] a query becomes, the one
//! statement that finds, groups, counts, sorts and pages the matching assets ([`matches()`]),
//! what a connection filter hid ([`hidden`]), and each found asset with the links that matched
//! it ([`Candidate`]): the relations its row shows.
//!
//! The result table (`hits.rs`) asks for one sorted page, the IP timeline (`timeline.rs`) for
//! every holder of one address; both ask here, so the two never disagree on who matched, and
//! the rule of "who held it at T" is written once, in the statements both run
//! ([`DEVICE_LINK_AT`], [`LEASE_AT`]). Matching happens inside SQLite, so a query that matches
//! a million assets never brings a million rows out, and every statement starts from an index:
//! the match from `ip_addresses.address`, `hostnames.name` or `mac_addresses.address`, an
//! asset's links from its primary key.

use ipnet::IpNet;
use rusqlite::{Connection, OptionalExtension, Row, Statement, ToSql, params};

use super::{Query, format_time, sql};
use crate::store::address_key;

// The statements, named so a test can check that each one starts from an index.

pub(super) const ANY_ADDRESS: &str =
    "SELECT 1 FROM ip_addresses WHERE address BETWEEN ?1 AND ?2 LIMIT 1";

/// What a search matches on, with its bounds.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// Addresses in `[low, high]` (16-byte keys); with `at`, only links that held then.
    Addresses {
        low: [u8; 16],
        high: [u8; 16],
        at: Option<i64>,
    },
    /// Host names in `[low, high)` (NOCASE).
    HostNames {
        low: String,
        high: String,
    },
    Mac {
        address: String,
    },
}

/// What `query` matches on, in the store's terms.
pub(super) fn target(query: &Query) -> Target {
    match query {
        Query::HostName { prefix } => Target::HostNames {
            low: prefix.clone(),
            high: prefix_upper_bound(prefix),
        },
        Query::Mac { mac } => Target::Mac {
            address: mac.to_string(),
        },
        Query::Address { at, .. } | Query::Range { at, .. } => {
            let (low, high) = key_range(query).unwrap_or(([0; 16], [0; 16]));
            Target::Addresses {
                low,
                high,
                at: at.map(|t| t.timestamp_millis()),
            }
        }
    }
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
pub(super) fn prefix_upper_bound(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).unwrap_or_else(|_| format!("{prefix}\u{10FFFF}"))
}

/// "Held it at :at", for device-record links: the syncs saw it then, and no IP history of the
/// address in the same connection exists to say better (external addresses never have one).
/// Shared by the match and link statements, so both apply the one rule.
const DEVICE_LINK_AT: &str = " AND l.first_seen <= :at AND (:at <= l.last_seen OR l.active)
     AND (l.source = 'external' OR NOT EXISTS
         (SELECT 1 FROM ip_leases h WHERE h.ip_id = l.ip_id AND h.connection_id = l.connection_id))";

/// "Held it at :at", for leases: `[since, until)` covers it.
const LEASE_AT: &str = " AND l.since <= :at AND (l.until IS NULL OR l.until > :at)";

impl Target {
    /// (asset_id, connection_id, active, last_seen) of every matching link.
    fn match_rows(&self) -> String {
        match self {
            Target::Addresses { at, .. } => {
                let (device_at, lease_at) = if at.is_some() {
                    (DEVICE_LINK_AT, LEASE_AT)
                } else {
                    ("", "")
                };
                format!(
                    "SELECT l.asset_id, l.connection_id, l.active, l.last_seen
                     FROM ip_addresses ip CROSS JOIN asset_ip_addresses l ON l.ip_id = ip.id
                     WHERE ip.address BETWEEN :low AND :high{device_at}
                     UNION ALL
                     SELECT l.asset_id, l.connection_id, l.until IS NULL, coalesce(l.until, l.last_report)
                     FROM ip_addresses ip CROSS JOIN ip_leases l ON l.ip_id = ip.id
                     WHERE ip.address BETWEEN :low AND :high{lease_at}"
                )
            }
            Target::HostNames { .. } => "SELECT l.asset_id, l.connection_id, l.active, l.last_seen
                 FROM hostnames h CROSS JOIN asset_hostnames l ON l.hostname_id = h.id
                 WHERE h.name >= :low AND h.name < :high"
                .to_owned(),
            Target::Mac { .. } => "SELECT l.asset_id, l.connection_id, l.active, l.last_seen
                 FROM mac_addresses m CROSS JOIN asset_mac_addresses l ON l.mac_id = m.id
                 WHERE m.address = :mac"
                .to_owned(),
        }
    }

    /// The statements reading one asset's matching links, driven by its primary key.
    fn link_statements(&self) -> Vec<(String, LinkShape)> {
        match self {
            Target::Addresses { at, .. } => {
                let (device_at, lease_at) = if at.is_some() {
                    (DEVICE_LINK_AT, LEASE_AT)
                } else {
                    ("", "")
                };
                vec![
                    (
                        format!(
                            "SELECT l.asset_id, ip.id AS ip_id, ip.text AS value, ip.class, l.source,
                                l.first_seen, l.last_seen, l.active
                             FROM asset_ip_addresses l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
                             WHERE l.asset_id = :asset AND ip.address BETWEEN :low AND :high{device_at}"
                        ),
                        LinkShape::Address,
                    ),
                    (
                        format!(
                            "SELECT l.asset_id, ip.id AS ip_id, ip.text AS value, ip.class, l.since,
                                l.until, l.last_report
                             FROM ip_leases l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
                             WHERE l.asset_id = :asset AND ip.address BETWEEN :low AND :high{lease_at}"
                        ),
                        LinkShape::Lease,
                    ),
                ]
            }
            Target::HostNames { .. } => vec![(
                "SELECT l.asset_id, h.name AS value, l.first_seen, l.last_seen, l.active
                 FROM asset_hostnames l CROSS JOIN hostnames h ON h.id = l.hostname_id
                 WHERE l.asset_id = :asset AND h.name >= :low AND h.name < :high"
                    .to_owned(),
                LinkShape::HostName,
            )],
            Target::Mac { .. } => vec![(
                "SELECT l.asset_id, m.address AS value, l.first_seen, l.last_seen, l.active
                 FROM asset_mac_addresses l CROSS JOIN mac_addresses m ON m.id = l.mac_id
                 WHERE l.asset_id = :asset AND m.address = :mac"
                    .to_owned(),
                LinkShape::Mac,
            )],
        }
    }

    /// Binds the target's named parameters that `statement` uses.
    fn bind(&self, statement: &mut Statement<'_>) -> rusqlite::Result<()> {
        match self {
            Target::Addresses { low, high, at } => {
                bind(statement, ":low", &low.as_slice())?;
                bind(statement, ":high", &high.as_slice())?;
                bind(statement, ":at", at)
            }
            Target::HostNames { low, high } => {
                bind(statement, ":low", low)?;
                bind(statement, ":high", high)
            }
            Target::Mac { address } => bind(statement, ":mac", address),
        }
    }
}

/// Which columns a link statement returns: `asset_id`, `value`, and an address's `ip_id` and
/// `class`; `source`, `first_seen`, `last_seen` and `active` for a device-record link, `since`,
/// `until` and `last_report` for a lease.
#[derive(Debug, Clone, Copy)]
enum LinkShape {
    Address,
    Lease,
    HostName,
    Mac,
}

fn bind(statement: &mut Statement<'_>, name: &str, value: &dyn ToSql) -> rusqlite::Result<()> {
    match statement.parameter_index(name)? {
        Some(index) => statement.raw_bind_parameter(index, value),
        None => Ok(()),
    }
}

/// One matching asset: whether any matching link holds now, and the latest confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Match {
    pub asset_id: i64,
    pub current: bool,
    pub latest: i64,
}

/// An ORDER BY for [`matches()`]: SQL expressions over `g` (the match) and `a` (the asset),
/// each ascending or not.
pub(super) type Order = Vec<(&'static str, bool)>;

/// The statement of [`matches()`]: matching assets of the connection (all when `:connection` is
/// NULL), one row each, with the total of all pages.
fn match_statement(target: &Target, order: Option<&Order>) -> String {
    let tail = match order {
        Some(order) => {
            let terms: Vec<String> = order
                .iter()
                .map(|(expression, ascending)| {
                    format!("{expression} {}", if *ascending { "ASC" } else { "DESC" })
                })
                .collect();
            format!(" ORDER BY {} LIMIT :limit OFFSET :offset", terms.join(", "))
        }
        None => " ORDER BY g.asset_id".to_owned(),
    };
    format!(
        "WITH m(asset_id, connection_id, active, last_seen) AS ({}),
         g AS (SELECT asset_id, max(active) AS current, max(last_seen) AS latest FROM m
               WHERE :connection IS NULL OR connection_id = :connection GROUP BY asset_id)
         SELECT g.asset_id, g.current, g.latest, count(*) OVER () AS total
         FROM g CROSS JOIN assets a ON a.id = g.asset_id{tail}",
        target.match_rows()
    )
}

/// Matching assets, grouped and (with `page`) sorted and paged inside SQLite, so a query that
/// matches a million assets never brings a million rows out; and the total over all pages.
pub(super) fn matches(
    db: &Connection,
    target: &Target,
    connection: Option<&str>,
    page: Option<(&Order, usize, usize)>,
) -> rusqlite::Result<(Vec<Match>, usize)> {
    let mut statement = db.prepare_cached(&match_statement(target, page.map(|p| p.0)))?;
    target.bind(&mut statement)?;
    bind(&mut statement, ":connection", &connection)?;
    if let Some((_, limit, offset)) = page {
        bind(
            &mut statement,
            ":limit",
            &i64::try_from(limit).unwrap_or(i64::MAX),
        )?;
        bind(
            &mut statement,
            ":offset",
            &i64::try_from(offset).unwrap_or(i64::MAX),
        )?;
    }
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    let mut total = 0;
    while let Some(row) = rows.next()? {
        out.push(Match {
            asset_id: row.get("asset_id")?,
            current: row.get("current")?,
            latest: row.get("latest")?,
        });
        total = usize::try_from(row.get::<_, i64>("total")?).unwrap_or(0);
    }
    drop(rows);
    if out.is_empty() && page.is_some() {
        // An offset past the end (or a limit of 0) returns no row to carry the total.
        let (all, _) = matches(db, target, connection, None)?;
        total = all.len();
    }
    Ok((out, total))
}

/// Assets of other connections than `connection` that match: what a connection filter hid.
pub(super) fn hidden(
    db: &Connection,
    target: &Target,
    connection: &str,
) -> rusqlite::Result<usize> {
    let sql = format!(
        "WITH m(asset_id, connection_id, active, last_seen) AS ({})
         SELECT count(DISTINCT asset_id) FROM m WHERE connection_id <> :connection",
        target.match_rows()
    );
    let mut statement = db.prepare_cached(&sql)?;
    target.bind(&mut statement)?;
    bind(&mut statement, ":connection", &connection)?;
    let mut rows = statement.raw_query();
    match rows.next()? {
        Some(row) => Ok(usize::try_from(row.get::<_, i64>(0)?).unwrap_or(0)),
        None => Ok(0),
    }
}

/// An asset with the links that matched it.
pub(super) struct Candidate {
    pub(super) asset: sql::AssetRow,
    pub(super) links: Vec<Link>,
}

impl Candidate {
    pub(super) fn load(
        db: &Connection,
        asset_id: i64,
        target: &Target,
    ) -> rusqlite::Result<Option<Candidate>> {
        let Some(asset) = sql::asset(db, asset_id)? else {
            return Ok(None);
        };
        Ok(Some(Candidate {
            asset,
            links: links_of(db, asset_id, target)?,
        }))
    }
}

/// Where a link between an asset and a searched value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkSource {
    /// `ipAddresses[]` of the device record.
    DeviceRecord,
    /// `lastExternalIpAddress` of the device record.
    External,
    /// A lease interval rebuilt from DeviceNetworkInfo reports.
    IpHistory,
    HostName,
    Mac,
}

/// One link row, before it is phrased.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub asset_id: i64,
    pub source: LinkSource,
    /// The matched address, host name or MAC, as stored.
    pub value: String,
    /// `ip_addresses.id` for address links.
    pub ip_id: Option<i64>,
    /// `ip_addresses.class` for address links.
    pub class: Option<String>,
    pub first_seen: i64,
    /// The last time the link was confirmed: last sync that listed it, or the lease's last
    /// report.
    pub last_seen: i64,
    /// Lease end; `None` for an open lease and for non-lease links.
    pub until: Option<i64>,
    pub active: bool,
}

/// The links of one asset that match `target`: the relations its result row shows.
fn links_of(db: &Connection, asset_id: i64, target: &Target) -> rusqlite::Result<Vec<Link>> {
    let mut links = Vec::new();
    for (sql, shape) in target.link_statements() {
        let mut statement = db.prepare_cached(&sql)?;
        target.bind(&mut statement)?;
        bind(&mut statement, ":asset", &asset_id)?;
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            links.push(match shape {
                LinkShape::Address => address_link(row)?,
                LinkShape::Lease => lease_link(row)?,
                LinkShape::HostName => simple_link(row, LinkSource::HostName)?,
                LinkShape::Mac => simple_link(row, LinkSource::Mac)?,
            });
        }
    }
    Ok(links)
}

fn address_link(row: &Row<'_>) -> rusqlite::Result<Link> {
    let source: String = row.get("source")?;
    Ok(Link {
        asset_id: row.get("asset_id")?,
        ip_id: Some(row.get("ip_id")?),
        value: row.get("value")?,
        class: Some(row.get("class")?),
        source: if source == "external" {
            LinkSource::External
        } else {
            LinkSource::DeviceRecord
        },
        first_seen: row.get("first_seen")?,
        last_seen: row.get("last_seen")?,
        until: None,
        active: row.get("active")?,
    })
}

fn lease_link(row: &Row<'_>) -> rusqlite::Result<Link> {
    let until: Option<i64> = row.get("until")?;
    let last_report: i64 = row.get("last_report")?;
    Ok(Link {
        asset_id: row.get("asset_id")?,
        ip_id: Some(row.get("ip_id")?),
        value: row.get("value")?,
        class: Some(row.get("class")?),
        source: LinkSource::IpHistory,
        first_seen: row.get("since")?,
        last_seen: until.unwrap_or(last_report),
        until,
        active: until.is_none(),
    })
}

/// A host name or MAC link.
fn simple_link(row: &Row<'_>, source: LinkSource) -> rusqlite::Result<Link> {
    Ok(Link {
        asset_id: row.get("asset_id")?,
        source,
        value: row.get("value")?,
        ip_id: None,
        class: None,
        first_seen: row.get("first_seen")?,
        last_seen: row.get("last_seen")?,
        until: None,
        active: row.get("active")?,
    })
}

/// Every statement [`matches()`], [`hidden`] and [`links_of`] may run for `target`, for the
/// query-plan test.
#[cfg(test)]
pub(super) fn statements_of(target: &Target, orders: &[Order]) -> Vec<String> {
    let mut out = vec![match_statement(target, None)];
    out.extend(
        orders
            .iter()
            .map(|order| match_statement(target, Some(order))),
    );
    out.push(format!(
        "WITH m(asset_id, connection_id, active, last_seen) AS ({}) SELECT count(DISTINCT asset_id) FROM m",
        target.match_rows()
    ));
    out.extend(target.link_statements().into_iter().map(|(sql, _)| sql));
    out
}

/// Why nothing matched, so an empty table is never silent.
pub(super) fn empty_note(db: &Connection, query: &Query) -> rusqlite::Result<String> {
    Ok(match query {
        Query::HostName { prefix } => format!("no device has a host name starting with '{prefix}'"),
        Query::Mac { mac } => format!("no device has or had an adapter with MAC {mac}"),
        Query::Address { at, .. } | Query::Range { at, .. } => {
            let (low, high) = key_range(query).unwrap_or(([0; 16], [0; 16]));
            let value = query.value();
            match at {
                _ if !any_address(db, &low, &high)? => format!(
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

/// Whether any address in `[low, high]` is known at all.
fn any_address(db: &Connection, low: &[u8; 16], high: &[u8; 16]) -> rusqlite::Result<bool> {
    db.prepare_cached(ANY_ADDRESS)?
        .query_row(params![low.as_slice(), high.as_slice()], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}
