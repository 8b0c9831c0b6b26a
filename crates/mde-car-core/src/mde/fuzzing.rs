//! Entry points of the fuzz targets (`fuzz/`) and the core's property tests
//! (`tests/core/properties.rs`) into code that is private to `mde` and `auth`: the decoders of
//! Defender's and Entra ID's answers and the nextLink checks. Each wrapper calls the function
//! production calls, on the bytes or text as they arrive, with the same post-decode steps, and
//! returns what came out; none re-implements a check. Only with the `fuzzing` feature.
//!
//! What is already public (`search::Query::parse_explained`, `config::Frequency`,
//! `settings::FileSettings`) is called by the targets directly; only the frequency check needs
//! a helper here, for the connection it is validated in.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use oauth2::http::{Response, StatusCode, header::CONTENT_TYPE};
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenUrl};
use url::Url;

use crate::auth::{self, AuthFailure};
use crate::config::{self, ConnectionDraft, FieldError, Frequency};
use crate::model::{
    Alert, Device, DeviceVulnerability, LogonObservation, NetworkObservation, VulnerabilityChange,
};

use super::hunting::{self, WireHuntingAnswer};
use super::paging;
use super::transport::{self, Attempt};
use super::wire::{
    Interner, Lossy, Page, WireAlert, WireMachine, WireVulnerability, item_id, read_item,
};
use super::{Endpoint, HuntingRow, MdeError};

/// What one page of a list or an export decoded to.
#[derive(Debug)]
pub struct PageItems<T> {
    pub items: Vec<T>,
    /// Items left out: without an id, of the wrong shape, or missing what the type needs.
    pub skipped: u64,
    /// Values left out of kept items (an IP, a MAC or a time that does not parse).
    pub unparsable: u64,
    /// The page's `@odata.nextLink`, unchecked.
    pub next_link: Option<String>,
}

/// A 2xx body as the transport reads it (`transport::decode`): a cut-off or malformed body is
/// the transient network error it is retried as, a well-formed one of the wrong shape the
/// final decode error.
fn decode<T: serde::de::DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, MdeError> {
    transport::decode(endpoint, body).map_err(|attempt| match attempt {
        Attempt::Transient { error, .. }
        | Attempt::Final(error)
        | Attempt::Unauthorized { error, .. } => error,
        Attempt::Throttled(retry_after) => MdeError::Throttled { retry_after },
    })
}

/// One `/api/machines` page (also `findbyip`'s answer): each item as `list_devices` converts
/// it, an item without an id left out as `list_pass` leaves it out.
pub fn machines_page(body: &[u8]) -> Result<PageItems<Device>, MdeError> {
    let page: Page = decode(Endpoint::Machines, body)?;
    let mut lossy = Lossy::default();
    let mut skipped = 0;
    let mut items = Vec::new();
    for item in &page.value {
        let device = item_id(item)
            .and_then(|_| read_item::<WireMachine>(item))
            .and_then(|wire| wire.into_device(&mut lossy));
        match device {
            Some(device) => items.push(device),
            None => skipped += 1,
        }
    }
    Ok(PageItems {
        items,
        skipped,
        unparsable: lossy.unparsable,
        next_link: page.next_link,
    })
}

/// One `/api/alerts` page, each item as `list_alerts` converts it.
pub fn alerts_page(body: &[u8]) -> Result<PageItems<Alert>, MdeError> {
    let page: Page = decode(Endpoint::Alerts, body)?;
    let mut lossy = Lossy::default();
    let mut skipped = 0;
    let mut items = Vec::new();
    for item in &page.value {
        let alert = item_id(item)
            .and_then(|_| read_item::<WireAlert>(item))
            .and_then(|wire| wire.into_alert(&mut lossy));
        match alert {
            Some(alert) => items.push(alert),
            None => skipped += 1,
        }
    }
    Ok(PageItems {
        items,
        skipped,
        unparsable: lossy.unparsable,
        next_link: page.next_link,
    })
}

/// One page of the full vulnerability export, as `vulnerability_export` reads it (rows
/// de-duplicated by their key; a duplicate is neither kept nor skipped).
pub fn vulnerabilities_page(body: &[u8]) -> Result<PageItems<DeviceVulnerability>, MdeError> {
    let page: Page = decode(Endpoint::VulnerabilityExport, body)?;
    let mut lossy = Lossy::default();
    let mut texts = Interner::default();
    let mut seen = HashSet::new();
    let mut skipped = 0;
    let mut items = Vec::new();
    for item in &page.value {
        let Some(wire) = read_item::<WireVulnerability>(item) else {
            skipped += 1;
            continue;
        };
        if !seen.insert(wire.key()) {
            continue;
        }
        match wire.into_vulnerability(&mut texts, &mut lossy) {
            Some(vulnerability) => items.push(vulnerability),
            None => skipped += 1,
        }
    }
    Ok(PageItems {
        items,
        skipped,
        unparsable: lossy.unparsable,
        next_link: page.next_link,
    })
}

