//! Errors as they cross IPC: `{code, message, fields}` with the core's closed set of codes
//! (`ErrorCode`, serialized as the same keys the events and the CLI use), which the UI
//! branches on.

use mde_car_core::{ErrorCode, FieldError};
use serde::Serialize;
use specta::Type;

#[derive(Debug, Clone, Serialize, Type)]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
    /// Field problems when `code` is `validation`; empty otherwise.
    pub fields: Vec<FieldError>,
}

impl From<mde_car_core::Error> for IpcError {
    fn from(error: mde_car_core::Error) -> Self {
        if error.code() == ErrorCode::Internal {
            tracing::error!(%error, "command failed");
        }
        IpcError {
            code: error.code(),
            message: error.to_string(),
            fields: error.fields(),
        }
    }
}
