//! The device view ([`asset_detail`]): everything the store knows about one asset — identity,
//! network (host names, addresses, IP history, MACs), accounts, alerts, vulnerabilities, risk
//! and the sync runs it came from — and how a reference names an asset ([`resolve_asset`]).
//!
//! Each section is one statement by the asset's primary key (alerts by the device's key) and
//! one reader that turns its rows into the section's view type, so a section is read, ordered
//! and shaped in one place and [`detail_in`] only puts the sections together. The asset row and
//! the risk are the ones a result row shows (`sql.rs`, `risk_of`), so the device view and the
//! result table never disagree about a device.

use std::collections::HashMap;

use rusqlite::{Connection as Db, OptionalExtension, Row, params};
use serde::Serialize;

use super::{
    AlertCounts, AssetRisk, ConnectionRef, DefenderRating, OsInfo, RelationSource, Result,
    SearchError, VulnerabilitySummary, blocking, connection_names, find_connection, from_ms,
    keep_statements, os_info, risk_of, sql,
};
use crate::{config::Connection, model::Timestamp, store::Store};

// The statements, named so a test can check that each one starts from an index.

pub(super) const ASSETS_BY_DEVICE_ID: &str = "SELECT id, connection_id FROM assets WHERE device_id = ?1 AND (?2 IS NULL OR connection_id = ?2)
     ORDER BY id";

pub(super) const DETAIL_ASSET: &str =
    "SELECT onboarding_status, tags, rbac_group_id, rbac_group_name, aad_device_id,
     aad_joined, merged_into, potential_duplicate, defender_first_seen, first_seen, inactive_reason,
     first_run, last_run
     FROM assets WHERE id = ?1";

pub(super) const DETAIL_HOSTNAMES: &str =
    "SELECT h.name AS value, l.first_seen, l.last_seen, l.active
     FROM asset_hostnames l CROSS JOIN hostnames h ON h.id = l.hostname_id
     WHERE l.asset_id = ?1 ORDER BY l.active DESC, l.last_seen DESC";

pub(super) const DETAIL_MACS: &str =
    "SELECT m.address AS value, l.first_seen, l.last_seen, l.active
     FROM asset_mac_addresses l CROSS JOIN mac_addresses m ON m.id = l.mac_id
     WHERE l.asset_id = ?1 ORDER BY l.active DESC, l.last_seen DESC, m.address";

pub(super) const DETAIL_ADDRESSES: &str =
    "SELECT ip.text, ip.class, ip.family, l.source, m.address AS mac, l.interface_type,
     l.first_seen, l.last_seen, l.active
     FROM asset_ip_addresses l CROSS JOIN ip_addresses ip ON ip.id = l.ip_id
     LEFT JOIN mac_addresses m ON m.id = l.mac_id
     WHERE l.asset_id = ?1
     ORDER BY l.active DESC, l.source, ip.family, ip.address";

pub(super) const DETAIL_LEASES: &str =
    "SELECT ip.text, ip.class, m.address AS mac, l.since, l.until, l.last_report
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

