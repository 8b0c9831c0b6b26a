//! What a connection is: the non-secret settings of one Defender tenant, their validation, and
//! the hosts they resolve to.
//!
//! Terms:
//! - *draft*: what a person typed (form or CLI), secret included, not yet validated;
//! - *connection*: a validated, stored draft without its secret (the secret lives in the OS
//!   keyring, see `secrets`);
//! - *endpoints*: the login authority, API base and token resource a connection talks to. They
//!   come from the cloud unless the connection overrides them; nothing else in the crate names a
//!   Microsoft host.

use std::{net::IpAddr, str::FromStr};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::Timestamp;

pub mod certificate;

pub use certificate::{CertificateInfo, Credential};

/// A problem with one input field, phrased for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FieldError {
    /// The field's key as the draft names it (`tenantId`, `clientSecret`, …).
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// A Microsoft cloud that hosts Defender for Endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    #[default]
    Commercial,
    Gcc,
    GccHigh,
    Dod,
}

impl Cloud {
    pub const ALL: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

    pub fn label(self) -> &'static str {
        match self {
            Cloud::Commercial => "Commercial",
            Cloud::Gcc => "GCC",
            Cloud::GccHigh => "GCC High",
            Cloud::Dod => "DoD",
        }
    }

    /// The key used in settings files and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc_high",
            Cloud::Dod => "dod",
        }
    }

    /// Hosts per Microsoft's "Defender for Endpoint for US Government customers", API overview
    /// and national-cloud pages (docs/defender-api.md#clouds-and-hosts). The token resource is the
    /// App ID URI of the WindowsDefenderATP application, which differs from the current
    /// commercial API host. Microsoft Graph serves the successor of the advanced-hunting API.
    pub fn endpoints(self) -> Endpoints {
        let (authority, api_base, resource, graph) = match self {
            Cloud::Commercial => (
                "https://login.microsoftonline.com",
                "https://api.security.microsoft.com",
                "https://api.securitycenter.microsoft.com",
                "https://graph.microsoft.com",
            ),
            Cloud::Gcc => (
                "https://login.microsoftonline.com",
                "https://api-gcc.securitycenter.microsoft.us",
                "https://api-gcc.securitycenter.microsoft.us",
                "https://graph.microsoft.com",
            ),
            Cloud::GccHigh => (
                "https://login.microsoftonline.us",
                "https://api-gov.securitycenter.microsoft.us",
                "https://api-gov.securitycenter.microsoft.us",
                "https://graph.microsoft.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://api-gov.securitycenter.microsoft.us",
                "https://api-gov.securitycenter.microsoft.us",
                "https://dod-graph.microsoft.us",
            ),
        };
        Endpoints {
            authority: authority.to_owned(),
            api_base: api_base.to_owned(),
            resource: resource.to_owned(),
            graph_base: graph.to_owned(),
            graph_resource: graph.to_owned(),
        }
    }
}

impl FromStr for Cloud {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let wanted = text.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Cloud::ALL
            .into_iter()
            .find(|cloud| cloud.key() == wanted)
            .ok_or_else(|| {
                format!("unknown cloud '{text}'; use one of commercial, gcc, gcc_high, dod")
            })
    }
}

/// Where a connection signs in and which API it calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Login authority, e.g. `https://login.microsoftonline.com`; the token URL is
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub authority: String,
    /// Defender API base, e.g. `https://api.security.microsoft.com`.
    pub api_base: String,
    /// The resource whose `/.default` scope the token is requested for.
    pub resource: String,
    /// Microsoft Graph base, for `POST /v1.0/security/runHuntingQuery`.
    pub graph_base: String,
    /// The resource of Graph tokens (a second token per connection).
    pub graph_resource: String,
}

impl Endpoints {
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, tenant)
    }

    pub fn scope(&self) -> String {
        format!("{}/.default", self.resource)
    }

    pub fn graph_scope(&self) -> String {
        format!("{}/.default", self.graph_resource)
    }
}

/// How often a connection syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Frequency {
    Interval {
        minutes: u32,
    },
    /// A five-field cron expression in UTC, as IBM's CAR connector takes (`0 */4 * * *`).
    Cron {
        expression: String,
    },
}

