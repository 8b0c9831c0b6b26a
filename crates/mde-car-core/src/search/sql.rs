//! The statements more than one answer runs: the asset row that a result row (the result table,
//! the timeline's holders) and the device view both show, and the risk inputs (alert counts and
//! vulnerability summary), which are the store's own statements because each sync runs them too
//! to keep the score risk searches sort by. Each answer's own statements live with it
//! (`matching.rs`, `hits.rs`, `detail.rs`).

use rusqlite::{Connection, OptionalExtension};

// The query-plan test (`tests.rs`) names every statement of the search `sql::…`; the answers'
// own are re-exported here for it.
#[cfg(test)]
pub(super) use super::{
    detail::{
        ASSETS_BY_DEVICE_ID, DETAIL_ACCOUNTS, DETAIL_ADDRESSES, DETAIL_ALERTS, DETAIL_ASSET,
        DETAIL_HOSTNAMES, DETAIL_LEASES, DETAIL_MACS, DETAIL_RUNS, DETAIL_VULNERABILITIES,
    },
    hits::EXTERNAL_SHARERS,
    matching::{ANY_ADDRESS, Order, statements_of},
};
#[cfg(test)]
pub(super) use crate::store::{ALERT_COUNTS, VULNERABILITY_SUMMARY};
pub(super) use crate::store::{alert_counts, vulnerability_summary};

// The statements, named so a test can check that each one starts from an index.

pub(super) const ASSET: &str =
    "SELECT id, connection_id, device_id, name, os_platform, os_version, os_build, os_release,
     os_architecture, health_status, risk_score, exposure_level, device_value, active,
     defender_last_seen, last_seen
     FROM assets WHERE id = ?1";

/// The columns of an asset that a result row shows.
#[derive(Debug, Clone)]
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
                id: row.get("id")?,
                connection_id: row.get("connection_id")?,
                device_id: row.get("device_id")?,
                name: row.get("name")?,
                os_platform: row.get("os_platform")?,
                os_version: row.get("os_version")?,
                os_build: row.get("os_build")?,
                os_release: row.get("os_release")?,
                os_architecture: row.get("os_architecture")?,
                health_status: row.get("health_status")?,
                risk_score: row.get("risk_score")?,
                exposure_level: row.get("exposure_level")?,
                device_value: row.get("device_value")?,
                active: row.get("active")?,
                defender_last_seen: row.get("defender_last_seen")?,
                last_seen: row.get("last_seen")?,
            })
        })
        .optional()
}
