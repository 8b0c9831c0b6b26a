//! The HTTP side: one fallback handler that routes case-insensitively (the service matches
//! paths that way), applies auth, roles, rate limits and faults, and logs every answer.

pub(crate) mod alerts;
pub(crate) mod auth;
pub(crate) mod machines;
pub(crate) mod odata;
pub(crate) mod vulns;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use chrono::{DateTime, Utc};

use crate::clock::SimClock;
use crate::config::{AppRegistration, ForbiddenWording, SimConfig};
use crate::faults::{Failure, FaultKind, FaultRule, Faults};
use crate::format;
use crate::limits::{self, Limiter};
use crate::requests::{Endpoint, RequestRecord, Requests};
use crate::tenant::Tenant;

/// State shared by the server and every handle.
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) url: String,
    pub(crate) tenant_id: String,
    pub(crate) tenant_domain: String,
    pub(crate) tenant_display_name: String,
    pub(crate) apps: RwLock<Vec<AppRegistration>>,
    /// Certificates registered with apps for client-assertion sign-in.
    pub(crate) certificates: RwLock<Vec<auth::RegisteredCertificate>>,
    pub(crate) tenant: RwLock<Tenant>,
    pub(crate) clock: SimClock,
    pub(crate) faults: Faults,
    pub(crate) requests: Requests,
    pub(crate) limiter: Limiter,
    pub(crate) signing_key: [u8; 32],
    pub(crate) token_serial: Arc<AtomicU64>,
    /// Every access token issued, oldest first: tests look for them where they must not be.
    pub(crate) issued_tokens: std::sync::Mutex<Vec<String>>,
}

/// An answer before faults shape how it is sent.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

/// `Content-Type` of OData answers (OBS:swimlane captures).
pub(crate) const ODATA_JSON: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";
pub(crate) const PLAIN_JSON: &str = "application/json; charset=utf-8";

impl Reply {
    pub(crate) fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", PLAIN_JSON.to_owned())],
            body,
        }
    }

    /// A 200 OData answer.
    pub(crate) fn odata(body: String) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                ("content-type", ODATA_JSON.to_owned()),
                ("odata-version", "4.0".to_owned()),
            ],
            body,
        }
    }

    /// The MDE error body: `{"error":{"code":…,"message":…,"target":…}}`
    /// (docs/defender-api.md#errors-and-throttling).
    pub(crate) fn mde_error(status: u16, code: &str, message: &str) -> Reply {
        Reply::mde_error_target(status, code, message, &uuid::Uuid::new_v4().to_string())
    }

    pub(crate) fn mde_error_target(status: u16, code: &str, message: &str, target: &str) -> Reply {
        let mut inner = format::Obj::new();
        inner
            .str("code", code)
            .str("message", message)
            .str("target", target);
        let mut outer = format::Obj::new();
        outer.raw("error", &inner.finish());
        Reply::json(status, outer.finish())
    }

    pub(crate) fn odata_error(message: &str) -> Reply {
        Reply::mde_error(400, "ODataError", message)
    }

    pub(crate) fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn entra_headers(&mut self, request_id: &str) {
        self.headers
            .push(("cache-control", "no-store, no-cache".to_owned()));
        self.headers.push(("pragma", "no-cache".to_owned()));
        self.headers
            .push(("x-ms-request-id", request_id.to_owned()));
    }
}

/// One request, parsed.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) method: Method,
    /// Percent-decoded path as sent.
    pub(crate) path: String,
    /// Decoded query pairs in order.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// `http://host:port` as the client addressed it.
    pub(crate) base: String,
    /// `/api` or `/api/v1.0` as the client wrote it.
    pub(crate) api_prefix: String,
    pub(crate) now: DateTime<Utc>,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) client_id: Option<String>,
}

