//! Data types a connection's tenant does not offer: remembered so the sync does not ask again
//! on every run (and end every run partial for a reason that lasts), re-checked daily and on
//! Test connection.

use chrono::DateTime;
use rusqlite::{Connection as Db, params};

use crate::model::Timestamp;

/// A data type Defender answered it does not offer this connection (a 404: no licence for it,
/// or the endpoint is absent in the connection's cloud).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// The data type, by its watermark's name (`vulnerabilities`, `network`, …).
    pub kind: String,
    /// Defender's answer, in words.
    pub reason: String,
    /// When Defender first answered so.
    pub since: Timestamp,
    /// When it last answered so.
    pub checked_at: Timestamp,
}

/// What an answer said of a data type's availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Defender returned it: forget that it was unavailable.
    Available,
    /// Defender answered that it does not offer it, for this reason.
    Unavailable { reason: String },
}

pub(super) fn list(db: &mut Db, connection_id: &str) -> rusqlite::Result<Vec<Unavailable>> {
    let mut statement = db.prepare(
        "SELECT kind, reason, since, checked_at FROM unavailable_data
         WHERE connection_id = ?1 ORDER BY kind",
    )?;
    let rows = statement.query_map([connection_id], |row| {
        let time = |column: &str| {
            row.get::<_, i64>(column)
                .map(|value| DateTime::from_timestamp_millis(value).unwrap_or_default())
        };
        Ok(Unavailable {
            kind: row.get("kind")?,
            reason: row.get("reason")?,
            since: time("since")?,
            checked_at: time("checked_at")?,
        })
    })?;
    rows.collect()
}

/// Writes what answers said, inside the caller's transaction. `since` stays the first answer's
/// time when the data was already unavailable.
pub(super) fn record(
    db: &Db,
    connection_id: &str,
    answers: &[(String, Availability)],
    now: Timestamp,
) -> rusqlite::Result<()> {
    for (kind, availability) in answers {
        match availability {
            Availability::Available => {
                db.execute(
                    "DELETE FROM unavailable_data WHERE connection_id = ?1 AND kind = ?2",
                    params![connection_id, kind],
                )?;
            }
            Availability::Unavailable { reason } => {
                db.execute(
                    "INSERT INTO unavailable_data (connection_id, kind, reason, since, checked_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT (connection_id, kind)
                     DO UPDATE SET reason = excluded.reason, checked_at = excluded.checked_at",
                    params![connection_id, kind, reason, now.timestamp_millis()],
                )?;
            }
        }
    }
    Ok(())
}
