//! Entra ID (Azure AD) sign-in with the OAuth2 client-credentials grant (v2 endpoint), and the
//! classification of its failures into what a person can act on.
//!
//! Entra ID reports problems as `{"error": ..., "error_description": "AADSTS<code>: ..."}`;
//! we key on the AADSTS code, not on the text (docs/defender-api.md#entra-errors).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use oauth2::http::StatusCode;
use oauth2::{
    AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponse, BasicTokenResponse},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::{Credential, Endpoints};

/// An access token and what it says about itself.
pub(crate) struct AccessToken {
    pub secret: SecretString,
    pub expires_at: DateTime<Utc>,
    pub claims: TokenClaims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// The claims of an app-only Defender token that the client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct TokenClaims {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub aud: String,
    #[serde(default)]
    pub tid: String,
}

/// Why no token was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    UnknownTenant {
        malformed: bool,
    },
    UnknownClient,
    WrongSecret,
    ExpiredSecret,
    /// The certificate named by the assertion is not registered with the app (AADSTS700027,
    /// "The key was not found").
    CertificateNotRegistered,
    /// The registered certificate has ended (AADSTS700027, "The key used is expired").
    CertificateExpired,
    /// The assertion's signature does not verify with the registered certificate: the key is
    /// not that certificate's (AADSTS700027, "verify the signature failed").
    WrongKey,
    /// The assertion is not yet valid or no longer valid by Entra ID's clock: this computer's
    /// clock is off (AADSTS700024).
    ClockSkew,
    /// The stored key could not sign an assertion (damaged, or not an RSA key).
    KeyUnusable,
    /// The token resource (scope) is unknown to the tenant: usually the wrong cloud.
    UnknownResource {
        aadsts: Option<u32>,
        description: String,
    },
    Throttled {
        retry_after_secs: Option<u64>,
    },
    Transport(Transport),
    /// The server answered, but not like Entra ID (an HTML page, a 404, …).
    NotEntra {
        detail: String,
    },
    Other {
        error: String,
        aadsts: Option<u32>,
        description: String,
    },
}

/// Failures below HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Timeout,
    Dns(String),
    Tls(String),
    Connect(String),
    Other(String),
}

/// The lifetime assumed when Entra ID's answer has no `expires_in`
/// (docs/defender-api.md#access-tokens).
const DEFAULT_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3_599);
/// The longest lifetime an access token can have: Entra's configurable lifetimes end at one day
/// (docs/defender-api.md#access-tokens). A longer `expires_in` is a broken or hostile answer;
/// believed, it would overflow the date arithmetic or keep a token past its real expiry.
const MAX_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// When a token issued now for `expires_in` expires: the lifetime clamped to one day.
pub(crate) fn expiry(now: DateTime<Utc>, expires_in: Option<std::time::Duration>) -> DateTime<Utc> {
    let lifetime = expires_in
        .unwrap_or(DEFAULT_TOKEN_LIFETIME)
        .min(MAX_TOKEN_LIFETIME);
    // Within a day both steps succeed; the fallbacks only keep this total.
    chrono::Duration::from_std(lifetime)
        .ok()
        .and_then(|lifetime| now.checked_add_signed(lifetime))
        .unwrap_or(now)
}

/// The largest token answer read. Entra ID's are a few kB (a JWT with its claims, twice at
/// most); anything near this is not Entra ID, and reading it whole would let whatever answers
/// at the login authority fill the memory.
pub(crate) const MAX_TOKEN_ANSWER_BYTES: u64 = 1024 * 1024;

/// Why the token request got no answer to read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenHttpError {
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    #[error(
        "an answer larger than {} kB, not Entra ID's token answer (a few kB): a proxy's or another service's at that address",
        MAX_TOKEN_ANSWER_BYTES / 1024
    )]
    TooLarge,
    #[error("an answer that could not be read as HTTP: {0}")]
    Http(#[from] oauth2::http::Error),
}