impl Ctx<'_> {
    pub(crate) fn fault(&self, kind: FaultKind) -> Option<&FaultRule> {
        self.faults.iter().find(|rule| rule.kind == kind)
    }

    /// HTTP Basic client credentials (RFC 6749 §2.3.1: form-encoded id and secret).
    pub(crate) fn basic_credentials(&self) -> Option<(String, String)> {
        let header = self
            .headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let encoded = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |part: &str| -> String {
            url::form_urlencoded::parse(format!("x={part}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        Some((unescape(id), unescape(secret)))
    }

    /// `{base}{api_prefix}/$metadata#{set}`.
    pub(crate) fn context(&self, set: &str) -> String {
        format!("{}{}/$metadata#{set}", self.base, self.api_prefix)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%'
            && idx + 2 < bytes.len()
            && let Some(byte) = text
                .get(idx + 1..idx + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            idx += 3;
            continue;
        }
        out.push(bytes[idx]);
        idx += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a request goes.
pub(crate) enum Route {
    Token {
        tenant: String,
        v2: bool,
    },
    Api {
        endpoint: Endpoint,
        segments: Vec<String>,
    },
    Graph,
    NotFound,
}

pub(crate) fn route(path: &str) -> (Route, String) {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let lower: Vec<String> = segments
        .iter()
        .map(|segment| segment.to_ascii_lowercase())
        .collect();
    let lower_str: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lower_str.as_slice() {
        [_, "oauth2", "token"] => {
            return (
                Route::Token {
                    tenant: segments[0].to_owned(),
                    v2: false,
                },
                String::new(),
            );
        }
        [_, "oauth2", "v2.0", "token"] => {
            return (
                Route::Token {
                    tenant: segments[0].to_owned(),
                    v2: true,
                },
                String::new(),
            );
        }
        ["v1.0" | "beta", "security", "runhuntingquery"] => return (Route::Graph, String::new()),
        _ => {}
    }
    let (prefix, rest_start) = match lower_str.as_slice() {
        ["api", "v1.0", ..] => (format!("/{}/{}", segments[0], segments[1]), 2),
        ["api", ..] => (format!("/{}", segments[0]), 1),
        _ => return (Route::NotFound, String::new()),
    };
    let rest: Vec<String> = segments[rest_start..]
        .iter()
        .map(|segment| (*segment).to_owned())
        .collect();
    let rest_lower: Vec<&str> = lower_str[rest_start..].to_vec();
    let endpoint = match rest_lower.as_slice() {
        ["machines"] | ["machines", "$count"] => Endpoint::Machines,
        ["machines", "softwarevulnerabilitiesbymachine"] => Endpoint::VulnerabilitiesExport,
        ["machines", "softwarevulnerabilitychangesbymachine"] => {
            Endpoint::VulnerabilityChangesExport
        }
        ["machines", find] if find.starts_with("findbyip(") => Endpoint::FindByIp,
        ["machines", "findbytag"] => Endpoint::FindByTag,
        ["machines", _] => Endpoint::Machine,
        ["machines", _, "logonusers"] => Endpoint::LogonUsers,
        ["machines", _, "alerts"] | ["machines", _, "alerts", "$count"] => Endpoint::MachineAlerts,
        ["machines", _, "vulnerabilities"] => Endpoint::MachineVulnerabilities,
        ["alerts"] | ["alerts", "$count"] => Endpoint::Alerts,
        ["alerts", _] => Endpoint::Alert,
        ["alerts", _, "machine"] => Endpoint::AlertMachine,
        ["vulnerabilities"] => Endpoint::Vulnerabilities,
        ["vulnerabilities", "machinesvulnerabilities"] => Endpoint::MachinesVulnerabilities,
        ["advancedqueries", "run"] => Endpoint::AdvancedQueries,
        _ => return (Route::NotFound, prefix),
    };
    (
        Route::Api {
            endpoint,
            segments: rest,
        },
        prefix,
    )
}

/// The roles of which a caller needs one (docs/defender-api.md#permissions).
fn required_roles(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::Machines
        | Endpoint::Machine
        | Endpoint::FindByIp
        | Endpoint::FindByTag
        | Endpoint::AlertMachine => &["Machine.Read.All", "Machine.ReadWrite.All"],
        Endpoint::LogonUsers => &["User.Read.All"],
        Endpoint::Alerts | Endpoint::Alert | Endpoint::MachineAlerts => {
            &["Alert.Read.All", "Alert.ReadWrite.All"]
        }
        Endpoint::Vulnerabilities
        | Endpoint::MachinesVulnerabilities
        | Endpoint::MachineVulnerabilities
        | Endpoint::VulnerabilitiesExport
        | Endpoint::VulnerabilityChangesExport => &["Vulnerability.Read.All"],
        Endpoint::AdvancedQueries => &["AdvancedQuery.Read.All"],
        Endpoint::GraphHunting => &["ThreatHunting.Read.All"],
        Endpoint::Token | Endpoint::Unknown => &[],
    }
}

pub(crate) async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let path = percent_decode(&raw_path);
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| shared.url.trim_start_matches("http://").to_owned());
    let (route, api_prefix) = route(&path);
    let endpoint = match &route {
        Route::Token { .. } => Endpoint::Token,
        Route::Api { endpoint, .. } => *endpoint,
        Route::Graph => Endpoint::GraphHunting,
        Route::NotFound => Endpoint::Unknown,
    };
    let query: Vec<(String, String)> = raw_query
        .as_deref()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let first_page = is_first_page(endpoint, &path, &query);
    let mut ctx = Ctx {
        shared: &shared,
        method: parts.method.clone(),
        path,
        query,
        headers: parts.headers,
        body,
        base: format!("http://{host}"),
        api_prefix,
        now: shared.clock.now(),
        faults: shared.faults.roll(endpoint, first_page),
        client_id: None,
    };
    let reply = answer(&mut ctx, route, endpoint);
    // A count is a bare number: the hostile answers are for the listings.
    let reply = if ctx.path.trim_end_matches('/').ends_with("/$count") {
        reply
    } else {
        hostile(&shared, endpoint, reply)
    };
    let body_text = (endpoint != Endpoint::Token && !ctx.body.is_empty())
        .then(|| String::from_utf8_lossy(&ctx.body).into_owned());
    shared.requests.push(RequestRecord {
        seq: 0,
        at: ctx.now,
        method: ctx.method.to_string(),
        path: raw_path,
        query: raw_query,
        endpoint,
        status: reply.status,
        client_id: ctx.client_id.clone(),
        faults: ctx.faults.iter().map(|rule| rule.kind).collect(),
        body: body_text,
    });
    if let Some(rule) = ctx.fault(FaultKind::Slow) {
        tokio::time::sleep(rule.delay).await;
    }
    let truncate = ctx.fault(FaultKind::TruncatedJson).is_some() && reply.status < 300;
    let reset = ctx.fault(FaultKind::ConnectionReset).is_some();
    send(reply, truncate, reset)
}

/// The reply an [`crate::Answer`] set for `endpoint` makes of its own 2xx `reply`.
fn hostile(shared: &Shared, endpoint: Endpoint, mut reply: Reply) -> Reply {
    let Some(answer) = shared.faults.answer_for(endpoint) else {
        return reply;
    };
    if !(200..300).contains(&reply.status) {
        return reply;
    }
    match crate::answers::replace(&answer, reply.status, &reply.body) {
        Ok((status, content_type, body)) => {
            shared.faults.count_answered(endpoint);
            reply.status = status;
            reply.body = body;
            if let Some(content_type) = content_type {
                reply.headers.retain(|(name, _)| *name != "content-type");
                reply.headers.push(("content-type", content_type));
            }
            reply
        }
        Err(error) => Reply::mde_error(
            500,
            "InternalServerError",
            &format!(
                "mde-sim: the answer set for {} did not apply: {error}",
                endpoint.name()
            ),
        ),
    }
}

/// Whether a request is the first page of `/api/machines` or `/api/alerts`: not `$count`, and
/// no `$skip` past 0.
fn is_first_page(endpoint: Endpoint, path: &str, query: &[(String, String)]) -> bool {
    matches!(endpoint, Endpoint::Machines | Endpoint::Alerts)
        && !path
            .trim_end_matches('/')
            .to_ascii_lowercase()
            .ends_with("/$count")
        && query
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case("$skip"))
            .all(|(_, value)| value.trim().parse::<u64>() == Ok(0))
}

