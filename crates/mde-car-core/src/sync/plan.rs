//! What a run fetches, decided from the watermarks alone (a pure function, tested on its own).
//!
//! - A connection's first run, a forced run, and one run a day (the reconcile) are **full**:
//!   the whole device listing (whose completeness lets vanished devices be deactivated) and the
//!   full vulnerability export.
//! - Other runs are **incremental**: devices by `lastSeen`, alerts by `lastUpdateTime`, hunting
//!   by `Timestamp`, vulnerabilities by the delta export — each from its own watermark minus
//!   [`OVERLAP`] for clock skew and ingestion delay.
//! - IP history and sign-ins start [`HISTORY_BACKFILL`] back when there is no watermark.

use chrono::Duration;

use crate::{config::DataSelection, model::Timestamp};

/// Re-read this much before each watermark: Defender's clocks and ingestion lag ours.
pub const OVERLAP: Duration = Duration::minutes(15);
/// How far back IP history and sign-ins go on a first sync (advanced hunting keeps 30 days).
pub const HISTORY_BACKFILL: Duration = Duration::days(30);
/// How often a full listing reconciles the store with Defender.
pub const RECONCILE_EVERY: Duration = Duration::hours(24);
/// The delta vulnerability export's reach (docs/defender-api.md#vulnerability-exports).
pub const DELTA_WINDOW: Duration = Duration::days(14);

/// Watermark names.
pub const DEVICES: &str = "devices";
pub const RECONCILE: &str = "reconcile";
pub const ALERTS: &str = "alerts";
pub const NETWORK: &str = "network";
pub const LOGONS: &str = "logons";
pub const VULNERABILITIES: &str = "vulnerabilities";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    pub full: bool,
    /// `None`: the whole listing.
    pub devices_since: Option<Timestamp>,
    /// `None` inside `Some`: all alerts.
    pub alerts: Option<Option<Timestamp>>,
    pub network: Option<(Timestamp, Timestamp)>,
    pub logons: Option<(Timestamp, Timestamp)>,
    pub vulnerabilities: Option<VulnerabilityPlan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VulnerabilityPlan {
    Full,
    Delta { since: Timestamp },
}

/// Looks a watermark up by name.
pub trait Watermarks {
    fn get(&self, kind: &str) -> Option<Timestamp>;
}

impl Watermarks for std::collections::HashMap<String, Timestamp> {
    fn get(&self, kind: &str) -> Option<Timestamp> {
        std::collections::HashMap::get(self, kind).copied()
    }
}

