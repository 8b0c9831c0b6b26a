//! Every query the search runs, on a borrowed connection. Each starts from an index (see
//! `store/0003_search_indexes.sql`); joins are written `CROSS JOIN` where SQLite must keep the
//! indexed table outside, so a missing ANALYZE never turns a seek into a scan.

use chrono::DateTime;
use rusqlite::{Connection, OptionalExtension, Row, Statement, ToSql, params};

use crate::model::Timestamp;
#[cfg(test)]
pub(super) use crate::store::{ALERT_COUNTS, VULNERABILITY_SUMMARY};
pub(super) use crate::store::{alert_counts, vulnerability_summary};

// The statements, named so a test can check that each one starts from an index.

pub(super) const ANY_ADDRESS: &str =
    "SELECT 1 FROM ip_addresses WHERE address BETWEEN ?1 AND ?2 LIMIT 1";

pub(super) const EXTERNAL_SHARERS: &str = "SELECT count(*) FROM asset_ip_addresses WHERE ip_id = ?1 AND source = 'external' AND active = 1";

pub(super) const ASSET: &str =
    "SELECT id, connection_id, device_id, name, os_platform, os_version, os_build, os_release,
     os_architecture, health_status, risk_score, exposure_level, device_value, active,
     defender_last_seen, last_seen
     FROM assets WHERE id = ?1";

pub(super) const ASSETS_BY_DEVICE_ID: &str = "SELECT id, connection_id FROM assets WHERE device_id = ?1 AND (?2 IS NULL OR connection_id = ?2)
     ORDER BY id";

pub(super) const DETAIL_ASSET: &str =
    "SELECT onboarding_status, tags, rbac_group_id, rbac_group_name, aad_device_id,
     aad_joined, merged_into, potential_duplicate, defender_first_seen, first_seen, inactive_reason,
     first_run, last_run
     FROM assets WHERE id = ?1";

pub(super) const DETAIL_HOSTNAMES: &str =
    "SELECT l.asset_id, h.name, l.first_seen, l.last_seen, l.active
     FROM asset_hostnames l CROSS JOIN hostnames h ON h.id = l.hostname_id
     WHERE l.asset_id = ?1 ORDER BY l.active DESC, l.last_seen DESC";

pub(super) const DETAIL_MACS: &str =
    "SELECT l.asset_id, m.address, l.first_seen, l.last_seen, l.active
     FROM asset_mac_addresses l CROSS JOIN mac_addresses m ON m.id = l.mac_id
     WHERE l.asset_id = ?1 ORDER BY l.active DESC, l.last_seen DESC, m.address";

pub(super) const DETAIL_ADDRESSES: &str =
    "SELECT ip.text, ip.class, ip.family, l.source, m.address, l.interface_type, l.first_seen,
     l.last_seen, l.active
     FROM asset_ip_addresses l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
     LEFT JOIN mac_addresses m ON m.id = l.mac_id
     WHERE l.asset_id = ?1
     ORDER BY l.active DESC, l.source, ip.family, ip.address";

pub(super) const DETAIL_LEASES: &str =
    "SELECT ip.text, ip.class, m.address, l.since, l.until, l.last_report
     FROM ip_leases l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
     LEFT JOIN mac_addresses m ON m.id = l.mac_id
     WHERE l.asset_id = ?1
     ORDER BY l.since DESC";

pub(super) const DETAIL_ACCOUNTS: &str = "SELECT a.domain, a.name, a.sid, l.logon_type, l.is_local_admin, l.first_seen, l.last_seen, l.active
     FROM asset_accounts l CROSS JOIN accounts a ON a.id = l.account_id
     WHERE l.asset_id = ?1
     ORDER BY l.last_seen DESC, a.name";

pub(super) const DETAIL_ALERTS: &str =
    "SELECT alert_id, title, severity, status, category, detection_source, classification,
     determination, created, updated, first_event, last_event, resolved
     FROM alerts WHERE connection_id = ?1 AND device_id = ?2
     ORDER BY status = 'Resolved', created DESC";

pub(super) const DETAIL_VULNERABILITIES: &str = "SELECT v.cve, v.cvss, v.severity, ap.vendor, ap.product, ap.version, l.first_seen, l.last_seen, l.active
     FROM asset_vulnerabilities l CROSS JOIN vulnerabilities v ON v.id = l.vulnerability_id
     CROSS JOIN applications ap ON ap.id = l.application_id
     WHERE l.asset_id = ?1
     ORDER BY l.active DESC, v.cvss IS NULL, v.cvss DESC, v.cve";