impl Default for Frequency {
    fn default() -> Self {
        Frequency::Interval { minutes: 240 }
    }
}

/// The presets the form offers, in minutes.
pub const FREQUENCY_PRESETS: [u32; 6] = [15, 60, 240, 360, 720, 1440];
/// Shortest allowed schedule. Incremental runs cost a handful of calls, so five minutes stays
/// far inside Defender's 100 calls/min budget; more often would only add load.
pub const MIN_FREQUENCY_MINUTES: u32 = 5;
/// Longest interval; anything rarer is better expressed as cron.
pub const MAX_INTERVAL_MINUTES: u32 = 7 * 24 * 60;

impl Frequency {
    /// The frequency in words: "every 4 hours", "At minute 0 past every 4th hour".
    pub fn describe(&self) -> String {
        match self {
            Frequency::Interval { minutes } => describe_minutes(*minutes),
            Frequency::Cron { expression } => match parse_cron(expression) {
                Ok(cron) => cron.describe(),
                Err(_) => format!("cron '{expression}'"),
            },
        }
    }

    /// The first run time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Frequency::Interval { minutes } => {
                Some(after + chrono::Duration::minutes(i64::from(*minutes)))
            }
            Frequency::Cron { expression } => parse_cron(expression)
                .ok()
                .filter(runs_at_all)?
                .find_next_occurrence(&after, false)
                .ok(),
        }
    }

    /// Parses the CLI form: a preset-like duration (`15m`, `1h`, `4h`, `1d`, `90m`) or a cron
    /// expression (anything with spaces).
    pub fn parse_cli(text: &str) -> Result<Frequency, String> {
        let text = text.trim();
        if text.contains(' ') {
            return Ok(Frequency::Cron {
                expression: text.to_owned(),
            });
        }
        let (number, unit) = text.split_at(
            text.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len()),
        );
        let number: u32 = number.parse().map_err(|_| {
            format!("'{text}' is neither a duration like 15m, 1h, 4h, 24h nor a cron expression like '0 */4 * * *'")
        })?;
        let per_unit = match unit {
            "m" | "min" | "" => 1,
            "h" => 60,
            "d" => 24 * 60,
            _ => {
                return Err(format!(
                    "'{text}': use m, h or d as the unit, e.g. 15m, 4h, 1d"
                ));
            }
        };
        // Too many minutes to count is far over the longest interval; the form says so.
        let minutes = number.saturating_mul(per_unit);
        Ok(Frequency::Interval { minutes })
    }
}

fn describe_minutes(minutes: u32) -> String {
    match minutes {
        1440 => "Every day".to_owned(),
        m if m % 1440 == 0 => format!("Every {} days", m / 1440),
        60 => "Every hour".to_owned(),
        m if m % 60 == 0 => format!("Every {} hours", m / 60),
        1 => "Every minute".to_owned(),
        m => format!("Every {m} minutes"),
    }
}

fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    let n_fields = expression.split_whitespace().count();
    if n_fields != 5 {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has {n_fields}; example: 0 */4 * * *"
        ));
    }
    croner::Cron::from_str(expression.trim())
        .map_err(|error| format!("not a valid cron expression: {error}"))
}

/// Whether a cron schedule runs at all. croner's search for one that never does (30 February)
/// goes on to its year limit, 3,000 years of days (40 ms in a release build, seconds in a debug
/// or fuzzing one; found by fuzzing). The calendar, weekdays included, repeats every 400 years,
/// so the last 400 years before that limit hold a run of every schedule that has one. A minute
/// or hour field that lists nothing (`,`, which croner accepts) matches no time of any day, and
/// is refused first: the search would try every hour of those 400 years.
fn runs_at_all(cron: &croner::Cron) -> bool {
    let pattern = &cron.pattern;
    (0..60).any(|minute| pattern.minute_match(minute).unwrap_or(false))
        && (0..24).any(|hour| pattern.hour_match(hour).unwrap_or(false))
        && Utc
            .with_ymd_and_hms(croner::YEAR_UPPER_LIMIT - 400, 1, 1, 0, 0, 0)
            .single()
            .is_some_and(|start| cron.find_next_occurrence(&start, false).is_ok())
}

