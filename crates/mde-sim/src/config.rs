//! How a simulator is set up: tenant size and seed, registered apps, paging mode, limits and quirks.

use chrono::{DateTime, Utc};

use crate::faults::{EndpointFailure, ExportRows, FutureDated, Portion};

/// The read roles of the WindowsDefenderATP API the default app holds, plus Graph's
/// `ThreatHunting.Read.All` for `POST /v1.0/security/runHuntingQuery`.
pub const DEFAULT_ROLES: &[&str] = &[
    "Machine.Read.All",
    "Alert.Read.All",
    "AdvancedQuery.Read.All",
    "User.Read.All",
    "Vulnerability.Read.All",
    "ThreatHunting.Read.All",
];

/// How `GET /api/machines` and `GET /api/alerts` page (docs/defender-api.md#paging).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PagingMode {
    /// As observed today: never an `@odata.nextLink`; `$top` is the page size (≤ 10,000) and the
    /// client pages with `$skip` until a short page. Without `$top` a call returns the first
    /// 10,000 items.
    #[default]
    SkipOnly,
    /// A well-behaved `@odata.nextLink` carrying every query key and the next `$skip`, whenever
    /// more items exist (with or without `$top`).
    GraphLike,
    /// The broken 2022 behaviour (docs/defender-api.md#paging), only without `$top`:
    /// the first page links correctly to `$skip=10000`, but every followed page links with its
    /// query keys dropped (`?=<filter>&=10000&$skip=10000`) and `$skip` one page again, so a
    /// client that follows links blindly loops on page two for ever.
    Buggy2022,
}

impl PagingMode {
    /// Parses the CLI spelling: `skip-only`, `graph-like` or `buggy-2022`.
    pub fn parse(text: &str) -> Option<PagingMode> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "skip-only" | "skiponly" | "skip" => Some(PagingMode::SkipOnly),
            "graph-like" | "graphlike" | "nextlink" | "graph" => Some(PagingMode::GraphLike),
            "buggy-2022" | "buggy2022" | "buggy" | "nextlink-buggy-2022" => {
                Some(PagingMode::Buggy2022)
            }
            _ => None,
        }
    }
}

/// Whether the simulated clock moves by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// Time stands still except through [`crate::SimClock::advance`]; the default for tests.
    #[default]
    Frozen,
    /// Time follows the wall clock from the start time (plus any `advance`); the binary's default.
    Running,
}

/// An app registration (service principal) in the simulated tenant.
#[derive(Debug, Clone, Default)]
pub struct AppRegistration {
    pub client_id: String,
    pub secret: String,
    /// The secret's end date has passed: the token endpoint answers AADSTS7000222.
    pub secret_expired: bool,
    /// Application roles granted (and consented) to the app; they end up in the token's `roles`.
    pub roles: Vec<String>,
    pub display_name: String,
}

/// Calls allowed per sliding window, for one (app, endpoint) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimit {
    pub per_minute: u32,
    pub per_hour: u32,
}

/// The documented limits (docs/defender-api.md#rate-limits). Tests may lower them to reach
/// them with few calls.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// `GET /api/machines`, `/api/machines/{id}`, `/logonusers`, `findbyip`, `/api/alerts`, …
    pub list: CallLimit,
    /// `GET /api/machines/{id}/vulnerabilities`.
    pub machine_vulnerabilities: CallLimit,
    /// `SoftwareVulnerabilitiesByMachine` and `SoftwareVulnerabilityChangesByMachine`.
    pub export: CallLimit,
    /// `POST /api/advancedqueries/run` and Graph `runHuntingQuery`.
    pub hunting: CallLimit,
    /// Execution time the hunting endpoints may spend per hour (documented: 10 minutes).
    pub hunting_execution_per_hour: std::time::Duration,
    /// Execution time the hunting endpoints may spend per day (documented: 3 hours).
    pub hunting_execution_per_day: std::time::Duration,
    /// Execution time charged for each hunting query on top of the measured time, so tests can
    /// reach the execution budget with few queries. Zero by default.
    pub hunting_cost_per_query: std::time::Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            list: CallLimit {
                per_minute: 100,
                per_hour: 1_500,
            },
            machine_vulnerabilities: CallLimit {
                per_minute: 50,
                per_hour: 1_500,
            },
            export: CallLimit {
                per_minute: 30,
                per_hour: 1_000,
            },
            hunting: CallLimit {
                per_minute: 45,
                per_hour: 1_500,
            },
            hunting_execution_per_hour: std::time::Duration::from_secs(600),
            hunting_execution_per_day: std::time::Duration::from_secs(3 * 3_600),
            hunting_cost_per_query: std::time::Duration::ZERO,
        }
    }
}

