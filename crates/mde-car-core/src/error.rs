//! The crate's error, composed at the top from each module's own, and the closed set of codes
//! shells branch on.
//!
//! Every lower module has its own `thiserror` type (`SettingsError`, `SecretsError`,
//! `StoreError`, `SyncError`, `SearchError`, `DemoError`, the client's `MdeError`); [`Error`]
//! gathers them with `#[from]` and adds what only the facade knows (a connection that does not
//! exist, a name already taken). This module sits above the ones it gathers and below `api`,
//! so no lower module depends on it.
//!
//! Rule (after GitButler's `but-error`): a code exists only because a consumer — the UI or the
//! CLI's exit status — does something different for it. Everything else is `Internal`.
//! Messages are lowercase sentences without a trailing period and never contain a secret.

use serde::Serialize;

pub(crate) use crate::config::FieldError;
use crate::{
    demo::DemoError, search::SearchError, secrets::SecretsError, settings::SettingsError,
    store::StoreError, sync::SyncError,
};

/// What a shell needs to know to react to an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", validation_summary(.0))]
    Validation(Vec<FieldError>),
    #[error("no connection named '{0}'; `mde-car connection list` shows the names")]
    ConnectionNotFound(String),
    #[error("a connection named '{0}' already exists; choose another name")]
    DuplicateName(String),
    #[error(transparent)]
    Keyring(#[from] SecretsError),
    /// `MDE_CAR_SECRETS` names no source mde-car knows.
    #[error("{0}")]
    SecretSource(String),
    #[error(
        "no client secret is stored for connection '{0}' in the OS keyring; set it again with Edit (or `mde-car connection edit --secret-stdin`)"
    )]
    SecretMissing(String),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A stored connection the settings file gives values the form never accepts (a hand edit,
    /// another tool): shown with its problems, and never synced or tested until fixed.
    #[error("{}", invalid_settings_summary(.file, .name, .problems))]
    InvalidSettings {
        file: String,
        name: String,
        problems: Vec<FieldError>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("a sync of '{0}' is already running")]
    AlreadyRunning(String),
    /// A run that could not be done or recorded.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A search, IP view, asset look-up, export or live check that cannot be answered as asked.
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error("{0}")]
    Internal(String),
}

fn invalid_settings_summary(file: &str, name: &str, problems: &[FieldError]) -> String {
    let listed: Vec<String> = problems
        .iter()
        .map(|problem| format!("\"{}\": {}", problem.field, problem.message))
        .collect();
    format!(
        "the settings file {file} gives connection '{name}' {}: {}; fix it with Edit (or `mde-car connection edit`) — until then it is not synced or tested",
        if problems.len() == 1 {
            "an invalid value"
        } else {
            "invalid values"
        },
        listed.join("; ")
    )
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
            Error::Validation(_) | Error::InvalidSettings { .. } => ErrorCode::Validation,
            Error::ConnectionNotFound(_) => ErrorCode::NotFound,
            Error::DuplicateName(_) => ErrorCode::DuplicateName,
            Error::Keyring(_) | Error::SecretMissing(_) | Error::SecretSource(_) => {
                ErrorCode::Keyring
            }
            Error::Settings(_) => ErrorCode::Storage,
            Error::Store(error) => store_code(error),
            Error::Demo(_) => ErrorCode::Demo,
            Error::AlreadyRunning(_) => ErrorCode::AlreadyRunning,
            Error::Sync(error) => sync_code(error),
            Error::Search(error) => search_code(error),
            Error::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The field problems of the error, so a form can show each next to its field; empty for
    /// errors that are not about input.
    pub fn fields(&self) -> Vec<FieldError> {
        match self {
            Error::Validation(fields) => fields.clone(),
            Error::InvalidSettings { problems, .. } => problems.clone(),
            Error::DuplicateName(name) => vec![FieldError::new(
                "name",
                format!("Another connection is already named \"{name}\""),
            )],
            Error::Search(error) => error.fields(),
            _ => Vec::new(),
        }
    }
}

fn store_code(error: &StoreError) -> ErrorCode {
    match error {
        // A full disk is a storage problem like the others; its message says what to do.
        StoreError::Damaged { .. } | StoreError::DiskFull { .. } | StoreError::Database { .. } => {
            ErrorCode::Storage
        }
        StoreError::Internal(_) => ErrorCode::Internal,
    }
}

fn sync_code(error: &SyncError) -> ErrorCode {
    match error {
        SyncError::AlreadyRunning(_) => ErrorCode::AlreadyRunning,
        SyncError::RunLock { .. } => ErrorCode::Storage,
        SyncError::Store(error) => store_code(error),
        SyncError::Internal(_) => ErrorCode::Internal,
    }
}

fn search_code(error: &SearchError) -> ErrorCode {
    match error {
        SearchError::AssetNotFound(_) | SearchError::ConnectionNotFound(_) => ErrorCode::NotFound,
        SearchError::ExportFile { .. } => ErrorCode::Storage,
        SearchError::Defender { .. } => ErrorCode::Defender,
        SearchError::Store(error) => store_code(error),
        SearchError::Internal(_) => ErrorCode::Internal,
        SearchError::Query(_)
        | SearchError::EmptyAssetReference
        | SearchError::AmbiguousAsset { .. }
        | SearchError::NotAnAddress { .. }
        | SearchError::LiveCheckNeedsTime
        | SearchError::OutsideLiveWindow { .. } => ErrorCode::Validation,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
