//! The Defender for Endpoint client: the endpoints the sync reads, returned as `model` types.
//!
//! Terms:
//! - *connection client*: [`MdeClient::new`]. It owns what everything that talks to one tenant
//!   shares: the cached tokens (one per audience, see `token`), the rate budgets (`budget`) and
//!   whether hunting moved to Graph. Clones share all of it.
//! - *run*: [`MdeClient::with_cancel`] — the same connection with its own cancellation token
//!   and its own counters ([`CallStats`]: calls per endpoint, throttling and backoff waits,
//!   token requests), which the sync copies into its run record ([`MdeClient::call_counts`],
//!   [`MdeClient::throttled_time`]).
//! - *listing*: a paged list endpoint read to its end ([`Listing`]); `complete` says whether
//!   every item was seen (see `paging`), the condition for deactivating what was not.
//! - *progress*: the callback given to [`MdeClient::with_progress`], called when a token is
//!   requested and after every page or hunting window, with what is being fetched
//!   ([`EndpointKind`]).
//!
//! Every await that can wait — the rate budget, a token, a request, a body, a backoff or a
//! `Retry-After` — also waits on the run's cancellation token and returns
//! [`MdeError::Cancelled`] as soon as it fires.
//!
//! Invariants: wire types (`wire`) never leave this module; no SQL here; hosts come from
//! [`Endpoints`]; tokens and the secret never reach `Debug`, logs or errors.

mod budget;
mod error;
// Entry points of the fuzz targets and property tests to decoders private to this module.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hunting;
mod paging;
mod token;
mod transport;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::config::{Credential, Endpoints};
use crate::model::{
    Alert, DataKind, Device, DeviceVulnerability, LogonObservation, Timestamp, VulnerabilityChange,
};

pub use budget::{Budgets, Limit};
pub use error::MdeError;
pub use hunting::{GRAPH_HUNTING_ROLE, HuntingApi, HuntingRow};
pub use transport::{CallStats, Endpoint, EndpointStats, Family};

use budget::Budget;
use paging::ListSpec;
use token::{Audience, Credentials, TokenCache};
use transport::Call;
use wire::{Interner, Lossy, WireAlert, WireLogonUser, WireMachine, WireVulnerability, read_item};

/// What a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// A token is being requested from Entra ID.
    Token,
    Machines,
    Alerts,
    /// `DeviceNetworkInfo` history (advanced hunting).
    NetworkHistory,
    /// `DeviceLogonEvents` (advanced hunting).
    Logons,
    /// The vulnerability exports (full or changes).
    Vulnerabilities,
}

/// Where a paged or chunked call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub endpoint: EndpointKind,
    /// Pages (or hunting windows) read so far, 1-based.
    pub page: u32,
    pub items_so_far: u64,
    /// The service's total when it said one.
    pub estimated_total: Option<u64>,
}

/// The progress callback of [`MdeClient::with_progress`].
pub type OnProgress = Arc<dyn Fn(Progress) + Send + Sync>;

/// Why a call waits before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Defender answered 429 and asked for this wait (`Retry-After`).
    ServiceAsked,
    /// The client's own share of the rate limit is used up for the moment.
    OwnBudget,
}

/// A wait long enough for a person to notice (at least [`NOTICEABLE_WAIT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub reason: WaitReason,
    pub duration: std::time::Duration,
}

/// Shorter waits are not reported: they would only make a progress display flicker.
pub const NOTICEABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The wait callback of [`MdeClient::with_waits`].
pub type OnWait = Arc<dyn Fn(Wait) + Send + Sync>;

/// A paged list read to its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    /// Unique by id, in the order first seen.
    pub items: Vec<T>,
    /// Every item the filter matched was seen: the sync may treat absent items as gone.
    pub complete: bool,
    pub pages: u32,
    /// Items seen more than once (the service's order moved between pages).
    pub duplicates: u64,
    /// Items that could not be read (a field of the wrong type, no id) and were left out.
    pub skipped: u64,
}

