//! Client secrets: where each connection's secret is kept, chosen once per installation by
//! `MDE_CAR_SECRETS` ([`SecretSource`]):
//! - `keyring` (the default): the OS keyring (Secret Service on Linux, the Keychain on macOS,
//!   the Credential Manager on Windows) under service [`KEYRING_SERVICE`] and the connection's
//!   id. Needs a desktop session, or at least a Secret Service on D-Bus.
//! - `systemd-credentials`: read-only, from the service's credentials folder
//!   (`$CREDENTIALS_DIRECTORY`, which systemd fills from `LoadCredentialEncrypted=` and
//!   `LoadCredential=`, readable by the service alone), one credential per connection named
//!   [`credential_name`]. For a server without a desktop session; the secret is encrypted at
//!   rest by systemd (`systemd-creds encrypt`) and the admin manages it, not mde-car.
//! - `files:FOLDER`: one file per connection in `FOLDER`, readable and writable by the service
//!   user only (a file any other user can read is refused); mde-car writes it when a
//!   connection is added or its secret replaced.
//!
//! Invariant: a secret is held in memory as [`SecretString`], is written nowhere but its
//! source, and never appears in `Debug`, logs, errors or events. Never read from argv.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// The environment variable that chooses the installation's [`SecretSource`].
pub const SECRETS_ENV: &str = "MDE_CAR_SECRETS";

/// The secret source could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("{store} failed to {action}: {reason}")]
pub struct SecretsError {
    /// Which source, as a user knows it ("the OS keyring", "the systemd credentials", …).
    pub store: &'static str,
    pub action: &'static str,
    pub reason: String,
}

type Result<T, E = SecretsError> = std::result::Result<T, E>;

/// The keyring service name under which every connection's secret is stored.
pub(crate) const KEYRING_SERVICE: &str = "mde-car";

/// What the other sources say when one cannot be used, so that a message about one source
/// always names the ones that would work.
const SOURCES_HINT: &str = "on a server without a desktop session, set MDE_CAR_SECRETS=systemd-credentials (secrets from LoadCredentialEncrypted=) or MDE_CAR_SECRETS=files:FOLDER (one file per connection, readable by the service user only); see the README's \"Run the daemon on a server\"";

/// The keyring's user (account) field for a connection.
pub(crate) fn keyring_account(connection_id: &str) -> String {
    format!("connection:{connection_id}")
}

/// The name of a connection's secret among systemd credentials and in a secrets folder:
/// `mde-car.connection.<id>`. Connection ids are checked on every load to be plain ASCII
/// words, so the name is a plain file name.
pub fn credential_name(connection_id: &str) -> String {
    format!("mde-car.connection.{connection_id}")
}

/// Where this installation keeps secrets (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretSource {
    #[default]
    Keyring,
    SystemdCredentials,
    Files(PathBuf),
}

impl SecretSource {
    /// The source `MDE_CAR_SECRETS` names; unset or empty is the keyring.
    pub fn from_env() -> Result<SecretSource, String> {
        match std::env::var_os(SECRETS_ENV) {
            None => Ok(SecretSource::Keyring),
            Some(value) => SecretSource::parse(&value.to_string_lossy()),
        }
    }

    /// Reads `keyring`, `systemd-credentials` or `files:FOLDER` (an absolute folder).
    pub fn parse(text: &str) -> Result<SecretSource, String> {
        let text = text.trim();
        match text {
            "" | "keyring" => Ok(SecretSource::Keyring),
            "systemd-credentials" => Ok(SecretSource::SystemdCredentials),
            _ => match text.strip_prefix("files:") {
                Some(folder) if Path::new(folder).is_absolute() => {
                    Ok(SecretSource::Files(PathBuf::from(folder)))
                }
                Some(folder) => Err(format!(
                    "{SECRETS_ENV}=files:{folder}: the folder must be an absolute path, e.g. files:/etc/mde-car/secrets"
                )),
                None => Err(format!(
                    "{SECRETS_ENV}={text} is not a secret source; use keyring, systemd-credentials or files:FOLDER"
                )),
            },
        }
    }

    /// The name a user knows the source by, as messages use it.
    pub fn label(&self) -> &'static str {
        match self {
            SecretSource::Keyring => "the OS keyring",
            SecretSource::SystemdCredentials => "the systemd credentials",
            SecretSource::Files(_) => "the secrets folder",
        }
    }

    /// Whether mde-car stores secrets there itself (systemd credentials are the admin's).
    pub fn is_writable(&self) -> bool {
        !matches!(self, SecretSource::SystemdCredentials)
    }

    /// Where a connection's secret is, in words, for `connection add` and the docs' steps.
    pub fn location(&self, connection_id: &str) -> String {
        match self {
            SecretSource::Keyring => "the OS keyring".to_owned(),
            SecretSource::SystemdCredentials => format!(
                "the systemd credential {} (LoadCredentialEncrypted= in the service's unit)",
                credential_name(connection_id)
            ),
            SecretSource::Files(folder) => folder
                .join(credential_name(connection_id))
                .display()
                .to_string(),
        }
    }
}

