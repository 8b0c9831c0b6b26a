//! Client secrets, kept only in the OS keyring (Secret Service on Linux, the Keychain on macOS,
//! the Credential Manager on Windows) under service [`KEYRING_SERVICE`] and the connection's id.
//!
//! Invariant: a secret is held in memory as [`SecretString`], is never written anywhere else,
//! and never appears in `Debug`, logs, errors or events.

use secrecy::{ExposeSecret, SecretString};

/// The OS keyring could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("the OS keyring failed to {action}: {reason}")]
pub struct SecretsError {
    pub action: &'static str,
    pub reason: String,
}

type Result<T, E = SecretsError> = std::result::Result<T, E>;

/// The keyring service name under which every connection's secret is stored.
pub(crate) const KEYRING_SERVICE: &str = "mde-car";

/// The keyring's user (account) field for a connection.
pub(crate) fn keyring_account(connection_id: &str) -> String {
    format!("connection:{connection_id}")
}

/// Access to the OS keyring. Calls block (D-Bus round trips), so async callers use
/// `spawn_blocking`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretStore;

impl SecretStore {
    pub(crate) fn set(&self, connection_id: &str, secret: &SecretString) -> Result<()> {
        self.entry(connection_id)?
            .set_password(secret.expose_secret())
            .map_err(|error| keyring_error("store the client secret", &error))
    }

    /// The stored secret, or `None` when there is none.
    pub(crate) fn get(&self, connection_id: &str) -> Result<Option<SecretString>> {
        match self.entry(connection_id)?.get_password() {
            Ok(secret) => Ok(Some(SecretString::from(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(keyring_error("read the client secret", &error)),
        }
    }

    /// Removes the secret; removing a missing one is not an error.
    pub(crate) fn delete(&self, connection_id: &str) -> Result<()> {
        match self.entry(connection_id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(keyring_error("delete the client secret", &error)),
        }
    }

    fn entry(&self, connection_id: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(KEYRING_SERVICE, &keyring_account(connection_id))
            .map_err(|error| keyring_error("open an entry", &error))
    }
}

fn keyring_error(action: &'static str, error: &keyring::Error) -> SecretsError {
    // keyring's messages describe the platform failure, never the secret itself.
    let hint = match error {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            "; on Linux a Secret Service provider (GNOME Keyring, KeePassXC) must be running and unlocked"
        }
        _ => "",
    };
    SecretsError {
        action,
        reason: format!("{error}{hint}"),
    }
}