/// Which data a connection imports besides devices (always imported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DataSelection {
    pub alerts: bool,
    pub vulnerabilities: bool,
    pub logged_on_users: bool,
    pub ip_history: bool,
}

impl Default for DataSelection {
    fn default() -> Self {
        DataSelection {
            alerts: true,
            vulnerabilities: true,
            logged_on_users: true,
            ip_history: true,
        }
    }
}

/// A WindowsDefenderATP application permission, with the stronger roles that also satisfy it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub name: &'static str,
    pub also_satisfied_by: &'static [&'static str],
    /// What needs it, in words.
    pub purpose: &'static str,
}

pub const MACHINE_READ: Permission = Permission {
    name: "Machine.Read.All",
    also_satisfied_by: &["Machine.ReadWrite.All"],
    purpose: "devices, IP and MAC addresses",
};
pub const ALERT_READ: Permission = Permission {
    name: "Alert.Read.All",
    also_satisfied_by: &["Alert.ReadWrite.All"],
    purpose: "alerts",
};
pub const VULNERABILITY_READ: Permission = Permission {
    name: "Vulnerability.Read.All",
    also_satisfied_by: &[],
    purpose: "vulnerabilities",
};
pub const ADVANCED_QUERY_READ: Permission = Permission {
    name: "AdvancedQuery.Read.All",
    also_satisfied_by: &[],
    purpose: "IP history and logged-on users (advanced hunting)",
};
pub const USER_READ: Permission = Permission {
    name: "User.Read.All",
    also_satisfied_by: &[],
    purpose: "logged-on users of one device",
};

impl Permission {
    pub fn is_granted(&self, roles: &[String]) -> bool {
        roles
            .iter()
            .any(|role| role == self.name || self.also_satisfied_by.contains(&role.as_str()))
    }
}

impl DataSelection {
    /// The least privileges the selection needs, in a stable order.
    pub fn required_permissions(&self) -> Vec<Permission> {
        let mut permissions = vec![MACHINE_READ];
        if self.alerts {
            permissions.push(ALERT_READ);
        }
        if self.vulnerabilities {
            permissions.push(VULNERABILITY_READ);
        }
        if self.ip_history || self.logged_on_users {
            permissions.push(ADVANCED_QUERY_READ);
        }
        if self.logged_on_users {
            permissions.push(USER_READ);
        }
        permissions
    }
}

/// How a connection proves itself to Entra ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A client secret (the default, and every connection saved before certificates).
    #[default]
    Secret,
    /// A certificate's private key signs a client assertion.
    Certificate,
}

/// What a person entered for a connection, before validation. The secret is `None` when an
/// edit keeps the stored one. Blank optional fields mean "not set", as normalization stores them.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDraft {
    pub name: String,
    pub description: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// Secret or certificate; the secret fields of the other kind are ignored.
    #[serde(default)]
    pub credential: CredentialKind,
    /// A certificate connection's certificate (public facts, as [`certificate::import`] read
    /// them).
    #[serde(default)]
    pub certificate: Option<CertificateInfo>,
    /// A certificate connection's private key (PEM); `None` when an edit keeps the stored one.
    #[serde(default)]
    pub private_key: Option<String>,
    pub frequency: Frequency,
    pub cloud: Cloud,
    pub api_base_url: Option<String>,
    pub login_authority: Option<String>,
    /// An HTTP(S) proxy for this connection's calls; without it the environment's
    /// `HTTPS_PROXY`/`NO_PROXY` apply.
    pub proxy_url: Option<String>,
    /// A PEM file of extra CA certificates to trust (a TLS-inspecting proxy's CA), besides the
    /// OS trust store.
    pub ca_certificate_file: Option<String>,
    pub data: DataSelection,
}

impl ConnectionDraft {
    /// The connection a validated draft describes, normalized and without its secret (that
    /// goes to the keyring). `id`, `demo` and `created_at` are the stored connection's when
    /// editing, new ones when adding.
    pub fn into_connection(self, id: String, demo: bool, created_at: Timestamp) -> Connection {
        let draft = normalized(&self);
        Connection {
            id,
            name: draft.name,
            description: draft.description,
            tenant_id: draft.tenant_id,
            client_id: draft.client_id,
            certificate: match draft.credential {
                CredentialKind::Secret => None,
                CredentialKind::Certificate => draft.certificate,
            },
            frequency: draft.frequency,
            cloud: draft.cloud,
            api_base_url: draft.api_base_url,
            login_authority: draft.login_authority,
            proxy_url: draft.proxy_url,
            ca_certificate_file: draft.ca_certificate_file,
            data: draft.data,
            demo,
            created_at,
        }
    }
}

