//! The settings document: every connection's non-secret settings.
//!
//! One format, one place: `settings.json` in the data folder, a JSON object as
//! tauri-plugin-store writes it (`{"version": 1, "connections": [...]}`). The desktop app reads
//! and writes it through tauri-plugin-store ([`SettingsBackend`] implemented in the shell); the
//! CLI through [`FileSettings`]. Both take the same inter-process lock around every
//! read-modify-write (see `api`), so neither loses the other's change.

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Connection;

/// The settings file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the settings file {path} could not be {action}: {reason}")]
pub struct SettingsError {
    pub path: String,
    pub action: &'static str,
    pub reason: String,
}

pub type Result<T, E = SettingsError> = std::result::Result<T, E>;

/// The current version of the settings document.
pub const SETTINGS_VERSION: u32 = 1;

/// The settings document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub connections: Vec<Connection>,
}

impl Settings {
    /// Reads the document from the store's key-value form; unknown keys are kept by the
    /// backends, not here.
    pub fn from_entries(entries: &Map<String, Value>, origin: &Path) -> Result<Settings> {
        if let Some(version) = entries.get("version").and_then(Value::as_u64)
            && version > u64::from(SETTINGS_VERSION)
        {
            return Err(SettingsError {
                path: origin.display().to_string(),
                action: "read",
                reason: format!(
                    "it was written by a newer mde-car (format {version}, this one reads {SETTINGS_VERSION}); update mde-car"
                ),
            });
        }
        let connections = match entries.get("connections") {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => {
                serde_json::from_value(value.clone()).map_err(|error| SettingsError {
                    path: origin.display().to_string(),
                    action: "read",
                    reason: format!(
                        "its \"connections\" entry is malformed ({error}); fix or move the file"
                    ),
                })?
            }
        };
        Ok(Settings { connections })
    }

    /// The store's key-value form; `origin` names the file in an error.
    pub fn to_entries(&self, origin: &Path) -> Result<Vec<(String, Value)>> {
        let connections =
            serde_json::to_value(&self.connections).map_err(|error| SettingsError {
                path: origin.display().to_string(),
                action: "written",
                reason: format!("the connections do not serialize ({error})"),
            })?;
        Ok(vec![
            ("version".to_owned(), Value::from(SETTINGS_VERSION)),
            ("connections".to_owned(), connections),
        ])
    }
}

/// The error for a settings file that exists but holds nothing. It is damaged, not "no
/// connections": an empty file is what a write cut short leaves, and reading it as empty would
/// let the next save write only the new connection, orphaning every other one's secret in the
/// keyring. A file that does not exist is the one way to have no settings.
pub fn empty_file_error(path: &Path) -> SettingsError {
    SettingsError {
        path: path.display().to_string(),
        action: "read",
        reason: "it is empty, as a write cut short leaves it; restore it from a backup, or delete it to start with no connections".to_owned(),
    }
}

/// Writes the settings document's entries as both shells do: pretty JSON, written atomically
/// (a synced temporary file renamed over the old one, readable by its owner only), so a crash
/// or a full disk leaves the old file or the new one, never a cut one.
pub fn write_entries(path: &Path, entries: &Map<String, Value>) -> Result<()> {
    let error = |reason: String| SettingsError {
        path: path.display().to_string(),
        action: "written",
        reason,
    };
    let bytes = serde_json::to_vec_pretty(entries).map_err(|e| error(e.to_string()))?;
    path.parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| crate::paths::write_atomically(path, &bytes))
        .map_err(|e| error(e.to_string()))
}

/// Persistence of the settings document. Implementations need not lock: callers hold the
/// inter-process settings lock around `load` + `save`.
pub trait SettingsBackend: Send + Sync {
    fn load(&self) -> Result<Settings>;
    fn save(&self, settings: &Settings) -> Result<()>;
    fn path(&self) -> PathBuf;
}

/// The settings file read and written directly (CLI, daemon, tests).
#[derive(Debug, Clone)]
pub struct FileSettings {
    path: PathBuf,
}

impl FileSettings {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileSettings { path: path.into() }
    }

    fn read_entries(&self) -> Result<Map<String, Value>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(error) => return Err(self.error("read", error.to_string())),
        };
        if text.trim().is_empty() {
            return Err(empty_file_error(&self.path));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(entries)) => Ok(entries),
            Ok(_) => Err(self.error(
                "read",
                "it is not a JSON object; fix or move the file".to_owned(),
            )),
            Err(error) => Err(self.error(
                "read",
                format!("it is not valid JSON ({error}); fix or move the file"),
            )),
        }
    }

    fn error(&self, action: &'static str, reason: String) -> SettingsError {
        SettingsError {
            path: self.path.display().to_string(),
            action,
            reason,
        }
    }
}

impl SettingsBackend for FileSettings {
    fn load(&self) -> Result<Settings> {
        Settings::from_entries(&self.read_entries()?, &self.path)
    }

    fn save(&self, settings: &Settings) -> Result<()> {
        // Keys this version does not know (another tool's, a newer field) survive a save.
        let mut entries = self.read_entries()?;
        for (key, value) in settings.to_entries(&self.path)? {
            entries.insert(key, value);
        }
        write_entries(&self.path, &entries)
    }

    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

#[cfg(test)]
mod tests;
