//! Entra ID: the client-credentials token endpoints (v1 and v2) and the API's bearer checks.
//!
//! Access tokens are JWTs shaped like the v1.0 app-only tokens Entra issues for the
//! WindowsDefenderATP resource (docs/defender-api.md#access-tokens). The header claims RS256
//! like the real ones, but the signature is an HMAC-SHA256 under a key derived from the seed:
//! only the simulator verifies it, and no JWKS is served.

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Ctx, Reply, Shared};
use crate::config::AppRegistration;
use crate::format;

/// The WindowsDefenderATP first-party application id.
pub(crate) const WINDOWS_DEFENDER_ATP_APP_ID: &str = "fc780465-2017-40d4-a0c5-307022471b92";

/// Resource identifiers accepted for the Defender API (docs/defender-api.md#clouds-and-hosts).
pub(crate) const MDE_RESOURCES: &[&str] = &[
    "https://api.securitycenter.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "https://api.securitycenter.windows.com",
    "https://api-gcc.securitycenter.microsoft.us",
    "https://api-gov.securitycenter.microsoft.us",
    "https://api.securitycenter.microsoft.us",
    WINDOWS_DEFENDER_ATP_APP_ID,
];

/// Resource identifiers accepted for Microsoft Graph.
pub(crate) const GRAPH_RESOURCES: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "00000003-0000-0000-c000-000000000000",
];

/// Which API a token is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    Mde,
    Graph,
}

