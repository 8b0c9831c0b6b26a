//! Certificate credentials: what a certificate connection stores (the certificate's public
//! facts, [`CertificateInfo`]), how a certificate and its private key are imported from PEM or
//! PFX files ([`import`]), and the [`Credential`] a connection signs in with.
//!
//! Entra ID takes a JWT signed with the certificate's RSA key instead of a client secret
//! (docs/defender-api.md#certificate-credentials). The key never lives in settings: it is the
//! connection's secret in the OS keyring, as a PKCS#8 (or PKCS#1) PEM document, and in memory
//! only as [`SecretString`].

use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::Timestamp;

/// The largest certificate or key file read. A certificate with its chain is a few kB; anything
/// near this is some other file.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// How long before its end a certificate is flagged on its card and at import.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The public facts of a connection's certificate: what settings hold (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// The certificate (DER), base64: what Entra ID's registration holds too.
    pub der_base64: String,
    /// The subject, e.g. `CN=mde-car`.
    pub subject: String,
    /// SHA-256 of the DER, upper-case hex: the thumbprint the assertion names (as base64url).
    pub thumbprint_sha256: String,
    /// SHA-1 of the DER, upper-case hex: the "Thumbprint" the Entra admin center shows.
    pub thumbprint_sha1: String,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub not_before: Timestamp,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub not_after: Timestamp,
}

/// Where a certificate stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum CertificateState {
    Valid,
    /// Ends within [`EXPIRY_WARNING_DAYS`].
    ExpiresSoon,
    Expired,
    NotYetValid,
}

impl CertificateInfo {
    /// The certificate's state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> CertificateState {
        if now >= self.not_after {
            CertificateState::Expired
        } else if now < self.not_before {
            CertificateState::NotYetValid
        } else if self.not_after - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS) {
            CertificateState::ExpiresSoon
        } else {
            CertificateState::Valid
        }
    }

    /// Calendar days (UTC) from `now` to the day the certificate ends: 0 on that day, 12 for a
    /// certificate made today for 12 days, negative once that day has passed.
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after.date_naive() - now.date_naive()).num_days()
    }

    /// What a connection's card says of its certificate at `now`: nothing while it is valid
    /// for more than [`EXPIRY_WARNING_DAYS`], else when it ends (or ended, or begins) and what
    /// to do.
    pub fn notice(&self, now: DateTime<Utc>) -> Option<String> {
        let day = |time: &Timestamp| time.format("%Y-%m-%d").to_string();
        match self.state(now) {
            CertificateState::Valid => None,
            CertificateState::ExpiresSoon => Some(match self.days_left(now) {
                0 => format!(
                    "Certificate expires today ({}) — renew it in Entra ID and import the new one",
                    day(&self.not_after)
                ),
                1 => format!(
                    "Certificate expires in 1 day ({}) — renew it in Entra ID and import the new one",
                    day(&self.not_after)
                ),
                days => format!(
                    "Certificate expires in {days} days ({}) — renew it in Entra ID and import the new one",
                    day(&self.not_after)
                ),
            }),
            CertificateState::Expired => Some(format!(
                "Certificate expired on {} — create a new one, register it with the app and import it in Edit",
                day(&self.not_after)
            )),
            CertificateState::NotYetValid => Some(format!(
                "Certificate is valid only from {} — Entra ID refuses it until then",
                day(&self.not_before)
            )),
        }
    }

    /// The DER bytes, when `der_base64` decodes.
    pub fn der(&self) -> Result<Vec<u8>, CertificateError> {
        base64::engine::general_purpose::STANDARD
            .decode(self.der_base64.trim())
            .map_err(|_| CertificateError::NotACertificate("its base64 does not decode".into()))
    }

    /// The header value `x5t#S256`: base64url of the SHA-256 of the DER.
    pub fn x5t_s256(&self) -> Result<String, CertificateError> {
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(self.der()?)))
    }

    /// What is wrong with these stored facts: the certificate must parse, and its thumbprint
    /// and dates must be its own (a hand edit that changed one would send a thumbprint Entra
    /// ID does not know, or show a wrong expiry).
    pub fn check(&self) -> Result<(), CertificateError> {
        let parsed = info_from_der(&self.der()?)?;
        if !parsed
            .thumbprint_sha256
            .eq_ignore_ascii_case(self.thumbprint_sha256.trim())
        {
            return Err(CertificateError::ThumbprintMismatch);
        }
        if parsed.not_after != self.not_after || parsed.not_before != self.not_before {
            return Err(CertificateError::DatesMismatch);
        }
        Ok(())
    }
}