impl Connection {
    /// Whether a stored secret may go where `draft` would send it: the same cloud, login
    /// authority, API base, proxy and CA file. Anything else needs the secret typed again —
    /// otherwise whoever can edit a connection (at the unlocked app, in the CLI, or a script in
    /// the webview) could point it at their own host and receive the secret.
    pub fn keeps_secret_destination(&self, draft: &ConnectionDraft) -> bool {
        let draft = normalized(draft);
        // A proxy is compared without its credentials: they are the proxy's, and the secret
        // crosses it inside TLS to the same hosts either way.
        let proxy = |url: &Option<String>| url.as_deref().map(crate::http::redacted);
        self.cloud == draft.cloud
            && self.login_authority == draft.login_authority
            && self.api_base_url == draft.api_base_url
            && proxy(&self.proxy_url) == proxy(&draft.proxy_url)
            && self.ca_certificate_file == draft.ca_certificate_file
    }

    /// How this connection signs in.
    pub fn credential_kind(&self) -> CredentialKind {
        if self.certificate.is_some() {
            CredentialKind::Certificate
        } else {
            CredentialKind::Secret
        }
    }

    /// Whether `draft` keeps the stored credential's kind and, for a certificate, the same
    /// certificate: anything else needs its secret or key again (the stored one belongs to what
    /// was there).
    pub fn keeps_credential(&self, draft: &ConnectionDraft) -> bool {
        let thumbprint = |info: &Option<CertificateInfo>| {
            info.as_ref()
                .map(|info| info.thumbprint_sha256.to_ascii_uppercase())
        };
        self.credential_kind() == draft.credential
            && (draft.credential == CredentialKind::Secret
                || thumbprint(&self.certificate) == thumbprint(&draft.certificate))
    }

    /// The secret or key for this connection's kind that `draft` carries, if any.
    pub fn draft_secret(draft: &ConnectionDraft) -> Option<&str> {
        match draft.credential {
            CredentialKind::Secret => draft.client_secret.as_deref(),
            CredentialKind::Certificate => draft.private_key.as_deref(),
        }
        .filter(|secret| !secret.trim().is_empty())
    }

    /// What is wrong with this stored connection by the form's own rules — the settings file
    /// is read on every load, and a hand edit or another tool may have written what the form
    /// never accepts: an `http://` authority on a remote host (the secret in clear text), a
    /// frequency of 0 minutes (runs back to back), an id with `../` (a path outside `locks/`).
    /// A connection with problems is shown with them and never synced or tested until fixed.
    ///
    /// The CA file is checked for its form only (a full path): whether it reads is a fault of
    /// the moment, which the run that needs it reports, not a setting to reject on every load.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Err(message) = check_connection_id(&self.id) {
            problems.push(FieldError::new("id", message));
        }
        let draft = ConnectionDraft {
            name: self.name.clone(),
            description: self.description.clone(),
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: None,
            credential: self.credential_kind(),
            certificate: self.certificate.clone(),
            private_key: None,
            frequency: self.frequency.clone(),
            cloud: self.cloud,
            api_base_url: self.api_base_url.clone(),
            login_authority: self.login_authority.clone(),
            proxy_url: self.proxy_url.clone(),
            ca_certificate_file: None,
            data: self.data,
        };
        problems.extend(validate(&draft, &[], false));
        if let Some(file) = &self.ca_certificate_file
            && !std::path::Path::new(file.trim()).is_absolute()
        {
            problems.push(FieldError::new(
                "caCertificateFile",
                "Give the file's full path, e.g. /usr/local/share/ca-certificates/corp-ca.pem",
            ));
        }
        problems
    }

    /// The draft of an edit with the stored proxy credentials kept when the form sent the proxy
    /// back as it was shown (redacted): views never carry them, so an untouched field would
    /// otherwise drop them.
    pub fn with_kept_proxy_credentials(&self, mut draft: ConnectionDraft) -> ConnectionDraft {
        if let (Some(stored), Some(sent)) = (&self.proxy_url, &draft.proxy_url)
            && crate::http::redacted(stored) != *stored
            && crate::http::redacted(stored) == sent.trim().trim_end_matches('/')
        {
            draft.proxy_url = Some(stored.clone());
        }
        draft
    }
}

