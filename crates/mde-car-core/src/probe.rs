//! "Test connection": sign in, compare the token's roles with what the enabled data needs, and
//! make one small API call (`GET /api/machines?$top=1`). Every outcome becomes a [`TestReport`]
//! that says in plain words what is wrong and what to do — unlike the IBM connector, whose
//! test answered exit code 1 for every failure.

use std::time::Instant;

use chrono::Utc;
use secrecy::ExposeSecret;

use crate::{
    auth::{self, AccessToken, AuthFailure, Transport},
    config::{ADVANCED_QUERY_READ, Cloud, Credential, DataSelection, Endpoints, MACHINE_READ},
    http::Network,
};

pub use crate::model::{TestCode, TestReport};

/// What a test needs to know about a connection.
#[derive(Debug, Clone)]
pub struct ProbeTarget<'a> {
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub cloud: Cloud,
    pub endpoints: &'a Endpoints,
    pub data: DataSelection,
    pub network: Network<'a>,
}

/// A test's report, and whether Defender's device list was read (only then is it worth
/// asking for the other data types, see `sync::check_data`).
#[derive(Debug, Clone)]
pub struct Probed {
    pub report: TestReport,
    pub devices_read: bool,
}

/// Runs the test. Never fails: every failure is a report.
pub async fn test_connection(
    http: &reqwest::Client,
    target: &ProbeTarget<'_>,
    credential: &Credential,
) -> Probed {
    let started = Instant::now();
    let tested_at = Utc::now();
    let (report, devices_read) = run(http, target, credential).await;
    let mut report = with_network_note(report, target.network);
    report.tested_at = tested_at;
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Probed {
        report,
        devices_read,
    }
}

async fn run(
    http: &reqwest::Client,
    target: &ProbeTarget<'_>,
    credential: &Credential,
) -> (TestReport, bool) {
    let token = match sign_in(http, target, credential).await {
        Ok(token) => token,
        Err(report) => return (report, false),
    };
    let roles = Roles::of(&token, target.data);
    if !MACHINE_READ.is_granted(&roles.granted) {
        // Without Machine.Read.All the API call can only answer 403; the roles say it all.
        return (
            missing_permission_report(roles.granted, roles.missing),
            false,
        );
    }
    match list_one_device(http, target.endpoints, &token).await {
        Ok(answer) => {
            let read = answer.status == 200;
            let report = answer_report(&answer, &host_of(&target.endpoints.api_base), roles);
            // A 200 that is not a device list is a wrong host, not a read.
            let read = read
                && matches!(
                    report.code,
                    TestCode::Connected | TestCode::MissingPermission
                );
            (report, read)
        }
        Err(report) => (report, false),
    }
}

async fn sign_in(
    http: &reqwest::Client,
    target: &ProbeTarget<'_>,
    credential: &Credential,
) -> Result<AccessToken, TestReport> {
    auth::request_token(
        http,
        target.endpoints,
        target.tenant_id,
        target.client_id,
        credential,
    )
    .await
    .map_err(|failure| auth_failure_report(target, &failure))
}

/// The token's roles against what the selected data needs.
struct Roles {
    granted: Vec<String>,
    /// Needed and not granted.
    missing: Vec<String>,
    /// How many permissions are needed, for the report that all of them are granted.
    required: usize,
}

impl Roles {
    fn of(token: &AccessToken, data: DataSelection) -> Roles {
        let granted = token.claims.roles.clone();
        let required = data.required_permissions();
        let missing = required
            .iter()
            .filter(|permission| !permission.is_granted(&granted))
            .map(|permission| permission.name.to_owned())
            .collect();
        Roles {
            granted,
            missing,
            required: required.len(),
        }
    }
}

/// What Defender answered to the one API call.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: String,
}

/// The largest answer read to `GET /api/machines?$top=1`: one device record is a few kB.
const MAX_ONE_DEVICE_ANSWER_BYTES: u64 = 1024 * 1024;

