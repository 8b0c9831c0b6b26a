//! Faults on demand. Each rule names a fault kind, optionally an endpoint, a probability and
//! optionally how many times it may fire. Draws come from a generator seeded from the tenant
//! seed, so a run is repeatable for a given sequence of requests.
//!
//! # A degraded service
//!
//! Besides the rules, the simulator can show the states of a degraded service that a robust
//! sync has to survive without acting on them. Each can be set from the start in
//! [`crate::SimConfig`], switched at run time (here, on [`crate::Truth`] or on [`crate::Sim`]),
//! and given to the binary as a flag. Microsoft publishes none of these as behaviours; they are
//! the ordinary failure modes of a large, sharded, eventually consistent service, and the
//! answers reuse the documented shapes (docs/defender-api.md#errors-and-throttling).
//!
//! - **Persistent failures** ([`Faults::fail`] / [`Faults::recover`],
//!   `SimConfig::failures`, `--fail ENDPOINT=STATUS`): an endpoint answers the status of a
//!   [`Failure`] on every call, with no probability and no count. A tenant shows a 404 where the
//!   endpoint does not exist for it (the vulnerability endpoints without a Defender
//!   Vulnerability Management licence, Graph hunting in 21Vianet), a 403 where admin consent for
//!   one role was never granted or was withdrawn while the others work, a 400 where the service
//!   rejects every request of a kind (a parameter or body it no longer accepts), and a 500 for
//!   the hours an incident lasts. A `500` rule at probability 1 without a count fires as often,
//!   but `--fail` says "for good", covers the four statuses and gives each its body. Endpoint
//!   names are [`Endpoint::name`]'s (`export=404`, `alerts=403`).
//! - **An empty first page** (the `empty-page` rule, e.g. `--fault empty-page@machines=once`
//!   or `=always`): the first page of `/api/machines` or `/api/alerts` is a 200 with
//!   `"value": []`, as from a replica that has not caught up or a backend query that gave up
//!   early. A client that takes it for an empty tenant would deactivate everything.
//! - **A shrunk listing** ([`Faults::shrink_machines`], `SimConfig::shrink_machines`,
//!   `--shrink-machines 20%`): `/api/machines` lists only a [`Portion`] of the devices while
//!   the rest of the tenant is unchanged, as during a partial outage of the inventory store (one
//!   partition unreachable). A client that trusts it would mark most devices vanished.
//! - **Damaged export rows** ([`Faults::set_export_rows`], `SimConfig::export_rows`,
//!   `--export-omit`, `--export-malformed`): the vulnerability rows (machinesVulnerabilities,
//!   the full and the delta export) silently lose a share of their rows, or carry a broken key
//!   (`deviceId` null, `cveId` empty), as when an export is assembled from per-shard files one
//!   of which is missing or half-written, or a row's join to its device failed. See
//!   [`ExportRows`].
//! - **Future-dated records** ([`crate::Truth::future_date_alerts`],
//!   [`crate::Truth::future_date_machines`], `SimConfig::future_dated`, `--future-alerts`,
//!   `--future-machines`, `--future-by`): some alerts carry a `lastUpdateTime`, some machines a
//!   `lastSeen`, a given duration ahead of now. Alert updates are stamped by many backends and
//!   `lastSeen` comes from the device's own report, so one clock running fast is enough; a
//!   client that keeps the largest time it saw as its watermark then skips later changes.
//! - **A clock jump** ([`crate::Sim::jump_clock`], [`crate::SimClock::jump`],
//!   `--clock-jump -2h@5m`): the service's clock steps forward or back, as after an NTP step
//!   correction or when calls land on a backend whose clock is off. Tokens, `lastSeen`, alert
//!   times and hunting follow the new time; the rate-limit windows do not (see
//!   [`crate::clock`]).
//!
//! Which records a [`Portion`] or [`ExportRows`] hits depends only on the records' ids and the
//! tenant seed: the same ones on every call and page, and in every run with that seed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::answers::Answer;
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
    /// (`empty-page`) the first page of `/api/machines` or `/api/alerts` (no `$skip`, or
    /// `$skip=0`) is a 200 with `"value": []` and the usual `@odata.context` (and
    /// `"@odata.count": 0` when `$count=true` was asked), no nextLink. Later pages, `$count`
    /// and `$skip` pages are untouched, and only first pages use up a rule's count.
    EmptyPage,
}