/// The HTTP client oauth2 calls: ours, with the body read through
/// [`crate::http::read_capped`] (the crate's own reqwest client reads any length). A type, not
/// a closure: a closure's borrowed future is not `Send` for every lifetime oauth2 asks. It
/// keeps the answer's status: oauth2 reports an unreadable body the same way for a 200 and a
/// 400, and only a success may be read leniently as a token ([`token_answer`]).
struct CappedTokenClient<'a> {
    http: &'a reqwest::Client,
    status: std::sync::OnceLock<StatusCode>,
}

impl<'c> oauth2::AsyncHttpClient<'c> for CappedTokenClient<'_> {
    type Error = TokenHttpError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, TokenHttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let answer = send_token_request(self.http, request).await?;
            let _ = self.status.set(answer.status());
            Ok(answer)
        })
    }
}

/// oauth2's HTTP call, with the body read through [`crate::http::read_capped`] (the crate's
/// own reqwest client reads any length).
async fn send_token_request(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, TokenHttpError> {
    let response = http.execute(request.try_into()?).await?;
    let mut answer = oauth2::http::Response::builder()
        .status(response.status())
        .version(response.version());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = match crate::http::read_capped(response, MAX_TOKEN_ANSWER_BYTES).await {
        Ok(body) => body,
        Err(crate::http::BodyError::TooLarge) => return Err(TokenHttpError::TooLarge),
        Err(crate::http::BodyError::Broken(error)) => return Err(error.into()),
    };
    Ok(answer.body(body)?)
}

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid: Microsoft asks for 5–10 minutes at most
/// (docs/defender-api.md#certificate-credentials); it is sent at once.
const ASSERTION_LIFETIME_SECS: i64 = 5 * 60;

/// Requests a token for `endpoints.scope()` with the client secret or a certificate's signed
/// assertion.
pub(crate) async fn request_token(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    tenant: &str,
    client_id: &str,
    credential: &Credential,
) -> Result<AccessToken, AuthFailure> {
    let token_url_text = endpoints.token_url(tenant);
    let token_url =
        TokenUrl::new(token_url_text.clone()).map_err(|error| AuthFailure::NotEntra {
            detail: format!("the token URL is invalid: {error}"),
        })?;
    // Entra ID accepts Basic auth too, but the body form is what every Microsoft sample uses.
    let mut client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url);
    let mut assertion = None;
    match credential {
        Credential::Secret(secret) => {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        Credential::Certificate { key_pem, x5t_s256 } => {
            assertion = Some(client_assertion(
                key_pem,
                x5t_s256,
                client_id,
                &token_url_text,
                Utc::now(),
            )?);
        }
    }
    let capped = CappedTokenClient {
        http,
        status: std::sync::OnceLock::new(),
    };
    let mut request = client
        .exchange_client_credentials()
        .add_scope(Scope::new(endpoints.scope()));
    if let Some(assertion) = &assertion {
        request = request
            .add_extra_param("client_assertion_type", JWT_BEARER)
            .add_extra_param("client_assertion", assertion.expose_secret().to_owned());
    }
    let response = request.request_async(&capped).await;
    token_answer(capped.status.get().copied(), response)
}

/// The client assertion of a certificate sign-in (docs/defender-api.md#certificate-credentials):
/// PS256 with `x5t#S256`, `aud` the token URL, `iss` = `sub` = the client id, a fresh `jti`,
/// valid from now for [`ASSERTION_LIFETIME_SECS`]. Held as a secret: whoever has it can sign
/// in as the app until it expires.
pub(crate) fn client_assertion(
    key_pem: &SecretString,
    x5t_s256: &str,
    client_id: &str,
    token_url: &str,
    now: DateTime<Utc>,
) -> Result<SecretString, AuthFailure> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        aud: &'a str,
        iss: &'a str,
        sub: &'a str,
        jti: String,
        nbf: i64,
        iat: i64,
        exp: i64,
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose_secret().as_bytes())
        .map_err(|_| AuthFailure::KeyUnusable)?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(x5t_s256.to_owned());
    let issued = now.timestamp();
    let claims = Claims {
        aud: token_url,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: issued,
        iat: issued,
        exp: issued + ASSERTION_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map(SecretString::from)
        .map_err(|_| AuthFailure::KeyUnusable)
}