/// Which devices to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only devices whose last full report is at or after this time (incremental sync).
    pub last_seen_since: Option<Timestamp>,
}

impl From<Option<Timestamp>> for DeviceFilter {
    fn from(last_seen_since: Option<Timestamp>) -> Self {
        DeviceFilter { last_seen_since }
    }
}

/// Retry rules (see `transport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of transient failures (5xx, resets, timeouts, cut-off answers) per call.
    pub max_retries: usize,
    /// First backoff delay; doubled per retry, with jitter.
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// 429s waited out per call before giving up with [`MdeError::Throttled`].
    pub max_throttle_waits: u32,
    /// A `Retry-After` longer than this is not waited out: the call fails with
    /// [`MdeError::Throttled`] and the sync can reschedule (the hourly quota can ask for most of
    /// an hour).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_throttle_waits: 20,
            max_retry_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Per-request time limits by endpoint family (a whole request: connect, wait, body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// A page of 10,000 devices is tens of megabytes.
    pub list: Duration,
    /// Queries stop after 200 s (docs/defender-api.md#advanced-hunting); a little more here.
    pub hunting: Duration,
    /// Export pages hold 50,000 records of about 1 KB.
    pub export: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            list: Duration::from_secs(120),
            hunting: Duration::from_secs(230),
            export: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    fn of(&self, family: Family) -> Duration {
        match family {
            Family::List => self.list,
            Family::Hunting => self.hunting,
            Family::Export => self.export,
        }
    }
}

/// How the client behaves; the defaults are Defender's documented limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// `$top` of the list endpoints; at most [`MAX_PAGE_SIZE`] is sent.
    pub page_size: usize,
    /// Sends `$top`. Without it the service pages by its own size (10,000), which must then
    /// equal `page_size`; only useful to reproduce the 2022 nextLink behaviour.
    pub send_top: bool,
    /// Passes over a list whose order moved before it is reported incomplete.
    pub listing_passes: u32,
    /// Pages per pass at most (a guard against links that loop).
    pub max_pages: u32,
    /// Pages of one export at most: each `$skiptoken` is new, so only a count stops an export
    /// whose links never end. 10,000 pages of the default 50,000 rows is 500 million rows,
    /// thousands of times a 100,000-device tenant's.
    pub max_export_pages: u32,
    /// `pageSize` of the vulnerability exports; `None` = the service's default (50,000).
    pub export_page_size: Option<usize>,
    pub budgets: Budgets,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
    /// A hunting answer with this many rows is too close to the 100,000-row cap: its window is
    /// halved and asked again.
    pub hunting_high_water: usize,
    /// The largest answer body read, in bytes; a larger one fails its call (and so its stage)
    /// instead of growing memory without bound. The default, 1 GiB, is five times the largest
    /// documented answer: a vulnerability export page of 200,000 records of about 1 KB
    /// (docs/defender-api.md#vulnerability-exports).
    pub max_answer_bytes: u64,
    /// Unit tests only: a call to this endpoint panics, as a bug in the client would.
    #[cfg(test)]
    pub panic_on: Option<Endpoint>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            page_size: 10_000,
            send_top: true,
            listing_passes: 3,
            max_pages: 10_000,
            max_export_pages: 10_000,
            export_page_size: None,
            budgets: Budgets::default(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            hunting_high_water: 80_000,
            max_answer_bytes: 1 << 30,
            #[cfg(test)]
            panic_on: None,
        }
    }
}

/// State shared by every run of one connection.
struct Shared {
    http: reqwest::Client,
    endpoints: Endpoints,
    credentials: Credentials,
    options: ClientOptions,
    defender_token: TokenCache,
    graph_token: TokenCache,
    list_budget: Budget,
    hunting_budget: Budget,
    export_budget: Budget,
    /// Which hunting API queries go to: a [`hunting::HuntingApi`] state, decided on the first
    /// query (docs in `hunting.rs`).
    hunting_api: AtomicU8,
    /// Devices of the latest device listing, to size hunting windows.
    device_count_hint: AtomicU64,
}

