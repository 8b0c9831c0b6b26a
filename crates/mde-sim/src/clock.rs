//! The simulated clock. Tests move it with [`SimClock::advance`]; every timestamp the simulator
//! emits, every token expiry and the `now()` of hunting queries read it. The rate limiter reads
//! real elapsed time scaled by `rate_scale` plus whatever was advanced.
//!
//! [`SimClock::jump`] is the other way to move it: the service's clock is stepped (forward or
//! back) without time passing, as when a host's clock is corrected or a request lands on a
//! backend whose clock is off. Everything that reads "now" follows: new tokens' `iat`/`exp` and
//! the validity of old ones, `lastSeen` and alert times written by later changes, hunting's
//! `now()`/`ago()` and the span of its derived rows. The rate-limit windows do not move (no time
//! passed). Records already written keep their times, so after a backward jump some of them lie
//! in the future.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::ClockMode;

/// A handle on the simulated clock; clones share it.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
struct ClockInner {
    anchor: DateTime<Utc>,
    started: Instant,
    mode: ClockMode,
    advanced: Mutex<Duration>,
    /// The sum of [`SimClock::jump`]s.
    jumped: Mutex<TimeDelta>,
}

impl SimClock {
    pub(crate) fn new(anchor: DateTime<Utc>, mode: ClockMode) -> SimClock {
        SimClock {
            inner: Arc::new(ClockInner {
                anchor,
                started: Instant::now(),
                mode,
                advanced: Mutex::new(Duration::ZERO),
                jumped: Mutex::new(TimeDelta::zero()),
            }),
        }
    }

    /// The simulated time, at 100 ns resolution (what the service's 7-digit fractions carry).
    pub fn now(&self) -> DateTime<Utc> {
        let mut elapsed = self.advanced();
        if self.inner.mode == ClockMode::Running {
            elapsed += self.inner.started.elapsed();
        }
        let jumped = i128::from(self.jumped().num_nanoseconds().unwrap_or(0));
        let nanos = i128::try_from(elapsed.as_nanos())
            .unwrap_or(i128::MAX)
            .saturating_add(jumped)
            .div_euclid(100)
            * 100;
        let delta = TimeDelta::nanoseconds(i64::try_from(nanos).unwrap_or(if nanos < 0 {
            i64::MIN
        } else {
            i64::MAX
        }));
        self.inner.anchor + delta
    }

    /// The time the tenant was generated at.
    pub fn start(&self) -> DateTime<Utc> {
        self.inner.anchor
    }

    /// Moves simulated time forward. Rate-limit windows move with it.
    pub fn advance(&self, by: Duration) {
        let mut advanced = self.inner.advanced.lock().expect("clock lock poisoned");
        *advanced += by;
    }

    /// Steps simulated time by `by` (negative = back) without time passing: "now" changes, the
    /// rate-limit windows do not (see the module docs). Jumps add up.
    pub fn jump(&self, by: TimeDelta) {
        let mut jumped = self.inner.jumped.lock().expect("clock lock poisoned");
        *jumped += by;
    }

    /// The sum of the jumps so far.
    pub fn jumped(&self) -> TimeDelta {
        *self.inner.jumped.lock().expect("clock lock poisoned")
    }

    fn advanced(&self) -> Duration {
        *self.inner.advanced.lock().expect("clock lock poisoned")
    }

    /// Seconds on the rate limiter's time line: real time times `scale`, plus advances.
    pub(crate) fn limiter_seconds(&self, scale: f64) -> f64 {
        self.inner.started.elapsed().as_secs_f64() * scale + self.advanced().as_secs_f64()
    }
}

/// Parses a duration as the binary's flags write it: a whole number and a unit, `s`, `m`, `h` or
/// `d`, or several of them (`90s`, `15m`, `2h`, `1h30m`, `3d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "bad duration {text:?}: give a number and a unit, s, m, h or d (90s, 15m, 2h, 1h30m, 3d)"
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit: u64 = match ch.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let count: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = count
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || text.trim().is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Parses a signed duration for a clock jump: [`parse_duration`]'s form with an optional `+`
/// (forward, the default) or `-` (back): `-2h`, `+90m`, `1d`.
pub fn parse_offset(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let duration = parse_duration(rest).map_err(|_| {
        format!(
            "bad offset {text:?}: give a duration with an optional sign, + forward or - back (-2h, +90m, 1d)"
        )
    })?;
    let delta =
        TimeDelta::from_std(duration).map_err(|_| format!("offset {text:?} is too large"))?;
    Ok(delta * sign)
}