/// The installation's secrets. Calls block (D-Bus round trips, file reads), so async callers
/// use `spawn_blocking`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets {
    source: SecretSource,
}

impl Secrets {
    pub(crate) fn new(source: SecretSource) -> Secrets {
        Secrets { source }
    }

    pub(crate) fn source(&self) -> &SecretSource {
        &self.source
    }

    pub(crate) fn set(&self, connection_id: &str, secret: &SecretString) -> Result<()> {
        match &self.source {
            SecretSource::Keyring => SecretStore.set(connection_id, secret),
            SecretSource::SystemdCredentials => Err(read_only(connection_id)),
            SecretSource::Files(folder) => write_secret_file(folder, connection_id, secret),
        }
    }

    /// The stored secret, or `None` when the keyring has none. The other sources say what is
    /// missing and how to provide it, which only they know.
    pub(crate) fn get(&self, connection_id: &str) -> Result<Option<SecretString>> {
        match &self.source {
            SecretSource::Keyring => SecretStore.get(connection_id),
            SecretSource::SystemdCredentials => read_credential(connection_id).map(Some),
            SecretSource::Files(folder) => read_secret_file(folder, connection_id).map(Some),
        }
    }

    /// Removes the secret; removing a missing one is not an error, and systemd credentials are
    /// left to the admin who created them (the unit names them).
    pub(crate) fn delete(&self, connection_id: &str) -> Result<()> {
        match &self.source {
            SecretSource::Keyring => SecretStore.delete(connection_id),
            SecretSource::SystemdCredentials => {
                tracing::info!(
                    credential = %credential_name(connection_id),
                    "the connection is removed; its systemd credential stays until the unit stops naming it"
                );
                Ok(())
            }
            SecretSource::Files(folder) => {
                match std::fs::remove_file(folder.join(credential_name(connection_id))) {
                    Ok(()) => Ok(()),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(error) => Err(files_error("delete the client secret", &error)),
                }
            }
        }
    }
}

/// Access to the OS keyring.
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
            format!(
                "; on Linux a Secret Service provider (GNOME Keyring, KeePassXC) must be running and unlocked, or, {SOURCES_HINT}"
            )
        }
        _ => String::new(),
    };
    SecretsError {
        store: SecretSource::Keyring.label(),
        action,
        reason: format!("{error}{hint}"),
    }
}

/// systemd gives the service its credentials; mde-car cannot add one.
fn read_only(connection_id: &str) -> SecretsError {
    SecretsError {
        store: SecretSource::SystemdCredentials.label(),
        action: "store the client secret",
        reason: format!(
            "this installation reads secrets from systemd credentials, which mde-car cannot write: add the connection without a secret, then encrypt it with `systemd-creds encrypt --name={name} - /etc/credstore.encrypted/{name}` and name it in the unit (LoadCredentialEncrypted={name}:/etc/credstore.encrypted/{name})",
            name = credential_name(connection_id)
        ),
    }
}

/// A credential from `$CREDENTIALS_DIRECTORY`, which systemd sets for a service that has any.
fn read_credential(connection_id: &str) -> Result<SecretString> {
    let store = SecretSource::SystemdCredentials.label();
    let action = "read the client secret";
    let name = credential_name(connection_id);
    let Some(folder) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
        return Err(SecretsError {
            store,
            action,
            reason: format!(
                "$CREDENTIALS_DIRECTORY is not set: mde-car is not running as a systemd service with credentials; run it from the unit with LoadCredentialEncrypted={name}:/etc/credstore.encrypted/{name}, or set MDE_CAR_SECRETS=files:FOLDER or keyring"
            ),
        });
    };
    let path = Path::new(&folder).join(&name);
    match std::fs::read(&path) {
        Ok(bytes) => secret_from_bytes(bytes).ok_or_else(|| SecretsError {
            store,
            action,
            reason: format!("the credential {name} is empty or not UTF-8 text"),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(SecretsError {
            store,
            action,
            reason: format!(
                "the service has no credential {name}: add LoadCredentialEncrypted={name}:/etc/credstore.encrypted/{name} to its unit (`systemctl edit mde-car`), with the secret encrypted there by `systemd-creds encrypt --name={name}`"
            ),
        }),
        Err(error) => Err(SecretsError {
            store,
            action,
            reason: format!("the credential {name} could not be read: {error}"),
        }),
    }
}

/// The secret a file holds: its text without the line end an editor or `echo` adds.
fn secret_from_bytes(bytes: Vec<u8>) -> Option<SecretString> {
    let text = String::from_utf8(bytes).ok()?;
    let secret = text.trim_end_matches(['\r', '\n']);
    (!secret.is_empty()).then(|| SecretString::from(secret.to_owned()))
}

fn read_secret_file(folder: &Path, connection_id: &str) -> Result<SecretString> {
    let action = "read the client secret";
    let path = folder.join(credential_name(connection_id));
    let error = |reason: String| SecretsError {
        store: SecretSource::Files(PathBuf::new()).label(),
        action,
        reason,
    };
    match std::fs::metadata(&path) {
        Ok(metadata) => check_private(&path, &metadata).map_err(error)?,
        Err(io) if io.kind() == std::io::ErrorKind::NotFound => {
            return Err(error(format!(
                "{} does not exist; set the secret with `mde-car connection edit NAME --secret-stdin` as the service user, or write it there (mode 0600)",
                path.display()
            )));
        }
        Err(io) => return Err(files_error(action, &io)),
    }
    let bytes = std::fs::read(&path).map_err(|io| files_error(action, &io))?;
    secret_from_bytes(bytes)
        .ok_or_else(|| error(format!("{} is empty or not UTF-8 text", path.display())))
}

/// A secret file must be its user's alone: one other users can read has leaked already.
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> std::result::Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} can be read by other users (mode {:04o}): it is not used; `chmod 600` it and replace the secret, which others may have read",
                path.display(),
                mode & 0o7777
            ));
        }
        let owner = metadata.uid();
        let user = nix::unistd::geteuid().as_raw();
        if owner != user {
            return Err(format!(
                "{} belongs to user id {owner}, not to the user mde-car runs as ({user}): `chown` it to the service user",
                path.display()
            ));
        }
    }
    let _ = (path, metadata);
    Ok(())
}

