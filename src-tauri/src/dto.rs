//! The shell's own IPC types, only where they adapt the core's for the window: a connection
//! card's flat view (with the proxy's credentials redacted), a run for the history table, the
//! events flattened into one update, and the startup problem. Everything else the window sees
//! is the core's own serializable types (`specta` feature), the one JSON contract shared with
//! the CLI's `--json` and the exports. Counts travel as u32 (TypeScript numbers, no BigInt).

use mde_car_core::{
    ConnectionStatus, api,
    config::{
        Cloud, CredentialKind, DataSelection, Frequency,
        certificate::{CertificateInfo, CertificateState},
    },
    model::{RunStatus, TestReport, Timestamp},
};
use serde::{Deserialize, Serialize};
use specta::Type;

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tenant_id: String,
    pub client_id: String,
    pub cloud: Cloud,
    pub cloud_label: String,
    pub frequency: Frequency,
    pub frequency_text: String,
    pub api_base_url: Option<String>,
    pub login_authority: Option<String>,
    pub proxy_url: Option<String>,
    pub ca_certificate_file: Option<String>,
    /// Secret or certificate.
    pub credential: CredentialKind,
    /// A certificate connection's certificate: public facts only (the key is in the keyring).
    pub certificate: Option<CertificateInfo>,
    /// Where that certificate stands now; the core warns 30 days before it ends.
    pub certificate_state: Option<CertificateState>,
    /// The card's line on that certificate (ends soon, ended, not yet valid), when any.
    pub certificate_notice: Option<String>,
    pub effective_api_base: String,
    pub effective_authority: String,
    pub data: DataSelection,
    pub required_permissions: Vec<String>,
    pub is_demo: bool,
    pub status: ConnectionStatus,
    pub status_text: String,
    pub last_test: Option<TestReport>,
    #[serde(with = "mde_car_core::model::json_time::option")]
    #[specta(type = Option<String>)]
    pub last_sync_at: Option<Timestamp>,
    #[serde(with = "mde_car_core::model::json_time::option")]
    #[specta(type = Option<String>)]
    pub next_sync_at: Option<Timestamp>,
    pub counts: Option<api::Counts>,
    pub last_run: Option<SyncRun>,
    pub syncing: bool,
    /// What the settings file gives this connection that the form never accepts; while any,
    /// it is not synced or tested, and the card says so.
    pub problems: Vec<mde_car_core::config::FieldError>,
    #[serde(with = "mde_car_core::model::json_time")]
    #[specta(type = String)]
    pub created_at: Timestamp,
}