/// What Entra ID's answer to a token request means: the token with its expiry and claims, or
/// why there is none. `response` is what oauth2 read from the answer (its status, content type
/// and JSON), `status` the answer's status when there was one; the HTTP client's own failure
/// is `Request`.
pub(crate) fn token_answer<RE: std::error::Error + 'static>(
    status: Option<StatusCode>,
    response: Result<BasicTokenResponse, RequestTokenError<RE, BasicErrorResponse>>,
) -> Result<AccessToken, AuthFailure> {
    let success = status.is_some_and(|status| status.is_success());
    match response {
        Ok(token) => accepted_token(token.access_token().secret().clone(), token.expires_in()),
        // Entra ID's v1 endpoint and ADFS send `expires_in` as a string ("3599"), which the
        // oauth2 crate's answer type refuses; any other odd `expires_in` is not worth failing a
        // sign-in over either: the default lifetime applies. Only in a success: a refusal
        // (4xx, 5xx) that carries something like a token is still a refusal.
        Err(RequestTokenError::Parse(_, body)) if success && lenient_token(&body).is_some() => {
            let (access_token, expires_in) = lenient_token(&body).unwrap_or_default();
            accepted_token(access_token, expires_in)
        }
        Err(RequestTokenError::ServerResponse(response)) => {
            let description = response.error_description().cloned().unwrap_or_default();
            Err(classify_entra_error(
                response.error().as_ref(),
                &description,
            ))
        }
        Err(RequestTokenError::Request(error)) => Err(request_failure(&error)),
        Err(RequestTokenError::Parse(_, body)) => Err(AuthFailure::NotEntra {
            detail: not_entra_detail(&body),
        }),
        Err(RequestTokenError::Other(message)) => Err(AuthFailure::NotEntra { detail: message }),
    }
}

/// Why the HTTP call itself brought no answer to read: the network, or an answer larger than
/// a token answer can be ([`CappedTokenClient`]).
fn request_failure(error: &(dyn std::error::Error + 'static)) -> AuthFailure {
    match error.downcast_ref::<TokenHttpError>() {
        Some(TokenHttpError::Transport(error)) => AuthFailure::Transport(classify_transport(error)),
        Some(other) => AuthFailure::NotEntra {
            detail: other.to_string(),
        },
        None => AuthFailure::Transport(classify_transport(error)),
    }
}

/// A token as received, unless it cannot be sent back: an HTTP header carries visible ASCII
/// only, and a token with a line break or control character would fail every call with an
/// error about header values instead of saying where the fault lies.
fn accepted_token(
    access_token: String,
    expires_in: Option<std::time::Duration>,
) -> Result<AccessToken, AuthFailure> {
    if access_token.is_empty() || !access_token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(AuthFailure::NotEntra {
            detail: format!(
                "its access token ({} bytes) is empty or holds characters an HTTP header cannot carry (spaces, line breaks, control or non-ASCII characters)",
                access_token.len()
            ),
        });
    }
    let secret = SecretString::from(access_token);
    let expires_at = expiry(Utc::now(), expires_in);
    let claims = decode_claims(secret.expose_secret()).unwrap_or_default();
    Ok(AccessToken {
        secret,
        expires_at,
        claims,
    })
}

