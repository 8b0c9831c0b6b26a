//! Advanced hunting: the legacy `POST /api/advancedqueries/run`, its successor Graph
//! `POST /v1.0/security/runHuntingQuery`, and the bulk history queries built on them.
//!
//! The legacy API is being retired (docs/defender-api.md#legacy-hunting-retirement). The first
//! query of a connection gets a Graph token: when it holds `ThreatHunting.Read.All`, queries go
//! to Graph, otherwise (or without a Graph token) to the legacy API, for the connection's life.
//! A 403 from Graph moves the connection to the legacy API for good; a legacy answer that it
//! was retired moves it to Graph for good. Both answer one JSON
//! document (≤ 100,000 rows, no paging): legacy
//! `{"Stats", "Schema", "Results"}`, Graph `{"schema", "results"}`. Columns of type `dynamic`
//! (JSON arrays such as `IPAddresses`) arrive as strings holding JSON; [`HuntingRow::json`]
//! parses them.
//!
//! History queries are chunked by time so that no answer nears the row cap: the first window is
//! sized from the device count, a window whose answer reaches the high-water mark is halved and
//! asked again, a window that came back small doubles the next one. Windows are half-open
//! (`Timestamp >= from and Timestamp < to`), so rows at a boundary belong to exactly one window.

use std::collections::HashMap;
use std::sync::{Arc, atomic::Ordering};

use chrono::TimeDelta;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::{LogonObservation, NetworkObservation, ObservedAddress, Timestamp};

use super::token::Audience;
use super::transport::Call;
use super::wire::{Interner, Lossy, parse_ip, parse_time};
use super::{Endpoint, EndpointKind, MdeClient, MdeError, Progress};

/// One result row: column name → value.
#[derive(Debug, Clone, PartialEq)]
pub struct HuntingRow(Map<String, Value>);