/// What a connection signs in with: its client secret, or its certificate's private key with
/// the thumbprint Entra ID knows the certificate by.
#[derive(Clone)]
pub enum Credential {
    Secret(SecretString),
    Certificate {
        /// The RSA private key, PEM (PKCS#8 or PKCS#1).
        key_pem: SecretString,
        /// `x5t#S256` of the certificate.
        x5t_s256: String,
    },
}

impl Credential {
    /// The credential of a certificate connection: its stored key with its certificate.
    pub fn certificate(
        key_pem: SecretString,
        certificate: &CertificateInfo,
    ) -> Result<Credential, CertificateError> {
        Ok(Credential::Certificate {
            key_pem,
            x5t_s256: certificate.x5t_s256()?,
        })
    }
}

impl std::fmt::Debug for Credential {
    // Hand-written: neither the secret nor the key may reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret(<redacted>)"),
            Credential::Certificate { x5t_s256, .. } => f
                .debug_struct("Credential::Certificate")
                .field("x5t_s256", x5t_s256)
                .finish_non_exhaustive(),
        }
    }
}

impl From<SecretString> for Credential {
    fn from(secret: SecretString) -> Self {
        Credential::Secret(secret)
    }
}

/// A certificate and its key as read from the files a person chose.
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct ImportedCertificate {
    pub certificate: CertificateInfo,
    /// The private key as PEM, for the draft (it goes to the keyring on save).
    pub private_key: String,
    /// Where the certificate stands at import.
    pub state: CertificateState,
    /// What is worth knowing but does not stop the import: expired, not yet valid, ends soon.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for ImportedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedCertificate")
            .field("certificate", &self.certificate)
            .field("state", &self.state)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Why a certificate or key could not be used. Each has its own code (`code()`), stable for
/// the UI and scripts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the file is larger than {} kB, not a certificate or key file", MAX_FILE_BYTES / 1024)]
    TooLarge,
    #[error("this is not a certificate: {0}")]
    NotACertificate(String),
    #[error("the PEM file holds no certificate (no BEGIN CERTIFICATE block)")]
    NoCertificate,
    #[error(
        "no private key: give the key's PEM file too (a BEGIN PRIVATE KEY block), or a PFX file that holds the key"
    )]
    NoPrivateKey,
    #[error(
        "the private key is encrypted: export it without a password (openssl pkcs8 -topk8 -nocrypt), or import the PFX file with its password"
    )]
    EncryptedKey,
    #[error(
        "{0} keys are not supported: Entra ID's certificate sign-in here uses RSA keys (PS256); create an RSA certificate (2048 bits or more)"
    )]
    UnsupportedKey(String),
    #[error("the private key is not a readable RSA key in PEM (PKCS#8 or PKCS#1)")]
    UnreadableKey,
    #[error("the private key does not belong to this certificate")]
    KeyMismatch,
    #[error("wrong password for the PFX file")]
    WrongPassword,
    #[error("the PFX file could not be read: {0}")]
    UnreadablePfx(String),
    #[error("the PFX file holds no private key with its certificate")]
    PfxWithoutKey,
    #[error("the stored thumbprint is not the certificate's own; import the certificate again")]
    ThumbprintMismatch,
    #[error(
        "the stored validity dates are not the certificate's own; import the certificate again"
    )]
    DatesMismatch,
}

