//! Sync run records, watermarks and the counts a connection card shows.

use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;
use rusqlite::{Connection as Db, OptionalExtension, Transaction, params};

use super::graph::Changes;
use crate::model::{RunStatus, Timestamp};

/// How a run ended, besides its data.
#[derive(Debug, Clone, Default)]
pub struct RunFinish {
    pub api_calls: BTreeMap<String, u64>,
    pub throttled_ms: u64,
    pub error_code: Option<String>,
    pub error: Option<String>,
    /// Skipped data types and warnings, in words.
    pub notes: Vec<String>,
    /// A data type could not be fetched, or an answer was not trusted: the run saved the rest
    /// and ends as [`RunStatus::Partial`]; the notes say what is missing.
    pub partial: bool,
}

/// One run as the history shows it (and as `mde-car runs --json` prints it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub id: i64,
    pub connection_id: String,
    pub mode: String,
    pub trigger: String,
    #[serde(with = "crate::model::json_time")]
    pub started_at: Timestamp,
    #[serde(with = "crate::model::json_time::option")]
    pub finished_at: Option<Timestamp>,
    pub status: RunStatus,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub api_calls: BTreeMap<String, u64>,
    pub throttled_ms: u64,
    pub changes: BTreeMap<String, super::ChangeCount>,
    pub notes: Vec<String>,
}

/// The counts of a connection's active data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounts {
    pub devices: u64,
    pub ip_addresses: u64,
    pub alerts: u64,
    pub vulnerabilities: u64,
    /// Active devices by mde-car's risk level.
    pub risk: RiskCounts,
}

/// Devices per risk level (the levels of `search::RiskLevel`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RiskCounts {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub critical: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub high: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub medium: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub low: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub none: u64,
}

fn from_ms(value: i64) -> Timestamp {
    DateTime::from_timestamp_millis(value).unwrap_or_default()
}

