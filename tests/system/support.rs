//! Shared helpers of the system tests: a throw-away data folder, the simulator, and the
//! `mde-car` binary pointed at both.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `mde-car` binary of this build. Cargo exposes `CARGO_BIN_EXE_*` only for binaries of
/// the test's own package, so it is found next to the test executable (`target/<profile>/`).
/// `make test` builds it first.
pub fn mde_car_binary() -> PathBuf {
    built_binary("mde-car", "mde-car-cli")
}

/// The `mde-sim` binary of this build (`make test` builds it first).
pub fn mde_sim_binary() -> PathBuf {
    built_binary("mde-sim", "mde-sim")
}

fn built_binary(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p {package}` first",
        binary.display()
    );
    binary
}

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
        let mut command = Command::new(mde_car_binary());
        command
            .env("MDE_CAR_DATA_DIR", self.data_dir())
            .env_remove("MDE_CAR_LOG");
        command
    }

    /// `mde-car connection add NAME` for a simulated tenant: its tenant, client and secret (on
    /// stdin), and its hosts unless `hosts` names others (a proxy or TLS front). Add flags with
    /// `.args(…)`, then `.assert()`.
    pub fn add_simulated(&self, sim: &mde_sim::Sim, name: &str, hosts: Option<&str>) -> Command {
        let hosts = hosts.map_or_else(|| sim.api_base(), str::to_owned);
        let mut command = self.cli();
        command
            .args(["connection", "add", "--name", name])
            .args([
                "--tenant",
                &sim.tenant_id(),
                "--client-id",
                &sim.client_id(),
            ])
            .args([
                "--api-base",
                &hosts,
                "--authority",
                &hosts,
                "--secret-stdin",
            ])
            .write_stdin(format!("{}\n", sim.client_secret()));
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
