//! Errors of the core, and the closed set of codes shells branch on.
//!
//! Rule (after GitButler's `but-error`): a code exists only because a consumer — the UI or the
//! CLI's exit status — does something different for it. Everything else is `Internal`.
//! Messages are lowercase sentences without a trailing period and never contain a secret.

use serde::Serialize;

/// What a shell needs to know to react to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// One or more fields are invalid; [`Error::Validation`] lists them.
    Validation,
    /// The named connection (or other entity) does not exist.
    NotFound,
    /// Another connection already has this name.
    DuplicateName,
    /// The OS keyring could not store or read a secret.
    Keyring,
    /// The settings file or the database could not be read or written.
    Storage,
    /// The demo tenant could not be started.
    Demo,
    /// A sync of this connection is already running (here or in another mde-car process).
    AlreadyRunning,
    /// A live request to Defender or Entra ID failed (sign-in, permission, network, throttling);
    /// the message says which.
    Defender,
    /// A bug or an unexpected condition.
    Internal,
}

/// A problem with one input field, phrased for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's key as the draft names it (`tenantId`, `clientSecret`, …).
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", validation_summary(.0))]
    Validation(Vec<FieldError>),
    #[error("no connection named '{0}'; `mde-car connection list` shows the names")]
    ConnectionNotFound(String),
    #[error("a connection named '{0}' already exists; choose another name")]
    DuplicateName(String),
    #[error("the OS keyring failed to {action}: {reason}")]
    Keyring {
        action: &'static str,
        reason: String,
    },
    #[error(
        "no client secret is stored for connection '{0}' in the OS keyring; set it again with Edit (or `mde-car connection edit --secret-stdin`)"
    )]
    SecretMissing(String),
    #[error("the settings file {path} could not be {action}: {reason}")]
    Settings {
        path: String,
        action: &'static str,
        reason: String,
    },
    #[error(
        "the database {path} is damaged or not an mde-car database ({reason}); move it aside and sync again to rebuild it (connections and secrets are kept elsewhere)"
    )]
    DatabaseDamaged { path: String, reason: String },
    #[error("the database {path} failed: {source}")]
    Database {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the demo tenant could not start: {0}")]
    Demo(String),
    #[error("a sync of '{0}' is already running")]
    AlreadyRunning(String),
    /// A live request (not a sync) to the connection's tenant failed.
    #[error("Defender did not answer for '{connection}': {source}")]
    Defender {
        connection: String,
        #[source]
        source: crate::mde::MdeError,
    },
    /// A search, IP view or asset look-up that cannot be answered as asked.
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error("{0}")]
    Internal(String),
}

fn validation_summary(fields: &[FieldError]) -> String {
    match fields {
        [] => "the input is invalid".to_owned(),
        [one] => format!("{}: {}", one.field, one.message),
        [first, rest @ ..] => format!(
            "{}: {} (and {} more problem{})",
            first.field,
            first.message,
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

impl ErrorCode {
    /// The code as it is serialized (`not_found`, `already_running`, …).
    pub fn key(self) -> &'static str {
        match self {
            ErrorCode::Validation => "validation",
            ErrorCode::NotFound => "not_found",
            ErrorCode::DuplicateName => "duplicate_name",
            ErrorCode::Keyring => "keyring",
            ErrorCode::Storage => "storage",
            ErrorCode::Demo => "demo",
            ErrorCode::AlreadyRunning => "already_running",
            ErrorCode::Defender => "defender",
            ErrorCode::Internal => "internal",
        }
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::Validation,
            Error::ConnectionNotFound(_) => ErrorCode::NotFound,
            Error::DuplicateName(_) => ErrorCode::DuplicateName,
            Error::Keyring { .. } | Error::SecretMissing(_) => ErrorCode::Keyring,
            Error::Settings { .. } | Error::Database { .. } | Error::DatabaseDamaged { .. } => {
                ErrorCode::Storage
            }
            Error::Demo(_) => ErrorCode::Demo,
            Error::AlreadyRunning(_) => ErrorCode::AlreadyRunning,
            Error::Defender { .. } => ErrorCode::Defender,
            Error::Search(error) => error.code(),
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The field problems of the error, so a form can show each next to its field; empty for
    /// errors that are not about input.
    pub fn fields(&self) -> Vec<FieldError> {
        match self {
            Error::Validation(fields) => fields.clone(),
            Error::DuplicateName(name) => vec![FieldError::new(
                "name",
                format!("Another connection is already named \"{name}\""),
            )],
            Error::Search(error) => error.fields(),
            _ => Vec::new(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