fn answer(ctx: &mut Ctx<'_>, route: Route, endpoint: Endpoint) -> Reply {
    if let Some(rule) = ctx.fault(FaultKind::InternalError) {
        let _ = rule;
        if endpoint == Endpoint::Token {
            return Reply::json(500, String::new());
        }
        return Reply::mde_error(
            500,
            "InternalServerError",
            "An unexpected error occurred. Please try again later.",
        );
    }
    if let Some(rule) = ctx.fault(FaultKind::Unavailable) {
        return Reply::mde_error(
            503,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        )
        .header("retry-after", rule.retry_after_secs.to_string());
    }
    match route {
        Route::Token { tenant, v2 } => {
            if let Some(rule) = ctx.fault(FaultKind::Throttle) {
                let retry = rule.retry_after_secs.to_string();
                return auth::tenant_throttled(ctx.shared).header("retry-after", retry);
            }
            if ctx.method != Method::POST {
                return Reply::mde_error(
                    405,
                    "BadRequest",
                    "The requested resource does not support http method 'GET'.",
                );
            }
            auth::token(ctx, &tenant, v2)
        }
        Route::NotFound => Reply::mde_error(
            404,
            "ResourceNotFound",
            &format!("Resource '{}' was not found", ctx.path),
        ),
        Route::Graph => crate::hunting::graph_endpoint(ctx),
        Route::Api { endpoint, segments } => api(ctx, endpoint, &segments),
    }
}