/// State of one run.
#[derive(Default)]
struct Run {
    cancel: CancellationToken,
    progress: Option<OnProgress>,
    waits: Option<OnWait>,
    stats: Mutex<CallStats>,
}

/// The Defender client of one connection (cheap to clone; clones share everything).
#[derive(Clone)]
pub struct MdeClient {
    shared: Arc<Shared>,
    run: Arc<Run>,
}

impl std::fmt::Debug for MdeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdeClient")
            .field("api_base", &self.shared.endpoints.api_base)
            .field("credentials", &self.shared.credentials)
            .finish_non_exhaustive()
    }
}

/// The largest `$top` of /api/machines and /api/alerts (docs/defender-api.md#paging). A larger
/// page size would make the service answer pages shorter than asked, which the client would
/// take for the last page.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// The 14-day reach of `SoftwareVulnerabilityChangesByMachine`
/// (docs/defender-api.md#vulnerability-exports).
const DELTA_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(14);

impl MdeClient {
    /// A client for one connection over `http` (built by [`crate::http::client`]: timeouts,
    /// user agent, no redirects). Nothing is sent until the first call.
    pub fn new(
        http: reqwest::Client,
        endpoints: Endpoints,
        tenant_id: &str,
        client_id: &str,
        secret: SecretString,
        options: ClientOptions,
    ) -> MdeClient {
        MdeClient::with_credential(
            http,
            endpoints,
            tenant_id,
            client_id,
            Credential::Secret(secret),
            options,
        )
    }

    /// [`MdeClient::new`] for a connection that signs in with a secret or a certificate.
    pub fn with_credential(
        http: reqwest::Client,
        endpoints: Endpoints,
        tenant_id: &str,
        client_id: &str,
        credential: Credential,
        options: ClientOptions,
    ) -> MdeClient {
        MdeClient {
            shared: Arc::new(Shared {
                http,
                defender_token: TokenCache::new(&endpoints, Audience::Defender),
                graph_token: TokenCache::new(&endpoints, Audience::Graph),
                list_budget: Budget::new(&options.budgets.list),
                hunting_budget: Budget::new(&options.budgets.hunting),
                export_budget: Budget::new(&options.budgets.export),
                endpoints,
                credentials: Credentials {
                    tenant_id: tenant_id.trim().to_owned(),
                    client_id: client_id.trim().to_owned(),
                    credential,
                },
                options,
                hunting_api: AtomicU8::new(hunting::UNDECIDED),
                device_count_hint: AtomicU64::new(0),
            }),
            run: Arc::new(Run::default()),
        }
    }

    /// Starts a run: the same connection (tokens, budgets, hunting API) with `cancel` stopping
    /// its calls, and fresh counters. The callbacks carry over.
    pub fn with_cancel(self, cancel: CancellationToken) -> MdeClient {
        let run = Run {
            cancel,
            progress: self.run.progress.clone(),
            waits: self.run.waits.clone(),
            stats: Mutex::default(),
        };
        MdeClient {
            shared: self.shared,
            run: Arc::new(run),
        }
    }

    /// Reports progress to `progress` (see [`Progress`]); the counters start afresh.
    pub fn with_progress(self, progress: OnProgress) -> MdeClient {
        let run = Run {
            cancel: self.run.cancel.clone(),
            progress: Some(progress),
            waits: self.run.waits.clone(),
            stats: Mutex::default(),
        };
        MdeClient {
            shared: self.shared,
            run: Arc::new(run),
        }
    }

    /// Reports noticeable waits for the rate limit to `waits` (see [`Wait`]); the counters
    /// start afresh.
    pub fn with_waits(self, waits: OnWait) -> MdeClient {
        let run = Run {
            cancel: self.run.cancel.clone(),
            progress: self.run.progress.clone(),
            waits: Some(waits),
            stats: Mutex::default(),
        };
        MdeClient {
            shared: self.shared,
            run: Arc::new(run),
        }
    }

