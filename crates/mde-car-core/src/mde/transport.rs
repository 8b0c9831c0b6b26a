//! One request, done properly: rate budget, token, timeout, retries, counters, cancellation.
//!
//! Retry rules (docs/defender-api.md#errors-and-throttling): 429 waits `Retry-After` and tries
//! again without using up the retry allowance (throttling is the service working as designed);
//! 5xx, 408, resets, timeouts and answers cut off mid-body are retried with capped, jittered
//! exponential backoff (backon); a 401 refreshes the token once; any other 4xx is final.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::Utc;
use reqwest::{Method, StatusCode, header};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use crate::auth::{self, Transport};
use crate::http::BodyError;

use super::budget::parse_retry_after;
use super::error::required_roles;
use super::token::Audience;
use super::{EndpointKind, MdeClient, MdeError, Progress};

/// A Defender (or Graph) endpoint the client calls; the unit of counters and budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `GET /api/machines`.
    Machines,
    /// `GET /api/alerts`.
    Alerts,
    /// `GET /api/machines/{id}/logonusers`.
    LogonUsers,
    /// `GET /api/machines/findbyip(…)`.
    FindByIp,
    /// `POST /api/advancedqueries/run` (legacy advanced hunting).
    Hunting,
    /// Graph `POST /v1.0/security/runHuntingQuery`.
    GraphHunting,
    /// `GET /api/machines/SoftwareVulnerabilitiesByMachine`.
    VulnerabilityExport,
    /// `GET /api/machines/SoftwareVulnerabilityChangesByMachine`.
    VulnerabilityChanges,
}

/// Endpoints that share a rate budget (docs/defender-api.md#rate-limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    List,
    Hunting,
    Export,
}

impl Endpoint {
    pub fn family(self) -> Family {
        match self {
            Endpoint::Machines | Endpoint::Alerts | Endpoint::LogonUsers | Endpoint::FindByIp => {
                Family::List
            }
            Endpoint::Hunting | Endpoint::GraphHunting => Family::Hunting,
            Endpoint::VulnerabilityExport | Endpoint::VulnerabilityChanges => Family::Export,
        }
    }

    /// The key of the endpoint in run records and logs: `machines`, `advanced_hunting`, ….
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Machines => "machines",
            Endpoint::Alerts => "alerts",
            Endpoint::LogonUsers => "logonusers",
            Endpoint::FindByIp => "findbyip",
            Endpoint::Hunting => "advanced_hunting",
            Endpoint::GraphHunting => "graph_hunting",
            Endpoint::VulnerabilityExport => "vulnerability_export",
            Endpoint::VulnerabilityChanges => "vulnerability_changes",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Counters of one endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// HTTP requests sent (retries included).
    pub calls: u64,
    /// 429 answers waited out.
    pub throttled: u64,
    /// Requests repeated after a transient failure (5xx, reset, timeout, cut-off body, 401).
    pub retried: u64,
    /// Calls that ended in an error after all retries.
    pub failed: u64,
}

/// What a client did during its run (see [`MdeClient::with_cancel`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    pub endpoints: BTreeMap<Endpoint, EndpointStats>,
    /// Token requests to Entra ID (both audiences).
    pub token_requests: u64,
    /// Time spent waiting for the client's own rate budget.
    pub budget_wait: Duration,
    /// Time spent waiting out 429 `Retry-After`s.
    pub retry_after_wait: Duration,
    /// Time spent in backoff before retrying transient failures.
    pub backoff_wait: Duration,
    /// Records that could not be read and were left out (a listing with any is not complete).
    pub skipped_records: u64,
    /// Values left out of a record (an IP or MAC that does not parse, a bad timestamp).
    pub unparsable_values: u64,
}

impl CallStats {
    /// API calls of every endpoint (token requests not included).
    pub fn total_calls(&self) -> u64 {
        self.endpoints.values().map(|stats| stats.calls).sum()
    }

    /// Time spent waiting on throttling: the local budget plus the service's `Retry-After`s.
    pub fn throttle_wait(&self) -> Duration {
        self.budget_wait + self.retry_after_wait
    }

    pub fn calls_of(&self, endpoint: Endpoint) -> EndpointStats {
        self.endpoints.get(&endpoint).copied().unwrap_or_default()
    }
}

/// One API request.
pub(super) struct Call<'a> {
    pub(super) endpoint: Endpoint,
    pub(super) method: Method,
    pub(super) url: &'a str,
    pub(super) body: Option<&'a serde_json::Value>,
    pub(super) audience: Audience,
}