fn normalize_resource(resource: &str) -> String {
    resource.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The canonical spelling of an accepted resource, or `None`.
pub(crate) fn known_resource(shared: &Shared, resource: &str) -> Option<(String, Audience)> {
    let wanted = normalize_resource(resource);
    if wanted == normalize_resource(&shared.url) {
        return Some((shared.url.clone(), Audience::Mde));
    }
    for (list, audience) in [
        (MDE_RESOURCES, Audience::Mde),
        (GRAPH_RESOURCES, Audience::Graph),
    ] {
        if let Some(found) = list
            .iter()
            .find(|known| known.to_ascii_lowercase() == wanted)
        {
            return Some(((*found).to_owned(), audience));
        }
    }
    None
}

/// Whether a token's `aud` lets it call `audience`'s API. The simulator's own URL works for both.
fn audience_ok(shared: &Shared, aud: &str, audience: Audience) -> bool {
    match known_resource(shared, aud) {
        Some((canonical, _)) if canonical == shared.url => true,
        Some((_, found)) => found == audience,
        None => false,
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block.iter().map(|byte| byte ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|byte| byte ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn deterministic_guid(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Issues an access token; returns (token, iat, exp).
fn mint(
    shared: &Shared,
    app: &AppRegistration,
    aud: &str,
    appidacr: &str,
) -> (String, DateTime<Utc>, DateTime<Utc>) {
    let now = shared.clock.now();
    let iat = now.timestamp();
    let lifetime = shared.config.token_lifetime.as_secs() as i64;
    let serial = shared.token_serial.fetch_add(1, Ordering::SeqCst);
    let tid = &shared.tenant_id;
    let oid = deterministic_guid(&["oid", tid, &app.client_id]);
    let header = json!({"typ": "JWT", "alg": "RS256", "x5t": "sim-key-1", "kid": "sim-key-1"});
    let claims = json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "aio": format!("E2Sim{serial}"),
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": appidacr,
        "idp": format!("https://sts.windows.net/{tid}/"),
        "oid": oid,
        "rh": "0.AAAA-sim.",
        "roles": app.roles,
        "sub": oid,
        "tenant_region_scope": "NA",
        "tid": tid,
        "uti": format!("sim{serial}"),
        "ver": "1.0",
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = hmac_sha256(&shared.signing_key, signing_input.as_bytes());
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    shared
        .issued_tokens
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(token.clone());
    let exp = DateTime::from_timestamp(iat + lifetime, 0).unwrap_or(now);
    let iat = DateTime::from_timestamp(iat, 0).unwrap_or(now);
    (token, iat, exp)
}

/// An Entra error answer (docs/defender-api.md#entra-errors).
fn entra_error(shared: &Shared, status: u16, error: &str, code: u32, message: &str) -> Reply {
    let now = shared.clock.now();
    let stamp = format::timestamp_entra(now);
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let description = format!(
        "AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}"
    );
    let mut obj = format::Obj::new();
    obj.str("error", error)
        .str("error_description", &description)
        .raw("error_codes", &format!("[{code}]"))
        .str("timestamp", &stamp)
        .str("trace_id", &trace_id)
        .str("correlation_id", &correlation_id)
        .str(
            "error_uri",
            &format!("https://login.microsoftonline.com/error?code={code}"),
        );
    let mut reply = Reply::json(status, obj.finish());
    reply.entra_headers(&trace_id);
    reply
}

/// Entra's tenant throttling (AADSTS90055; status guessed, docs/defender-api.md#entra-errors).
pub(crate) fn tenant_throttled(shared: &Shared) -> Reply {
    entra_error(
        shared,
        429,
        "temporarily_unavailable",
        90_055,
        "TenantThrottlingError - There are too many incoming requests. Please try again later.",
    )
}

fn is_guid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok() && text.len() == 36
}

fn is_dns_name(text: &str) -> bool {
    text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
        })
}

/// Decodes `application/x-www-form-urlencoded` (keys case-sensitive, as Entra reads them).
fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `POST /{tenant}/oauth2/token` (v1) and `/{tenant}/oauth2/v2.0/token` (v2).
pub(crate) fn token(ctx: &mut Ctx<'_>, tenant: &str, v2: bool) -> Reply {
    let shared = ctx.shared;
    let tenant_lower = tenant.to_ascii_lowercase();
    if matches!(
        tenant_lower.as_str(),
        "common" | "organizations" | "consumers"
    ) {
        return entra_error(
            shared,
            400,
            "invalid_request",
            9_001_023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        );
    }
    if !is_guid(tenant) && !is_dns_name(tenant) {
        return entra_error(
            shared,
            400,
            "invalid_request",
            900_023,
            &format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        );
    }
    if tenant_lower != shared.tenant_id && tenant_lower != shared.tenant_domain {
        return entra_error(
            shared,
            400,
            "invalid_tenant",
            90_002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        );
    }
    let fields = form(&ctx.body);
    let (mut client_id, mut client_secret) = (
        field(&fields, "client_id").map(str::to_owned),
        field(&fields, "client_secret").map(str::to_owned),
    );
    if let Some((basic_id, basic_secret)) = ctx.basic_credentials() {
        client_id.get_or_insert(basic_id);
        client_secret.get_or_insert(basic_secret);
    }
    let Some(grant_type) = field(&fields, "grant_type") else {
        return missing(shared, "grant_type");
    };
    if grant_type != "client_credentials" {
        return entra_error(
            shared,
            400,
            "unsupported_grant_type",
            70_003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        );
    }
    let Some(client_id) = client_id else {
        return missing(shared, "client_id");
    };
    ctx.client_id = Some(client_id.clone());
    let app = shared
        .apps
        .read()
        .expect("apps lock poisoned")
        .iter()
        .find(|app| app.client_id.eq_ignore_ascii_case(&client_id))
        .cloned();
    let Some(app) = app else {
        return entra_error(
            shared,
            400,
            "unauthorized_client",
            700_016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    };
    let appidacr = match check_credentials(ctx, &fields, &app, client_secret.as_deref(), tenant, v2)
    {
        Ok(appidacr) => appidacr,
        Err(reply) => return reply,
    };
    let resource = if v2 {
        if field(&fields, "resource").is_some() {
            return entra_error(
                shared,
                400,
                "invalid_request",
                901_002,
                "The 'resource' request parameter is not supported.",
            );
        }
        let Some(scope) = field(&fields, "scope") else {
            return missing(shared, "scope");
        };
        let scopes: Vec<&str> = scope.split_whitespace().collect();
        let resources: Vec<&str> = scopes
            .iter()
            .filter_map(|scope| {
                let lower = scope.to_ascii_lowercase();
                lower
                    .ends_with("/.default")
                    .then(|| &scope[..scope.len() - "/.default".len()])
            })
            .collect();
        if scopes.len() != 1 || resources.len() != 1 {
            if resources.len() > 1 {
                return entra_error(
                    shared,
                    400,
                    "invalid_scope",
                    700_022,
                    "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope ".to_owned().as_str(),
                );
            }
            return entra_error(
                shared,
                400,
                "invalid_scope",
                70_011,
                &format!(
                    "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            );
        }
        resources[0].to_owned()
    } else {
        let Some(resource) = field(&fields, "resource") else {
            return missing(shared, "resource");
        };
        resource.to_owned()
    };
    let Some((canonical, _)) = known_resource(shared, &resource) else {
        return entra_error(
            shared,
            400,
            "invalid_resource",
            500_011,
            &format!(
                "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                shared.tenant_display_name
            ),
        );
    };
    // The JWT `aud` echoes the resource as asked for (minus a trailing slash).
    let aud = if canonical == shared.url {
        canonical
    } else {
        resource.trim_end_matches('/').to_owned()
    };
    let (token, iat, exp) = mint(shared, &app, &aud, appidacr);
    let lifetime = (exp - iat).num_seconds();
    let body = if v2 {
        let mut obj = format::Obj::new();
        obj.str("token_type", "Bearer")
            .int("expires_in", lifetime)
            .int("ext_expires_in", lifetime)
            .str("access_token", &token);
        obj.finish()
    } else {
        let mut obj = format::Obj::new();
        obj.str("token_type", "Bearer")
            .str("expires_in", &lifetime.to_string())
            .str("ext_expires_in", &lifetime.to_string())
            .str("expires_on", &exp.timestamp().to_string())
            .str("not_before", &iat.timestamp().to_string())
            .str("resource", &aud)
            .str("access_token", &token);
        obj.finish()
    };
    let mut reply = Reply::json(200, body);
    reply.entra_headers(&uuid::Uuid::new_v4().to_string());
    reply
}

fn missing(shared: &Shared, name: &str) -> Reply {
    entra_error(
        shared,
        400,
        "invalid_request",
        900_144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// Checks the secret or the client assertion; returns `appidacr` ("1" secret, "2" certificate).
fn check_credentials(
    ctx: &Ctx<'_>,
    fields: &[(String, String)],
    app: &AppRegistration,
    secret: Option<&str>,
    tenant: &str,
    v2: bool,
) -> Result<&'static str, Reply> {
    let shared = ctx.shared;
    if let Some(assertion) = field(fields, "client_assertion") {
        if field(fields, "client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(missing(shared, "client_assertion_type"));
        }
        return check_assertion(ctx, app, assertion, tenant, v2).map(|()| "2");
    }
    let Some(secret) = secret else {
        return Err(entra_error(
            shared,
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if secret != app.secret {
        return Err(entra_error(
            shared,
            401,
            "invalid_client",
            7_000_215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }
    if app.secret_expired {
        return Err(entra_error(
            shared,
            401,
            "invalid_client",
            7_000_222,
            &format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                app.client_id
            ),
        ));
    }
    Ok("1")
}

/// A certificate registered with an app: its thumbprints, RSA public key and validity.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredCertificate {
    pub(crate) client_id: String,
    pub(crate) sha256: [u8; 32],
    pub(crate) sha1: [u8; 20],
    /// PKCS#1 `RSAPublicKey` DER.
    pub(crate) public_key: Vec<u8>,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl RegisteredCertificate {
    /// Reads a PEM (first certificate) or DER certificate with an RSA key.
    pub(crate) fn parse(client_id: &str, certificate: &[u8]) -> anyhow::Result<Self> {
        use x509_parser::prelude::FromDer;
        let der = if certificate.starts_with(b"-----") {
            let (_, pem) = x509_parser::pem::parse_x509_pem(certificate)
                .map_err(|error| anyhow::anyhow!("not a PEM certificate: {error}"))?;
            pem.contents
        } else {
            certificate.to_vec()
        };
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(&der)
            .map_err(|error| anyhow::anyhow!("not an X.509 certificate: {error}"))?;
        let spki = parsed.public_key();
        if !matches!(
            spki.parsed(),
            Ok(x509_parser::public_key::PublicKey::RSA(_))
        ) {
            anyhow::bail!(
                "Entra ID accepts RSA certificates for client assertions; this key is not RSA"
            );
        }
        Ok(RegisteredCertificate {
            client_id: client_id.to_owned(),
            sha256: Sha256::digest(&der).into(),
            sha1: sha1::Sha1::digest(&der).into(),
            public_key: spki.subject_public_key.data.to_vec(),
            not_before: parsed.validity().not_before.timestamp(),
            not_after: parsed.validity().not_after.timestamp(),
        })
    }
}

/// The clock skew allowed on an assertion's `nbf` and `exp`: five minutes, as
/// Microsoft.IdentityModel's default (docs/defender-api.md#certificate-credentials).
const ASSERTION_SKEW_SECS: i64 = 300;

/// A certificate assertion, checked as Entra ID does (docs/defender-api.md#certificate-credentials):
/// structure (AADSTS50027), a thumbprint registered with this app (AADSTS700027 "key was not
/// found"), the certificate's end date (AADSTS700027 "key used is expired"), the signature
/// (AADSTS700027 "verify the signature failed"), `aud` (AADSTS700023), `iss`/`sub`
/// (AADSTS700021), `nbf`/`exp` with five minutes' skew (AADSTS700024).
fn check_assertion(
    ctx: &Ctx<'_>,
    app: &AppRegistration,
    assertion: &str,
    tenant: &str,
    v2: bool,
) -> Result<(), Reply> {
    let shared = ctx.shared;
    let now = shared.clock.now();
    let refuse =
        |code: u32, message: &str| entra_error(shared, 401, "invalid_client", code, message);
    let malformed = || {
        entra_error(
            shared,
            400,
            "invalid_request",
            50_027,
            "JWT token is invalid or malformed.",
        )
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed());
    }
    let decode = |part: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (Some(header), Some(claims)) = (decode(parts[0]), decode(parts[1])) else {
        return Err(malformed());
    };
    let thumbprint_sha256 = header.get("x5t#S256").and_then(Value::as_str);
    let thumbprint_sha1 = header.get("x5t").and_then(Value::as_str);
    let shown = thumbprint_sha256
        .or(thumbprint_sha1)
        .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
        .map(hex::encode_upper)
        .unwrap_or_default();
    let registered = shared
        .certificates
        .read()
        .expect("certificates lock poisoned")
        .iter()
        .filter(|known| known.client_id.eq_ignore_ascii_case(&app.client_id))
        .find(|known| {
            thumbprint_sha256 == Some(URL_SAFE_NO_PAD.encode(known.sha256).as_str())
                || thumbprint_sha1 == Some(URL_SAFE_NO_PAD.encode(known.sha1).as_str())
        })
        .cloned();
    let keys_url = format!(
        "Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.",
        app.client_id
    );
    let Some(registered) = registered else {
        return Err(refuse(
            700_027,
            &format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{shown}', {keys_url}]"
            ),
        ));
    };
    let found_key = format!(
        "Found key 'Start={}, End={}'",
        format::timestamp_entra(DateTime::from_timestamp(registered.not_before, 0).unwrap_or(now)),
        format::timestamp_entra(DateTime::from_timestamp(registered.not_after, 0).unwrap_or(now)),
    );
    if registered.not_after <= now.timestamp() {
        return Err(refuse(
            700_027,
            &format!(
                "The certificate with identifier used to sign the client assertion is expired on application. [Reason - The key used is expired., Thumbprint of key used by client: '{shown}', {found_key}, {keys_url}]"
            ),
        ));
    }
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Some(jsonwebtoken::Algorithm::RS256),
        Some("PS256") => Some(jsonwebtoken::Algorithm::PS256),
        _ => None,
    };
    let signed = algorithm.is_some_and(|algorithm| {
        jsonwebtoken::crypto::verify(
            parts[2],
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &jsonwebtoken::DecodingKey::from_rsa_der(&registered.public_key),
            algorithm,
        )
        .unwrap_or(false)
    });
    if !signed {
        return Err(refuse(
            700_027,
            &format!(
                "Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to verify the signature failed., Thumbprint of key used by client: '{shown}', {found_key}, {keys_url}]"
            ),
        ));
    }
    let expected_aud = format!(
        "{}/{tenant}/oauth2/{}token",
        shared.url,
        if v2 { "v2.0/" } else { "" }
    );
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let aud_ok = aud.eq_ignore_ascii_case(&expected_aud)
        || aud.to_ascii_lowercase().ends_with(&format!(
            "/{}/oauth2/{}token",
            tenant.to_ascii_lowercase(),
            if v2 { "v2.0/" } else { "" }
        ));
    if !aud_ok {
        return Err(refuse(
            700_023,
            "Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !iss.eq_ignore_ascii_case(&app.client_id) || !sub.eq_ignore_ascii_case(&app.client_id) {
        return Err(refuse(
            700_021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        ));
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    let at = now.timestamp();
    if exp + ASSERTION_SKEW_SECS <= at || nbf - ASSERTION_SKEW_SECS > at {
        let time = |secs: i64| {
            DateTime::from_timestamp(secs, 0)
                .unwrap_or(now)
                .format("%Y-%m-%dT%H:%M:%S.0000000Z")
                .to_string()
        };
        return Err(refuse(
            700_024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                time(at),
                time(nbf),
                time(exp)
            ),
        ));
    }
    Ok(())
}

/// The clock skew allowed on a token's `nbf`.
const NBF_SKEW_SECS: i64 = 300;

/// What the API learnt from a valid bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) client_id: String,
    pub(crate) roles: Vec<String>,
}

/// Why a bearer token was refused; becomes a 401 or 403.
pub(crate) enum Refusal {
    Unauthorized(&'static str),
    WrongAudience(String),
}

/// Validates `Authorization: Bearer …` for an API.
pub(crate) fn check_bearer(ctx: &Ctx<'_>, audience: Audience) -> Result<Caller, Refusal> {
    let shared = ctx.shared;
    let header = ctx
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(Refusal::Unauthorized(
            "Unauthorized (missing authorization header)",
        ))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or(Refusal::Unauthorized(
            "Unauthorized (invalid authorization header)",
        ))?
        .trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(Refusal::Unauthorized(
            "Unauthorized (invalid or expired authorization header)",
        ));
    }
    let expected = hmac_sha256(
        &shared.signing_key,
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
    );
    if URL_SAFE_NO_PAD.decode(parts[2]).ok().as_deref() != Some(expected.as_slice()) {
        return Err(Refusal::Unauthorized(
            "Unauthorized (invalid or expired authorization header)",
        ));
    }
    let claims: Value = URL_SAFE_NO_PAD
        .decode(parts[1])
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Refusal::Unauthorized(
            "Unauthorized (invalid or expired authorization header)",
        ))?;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let serial: u64 = claims
        .get("uti")
        .and_then(Value::as_str)
        .and_then(|uti| uti.strip_prefix("sim"))
        .and_then(|serial| serial.parse().ok())
        .unwrap_or(0);
    let now = shared.clock.now().timestamp();
    if exp <= now || serial < shared.faults.revoked_below() {
        return Err(Refusal::Unauthorized(
            "Unauthorized (invalid or expired authorization header)",
        ));
    }
    // Not valid yet: only after the clock jumped back past the token's `nbf`. Token validation
    // (Microsoft.IdentityModel) allows five minutes of clock skew by default.
    let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if nbf > now + NBF_SKEW_SECS {
        return Err(Refusal::Unauthorized(
            "Unauthorized (invalid or expired authorization header)",
        ));
    }
    if claims.get("tid").and_then(Value::as_str) != Some(shared.tenant_id.as_str()) {
        return Err(Refusal::Unauthorized(
            "Unauthorized (invalid or expired authorization header)",
        ));
    }
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !audience_ok(shared, aud, audience) {
        return Err(Refusal::WrongAudience(aud.to_owned()));
    }
    Ok(Caller {
        client_id: claims
            .get("appid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        roles: claims
            .get("roles")
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Identity derived from the seed: (tenant id, client id, secret, signing key).
pub(crate) fn identity(seed: u64) -> (String, String, String, [u8; 32]) {
    let seed_text = seed.to_string();
    let tenant_id = deterministic_guid(&["tenant", &seed_text]);
    let client_id = deterministic_guid(&["client", &seed_text]);
    let digest = Sha256::digest(format!("secret/{seed}").as_bytes());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
    let chars: String = digest
        .iter()
        .chain(Sha256::digest(digest).iter())
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    // Entra secret values look like `Abc8Q~…`: three characters, a two-character tag, `~`, rest.
    let secret = format!("{}8Q~{}", &chars[..3], &chars[3..37]);
    let key: [u8; 32] = Sha256::digest(format!("signing/{seed}").as_bytes()).into();
    (tenant_id, client_id, secret, key)
}
