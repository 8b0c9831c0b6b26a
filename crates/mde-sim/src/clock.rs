//! The simulated clock. Tests move it with [`SimClock::advance`]; every timestamp the simulator
//! emits, every token expiry and the `now()` of hunting queries read it. The rate limiter reads
//! real elapsed time scaled by `rate_scale` plus whatever was advanced.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

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
}

impl SimClock {
    pub(crate) fn new(anchor: DateTime<Utc>, mode: ClockMode) -> SimClock {
        SimClock {
            inner: Arc::new(ClockInner {
                anchor,
                started: Instant::now(),
                mode,
                advanced: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// The simulated time, at 100 ns resolution (what the service's 7-digit fractions carry).
    pub fn now(&self) -> DateTime<Utc> {
        let mut elapsed = self.advanced();
        if self.inner.mode == ClockMode::Running {
            elapsed += self.inner.started.elapsed();
        }
        let nanos = elapsed.as_nanos() / 100 * 100;
        let delta = chrono::Duration::nanoseconds(i64::try_from(nanos).unwrap_or(i64::MAX));
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

    fn advanced(&self) -> Duration {
        *self.inner.advanced.lock().expect("clock lock poisoned")
    }

    /// Seconds on the rate limiter's time line: real time times `scale`, plus advances.
    pub(crate) fn limiter_seconds(&self, scale: f64) -> f64 {
        self.inner.started.elapsed().as_secs_f64() * scale + self.advanced().as_secs_f64()
    }
}