    fn report(&self, progress: Progress) {
        if let Some(callback) = &self.run.progress {
            callback(progress);
        }
    }

    fn report_wait(&self, reason: WaitReason, duration: std::time::Duration) {
        if duration >= NOTICEABLE_WAIT
            && let Some(callback) = &self.run.waits
        {
            callback(Wait { reason, duration });
        }
    }

    /// The token that cancels this run's calls.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.run.cancel
    }

    /// The run's counters so far.
    pub fn stats(&self) -> CallStats {
        self.run
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// API calls of the run per endpoint (`machines`, `advanced_hunting`, …, and `token` for
    /// Entra ID), for the run record.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        let stats = self.stats();
        let mut counts: BTreeMap<String, u64> = stats
            .endpoints
            .iter()
            .map(|(endpoint, calls)| (endpoint.name().to_owned(), calls.calls))
            .collect();
        if stats.token_requests > 0 {
            counts.insert("token".to_owned(), stats.token_requests);
        }
        counts
    }

    /// Time the run spent waiting on throttling: the local rate budget and Defender's 429s.
    pub fn throttled_time(&self) -> Duration {
        self.stats().throttle_wait()
    }

    /// Tells the hunting queries how many devices the tenant has (a device listing does so by
    /// itself).
    pub fn set_device_count_hint(&self, n_devices: u64) {
        self.shared
            .device_count_hint
            .store(n_devices, Ordering::SeqCst);
    }

    fn token_cache(&self, audience: Audience) -> &TokenCache {
        match audience {
            Audience::Defender => &self.shared.defender_token,
            Audience::Graph => &self.shared.graph_token,
        }
    }

    fn budget(&self, family: Family) -> &Budget {
        match family {
            Family::List => &self.shared.list_budget,
            Family::Hunting => &self.shared.hunting_budget,
            Family::Export => &self.shared.export_budget,
        }
    }

    fn api(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.shared.endpoints.api_base.trim_end_matches('/')
        )
    }

    /// Adds what a conversion left out to the counters.
    fn note_lossy(&self, lossy: &Lossy, skipped: u64) {
        self.with_stats(|stats| {
            stats.unparsable_values += lossy.unparsable;
            stats.skipped_records += skipped;
        });
    }

    /// `GET /api/machines`, every page. The incremental filter is `lastSeen ge <time>`;
    /// `list_devices(None)` lists all.
    pub async fn list_devices(
        &self,
        filter: impl Into<DeviceFilter>,
    ) -> Result<Listing<Device>, MdeError> {
        let filter: DeviceFilter = filter.into();
        let spec = ListSpec {
            endpoint: Endpoint::Machines,
            kind: EndpointKind::Machines,
            path: "/api/machines",
            filter: filter
                .last_seen_since
                .map(|since| format!("lastSeen ge {}", odata_time(since))),
        };
        let mut lossy = Lossy::default();
        let raw = self
            .list_all(&spec, &mut |item| {
                read_item::<WireMachine>(item).and_then(|wire| wire.into_device(&mut lossy))
            })
            .await?;
        self.note_lossy(&lossy, raw.skipped);
        if filter.last_seen_since.is_none() {
            self.set_device_count_hint(raw.items.len() as u64);
        }
        Ok(Listing {
            items: raw.items,
            complete: raw.complete && raw.skipped == 0,
            pages: raw.pages,
            duplicates: raw.duplicates,
            skipped: raw.skipped,
        })
    }

    /// `GET /api/alerts`, every page; with `updated_since`, `lastUpdateTime ge <time>`.
    pub async fn list_alerts(
        &self,
        updated_since: Option<Timestamp>,
    ) -> Result<Listing<Alert>, MdeError> {
        let spec = ListSpec {
            endpoint: Endpoint::Alerts,
            kind: EndpointKind::Alerts,
            path: "/api/alerts",
            filter: updated_since.map(|since| format!("lastUpdateTime ge {}", odata_time(since))),
        };
        let mut lossy = Lossy::default();
        let raw = self
            .list_all(&spec, &mut |item| {
                read_item::<WireAlert>(item).and_then(|wire| wire.into_alert(&mut lossy))
            })
            .await?;
        self.note_lossy(&lossy, raw.skipped);
        Ok(Listing {
            items: raw.items,
            complete: raw.complete && raw.skipped == 0,
            pages: raw.pages,
            duplicates: raw.duplicates,
            skipped: raw.skipped,
        })
    }

    /// `GET /api/machines/{id}/logonusers`: the accounts seen on one device (for when a person
    /// opens it; the sync uses [`MdeClient::logons`] in bulk).
    pub async fn logon_users(&self, device_id: &str) -> Result<Vec<LogonObservation>, MdeError> {
        let segment: String = url::form_urlencoded::byte_serialize(device_id.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let url = self.api(&format!("/api/machines/{segment}/logonusers"));
        let page = self
            .send::<wire::Page>(&Call::get(Endpoint::LogonUsers, &url))
            .await?;
        let mut lossy = Lossy::default();
        let mut skipped = 0u64;
        let users = page
            .value
            .into_iter()
            .filter_map(|item| {
                let user = read_item::<WireLogonUser>(&item)
                    .and_then(|wire| wire.into_observation(device_id, &mut lossy));
                skipped += u64::from(user.is_none());
                user
            })
            .collect();
        self.note_lossy(&lossy, skipped);
        Ok(users)
    }

    /// `GET /api/machines/findbyip(ip='…',timestamp=…)`: devices that had `ip` within 15
    /// minutes of `at` (at most 30 days back).
    pub async fn find_by_ip(&self, ip: IpAddr, at: Timestamp) -> Result<Vec<Device>, MdeError> {
        let url = self.api(&format!(
            "/api/machines/findbyip(ip='{ip}',timestamp={})",
            at.format("%Y-%m-%dT%H:%M:%SZ")
        ));
        let page = self
            .send::<wire::Page>(&Call::get(Endpoint::FindByIp, &url))
            .await?;
        Ok(self.devices_of(page.value))
    }

    fn devices_of(&self, items: Vec<Box<RawValue>>) -> Vec<Device> {
        let mut lossy = Lossy::default();
        let mut skipped = 0u64;
        let devices = items
            .into_iter()
            .filter_map(|item| {
                let device =
                    read_item::<WireMachine>(&item).and_then(|wire| wire.into_device(&mut lossy));
                skipped += u64::from(device.is_none());
                device
            })
            .collect();
        self.note_lossy(&lossy, skipped);
        devices
    }

    fn export_url(&self, path: &str, mut params: Vec<String>) -> String {
        if let Some(page_size) = self.shared.options.export_page_size {
            params.push(format!("pageSize={page_size}"));
        }
        let url = self.api(path);
        if params.is_empty() {
            url
        } else {
            format!("{url}?{}", params.join("&"))
        }
    }

    /// The smallest call that says whether `data` can be read (for Test connection): one item
    /// or row, so a missing permission (403) or a data type the tenant or cloud does not offer
    /// (404) shows without a sync. Hunting goes the way the sync's does (legacy API, else Graph).
    pub async fn sample(&self, data: DataKind) -> Result<(), MdeError> {
        let (endpoint, path) = match data {
            DataKind::IpHistory => {
                return self.hunting("DeviceNetworkInfo | take 1").await.map(drop);
            }
            DataKind::LoggedOnUsers => {
                return self.hunting("DeviceLogonEvents | take 1").await.map(drop);
            }
            DataKind::Alerts => (Endpoint::Alerts, "/api/alerts?$top=1"),
            DataKind::Vulnerabilities => (
                Endpoint::VulnerabilityExport,
                "/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=1",
            ),
        };
        let url = self.api(path);
        self.send::<wire::Page>(&Call::get(endpoint, &url))
            .await
            .map(drop)
    }

    /// `GET /api/machines/SoftwareVulnerabilitiesByMachine`: every vulnerable software version
    /// on every device, following the `$skiptoken` links to the end.
    pub async fn vulnerabilities_full(&self) -> Result<Vec<DeviceVulnerability>, MdeError> {
        Ok(self.vulnerability_export().await?.items)
    }

    /// The same export with what the sync needs to trust it: `complete` is false when a row
    /// could not be read, so the links it would have held must not be taken for fixed.
    pub async fn vulnerability_export(&self) -> Result<Listing<DeviceVulnerability>, MdeError> {
        let url = self.export_url("/api/machines/SoftwareVulnerabilitiesByMachine", Vec::new());
        let mut lossy = Lossy::default();
        let mut texts = Interner::default();
        let mut skipped = 0u64;
        let mut seen = std::collections::HashSet::new();
        let (mut pages, mut duplicates) = (0u32, 0u64);
        let mut vulnerabilities = Vec::new();
        self.export_all(Endpoint::VulnerabilityExport, &url, |items| {
            pages += 1;
            for item in items {
                let Some(wire) = read_item::<WireVulnerability>(&item) else {
                    skipped += 1;
                    continue;
                };
                if !seen.insert(wire.key()) {
                    duplicates += 1;
                    continue;
                }
                match wire.into_vulnerability(&mut texts, &mut lossy) {
                    Some(vulnerability) => vulnerabilities.push(vulnerability),
                    None => skipped += 1,
                }
            }
        })
        .await?;
        self.note_lossy(&lossy, skipped);
        Ok(Listing {
            items: vulnerabilities,
            complete: skipped == 0,
            pages,
            duplicates,
            skipped,
        })
    }

    /// `GET /api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime=…`: what was found,
    /// fixed or rescored since `since`. [`MdeError::DeltaWindowExceeded`] when `since` is older
    /// than the feed's 14 days.
    pub async fn vulnerability_changes(
        &self,
        since: Timestamp,
    ) -> Result<Vec<VulnerabilityChange>, MdeError> {
        if since < chrono::Utc::now() - DELTA_WINDOW {
            return Err(MdeError::DeltaWindowExceeded);
        }
        let since_param: String =
            url::form_urlencoded::byte_serialize(odata_time(since).as_bytes()).collect();
        let url = self.export_url(
            "/api/machines/SoftwareVulnerabilityChangesByMachine",
            vec![format!("sinceTime={since_param}")],
        );
        let mut lossy = Lossy::default();
        let mut texts = Interner::default();
        let mut skipped = 0u64;
        let mut changes = Vec::new();
        let result = self
            .export_all(Endpoint::VulnerabilityChanges, &url, |items| {
                for item in items {
                    let change = read_item::<WireVulnerability>(&item)
                        .and_then(|wire| wire.into_change(&mut texts, &mut lossy));
                    match change {
                        Some(change) => changes.push(change),
                        None => skipped += 1,
                    }
                }
            })
            .await;
        match result {
            Ok(()) => {}
            Err(MdeError::Api {
                status: 400,
                message,
                ..
            }) if is_delta_window_message(&message) => return Err(MdeError::DeltaWindowExceeded),
            Err(error) => return Err(error),
        }
        self.note_lossy(&lossy, skipped);
        Ok(changes)
    }
}

/// A 400 about `sinceTime` being too old (the service's words are not documented; the
/// simulator says "sinceTime must be within the last 14 days").
fn is_delta_window_message(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("sincetime") && (lower.contains("days") || lower.contains("window"))
}

/// OData's datetime literal: ISO 8601 UTC with `Z`, whole seconds (rounded down, so a `ge`
/// filter never misses an item), unquoted (a quoted datetime is a type error; see
/// docs/defender-api.md#odata-queries).
pub(crate) fn odata_time(time: Timestamp) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