/// One page of the vulnerability changes export, as `vulnerability_changes` reads it.
pub fn vulnerability_changes_page(body: &[u8]) -> Result<PageItems<VulnerabilityChange>, MdeError> {
    let page: Page = decode(Endpoint::VulnerabilityChanges, body)?;
    let mut lossy = Lossy::default();
    let mut texts = Interner::default();
    let mut skipped = 0;
    let mut items = Vec::new();
    for item in &page.value {
        let change = read_item::<WireVulnerability>(item)
            .and_then(|wire| wire.into_change(&mut texts, &mut lossy));
        match change {
            Some(change) => items.push(change),
            None => skipped += 1,
        }
    }
    Ok(PageItems {
        items,
        skipped,
        unparsable: lossy.unparsable,
        next_link: page.next_link,
    })
}

/// What one advanced hunting answer gave both history readers.
#[derive(Debug)]
pub struct HuntingAnswer {
    pub rows: usize,
    /// Every row read as a `DeviceNetworkInfo` report, as `network_history` reads it.
    pub network: Vec<NetworkObservation>,
    /// Every row read as a `DeviceLogonEvents` sign-in, as `logons` reads it.
    pub logons: Vec<LogonObservation>,
    pub unparsable: u64,
}

/// An answer of the legacy API or of Graph's `runHuntingQuery` (one decoder reads both), each
/// row read by both history readers.
pub fn hunting_answer(body: &[u8]) -> Result<HuntingAnswer, MdeError> {
    let answer: WireHuntingAnswer = decode(Endpoint::Hunting, body)?;
    // As the client does: a row that is not an object is skipped.
    let rows: Vec<HuntingRow> = answer
        .results
        .into_iter()
        .filter_map(|row| match row {
            serde_json::Value::Object(map) => Some(HuntingRow::from(map)),
            _ => None,
        })
        .collect();
    let mut lossy = Lossy::default();
    let mut shared = hunting::Shared::default();
    let network = rows
        .iter()
        .filter_map(|row| hunting::network_observation(row, &mut shared, &mut lossy))
        .collect();
    let logons = rows
        .iter()
        .filter_map(|row| hunting::logon_observation(row, &mut lossy))
        .collect();
    Ok(HuntingAnswer {
        rows: rows.len(),
        network,
        logons,
        unparsable: lossy.unparsable,
    })
}

/// What a token answer gave, without the token itself.
#[derive(Debug)]
pub struct TokenAnswer {
    pub expires_at: DateTime<Utc>,
    pub roles: Vec<String>,
    pub tenant: String,
}

/// Entra ID's answer to a token request with this status, `Content-Type` and body, read as
/// `auth::request_token` reads it: oauth2 parses it (the same client set-up, its synchronous
/// entry point, which shares the parser of the asynchronous one production awaits), then
/// `auth::token_answer` turns it into a token (expiry, claims) or a failure.
pub fn token_answer(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<TokenAnswer, AuthFailure> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let answer = |_request: oauth2::HttpRequest| {
        let mut response = Response::builder().status(status);
        if let Some(content_type) = content_type {
            response = response.header(CONTENT_TYPE, content_type);
        }
        response.body(body.to_vec())
    };
    let token_url = TokenUrl::new(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token".to_owned(),
    )
    .map_err(|error| AuthFailure::NotEntra {
        detail: error.to_string(),
    })?;
    let response = BasicClient::new(ClientId::new("fuzzing".to_owned()))
        .set_client_secret(ClientSecret::new("fuzzing".to_owned()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url)
        .exchange_client_credentials()
        .add_scope(Scope::new(
            "https://api.securitycenter.microsoft.com/.default".to_owned(),
        ))
        .request(&answer);
    auth::token_answer(Some(status), response).map(|token| TokenAnswer {
        expires_at: token.expires_at,
        roles: token.claims.roles,
        tenant: token.claims.tid,
    })
}

/// `paging::check_next_link`: the `$skip` of a list nextLink when the client may follow it
/// from a listing of `expected` (the API base and path) with this `$filter`, `$top` and the
/// current `$skip`. `None` when it may not, or `expected` is not a URL.
pub fn next_link(
    link: &str,
    expected: &str,
    filter: Option<&str>,
    top: Option<usize>,
    current_skip: usize,
) -> Option<usize> {
    let expected = Url::parse(expected).ok()?;
    paging::check_next_link(link, &expected, filter, top, current_skip)
}

/// `paging::check_export_link`: the `$skiptoken` of an export nextLink when the export that
/// started at `first_url` may follow it.
pub fn export_link(link: &str, first_url: &str) -> Option<String> {
    let expected = Url::parse(first_url).ok()?;
    paging::check_export_link(link, &expected)
}

/// The problems `config::validate` finds with `frequency` in a connection that is otherwise
/// valid: what a form, the CLI and every settings load (`Connection::problems`) check.
pub fn frequency_problems(frequency: &Frequency) -> Vec<FieldError> {
    let draft = ConnectionDraft {
        name: "Contoso production".to_owned(),
        tenant_id: "contoso.onmicrosoft.com".to_owned(),
        client_id: "00000000-0000-0000-0000-000000000000".to_owned(),
        frequency: frequency.clone(),
        ..ConnectionDraft::default()
    };
    config::validate(&draft, &[], false)
}