impl FaultKind {
    pub const ALL: [FaultKind; 13] = [
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
        FaultKind::EmptyPage,
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
            FaultKind::EmptyPage => "empty-page",
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
            "empty-first-page" | "empty" => "empty-page",
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
            FaultKind::EmptyPage => matches!(endpoint, Endpoint::Machines | Endpoint::Alerts),
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

    /// Parses the CLI form `KIND[@ENDPOINT][=HOW-OFTEN]`, e.g. `500@machines=0.1`, `retired`,
    /// `empty-page@alerts=once`. HOW-OFTEN is a probability from 0 to 1, `always` (the default:
    /// every matching request, with no end), `once` (the first matching request only) or a
    /// count such as `3x` (the first three). A kind aimed at an endpoint it does not apply to
    /// (`empty-page@export`, `404@machines`) is refused, as it would never fire.
    pub fn parse(spec: &str) -> Result<FaultRule, String> {
        let (rest, probability, remaining) = match spec.split_once('=') {
            Some((rest, how_often)) => {
                let (probability, remaining) = parse_how_often(spec, how_often)?;
                (rest, probability, remaining)
            }
            None => (spec, 1.0, None),
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
                "unknown fault {kind:?} in {spec:?}; faults: {} (form KIND[@ENDPOINT][=PROBABILITY|always|once|Nx])",
                names.join(", ")
            )
        })?;
        if let Some(endpoint) = endpoint
            && !kind.applies_to(endpoint)
        {
            let names: Vec<&str> = Endpoint::ALL
                .into_iter()
                .filter(|endpoint| kind.applies_to(*endpoint))
                .map(Endpoint::name)
                .collect();
            let hint = if kind == FaultKind::Intermittent404 {
                "; an endpoint that answers 404 on every call is a failure: --fail ENDPOINT=404"
            } else {
                ""
            };
            return Err(format!(
                "fault {:?} does not apply to endpoint {:?} in {spec:?}; it applies to: {}{hint}",
                kind.name(),
                endpoint.name(),
                names.join(", ")
            ));
        }
        let mut rule = FaultRule::new(kind, endpoint, probability);
        rule.remaining = remaining;
        Ok(rule)
    }
}

/// The `=…` of a fault rule: (probability, remaining count).
fn parse_how_often(spec: &str, text: &str) -> Result<(f64, Option<u32>), String> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "always" => return Ok((1.0, None)),
        "once" => return Ok((1.0, Some(1))),
        _ => {}
    }
    if let Some(count) = lower.strip_suffix('x') {
        return match count.parse::<u32>() {
            Ok(count) if count > 0 => Ok((1.0, Some(count))),
            _ => Err(format!(
                "bad count in fault {spec:?}: give a whole number of times above 0, such as 3x"
            )),
        };
    }
    let probability = lower.parse::<f64>().map_err(|_| {
        format!(
            "bad probability in fault {spec:?}: give a number from 0 to 1, always, once or a count such as 3x"
        )
    })?;
    if !(0.0..=1.0).contains(&probability) {
        return Err(format!(
            "probability out of range in fault {spec:?}: give a number from 0 to 1"
        ));
    }
    Ok((probability, None))
}

/// What an endpoint answers on every call once [`Faults::fail`] (or `--fail ENDPOINT=STATUS`)
/// names it: not by chance and not for a count, until [`Faults::recover`]. The number in
/// parentheses is the CLI spelling. The request is authenticated and authorized as usual first,
/// so a bad token is still a 401 and a role the token really lacks is still the ordinary 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failure {
    /// (`400`) the service rejects the request. MDE: `BadRequest` "The request is invalid.";
    /// on `advanced-queries` (a POST) `InvalidRequestBody` "Request body is incorrect" (the
    /// example of docs/defender-api.md#errors-and-throttling); Graph: `BadRequest` "Invalid
    /// request body.". The call counts against the rate limits.
    BadRequest,
    /// (`403`) the app lacks the endpoint's role: the ordinary missing-role 403 in the configured
    /// [`crate::ForbiddenWording`] (Graph's wording on `graph-hunting`), naming the roles the
    /// token holds minus the ones the endpoint requires, as if consent for them had been
    /// withdrawn. Given where the real check happens, before the rate limits.
    Forbidden,
    /// (`403-disabled`) the tenant has not switched the feature on or has no licence for it:
    /// the documented 403 code `DisabledFeature` (docs/defender-api.md#errors-and-throttling).
    /// Its message is unpublished; the simulator says "The feature is not enabled for this
    /// tenant.". Graph: `Forbidden` with the same message. The call counts against the limits.
    DisabledFeature,
    /// (`404`) the endpoint does not exist in this tenant or cloud (the vulnerability endpoints
    /// without a vulnerability-management licence, Graph hunting in 21Vianet):
    /// `ResourceNotFound` "Resource '{path}' was not found", as for an unknown path; Graph:
    /// `NotFound`. The call counts against the rate limits.
    NotFound,
    /// (`500`) a persistent server error: `InternalServerError` "An unexpected error occurred.
    /// Please try again later.", the body of the `500` fault. The call counts against the rate
    /// limits.
    InternalError,
}

