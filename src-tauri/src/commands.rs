//! Tauri commands: each one calls the core and hands back its answer — the core's own
//! serializable types, or a shell adapter from `dto` where the window needs another shape. No
//! business logic lives here; names equal the core's methods so `grep` finds both sides.

use mde_car_core::{
    AppInfo, Core, FieldError,
    config::{ConnectionDraft, DataSelection},
    model::TestReport,
    search::{AssetDetail, Attribution, ExportFormat, IpTimeline, SearchRequest, SearchResults},
};
use tauri::State;

use crate::{
    certificates::{CertificateFiles, CertificateImport, PendingKeys},
    dto::{ConnectionView, StartupProblem, SyncRun},
    export::{CertificatePicker, ExportOutcome, SaveLocation},
    ipc_error::IpcError,
};

type Result<T> = std::result::Result<T, IpcError>;

#[tauri::command]
#[specta::specta]
pub async fn list_connections(core: State<'_, Core>) -> Result<Vec<ConnectionView>> {
    Ok(core
        .list_connections()
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[tauri::command]
#[specta::specta]
pub async fn validate_connection(
    core: State<'_, Core>,
    keys: State<'_, PendingKeys>,
    draft: ConnectionDraft,
    editing_id: Option<String>,
) -> Result<Vec<FieldError>> {
    let draft = keys.fill(draft);
    Ok(core
        .validate_connection(&draft, editing_id.as_deref())
        .await?)
}

#[tauri::command]
#[specta::specta]
pub async fn add_connection(
    core: State<'_, Core>,
    keys: State<'_, PendingKeys>,
    draft: ConnectionDraft,
) -> Result<ConnectionView> {
    let draft = keys.fill(draft);
    let view = core.add_connection(&draft).await?;
    keys.forget(&draft);
    Ok(view.into())
}

#[tauri::command]
#[specta::specta]
pub async fn update_connection(
    core: State<'_, Core>,
    keys: State<'_, PendingKeys>,
    id: String,
    draft: ConnectionDraft,
) -> Result<ConnectionView> {
    let draft = keys.fill(draft);
    let view = core.update_connection(&id, &draft).await?;
    keys.forget(&draft);
    Ok(view.into())
}

#[tauri::command]
#[specta::specta]
pub async fn delete_connection(core: State<'_, Core>, id: String) -> Result<()> {
    Ok(core.delete_connection(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn test_connection(core: State<'_, Core>, id: String) -> Result<TestReport> {
    Ok(core.test_connection(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn test_draft(
    core: State<'_, Core>,
    keys: State<'_, PendingKeys>,
    draft: ConnectionDraft,
    editing_id: Option<String>,
) -> Result<TestReport> {
    let draft = keys.fill(draft);
    Ok(core.test_draft(&draft, editing_id.as_deref()).await?)
}

/// Reads a certificate and its key from the files the page read (PEM texts, or a PFX file
/// with its password) and answers with the certificate's public facts. The key stays in the
/// shell for the draft that names the certificate; it and the password never come back.
#[tauri::command]
#[specta::specta]
#[allow(
    clippy::needless_pass_by_value,
    reason = "Tauri hands commands their State by value"
)]
pub fn import_certificate(
    core: State<'_, Core>,
    keys: State<'_, PendingKeys>,
    files: CertificateFiles,
) -> Result<CertificateImport> {
    keys.import(&core, &files)
}

#[tauri::command]
#[specta::specta]
pub fn required_permissions(data: DataSelection) -> Vec<String> {
    Core::required_permissions(data)
}

#[tauri::command]
#[specta::specta]
pub async fn start_demo(core: State<'_, Core>) -> Result<ConnectionView> {
    Ok(core.start_demo().await?.into())
}

#[tauri::command]
#[specta::specta]
#[allow(
    clippy::needless_pass_by_value,
    reason = "Tauri hands commands their State by value"
)]
pub fn app_info(core: State<'_, Core>) -> AppInfo {
    core.app_info()
}

#[tauri::command]
#[specta::specta]
// Async so it runs on the async runtime, where the run it starts is spawned.
pub async fn sync_now(core: State<'_, Core>, id: String, full: bool) -> Result<()> {
    Ok(core.start_sync(&id, full, mde_car_core::sync::Trigger::Manual)?)
}

/// A full run that may take a much smaller device listing as true (the card's "Accept smaller
/// listing", after a run refused one).
#[tauri::command]
#[specta::specta]
// Async so it runs on the async runtime, where the run it starts is spawned.
pub async fn sync_accepting_shrink(core: State<'_, Core>, id: String) -> Result<()> {
    Ok(core.start_sync_accepting_shrink(&id)?)
}

#[tauri::command]
#[specta::specta]
#[allow(
    clippy::needless_pass_by_value,
    reason = "Tauri hands commands their State by value"
)]
pub fn cancel_sync(core: State<'_, Core>, id: String) -> bool {
    core.cancel_sync(&id)
}

#[tauri::command]
#[specta::specta]
pub async fn sync_runs(core: State<'_, Core>, id: String, limit: u32) -> Result<Vec<SyncRun>> {
    let runs = core
        .sync_runs(&id, usize::try_from(limit).unwrap_or(usize::MAX))
        .await?;
    Ok(runs.into_iter().map(Into::into).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn search(core: State<'_, Core>, request: SearchRequest) -> Result<SearchResults> {
    Ok(core.search(&request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn ip_timeline(
    core: State<'_, Core>,
    address: String,
    connection: Option<String>,
) -> Result<IpTimeline> {
    Ok(core.ip_timeline(&address, connection.as_deref()).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn asset_detail(core: State<'_, Core>, reference: String) -> Result<AssetDetail> {
    Ok(core.asset_detail(&reference).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn confirm_attribution(
    core: State<'_, Core>,
    connection: String,
    address: String,
    at: String,
) -> Result<Attribution> {
    Ok(core.confirm_attribution(&connection, &address, &at).await?)
}

/// Every page of a search's results, to a file the person picks.
#[tauri::command]
#[specta::specta]
pub async fn export_search(
    save: State<'_, SaveLocation>,
    core: State<'_, Core>,
    request: SearchRequest,
    format: ExportFormat,
) -> Result<ExportOutcome> {
    let export = core.export_search(&request, format).await?;
    save.save(&export).await
}

#[tauri::command]
#[specta::specta]
pub async fn export_ip_timeline(
    save: State<'_, SaveLocation>,
    core: State<'_, Core>,
    address: String,
    connection: Option<String>,
    format: ExportFormat,
) -> Result<ExportOutcome> {
    let export = core
        .export_ip_timeline(&address, connection.as_deref(), format)
        .await?;
    save.save(&export).await
}

#[tauri::command]
#[specta::specta]
pub async fn export_asset(
    save: State<'_, SaveLocation>,
    core: State<'_, Core>,
    reference: String,
    format: ExportFormat,
) -> Result<ExportOutcome> {
    let export = core.export_asset(&reference, format).await?;
    save.save(&export).await
}

/// The native open dialog for a connection's CA certificate file; `None` when cancelled. Only
/// the chosen path travels to the page, which sends it back in the draft for validation.
#[tauri::command]
#[specta::specta]
pub async fn choose_ca_certificate_file(
    picker: State<'_, CertificatePicker>,
) -> Result<Option<String>> {
    Ok(picker.choose().await)
}

/// Why the app could not open its data at start, or `None` when it did. The page asks first.
#[tauri::command]
#[specta::specta]
#[allow(
    clippy::needless_pass_by_value,
    reason = "Tauri hands commands their State by value"
)]
pub fn startup_problem(startup: State<'_, crate::Startup>) -> Option<StartupProblem> {
    startup.problem()
}