fn api(ctx: &mut Ctx<'_>, endpoint: Endpoint, segments: &[String]) -> Reply {
    let expected_method = if endpoint == Endpoint::AdvancedQueries {
        Method::POST
    } else {
        Method::GET
    };
    let caller = match auth::check_bearer(ctx, auth::Audience::Mde) {
        Ok(caller) if ctx.fault(FaultKind::TokenExpired).is_none() => caller,
        Ok(_) | Err(auth::Refusal::Unauthorized(_)) => {
            let message = match auth::check_bearer(ctx, auth::Audience::Mde) {
                Err(auth::Refusal::Unauthorized(message)) => message,
                _ => "Unauthorized (invalid or expired authorization header)",
            };
            return Reply::mde_error(401, "Unauthorized", message)
                .header("www-authenticate", "Bearer".to_owned());
        }
        Err(auth::Refusal::WrongAudience(aud)) => {
            return Reply::mde_error(
                403,
                "Forbidden",
                &format!("The access token audience '{aud}' is not valid for this API."),
            );
        }
    };
    ctx.client_id = Some(caller.client_id.clone());
    let wording = ctx.shared.config.quirks.forbidden_wording;
    if let Err(reply) = check_roles(&caller, endpoint, wording) {
        return reply;
    }
    let failure = ctx.shared.faults.failure(endpoint);
    if failure == Some(Failure::Forbidden) {
        return role_withdrawn(&caller, endpoint, wording);
    }
    if ctx.method != expected_method {
        return Reply::mde_error(
            405,
            "BadRequest",
            &format!(
                "The requested resource does not support http method '{}'.",
                ctx.method
            ),
        );
    }
    if let Err(reply) = check_limits(ctx, &caller, endpoint) {
        return reply;
    }
    if let Some(failure) = failure {
        return failure_reply(ctx, &caller, endpoint, failure);
    }
    match endpoint {
        Endpoint::Machines => machines::list(ctx, segments),
        Endpoint::Machine => machines::single(ctx, &segments[1]),
        Endpoint::LogonUsers => machines::logon_users(ctx, &segments[1]),
        Endpoint::FindByIp => machines::find_by_ip(ctx, &segments[1]),
        Endpoint::FindByTag => machines::find_by_tag(ctx),
        Endpoint::MachineAlerts => alerts::of_machine(ctx, segments),
        Endpoint::Alerts => alerts::list(ctx, segments),
        Endpoint::Alert => alerts::single(ctx, &segments[1]),
        Endpoint::AlertMachine => alerts::machine_of(ctx, &segments[1]),
        Endpoint::Vulnerabilities => vulns::catalog(ctx),
        Endpoint::MachinesVulnerabilities => vulns::machines_vulnerabilities(ctx),
        Endpoint::MachineVulnerabilities => vulns::of_machine(ctx, &segments[1]),
        Endpoint::VulnerabilitiesExport => vulns::export(ctx),
        Endpoint::VulnerabilityChangesExport => vulns::delta_export(ctx),
        Endpoint::AdvancedQueries => crate::hunting::legacy_endpoint(ctx, &caller),
        Endpoint::GraphHunting | Endpoint::Token | Endpoint::Unknown => {
            Reply::mde_error(404, "ResourceNotFound", "Resource was not found")
        }
    }
}

pub(crate) fn check_roles(
    caller: &auth::Caller,
    endpoint: Endpoint,
    wording: ForbiddenWording,
) -> Result<(), Reply> {
    let required = required_roles(endpoint);
    if required.is_empty()
        || required
            .iter()
            .any(|role| caller.roles.iter().any(|held| held == role))
    {
        return Ok(());
    }
    Err(match wording {
        ForbiddenWording::RequiredPermissions => Reply::mde_error(
            403,
            "Forbidden",
            &format!(
                "The application does not have any of the required application permissions ({}) to access the resource.",
                required.join(", ")
            ),
        ),
        ForbiddenWording::MissingRoles => {
            let mut inner = format::Obj::new();
            inner.str("code", "Forbidden").str(
                "message",
                &format!(
                    "Missing application roles. API required roles: {}, application roles: {}.",
                    required.join(","),
                    caller.roles.join(",")
                ),
            );
            let mut outer = format::Obj::new();
            outer.raw("error", &inner.finish());
            Reply::json(403, outer.finish())
        }
    })
}

