//! The settings document kept through tauri-plugin-store: the same `settings.json` the CLI
//! reads and writes, in the plugin's format. The store is reloaded before every read, because
//! the CLI or a daemon may have changed the file since, and written only by an explicit save
//! under the core's lock: no auto-save, and no save at exit (the plugin saves every store it
//! tracks when the app exits, which would write a stale copy over another process's change, or
//! an empty one over a file it could not read). The plugin reads the file; the core's
//! `settings::write_entries` writes it, atomically (the plugin's own save is a plain write,
//! which a crash or a full disk can leave cut short).

use std::{path::PathBuf, sync::Arc};

use mde_car_core::settings::{Result, Settings, SettingsBackend, SettingsError};
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::{Store, StoreBuilder};

pub struct PluginStoreSettings<R: Runtime> {
    store: Arc<Store<R>>,
    path: PathBuf,
}

impl<R: Runtime> PluginStoreSettings<R> {
    pub fn open(app: &AppHandle<R>, path: PathBuf) -> Result<Self> {
        let store = StoreBuilder::new(app, path.clone())
            .disable_auto_save()
            .build()
            .map_err(|error| SettingsError {
                path: path.display().to_string(),
                action: "opened",
                reason: error.to_string(),
            })?;
        // Out of the plugin's table, so its exit hook does not save it; this Arc keeps it.
        store.close_resource();
        Ok(PluginStoreSettings { store, path })
    }

    fn error(&self, action: &'static str, error: &tauri_plugin_store::Error) -> SettingsError {
        let reason = match error {
            // The same words as the CLI's reader, for the same broken file.
            tauri_plugin_store::Error::Deserialize(cause) => {
                format!("it is not valid JSON ({cause}); fix or move the file")
            }
            other => other.to_string(),
        };
        SettingsError {
            path: self.path.display().to_string(),
            action,
            reason,
        }
    }
}

impl<R: Runtime> SettingsBackend for PluginStoreSettings<R> {
    fn load(&self) -> Result<Settings> {
        match std::fs::read(&self.path) {
            Ok(bytes) if bytes.trim_ascii().is_empty() => {
                return Err(mde_car_core::settings::empty_file_error(&self.path));
            }
            // Replace, not merge: a key another process removed is gone here too.
            Ok(_) => self
                .store
                .reload_ignore_defaults()
                .map_err(|error| self.error("read", &error))?,
            // Deleted since it was last read: no settings, as for a file never written.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => self.store.clear(),
            Err(error) => {
                return Err(SettingsError {
                    path: self.path.display().to_string(),
                    action: "read",
                    reason: error.to_string(),
                });
            }
        }
        let entries = self.store.entries().into_iter().collect();
        Settings::from_entries(&entries, &self.path)
    }

    fn save(&self, settings: &Settings) -> Result<()> {
        for (key, value) in settings.to_entries(&self.path)? {
            self.store.set(key, value);
        }
        // Every key the store holds, those this version does not know included.
        let entries = self.store.entries().into_iter().collect();
        mde_car_core::settings::write_entries(&self.path, &entries)
    }

    fn path(&self) -> PathBuf {
        self.path.clone()
    }
}
