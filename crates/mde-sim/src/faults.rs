//! Faults on demand. Each rule names a fault kind, optionally an endpoint, a probability and
//! optionally how many times it may fire. Draws come from a generator seeded from the tenant
//! seed, so a run is repeatable for a given sequence of requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::requests::Endpoint;

/// What can go wrong. The name in parentheses is the CLI spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// (`500`) HTTP 500 `InternalServerError`.
    InternalError,
    /// (`503`) HTTP 503 with `Retry-After`.
    Unavailable,
    /// (`reset`) the connection is dropped after half the body was sent.
    ConnectionReset,
    /// (`truncate`) HTTP 200 whose JSON body is cut in half.
    TruncatedJson,
    /// (`slow`) the answer is delayed by the rule's `delay`.
    Slow,
    /// (`token-expired`) the API rejects the bearer token as expired (401).
    TokenExpired,
    /// (`shuffle`) list endpoints return items in a different order on each call, so `$skip`
    /// paging sees duplicates and misses (docs/defender-api.md#paging).
    ShufflePages,
    /// (`404`) an existing machine answers 404 `ResourceNotFound` (same issue).
    Intermittent404,
    /// (`retired`) the legacy `/api/advancedqueries/run` answers that it has been retired.
    HuntingRetired,
    /// (`429`) a 429 as if a quota were exhausted, with `Retry-After`. On the token endpoint
    /// (only when aimed at it, `429@token`) Entra's AADSTS90055 tenant throttling.
    Throttle,
    /// (`preempted`) a hunting query is stopped for its CPU or memory use: 400 "Query execution
    /// has exceeded the allowed limits…" (docs/defender-api.md#advanced-hunting).
    HuntingPreempted,
    /// (`too-large`) a hunting result is over the size cap: 400 "Query execution has exceeded
    /// the allowed result size…" (docs/defender-api.md#advanced-hunting).
    HuntingTooLarge,
}

impl FaultKind {
    pub const ALL: [FaultKind; 12] = [
        FaultKind::InternalError,
        FaultKind::Unavailable,
        FaultKind::ConnectionReset,
        FaultKind::TruncatedJson,
        FaultKind::Slow,
        FaultKind::TokenExpired,
        FaultKind::ShufflePages,
        FaultKind::Intermittent404,
        FaultKind::HuntingRetired,
        FaultKind::Throttle,
        FaultKind::HuntingPreempted,
        FaultKind::HuntingTooLarge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InternalError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::ConnectionReset => "reset",
            FaultKind::TruncatedJson => "truncate",
            FaultKind::Slow => "slow",
            FaultKind::TokenExpired => "token-expired",
            FaultKind::ShufflePages => "shuffle",
            FaultKind::Intermittent404 => "404",
            FaultKind::HuntingRetired => "retired",
            FaultKind::Throttle => "429",
            FaultKind::HuntingPreempted => "preempted",
            FaultKind::HuntingTooLarge => "too-large",
        }
    }

    pub fn parse(name: &str) -> Option<FaultKind> {
        let name = name.to_ascii_lowercase();
        let alias = match name.as_str() {
            "internal-error" | "internalerror" => "500",
            "unavailable" => "503",
            "connection-reset" => "reset",
            "truncated-json" | "truncated" => "truncate",
            "shuffle-pages" => "shuffle",
            "intermittent-404" | "not-found" => "404",
            "hunting-retired" => "retired",
            "throttle" => "429",
            "hunting-preempted" => "preempted",
            "hunting-too-large" | "too-big" => "too-large",
            other => other,
        };
        FaultKind::ALL.into_iter().find(|kind| kind.name() == alias)
    }

    /// Whether the fault means anything for this endpoint (a rule without an endpoint applies
    /// to every endpoint where it does).
    pub fn applies_to(self, endpoint: Endpoint) -> bool {
        match self {
            FaultKind::TokenExpired => endpoint != Endpoint::Token,
            FaultKind::ShufflePages => matches!(
                endpoint,
                Endpoint::Machines | Endpoint::Alerts | Endpoint::MachinesVulnerabilities
            ),
            FaultKind::Intermittent404 => matches!(
                endpoint,
                Endpoint::Machine
                    | Endpoint::LogonUsers
                    | Endpoint::MachineAlerts
                    | Endpoint::MachineVulnerabilities
            ),
            FaultKind::HuntingRetired => endpoint == Endpoint::AdvancedQueries,
            FaultKind::HuntingPreempted | FaultKind::HuntingTooLarge => {
                matches!(endpoint, Endpoint::AdvancedQueries | Endpoint::GraphHunting)
            }
            _ => endpoint != Endpoint::Unknown,
        }
    }

    /// Whether a rule that names no endpoint fires on this one: where the kind applies, except
    /// that throttling the token endpoint has to be asked for by name (`429@token`).
    pub fn applies_by_default(self, endpoint: Endpoint) -> bool {
        self.applies_to(endpoint) && !(self == FaultKind::Throttle && endpoint == Endpoint::Token)
    }
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub kind: FaultKind,
    /// `None` = every endpoint the kind applies to.
    pub endpoint: Option<Endpoint>,
    /// Chance per request, 0.0–1.0.
    pub probability: f64,
    /// How many more times the rule may fire; `None` = unlimited.
    pub remaining: Option<u32>,
    /// For `Slow`: how long to wait before answering.
    pub delay: Duration,
    /// For `Unavailable` and `Throttle`: the `Retry-After` seconds.
    pub retry_after_secs: u32,
}

