//! The desktop shell of mde-car: builds the [`Core`] over the plugin store, manages it, and
//! registers the typed IPC commands. Everything else lives in `mde-car-core`.

pub mod certificates;
pub mod commands;
pub mod dto;
pub mod export;
pub mod ipc_error;
pub mod settings_store;

use mde_car_core::{Core, paths::DataDir};
use tauri::{Manager, Runtime};

/// The product name, also the window title.
pub const PRODUCT_NAME: &str = "MDE Connected Assets & Risk";

/// The typed command set; also the source of the generated `ui/src/bindings.ts`.
pub fn specta_builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .disable_serde_phases()
        .commands(tauri_specta::collect_commands![
            commands::list_connections,
            commands::validate_connection,
            commands::add_connection,
            commands::update_connection,
            commands::delete_connection,
            commands::test_connection,
            commands::test_draft,
            commands::import_certificate,
            commands::required_permissions,
            commands::start_demo,
            commands::app_info,
            commands::sync_now,
            commands::sync_accepting_shrink,
            commands::cancel_sync,
            commands::sync_runs,
            commands::search,
            commands::ip_timeline,
            commands::asset_detail,
            commands::confirm_attribution,
            commands::export_search,
            commands::export_ip_timeline,
            commands::export_asset,
            commands::choose_ca_certificate_file,
            commands::startup_problem,
        ])
        .events(tauri_specta::collect_events![dto::SyncUpdate])
}

/// Builds the app on any runtime (the real one, or tauri's mock runtime in tests).
pub fn build<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    let specta = specta_builder::<R>();
    builder
        .manage(Startup::default())
        .manage(certificates::PendingKeys::default())
        .plugin(tauri_plugin_store::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(specta.invoke_handler())
        .setup(move |app| {
            specta.mount_events(app);
            app.manage(export::SaveLocation::from_env_or_dialog(
                app.handle().clone(),
            ));
            app.manage(export::CertificatePicker::dialog(app.handle().clone()));
            start(app.handle(), None);
            Ok(())
        })
}

/// What went wrong when the core could not open; the window shows it instead of the app.
#[derive(Default)]
pub struct Startup(std::sync::Mutex<Option<dto::StartupProblem>>);

impl Startup {
    pub fn problem(&self) -> Option<dto::StartupProblem> {
        self.0.lock().ok().and_then(|problem| problem.clone())
    }
}

/// Opens the core and starts the background work; when the core cannot open (a damaged
/// database, an unwritable folder), records why for the window instead of ending the app:
/// started from a menu, nobody would read a message on stderr.
pub fn start<R: Runtime>(app: &tauri::AppHandle<R>, data_dir: Option<DataDir>) {
    let data_dir = data_dir.or_else(|| default_data_dir(app));
    match manage_core(app, data_dir.clone()) {
        Ok(()) => start_background_work(app),
        Err(error) => {
            eprintln!("error: mde-car could not open its data: {error}");
            let problem = dto::StartupProblem {
                message: error.to_string(),
                data_dir: data_dir.map(|dir| dir.root().display().to_string()),
            };
            if let Ok(mut slot) = app.state::<Startup>().0.lock() {
                *slot = Some(problem);
            }
        }
    }
}

fn default_data_dir<R: Runtime>(app: &tauri::AppHandle<R>) -> Option<DataDir> {
    DataDir::resolve(None).or_else(|| app.path().app_data_dir().ok().map(DataDir::new))
}

/// Opens the core over the plugin store and hands it to Tauri's state. Without an explicit
/// `data_dir`, the data folder is `MDE_CAR_DATA_DIR` when set, else the platform's app-data
/// folder — the same one the CLI uses. Tests call this directly, since the mock runtime never
/// runs the setup hook.
pub fn manage_core<R: Runtime>(
    app: &tauri::AppHandle<R>,
    data_dir: Option<DataDir>,
) -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = data_dir
        .or_else(|| default_data_dir(app))
        .ok_or("no data folder: set MDE_CAR_DATA_DIR")?;
    let log_guard = mde_car_core::logging::init(&data_dir, false);
    app.manage(LogGuard(log_guard));
    let backend = settings_store::PluginStoreSettings::open(app, data_dir.settings_file())?;
    let core = Core::open_with_settings(data_dir, Box::new(backend))?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "desktop app started");
    app.manage(core);
    Ok(())
}

/// Forwards the core's events to the window and starts the scheduler. Not part of
/// `manage_core`, so the IPC tests run without background syncs.
fn start_background_work<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tauri_specta::Event as _;
    let core = app.state::<Core>().inner().clone();
    let mut events = core.subscribe();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let _ = dto::SyncUpdate::from(event).emit(&handle);
                }
                // A slow window missed some progress events: the next one brings it up to date.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    tauri::async_runtime::spawn(async move {
        // Both run for the life of the app; overdue connections start right away, and what the
        // CLI or a daemon changes reaches the window as events.
        let forever = tokio_util::sync::CancellationToken::new();
        let watcher = core.watch_other_processes(forever.clone());
        let _ = core.start_scheduler(forever).await;
        let _ = watcher.await;
    });
}

/// Keeps the log writer alive for the life of the app.
struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Runs the desktop app.
pub fn run() -> anyhow::Result<()> {
    // Before anything is written: the data folder's files are the user's alone.
    mde_car_core::paths::keep_files_private();
    build(tauri::Builder::default())
        .run(tauri::generate_context!())
        .map_err(|error| anyhow::anyhow!("the app failed: {error}"))
}