pub(super) const DETAIL_RUNS: &str =
    "SELECT id, mode, trigger, started_at, finished_at, status FROM sync_runs WHERE id IN (?1, ?2)
     ORDER BY id";

pub(super) fn from_ms(value: i64) -> Timestamp {
    DateTime::from_timestamp_millis(value).unwrap_or_default()
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

fn address_link(row: &Row<'_>) -> rusqlite::Result<Link> {
    let source: String = row.get(4)?;
    Ok(Link {
        asset_id: row.get(0)?,
        ip_id: Some(row.get(1)?),
        value: row.get(2)?,
        class: Some(row.get(3)?),
        source: if source == "external" {
            LinkSource::External
        } else {
            LinkSource::DeviceRecord
        },
        first_seen: row.get(5)?,
        last_seen: row.get(6)?,
        until: None,
        active: row.get(7)?,
    })
}

fn lease_link(row: &Row<'_>) -> rusqlite::Result<Link> {
    let until: Option<i64> = row.get(5)?;
    let last_report: i64 = row.get(6)?;
    Ok(Link {
        asset_id: row.get(0)?,
        ip_id: Some(row.get(1)?),
        value: row.get(2)?,
        class: Some(row.get(3)?),
        source: LinkSource::IpHistory,
        first_seen: row.get(4)?,
        last_seen: until.unwrap_or(last_report),
        until,
        active: until.is_none(),
    })
}

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
                            "SELECT l.asset_id, ip.id, ip.text, ip.class, l.source, l.first_seen,
                                l.last_seen, l.active
                             FROM asset_ip_addresses l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
                             WHERE l.asset_id = :asset AND ip.address BETWEEN :low AND :high{device_at}"
                        ),
                        LinkShape::Address,
                    ),
                    (
                        format!(
                            "SELECT l.asset_id, ip.id, ip.text, ip.class, l.since, l.until,
                                l.last_report
                             FROM ip_leases l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
                             WHERE l.asset_id = :asset AND ip.address BETWEEN :low AND :high{lease_at}"
                        ),
                        LinkShape::Lease,
                    ),
                ]
            }
            Target::HostNames { .. } => vec![(
                "SELECT l.asset_id, h.name, l.first_seen, l.last_seen, l.active
                 FROM asset_hostnames l CROSS JOIN hostnames h ON h.id = l.hostname_id
                 WHERE l.asset_id = :asset AND h.name >= :low AND h.name < :high"
                    .to_owned(),
                LinkShape::HostName,
            )],
            Target::Mac { .. } => vec![(
                "SELECT l.asset_id, m.address, l.first_seen, l.last_seen, l.active
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

/// Which columns a link statement returns.
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

/// An ORDER BY for [`matches`]: SQL expressions over `g` (the match) and `a` (the asset),
/// each ascending or not.
pub(super) type Order = Vec<(&'static str, bool)>;

/// The statement of [`matches`]: matching assets of the connection (all when `:connection` is
/// NULL), one row each, with the total of all pages.
pub(super) fn match_statement(target: &Target, order: Option<&Order>) -> String {
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
         SELECT g.asset_id, g.current, g.latest, count(*) OVER ()
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
            asset_id: row.get(0)?,
            current: row.get(1)?,
            latest: row.get(2)?,
        });
        total = usize::try_from(row.get::<_, i64>(3)?).unwrap_or(0);
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

/// The links of one asset that match `target`: the relations its result row shows.
pub(super) fn links_of(
    db: &Connection,
    asset_id: i64,
    target: &Target,
) -> rusqlite::Result<Vec<Link>> {
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

/// Every statement [`matches`], [`hidden`] and [`links_of`] may run for `target`, for the
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

/// Whether any address in `[low, high]` is known at all.
pub(super) fn any_address(
    db: &Connection,
    low: &[u8; 16],
    high: &[u8; 16],
) -> rusqlite::Result<bool> {
    db.prepare_cached(ANY_ADDRESS)?
        .query_row(params![low.as_slice(), high.as_slice()], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

fn simple_link(row: &Row<'_>, source: LinkSource) -> rusqlite::Result<Link> {
    Ok(Link {
        asset_id: row.get(0)?,
        source,
        value: row.get(1)?,
        ip_id: None,
        class: None,
        first_seen: row.get(2)?,
        last_seen: row.get(3)?,
        until: None,
        active: row.get(4)?,
    })
}

/// Devices that have `ip_id` as their active external address (NAT egress sharing).
pub(super) fn external_sharers(db: &Connection, ip_id: i64) -> rusqlite::Result<u64> {
    db.prepare_cached(EXTERNAL_SHARERS)?
        .query_row([ip_id], |row| row.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or(0))
}

/// The columns of an asset that a result row shows.
#[derive(Debug, Clone, Default)]
pub(super) struct AssetRow {
    pub id: i64,
    pub connection_id: String,
    pub device_id: String,
    pub name: Option<String>,
    pub os_platform: Option<String>,
    pub os_version: Option<String>,
    pub os_build: Option<i64>,
    pub os_release: Option<String>,
    pub os_architecture: Option<String>,
    pub health_status: Option<String>,
    pub risk_score: Option<String>,
    pub exposure_level: Option<String>,
    pub device_value: Option<String>,
    pub active: bool,
    pub defender_last_seen: Option<i64>,
    pub last_seen: i64,
}

pub(super) fn asset(db: &Connection, id: i64) -> rusqlite::Result<Option<AssetRow>> {
    db.prepare_cached(ASSET)?
        .query_row([id], |row| {
            Ok(AssetRow {
                id: row.get(0)?,
                connection_id: row.get(1)?,
                device_id: row.get(2)?,
                name: row.get(3)?,
                os_platform: row.get(4)?,
                os_version: row.get(5)?,
                os_build: row.get(6)?,
                os_release: row.get(7)?,
                os_architecture: row.get(8)?,
                health_status: row.get(9)?,
                risk_score: row.get(10)?,
                exposure_level: row.get(11)?,
                device_value: row.get(12)?,
                active: row.get(13)?,
                defender_last_seen: row.get(14)?,
                last_seen: row.get(15)?,
            })
        })
        .optional()
}

/// Assets with this numeric id, or this Defender device id (in any connection, or in one).
pub(super) fn assets_by_device_id(
    db: &Connection,
    device_id: &str,
    connection_id: Option<&str>,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut statement = db.prepare_cached(ASSETS_BY_DEVICE_ID)?;
    let rows = statement.query_map(params![device_id, connection_id], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    rows.collect()
}

/// Everything the device view shows, read in one go.
#[derive(Debug, Clone)]
pub(super) struct DetailRows {
    pub asset: AssetRow,
    pub onboarding_status: Option<String>,
    pub tags: String,
    pub rbac_group_id: Option<i64>,
    pub rbac_group_name: Option<String>,
    pub aad_device_id: Option<String>,
    pub aad_joined: Option<bool>,
    pub merged_into: Option<String>,
    pub potential_duplicate: bool,
    pub defender_first_seen: Option<i64>,
    pub first_seen: i64,
    pub inactive_reason: Option<String>,
    pub first_run: i64,
    pub last_run: i64,
    pub hostnames: Vec<Link>,
    pub addresses: Vec<AddressRow>,
    pub leases: Vec<LeaseRow>,
    pub macs: Vec<Link>,
    pub accounts: Vec<AccountRow>,
    pub alerts: Vec<AlertRow>,
    pub vulnerabilities: Vec<VulnerabilityRow>,
    pub runs: Vec<RunRow>,
}

#[derive(Debug, Clone)]
pub(super) struct AddressRow {
    pub text: String,
    pub class: String,
    pub family: u8,
    pub source: String,
    pub mac: Option<String>,
    pub interface_type: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub(super) struct LeaseRow {
    pub text: String,
    pub class: String,
    pub mac: Option<String>,
    pub since: i64,
    pub until: Option<i64>,
    pub last_report: i64,
}

#[derive(Debug, Clone)]
pub(super) struct AccountRow {
    pub domain: Option<String>,
    pub name: String,
    pub sid: Option<String>,
    pub logon_type: Option<String>,
    pub is_local_admin: Option<bool>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub(super) struct AlertRow {
    pub alert_id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub category: Option<String>,
    pub detection_source: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub created: i64,
    pub updated: i64,
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    pub resolved: Option<i64>,
}

#[derive(Debug, Clone)]
pub(super) struct VulnerabilityRow {
    pub cve: String,
    pub cvss: Option<f64>,
    pub severity: Option<String>,
    pub vendor: String,
    pub product: String,
    pub version: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub(super) struct RunRow {
    pub id: i64,
    pub mode: String,
    pub trigger: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub status: String,
}

pub(super) fn detail(db: &Connection, id: i64) -> rusqlite::Result<Option<DetailRows>> {
    let Some(mut rows) = db
        .prepare_cached(DETAIL_ASSET)?
        .query_row([id], |row| {
            Ok(DetailRows {
                // Filled below from `asset`, which a result row reads too.
                asset: AssetRow::default(),
                onboarding_status: row.get(0)?,
                tags: row.get(1)?,
                rbac_group_id: row.get(2)?,
                rbac_group_name: row.get(3)?,
                aad_device_id: row.get(4)?,
                aad_joined: row.get(5)?,
                merged_into: row.get(6)?,
                potential_duplicate: row.get(7)?,
                defender_first_seen: row.get(8)?,
                first_seen: row.get(9)?,
                inactive_reason: row.get(10)?,
                first_run: row.get(11)?,
                last_run: row.get(12)?,
                hostnames: Vec::new(),
                addresses: Vec::new(),
                leases: Vec::new(),
                macs: Vec::new(),
                accounts: Vec::new(),
                alerts: Vec::new(),
                vulnerabilities: Vec::new(),
                runs: Vec::new(),
            })
        })
        .optional()?
    else {
        return Ok(None);
    };
    let Some(asset) = asset(db, id)? else {
        return Ok(None);
    };

    let hostnames = db
        .prepare_cached(DETAIL_HOSTNAMES)?
        .query_map([id], |row| simple_link(row, LinkSource::HostName))?
        .collect::<rusqlite::Result<Vec<Link>>>()?;
    let macs = db
        .prepare_cached(DETAIL_MACS)?
        .query_map([id], |row| simple_link(row, LinkSource::Mac))?
        .collect::<rusqlite::Result<Vec<Link>>>()?;
    let addresses = db
        .prepare_cached(DETAIL_ADDRESSES)?
        .query_map([id], |row| {
            Ok(AddressRow {
                text: row.get(0)?,
                class: row.get(1)?,
                family: row.get(2)?,
                source: row.get(3)?,
                mac: row.get(4)?,
                interface_type: row.get(5)?,
                first_seen: row.get(6)?,
                last_seen: row.get(7)?,
                active: row.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<AddressRow>>>()?;
    let leases = db
        .prepare_cached(DETAIL_LEASES)?
        .query_map([id], |row| {
            Ok(LeaseRow {
                text: row.get(0)?,
                class: row.get(1)?,
                mac: row.get(2)?,
                since: row.get(3)?,
                until: row.get(4)?,
                last_report: row.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<LeaseRow>>>()?;
    let accounts = db
        .prepare_cached(DETAIL_ACCOUNTS)?
        .query_map([id], |row| {
            Ok(AccountRow {
                domain: row.get(0)?,
                name: row.get(1)?,
                sid: row.get(2)?,
                logon_type: row.get(3)?,
                is_local_admin: row.get(4)?,
                first_seen: row.get(5)?,
                last_seen: row.get(6)?,
                active: row.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<AccountRow>>>()?;
    let alerts = db
        .prepare_cached(DETAIL_ALERTS)?
        .query_map(params![&asset.connection_id, &asset.device_id], |row| {
            Ok(AlertRow {
                alert_id: row.get(0)?,
                title: row.get(1)?,
                severity: row.get(2)?,
                status: row.get(3)?,
                category: row.get(4)?,
                detection_source: row.get(5)?,
                classification: row.get(6)?,
                determination: row.get(7)?,
                created: row.get(8)?,
                updated: row.get(9)?,
                first_event: row.get(10)?,
                last_event: row.get(11)?,
                resolved: row.get(12)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<AlertRow>>>()?;
    let vulnerabilities = db
        .prepare_cached(DETAIL_VULNERABILITIES)?
        .query_map([id], |row| {
            Ok(VulnerabilityRow {
                cve: row.get(0)?,
                cvss: row.get(1)?,
                severity: row.get(2)?,
                vendor: row.get(3)?,
                product: row.get(4)?,
                version: row.get(5)?,
                first_seen: row.get(6)?,
                last_seen: row.get(7)?,
                active: row.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<VulnerabilityRow>>>()?;
    let runs = db
        .prepare_cached(DETAIL_RUNS)?
        .query_map(params![rows.first_run, rows.last_run], |row| {
            Ok(RunRow {
                id: row.get(0)?,
                mode: row.get(1)?,
                trigger: row.get(2)?,
                started_at: row.get(3)?,
                finished_at: row.get(4)?,
                status: row.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<RunRow>>>()?;
    rows.asset = asset;
    rows.hostnames = hostnames;
    rows.addresses = addresses;
    rows.leases = leases;
    rows.macs = macs;
    rows.accounts = accounts;
    rows.alerts = alerts;
    rows.vulnerabilities = vulnerabilities;
    rows.runs = runs;
    Ok(Some(rows))
}