/// A secret given where systemd credentials provide them (`MDE_CAR_SECRETS`).
pub const SECRET_FROM_SYSTEMD: &str = "This installation reads secrets from systemd credentials, not from mde-car: leave the secret out and give it to the service as its credential (see the README's \"Run the daemon on a server\")";

/// A hosts change where systemd credentials provide secrets: the credential would be sent to
/// the new hosts without anyone entering it for them.
pub const HOSTS_FIXED_UNDER_SYSTEMD: &str = "With secrets from systemd credentials, the cloud, login authority, API base URL, proxy and CA file of a saved connection cannot change (its secret would be sent to them): remove the connection, add it again with the new values and create its credential";

/// The form's and the CLI's answer when an edit changes the credential's kind or certificate.
pub const KEY_FOR_NEW_CERTIFICATE: &str = "Import the certificate's private key again: the stored key belongs to the certificate or credential kind this connection had";
pub const SECRET_FOR_NEW_KIND: &str =
    "Enter the client secret: this connection signed in with a certificate until now";

/// The form's and the CLI's answer when an edit moves a stored secret to other hosts.
pub const SECRET_FOR_NEW_HOSTS: &str = "Enter the client secret again: the cloud, login authority, API base URL, proxy or CA file changed, and a stored secret is only sent where it was entered for";

impl std::fmt::Debug for ConnectionDraft {
    // Hand-written so the secret can never reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionDraft")
            .field("name", &self.name)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("credential", &self.credential)
            .field(
                "certificate",
                &self.certificate.as_ref().map(|c| &c.thumbprint_sha256),
            )
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .field("frequency", &self.frequency)
            .field("cloud", &self.cloud)
            .field("api_base_url", &self.api_base_url)
            .field("login_authority", &self.login_authority)
            .field("proxy_url", &self.proxy_url)
            .field("ca_certificate_file", &self.ca_certificate_file)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// A stored connection: everything but the secret. This is the shape of one entry of
/// `connections` in the settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub tenant_id: String,
    pub client_id: String,
    /// The certificate a certificate connection signs in with (public facts only; its key is
    /// the connection's secret in the keyring). Absent for a client-secret connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateInfo>,
    #[serde(default)]
    pub frequency: Frequency,
    #[serde(default)]
    pub cloud: Cloud,
    #[serde(default)]
    pub api_base_url: Option<String>,
    #[serde(default)]
    pub login_authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate_file: Option<String>,
    #[serde(default)]
    pub data: DataSelection,
    /// The bundled simulator's demo tenant: its hosts are resolved when it starts.
    #[serde(default)]
    pub demo: bool,
    pub created_at: Timestamp,
}

impl Connection {
    /// The hosts this connection talks to: the cloud's, with the connection's overrides.
    pub fn endpoints(&self) -> Endpoints {
        let mut endpoints = self.cloud.endpoints();
        if let Some(api_base) = &self.api_base_url {
            endpoints.api_base = api_base.clone();
            // A loopback API base is the bundled simulator (or a local test double), which also
            // serves Graph's hunting API; real Graph is never on loopback.
            if url::Url::parse(api_base)
                .ok()
                .and_then(|url| url.host_str().map(is_loopback))
                .unwrap_or(false)
            {
                endpoints.graph_base = api_base.clone();
            }
        }
        if let Some(authority) = &self.login_authority {
            endpoints.authority = authority.clone();
        }
        endpoints
    }

    /// How this connection's HTTP calls leave the machine.
    pub fn network(&self) -> crate::http::Network<'_> {
        crate::http::Network {
            proxy_url: self.proxy_url.as_deref(),
            ca_certificate_file: self.ca_certificate_file.as_deref(),
        }
    }
}

/// The limits the validator enforces.
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_SECRET_CHARS: usize = 1024;

