//! Where mde-car keeps its files. One folder holds everything (settings, database, logs), so
//! `--data-dir` or `MDE_CAR_DATA_DIR` relocates all of it for tests and portable use. The
//! default equals the desktop app's Tauri `AppData` folder, so the CLI and the app share it.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

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

    /// Held by whichever process runs a sync of the connection (one run at a time).
    pub(crate) fn run_lock_file(&self, connection_id: &str) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("sync-{}.lock", file_part(connection_id)))
    }

    /// The connection's attempt backoff that every process on this folder honours, next to its
    /// run lock (see `shared_backoff`).
    pub(crate) fn shared_backoff_file(&self, connection_id: &str) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("sync-{}.backoff.json", file_part(connection_id)))
    }

    /// Held for a moment while the shared backoff file is read, changed and replaced, so an
    /// edit's reset and an attempt's failure never overwrite each other.
    pub(crate) fn shared_backoff_lock_file(&self, connection_id: &str) -> PathBuf {
        self.root
            .join("locks")
            .join(format!("sync-{}.backoff.lock", file_part(connection_id)))
    }
}

/// A connection id as part of a file name. Runs start only for ids the settings check accepts
/// (letters, digits, `-`, `_`; see `Connection::problems`), but a card also looks at the lock of
/// a connection it shows, so any other character becomes `_` here too: no id, however the
/// settings file was edited, names a path outside `locks/`.
fn file_part(connection_id: &str) -> String {
    connection_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An exclusive advisory lock on a file of the data folder, across processes: released when
/// dropped or when its process dies, so a killed process never leaves a stale lock.
#[derive(Debug)]
pub(crate) struct LockFile(File);

/// Why a lock file could not be taken.
#[derive(Debug)]
pub(crate) enum LockFailure {
    /// Another holder has it (only from [`LockFile::try_acquire`]).
    Held,
    /// The file could not be created, opened or locked.
    Io(std::io::Error),
}

impl LockFile {
    /// Waits until the lock is free and takes it.
    pub(crate) fn acquire(path: &Path) -> Result<LockFile, LockFailure> {
        let file = open_lock_file(path).map_err(LockFailure::Io)?;
        file.lock().map_err(LockFailure::Io)?;
        Ok(LockFile(file))
    }

    /// Takes the lock if nobody holds it.
    pub(crate) fn try_acquire(path: &Path) -> Result<LockFile, LockFailure> {
        let file = open_lock_file(path).map_err(LockFailure::Io)?;
        match file.try_lock() {
            Ok(()) => Ok(LockFile(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(LockFailure::Held),
            Err(std::fs::TryLockError::Error(error)) => Err(LockFailure::Io(error)),
        }
    }

    /// Whether another holder has the lock now; a missing or unreadable file means no.
    pub(crate) fn is_held(path: &Path) -> bool {
        let Ok(file) = File::options().write(true).open(path) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, synced to disk and then
/// renamed over `path`: a crash or a full disk leaves the old file or the new one, never half of
/// one, and a failed write leaves no temporary behind. The file is readable and writable by its
/// owner only (0600 on Unix, the temporary's mode, which the rename keeps), because settings and
/// exports hold tenant data (host names, IP addresses, accounts). The folder must exist.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temporary.write_all(bytes)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// Files and folders this process creates from now on are its user's alone (group and others
/// get no access; a stricter mask the user set stays). The database holds IP history, accounts
/// and SIDs, the logs host names: on a shared server other local users must not read them.
/// Called first thing by the CLI and the desktop app, before the logs open.
pub fn keep_files_private() {
    #[cfg(unix)]
    {
        use nix::sys::stat::{Mode, umask};
        let private = Mode::S_IRWXG | Mode::S_IRWXO;
        let before = umask(private);
        umask(before | private);
    }
}

/// Takes group and other access away from the data folder and everything in it (made by an
/// earlier version under a wider mask). The folder is small (settings, the database and its
/// journal, logs, lock files), so this reads it whole.
pub fn make_private(root: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::symlink_metadata(root)?;
        if metadata.file_type().is_symlink() {
            return Ok(());
        }
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(mode & !0o077))?;
        }
        if metadata.is_dir() {
            for entry in std::fs::read_dir(root)? {
                make_private(&entry?.path())?;
            }
        }
    }
    Ok(())
}
