//! A simulator of the Microsoft Defender for Endpoint (MDE) API and the Entra ID token
//! endpoint, for tests, benchmarks and the demo tenant. It behaves like the service described in
//! `docs/defender-api.md`, quirks included, and shares no Rust types with the client on purpose: a
//! serialization mistake cannot pass on both sides.
//!
//! # Running it
//!
//! - Library: [`Sim::start`] with a [`SimConfig`] binds `127.0.0.1:{port}` and returns a handle
//!   with the URLs ([`Sim::token_url`], [`Sim::api_base`]), the credentials (deterministic from
//!   the seed), the ground truth ([`Sim::truth`]), the clock ([`Sim::clock`],
//!   [`Sim::jump_clock`]), fault controls ([`Sim::faults`]) and the request log
//!   ([`Sim::requests`]).
//! - Binary: `mde-sim --devices N --seed S --port P [--rate-scale X] [--paging MODE]
//!   [--fault SPEC]… [--fail ENDPOINT=STATUS]… [--shrink-machines AMOUNT] [--export-omit F]
//!   [--export-malformed F] [--future-alerts AMOUNT] [--future-machines AMOUNT]
//!   [--future-by DURATION] [--clock-jump OFFSET[@AFTER]]… [--clock running|frozen]
//!   [--max-page-size N] [--churn-every SECS]` prints the tenant id, client id and secret;
//!   `--help` explains each flag, and a bad value is refused with the valid ones.
//!
//! # Endpoints
//!
//! Paths match case-insensitively; the API also answers under `/api/v1.0/…`; the
//! `@odata.context` and links echo the host and prefix the client used. OData answers carry
//! `Content-Type: application/json; odata.metadata=minimal; odata.streaming=true;
//! charset=utf-8` and `OData-Version: 4.0`. MDE errors are `{"error":{"code","message","target"}}`.
//!
//! | Endpoint | Role (any of) | Notes |
//! |---|---|---|
//! | `POST /{tenant}/oauth2/token` (v1), `/{tenant}/oauth2/v2.0/token` (v2) | — | client secret (form or HTTP Basic) or client assertion; tenant = GUID or `contoso-sim.onmicrosoft.com` |
//! | `GET /api/machines`, `/$count` | Machine.Read.All | `$filter`, `$top` ≤ max page, `$skip`, `$select`, `$orderby`, `$count=true`; paging per [`PagingMode`] |
//! | `GET /api/machines/{id or DNS name}` | Machine.Read.All | `#Machines/$entity` |
//! | `GET /api/machines/{id}/logonusers` | User.Read.All | 12 properties, second-precision times |
//! | `GET /api/machines/findbyip(ip='…',timestamp=…)` | Machine.Read.All | ±15 min around the time; ≤ 30 days back |
//! | `GET /api/machines/findbytag?tag=…&useStartsWithFilter=…` | Machine.Read.All | exact tag, or prefix; case-insensitive |
//! | `GET /api/machines/{id}/alerts` (+ `/$count`) | Alert.Read.All | |
//! | `GET /api/machines/{id}/vulnerabilities` | Vulnerability.Read.All | |
//! | `GET /api/alerts`, `/$count`, `/{id}`, `/{id}/machine` | Alert.Read.All (machine: Machine.Read.All) | `$expand=evidence`; evidence is `[]` without it |
//! | `GET /api/vulnerabilities` | Vulnerability.Read.All | `$top` ≤ 8,000 |
//! | `GET /api/vulnerabilities/machinesVulnerabilities` | Vulnerability.Read.All | nextLink paging; `$count=true` yields the observed `@odata.count: 0` |
//! | `GET /api/machines/SoftwareVulnerabilitiesByMachine` | Vulnerability.Read.All | `pageSize` (50,000, max 200,000), `$skiptoken` nextLink; `$top` = no link |
//! | `GET /api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime=` | Vulnerability.Read.All | `New`/`Fixed`/`Updated`, ≤ 14 days back |
//! | `POST /api/advancedqueries/run` `{"Query":…}` | AdvancedQuery.Read.All | `Stats`/`Schema`/`Results`; key case-sensitive; `Content-Type: application/json` or 415 |
//! | `POST /v1.0/security/runHuntingQuery` `{"Query":…}` | ThreatHunting.Read.All (Graph token) | `schema`/`results`; Graph error bodies |
//!
//! Tokens are v1.0-shaped JWTs (`aud`, `iss`, `roles`, `tid`, `appid`, `exp`, …). Accepted
//! resources: the WindowsDefenderATP identifiers of docs/defender-api.md#clouds-and-hosts
//! (commercial and gov, and the app id), Graph's, and the simulator's own URL
//! (`{url}/.default`), which works for both APIs.
//! `aud` echoes the resource asked for. Errors carry the AADSTS code in `error_codes` and at the
//! start of `error_description`: 90002 (unknown tenant, `invalid_tenant`), 900023 (malformed
//! tenant), 9001023 (`common`), 700016 (unknown client), 7000215 (wrong secret), 7000222
//! (expired secret), 7000218 (no credential), 900144 (missing field), 70003 (grant type), 70011 /
//! 700022 (scope), 500011 (unknown resource, `invalid_resource` on v1 and v2), 901002 (`resource`
//! on v2), 700027 (assertion), 90055 (tenant throttling, only as the `429@token` fault).
//! The API answers 401 `Unauthorized` with `WWW-Authenticate: Bearer` for a missing, bad or
//! expired token (or one whose `nbf` is more than five minutes ahead, after the clock jumped
//! back), 403 for a token of another audience, and 403 `Forbidden` naming the required
//! roles when the token lacks them, worded as in 2026 (`Missing application roles. API required
//! roles: …, application roles: …`) or, with [`ForbiddenWording::RequiredPermissions`], as in
//! 2021.
//!
//! # Quirks reproduced
//!
//! - No `@odata.nextLink` on machines/alerts by default ([`PagingMode::SkipOnly`]); with the
//!   broken 2022 links ([`PagingMode::Buggy2022`]) the first link is sound and the ones after it
//!   drop their query keys and loop on page two.
//! - `$select` drops `onboardingStatus` ([`Quirks::select_drops_onboarding_status`]); an empty
//!   machine list can answer 404 ([`Quirks::empty_machine_list_404`]).
//! - `rbacGroupId` is a number; `lastExternalIpAddress` is sometimes null; timestamps have up to 7
//!   fractional digits with trailing zeros trimmed; export timestamps are `YYYY-MM-DD HH:MM:SS`.
//! - REST MACs are 12 hex digits; hunting `MacAddress` is hyphenated; JSON-array hunting
//!   columns arrive as strings holding JSON; the REST alert `detectionSource` keeps the old
//!   names (`WindowsDefenderAtp`) while `AlertInfo` uses the new ones (`EDR`).
//! - Duplicates (`isPotentialDuplication`, `mergedIntoMachineId`), the local `administrator` on
//!   many machines, NAT-shared external IPs, home-network addresses held by many at once, and
//!   DHCP reuse of corporate addresses (one holder at a time, an hour of rest between holders).
//!
//! # Limits and `rate_scale`
//!
//! Sliding windows per (app, endpoint): 100/min and 1,500/h for machines, alerts and the
//! per-machine endpoints; 50/min for `/machines/{id}/vulnerabilities`; 30/min and 1,000/h for
//! the exports; 45/min and 1,500/h plus 10 minutes of execution per hour and 3 hours per day for
//! hunting ([`RateLimits`], lowerable in tests). A refusal is 429 with `Retry-After` and
//! `API calls quota exceeded! maximum allowed N per 00:01:00` (code `TooManyRequests`; hunting
//! uses the observed string code `"429"`). `rate_scale = X` makes the windows run X times faster
//! than real time (a minute lasts 60/X real seconds) and `Retry-After` is in real seconds, at
//! least 1; [`SimClock::advance`] moves the windows too ([`SimClock::jump`] does not). Hunting
//! results stop at 100,000 rows; a body over 124 MB is a 400.
//!
//! # Faults
//!
//! [`Faults`] holds rules `(kind, endpoint or all, probability, remaining count)`; the CLI form
//! is `KIND[@ENDPOINT][=HOW-OFTEN]` with the names of [`FaultKind`] (`500`, `503`, `reset`,
//! `truncate`, `slow`, `token-expired`, `shuffle`, `404`, `retired`, `429`, `preempted`,
//! `too-large`, `empty-page`) and of [`Endpoint`] (`machines`, `machine`, `logonusers`,
//! `findbyip`, `alerts`, `export`, `advanced-queries`, …); HOW-OFTEN is a probability, `always`
//! (the default), `once` or `Nx`. `preempted` and `too-large` are the hunting APIs' 400s for a
//! heavy query and an oversized result; `429` on the token endpoint (only when aimed at it) is
//! Entra's AADSTS90055; `empty-page` empties the first page of machines or alerts.
//! [`Faults::expire_tokens`] makes every token issued so far expire at once.
//! [`Faults::answer`] (`--answer ENDPOINT=SPEC`) makes an endpoint answer a given body, or its
//! own answer edited by JSON Pointer, instead of its 2xx answers: hostile answers no documented
//! service sends (see [`answers`]).
//!
//! A degraded service, each with why a real tenant can show it, is described in [`faults`]:
//! endpoints failing on every call with the service's 400/403/404/500 body ([`Faults::fail`],
//! [`Failure`], `--fail export=404`), an empty first page (`empty-page`), a shrunk machines
//! listing ([`Faults::shrink_machines`], [`Portion`], `--shrink-machines 20%`), vulnerability
//! rows left out or with a broken key ([`Faults::set_export_rows`], [`ExportRows`],
//! `--export-omit 0.1`), future-dated alerts and machines ([`Truth::future_date_alerts`],
//! [`Truth::future_date_machines`], [`FutureDated`], `--future-alerts 3 --future-by 2h`) and
//! clock jumps ([`Sim::jump_clock`], [`SimClock::jump`], `--clock-jump -2h@5m`).
//!
//! # Advanced hunting (KQL)
//!
//! Tables: `DeviceInfo`, `DeviceNetworkInfo`, `DeviceLogonEvents`,
//! `DeviceTvmSoftwareVulnerabilities`, `DeviceTvmSoftwareVulnerabilitiesKB`, `AlertInfo`,
//! `AlertEvidence`, derived lazily from the tenant (history is never materialized). The
//! JSON-array columns the schema reference types `string` (`IPAddresses`, `LoggedOnUsers`, …)
//! are strings here too, so they need `todynamic()` before member access or `mv-expand`. The KQL
//! subset the engine implements (operators, functions, differences from Kusto) is documented
//! in the [`kql`] module. A query outside it is a 400 whose message is the engine's.
//!
//! # Ground truth and change
//!
//! [`Truth`] reads every generated fact ([`Tenant`]: devices with adapters and lease history,
//! users, alerts with evidence, CVE catalog and per-device instances) and applies changes at the
//! clock's now: `report`, `reassign_ip`, `set_inactive`, `remove`, `rename`, `reimage`,
//! `add_alert`, `update_alert`/`resolve_alert`, `add_cve`, `fix_cve`, `churn`. Answers such as
//! "which device held 10.x.y.z at time T" come from [`Truth::ip_owner_at`].
//!
//! # Deviations
//!
//! JWT signatures are HMAC under a seed-derived key although the header says RS256 (no JWKS);
//! client assertions are checked like Entra ID checks them ([`Sim::add_certificate`]: the
//! signature against the registered certificate's key, its end date, audience, issuer and
//! subject, `nbf`/`exp` with five minutes of skew), with Entra's AADSTS codes; the reasons'
//! wording follows answers seen in the field (docs/defender-api.md#certificate-credentials). No `Content-Encoding:
//! deflate`. Texts unpublished per docs/defender-api.md (401 message, retirement answer, execution
//! quota message) are our best guess, as are the answers to what it leaves open (the 415 for a
//! hunting query not sent as JSON, the status of AADSTS90055, `findbytag`'s case rules), and the
//! degraded service's details: the message of a persistent 400 on a GET (`The request is
//! invalid.`), Graph's 400/404/500 bodies, the broken-key forms of a malformed export row, and
//! the five minutes of `nbf` skew.

pub mod answers;
pub mod clock;
pub mod config;
pub mod faults;
pub mod format;
pub mod hunting;
pub mod kql;
mod limits;
pub mod requests;
mod server;
mod sim;
pub mod tenant;
pub mod test_keys;

pub use answers::{Answer, Edit};
pub use clock::SimClock;
pub use config::{
    AppRegistration, CallLimit, ClockMode, DEFAULT_ROLES, ForbiddenWording, PagingMode, Quirks,
    RateLimits, SimConfig,
};
pub use faults::{
    EndpointFailure, ExportRows, Failure, FaultId, FaultKind, FaultRule, Faults, FutureDated,
    Portion,
};
pub use requests::{Endpoint, RequestRecord, Requests};
pub use sim::{LogonUserFact, Sim, Truth, VulnerabilityFact};
pub use tenant::{MutationError, Tenant};
