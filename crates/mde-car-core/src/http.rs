//! The one way the core builds HTTP clients: timeouts, a user agent, no redirects.

use std::time::Duration;

/// Time allowed to open a TCP + TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request. Advanced hunting may run for up to 200 s on the service
/// side (Microsoft's documented per-request limit), so sync calls override this per request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for Entra ID and the Defender API. Redirects are refused: neither service redirects,
/// and following one could send a token or a secret to another host.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("mde-car/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| format!("the HTTP client could not be built: {error}"))
}