impl Failure {
    pub const ALL: [Failure; 5] = [
        Failure::BadRequest,
        Failure::Forbidden,
        Failure::DisabledFeature,
        Failure::NotFound,
        Failure::InternalError,
    ];

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Failure::BadRequest => 400,
            Failure::Forbidden | Failure::DisabledFeature => 403,
            Failure::NotFound => 404,
            Failure::InternalError => 500,
        }
    }

    /// The CLI spelling: the status, and for the second kind of 403 `403-disabled`.
    pub fn spelling(self) -> &'static str {
        match self {
            Failure::BadRequest => "400",
            Failure::Forbidden => "403",
            Failure::DisabledFeature => "403-disabled",
            Failure::NotFound => "404",
            Failure::InternalError => "500",
        }
    }

    /// `400`, `403`, `403-disabled`, `404` or `500`.
    pub fn parse(text: &str) -> Option<Failure> {
        let text = text.trim();
        Failure::ALL
            .into_iter()
            .find(|failure| failure.spelling() == text)
    }
}

/// One endpoint failing on every call (`--fail ENDPOINT=STATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointFailure {
    pub endpoint: Endpoint,
    pub failure: Failure,
}

impl EndpointFailure {
    pub fn new(endpoint: Endpoint, failure: Failure) -> EndpointFailure {
        EndpointFailure { endpoint, failure }
    }

    /// The endpoints a failure can name: the API's, not the token endpoint (whose refusals are
    /// Entra's and come from the app settings) nor unknown paths.
    pub fn endpoints() -> impl Iterator<Item = Endpoint> {
        Endpoint::ALL
            .into_iter()
            .filter(|endpoint| !matches!(endpoint, Endpoint::Token | Endpoint::Unknown))
    }

    /// Parses the CLI form `ENDPOINT=STATUS`, e.g. `export=404`, `alerts=403`.
    pub fn parse(spec: &str) -> Result<EndpointFailure, String> {
        let endpoint_names = || {
            EndpointFailure::endpoints()
                .map(Endpoint::name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let statuses = || {
            Failure::ALL
                .iter()
                .map(|failure| failure.spelling().to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((endpoint, status)) = spec.split_once('=') else {
            return Err(format!(
                "bad failure {spec:?}: give ENDPOINT=STATUS, such as export=404; statuses: {}",
                statuses()
            ));
        };
        let endpoint = Endpoint::parse(endpoint.trim())
            .filter(|endpoint| EndpointFailure::endpoints().any(|known| known == *endpoint))
            .ok_or_else(|| {
                format!(
                    "unknown endpoint {endpoint:?} in failure {spec:?}; endpoints: {}",
                    endpoint_names()
                )
            })?;
        let failure = Failure::parse(status).ok_or_else(|| {
            format!(
                "unknown status {status:?} in failure {spec:?}; statuses: {}",
                statuses()
            )
        })?;
        Ok(EndpointFailure::new(endpoint, failure))
    }
}

/// How many of a set of records an option touches: a count, or a fraction of them (rounded to
/// the nearest whole record). Which ones is decided by a hash of each record's id and the tenant
/// seed, so it is the same records on every call and in every run with that seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Portion {
    Count(usize),
    /// 0.0–1.0.
    Fraction(f64),
}

impl Portion {
    /// Parses the CLI form: a count (`40`), a percentage (`25%`) or a fraction (`0.25`).
    pub fn parse(text: &str) -> Result<Portion, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "bad amount {text:?}: give a count (40), a percentage (25%) or a fraction from 0 to 1 (0.25)"
            )
        };
        if let Some(percent) = text.strip_suffix('%') {
            let percent: f64 = percent.trim().parse().map_err(|_| bad())?;
            return if (0.0..=100.0).contains(&percent) {
                Ok(Portion::Fraction(percent / 100.0))
            } else {
                Err(bad())
            };
        }
        if text.contains('.') {
            let fraction: f64 = text.parse().map_err(|_| bad())?;
            return if (0.0..=1.0).contains(&fraction) {
                Ok(Portion::Fraction(fraction))
            } else {
                Err(bad())
            };
        }
        text.parse().map(Portion::Count).map_err(|_| bad())
    }

