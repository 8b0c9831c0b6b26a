//! Log files: `logs/mde-car.log.<date>` in the data folder, one per day, kept for 14 days.
//!
//! Invariant: nothing logged carries a secret or a token — the types that hold them redact
//! themselves in `Debug`, and no code formats their exposed value.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::paths::DataDir;

/// Days of log files kept.
const LOG_FILES_KEPT: usize = 14;

/// Installs the global subscriber: the log file, plus stderr when `to_stderr` (the CLI's
/// `--verbose`). Keep the returned guard alive until exit, or the last lines are lost.
/// `MDE_CAR_LOG` (tracing's env-filter syntax) overrides the level, `info` by default.
pub fn init(data_dir: &DataDir, to_stderr: bool) -> Option<WorkerGuard> {
    let filter =
        || EnvFilter::try_from_env("MDE_CAR_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // The appender prunes old files by listing the folder, which must exist first.
    let _ = std::fs::create_dir_all(data_dir.log_dir());
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("mde-car.log")
        .max_log_files(LOG_FILES_KEPT)
        .build(data_dir.log_dir())
        .ok();
    let (file_layer, guard) = match appender {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let stderr_layer = to_stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    guard
}