/// How the API words a 403 for a missing application role (two styles seen; see
/// docs/defender-api.md#permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForbiddenWording {
    /// The newer answer (seen in 2026), without `target`: `Missing
    /// application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All, application
    /// roles: Alert.Read.All.` (the roles the token holds come last).
    #[default]
    MissingRoles,
    /// The older answer (seen in 2021), with `target`: `The
    /// application does not have any of the required application permissions (Machine.Read.All,
    /// Machine.ReadWrite.All) to access the resource.`
    RequiredPermissions,
}

/// Documented oddities that can be switched off.
#[derive(Debug, Clone, PartialEq)]
pub struct Quirks {
    /// `GET /api/machines` answers 404 when no machine is listed (the doc says so; default off).
    pub empty_machine_list_404: bool,
    /// `$select` silently drops `onboardingStatus` (docs/defender-api.md#odata-queries).
    pub select_drops_onboarding_status: bool,
    /// The wording of a missing-role 403.
    pub forbidden_wording: ForbiddenWording,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            empty_machine_list_404: false,
            select_drops_onboarding_status: true,
            forbidden_wording: ForbiddenWording::default(),
        }
    }
}

/// Everything [`crate::Sim::start`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of devices to generate (duplicates included). Default 500; works at 200,000.
    pub devices: usize,
    /// Seed of every random choice: tenant, identity (tenant id, client id, secret), faults.
    pub seed: u64,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How much faster than real time the rate-limit windows run. `1.0` = real limits: a
    /// "per minute" window lasts 60 s. With `60.0` it lasts one real second and the hourly window
    /// one real minute; `Retry-After` is given in real seconds (rounded up, at least 1). Call
    /// counts are not scaled; lower them with [`SimConfig::limits`].
    pub rate_scale: f64,
    pub paging: PagingMode,
    /// Registered apps; the first is "the default app" (`Sim::client_id`). Empty = one
    /// deterministic app holding [`DEFAULT_ROLES`].
    pub apps: Vec<AppRegistration>,
    /// The simulated "now" at start; `None` = the wall clock, truncated to the second. All
    /// generated history (30 days back) is relative to it.
    pub start_time: Option<DateTime<Utc>>,
    pub clock: ClockMode,
    pub limits: RateLimits,
    /// Largest `$top` and default page size for machines, alerts and machinesVulnerabilities
    /// (10,000 in the real service). Lower it in tests to page small tenants.
    pub max_page_size: usize,
    /// Lifetime of issued access tokens (Entra default as documented: 3599 s).
    pub token_lifetime: std::time::Duration,
    pub quirks: Quirks,
    /// Endpoints that fail on every call from the start (see [`crate::Failure`]); change them
    /// later with [`crate::Faults::fail`] and [`crate::Faults::recover`].
    pub failures: Vec<EndpointFailure>,
    /// The machines listing shows only this part of the devices from the start (see
    /// [`crate::Faults::shrink_machines`]).
    pub shrink_machines: Option<Portion>,
    /// Damage to the vulnerability rows from the start (see [`ExportRows`] and
    /// [`crate::Faults::set_export_rows`]). None by default.
    pub export_rows: ExportRows,
    /// Records future-dated once the tenant is generated (see [`FutureDated`]).
    pub future_dated: Option<FutureDated>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            devices: 500,
            seed: 1,
            port: 0,
            rate_scale: 1.0,
            paging: PagingMode::SkipOnly,
            apps: Vec::new(),
            start_time: None,
            clock: ClockMode::Frozen,
            limits: RateLimits::default(),
            max_page_size: 10_000,
            token_lifetime: std::time::Duration::from_secs(3_599),
            quirks: Quirks::default(),
            failures: Vec::new(),
            shrink_machines: None,
            export_rows: ExportRows::default(),
            future_dated: None,
        }
    }
}