fn write_secret_file(folder: &Path, connection_id: &str, secret: &SecretString) -> Result<()> {
    let action = "store the client secret";
    create_private_folder(folder).map_err(|io| files_error(action, &io))?;
    crate::paths::write_atomically(
        &folder.join(credential_name(connection_id)),
        secret.expose_secret().as_bytes(),
    )
    .map_err(|io| files_error(action, &io))
}

fn create_private_folder(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(folder)
    }
}

fn files_error(action: &'static str, error: &std::io::Error) -> SecretsError {
    SecretsError {
        store: SecretSource::Files(PathBuf::new()).label(),
        action,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_is_named_explicitly() {
        assert_eq!(SecretSource::parse(""), Ok(SecretSource::Keyring));
        assert_eq!(SecretSource::parse("keyring"), Ok(SecretSource::Keyring));
        assert_eq!(
            SecretSource::parse("systemd-credentials"),
            Ok(SecretSource::SystemdCredentials)
        );
        assert_eq!(
            SecretSource::parse("files:/etc/mde-car/secrets"),
            Ok(SecretSource::Files(PathBuf::from("/etc/mde-car/secrets")))
        );
        let relative = SecretSource::parse("files:secrets").unwrap_err();
        assert!(relative.contains("absolute"), "{relative}");
        let unknown = SecretSource::parse("vault").unwrap_err();
        assert!(
            unknown.contains("keyring, systemd-credentials or files:FOLDER"),
            "{unknown}"
        );
    }

    #[test]
    fn a_secrets_folder_keeps_each_secret_private_and_refuses_a_shared_one() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("secrets");
        let secrets = Secrets::new(SecretSource::Files(folder.clone()));
        let missing = secrets.get("c1").unwrap_err().to_string();
        assert!(missing.contains("does not exist"), "{missing}");
        secrets
            .set("c1", &SecretString::from("s3cr3t".to_owned()))
            .unwrap();
        let read = secrets.get("c1").unwrap().unwrap();
        assert_eq!(read.expose_secret(), "s3cr3t");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = folder.join(credential_name("c1"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let folder_mode = std::fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
            assert_eq!(folder_mode, 0o700);
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            let shared = secrets.get("c1").unwrap_err().to_string();
            assert!(shared.contains("can be read by other users"), "{shared}");
            assert!(!shared.contains("s3cr3t"), "{shared}");
        }
        secrets.delete("c1").unwrap();
        secrets.delete("c1").unwrap();
        assert!(!folder.join(credential_name("c1")).exists());
    }

    #[test]
    fn systemd_credentials_cannot_be_written_and_say_how_to_provide_one() {
        let secrets = Secrets::new(SecretSource::SystemdCredentials);
        let refused = secrets
            .set("c1", &SecretString::from("s".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("systemd-creds encrypt --name=mde-car.connection.c1"),
            "{refused}"
        );
        secrets.delete("c1").unwrap();
    }

    #[test]
    fn a_file_secret_loses_its_line_end_only() {
        let secret = secret_from_bytes(b" a b \r\n".to_vec()).unwrap();
        assert_eq!(secret.expose_secret(), " a b ");
        assert!(secret_from_bytes(b"\n".to_vec()).is_none());
        assert!(secret_from_bytes(vec![0xff, 0xfe]).is_none());
    }
}