impl HuntingRow {
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.get(column).filter(|value| !value.is_null())
    }

    /// A non-empty string cell.
    pub fn str(&self, column: &str) -> Option<&str> {
        self.get(column)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    }

    pub fn time(&self, column: &str) -> Option<Timestamp> {
        self.str(column).and_then(parse_time)
    }

    /// A boolean cell; also reads `"true"`/`"false"` and 0/1.
    pub fn bool(&self, column: &str) -> Option<bool> {
        match self.get(column)? {
            Value::Bool(flag) => Some(*flag),
            Value::Number(number) => number.as_i64().map(|number| number != 0),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn i64(&self, column: &str) -> Option<i64> {
        match self.get(column)? {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// A `dynamic` cell: parsed when it arrives as a string holding JSON, as is otherwise.
    pub fn json(&self, column: &str) -> Option<Value> {
        match self.get(column)? {
            Value::String(text) => {
                let trimmed = text.trim();
                if trimmed.is_empty() {
                    return None;
                }
                Some(serde_json::from_str(trimmed).unwrap_or_else(|_| Value::String(text.clone())))
            }
            other => Some(other.clone()),
        }
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Map<String, Value>> for HuntingRow {
    fn from(map: Map<String, Value>) -> Self {
        HuntingRow(map)
    }
}

/// Either API's answer; only the rows are used. Rows stay JSON values until each is checked,
/// so a row that is not an object (`null`, a number) costs that row, not the answer.
#[derive(Debug, Deserialize)]
pub(super) struct WireHuntingAnswer {
    #[serde(alias = "Results")]
    pub(super) results: Vec<Value>,
}

/// Whether a query failed for its size: the 124 MB result cap ("Query execution has exceeded
/// the allowed result size…") or a preempted heavy query ("…exceeded the allowed limits"),
/// both 400s (docs/defender-api.md#advanced-hunting). A smaller window helps with either.
pub(super) fn is_too_big(error: &MdeError) -> bool {
    matches!(error, MdeError::Api { status: 400, message, .. }
        if message.to_ascii_lowercase().contains("exceeded the allowed"))
}

/// Whether an error says the legacy API is gone (the simulator's wording; Microsoft has not
/// published the text, docs/defender-api.md#legacy-hunting-retirement): any 400/404/410 that
/// mentions retirement, or a bare 410 Gone.
pub(super) fn is_retired(error: &MdeError) -> bool {
    match error {
        MdeError::Api {
            status, message, ..
        } => {
            *status == 410
                || (matches!(status, 400 | 404) && message.to_ascii_lowercase().contains("retired"))
        }
        _ => false,
    }
}

/// KQL's datetime literal at Kusto's 100 ns precision: `datetime(2024-05-01T10:00:00.0000000Z)`.
pub(super) fn kql_datetime(time: Timestamp) -> String {
    format!(
        "datetime({}.{:07}Z)",
        time.format("%Y-%m-%dT%H:%M:%S"),
        time.timestamp_subsec_nanos() / 100
    )
}

/// Truncates to Kusto's 100 ns ticks, so window edges print exactly.
fn to_ticks(time: Timestamp) -> Timestamp {
    let nanos = time.timestamp_subsec_nanos();
    time - TimeDelta::nanoseconds(i64::from(nanos % 100))
}

/// Never split a window below this; an answer still at the cap then is kept as it is.
const MIN_WINDOW: TimeDelta = TimeDelta::seconds(1);

/// Devices assumed when no listing told the client how many there are.
const DEFAULT_DEVICE_COUNT: u64 = 10_000;

/// `DeviceNetworkInfo` rows per device per day: adapters (about two) report every few hours
/// and on each change.
const NETWORK_ROWS_PER_DEVICE_DAY: f64 = 12.0;

/// Summarized `DeviceLogonEvents` rows per device per day (distinct accounts signing in).
const LOGON_ROWS_PER_DEVICE_DAY: f64 = 3.0;

/// Which advanced-hunting API a connection uses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuntingApi {
    /// The Graph token holds `ThreatHunting.Read.All`: Graph's `runHuntingQuery`.
    Graph,
    /// The Graph token lacks `ThreatHunting.Read.All`: the legacy API.
    LegacyWithoutGraphRole,
    /// No Graph token could be had: the legacy API.
    LegacyWithoutGraphToken,
    /// Graph answered 403 although the token claimed the role: the legacy API from then on.
    LegacyGraphForbidden,
    /// The legacy API answered that it is retired: Graph from then on.
    GraphLegacyRetired,
}

/// [`Shared::hunting_api`](super::Shared) before the first query decided it.
pub(super) const UNDECIDED: u8 = 0;

/// The Graph application role that `runHuntingQuery` requires.
pub const GRAPH_HUNTING_ROLE: &str = "ThreatHunting.Read.All";

impl HuntingApi {
    /// Whether queries go to Microsoft Graph.
    pub fn is_graph(self) -> bool {
        matches!(self, HuntingApi::Graph | HuntingApi::GraphLegacyRetired)
    }

    fn code(self) -> u8 {
        match self {
            HuntingApi::Graph => 1,
            HuntingApi::LegacyWithoutGraphRole => 2,
            HuntingApi::LegacyWithoutGraphToken => 3,
            HuntingApi::LegacyGraphForbidden => 4,
            HuntingApi::GraphLegacyRetired => 5,
        }
    }

    fn from_code(code: u8) -> Option<HuntingApi> {
        Some(match code {
            1 => HuntingApi::Graph,
            2 => HuntingApi::LegacyWithoutGraphRole,
            3 => HuntingApi::LegacyWithoutGraphToken,
            4 => HuntingApi::LegacyGraphForbidden,
            5 => HuntingApi::GraphLegacyRetired,
            _ => return None,
        })
    }
}

/// Whether Graph refused the query for its permissions.
fn is_forbidden(error: &MdeError) -> bool {
    matches!(
        error,
        MdeError::Forbidden { .. } | MdeError::Api { status: 403, .. }
    )
}

impl MdeClient {
    /// Runs a KQL query and returns its rows, on the API [`MdeClient::hunting_api`] picks.
    pub async fn hunting(&self, query: &str) -> Result<Vec<HuntingRow>, MdeError> {
        let body = json!({ "Query": query });
        let api = self.hunting_api().await?;
        if api.is_graph() {
            return match self.graph_hunting(&body).await {
                Err(error) if api == HuntingApi::Graph && is_forbidden(&error) => {
                    tracing::info!(%error, "Microsoft Graph refused advanced hunting; using the legacy API from now on");
                    self.set_hunting_api(HuntingApi::LegacyGraphForbidden);
                    self.legacy_hunting(&body).await
                }
                result => result,
            };
        }
        match self.legacy_hunting(&body).await {
            // After Graph refused, a retired legacy API leaves nothing to switch to.
            Err(error) if is_retired(&error) && api != HuntingApi::LegacyGraphForbidden => {
                tracing::info!(%error, "the legacy advanced hunting API is retired; using Microsoft Graph from now on");
                self.set_hunting_api(HuntingApi::GraphLegacyRetired);
                self.graph_hunting(&body).await
            }
            result => result,
        }
    }

    /// The hunting API of this connection. The first call decides it from the Graph token's
    /// roles: with `ThreatHunting.Read.All` Graph, otherwise (or without a Graph token) the
    /// legacy API; the decision holds for the connection's life, except that a 403 from Graph
    /// moves it to the legacy API and a retired legacy API moves it to Graph. A transient
    /// failure to get the Graph token picks the legacy API for one query and decides later.
    pub async fn hunting_api(&self) -> Result<HuntingApi, MdeError> {
        if let Some(api) = HuntingApi::from_code(self.shared.hunting_api.load(Ordering::SeqCst)) {
            return Ok(api);
        }
        let fetched = self
            .shared
            .graph_token
            .get(
                &self.shared.http,
                &self.shared.credentials,
                &self.run.cancel,
                || {
                    self.report(Progress {
                        endpoint: EndpointKind::Token,
                        page: 0,
                        items_so_far: 0,
                        estimated_total: None,
                    });
                },
            )
            .await;
        let decided = match fetched {
            Ok(fetched) => {
                self.with_stats(|stats| stats.token_requests += u64::from(fetched.requested));
                if fetched.roles.iter().any(|role| role == GRAPH_HUNTING_ROLE) {
                    tracing::info!(
                        "the Microsoft Graph token holds {GRAPH_HUNTING_ROLE}; advanced hunting uses Microsoft Graph"
                    );
                    HuntingApi::Graph
                } else {
                    tracing::info!(
                        "the Microsoft Graph token lacks {GRAPH_HUNTING_ROLE}; advanced hunting uses the legacy API"
                    );
                    HuntingApi::LegacyWithoutGraphRole
                }
            }
            Err(MdeError::Cancelled) => return Err(MdeError::Cancelled),
            Err(error) if error.is_retryable() => {
                tracing::info!(%error, "no Microsoft Graph token for now; this hunting query uses the legacy API");
                return Ok(HuntingApi::LegacyWithoutGraphToken);
            }
            Err(error) => {
                tracing::info!(%error, "no Microsoft Graph token; advanced hunting uses the legacy API");
                HuntingApi::LegacyWithoutGraphToken
            }
        };
        // Concurrent first queries decide alike; a switch made meanwhile wins.
        let _ = self.shared.hunting_api.compare_exchange(
            UNDECIDED,
            decided.code(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        Ok(
            HuntingApi::from_code(self.shared.hunting_api.load(Ordering::SeqCst))
                .unwrap_or(decided),
        )
    }

    fn set_hunting_api(&self, api: HuntingApi) {
        self.shared.hunting_api.store(api.code(), Ordering::SeqCst);
    }

    /// Legacy `POST /api/advancedqueries/run` with a Defender token.
    async fn legacy_hunting(&self, body: &Value) -> Result<Vec<HuntingRow>, MdeError> {
        let url = format!(
            "{}/api/advancedqueries/run",
            self.shared.endpoints.api_base.trim_end_matches('/')
        );
        let call = Call {
            endpoint: Endpoint::Hunting,
            method: Method::POST,
            url: &url,
            body: Some(body),
            audience: Audience::Defender,
        };
        let answer = self.send::<WireHuntingAnswer>(&call).await?;
        Ok(self.rows(answer))
    }

    /// Graph `POST /v1.0/security/runHuntingQuery` with a Graph token.
    async fn graph_hunting(&self, body: &Value) -> Result<Vec<HuntingRow>, MdeError> {
        let url = format!(
            "{}/v1.0/security/runHuntingQuery",
            self.shared.endpoints.graph_base.trim_end_matches('/')
        );
        let call = Call {
            endpoint: Endpoint::GraphHunting,
            method: Method::POST,
            url: &url,
            body: Some(body),
            audience: Audience::Graph,
        };
        let answer = self.send::<WireHuntingAnswer>(&call).await?;
        Ok(self.rows(answer))
    }

    /// The rows of an answer that are objects; the others are counted as skipped records.
    fn rows(&self, answer: WireHuntingAnswer) -> Vec<HuntingRow> {
        let mut skipped = 0u64;
        let rows = answer
            .results
            .into_iter()
            .filter_map(|row| match row {
                Value::Object(map) => Some(HuntingRow(map)),
                _ => {
                    skipped += 1;
                    None
                }
            })
            .collect();
        if skipped > 0 {
            tracing::warn!(skipped, "left out hunting rows that are not objects");
            self.with_stats(|stats| stats.skipped_records += skipped);
        }
        rows
    }

    /// Whether hunting goes to Microsoft Graph, as decided so far (`false` before the first
    /// query).
    pub fn uses_graph_hunting(&self) -> bool {
        HuntingApi::from_code(self.shared.hunting_api.load(Ordering::SeqCst))
            .is_some_and(HuntingApi::is_graph)
    }

    /// Every `DeviceNetworkInfo` report in `[from, to)`: one row per adapter per report.
    pub async fn network_history(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<NetworkObservation>, MdeError> {
        let query = |start: &str, end: &str| {
            format!(
                "DeviceNetworkInfo\n| where Timestamp >= {start} and Timestamp < {end}\n| project Timestamp, DeviceId, NetworkAdapterName, MacAddress, IPAddresses"
            )
        };
        let mut lossy = Lossy::default();
        let mut shared = Shared::default();
        let mut skipped = 0u64;
        let mut observations: Vec<NetworkObservation> = Vec::new();
        // Each window's rows become typed observations as they arrive: the raw JSON maps
        // (several times larger) never pile up over the whole history.
        self.chunked(
            EndpointKind::NetworkHistory,
            from,
            to,
            NETWORK_ROWS_PER_DEVICE_DAY,
            &query,
            &mut |rows| {
                for row in rows {
                    match network_observation(&row, &mut shared, &mut lossy) {
                        Some(observation) => observations.push(observation),
                        None => skipped += 1,
                    }
                }
            },
        )
        .await?;
        self.with_stats(|stats| {
            stats.unparsable_values += lossy.unparsable;
            stats.skipped_records += skipped;
        });
        Ok(observations)
    }

    /// The latest successful sign-in per device and account in `[from, to)`, from
    /// `DeviceLogonEvents` (accounts keep their domain and SID: `administrator` on two hosts
    /// is two accounts).
    pub async fn logons(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LogonObservation>, MdeError> {
        let query = |start: &str, end: &str| {
            format!(
                "DeviceLogonEvents\n| where Timestamp >= {start} and Timestamp < {end}\n| where ActionType == \"LogonSuccess\"\n| summarize arg_max(Timestamp, *) by DeviceId, AccountDomain, AccountName\n| project Timestamp, DeviceId, AccountDomain, AccountName, AccountSid, LogonType, IsLocalAdmin"
            )
        };
        let mut lossy = Lossy::default();
        let mut skipped = 0u64;
        // The same account appears in every window it signed in; keep its latest sign-in.
        let mut latest: HashMap<(String, String, String), LogonObservation> = HashMap::new();
        let mut order: Vec<(String, String, String)> = Vec::new();
        self.chunked(
            EndpointKind::Logons,
            from,
            to,
            LOGON_ROWS_PER_DEVICE_DAY,
            &query,
            &mut |rows| {
                for row in rows {
                    let Some(observation) = logon_observation(&row, &mut lossy) else {
                        skipped += 1;
                        continue;
                    };
                    let key = (
                        observation.device_id.clone(),
                        observation
                            .account_domain
                            .clone()
                            .unwrap_or_default()
                            .to_lowercase(),
                        observation.account_name.to_lowercase(),
                    );
                    match latest.get_mut(&key) {
                        Some(known) if known.timestamp >= observation.timestamp => {}
                        Some(known) => *known = observation,
                        None => {
                            order.push(key.clone());
                            latest.insert(key, observation);
                        }
                    }
                }
            },
        )
        .await?;
        self.with_stats(|stats| {
            stats.unparsable_values += lossy.unparsable;
            stats.skipped_records += skipped;
        });
        Ok(order
            .into_iter()
            .filter_map(|key| latest.remove(&key))
            .collect())
    }

    /// Runs `query(start, end)` over `[from, to)` in time windows (see the module docs),
    /// handing each window's rows to `on_rows` in time order.
    async fn chunked(
        &self,
        kind: EndpointKind,
        from: Timestamp,
        to: Timestamp,
        rows_per_device_day: f64,
        query: &(dyn Fn(&str, &str) -> String + Sync),
        on_rows: &mut (dyn FnMut(Vec<HuntingRow>) + Send),
    ) -> Result<(), MdeError> {
        let (from, to) = (to_ticks(from), to_ticks(to));
        if from >= to {
            return Ok(());
        }
        let mut rows_so_far = 0u64;
        let high_water = self.shared.options.hunting_high_water.max(1);
        let devices = match self.shared.device_count_hint.load(Ordering::SeqCst) {
            0 => DEFAULT_DEVICE_COUNT,
            known => known,
        };
        let span = to - from;
        // Not `clamp`: it panics when the span is shorter than the smallest window.
        let mut window = initial_window(devices, rows_per_device_day, high_water)
            .max(MIN_WINDOW)
            .min(span);
        let mut start = from;
        let mut n_chunks = 0u32;
        while start < to {
            let end = (start + window).min(to);
            let width = end - start;
            let answer = match self
                .hunting(&query(&kql_datetime(start), &kql_datetime(end)))
                .await
            {
                Ok(answer) => answer,
                Err(error) if is_too_big(&error) && width > MIN_WINDOW => {
                    window = (width / 2).max(MIN_WINDOW);
                    tracing::debug!(%error, window_s = window.num_seconds(), "hunting window too heavy; halving it");
                    continue;
                }
                Err(error) => return Err(error),
            };
            if answer.len() >= high_water && width > MIN_WINDOW {
                window = (width / 2).max(MIN_WINDOW);
                tracing::debug!(
                    rows = answer.len(),
                    window_s = window.num_seconds(),
                    "hunting window too full; halving it"
                );
                continue;
            }
            if answer.len() >= high_water {
                tracing::warn!(
                    rows = answer.len(),
                    "a one-second hunting window is still at the high-water mark"
                );
            }
            if answer.len() < high_water / 4 {
                window = (window * 2).min(span);
            }
            rows_so_far += answer.len() as u64;
            on_rows(answer);
            start = end;
            n_chunks += 1;
            self.report(Progress {
                endpoint: kind,
                page: n_chunks,
                items_so_far: rows_so_far,
                estimated_total: None,
            });
        }
        Ok(())
    }
}

/// A window expected to return half the high-water mark.
pub(super) fn initial_window(
    devices: u64,
    rows_per_device_day: f64,
    high_water: usize,
) -> TimeDelta {
    let rows_per_second =
        (devices.max(1) as f64 * rows_per_device_day / 86_400.0).max(f64::MIN_POSITIVE);
    let seconds = (high_water as f64 / 2.0 / rows_per_second).min(i64::MAX as f64 / 2_000.0);
    TimeDelta::seconds(seconds as i64)
}

pub(super) fn network_observation(
    row: &HuntingRow,
    shared: &mut Shared,
    lossy: &mut Lossy,
) -> Option<NetworkObservation> {
    let timestamp = row.time("Timestamp")?;
    let device_id = shared.text(row.str("DeviceId")?);
    let addresses: Vec<ObservedAddress> = match row.json("IPAddresses") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| observed_address(item, lossy))
            .collect(),
        _ => Vec::new(),
    };
    Some(NetworkObservation {
        timestamp,
        device_id,
        adapter_name: row.str("NetworkAdapterName").map(|name| shared.text(name)),
        mac: lossy.mac(row.str("MacAddress")),
        addresses: shared.addresses(&addresses),
    })
}

/// One shared copy of each repeated value of a history (device ids, adapter names, address
/// lists): a device reports the same few values about 150 times in 30 days.
#[derive(Default)]
pub(super) struct Shared {
    texts: Interner<str>,
    address_lists: Interner<[ObservedAddress]>,
}

impl Shared {
    fn text(&mut self, text: &str) -> Arc<str> {
        self.texts.get(text)
    }

    fn addresses(&mut self, addresses: &[ObservedAddress]) -> Arc<[ObservedAddress]> {
        self.address_lists.get(addresses)
    }
}

/// `{"IPAddress":"10.1.2.3","SubnetPrefix":24,"AddressType":"Private"}`.
fn observed_address(item: &Value, lossy: &mut Lossy) -> Option<ObservedAddress> {
    let text = item.get("IPAddress").and_then(Value::as_str)?;
    let Some(ip) = parse_ip(text) else {
        lossy.unparsable += 1;
        tracing::warn!(
            value = text,
            "left out a hunting IP address that does not parse"
        );
        return None;
    };
    let prefix = match item.get("SubnetPrefix") {
        Some(Value::Number(number)) => number.as_u64().and_then(|n| u8::try_from(n).ok()),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    };
    Some(ObservedAddress { ip, prefix })
}

pub(super) fn logon_observation(row: &HuntingRow, lossy: &mut Lossy) -> Option<LogonObservation> {
    let timestamp = match row.str("Timestamp") {
        Some(text) => {
            let parsed = parse_time(text);
            if parsed.is_none() {
                lossy.unparsable += 1;
            }
            parsed?
        }
        None => return None,
    };
    Some(LogonObservation {
        timestamp,
        device_id: row.str("DeviceId")?.to_owned(),
        account_domain: row.str("AccountDomain").map(str::to_owned),
        account_name: row.str("AccountName")?.to_owned(),
        account_sid: row.str("AccountSid").map(str::to_owned),
        logon_type: row.str("LogonType").map(str::to_owned),
        is_local_admin: row.bool("IsLocalAdmin"),
    })
}
