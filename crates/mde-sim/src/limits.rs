//! Sliding-window rate limits per (app, endpoint), and the hunting execution-time budget.
//! Time is the clock's limiter line: real time × `rate_scale`, plus `advance`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::config::{CallLimit, RateLimits};
use crate::requests::Endpoint;

const MINUTE: f64 = 60.0;
const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Throttled {
    pub message: String,
    /// Limiter seconds until the call would pass.
    pub wait: f64,
}

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    calls: Mutex<HashMap<(String, Endpoint), VecDeque<f64>>>,
    /// (time, execution seconds) of hunting queries per app.
    executions: Mutex<HashMap<String, VecDeque<(f64, f64)>>>,
}

/// `00:01:00`, `01:00:00`.
fn window_name(seconds: f64) -> String {
    let total = seconds as u64;
    format!(
        "{:02}:{:02}:{:02}",
        total / 3_600,
        total / 60 % 60,
        total % 60
    )
}

pub(crate) fn limit_for(limits: &RateLimits, endpoint: Endpoint) -> Option<CallLimit> {
    match endpoint {
        Endpoint::Machines
        | Endpoint::Machine
        | Endpoint::LogonUsers
        | Endpoint::FindByIp
        | Endpoint::FindByTag
        | Endpoint::MachineAlerts
        | Endpoint::Alerts
        | Endpoint::Alert
        | Endpoint::AlertMachine => Some(limits.list),
        Endpoint::MachineVulnerabilities => Some(limits.machine_vulnerabilities),
        Endpoint::VulnerabilitiesExport | Endpoint::VulnerabilityChangesExport => {
            Some(limits.export)
        }
        Endpoint::AdvancedQueries | Endpoint::GraphHunting => Some(limits.hunting),
        // Not stated in the docs: unlimited.
        Endpoint::Vulnerabilities
        | Endpoint::MachinesVulnerabilities
        | Endpoint::Token
        | Endpoint::Unknown => None,
    }
}

impl Limiter {
    /// Counts a call at `now` or refuses it.
    pub(crate) fn check_call(
        &self,
        client: &str,
        endpoint: Endpoint,
        limit: CallLimit,
        now: f64,
    ) -> Result<(), Throttled> {
        let mut calls = self.calls.lock().expect("limiter poisoned");
        let window = calls.entry((client.to_owned(), endpoint)).or_default();
        while window.front().is_some_and(|&time| time <= now - HOUR) {
            window.pop_front();
        }
        let in_minute: Vec<f64> = window
            .iter()
            .copied()
            .filter(|&time| time > now - MINUTE)
            .collect();
        if in_minute.len() >= limit.per_minute as usize {
            let oldest = in_minute[in_minute.len() - limit.per_minute as usize];
            return Err(Throttled {
                message: format!(
                    "API calls quota exceeded! maximum allowed {} per {}",
                    limit.per_minute,
                    window_name(MINUTE)
                ),
                wait: oldest + MINUTE - now,
            });
        }
        if window.len() >= limit.per_hour as usize {
            let oldest = window[window.len() - limit.per_hour as usize];
            return Err(Throttled {
                message: format!(
                    "API calls quota exceeded! maximum allowed {} per {}",
                    limit.per_hour,
                    window_name(HOUR)
                ),
                wait: oldest + HOUR - now,
            });
        }
        window.push_back(now);
        Ok(())
    }

    /// Refuses a hunting query when the app spent its execution budget.
    pub(crate) fn check_budget(
        &self,
        client: &str,
        limits: &RateLimits,
        now: f64,
    ) -> Result<(), Throttled> {
        let mut executions = self.executions.lock().expect("limiter poisoned");
        let spent = executions.entry(client.to_owned()).or_default();
        while spent.front().is_some_and(|&(time, _)| time <= now - DAY) {
            spent.pop_front();
        }
        let per_hour = limits.hunting_execution_per_hour.as_secs_f64();
        let per_day = limits.hunting_execution_per_day.as_secs_f64();
        let hour_total: f64 = spent
            .iter()
            .filter(|(time, _)| *time > now - HOUR)
            .map(|(_, cost)| cost)
            .sum();
        let day_total: f64 = spent.iter().map(|(_, cost)| cost).sum();
        if hour_total >= per_hour {
            let first = spent
                .iter()
                .find(|(time, _)| *time > now - HOUR)
                .map_or(now, |(time, _)| *time);
            return Err(Throttled {
                message: format!(
                    "Query execution time quota exceeded! maximum allowed execution time {} per {}",
                    window_name(per_hour),
                    window_name(HOUR)
                ),
                wait: first + HOUR - now,
            });
        }
        if day_total >= per_day {
            let first = spent.front().map_or(now, |(time, _)| *time);
            return Err(Throttled {
                message: format!(
                    "Query execution time quota exceeded! maximum allowed execution time {} per 1.00:00:00",
                    window_name(per_day)
                ),
                wait: first + DAY - now,
            });
        }
        Ok(())
    }

    pub(crate) fn charge(&self, client: &str, now: f64, seconds: f64) {
        let mut executions = self.executions.lock().expect("limiter poisoned");
        executions
            .entry(client.to_owned())
            .or_default()
            .push_back((now, seconds));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_then_hour_windows() {
        let limiter = Limiter::default();
        let limit = CallLimit {
            per_minute: 2,
            per_hour: 3,
        };
        assert!(
            limiter
                .check_call("a", Endpoint::Machines, limit, 0.0)
                .is_ok()
        );
        assert!(
            limiter
                .check_call("a", Endpoint::Machines, limit, 1.0)
                .is_ok()
        );
        let refused = limiter
            .check_call("a", Endpoint::Machines, limit, 2.0)
            .unwrap_err();
        assert_eq!(
            refused.message,
            "API calls quota exceeded! maximum allowed 2 per 00:01:00"
        );
        assert!((refused.wait - 58.0).abs() < 1e-9);
        // Another app and another endpoint have their own windows.
        assert!(
            limiter
                .check_call("b", Endpoint::Machines, limit, 2.0)
                .is_ok()
        );
        assert!(
            limiter
                .check_call("a", Endpoint::Alerts, limit, 2.0)
                .is_ok()
        );
        assert!(
            limiter
                .check_call("a", Endpoint::Machines, limit, 61.0)
                .is_ok()
        );
        let refused = limiter
            .check_call("a", Endpoint::Machines, limit, 200.0)
            .unwrap_err();
        assert_eq!(
            refused.message,
            "API calls quota exceeded! maximum allowed 3 per 01:00:00"
        );
        assert!(
            limiter
                .check_call("a", Endpoint::Machines, limit, 3_600.5)
                .is_ok()
        );
    }
}
