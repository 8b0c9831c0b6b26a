//! Shared helpers of the system tests: a throw-away data folder, the simulator, and the
//! `mde-car` binary pointed at both.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A temporary data folder that the CLI uses through `MDE_CAR_DATA_DIR`.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `mde-car` with this workspace's data folder.
    pub fn cli(&self) -> Command {
        let mut command = Command::cargo_bin("mde-car").expect("the mde-car binary is built");
        command
            .env("MDE_CAR_DATA_DIR", self.data_dir())
            .env_remove("MDE_CAR_LOG");
        command
    }

    /// Every file under the data folder (settings, database, WAL, logs).
    pub fn all_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out)
                } else {
                    out.push(path)
                }
            }
        }
        let mut files = Vec::new();
        walk(self.data_dir(), &mut files);
        files
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Workspace::new()
    }
}

/// The secret as the Secret Service holds it, read with `secret-tool` (libsecret), so the test
/// sees what any other Secret Service client would.
pub fn secret_service_lookup(connection_id: &str) -> Option<String> {
    let output = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "mde-car",
            "username",
            &format!("connection:{connection_id}"),
        ])
        .output()
        .expect("secret-tool runs (package libsecret-tools)");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
