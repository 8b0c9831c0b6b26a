//! Where mde-car keeps its files. One folder holds everything (settings, database, logs), so
//! `--data-dir` or `MDE_CAR_DATA_DIR` relocates all of it for tests and portable use. The
//! default equals the desktop app's Tauri `AppData` folder, so the CLI and the app share it.

use std::path::{Path, PathBuf};

/// The desktop app's identifier (tauri.conf.json); it names the default data folder.
pub const APP_IDENTIFIER: &str = "dev.mdecar.desktop";
/// Environment variable that relocates the data folder.
pub const DATA_DIR_ENV: &str = "MDE_CAR_DATA_DIR";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// `explicit` (a `--data-dir` flag) wins, then `MDE_CAR_DATA_DIR`, then the platform's
    /// data folder (`$XDG_DATA_HOME/dev.mdecar.desktop` on Linux).
    pub fn resolve(explicit: Option<PathBuf>) -> Option<Self> {
        explicit
            .or_else(|| {
                std::env::var_os(DATA_DIR_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| dirs::data_dir().map(|dir| dir.join(APP_IDENTIFIER)))
            .map(DataDir::new)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Non-secret settings (connections); the format is tauri-plugin-store's: one JSON object.
    pub fn settings_file(&self) -> PathBuf {
        self.root.join("settings.json")
    }

    /// The local asset graph and run history (SQLite).
    pub fn database_file(&self) -> PathBuf {
        self.root.join("mde-car.sqlite3")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Guards read-modify-write of the settings file across processes (app, CLI, daemon).
    pub(crate) fn settings_lock_file(&self) -> PathBuf {
        self.root.join(".settings.lock")
    }
}
