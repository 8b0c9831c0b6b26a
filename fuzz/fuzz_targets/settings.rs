//! A settings file as the CLI and daemon read it (`FileSettings::load`), then every connection
//! checked by the form's rules as every load does (`Connection::problems`), and its hosts
//! resolved.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mde_car_core::settings::{FileSettings, SettingsBackend};

fn path() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("settings.json");
        (dir, path)
    });
    path
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).expect("the settings file is written");
    let Ok(settings) = FileSettings::new(path).load() else {
        return;
    };
    for connection in &settings.connections {
        let _ = connection.problems();
        let _ = connection.endpoints();
    }
});