/// Checks every field of `draft`; an empty result means it can be saved. `others` are the
/// names of the other connections (for uniqueness); `secret_required` is false when an edit
/// keeps the stored secret.
pub fn validate(
    draft: &ConnectionDraft,
    others: &[&str],
    secret_required: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = draft.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new(
            "name",
            "Enter a name, e.g. \"Contoso production\"",
        ));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push(FieldError::new(
            "name",
            format!("Use at most {MAX_NAME_CHARS} characters"),
        ));
    } else if let Some(bad) = name.chars().find(|c| c.is_control()) {
        errors.push(FieldError::new(
            "name",
            format!("Remove the control character {bad:?}"),
        ));
    } else if others
        .iter()
        .any(|other| other.trim().eq_ignore_ascii_case(name))
    {
        errors.push(FieldError::new(
            "name",
            format!("Another connection is already named \"{name}\""),
        ));
    }
    if draft.description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "description",
            format!("Use at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if let Err(message) = check_tenant(draft.tenant_id.trim()) {
        errors.push(FieldError::new("tenantId", message));
    }
    let client_id = draft.client_id.trim();
    if client_id.is_empty() {
        errors.push(FieldError::new(
            "clientId",
            "Enter the Application (client) ID from the app registration's Overview page",
        ));
    } else if !is_guid(client_id) {
        errors.push(FieldError::new(
            "clientId",
            "The client ID is a GUID like 00000000-0000-0000-0000-000000000000 (the Application (client) ID, not the object ID or a name)",
        ));
    }
    match draft.credential {
        CredentialKind::Secret => match &draft.client_secret {
            None if secret_required => {
                errors.push(FieldError::new(
                    "clientSecret",
                    "Enter the client secret's Value",
                ));
            }
            None => {}
            Some(secret) => {
                if let Err(message) = check_secret(secret) {
                    errors.push(FieldError::new("clientSecret", message));
                }
            }
        },
        CredentialKind::Certificate => errors.extend(check_certificate(draft, secret_required)),
    }
    if let Err(message) = check_frequency(&draft.frequency) {
        errors.push(FieldError::new("frequency", message));
    }
    // A blank optional field is "not set", as `normalized` stores it.
    let given = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    for (field, value, what) in [
        ("apiBaseUrl", &draft.api_base_url, "API base URL"),
        ("loginAuthority", &draft.login_authority, "login authority"),
    ] {
        if let Some(value) = given(value)
            && let Err(message) = check_url(&value, what)
        {
            errors.push(FieldError::new(field, message));
        }
    }
    if let Some(proxy) = given(&draft.proxy_url)
        && let Err(message) = check_proxy(&proxy)
    {
        errors.push(FieldError::new("proxyUrl", message));
    }
    if let Some(file) = given(&draft.ca_certificate_file)
        && let Err(message) = check_ca_file(&file)
    {
        errors.push(FieldError::new("caCertificateFile", message));
    }
    errors
}

/// The longest connection id accepted; mde-car writes UUIDs (36 characters).
pub const MAX_ID_CHARS: usize = 64;

/// A connection id names files (`locks/sync-<id>.lock`), so it is letters, digits, `-` and `_`
/// only: nothing that could leave the folder or hide in a listing.
fn check_connection_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("The connection has no id; remove it and add it again".to_owned());
    }
    if id.chars().count() > MAX_ID_CHARS
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "The id {:?} is not one mde-car writes (letters, digits, - and _, at most {MAX_ID_CHARS}); restore the file from a backup, or remove the connection and add it again",
            id.chars().take(MAX_ID_CHARS).collect::<String>()
        ));
    }
    Ok(())
}

fn check_tenant(tenant: &str) -> Result<(), String> {
    if tenant.is_empty() {
        return Err("Enter the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com".to_owned());
    }
    let lower = tenant.to_ascii_lowercase();
    if ["common", "organizations", "consumers"].contains(&lower.as_str()) {
        return Err(format!(
            "\"{tenant}\" is a multi-tenant alias that app-only sign-in can't use; enter your tenant's ID or verified domain"
        ));
    }
    if is_guid(tenant) {
        return Ok(());
    }
    if tenant.contains('-') && tenant.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err("This looks like a GUID with a typo: a tenant ID has the form 00000000-0000-0000-0000-000000000000".to_owned());
    }
    if is_domain(tenant) {
        return Ok(());
    }
    Err("The tenant is a GUID (Directory (tenant) ID) or a verified domain such as contoso.onmicrosoft.com".to_owned())
}