impl CertificateError {
    /// A stable code per kind of fault.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::TooLarge => "too_large",
            CertificateError::NotACertificate(_) => "not_a_certificate",
            CertificateError::NoCertificate => "no_certificate",
            CertificateError::NoPrivateKey => "no_private_key",
            CertificateError::EncryptedKey => "encrypted_key",
            CertificateError::UnsupportedKey(_) => "unsupported_key",
            CertificateError::UnreadableKey => "unreadable_key",
            CertificateError::KeyMismatch => "key_mismatch",
            CertificateError::WrongPassword => "wrong_password",
            CertificateError::UnreadablePfx(_) => "unreadable_pfx",
            CertificateError::PfxWithoutKey => "pfx_without_key",
            CertificateError::ThumbprintMismatch => "thumbprint_mismatch",
            CertificateError::DatesMismatch => "dates_mismatch",
        }
    }

    /// The field of the form the fault belongs to.
    pub fn field(&self) -> &'static str {
        match self {
            CertificateError::NoPrivateKey
            | CertificateError::EncryptedKey
            | CertificateError::UnreadableKey
            | CertificateError::KeyMismatch => "privateKey",
            CertificateError::WrongPassword => "certificatePassword",
            _ => "certificate",
        }
    }
}

/// Imports a certificate with its key: `file` is a PEM file (certificate, and the key unless
/// `key_file` is given) or a PFX/PKCS#12 file, opened with `password`; which one is told by its
/// content, not its name.
pub fn import(
    file: &[u8],
    key_file: Option<&[u8]>,
    password: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ImportedCertificate, CertificateError> {
    if file.len() > MAX_FILE_BYTES || key_file.is_some_and(|key| key.len() > MAX_FILE_BYTES) {
        return Err(CertificateError::TooLarge);
    }
    let (der, key_pem) = if looks_like_pem(file) {
        let der = pem_certificate(file)?;
        let key = match key_file {
            Some(key) => pem_key(key)?,
            None => pem_key(file)?,
        };
        (der, key)
    } else {
        pfx_parts(file, password.unwrap_or_default())?
    };
    let certificate = info_from_der(&der)?;
    check_key(&certificate, &key_pem)?;
    let warnings = warnings(&certificate, now);
    Ok(ImportedCertificate {
        state: certificate.state(now),
        certificate,
        private_key: key_pem,
        warnings,
    })
}

/// Whether `file` is PEM text (a PFX file is binary DER).
pub fn looks_like_pem(file: &[u8]) -> bool {
    String::from_utf8_lossy(&file[..file.len().min(MAX_FILE_BYTES)]).contains("-----BEGIN ")
}

fn warnings(certificate: &CertificateInfo, now: DateTime<Utc>) -> Vec<String> {
    let day = |time: &Timestamp| time.format("%Y-%m-%d").to_string();
    match certificate.state(now) {
        CertificateState::Valid => Vec::new(),
        CertificateState::Expired => vec![format!(
            "the certificate expired on {}: Entra ID refuses it; create a new one and register it with the app",
            day(&certificate.not_after)
        )],
        CertificateState::NotYetValid => vec![format!(
            "the certificate is valid only from {}",
            day(&certificate.not_before)
        )],
        CertificateState::ExpiresSoon => vec![format!(
            "the certificate expires on {}: create its successor and register it with the app",
            day(&certificate.not_after)
        )],
    }
}

fn pem_blocks(file: &[u8]) -> Result<Vec<pem::Pem>, CertificateError> {
    pem::parse_many(file).map_err(|error| {
        CertificateError::NotACertificate(format!("the PEM text is damaged ({error})"))
    })
}

fn pem_certificate(file: &[u8]) -> Result<Vec<u8>, CertificateError> {
    pem_blocks(file)?
        .into_iter()
        // The first certificate is the leaf; a chain after it is not needed.
        .find(|block| block.tag() == "CERTIFICATE")
        .map(|block| block.contents().to_vec())
        .ok_or(CertificateError::NoCertificate)
}

fn pem_key(file: &[u8]) -> Result<String, CertificateError> {
    let blocks = pem_blocks(file)?;
    for block in &blocks {
        match block.tag() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => return Ok(pem::encode(block)),
            "ENCRYPTED PRIVATE KEY" => return Err(CertificateError::EncryptedKey),
            "EC PRIVATE KEY" => return Err(CertificateError::UnsupportedKey("EC".into())),
            _ => {}
        }
    }
    Err(CertificateError::NoPrivateKey)
}