impl From<api::ConnectionView> for ConnectionView {
    fn from(view: api::ConnectionView) -> Self {
        let connection = view.connection;
        let credential = connection.credential_kind();
        ConnectionView {
            id: connection.id,
            name: connection.name,
            description: connection.description,
            tenant_id: connection.tenant_id,
            client_id: connection.client_id,
            cloud: connection.cloud,
            cloud_label: connection.cloud.label().to_owned(),
            frequency: connection.frequency,
            frequency_text: view.frequency_text,
            api_base_url: connection.api_base_url,
            login_authority: connection.login_authority,
            // A hand-edited settings file may hold a proxy password; the window never sees it.
            proxy_url: connection
                .proxy_url
                .as_deref()
                .map(mde_car_core::http::redacted),
            credential,
            ca_certificate_file: connection.ca_certificate_file,
            certificate: connection.certificate,
            certificate_state: view.certificate_state,
            certificate_notice: view.certificate_notice,
            effective_api_base: view.endpoints.api_base,
            effective_authority: view.endpoints.authority,
            data: connection.data,
            required_permissions: view.required_permissions,
            is_demo: connection.demo,
            status: view.status,
            status_text: view.status_text,
            last_test: view.last_test,
            last_sync_at: view.last_sync_at,
            next_sync_at: view.next_sync_at,
            counts: view.counts,
            last_run: view.last_run.map(Into::into),
            syncing: view.status == ConnectionStatus::Syncing,
            problems: view.problems,
            created_at: connection.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ApiCallCount {
    pub endpoint: String,
    pub calls: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EntityChange {
    pub entity: String,
    pub added: u32,
    pub updated: u32,
    pub deactivated: u32,
}

/// One sync run for the history view and the card.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    pub id: u32,
    pub connection_id: String,
    pub full: bool,
    pub trigger: String,
    #[serde(with = "mde_car_core::model::json_time")]
    #[specta(type = String)]
    pub started_at: Timestamp,
    #[serde(with = "mde_car_core::model::json_time::option")]
    #[specta(type = Option<String>)]
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<u32>,
    pub status: RunStatus,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub api_calls: Vec<ApiCallCount>,
    pub total_api_calls: u32,
    pub throttled_ms: u32,
    pub changes: Vec<EntityChange>,
    pub notes: Vec<String>,
}

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<mde_car_core::store::RunRecord> for SyncRun {
    fn from(run: mde_car_core::store::RunRecord) -> Self {
        SyncRun {
            id: u32::try_from(run.id).unwrap_or(u32::MAX),
            connection_id: run.connection_id,
            full: run.mode == "full",
            trigger: run.trigger,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms: run
                .finished_at
                .and_then(|end| u32::try_from((end - run.started_at).num_milliseconds()).ok()),
            status: run.status,
            error_code: run.error_code,
            error: run.error,
            total_api_calls: small(run.api_calls.values().sum()),
            api_calls: run
                .api_calls
                .into_iter()
                .map(|(endpoint, calls)| ApiCallCount {
                    endpoint,
                    calls: small(calls),
                })
                .collect(),
            throttled_ms: small(run.throttled_ms),
            changes: run
                .changes
                .into_iter()
                .map(|(entity, count)| EntityChange {
                    entity,
                    added: small(count.added),
                    updated: small(count.updated),
                    deactivated: small(count.deactivated),
                })
                .collect(),
            notes: run.notes,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum SyncUpdateKind {
    Started,
    Progress,
    Throttled,
    Finished,
    ConnectionsChanged,
    /// Another process (the CLI, the daemon) changed the database: reload runs and counts.
    StoreChanged,
}

/// What the window hears while runs go on: one flat shape for every kind, so the card's
/// progress bar needs no unions.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct SyncUpdate {
    pub kind: SyncUpdateKind,
    pub connection_id: Option<String>,
    pub run_id: Option<u32>,
    pub full: Option<bool>,
    /// The current step in words: "Devices", "IP history", …
    pub step: Option<String>,
    pub page: Option<u32>,
    pub items: Option<u32>,
    pub estimated_total: Option<u32>,
    pub wait_secs: Option<u32>,
    /// Throttled: Defender asked for the wait (429), rather than the app keeping to its share.
    pub by_service: Option<bool>,
    pub status: Option<RunStatus>,
    pub summary: Option<String>,
    /// Finished with an error: the run's error key (`auth`, `network`, …), or the error code
    /// (`keyring`, `already_running`, …) of a run that could not start (no `runId`).
    pub error_code: Option<String>,
}

impl From<mde_car_core::events::SyncEvent> for SyncUpdate {
    fn from(event: mde_car_core::events::SyncEvent) -> Self {
        use mde_car_core::events::SyncEvent as E;
        let blank = SyncUpdate {
            kind: SyncUpdateKind::ConnectionsChanged,
            connection_id: event.connection_id().map(str::to_owned),
            run_id: None,
            full: None,
            step: None,
            page: None,
            items: None,
            estimated_total: None,
            wait_secs: None,
            by_service: None,
            status: None,
            summary: None,
            error_code: None,
        };
        let id = |run_id: i64| u32::try_from(run_id).ok();
        match event {
            E::Started { run_id, full, .. } => SyncUpdate {
                kind: SyncUpdateKind::Started,
                run_id: id(run_id),
                full: Some(full),
                ..blank
            },
            E::Progress {
                run_id,
                step,
                page,
                items,
                estimated_total,
                ..
            } => SyncUpdate {
                kind: SyncUpdateKind::Progress,
                run_id: id(run_id),
                step: Some(step.label().to_owned()),
                page: Some(page),
                items: Some(small(items)),
                estimated_total: estimated_total.map(small),
                ..blank
            },
            E::Throttled {
                run_id,
                wait_secs,
                by_service,
                ..
            } => SyncUpdate {
                kind: SyncUpdateKind::Throttled,
                run_id: id(run_id),
                wait_secs: Some(small(wait_secs)),
                by_service: Some(by_service),
                ..blank
            },
            E::Finished {
                run_id,
                status,
                summary,
                error_code,
                ..
            } => SyncUpdate {
                kind: SyncUpdateKind::Finished,
                run_id: run_id.and_then(id),
                status: Some(status),
                summary: Some(summary),
                error_code,
                ..blank
            },
            E::ConnectionsChanged => blank,
            E::StoreChanged => SyncUpdate {
                kind: SyncUpdateKind::StoreChanged,
                ..blank
            },
        }
    }
}

/// Why the app could not open its data (a damaged database, an unreadable folder); the window
/// shows it in place of the app.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StartupProblem {
    pub message: String,
    /// The data folder it tried to open, when it got that far.
    pub data_dir: Option<String>,
}