impl<'a> Call<'a> {
    pub(super) fn get(endpoint: Endpoint, url: &'a str) -> Call<'a> {
        Call {
            endpoint,
            method: Method::GET,
            url,
            body: None,
            audience: Audience::Defender,
        }
    }
}

/// Why one attempt failed, before the retry decision.
pub(super) enum Attempt {
    /// Worth repeating after a backoff (`at_least` from a 503's `Retry-After`).
    Transient {
        error: MdeError,
        at_least: Option<Duration>,
    },
    Throttled(Option<Duration>),
    Unauthorized {
        generation: u64,
        error: MdeError,
    },
    Final(MdeError),
}

/// What to wait when a 429 carries no `Retry-After`: Defender's shortest window is a minute.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

impl MdeClient {
    /// Sends `call` until it succeeds or a rule says stop, and reads the answer as `T`.
    pub(super) async fn send<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, MdeError> {
        // Unit tests only: a bug in the client, to show that a run survives one.
        #[cfg(test)]
        if self.shared.options.panic_on == Some(call.endpoint) {
            panic!("injected panic on a {} call", call.endpoint);
        }
        let result = self.send_inner(call).await;
        if let Err(error) = &result
            && *error != MdeError::Cancelled
        {
            self.with_stats(|stats| stats.endpoints.entry(call.endpoint).or_default().failed += 1);
            tracing::debug!(endpoint = %call.endpoint, %error, "defender call failed");
        }
        result
    }

    async fn send_inner<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, MdeError> {
        let retry = &self.shared.options.retry;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(retry.min_delay)
            .with_max_delay(retry.max_delay)
            .with_max_times(retry.max_retries)
            .with_jitter()
            .build();
        let mut refreshed = false;
        let mut throttle_waits = 0u32;
        loop {
            match self.attempt::<T>(call).await {
                Ok(value) => return Ok(value),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Unauthorized { generation, error }) => {
                    if refreshed {
                        return Err(error);
                    }
                    refreshed = true;
                    self.token_cache(call.audience)
                        .invalidate(generation, &self.run.cancel)
                        .await;
                    self.count_retry(call.endpoint);
                }
                Err(Attempt::Throttled(retry_after)) => {
                    self.with_stats(|stats| {
                        stats.endpoints.entry(call.endpoint).or_default().throttled += 1;
                    });
                    let wait = retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                    throttle_waits += 1;
                    if throttle_waits > retry.max_throttle_waits || wait > retry.max_retry_after {
                        return Err(MdeError::Throttled { retry_after });
                    }
                    tracing::info!(endpoint = %call.endpoint, wait_ms = wait.as_millis(), "throttled by defender; waiting as asked");
                    self.report_wait(super::WaitReason::ServiceAsked, wait);
                    self.sleep(wait).await?;
                    self.with_stats(|stats| stats.retry_after_wait += wait);
                }
                Err(Attempt::Transient { error, at_least }) => {
                    let Some(delay) = backoff.next() else {
                        return Err(error);
                    };
                    let delay = at_least.map_or(delay, |at_least| {
                        delay.max(at_least.min(retry.max_retry_after))
                    });
                    tracing::info!(endpoint = %call.endpoint, %error, delay_ms = delay.as_millis(), "retrying after a transient failure");
                    self.sleep(delay).await?;
                    self.with_stats(|stats| stats.backoff_wait += delay);
                    self.count_retry(call.endpoint);
                }
            }
        }
    }

    fn count_retry(&self, endpoint: Endpoint) {
        self.with_stats(|stats| stats.endpoints.entry(endpoint).or_default().retried += 1);
    }

    /// One try: budget, token, request, body, decoding.
    async fn attempt<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, Attempt> {
        let cancel = &self.run.cancel;
        let waited = self
            .budget(call.endpoint.family())
            .acquire(cancel, |wait| {
                self.report_wait(super::WaitReason::OwnBudget, wait);
            })
            .await
            .map_err(Attempt::Final)?;
        let fetched = self
            .token_cache(call.audience)
            .get(&self.shared.http, &self.shared.credentials, cancel, || {
                self.report(Progress {
                    endpoint: EndpointKind::Token,
                    page: 0,
                    items_so_far: 0,
                    estimated_total: None,
                });
            })
            .await
            .map_err(|error| {
                if error.is_retryable() && error != MdeError::Cancelled {
                    Attempt::Transient {
                        error,
                        at_least: None,
                    }
                } else {
                    Attempt::Final(error)
                }
            })?;
        self.with_stats(|stats| {
            stats.budget_wait += waited;
            stats.token_requests += u64::from(fetched.requested);
            stats.endpoints.entry(call.endpoint).or_default().calls += 1;
        });
        let bearer = fetched.bearer;
        let mut request = self
            .shared
            .http
            .request(call.method.clone(), call.url)
            .bearer_auth(bearer.secret.expose_secret())
            .header(header::ACCEPT, "application/json")
            .timeout(self.shared.options.timeouts.of(call.endpoint.family()));
        if let Some(body) = call.body {
            request = request.json(body);
        }
        let response = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Attempt::Final(MdeError::Cancelled)),
            response = request.send() => response,
        };
        let response = response.map_err(|error| transport_attempt(&error))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, Utc::now()));
        let limit = self.shared.options.max_answer_bytes;
        let body = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Attempt::Final(MdeError::Cancelled)),
            body = crate::http::read_capped(response, limit) => body,
        };
        let body = match body {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return Err(Attempt::Final(MdeError::TooLarge {
                    endpoint: call.endpoint,
                    limit,
                }));
            }
            Err(BodyError::Broken(_)) => {
                return Err(Attempt::Transient {
                    error: MdeError::Network(Transport::Other(
                        "the connection broke off in the middle of the answer".to_owned(),
                    )),
                    at_least: None,
                });
            }
        };
        if status.is_success() {
            return decode(call.endpoint, &body);
        }
        Err(classify_status(
            status,
            retry_after,
            &body,
            bearer.generation,
        ))
    }
}