fn pfx_parts(file: &[u8], password: &str) -> Result<(Vec<u8>, String), CertificateError> {
    let store = p12_keystore::KeyStore::from_pkcs12(
        file,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|error| match error {
        p12_keystore::error::Error::MacError(_) => CertificateError::WrongPassword,
        // A wrong password can also surface as bad padding of the decrypted bags.
        p12_keystore::error::Error::UnpadError => CertificateError::WrongPassword,
        p12_keystore::error::Error::DerError(_) | p12_keystore::error::Error::InvalidVersion => {
            CertificateError::NotACertificate("neither PEM text nor a PFX/PKCS#12 file".to_owned())
        }
        other => CertificateError::UnreadablePfx(other.to_string()),
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or(CertificateError::PfxWithoutKey)?;
    let leaf = chain
        .certs()
        .first()
        .ok_or(CertificateError::PfxWithoutKey)?;
    let key = pem::Pem::new("PRIVATE KEY", chain.key().as_der().to_vec());
    Ok((leaf.as_der().to_vec(), pem::encode(&key)))
}

/// The public facts of a DER certificate.
pub fn info_from_der(der: &[u8]) -> Result<CertificateInfo, CertificateError> {
    let (rest, certificate) = X509Certificate::from_der(der).map_err(|error| {
        CertificateError::NotACertificate(format!("X.509 does not parse ({error})"))
    })?;
    if !rest.is_empty() {
        return Err(CertificateError::NotACertificate(
            "bytes follow the certificate".to_owned(),
        ));
    }
    let time = |time: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(time.timestamp(), 0).ok_or_else(|| {
            CertificateError::NotACertificate("a validity date out of range".to_owned())
        })
    };
    let validity = certificate.validity();
    Ok(CertificateInfo {
        der_base64: base64::engine::general_purpose::STANDARD.encode(der),
        subject: certificate.subject().to_string(),
        thumbprint_sha256: hex_upper(&sha2::Sha256::digest(der)),
        thumbprint_sha1: hex_upper(&sha1::Sha1::digest(der)),
        not_before: time(validity.not_before)?,
        not_after: time(validity.not_after)?,
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

/// The certificate's RSA public key (PKCS#1 `RSAPublicKey` DER), or why it has none.
pub fn rsa_public_key(certificate: &CertificateInfo) -> Result<Vec<u8>, CertificateError> {
    let der = certificate.der()?;
    let (_, parsed) = X509Certificate::from_der(&der).map_err(|error| {
        CertificateError::NotACertificate(format!("X.509 does not parse ({error})"))
    })?;
    let spki = parsed.public_key();
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(_)) => Ok(spki.subject_public_key.data.to_vec()),
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            Err(CertificateError::UnsupportedKey("EC".into()))
        }
        Ok(_) | Err(_) => Err(CertificateError::UnsupportedKey(format!(
            "{} (algorithm {})",
            "Non-RSA", spki.algorithm.algorithm
        ))),
    }
}

/// Whether `key_pem` is the RSA private key of `certificate`: a probe message signed with it
/// must verify with the certificate's public key (both through jsonwebtoken and ring).
pub fn check_key(certificate: &CertificateInfo, key_pem: &str) -> Result<(), CertificateError> {
    let public = rsa_public_key(certificate)?;
    if key_pem.contains("ENCRYPTED PRIVATE KEY") {
        return Err(CertificateError::EncryptedKey);
    }
    if key_pem.contains("EC PRIVATE KEY") {
        return Err(CertificateError::UnsupportedKey("EC".into()));
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes())
        .map_err(|_| CertificateError::UnreadableKey)?;
    let message = b"mde-car: does this key belong to this certificate?";
    let signature = jsonwebtoken::crypto::sign(message, &key, jsonwebtoken::Algorithm::PS256)
        .map_err(|_| CertificateError::UnreadableKey)?;
    let verified = jsonwebtoken::crypto::verify(
        &signature,
        message,
        &jsonwebtoken::DecodingKey::from_rsa_der(&public),
        jsonwebtoken::Algorithm::PS256,
    )
    .unwrap_or(false);
    if verified {
        Ok(())
    } else {
        Err(CertificateError::KeyMismatch)
    }
}

#[cfg(test)]
mod tests;