    /// How many of `total` records.
    pub fn of(self, total: usize) -> usize {
        match self {
            Portion::Count(count) => count.min(total),
            Portion::Fraction(fraction) => {
                ((total as f64 * fraction.clamp(0.0, 1.0)).round() as usize).min(total)
            }
        }
    }
}

/// A hash of (seed, salt, key): the stable "random" choice behind [`Portion`] and [`ExportRows`].
fn hash64(seed: u64, salt: &str, key: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in salt.bytes().chain([0]).chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finalizer, with the seed mixed in.
    let mut z = hash ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash mapped to `[0, 1)`.
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// Which of `keys` a `portion` picks (`true` = picked), by rank of their hash.
pub(crate) fn pick(keys: &[&str], portion: Portion, seed: u64, salt: &str) -> Vec<bool> {
    let mut ranked: Vec<(u64, usize)> = keys
        .iter()
        .enumerate()
        .map(|(idx, key)| (hash64(seed, salt, key), idx))
        .collect();
    ranked.sort_unstable();
    let mut picked = vec![false; keys.len()];
    for (_, idx) in ranked.into_iter().take(portion.of(keys.len())) {
        picked[idx] = true;
    }
    picked
}

/// Damage to the vulnerability rows of `/api/vulnerabilities/machinesVulnerabilities`, the full
/// export (`SoftwareVulnerabilitiesByMachine`) and the delta export
/// (`SoftwareVulnerabilityChangesByMachine`). Each row is judged by a hash of its id and the
/// seed, so the same rows are hit on every call and page.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExportRows {
    /// Chance (0–1) that a row is silently left out: no gap, no error, the later rows move up
    /// and the paging (`$skiptoken`, `$skip`) counts only what is served.
    pub omit: f64,
    /// Chance (0–1) that a row that is served has a broken key field: half of them (by hash)
    /// carry `"deviceId": null` (`"machineId": null` in machinesVulnerabilities), the others
    /// `"cveId": ""`. Every other field is intact.
    pub malformed: f64,
}

/// What [`ExportRows`] does to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowFate {
    Keep,
    Omit,
    /// The device id is `null`.
    NoDevice,
    /// The CVE id is empty.
    NoCve,
}

impl ExportRows {
    pub fn is_none(&self) -> bool {
        self.omit <= 0.0 && self.malformed <= 0.0
    }

    pub(crate) fn fate(&self, seed: u64, row_id: &str) -> RowFate {
        if self.is_none() {
            return RowFate::Keep;
        }
        if unit(hash64(seed, "export-omit", row_id)) < self.omit {
            return RowFate::Omit;
        }
        let hash = hash64(seed, "export-malformed", row_id);
        if unit(hash) < self.malformed {
            if hash & 1 == 0 {
                RowFate::NoDevice
            } else {
                RowFate::NoCve
            }
        } else {
            RowFate::Keep
        }
    }
}

/// Records dated in the future, applied at start from [`crate::SimConfig::future_dated`] (or at
/// any time with [`crate::Truth::future_date_alerts`] and
/// [`crate::Truth::future_date_machines`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FutureDated {
    /// Alerts whose `lastUpdateTime` becomes now + `ahead`.
    pub alerts: Portion,
    /// Listed machines whose `lastSeen` becomes now + `ahead`.
    pub machines: Portion,
    pub ahead: Duration,
}