impl FaultRule {
    pub fn new(kind: FaultKind, endpoint: Option<Endpoint>, probability: f64) -> FaultRule {
        FaultRule {
            kind,
            endpoint,
            probability,
            remaining: None,
            delay: Duration::from_millis(1_500),
            retry_after_secs: 1,
        }
    }

    /// Parses the CLI form `KIND[@ENDPOINT][=PROBABILITY]`, e.g. `500@machines=0.1`, `retired`.
    pub fn parse(spec: &str) -> Result<FaultRule, String> {
        let (rest, probability) = match spec.split_once('=') {
            Some((rest, probability)) => (
                rest,
                probability.parse::<f64>().map_err(|_| {
                    format!("bad probability in fault {spec:?}: give a number from 0 to 1")
                })?,
            ),
            None => (spec, 1.0),
        };
        let (kind, endpoint) = match rest.split_once('@') {
            Some((kind, endpoint)) => (
                kind,
                Some(Endpoint::parse(endpoint).ok_or_else(|| {
                    let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
                    format!(
                        "unknown endpoint {endpoint:?} in fault {spec:?}; endpoints: {}",
                        names.join(", ")
                    )
                })?),
            ),
            None => (rest, None),
        };
        let kind = FaultKind::parse(kind).ok_or_else(|| {
            let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown fault {kind:?} in {spec:?}; faults: {} (form KIND[@ENDPOINT][=PROBABILITY])",
                names.join(", ")
            )
        })?;
        if !(0.0..=1.0).contains(&probability) {
            return Err(format!(
                "probability out of range in fault {spec:?}: give a number from 0 to 1"
            ));
        }
        Ok(FaultRule::new(kind, endpoint, probability))
    }
}

#[derive(Debug)]
struct FaultState {
    rules: Vec<(u64, FaultRule)>,
    next_id: u64,
    rng: ChaCha8Rng,
    /// Tokens with a serial below this are rejected as expired.
    revoked_below: u64,
    /// The next token serial the token endpoint will issue.
    token_serial: Arc<AtomicU64>,
}

/// Handle on the fault rules; clones share them.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

/// Identifies a rule for [`Faults::remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(u64);

impl Faults {
    pub(crate) fn new(seed: u64, token_serial: Arc<AtomicU64>) -> Faults {
        Faults {
            inner: Arc::new(Mutex::new(FaultState {
                rules: Vec::new(),
                next_id: 0,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0xfa17),
                revoked_below: 0,
                token_serial,
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.inner.lock().expect("fault state poisoned")
    }

    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) -> FaultId {
        let mut state = self.state();
        let id = state.next_id;
        state.next_id += 1;
        state.rules.push((id, rule));
        FaultId(id)
    }

    /// `kind` on `endpoint` (or every endpoint) with `probability`.
    pub fn set(&self, kind: FaultKind, endpoint: Option<Endpoint>, probability: f64) -> FaultId {
        self.add(FaultRule::new(kind, endpoint, probability))
    }

    /// `kind` on the next `times` requests to `endpoint`.
    pub fn next(&self, kind: FaultKind, endpoint: Option<Endpoint>, times: u32) -> FaultId {
        let mut rule = FaultRule::new(kind, endpoint, 1.0);
        rule.remaining = Some(times);
        self.add(rule)
    }

    pub fn remove(&self, id: FaultId) {
        self.state().rules.retain(|(rule_id, _)| *rule_id != id.0);
    }

    pub fn clear(&self) {
        self.state().rules.clear();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.state()
            .rules
            .iter()
            .map(|(_, rule)| rule.clone())
            .collect()
    }

    /// Every access token issued so far stops working (401 as expired): "the token expired
    /// mid-sync". Tokens requested afterwards work.
    pub fn expire_tokens(&self) {
        let mut state = self.state();
        state.revoked_below = state.token_serial.load(Ordering::SeqCst);
    }

    pub(crate) fn revoked_below(&self) -> u64 {
        self.state().revoked_below
    }

    /// Draws the faults for one request: (kind, delay, retry-after) of every rule that fired.
    pub(crate) fn roll(&self, endpoint: Endpoint) -> Vec<FaultRule> {
        let mut state = self.state();
        let mut fired = Vec::new();
        let FaultState { rules, rng, .. } = &mut *state;
        for (_, rule) in rules.iter_mut() {
            let applies = match rule.endpoint {
                Some(wanted) => wanted == endpoint && rule.kind.applies_to(endpoint),
                None => rule.kind.applies_by_default(endpoint),
            };
            if !applies || rule.remaining == Some(0) {
                continue;
            }
            if rule.probability >= 1.0 || rng.random_bool(rule.probability.clamp(0.0, 1.0)) {
                if let Some(remaining) = &mut rule.remaining {
                    *remaining -= 1;
                }
                fired.push(rule.clone());
            }
        }
        rules.retain(|(_, rule)| rule.remaining != Some(0));
        fired
    }

    /// A draw for shuffling: a fresh seed per shuffled call.
    pub(crate) fn shuffle_seed(&self) -> u64 {
        self.state().rng.random()
    }
}