/// The 403 of a persistent `403` failure: the missing-role answer for a token that holds the
/// caller's roles minus the endpoint's (docs/defender-api.md#permissions).
fn role_withdrawn(caller: &auth::Caller, endpoint: Endpoint, wording: ForbiddenWording) -> Reply {
    let required = required_roles(endpoint);
    let without = auth::Caller {
        client_id: caller.client_id.clone(),
        roles: caller
            .roles
            .iter()
            .filter(|role| !required.contains(&role.as_str()))
            .cloned()
            .collect(),
    };
    check_roles(&without, endpoint, wording)
        .err()
        .unwrap_or_else(|| {
            Reply::mde_error(
                403,
                "Forbidden",
                "Forbidden (valid token but insufficient permission for the action).",
            )
        })
}

/// What an endpoint named by [`Faults::fail`] answers (see [`Failure`] for the texts).
fn failure_reply(
    ctx: &Ctx<'_>,
    caller: &auth::Caller,
    endpoint: Endpoint,
    failure: Failure,
) -> Reply {
    match failure {
        Failure::BadRequest if endpoint == Endpoint::AdvancedQueries => {
            Reply::mde_error(400, "InvalidRequestBody", "Request body is incorrect")
        }
        Failure::BadRequest => Reply::mde_error(400, "BadRequest", "The request is invalid."),
        Failure::Forbidden => {
            role_withdrawn(caller, endpoint, ctx.shared.config.quirks.forbidden_wording)
        }
        Failure::DisabledFeature => Reply::mde_error(
            403,
            "DisabledFeature",
            "The feature is not enabled for this tenant.",
        ),
        Failure::NotFound => Reply::mde_error(
            404,
            "ResourceNotFound",
            &format!("Resource '{}' was not found", ctx.path),
        ),
        Failure::InternalError => Reply::mde_error(
            500,
            "InternalServerError",
            "An unexpected error occurred. Please try again later.",
        ),
    }
}

/// Retry-After in whole real seconds, at least 1.
pub(crate) fn retry_after(shared: &Shared, limiter_seconds: f64) -> u64 {
    let scale = if shared.config.rate_scale > 0.0 {
        shared.config.rate_scale
    } else {
        1.0
    };
    (limiter_seconds / scale).ceil().max(1.0) as u64
}

pub(crate) fn check_limits(
    ctx: &Ctx<'_>,
    caller: &auth::Caller,
    endpoint: Endpoint,
) -> Result<(), Reply> {
    let shared = ctx.shared;
    let hunting = matches!(endpoint, Endpoint::AdvancedQueries | Endpoint::GraphHunting);
    let code = if hunting { "429" } else { "TooManyRequests" };
    let limit = limits::limit_for(&shared.config.limits, endpoint);
    if let Some(rule) = ctx.fault(FaultKind::Throttle) {
        let per_minute = limit.map_or(100, |limit| limit.per_minute);
        return Err(Reply::mde_error(
            429,
            code,
            &format!("API calls quota exceeded! maximum allowed {per_minute} per 00:01:00"),
        )
        .header("retry-after", rule.retry_after_secs.to_string()));
    }
    let Some(limit) = limit else {
        return Ok(());
    };
    let now = shared.clock.limiter_seconds(shared.config.rate_scale);
    let result = shared
        .limiter
        .check_call(&caller.client_id, endpoint, limit, now)
        .and_then(|()| {
            if hunting {
                shared
                    .limiter
                    .check_budget(&caller.client_id, &shared.config.limits, now)
            } else {
                Ok(())
            }
        });
    result.map_err(|throttled| {
        Reply::mde_error(429, code, &throttled.message).header(
            "retry-after",
            retry_after(shared, throttled.wait).to_string(),
        )
    })
}

/// Reads `std::io::Error`s after half the body, so hyper aborts the connection.
struct ResetAfter {
    data: Vec<u8>,
    sent: bool,
}

impl tokio::io::AsyncRead for ResetAfter {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.sent {
            return std::task::Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated connection reset",
            )));
        }
        let n = buf.remaining().min(self.data.len());
        let chunk: Vec<u8> = self.data.drain(..n).collect();
        buf.put_slice(&chunk);
        if self.data.is_empty() {
            self.sent = true;
        }
        std::task::Poll::Ready(Ok(()))
    }
}

fn send(reply: Reply, truncate: bool, reset: bool) -> Response {
    let mut body = reply.body.into_bytes();
    if truncate || reset {
        body.truncate(body.len() / 2);
    }
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(*name), HeaderValue::from_str(value)) {
            builder = builder.header(name, value);
        }
    }
    let body = if reset {
        // Chunked, so the client cannot tell the body is short until the connection dies.
        Body::from_stream(tokio_util::io::ReaderStream::new(ResetAfter {
            data: body,
            sent: false,
        }))
    } else {
        Body::from(body)
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
