//! What can go wrong when talking to Defender, sorted by what the sync does about it.

use std::time::Duration;

use crate::auth::{AuthFailure, Transport};

use super::Endpoint;

/// A failed Defender call (after the client's own retries). Messages are lowercase, without a
/// trailing period, and never carry a token or a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MdeError {
    /// Entra ID issued no token.
    #[error("sign-in failed: {}", auth_text(.0))]
    Auth(AuthFailure),
    /// The token lacks an application role; `required` lists the roles Defender named (any one
    /// of them suffices), empty when the answer named none.
    #[error("{}", forbidden_text(.required, .message))]
    Forbidden {
        required: Vec<String>,
        message: String,
    },
    /// Defender kept answering 429 after every allowed wait, or asked for a wait longer than the
    /// client accepts.
    #[error("{}", throttled_text(.retry_after))]
    Throttled { retry_after: Option<Duration> },
    /// Below HTTP: timeouts, refused or reset connections, answers cut off mid-way.
    #[error("{}", transport_text(.0))]
    Network(Transport),
    /// Any other HTTP error Defender or Graph answered.
    #[error("{}", api_text(*.status, .code.as_deref(), .message))]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A complete answer whose content is not what the endpoint documents.
    #[error("the answer of {endpoint} could not be read: {detail}")]
    Decode { endpoint: Endpoint, detail: String },
    /// The answer was larger than the client reads (`ClientOptions::max_answer_bytes`).
    #[error(
        "the answer of {endpoint} is larger than {}, the most mde-car reads; nothing of it was used",
        size_text(*.limit)
    )]
    TooLarge { endpoint: Endpoint, limit: u64 },
    /// `SoftwareVulnerabilityChangesByMachine` reaches back 14 days at most: a full export is
    /// needed instead.
    #[error("the vulnerability changes reach back 14 days at most; a full export is needed")]
    DeltaWindowExceeded,
    /// The run's cancellation token fired.
    #[error("cancelled")]
    Cancelled,
}

impl MdeError {
    /// A stable key for run records and logs: `auth`, `forbidden`, `throttled`, `network`,
    /// `api`, `decode`, `too_large`, `delta_window_exceeded`, `cancelled`.
    pub fn code(&self) -> &'static str {
        match self {
            MdeError::Auth(_) => "auth",
            MdeError::Forbidden { .. } => "forbidden",
            MdeError::Throttled { .. } => "throttled",
            MdeError::Network(_) => "network",
            MdeError::Api { .. } => "api",
            MdeError::Decode { .. } => "decode",
            MdeError::TooLarge { .. } => "too_large",
            MdeError::DeltaWindowExceeded => "delta_window_exceeded",
            MdeError::Cancelled => "cancelled",
        }
    }

    /// Whether trying the same work later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            MdeError::Auth(failure) => matches!(
                failure,
                AuthFailure::Transport(_) | AuthFailure::Throttled { .. }
            ),
            MdeError::Throttled { .. } => true,
            MdeError::Network(transport) => {
                !matches!(transport, Transport::Dns(_) | Transport::Tls(_))
            }
            MdeError::Api { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            MdeError::Forbidden { .. }
            | MdeError::Decode { .. }
            | MdeError::TooLarge { .. }
            | MdeError::DeltaWindowExceeded
            | MdeError::Cancelled => false,
        }
    }
}