/// The asset `reference` names, or why none or several do. `scope` is the connection id and
/// device id of a `connection:device-id` reference.
pub(super) fn resolve_asset(
    db: &Db,
    reference: &str,
    scope: Option<&(String, String)>,
    names: &HashMap<String, String>,
) -> rusqlite::Result<std::result::Result<i64, SearchError>> {
    if let Some((connection_id, device_id)) = scope {
        let found = assets_by_device_id(db, device_id, Some(connection_id))?;
        let found = if found.is_empty() {
            assets_by_device_id(db, &device_id.to_ascii_lowercase(), Some(connection_id))?
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
    let mut found = assets_by_device_id(db, reference, None)?;
    if found.is_empty() {
        found = assets_by_device_id(db, &reference.to_ascii_lowercase(), None)?;
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

/// Assets with this numeric id, or this Defender device id (in any connection, or in one).
fn assets_by_device_id(
    db: &Db,
    device_id: &str,
    connection_id: Option<&str>,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut statement = db.prepare_cached(ASSETS_BY_DEVICE_ID)?;
    let rows = statement.query_map(params![device_id, connection_id], |row| {
        Ok((row.get("id")?, row.get("connection_id")?))
    })?;
    rows.collect()
}

/// The device view of asset `id`, section by section; `None` when there is no such asset.
pub(super) fn detail_in(
    db: &Db,
    id: i64,
    names: &HashMap<String, String>,
) -> rusqlite::Result<Option<AssetDetail>> {
    let Some(record) = record(db, id)? else {
        return Ok(None);
    };
    let Some(asset) = sql::asset(db, id)? else {
        return Ok(None);
    };
    let host_names = linked_values(db, DETAIL_HOSTNAMES, id)?;
    let mac_addresses = linked_values(db, DETAIL_MACS, id)?;
    let ip_addresses = ip_addresses(db, id)?;
    let ip_history = ip_history(db, id)?;
    let accounts = accounts(db, id)?;
    let alerts = alerts(db, &asset.connection_id, &asset.device_id)?;
    let vulnerabilities = vulnerabilities(db, id)?;
    let runs = runs(db, record.first_run, record.last_run)?;
    let run = |run_id: i64| runs.iter().find(|run| run.id == run_id).cloned();
    let (alert_counts, vulnerability_summary, risk) = risk_of(db, &asset)?;
    Ok(Some(AssetDetail {
        asset_id: asset.id,
        connection: ConnectionRef {
            id: asset.connection_id.clone(),
            name: names.get(&asset.connection_id).cloned(),
        },
        device_id: asset.device_id.clone(),
        name: asset.name.clone(),
        os: os_info(&asset),
        health_status: asset.health_status.clone(),
        onboarding_status: record.onboarding_status,
        rbac_group_id: record.rbac_group_id,
        rbac_group_name: record.rbac_group_name,
        tags: serde_json::from_str(&record.tags).unwrap_or_default(),
        aad_device_id: record.aad_device_id,
        aad_joined: record.aad_joined,
        merged_into: record.merged_into,
        potential_duplicate: record.potential_duplicate,
        active: asset.active,
        inactive_reason: record.inactive_reason,
        defender_first_seen: record.defender_first_seen.map(from_ms),
        defender_last_seen: asset.defender_last_seen.map(from_ms),
        first_synced: from_ms(record.first_seen),
        last_synced: from_ms(asset.last_seen),
        defender: DefenderRating {
            risk_score: asset.risk_score.clone(),
            exposure_level: asset.exposure_level.clone(),
            device_value: asset.device_value.clone(),
        },
        risk,
        alert_counts,
        vulnerability_summary,
        host_names,
        ip_addresses,
        ip_history,
        mac_addresses,
        accounts,
        alerts,
        vulnerabilities,
        first_run: run(record.first_run),
        last_run: run(record.last_run),
    }))
}

/// The columns of an asset that only the device view shows; the others are the result row's
/// ([`sql::AssetRow`]).
struct Record {
    onboarding_status: Option<String>,
    /// A JSON list of texts.
    tags: String,
    rbac_group_id: Option<i64>,
    rbac_group_name: Option<String>,
    aad_device_id: Option<String>,
    aad_joined: Option<bool>,
    merged_into: Option<String>,
    potential_duplicate: bool,
    defender_first_seen: Option<i64>,
    first_seen: i64,
    inactive_reason: Option<String>,
    first_run: i64,
    last_run: i64,
}

/// Identity: what the device record says beyond the result row.
fn record(db: &Db, id: i64) -> rusqlite::Result<Option<Record>> {
    db.prepare_cached(DETAIL_ASSET)?
        .query_row([id], |row| {
            Ok(Record {
                onboarding_status: row.get("onboarding_status")?,
                tags: row.get("tags")?,
                rbac_group_id: row.get("rbac_group_id")?,
                rbac_group_name: row.get("rbac_group_name")?,
                aad_device_id: row.get("aad_device_id")?,
                aad_joined: row.get("aad_joined")?,
                merged_into: row.get("merged_into")?,
                potential_duplicate: row.get("potential_duplicate")?,
                defender_first_seen: row.get("defender_first_seen")?,
                first_seen: row.get("first_seen")?,
                inactive_reason: row.get("inactive_reason")?,
                first_run: row.get("first_run")?,
                last_run: row.get("last_run")?,
            })
        })
        .optional()
}

/// The rows of a section's `statement` for asset `id`, each read by `read`.
fn section<T>(
    db: &Db,
    statement: &str,
    id: i64,
    read: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    db.prepare_cached(statement)?
        .query_map([id], read)?
        .collect()
}

/// Host names or MACs: `statement` selects `value`, `first_seen`, `last_seen` and `active`.
fn linked_values(db: &Db, statement: &str, id: i64) -> rusqlite::Result<Vec<LinkedValue>> {
    section(db, statement, id, |row| {
        Ok(LinkedValue {
            value: row.get("value")?,
            first_seen: from_ms(row.get("first_seen")?),
            last_seen: from_ms(row.get("last_seen")?),
            active: row.get("active")?,
        })
    })
}

/// Network: the addresses of the device record, and its external address.
fn ip_addresses(db: &Db, id: i64) -> rusqlite::Result<Vec<AddressLink>> {
    section(db, DETAIL_ADDRESSES, id, |row| {
        let source: String = row.get("source")?;
        Ok(AddressLink {
            address: row.get("text")?,
            family: row.get("family")?,
            class: row.get("class")?,
            source: if source == "external" {
                RelationSource::ExternalAddress
            } else {
                RelationSource::DeviceRecord
            },
            mac: row.get("mac")?,
            interface_type: row.get("interface_type")?,
            first_seen: from_ms(row.get("first_seen")?),
            last_seen: from_ms(row.get("last_seen")?),
            active: row.get("active")?,
        })
    })
}

/// Network: the IP history, newest lease first.
fn ip_history(db: &Db, id: i64) -> rusqlite::Result<Vec<Lease>> {
    section(db, DETAIL_LEASES, id, |row| {
        Ok(Lease {
            address: row.get("text")?,
            class: row.get("class")?,
            mac: row.get("mac")?,
            since: from_ms(row.get("since")?),
            until: row.get::<_, Option<i64>>("until")?.map(from_ms),
            last_report: from_ms(row.get("last_report")?),
        })
    })
}

/// Accounts: who logged on, most recent first.
fn accounts(db: &Db, id: i64) -> rusqlite::Result<Vec<AccountView>> {
    section(db, DETAIL_ACCOUNTS, id, |row| {
        Ok(AccountView {
            domain: row.get("domain")?,
            name: row.get("name")?,
            sid: row.get("sid")?,
            logon_type: row.get("logon_type")?,
            is_local_admin: row.get("is_local_admin")?,
            first_seen: from_ms(row.get("first_seen")?),
            last_seen: from_ms(row.get("last_seen")?),
            active: row.get("active")?,
        })
    })
}

/// Alerts of the device (by its connection and Defender id), active first, newest first.
fn alerts(db: &Db, connection_id: &str, device_id: &str) -> rusqlite::Result<Vec<AlertView>> {
    db.prepare_cached(DETAIL_ALERTS)?
        .query_map(params![connection_id, device_id], |row| {
            let status: String = row.get("status")?;
            Ok(AlertView {
                alert_id: row.get("alert_id")?,
                title: row.get("title")?,
                severity: row.get("severity")?,
                active: status != "Resolved",
                status,
                category: row.get("category")?,
                detection_source: row.get("detection_source")?,
                classification: row.get("classification")?,
                determination: row.get("determination")?,
                created: from_ms(row.get("created")?),
                updated: from_ms(row.get("updated")?),
                first_event: row.get::<_, Option<i64>>("first_event")?.map(from_ms),
                last_event: row.get::<_, Option<i64>>("last_event")?.map(from_ms),
                resolved: row.get::<_, Option<i64>>("resolved")?.map(from_ms),
            })
        })?
        .collect()
}

/// Vulnerabilities: active first, highest CVSS first.
fn vulnerabilities(db: &Db, id: i64) -> rusqlite::Result<Vec<VulnerabilityView>> {
    section(db, DETAIL_VULNERABILITIES, id, |row| {
        Ok(VulnerabilityView {
            cve: row.get("cve")?,
            cvss: row.get("cvss")?,
            severity: row.get("severity")?,
            vendor: row.get("vendor")?,
            product: row.get("product")?,
            version: row.get("version")?,
            first_seen: from_ms(row.get("first_seen")?),
            last_seen: from_ms(row.get("last_seen")?),
            active: row.get("active")?,
        })
    })
}

/// Runs: the first and the last sync run that listed the device (one when they are the same).
fn runs(db: &Db, first_run: i64, last_run: i64) -> rusqlite::Result<Vec<RunRef>> {
    db.prepare_cached(DETAIL_RUNS)?
        .query_map(params![first_run, last_run], |row| {
            Ok(RunRef {
                id: row.get("id")?,
                mode: row.get("mode")?,
                trigger: row.get("trigger")?,
                started_at: from_ms(row.get("started_at")?),
                finished_at: row.get::<_, Option<i64>>("finished_at")?.map(from_ms),
                status: row.get("status")?,
            })
        })?
        .collect()
}