pub(super) fn begin(
    db: &mut Db,
    connection_id: &str,
    mode: &str,
    trigger: &str,
    at: Timestamp,
) -> rusqlite::Result<i64> {
    let tx = super::write_transaction(db)?;
    // The caller holds this connection's run lock: a run still marked running died with its process.
    tx.execute(
        "UPDATE sync_runs SET status = 'interrupted' WHERE connection_id = ?1 AND status = 'running'",
        [connection_id],
    )?;
    tx.execute(
        "INSERT INTO sync_runs (connection_id, mode, trigger, started_at, status) VALUES (?1, ?2, ?3, ?4, 'running')",
        params![connection_id, mode, trigger, at.timestamp_millis()],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(id)
}

pub(super) fn finish(
    tx: &Transaction<'_>,
    run_id: i64,
    status: RunStatus,
    finish: &RunFinish,
    changes: &Changes,
    at: Timestamp,
) -> rusqlite::Result<()> {
    let json = |value: serde_json::Result<String>| value.unwrap_or_else(|_| "{}".to_owned());
    tx.execute(
        "UPDATE sync_runs SET finished_at = ?2, status = ?3, error_code = ?4, error = ?5, api_calls = ?6,
            throttled_ms = ?7, changes = ?8, notes = ?9
         WHERE id = ?1",
        params![
            run_id,
            at.timestamp_millis(),
            status.key(),
            finish.error_code,
            finish.error,
            json(serde_json::to_string(&finish.api_calls)),
            i64::try_from(finish.throttled_ms).unwrap_or(i64::MAX),
            json(serde_json::to_string(changes)),
            json(serde_json::to_string(&finish.notes)),
        ],
    )?;
    Ok(())
}

/// The connection's newest run still marked running that began at `since` or later: its id,
/// and whether it is a full run.
pub(super) fn running(
    tx: &Transaction<'_>,
    connection_id: &str,
    since: Timestamp,
) -> rusqlite::Result<Option<(i64, bool)>> {
    tx.query_row(
        "SELECT id, mode FROM sync_runs
         WHERE connection_id = ?1 AND status = 'running' AND started_at >= ?2
         ORDER BY id DESC LIMIT 1",
        params![connection_id, since.timestamp_millis()],
        |row| Ok((row.get("id")?, row.get::<_, String>("mode")? == "full")),
    )
    .optional()
}

pub(super) fn watermarks(
    db: &mut Db,
    connection_id: &str,
) -> rusqlite::Result<HashMap<String, Timestamp>> {
    let mut statement =
        db.prepare("SELECT kind, value FROM sync_watermarks WHERE connection_id = ?1")?;
    let rows = statement.query_map([connection_id], |row| {
        Ok((row.get::<_, String>("kind")?, from_ms(row.get("value")?)))
    })?;
    rows.collect()
}

pub(super) fn list(
    db: &mut Db,
    connection_id: &str,
    limit: usize,
) -> rusqlite::Result<Vec<RunRecord>> {
    let mut statement = db.prepare(
        "SELECT id, connection_id, mode, trigger, started_at, finished_at, status, error_code, error, api_calls,
                throttled_ms, changes, notes
         FROM sync_runs WHERE connection_id = ?1 ORDER BY started_at DESC, id DESC LIMIT ?2",
    )?;
    let rows = statement.query_map(
        params![connection_id, i64::try_from(limit).unwrap_or(i64::MAX)],
        |row| {
            let text = |column: &str| row.get::<_, String>(column);
            Ok(RunRecord {
                id: row.get("id")?,
                connection_id: row.get("connection_id")?,
                mode: row.get("mode")?,
                trigger: row.get("trigger")?,
                started_at: from_ms(row.get("started_at")?),
                finished_at: row.get::<_, Option<i64>>("finished_at")?.map(from_ms),
                status: RunStatus::parse(&text("status")?),
                error_code: row.get("error_code")?,
                error: row.get("error")?,
                api_calls: serde_json::from_str(&text("api_calls")?).unwrap_or_default(),
                throttled_ms: u64::try_from(row.get::<_, i64>("throttled_ms")?).unwrap_or(0),
                changes: serde_json::from_str(&text("changes")?).unwrap_or_default(),
                notes: serde_json::from_str(&text("notes")?).unwrap_or_default(),
            })
        },
    )?;
    rows.collect()
}

pub(super) fn counts(db: &mut Db, connection_id: &str) -> rusqlite::Result<ConnectionCounts> {
    let count = |sql: &str| -> rusqlite::Result<u64> {
        db.query_row(sql, [connection_id], |row| row.get::<_, i64>("n"))
            .map(|n| u64::try_from(n).unwrap_or(0))
    };
    Ok(ConnectionCounts {
        devices: count("SELECT count(*) AS n FROM assets WHERE connection_id = ?1 AND active = 1")?,
        ip_addresses: count(
            "SELECT count(DISTINCT ip_id) AS n FROM asset_ip_addresses WHERE connection_id = ?1 AND active = 1",
        )?,
        alerts: count(
            "SELECT count(*) AS n FROM alerts WHERE connection_id = ?1 AND status <> 'Resolved'",
        )?,
        vulnerabilities: count(
            "SELECT count(DISTINCT vulnerability_id) AS n FROM asset_vulnerabilities WHERE connection_id = ?1 AND active = 1",
        )?,
        risk: risk_counts(db, connection_id)?,
    })
}

fn risk_counts(db: &Db, connection_id: &str) -> rusqlite::Result<RiskCounts> {
    let mut statement = db.prepare_cached(
        "SELECT computed_risk_level, count(*) AS devices FROM assets
         WHERE connection_id = ?1 AND active = 1 GROUP BY computed_risk_level",
    )?;
    let mut rows = statement.query([connection_id])?;
    let mut counts = RiskCounts::default();
    while let Some(row) = rows.next()? {
        let n = u64::try_from(row.get::<_, i64>("devices")?).unwrap_or(0);
        match row.get_ref("computed_risk_level")?.as_str()? {
            "critical" => counts.critical += n,
            "high" => counts.high += n,
            "medium" => counts.medium += n,
            "low" => counts.low += n,
            _ => counts.none += n,
        }
    }
    Ok(counts)
}