fn auth_text(failure: &AuthFailure) -> String {
    match failure {
        AuthFailure::UnknownTenant { malformed: true } => "the tenant id is malformed".to_owned(),
        AuthFailure::UnknownTenant { malformed: false } => {
            "entra id does not know the tenant".to_owned()
        }
        AuthFailure::UnknownClient => {
            "the tenant has no application with this client id".to_owned()
        }
        AuthFailure::WrongSecret => "entra id rejected the client secret".to_owned(),
        AuthFailure::ExpiredSecret => "the client secret has expired".to_owned(),
        AuthFailure::CertificateNotRegistered => {
            "the certificate is not registered with the app in entra id".to_owned()
        }
        AuthFailure::CertificateExpired => "the certificate has expired".to_owned(),
        AuthFailure::WrongKey => {
            "entra id could not verify the signature: the private key is not the certificate's"
                .to_owned()
        }
        AuthFailure::ClockSkew => {
            "entra id found the sign-in outside its valid time: this computer's clock is off"
                .to_owned()
        }
        AuthFailure::KeyUnusable => {
            "the stored private key cannot sign; import the certificate again".to_owned()
        }
        AuthFailure::UnknownResource { aadsts, .. } => format!(
            "the tenant does not know the api resource{}",
            aadsts
                .map(|code| format!(" (AADSTS{code})"))
                .unwrap_or_default()
        ),
        AuthFailure::Throttled { .. } => "entra id is throttling sign-ins".to_owned(),
        AuthFailure::Transport(transport) => transport_text(transport),
        AuthFailure::NotEntra { detail } => {
            format!("the login authority is not entra id: {detail}")
        }
        AuthFailure::Other { error, aadsts, .. } => format!(
            "entra id refused: {error}{}",
            aadsts
                .map(|code| format!(" (AADSTS{code})"))
                .unwrap_or_default()
        ),
    }
}

fn forbidden_text(required: &[String], message: &str) -> String {
    if required.is_empty() {
        format!("the app registration lacks a permission: {message}")
    } else {
        format!(
            "the app registration lacks a permission (one of {}): {message}",
            required.join(", ")
        )
    }
}

fn throttled_text(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(
            "defender is throttling this app; it asks to wait {} s",
            wait.as_secs().max(1)
        ),
        None => "defender is throttling this app".to_owned(),
    }
}

fn transport_text(transport: &Transport) -> String {
    match transport {
        Transport::Timeout => "the request timed out".to_owned(),
        Transport::Dns(reason) => format!("the host name could not be resolved: {reason}"),
        Transport::Tls(reason) => format!("the secure connection failed: {reason}"),
        Transport::Connect(reason) => format!("could not connect: {reason}"),
        Transport::Other(reason) => format!("the request failed: {reason}"),
    }
}

/// `1024 MiB`, or bytes below a MiB.
fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

fn api_text(status: u16, code: Option<&str>, message: &str) -> String {
    match code {
        Some(code) => format!("defender answered {status} ({code}): {message}"),
        None => format!("defender answered {status}: {message}"),
    }
}

/// The roles a 403 names as required. Three forms are known (docs/defender-api.md#permissions):
/// - `…any of the required application permissions (Machine.Read.All, Machine.ReadWrite.All) to
///   access the resource.`
/// - `Missing application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All,
///   application roles: Machine.Isolate.` (the roles after `application roles` are the ones the
///   token has, not the ones it needs)
/// - `Missing role permissions on the request. API requires one of 'ThreatHunting.Read.All'.
///   Roles on the request 'Machine.Read.All'.` (Graph)
pub(crate) fn required_roles(message: &str) -> Vec<String> {
    let lower = message.to_ascii_lowercase();
    let starts = [
        "required application permissions",
        "required roles",
        "requires one of",
    ];
    let Some(start) = starts
        .iter()
        .filter_map(|marker| lower.find(marker).map(|at| at + marker.len()))
        .min()
    else {
        return Vec::new();
    };
    let rest = &lower[start..];
    let end = ["to access", "application roles", "roles on the request"]
        .iter()
        .filter_map(|marker| rest.find(marker))
        .min()
        .unwrap_or(rest.len());
    // Slice the original text at the same byte offsets: lowercasing ASCII keeps them.
    let segment = &message[start..start + end];
    let mut roles: Vec<String> = Vec::new();
    for token in segment.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')) {
        let token = token.trim_matches('.');
        if is_role_name(token) && !roles.iter().any(|known| known == token) {
            roles.push(token.to_owned());
        }
    }
    roles
}

/// `Machine.Read.All`: two or more dot-separated words, each starting with an uppercase letter.
fn is_role_name(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && part.chars().all(|c| c.is_ascii_alphanumeric())
        })
}
