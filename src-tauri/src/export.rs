//! Where an export is written: the path the person picks in the native save dialog, or —
//! the one test seam — the folder named by `MDE_CAR_EXPORT_DIR`.
//!
//! The dialog is opened from Rust, not from the page, so the window never names a path to
//! write: no command takes a file path over IPC. The open dialog for a connection's CA
//! certificate file lives here too, for the same reason: Rust owns the native dialogs. The GTK dialog cannot be driven through
//! WebDriver, so end-to-end tests start the app with `MDE_CAR_EXPORT_DIR` set: it then skips
//! the dialog and writes the suggested file name into that folder.

use std::{future::Future, path::PathBuf, pin::Pin};

use mde_car_core::search::{Export, ExportFormat};
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

use crate::ipc_error::IpcError;

/// What became of an export: written (where), or the save dialog was cancelled.
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportOutcome {
    pub saved: bool,
    /// Where the file was written.
    pub path: Option<String>,
    /// The suggested file name.
    pub file_name: String,
    pub items: u32,
    pub total: u32,
    pub truncated: bool,
    /// "Exported 120 results", or what the cap left out.
    pub summary: String,
}

impl ExportOutcome {
    pub fn new(export: &Export, path: Option<&std::path::Path>) -> ExportOutcome {
        let small = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        ExportOutcome {
            saved: path.is_some(),
            path: path.map(|p| p.display().to_string()),
            file_name: export.file_name.clone(),
            items: small(export.items),
            total: small(export.total),
            truncated: export.truncated,
            summary: export.summary.clone(),
        }
    }
}

/// Names a folder to write exports to without asking (end-to-end tests).
pub const EXPORT_DIR_ENV: &str = "MDE_CAR_EXPORT_DIR";

type Chosen = Pin<Box<dyn Future<Output = Option<PathBuf>> + Send>>;
type Ask = Box<dyn Fn(String, ExportFormat) -> Chosen + Send + Sync>;

/// Decides where exports go; managed as app state so commands stay free of the runtime type.
pub struct SaveLocation {
    ask: Ask,
}

impl SaveLocation {
    /// The save dialog, or the folder in `MDE_CAR_EXPORT_DIR` when that is set.
    pub fn from_env_or_dialog<R: Runtime>(app: AppHandle<R>) -> SaveLocation {
        match std::env::var_os(EXPORT_DIR_ENV).filter(|dir| !dir.is_empty()) {
            Some(dir) => SaveLocation::folder(PathBuf::from(dir)),
            None => SaveLocation::dialog(app),
        }
    }

    /// Asks with the native save dialog, suggesting the export's file name.
    pub fn dialog<R: Runtime>(app: AppHandle<R>) -> SaveLocation {
        SaveLocation {
            ask: Box::new(move |file_name, format| {
                let (answer, chosen) = tokio::sync::oneshot::channel();
                app.dialog()
                    .file()
                    .set_title("Export")
                    .set_file_name(file_name)
                    .add_filter(format.label(), &[format.extension()])
                    .save_file(move |path| {
                        // The receiver is gone only when the command was dropped.
                        let _ = answer.send(path);
                    });
                Box::pin(async move {
                    chosen
                        .await
                        .ok()
                        .flatten()
                        .and_then(|path| path.into_path().ok())
                })
            }),
        }
    }

    /// Writes every export into `dir` under its suggested name, without asking.
    pub fn folder(dir: PathBuf) -> SaveLocation {
        SaveLocation {
            ask: Box::new(move |file_name, _| {
                let path = dir.join(file_name);
                Box::pin(async move { Some(path) })
            }),
        }
    }

    /// Asks where to save `export`, writes it, and says what happened. A cancelled dialog is
    /// not an error: the outcome says nothing was saved.
    pub async fn save(&self, export: &Export) -> Result<ExportOutcome, IpcError> {
        let path = (self.ask)(export.file_name.clone(), export.format).await;
        if let Some(path) = &path {
            export
                .write_to(path)
                .await
                .map_err(mde_car_core::Error::from)?;
            tracing::info!(items = export.items, "export written");
        }
        Ok(ExportOutcome::new(export, path.as_deref()))
    }
}

type Picked = Pin<Box<dyn Future<Output = Option<String>> + Send>>;

/// Asks for a connection's CA certificate file with the native open dialog; managed as app
/// state so the command stays free of the runtime type.
pub struct CertificatePicker {
    ask: Box<dyn Fn() -> Picked + Send + Sync>,
}

impl CertificatePicker {
    pub fn dialog<R: Runtime>(app: AppHandle<R>) -> CertificatePicker {
        CertificatePicker {
            ask: Box::new(move || {
                let (answer, chosen) = tokio::sync::oneshot::channel();
                app.dialog()
                    .file()
                    .set_title("CA certificate (PEM)")
                    .add_filter("PEM certificates", &["pem", "crt", "cer"])
                    .pick_file(move |path| {
                        // The receiver is gone only when the command was dropped.
                        let _ = answer.send(path);
                    });
                Box::pin(async move {
                    let path = chosen.await.ok().flatten()?.into_path().ok()?;
                    Some(path.display().to_string())
                })
            }),
        }
    }

    /// The chosen file's full path, or `None` when the dialog was cancelled.
    pub async fn choose(&self) -> Option<String> {
        (self.ask)().await
    }
}