/// `GET /api/machines?$top=1`: the smallest call that needs a token Defender accepts and
/// Machine.Read.All. A request that gets no answer is already the report.
async fn list_one_device(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    token: &AccessToken,
) -> Result<Answer, TestReport> {
    let url = format!("{}/api/machines?$top=1", endpoints.api_base);
    let response = http
        .get(&url)
        .bearer_auth(token.secret.expose_secret())
        .send()
        .await
        .map_err(|error| {
            transport_report(
                &host_of(&endpoints.api_base),
                &auth::classify_transport(&error),
            )
        })?;
    let status = response.status().as_u16();
    let retry_after = retry_after_secs(response.headers());
    let body = match crate::http::read_capped(response, MAX_ONE_DEVICE_ANSWER_BYTES).await {
        Ok(body) => String::from_utf8_lossy(&body).into_owned(),
        Err(crate::http::BodyError::TooLarge) => {
            return Err(report(
                TestCode::Unexpected,
                "Unexpected answer",
                format!(
                    "{} answered {status} with more than {} kB to a request for one device; Defender's answer is a few kB. Check the API base URL: another service may be at that address.",
                    host_of(&endpoints.api_base),
                    MAX_ONE_DEVICE_ANSWER_BYTES / 1024
                ),
            ));
        }
        // What arrived is judged by its status; a cut-off body reads as none.
        Err(crate::http::BodyError::Broken(_)) => String::new(),
    };
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// The report on Defender's answer from `api_host`.
fn answer_report(answer: &Answer, api_host: &str, roles: Roles) -> TestReport {
    match answer.status {
        200 => device_list_report(&answer.body, api_host, roles),
        401 => report(
            TestCode::WrongHost,
            "Token not accepted",
            format!(
                "Entra ID issued a token, but {api_host} rejected it (401). The token is for another cloud or API: check the cloud, the API base URL and the login authority."
            ),
        ),
        403 => forbidden_report(&answer.body, roles),
        404 => report(
            TestCode::WrongHost,
            "Wrong host or region",
            format!(
                "{api_host} has no Defender device list (404). Check the cloud and the API base URL (regional hosts look like us.api.security.microsoft.com)."
            ),
        ),
        429 => throttled_report(api_host, answer.retry_after),
        code => report(
            TestCode::Unexpected,
            "Unexpected answer",
            format!(
                "{api_host} answered {code}{}. Try again later; if it persists, check Defender's service health.",
                defender_error_message(&answer.body)
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// A 200 proves the host only if it carries a device list: another service at a wrong URL
/// answers 200 too. Only then do missing roles for the other data matter.
fn device_list_report(body: &str, api_host: &str, roles: Roles) -> TestReport {
    let looks_like_defender = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("value").map(serde_json::Value::is_array))
        .unwrap_or(false);
    if !looks_like_defender {
        return report(
            TestCode::WrongHost,
            "Wrong host or region",
            format!(
                "{api_host} answered, but not with Defender's device list. Check the cloud and the API base URL."
            ),
        );
    }
    if !roles.missing.is_empty() {
        return missing_permission_report(roles.granted, roles.missing);
    }
    let required = roles.required;
    TestReport {
        granted_roles: roles.granted,
        ..report(
            TestCode::Connected,
            "Connected",
            format!(
                "Signed in and read the device list at {api_host}. All {} permission{} the selected data needs {} granted.",
                required,
                if required == 1 { "" } else { "s" },
                if required == 1 { "is" } else { "are" },
            ),
        )
    }
}

/// The roles looked enough for the call, yet Defender refused it: the report names what is
/// missing (Machine.Read.All when the roles named nothing) and passes on Defender's own words.
fn forbidden_report(body: &str, roles: Roles) -> TestReport {
    let named = defender_error_message(body);
    let mut missing = roles.missing;
    if missing.is_empty() {
        missing.push(MACHINE_READ.name.to_owned());
    }
    TestReport {
        detail: format!(
            "{} {}",
            missing_detail(&missing),
            named
                .map(|message| format!("Defender said: {message}"))
                .unwrap_or_default()
        )
        .trim()
        .to_owned(),
        ..missing_permission_report(roles.granted, missing)
    }
}

fn auth_failure_report(target: &ProbeTarget<'_>, failure: &AuthFailure) -> TestReport {
    let login_host = host_of(&target.endpoints.authority);
    match failure {
        AuthFailure::UnknownTenant { malformed: true } => report(TestCode::UnknownTenant, "Unknown tenant", format!(
            "Entra ID does not accept \"{}\" as a tenant. Use the Directory (tenant) ID GUID or a verified domain.", target.tenant_id
        )),
        AuthFailure::UnknownTenant { malformed: false } => report(TestCode::UnknownTenant, "Unknown tenant", format!(
            "Entra ID ({login_host}) has no tenant \"{}\". Check the Directory (tenant) ID; US Government tenants also need the matching cloud ({}).",
            target.tenant_id, target.cloud.label()
        )),
        AuthFailure::UnknownClient => report(TestCode::UnknownClient, "Unknown application", format!(
            "Tenant {} has no application with client ID {}. Check the Application (client) ID and that the app is registered in this tenant.",
            target.tenant_id, target.client_id
        )),
        AuthFailure::WrongSecret => report(TestCode::WrongSecret, "Wrong client secret",
            "Entra ID rejected the client secret. Paste the secret's Value (not its Secret ID) — update it in Edit.".to_owned()),
        AuthFailure::ExpiredSecret => report(TestCode::ExpiredSecret, "Client secret expired",
            "The client secret has expired. Create a new one under Certificates & secrets in the app registration, then update it in Edit.".to_owned()),
        AuthFailure::CertificateNotRegistered => report(TestCode::CertificateNotRegistered, "Certificate not registered",
            "Entra ID does not know this certificate for the app. Upload the certificate (its .cer or .pem, not the key) under Certificates & secrets → Certificates in the app registration, or import the certificate that is registered.".to_owned()),
        AuthFailure::CertificateExpired => report(TestCode::CertificateExpired, "Certificate expired",
            "The certificate registered with the app has expired. Create a new certificate, upload it under Certificates & secrets, then import it in Edit.".to_owned()),
        AuthFailure::WrongKey => report(TestCode::WrongKey, "Wrong private key",
            "Entra ID knows the certificate but the signature does not verify with it: the private key is not this certificate's. Import the certificate together with its own key in Edit.".to_owned()),
        AuthFailure::ClockSkew => report(TestCode::ClockSkew, "Clock out of step",
            "Entra ID found the sign-in not yet valid or already expired: this computer's clock is off by more than a few minutes. Set the clock right (turn on network time sync) and test again.".to_owned()),
        AuthFailure::KeyUnusable => report(TestCode::WrongKey, "Private key unusable",
            "The stored private key cannot sign (damaged or not an RSA key). Import the certificate and its key again in Edit.".to_owned()),
        AuthFailure::UnknownResource { aadsts, description } => report(TestCode::WrongHost, "API not found in tenant", format!(
            "Entra ID does not know the Defender API resource in this tenant{}: {description} Check the cloud (Commercial, GCC, GCC High, DoD).",
            aadsts.map(|code| format!(" (AADSTS{code})")).unwrap_or_default()
        )),
        AuthFailure::Throttled { retry_after_secs } => throttled_report(&login_host, *retry_after_secs),
        AuthFailure::Transport(transport) => transport_report(&login_host, transport),
        AuthFailure::NotEntra { detail } => report(TestCode::WrongHost, "Wrong login authority", format!(
            "{login_host} is not answering like Entra ID's token endpoint ({detail}). Check the cloud and the login authority."
        )),
        AuthFailure::Other { error, aadsts, description } => report(TestCode::Unexpected, "Sign-in failed", format!(
            "Entra ID refused the sign-in: {error}{} {description}",
            aadsts.map(|code| format!(" (AADSTS{code})")).unwrap_or_default()
        )),
    }
}

fn transport_report(host: &str, transport: &Transport) -> TestReport {
    match transport {
        Transport::Timeout => report(
            TestCode::Timeout,
            "Timed out",
            format!(
                "{host} did not answer in time. Check the network, proxy or firewall, then try again."
            ),
        ),
        Transport::Dns(reason) => report(
            TestCode::NetworkUnreachable,
            "Network unreachable",
            format!(
                "The name {host} could not be resolved ({reason}). Check the network connection and DNS, or the host name if you overrode it."
            ),
        ),
        Transport::Connect(reason) => report(
            TestCode::NetworkUnreachable,
            "Network unreachable",
            format!(
                "Could not connect to {host} ({reason}). Check the network, proxy or firewall."
            ),
        ),
        Transport::Tls(reason) => report(
            TestCode::TlsFailure,
            "TLS failure",
            format!(
                "The secure connection to {host} failed ({reason}). A TLS-inspecting proxy, a wrong host or an http/https mix-up causes this."
            ),
        ),
        Transport::Other(reason) => report(
            TestCode::NetworkUnreachable,
            "Network error",
            format!("The request to {host} failed ({reason})."),
        ),
    }
}

/// A host that cannot be reached says which proxy or CA file stood in the way.
fn with_network_note(mut report: TestReport, network: Network<'_>) -> TestReport {
    let note = match (report.code, network.proxy_url, network.ca_certificate_file) {
        (TestCode::NetworkUnreachable | TestCode::Timeout, Some(proxy), _) => format!(
            " The call went through the proxy {}: check that it runs and lets this computer through, or remove it in Edit → Advanced.",
            crate::http::redacted(proxy)
        ),
        (TestCode::TlsFailure, _, Some(file)) => format!(
            " The certificates in {file} were trusted too: check that it holds the CA that signed this host's certificate."
        ),
        (TestCode::TlsFailure, _, None) => {
            " If a proxy inspects TLS here, add its CA certificate in Edit → Advanced.".to_owned()
        }
        _ => return report,
    };
    report.detail.push_str(&note);
    report
}

/// The connection's proxy or CA file could not even be set up: nothing was sent.
pub fn network_settings_report(problem: &str, network: Network<'_>) -> TestReport {
    let (code, title) = if network.ca_certificate_file.is_some() {
        (TestCode::TlsFailure, "CA certificate file unusable")
    } else {
        (TestCode::NetworkUnreachable, "Proxy unusable")
    };
    report(
        code,
        title,
        format!(
            "{} Nothing was sent. Fix it in Edit → Advanced.",
            sentence(problem)
        ),
    )
}

/// `text` with a capital first letter and a final full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim_end_matches('.').chars();
    let mut out: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    out.push('.');
    out
}

fn throttled_report(host: &str, retry_after_secs: Option<u64>) -> TestReport {
    report(
        TestCode::Throttled,
        "Throttled",
        match retry_after_secs {
            Some(secs) => format!("{host} asked to slow down (429). Try again in {secs} s."),
            None => format!("{host} asked to slow down. Try again in a minute."),
        },
    )
}

/// Whether the report's missing roles include the legacy hunting API's, which Graph may cover.
pub(crate) fn lacks_hunting_role(report: &TestReport) -> bool {
    report.code == TestCode::MissingPermission
        && report
            .missing_roles
            .iter()
            .any(|role| role == ADVANCED_QUERY_READ.name)
}

/// The report once advanced hunting is known to go to Microsoft Graph (its
/// `ThreatHunting.Read.All` is in the Graph token, which the probe does not read): the legacy
/// API's `AdvancedQuery.Read.All` is no longer missing, and a report that lacked only it is a
/// connected one.
pub(crate) fn hunting_covered_by_graph(mut report: TestReport) -> TestReport {
    if report.code != TestCode::MissingPermission {
        return report;
    }
    report
        .missing_roles
        .retain(|role| role != ADVANCED_QUERY_READ.name);
    if report.missing_roles.is_empty() {
        TestReport {
            granted_roles: std::mem::take(&mut report.granted_roles),
            data: std::mem::take(&mut report.data),
            ..report_at(
                TestCode::Connected,
                "Connected",
                "Signed in and read the device list. Every permission the selected data needs is granted (advanced hunting through Microsoft Graph instead of AdvancedQuery.Read.All).".to_owned(),
                &report,
            )
        }
    } else {
        report.detail = missing_detail(&report.missing_roles);
        report
    }
}

/// [`report`] with the time and duration of `measured`.
fn report_at(code: TestCode, title: &str, detail: String, measured: &TestReport) -> TestReport {
    TestReport {
        tested_at: measured.tested_at,
        duration_ms: measured.duration_ms,
        ..report(code, title, detail)
    }
}

fn missing_permission_report(granted: Vec<String>, missing: Vec<String>) -> TestReport {
    TestReport {
        detail: missing_detail(&missing),
        granted_roles: granted,
        missing_roles: missing,
        ..report(
            TestCode::MissingPermission,
            "Missing permission",
            String::new(),
        )
    }
}

fn missing_detail(missing: &[String]) -> String {
    format!(
        "The app registration lacks {}. Add {} under API permissions → APIs my organization uses → WindowsDefenderATP → Application permissions, then grant admin consent.",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    )
}

fn report(code: TestCode, title: &str, detail: String) -> TestReport {
    TestReport {
        ok: code == TestCode::Connected,
        code,
        title: title.to_owned(),
        detail,
        granted_roles: Vec::new(),
        missing_roles: Vec::new(),
        tested_at: Utc::now(),
        duration_ms: 0,
        data: Vec::new(),
    }
}

fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|url| {
            url.host_str().map(|host| match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        })
        .unwrap_or_else(|| url.to_owned())
}

fn retry_after_secs(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `{"error":{"code":..,"message":..}}` → the message.
fn defender_error_message(body: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    json.pointer("/error/message")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lacking(missing: &[&str]) -> TestReport {
        let granted = vec!["Machine.Read.All".to_owned()];
        missing_permission_report(granted, missing.iter().map(|&m| m.to_owned()).collect())
    }

    #[test]
    fn graph_hunting_makes_the_legacy_hunting_role_unneeded() {
        // Only the legacy role was missing: with hunting on Graph the test is a success.
        let report = lacking(&[ADVANCED_QUERY_READ.name]);
        assert!(lacks_hunting_role(&report));
        let covered = hunting_covered_by_graph(report.clone());
        assert!(covered.ok, "{covered:?}");
        assert_eq!(covered.code, TestCode::Connected);
        assert!(covered.missing_roles.is_empty());
        assert_eq!(covered.granted_roles, report.granted_roles);
        assert_eq!(covered.tested_at, report.tested_at);
        assert!(
            covered.detail.contains("Microsoft Graph"),
            "{}",
            covered.detail
        );

        // Another role is missing too: still a missing permission, naming only that one.
        let report = lacking(&["Alert.Read.All", ADVANCED_QUERY_READ.name]);
        let covered = hunting_covered_by_graph(report);
        assert_eq!(covered.code, TestCode::MissingPermission);
        assert_eq!(covered.missing_roles, vec!["Alert.Read.All".to_owned()]);
        assert!(
            covered.detail.contains("Alert.Read.All"),
            "{}",
            covered.detail
        );
        assert!(
            !covered.detail.contains(ADVANCED_QUERY_READ.name),
            "{}",
            covered.detail
        );

        // Nothing to do for a report that lacks no hunting role.
        let report = lacking(&["Alert.Read.All"]);
        assert!(!lacks_hunting_role(&report));
        assert_eq!(hunting_covered_by_graph(report.clone()), report);
    }
}
