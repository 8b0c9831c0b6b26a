//! The client's own rate budget per connection and endpoint family (governor), and the reading
//! of `Retry-After`.
//!
//! Defender limits the calls to each endpoint (docs/defender-api.md#rate-limits). governor's
//! GCRA is a leaky bucket: with a burst of `b` and one new call every `period`, any window of
//! length `T` admits `b + T / period` calls. To never exceed `N` calls in any window `T`, each
//! limit gets half of `N` as burst and the other half as steady refill over `T`. A long run
//! therefore sustains half the documented rate, which is what a well-behaved client should do
//! anyway: the other half is left to the portal, scripts and other tools using the same app.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{
    DefaultDirectRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use tokio_util::sync::CancellationToken;

use super::MdeError;

/// At most `calls` calls in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub calls: u32,
    pub per: Duration,
}

impl Limit {
    pub const fn per_minute(calls: u32) -> Limit {
        Limit {
            calls,
            per: Duration::from_secs(60),
        }
    }

    pub const fn per_hour(calls: u32) -> Limit {
        Limit {
            calls,
            per: Duration::from_secs(3_600),
        }
    }
}

/// The limits the client keeps per endpoint family. An empty list means no local limit (the
/// service's 429s still apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    /// `/api/machines`, `/api/alerts`, `/logonusers`, `findbyip`: 100/min and 1,500/h.
    pub list: Vec<Limit>,
    /// `/api/advancedqueries/run` and Graph `runHuntingQuery`: 45/min and 1,500/h.
    pub hunting: Vec<Limit>,
    /// The vulnerability exports (full and delta): 30/min and 1,000/h.
    pub export: Vec<Limit>,
}

impl Default for Budgets {
    /// Microsoft's documented limits (docs/defender-api.md#rate-limits).
    fn default() -> Self {
        Budgets {
            list: vec![Limit::per_minute(100), Limit::per_hour(1_500)],
            hunting: vec![Limit::per_minute(45), Limit::per_hour(1_500)],
            export: vec![Limit::per_minute(30), Limit::per_hour(1_000)],
        }
    }
}

impl Budgets {
    /// Every window shortened by `scale` (at least 1): the client keeps the same share of a
    /// service whose clock of limits runs `scale` times faster (the simulator's `rate_scale`,
    /// for tests and benchmarks).
    pub fn scaled(self, scale: f64) -> Budgets {
        let scaled = |limits: Vec<Limit>| {
            limits
                .into_iter()
                .map(|limit| Limit {
                    calls: limit.calls,
                    per: limit.per.div_f64(scale.max(1.0)),
                })
                .collect()
        };
        Budgets {
            list: scaled(self.list),
            hunting: scaled(self.hunting),
            export: scaled(self.export),
        }
    }
}

/// The limiters of one family.
pub(super) struct Budget {
    limiters: Vec<DefaultDirectRateLimiter>,
}

impl Budget {
    pub(super) fn new(limits: &[Limit]) -> Budget {
        Budget {
            limiters: limits
                .iter()
                .filter_map(|limit| quota(*limit))
                .map(RateLimiter::direct)
                .collect(),
        }
    }

    /// Waits until every limit admits one more call; returns how long that took.
    /// Waits until every limit admits one more call; `on_wait` hears how long a limit that is
    /// used up makes the call wait, before the wait.
    pub(super) async fn acquire(
        &self,
        cancel: &CancellationToken,
        on_wait: impl Fn(Duration),
    ) -> Result<Duration, MdeError> {
        let started = Instant::now();
        for limiter in &self.limiters {
            let Err(not_until) = limiter.check() else {
                continue;
            };
            on_wait(not_until.wait_time_from(DefaultClock::default().now()));
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(MdeError::Cancelled),
                () = limiter.until_ready() => {}
            }
        }
        Ok(started.elapsed())
    }
}

/// Half of the calls as burst, the other half refilled evenly over the window (see the module
/// docs); `None` for a limit that admits nothing or has no window.
pub(super) fn quota(limit: Limit) -> Option<Quota> {
    if limit.calls == 0 || limit.per.is_zero() {
        return None;
    }
    let burst = limit.calls.div_ceil(2);
    let refill = limit.calls - burst;
    let period = if refill == 0 {
        limit.per
    } else {
        limit.per / refill
    };
    Some(Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst)?))
}

/// `Retry-After` in either form HTTP allows: delta-seconds (Defender's) or an HTTP date
/// (docs/defender-api.md#errors-and-throttling). Fractions of seconds are accepted; a date
/// in the past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_millis((seconds * 1_000.0).ceil() as u64));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}
