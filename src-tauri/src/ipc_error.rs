//! Errors as they cross IPC: `{code, message, fields}` with a closed set of codes the UI
//! branches on. `ErrorCode` mirrors the core's through an exhaustive match, so a new core code
//! does not compile until the UI contract names it.

use mde_car_core::ErrorCode as CoreCode;
use serde::Serialize;
use specta::Type;

use crate::dto::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Validation,
    NotFound,
    DuplicateName,
    Keyring,
    Storage,
    Demo,
    AlreadyRunning,
    Defender,
    Internal,
}

impl From<CoreCode> for ErrorCode {
    fn from(code: CoreCode) -> Self {
        match code {
            CoreCode::Validation => ErrorCode::Validation,
            CoreCode::NotFound => ErrorCode::NotFound,
            CoreCode::DuplicateName => ErrorCode::DuplicateName,
            CoreCode::Keyring => ErrorCode::Keyring,
            CoreCode::Storage => ErrorCode::Storage,
            CoreCode::Demo => ErrorCode::Demo,
            CoreCode::AlreadyRunning => ErrorCode::AlreadyRunning,
            CoreCode::Defender => ErrorCode::Defender,
            CoreCode::Internal => ErrorCode::Internal,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
    /// Field problems when `code` is `validation`; empty otherwise.
    pub fields: Vec<FieldError>,
}

impl From<mde_car_core::Error> for IpcError {
    fn from(error: mde_car_core::Error) -> Self {
        if error.code() == CoreCode::Internal {
            tracing::error!(%error, "command failed");
        }
        IpcError {
            code: error.code().into(),
            message: error.to_string(),
            fields: error.fields().iter().map(Into::into).collect(),
        }
    }
}
