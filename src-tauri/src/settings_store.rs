//! The settings document kept through tauri-plugin-store: the same `settings.json` the CLI
//! reads and writes, in the plugin's format. The store is reloaded before every read, because
//! the CLI or a daemon may have changed the file since.

use std::{path::PathBuf, sync::Arc};

use mde_car_core::{
    Error, Result,
    settings::{Settings, SettingsBackend},
};
use tauri::Runtime;
use tauri_plugin_store::Store;

pub struct PluginStoreSettings<R: Runtime> {
    store: Arc<Store<R>>,
    path: PathBuf,
}

impl<R: Runtime> PluginStoreSettings<R> {
    pub fn new(store: Arc<Store<R>>, path: PathBuf) -> Self {
        PluginStoreSettings { store, path }
    }

    fn error(&self, action: &'static str, error: &tauri_plugin_store::Error) -> Error {
        Error::Settings {
            path: self.path.display().to_string(),
            action,
            reason: error.to_string(),
        }
    }
}

impl<R: Runtime> SettingsBackend for PluginStoreSettings<R> {
    fn load(&self) -> Result<Settings> {
        if self.path.exists() {
            self.store
                .reload()
                .map_err(|error| self.error("read", &error))?;
        }
        let entries = self.store.entries().into_iter().collect();
        Settings::from_entries(&entries, &self.path)
    }

    fn save(&self, settings: &Settings) -> Result<()> {
        for (key, value) in settings.to_entries()? {
            self.store.set(key, value);
        }
        self.store
            .save()
            .map_err(|error| self.error("written", &error))
    }

    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}
