//! The one way the core builds HTTP clients: timeouts, a user agent, no redirects, the OS trust
//! store, and a connection's own proxy and extra CA certificates.

use std::{path::Path, time::Duration};

/// Time allowed to open a TCP + TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request. Advanced hunting may run for up to 200 s on the service
/// side (Microsoft's documented per-request limit), so sync calls override this per request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A CA bundle larger than this is not a CA bundle (the whole Mozilla set is ~220 kB).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How one connection's calls leave the machine. The default is the environment's proxy
/// variables and the OS and Mozilla trust roots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Network<'a> {
    /// `http://host:port` or `https://host:port`; HTTPS calls are tunnelled through it.
    pub proxy_url: Option<&'a str>,
    /// A PEM file of CA certificates trusted in addition to the built-in roots.
    pub ca_certificate_file: Option<&'a str>,
}

impl Network<'_> {
    pub fn is_default(&self) -> bool {
        self.proxy_url.is_none() && self.ca_certificate_file.is_none()
    }
}

/// A client for Entra ID and the Defender API with the default network. Redirects are refused:
/// neither service redirects, and following one could send a token or a secret to another host.
pub fn client() -> Result<reqwest::Client, String> {
    client_for(Network::default())
}

/// A client for a connection's network settings. The error says what is wrong in words (a
/// CA file that cannot be read or holds no certificate, a proxy URL reqwest refuses).
pub fn client_for(network: Network<'_>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("mde-car/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(proxy) = network.proxy_url {
        // An explicit proxy replaces the environment's for this connection, loopback included.
        let proxy = reqwest::Proxy::all(proxy).map_err(|_| {
            format!(
                "the proxy URL {} is not usable; give http://host:port",
                redacted(proxy)
            )
        })?;
        builder = builder.proxy(proxy);
    }
    if let Some(file) = network.ca_certificate_file {
        for certificate in read_ca_certificates(Path::new(file))? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|error| {
        let detail = std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_else(|| error.to_string());
        match network.ca_certificate_file {
            Some(file) => format!("the certificates of {file} could not be used: {detail}"),
            None => format!("the HTTP client could not be built: {detail}"),
        }
    })
}

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Larger than the cap: told by its Content-Length before a byte was read, or found on
    /// the way.
    TooLarge,
    /// The connection broke off.
    Broken(reqwest::Error),
}

/// The body, read chunk by chunk up to `limit` bytes. Every answer the core reads goes through
/// this: a host that sends without end (or claims to) costs at most `limit` bytes of memory.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(
        usize::try_from(response.content_length().unwrap_or(0).min(limit)).unwrap_or(0),
    );
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Broken)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A URL as it may be shown: without a user name or password, should a hand-edited settings
/// file hold one (the form and the CLI refuse them).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string().trim_end_matches('/').to_owned()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "(unreadable URL)".to_owned(),
    }
}

/// Reads a PEM bundle of CA certificates, with a message a person can act on when it is not one.
pub fn read_ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => format!("{shown} does not exist; check the path"),
        std::io::ErrorKind::PermissionDenied => {
            format!("{shown} cannot be read (permission denied); make it readable for this user")
        }
        _ => format!("{shown} cannot be read: {error}"),
    })?;
    if !metadata.is_file() {
        return Err(format!(
            "{shown} is not a file; choose the certificate file itself"
        ));
    }
    if metadata.len() > MAX_CA_FILE_BYTES {
        return Err(format!(
            "{shown} is {} MB, too large for a CA certificate file; choose the CA's PEM file",
            metadata.len() / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|error| format!("{shown} cannot be read: {error}"))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&bytes)
        .map_err(|error| format!("{shown} is not a valid PEM certificate file: {error}"))?;
    if certificates.is_empty() {
        // 0x30 starts an ASN.1 SEQUENCE: a binary (DER) certificate, as Windows exports by default.
        return Err(if bytes.first() == Some(&0x30) {
            format!(
                "{shown} is a binary (DER) certificate; export it as Base-64 (PEM), or convert it with: openssl x509 -inform der -in CA.cer -out CA.pem"
            )
        } else {
            format!(
                "{shown} holds no certificate: a PEM file has a -----BEGIN CERTIFICATE----- block"
            )
        });
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_network_builds() {
        assert!(client().is_ok());
        assert!(Network::default().is_default());
    }

    #[test]
    fn a_bad_ca_file_says_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = read_ca_certificates(&missing).unwrap_err();
        assert!(error.contains("does not exist"), "{error}");

        let error = read_ca_certificates(dir.path()).unwrap_err();
        assert!(error.contains("is not a file"), "{error}");

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "just some text\n").unwrap();
        let error = read_ca_certificates(&text).unwrap_err();
        assert!(error.contains("BEGIN CERTIFICATE"), "{error}");

        let der = dir.path().join("ca.cer");
        std::fs::write(&der, [0x30, 0x82, 0x01, 0x0a, 0x02]).unwrap();
        let error = read_ca_certificates(&der).unwrap_err();
        assert!(error.contains("DER"), "{error}");

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = client_for(Network {
            proxy_url: None,
            ca_certificate_file: Some(broken.to_str().unwrap()),
        })
        .unwrap_err();
        assert!(error.contains("broken.pem"), "{error}");
    }

    #[test]
    fn a_proxy_password_is_never_shown() {
        assert_eq!(
            redacted("http://alice:s3cret@proxy.corp.example:8080"),
            "http://proxy.corp.example:8080"
        );
        assert_eq!(redacted("http://proxy:3128"), "http://proxy:3128");
        assert!(!redacted("http://alice:s3cret@[bad").contains("s3cret"));
    }

    #[test]
    fn a_proxy_builds_a_client() {
        let network = Network {
            proxy_url: Some("http://proxy.corp.example:8080"),
            ca_certificate_file: None,
        };
        assert!(!network.is_default());
        assert!(client_for(network).is_ok());
    }
}
