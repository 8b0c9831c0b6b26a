//! One cached access token per connection and audience (Defender, or Graph for the hunting API's
//! successor), refreshed shortly before it expires and at most once per rejected token.
//!
//! Single flight: the cache is a `tokio::sync::Mutex`, held while a token is fetched, so callers
//! that arrive meanwhile wait for that token instead of asking Entra ID for their own.
//! Generations: every token gets a number; a caller whose token was rejected (401) invalidates
//! only that generation, so ten requests rejected together cause one refresh, not ten.

use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::SecretString;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::auth;
use crate::config::{Credential, Endpoints};

use super::MdeError;

/// Refresh this long before expiry (docs/defender-api.md#access-tokens), or after half the
/// lifetime for tokens shorter than twice this.
pub(super) const EXPIRY_SKEW: Duration = Duration::from_secs(5 * 60);

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    Defender,
    Graph,
}

/// The application's sign-in data. The secret or key never leaves `SecretString`.
pub(super) struct Credentials {
    pub(super) tenant_id: String,
    pub(super) client_id: String,
    pub(super) credential: Credential,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A token handed to one request.
pub(super) struct Bearer {
    pub(super) secret: SecretString,
    pub(super) generation: u64,
}

struct Cached {
    secret: SecretString,
    refresh_at: Instant,
    generation: u64,
    /// The application roles the token claims (`roles`), read without checking the signature.
    roles: Vec<String>,
}

pub(super) struct TokenCache {
    /// The connection's endpoints with `resource` set to this audience's resource, so
    /// `auth::request_token` asks for the right scope.
    endpoints: Endpoints,
    slot: Mutex<Option<Cached>>,
}

/// What a fetch did, for the caller's counters.
pub(super) struct Fetched {
    pub(super) bearer: Bearer,
    pub(super) requested: bool,
    /// The token's application roles (`roles` claim).
    pub(super) roles: Vec<String>,
}

impl TokenCache {
    pub(super) fn new(endpoints: &Endpoints, audience: Audience) -> TokenCache {
        let mut endpoints = endpoints.clone();
        if audience == Audience::Graph {
            endpoints.resource = endpoints.graph_resource.clone();
        }
        TokenCache {
            endpoints,
            slot: Mutex::new(None),
        }
    }

    /// The cached token, or a new one if it is missing or due for refresh.
    pub(super) async fn get(
        &self,
        http: &reqwest::Client,
        credentials: &Credentials,
        cancel: &CancellationToken,
        on_request: impl FnOnce(),
    ) -> Result<Fetched, MdeError> {
        let mut slot = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(MdeError::Cancelled),
            slot = self.slot.lock() => slot,
        };
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(Fetched {
                bearer: Bearer {
                    secret: cached.secret.clone(),
                    generation: cached.generation,
                },
                requested: false,
                roles: cached.roles.clone(),
            });
        }
        on_request();
        let request = auth::request_token(
            http,
            &self.endpoints,
            &credentials.tenant_id,
            &credentials.client_id,
            &credentials.credential,
        );
        let token = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(MdeError::Cancelled),
            token = request => token.map_err(MdeError::Auth)?,
        };
        let lifetime = (token.expires_at - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let skew = EXPIRY_SKEW.min(lifetime / 2);
        let generation = slot.as_ref().map_or(1, |cached| cached.generation + 1);
        let now = Instant::now();
        let cached = Cached {
            secret: token.secret,
            // `auth` bounds the lifetime to a day; checked all the same, since `Instant +`
            // panics past the clock's range (then the next call fetches a new token).
            refresh_at: now
                .checked_add(lifetime.saturating_sub(skew))
                .unwrap_or(now),
            generation,
            roles: token.claims.roles,
        };
        let bearer = Bearer {
            secret: cached.secret.clone(),
            generation,
        };
        let roles = cached.roles.clone();
        *slot = Some(cached);
        fail_point!("mde::token_fetched");
        Ok(Fetched {
            bearer,
            requested: true,
            roles,
        })
    }

    /// Forgets the token of `generation` (the API rejected it); a newer one stays.
    pub(super) async fn invalidate(&self, generation: u64, cancel: &CancellationToken) {
        let mut slot = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            slot = self.slot.lock() => slot,
        };
        if let Some(cached) = slot.as_mut()
            && cached.generation == generation
        {
            // Keep the generation counter going; only the expiry changes.
            cached.refresh_at = Instant::now();
        }
    }
}