fn transport_attempt(error: &reqwest::Error) -> Attempt {
    let transport = auth::classify_transport(error);
    let retryable = !matches!(transport, Transport::Dns(_) | Transport::Tls(_));
    let error = MdeError::Network(transport);
    if retryable {
        Attempt::Transient {
            error,
            at_least: None,
        }
    } else {
        Attempt::Final(error)
    }
}

/// Reads a 2xx body. Syntax and end-of-input errors mean the body was cut off on the way (the
/// service streams large answers): retried. A well-formed body of the wrong shape is final.
///
/// Two syntax errors say more than "cut off": an answer nested deeper than serde_json's
/// recursion limit (128) is refused as it is (final: the same answer would come again), and an
/// HTML page or an empty body is named as such, since a proxy's or captive portal's page is the
/// usual cause (retried, as a load balancer's error page can be brief).
pub(super) fn decode<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, Attempt> {
    serde_json::from_slice(body).map_err(|error| {
        if error.to_string().starts_with("recursion limit exceeded") {
            Attempt::Final(MdeError::Decode {
                endpoint,
                detail: format!(
                    "it is nested deeper than the 128 levels mde-car reads ({error}); nothing of it was used"
                ),
            })
        } else if error.is_eof() || error.is_syntax() {
            let what = if body.iter().all(u8::is_ascii_whitespace) {
                "was empty (a success status with no body)".to_owned()
            } else if body.trim_ascii_start().starts_with(b"<") {
                format!(
                    "is a web page (HTML), not Defender's JSON ({error}): a proxy's or sign-in page, or another service at the API base URL; check the API base URL and the proxy"
                )
            } else {
                format!("arrived cut off or malformed ({error})")
            };
            Attempt::Transient {
                error: MdeError::Network(Transport::Other(format!(
                    "the answer of {endpoint} {what}"
                ))),
                at_least: None,
            }
        } else {
            Attempt::Final(MdeError::Decode {
                endpoint,
                detail: error.to_string(),
            })
        }
    })
}

fn classify_status(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    generation: u64,
) -> Attempt {
    let (code, message) = error_parts(status, body);
    let api = MdeError::Api {
        status: status.as_u16(),
        code,
        message: message.clone(),
    };
    match status.as_u16() {
        401 => Attempt::Unauthorized {
            generation,
            error: api,
        },
        // The documented 403 for a feature the tenant has not switched on or licensed
        // (docs/defender-api.md#errors-and-throttling): no role would help.
        403 if matches!(&api, MdeError::Api { code: Some(code), .. } if code == "DisabledFeature") => {
            Attempt::Final(api)
        }
        403 => Attempt::Final(MdeError::Forbidden {
            required: required_roles(&message),
            message,
        }),
        429 => Attempt::Throttled(retry_after),
        408 | 500..=599 => Attempt::Transient {
            error: api,
            at_least: retry_after,
        },
        _ => Attempt::Final(api),
    }
}

/// `{"error":{"code":…,"message":…}}` (Defender and Graph alike) → (code, message); a body of
/// another shape gives its first line, shortened.
pub(super) fn error_parts(status: StatusCode, body: &[u8]) -> (Option<String>, String) {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = json.as_ref().and_then(|json| json.get("error"));
    let code = error.and_then(|error| error.get("code")).and_then(|code| {
        code.as_str()
            .map(str::to_owned)
            .or_else(|| code.as_i64().map(|code| code.to_string()))
    });
    let message = error
        .and_then(|error| error.get("message"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            // Entra-style `error_description` or a bare string `error`.
            json.as_ref()
                .and_then(|json| json.get("error_description").or(error))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        });
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let line: String = text
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .chars()
            .take(200)
            .collect();
        if line.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no explanation")
                .to_ascii_lowercase()
        } else {
            line
        }
    });
    (code, message)
}

impl MdeClient {
    pub(super) async fn sleep(&self, duration: Duration) -> Result<(), MdeError> {
        tokio::select! {
            biased;
            () = self.run.cancel.cancelled() => Err(MdeError::Cancelled),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }

    pub(super) fn with_stats(&self, update: impl FnOnce(&mut CallStats)) {
        let mut stats = self
            .run
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        update(&mut stats);
    }
}