pub fn plan(
    watermarks: &dyn Watermarks,
    data: DataSelection,
    now: Timestamp,
    force_full: bool,
) -> SyncPlan {
    // A watermark after `now` (the clock jumped back since it was written) is taken as now: a
    // run must never skip data because its marks lie in the future.
    let mark = |kind: &str| watermarks.get(kind).map(|mark| mark.min(now));
    let reconcile_due = mark(RECONCILE).is_none_or(|last| now - last >= RECONCILE_EVERY);
    let full = force_full || mark(DEVICES).is_none() || reconcile_due;
    let since = |kind: &str| mark(kind).map(|mark| mark - OVERLAP);
    let window = |kind: &str| {
        let from = since(kind)
            .unwrap_or(now - HISTORY_BACKFILL)
            .max(now - HISTORY_BACKFILL);
        (from, now)
    };
    SyncPlan {
        full,
        devices_since: if full { None } else { since(DEVICES) },
        alerts: data.alerts.then(|| since(ALERTS)),
        network: data.ip_history.then(|| window(NETWORK)),
        logons: data.logged_on_users.then(|| window(LOGONS)),
        vulnerabilities: data.vulnerabilities.then(|| match since(VULNERABILITIES) {
            Some(since) if !full && now - since < DELTA_WINDOW => {
                VulnerabilityPlan::Delta { since }
            }
            _ => VulnerabilityPlan::Full,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{DateTime, Utc};

    use super::*;

    fn at(text: &str) -> Timestamp {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_first_run_is_full_with_a_30_day_backfill() {
        let now = at("2026-11-28T12:00:00Z");
        let plan = plan(&HashMap::new(), DataSelection::default(), now, false);
        assert!(plan.full);
        assert_eq!(plan.devices_since, None);
        assert_eq!(plan.alerts, Some(None));
        assert_eq!(plan.network, Some((at("2026-10-29T12:00:00Z"), now)));
        assert_eq!(plan.vulnerabilities, Some(VulnerabilityPlan::Full));
    }

    #[test]
    fn later_runs_are_incremental_from_each_watermark_with_overlap() {
        let now = at("2026-11-28T12:00:00Z");
        let marks: HashMap<String, Timestamp> = [
            (DEVICES, "2026-11-28T11:00:00Z"),
            (RECONCILE, "2026-11-28T01:00:00Z"),
            (ALERTS, "2026-11-28T11:30:00Z"),
            (NETWORK, "2026-11-28T11:00:00Z"),
            (LOGONS, "2026-11-28T11:00:00Z"),
            (VULNERABILITIES, "2026-11-28T11:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), at(v)))
        .collect();
        let plan = plan(&marks, DataSelection::default(), now, false);
        assert!(!plan.full);
        assert_eq!(plan.devices_since, Some(at("2026-11-28T10:45:00Z")));
        assert_eq!(plan.alerts, Some(Some(at("2026-11-28T11:15:00Z"))));
        assert_eq!(plan.network, Some((at("2026-11-28T10:45:00Z"), now)));
        assert_eq!(
            plan.vulnerabilities,
            Some(VulnerabilityPlan::Delta {
                since: at("2026-11-28T10:45:00Z")
            })
        );
    }

    #[test]
    fn a_daily_reconcile_an_old_delta_and_switched_off_data() {
        let now = at("2026-11-28T12:00:00Z");
        let marks: HashMap<String, Timestamp> = [
            (DEVICES, "2026-11-28T11:00:00Z"),
            (RECONCILE, "2026-11-27T11:00:00Z"),
            (VULNERABILITIES, "2026-11-01T00:00:00Z"),
            (NETWORK, "2026-09-01T00:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), at(v)))
        .collect();
        let only_devices = DataSelection {
            alerts: false,
            vulnerabilities: true,
            logged_on_users: false,
            ip_history: true,
        };
        let plan = plan(&marks, only_devices, now, false);
        assert!(plan.full, "a day after the last reconcile");
        assert_eq!(plan.alerts, None);
        assert_eq!(plan.logons, None);
        assert_eq!(plan.vulnerabilities, Some(VulnerabilityPlan::Full));
        assert_eq!(
            plan.network.unwrap().0,
            at("2026-10-29T12:00:00Z"),
            "never more than 30 days back"
        );
    }

    #[test]
    fn watermarks_from_the_future_count_as_now_after_a_clock_jump_back() {
        // The marks were written while the clock ran two days ahead.
        let now = at("2026-11-28T12:00:00Z");
        let marks: HashMap<String, Timestamp> = [
            (DEVICES, "2026-11-30T12:00:00Z"),
            (RECONCILE, "2026-11-30T11:00:00Z"),
            (ALERTS, "2026-11-30T12:00:00Z"),
            (NETWORK, "2026-11-30T12:00:00Z"),
            (VULNERABILITIES, "2026-11-30T12:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), at(v)))
        .collect();
        let plan = plan(&marks, DataSelection::default(), now, false);
        assert!(
            !plan.full,
            "the reconcile counts as done now, not two days ahead"
        );
        assert_eq!(plan.devices_since, Some(now - OVERLAP));
        assert_eq!(plan.alerts, Some(Some(now - OVERLAP)));
        assert_eq!(plan.network, Some((now - OVERLAP, now)));
        assert_eq!(
            plan.vulnerabilities,
            Some(VulnerabilityPlan::Delta {
                since: now - OVERLAP
            })
        );
    }
}
