//! Certificate import for the connection form. The page reads the files the person chose (PEM
//! texts, or a PFX file with its password) and hands their contents to `import_certificate`,
//! which answers with the certificate's public facts only. The private key stays here, in
//! [`PendingKeys`], until the form's draft that names the certificate (by its thumbprint) is
//! validated, tested or saved: the key and the PFX password never travel back to the window,
//! in an answer, an error, an event or a log line.

use std::{collections::HashMap, sync::Mutex};

use base64::Engine as _;
use mde_car_core::{
    Core, FieldError,
    config::{
        ConnectionDraft, CredentialKind,
        certificate::{CertificateInfo, CertificateState},
    },
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::ipc_error::IpcError;

/// What the page read from the files the person chose.
#[derive(Clone, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CertificateFiles {
    /// A PEM certificate, with its key in the same text or in `privateKey` (a second file).
    #[serde(rename_all = "camelCase")]
    Pem {
        certificate: String,
        private_key: Option<String>,
    },
    /// A PFX (PKCS#12) file, base64, with the password it was exported with.
    #[serde(rename_all = "camelCase")]
    Pfx {
        pfx_base64: String,
        password: String,
    },
}

impl std::fmt::Debug for CertificateFiles {
    // Hand-written: the key and the password never reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateFiles::Pem { private_key, .. } => f
                .debug_struct("Pem")
                .field("private_key", &private_key.as_ref().map(|_| "<redacted>"))
                .finish_non_exhaustive(),
            CertificateFiles::Pfx { .. } => f.write_str("Pfx(<redacted>)"),
        }
    }
}

/// What the form shows of an imported certificate before it is saved: its public facts, where
/// it stands now, and what is worth knowing (expired, ends soon). Never the key.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CertificateImport {
    pub certificate: CertificateInfo,
    pub state: CertificateState,
    pub warnings: Vec<String>,
}

/// The private keys of certificates imported but not yet saved, by SHA-256 thumbprint. Few:
/// one per certificate the person tried in the form since the app started.
#[derive(Default)]
pub struct PendingKeys(Mutex<HashMap<String, SecretString>>);

/// More than any form session imports; past it the oldest guesses are simply dropped.
const MAX_PENDING: usize = 16;

fn thumbprint(certificate: &CertificateInfo) -> String {
    certificate.thumbprint_sha256.trim().to_ascii_uppercase()
}

impl PendingKeys {
    /// Reads the files through the core, keeps the key, and answers with the public facts.
    pub fn import(
        &self,
        core: &Core,
        files: &CertificateFiles,
    ) -> Result<CertificateImport, IpcError> {
        let imported = match files {
            CertificateFiles::Pem {
                certificate,
                private_key,
            } => core.import_certificate(
                certificate.as_bytes(),
                private_key
                    .as_deref()
                    .filter(|key| !key.trim().is_empty())
                    .map(str::as_bytes),
                None,
            ),
            CertificateFiles::Pfx {
                pfx_base64,
                password,
            } => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(pfx_base64.trim())
                    .map_err(|_| {
                        mde_car_core::Error::Validation(vec![FieldError {
                            field: "certificate",
                            message: "The PFX file could not be read; choose the file again"
                                .to_owned(),
                        }])
                    })?;
                core.import_certificate(&bytes, None, Some(password.as_str()))
            }
        }?;
        let mde_car_core::config::certificate::ImportedCertificate {
            certificate,
            private_key,
            state,
            warnings,
        } = imported;
        if let Ok(mut keys) = self.0.lock() {
            if keys.len() >= MAX_PENDING {
                keys.clear();
            }
            keys.insert(thumbprint(&certificate), SecretString::from(private_key));
        }
        Ok(CertificateImport {
            certificate,
            state,
            warnings,
        })
    }

    /// `draft` with the imported key of its certificate, when it names one imported here and
    /// carries no key itself (the page never has one).
    pub fn fill(&self, mut draft: ConnectionDraft) -> ConnectionDraft {
        if draft.credential == CredentialKind::Certificate
            && draft
                .private_key
                .as_deref()
                .is_none_or(|key| key.trim().is_empty())
            && let Some(certificate) = &draft.certificate
            && let Ok(keys) = self.0.lock()
            && let Some(key) = keys.get(&thumbprint(certificate))
        {
            draft.private_key = Some(key.expose_secret().to_owned());
        }
        draft
    }

    /// Forgets the key of a certificate once it is saved (it is in the keyring then).
    pub fn forget(&self, draft: &ConnectionDraft) {
        if let Some(certificate) = &draft.certificate
            && let Ok(mut keys) = self.0.lock()
        {
            keys.remove(&thumbprint(certificate));
        }
    }
}