fn check_secret(secret: &str) -> Result<(), String> {
    if secret.trim().is_empty() {
        return Err("Enter the client secret's Value".to_owned());
    }
    if secret.chars().count() > MAX_SECRET_CHARS {
        return Err(format!(
            "A client secret has at most {MAX_SECRET_CHARS} characters; check what was pasted"
        ));
    }
    if secret.trim() != secret {
        return Err(
            "The secret starts or ends with a space; paste it again without the blanks".to_owned(),
        );
    }
    if is_guid(secret) {
        // Entra ID's AADSTS7000215 exists because people paste the "Secret ID" column: it is a
        // GUID, while secret values are not.
        return Err(
            "This is a GUID, so it is probably the secret's ID: paste the secret's Value instead"
                .to_owned(),
        );
    }
    if secret.chars().any(char::is_control) {
        return Err(
            "The secret contains a line break or control character; paste it again".to_owned(),
        );
    }
    Ok(())
}

/// A certificate draft: an imported certificate whose stored facts are its own, and a key
/// (when one is given or needed) that is its RSA key. An expired certificate is not refused
/// here: the connection's card and Test say so, and a stored connection must not turn into
/// broken settings on the day its certificate ends.
fn check_certificate(draft: &ConnectionDraft, key_required: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(certificate) = &draft.certificate else {
        errors.push(FieldError::new(
            "certificate",
            "Import the certificate (PEM with its key, or PFX) that is registered with the app",
        ));
        return errors;
    };
    if let Err(error) = certificate
        .check()
        .and_then(|()| certificate::rsa_public_key(certificate).map(|_| ()))
    {
        errors.push(FieldError::new(
            "certificate",
            capitalize(&error.to_string()),
        ));
        return errors;
    }
    match draft
        .private_key
        .as_deref()
        .filter(|key| !key.trim().is_empty())
    {
        None if key_required => errors.push(FieldError::new(
            "privateKey",
            "Import the certificate's private key (a PEM key file, or a PFX file that holds it)",
        )),
        None => {}
        Some(key) if key.len() > certificate::MAX_FILE_BYTES => errors.push(FieldError::new(
            "privateKey",
            capitalize(&certificate::CertificateError::TooLarge.to_string()),
        )),
        Some(key) => {
            if let Err(error) = certificate::check_key(certificate, key) {
                errors.push(FieldError::new(
                    error.field(),
                    capitalize(&error.to_string()),
                ));
            }
        }
    }
    errors
}

fn check_frequency(frequency: &Frequency) -> Result<(), String> {
    match frequency {
        Frequency::Interval { minutes } => {
            if *minutes < MIN_FREQUENCY_MINUTES {
                Err(format!(
                    "Sync at most every {MIN_FREQUENCY_MINUTES} minutes"
                ))
            } else if *minutes > MAX_INTERVAL_MINUTES {
                Err("Sync at least once a week, or use a cron expression".to_owned())
            } else {
                Ok(())
            }
        }
        Frequency::Cron { expression } => {
            let cron = parse_cron(expression).map_err(|message| capitalize(&message))?;
            if !runs_at_all(&cron) {
                return Err("This cron expression never runs".to_owned());
            }
            // Two consecutive runs closer than the minimum mean the schedule is too dense.
            let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
            let mut previous = cron
                .find_next_occurrence(&start, false)
                .map_err(|_| "This cron expression never runs".to_owned())?;
            for _ in 0..50 {
                let Ok(next) = cron.find_next_occurrence(&previous, false) else {
                    break;
                };
                if next - previous < chrono::Duration::minutes(i64::from(MIN_FREQUENCY_MINUTES)) {
                    return Err(format!(
                        "This runs more often than every {MIN_FREQUENCY_MINUTES} minutes; use e.g. */15 * * * *"
                    ));
                }
                previous = next;
            }
            Ok(())
        }
    }
}

