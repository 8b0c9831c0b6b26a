//! Each asset's computed risk, kept in `assets.computed_risk` as the sort key of risk searches
//! and the cards' risk counts. The formula is the domain's (`crate::risk`); this module reads
//! its inputs and writes its result.

use rusqlite::{Connection as Db, params};

use crate::risk::{AlertCounts, RiskInput, VulnerabilitySummary, compute_risk};

// The statements, shared with search (which shows the same counts) and checked there to start
// from an index.

pub(crate) const ALERT_COUNTS: &str = "SELECT severity FROM alerts
     WHERE connection_id = ?1 AND device_id = ?2 AND status <> 'Resolved'";

pub(crate) const VULNERABILITY_SUMMARY: &str = "SELECT av.vulnerability_id, v.cvss, v.severity
     FROM asset_vulnerabilities av CROSS JOIN vulnerabilities v ON v.id = av.vulnerability_id
     WHERE av.asset_id = ?1 AND av.active = 1";

/// Active (not Resolved) alerts of a device by severity, from the covering index. Counted
/// here rather than by GROUP BY: no temporary b-tree per hit.
pub(crate) fn alert_counts(
    db: &Db,
    connection_id: &str,
    device_id: &str,
) -> rusqlite::Result<AlertCounts> {
    let mut statement = db.prepare_cached(ALERT_COUNTS)?;
    let mut rows = statement.query(params![connection_id, device_id])?;
    let mut counts = AlertCounts::default();
    while let Some(row) = rows.next()? {
        counts.add(row.get_ref("severity")?.as_str()?, 1);
    }
    Ok(counts)
}

/// Active vulnerabilities of an asset: distinct CVEs, Critical (CVSS ≥ 9) and High (7–8.9)
/// ones, highest CVSS. Without a CVSS, Defender's severity decides. A CVE found through two
/// applications counts once.
pub(crate) fn vulnerability_summary(
    db: &Db,
    asset_id: i64,
) -> rusqlite::Result<VulnerabilitySummary> {
    let mut statement = db.prepare_cached(VULNERABILITY_SUMMARY)?;
    let mut rows = statement.query([asset_id])?;
    let mut seen: Vec<i64> = Vec::new();
    let mut summary = VulnerabilitySummary::default();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get("vulnerability_id")?;
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let cvss: Option<f64> = row.get("cvss")?;
        let severity = row.get_ref("severity")?.as_str_or_null()?;
        summary.active += 1;
        let (critical, high) = match cvss {
            Some(cvss) => (cvss >= 9.0, (7.0..9.0).contains(&cvss)),
            None => (severity == Some("Critical"), severity == Some("High")),
        };
        summary.critical += u64::from(critical);
        summary.high += u64::from(high);
        if let Some(cvss) = cvss {
            summary.max_cvss = Some(summary.max_cvss.map_or(cvss, |max: f64| max.max(cvss)));
        }
    }
    Ok(summary)
}

/// Stores every asset's risk of one connection (the sort key of risk searches and the cards'
/// risk counts). Runs in the sync's transaction, after its data is applied, so stored and
/// computed risk never disagree in a committed state.
pub(crate) fn store_risk(db: &Db, connection_id: &str) -> rusqlite::Result<usize> {
    let assets: Vec<(i64, String, Option<String>, f64, String)> = {
        let mut statement = db.prepare_cached(
            "SELECT id, device_id, device_value, computed_risk, computed_risk_level FROM assets WHERE connection_id = ?1",
        )?;
        statement
            .query_map([connection_id], |row| {
                Ok((
                    row.get("id")?,
                    row.get("device_id")?,
                    row.get("device_value")?,
                    row.get("computed_risk")?,
                    row.get("computed_risk_level")?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut changed = 0;
    for (id, device_id, device_value, score, level) in assets {
        let risk = compute_risk(&RiskInput {
            alerts: alert_counts(db, connection_id, &device_id)?,
            vulnerabilities: vulnerability_summary(db, id)?,
            device_value,
        });
        #[allow(clippy::float_cmp, reason = "the same computation gives the same bits")]
        if risk.score != score || risk.level.key() != level {
            db.prepare_cached(
                "UPDATE assets SET computed_risk = ?2, computed_risk_level = ?3 WHERE id = ?1",
            )?
            .execute(params![id, risk.score, risk.level.key()])?;
            changed += 1;
        }
    }
    Ok(changed)
}