/// `{"access_token": "…", "expires_in": …}` with `expires_in` a number, a string holding one,
/// or anything else (then unknown); `None` without a string `access_token`.
fn lenient_token(body: &[u8]) -> Option<(String, Option<std::time::Duration>)> {
    #[derive(Deserialize)]
    struct Lenient {
        access_token: String,
        #[serde(default)]
        expires_in: serde_json::Value,
    }
    let token: Lenient = serde_json::from_slice(body).ok()?;
    let seconds = match &token.expires_in {
        serde_json::Value::Number(number) => number.as_u64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    Some((
        token.access_token,
        seconds.map(std::time::Duration::from_secs),
    ))
}

/// Maps Entra ID's `error` and AADSTS code to a failure (docs/defender-api.md#entra-errors).
pub(crate) fn classify_entra_error(error: &str, description: &str) -> AuthFailure {
    let aadsts = aadsts_code(description);
    match aadsts {
        Some(90002) => AuthFailure::UnknownTenant { malformed: false },
        Some(900023) => AuthFailure::UnknownTenant { malformed: true },
        Some(700016) => AuthFailure::UnknownClient,
        Some(7000215) | Some(7000218) => AuthFailure::WrongSecret,
        Some(7000222) => AuthFailure::ExpiredSecret,
        // One code, three reasons, told apart by the reason's words
        // (docs/defender-api.md#certificate-credentials); AADSTS50012 is the older code for
        // the same checks.
        Some(700027) | Some(50012) => {
            let lower = description.to_ascii_lowercase();
            if lower.contains("key was not found") || lower.contains("not registered") {
                AuthFailure::CertificateNotRegistered
            } else if lower.contains("expired") {
                AuthFailure::CertificateExpired
            } else if lower.contains("valid time range") {
                AuthFailure::ClockSkew
            } else {
                AuthFailure::WrongKey
            }
        }
        Some(700024) => AuthFailure::ClockSkew,
        Some(500011) | Some(70011) | Some(700022) => AuthFailure::UnknownResource {
            aadsts,
            description: first_line(description),
        },
        Some(90055) => AuthFailure::Throttled {
            retry_after_secs: None,
        },
        _ if error == "temporarily_unavailable" => AuthFailure::Throttled {
            retry_after_secs: None,
        },
        _ if error == "invalid_tenant" => AuthFailure::UnknownTenant { malformed: false },
        _ => AuthFailure::Other {
            error: error.to_owned(),
            aadsts,
            description: first_line(description),
        },
    }
}

/// `AADSTS7000215: Invalid client secret…` → 7000215.
pub(crate) fn aadsts_code(description: &str) -> Option<u32> {
    let rest = &description[description.find("AADSTS")? + "AADSTS".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// What an answer the token endpoint gave that is not Entra ID's was, without a byte of it: a
/// 2xx answer that fails to parse may still hold an access token (a field of an unexpected
/// type next to it), so only its size, its kind and, for a JSON object, its field names are
/// told.
fn not_entra_detail(body: &[u8]) -> String {
    let size = body.len();
    if body.iter().all(u8::is_ascii_whitespace) {
        return "an empty answer".to_owned();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(fields)) => {
            let names: Vec<String> = fields
                .keys()
                .take(12)
                .map(|name| {
                    name.chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(40)
                        .collect()
                })
                .collect();
            format!(
                "a JSON answer that is not Entra ID's token answer ({size} bytes; fields {})",
                names.join(", ")
            )
        }
        Ok(_) => format!("a JSON answer that is not an object ({size} bytes)"),
        Err(_) if body.trim_ascii_start().starts_with(b"<") => format!(
            "a web page, not Entra ID's JSON ({size} bytes): a proxy's page or another service at that address"
        ),
        Err(_) => format!("an answer that is not JSON ({size} bytes)"),
    }
}

/// Reads the payload of a JWT without checking its signature: the API checks it; the client
/// only wants to tell the user which roles the token carries.
pub(crate) fn decode_claims(jwt: &str) -> Option<TokenClaims> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Sorts a transport error by what the user should check. The error chain is inspected
/// because reqwest wraps hyper, which wraps the resolver, rustls or the OS.
pub(crate) fn classify_transport(error: &(dyn std::error::Error + 'static)) -> Transport {
    let mut chain = Vec::new();
    let mut timeout = false;
    let mut connect = false;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(reqwest_error) = error.downcast_ref::<reqwest::Error>() {
            timeout |= reqwest_error.is_timeout();
            connect |= reqwest_error.is_connect();
        }
        chain.push(error.to_string());
        current = error.source();
    }
    let innermost = chain.last().cloned().unwrap_or_default();
    let all = chain.join(": ").to_ascii_lowercase();
    if timeout || all.contains("timed out") {
        Transport::Timeout
    } else if all.contains("dns error")
        || all.contains("failed to lookup address")
        || all.contains("name or service not known")
    {
        Transport::Dns(innermost)
    } else if [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "alert",
    ]
    .iter()
    .any(|word| all.contains(word))
    {
        Transport::Tls(innermost)
    } else if connect {
        Transport::Connect(innermost)
    } else {
        Transport::Other(innermost)
    }
}

#[cfg(test)]
mod tests;