impl Default for FutureDated {
    fn default() -> Self {
        FutureDated {
            alerts: Portion::Count(0),
            machines: Portion::Count(0),
            ahead: Duration::from_secs(3_600),
        }
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
    /// The tenant seed, for the stable choices of [`Portion`] and [`ExportRows`].
    seed: u64,
    failures: BTreeMap<Endpoint, Failure>,
    shrink_machines: Option<Portion>,
    export_rows: ExportRows,
    answers: BTreeMap<Endpoint, Answer>,
    answered: BTreeMap<Endpoint, u64>,
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
                seed,
                failures: BTreeMap::new(),
                shrink_machines: None,
                export_rows: ExportRows::default(),
                answers: BTreeMap::new(),
                answered: BTreeMap::new(),
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

    /// Removes every rule, failure, shrink and export damage (future-dated records are data and
    /// stay; a clock jump stays).
    pub fn clear(&self) {
        let mut state = self.state();
        state.rules.clear();
        state.failures.clear();
        state.shrink_machines = None;
        state.export_rows = ExportRows::default();
        state.answers.clear();
    }

    /// `endpoint` answers `answer` instead of its own 2xx answers from now on (replacing an
    /// earlier answer of it), until [`Faults::clear_answers`] or [`Faults::clear`]; see
    /// [`crate::answers`].
    pub fn answer(&self, endpoint: Endpoint, answer: Answer) {
        self.state().answers.insert(endpoint, answer);
    }

    /// Every endpoint answers as itself again; the counts of [`Faults::answered`] restart.
    pub fn clear_answers(&self) {
        let mut state = self.state();
        state.answers.clear();
        state.answered.clear();
    }

    /// How many answers of `endpoint` an [`Answer`] replaced since the last
    /// [`Faults::clear_answers`].
    pub fn answered(&self, endpoint: Endpoint) -> u64 {
        self.state().answered.get(&endpoint).copied().unwrap_or(0)
    }

    pub(crate) fn answer_for(&self, endpoint: Endpoint) -> Option<Answer> {
        self.state().answers.get(&endpoint).cloned()
    }

    pub(crate) fn count_answered(&self, endpoint: Endpoint) {
        *self.state().answered.entry(endpoint).or_default() += 1;
    }

    /// `endpoint` answers `failure` on every call from now on (replacing an earlier failure of
    /// it), until [`Faults::recover`] or [`Faults::clear`].
    pub fn fail(&self, endpoint: Endpoint, failure: Failure) {
        self.state().failures.insert(endpoint, failure);
    }

    /// `endpoint` answers normally again.
    pub fn recover(&self, endpoint: Endpoint) {
        self.state().failures.remove(&endpoint);
    }

    /// The endpoints failing on every call, by endpoint.
    pub fn failures(&self) -> Vec<EndpointFailure> {
        self.state()
            .failures
            .iter()
            .map(|(endpoint, failure)| EndpointFailure::new(*endpoint, *failure))
            .collect()
    }

    pub(crate) fn failure(&self, endpoint: Endpoint) -> Option<Failure> {
        self.state().failures.get(&endpoint).copied()
    }

    /// `GET /api/machines` lists only `shown` of the devices it would list, as after a partial
    /// outage; `$count` and `@odata.count` agree with it. Which devices stay is stable (see
    /// [`Portion`]); `$filter` applies to those. `/api/machines/{id}`, alerts, the exports and
    /// hunting still see every device, and the ground truth is unchanged.
    pub fn shrink_machines(&self, shown: Portion) {
        self.state().shrink_machines = Some(shown);
    }

    /// The machines listing shows every device again.
    pub fn restore_machines(&self) {
        self.state().shrink_machines = None;
    }

    /// What [`Faults::shrink_machines`] set, if anything.
    pub fn machines_shrink(&self) -> Option<Portion> {
        self.state().shrink_machines
    }

    /// Damages the vulnerability rows from now on (see [`ExportRows`]); `ExportRows::default()`
    /// stops it.
    pub fn set_export_rows(&self, rows: ExportRows) {
        self.state().export_rows = rows;
    }

    pub fn export_rows(&self) -> ExportRows {
        self.state().export_rows
    }

    pub(crate) fn seed(&self) -> u64 {
        self.state().seed
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
    /// `first_page`: the request is the first page of a listing (what `empty-page` needs).
    pub(crate) fn roll(&self, endpoint: Endpoint, first_page: bool) -> Vec<FaultRule> {
        let mut state = self.state();
        let mut fired = Vec::new();
        let FaultState { rules, rng, .. } = &mut *state;
        for (_, rule) in rules.iter_mut() {
            let applies = match rule.endpoint {
                Some(wanted) => wanted == endpoint && rule.kind.applies_to(endpoint),
                None => rule.kind.applies_by_default(endpoint),
            };
            if !applies
                || rule.remaining == Some(0)
                || (rule.kind == FaultKind::EmptyPage && !first_page)
            {
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