/// A URL a person typed: no control character inside (the URL parser would drop a line break
/// or tab silently and store a value that is not what it uses), and a port a server can
/// listen on.
fn check_typed_url(value: &str, example: &str) -> Result<Url, String> {
    if let Some(bad) = value.trim().chars().find(|c| c.is_control()) {
        return Err(format!(
            "Remove the control character U+{:04X} (a line break, tab or similar) from the URL",
            u32::from(bad)
        ));
    }
    let url = Url::parse(value.trim())
        .map_err(|error| format!("Not a URL ({error}); example: {example}"))?;
    if let Some(url::Host::Domain(host)) = url.host()
        && (host.len() > 253 || host.split('.').any(|label| label.len() > 63))
    {
        return Err(format!(
            "The host name is {} characters long; DNS allows 253, and 63 per part between dots",
            host.len()
        ));
    }
    if url.port() == Some(0) {
        return Err(format!(
            "Port 0 is not a port a server listens on; give the right one or none, e.g. {example}"
        ));
    }
    Ok(url)
}

fn check_url(value: &str, what: &str) -> Result<(), String> {
    let url = check_typed_url(value, "https://api.security.microsoft.com")?;
    // The scheme first: `javascript:` and `file:` URLs have no host either, and "needs a host
    // name" would send the person looking for the wrong fault.
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("Use an https URL, not {}:", url.scheme()));
    }
    let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
        return Err(format!("The {what} needs a host name"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Remove the user name and password from the URL".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("Remove the ?query or #fragment from the URL".to_owned());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(host) => Ok(()),
        "http" => Err(format!(
            "Use https: the {what} receives credentials or tokens, which must not cross the network in clear text (http is allowed only for 127.0.0.1 and localhost)"
        )),
        other => Err(format!("Use an https URL, not {other}:")),
    }
}

fn check_proxy(value: &str) -> Result<(), String> {
    let url = check_typed_url(value, "http://proxy.corp.example:8080")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "Use an http:// or https:// proxy URL, not {}:// (HTTPS calls are tunnelled through it either way)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(
            "The proxy URL needs a host name, e.g. http://proxy.corp.example:8080".to_owned(),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        // A password in a settings file would be a secret outside the keyring.
        return Err(
            "Remove the user name and password: proxies that need a sign-in are not supported yet; ask for this computer to be allowed through".to_owned(),
        );
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "A proxy URL is only scheme, host and port, e.g. http://proxy.corp.example:8080"
                .to_owned(),
        );
    }
    Ok(())
}

fn check_ca_file(file: &str) -> Result<(), String> {
    let path = std::path::Path::new(file);
    if !path.is_absolute() {
        return Err(
            "Give the file's full path, e.g. /usr/local/share/ca-certificates/corp-ca.pem"
                .to_owned(),
        );
    }
    // Building a client parses every certificate, as a sync would.
    crate::http::client_for(crate::http::Network {
        proxy_url: None,
        ca_certificate_file: Some(file),
    })
    .map(|_| ())
    .map_err(|message| capitalize(&message))
}

/// Normalizes what the validator accepted: trims text and URL trailing slashes.
pub(crate) fn normalized(draft: &ConnectionDraft) -> ConnectionDraft {
    let url = |value: &Option<String>| {
        value
            .as_ref()
            .map(|value| value.trim().trim_end_matches('/').to_owned())
            .filter(|value| !value.is_empty())
    };
    ConnectionDraft {
        name: draft.name.trim().to_owned(),
        description: draft.description.trim().to_owned(),
        tenant_id: draft.tenant_id.trim().to_owned(),
        client_id: draft.client_id.trim().to_ascii_lowercase(),
        client_secret: draft.client_secret.clone(),
        credential: draft.credential,
        certificate: draft.certificate.clone(),
        private_key: draft.private_key.clone(),
        frequency: match &draft.frequency {
            Frequency::Cron { expression } => Frequency::Cron {
                expression: expression.split_whitespace().collect::<Vec<_>>().join(" "),
            },
            interval => interval.clone(),
        },
        cloud: draft.cloud,
        api_base_url: url(&draft.api_base_url),
        login_authority: url(&draft.login_authority),
        proxy_url: url(&draft.proxy_url),
        ca_certificate_file: draft
            .ca_certificate_file
            .as_ref()
            .map(|file| file.trim().to_owned())
            .filter(|file| !file.is_empty()),
        data: draft.data,
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    text.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
