//! The IPC wire types: serde + specta mirrors of core types, converted by hand (the
//! rust-analyzer rule: only the shell knows the wire format, so the core stays free of it).
//! Times travel as RFC 3339 strings; counts as u32 (TypeScript numbers, no BigInt).

use mde_car_core::{api, config, probe};
use serde::{Deserialize, Serialize};
use specta::Type;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Cloud {
    Commercial,
    Gcc,
    GccHigh,
    Dod,
}

impl From<config::Cloud> for Cloud {
    fn from(cloud: config::Cloud) -> Self {
        match cloud {
            config::Cloud::Commercial => Cloud::Commercial,
            config::Cloud::Gcc => Cloud::Gcc,
            config::Cloud::GccHigh => Cloud::GccHigh,
            config::Cloud::Dod => Cloud::Dod,
        }
    }
}

impl From<Cloud> for config::Cloud {
    fn from(cloud: Cloud) -> Self {
        match cloud {
            Cloud::Commercial => config::Cloud::Commercial,
            Cloud::Gcc => config::Cloud::Gcc,
            Cloud::GccHigh => config::Cloud::GccHigh,
            Cloud::Dod => config::Cloud::Dod,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Frequency {
    Interval { minutes: u32 },
    Cron { expression: String },
}

impl From<config::Frequency> for Frequency {
    fn from(frequency: config::Frequency) -> Self {
        match frequency {
            config::Frequency::Interval { minutes } => Frequency::Interval { minutes },
            config::Frequency::Cron { expression } => Frequency::Cron { expression },
        }
    }
}

impl From<Frequency> for config::Frequency {
    fn from(frequency: Frequency) -> Self {
        match frequency {
            Frequency::Interval { minutes } => config::Frequency::Interval { minutes },
            Frequency::Cron { expression } => config::Frequency::Cron { expression },
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DataSelection {
    pub alerts: bool,
    pub vulnerabilities: bool,
    pub logged_on_users: bool,
    pub ip_history: bool,
}

impl From<config::DataSelection> for DataSelection {
    fn from(data: config::DataSelection) -> Self {
        DataSelection {
            alerts: data.alerts,
            vulnerabilities: data.vulnerabilities,
            logged_on_users: data.logged_on_users,
            ip_history: data.ip_history,
        }
    }
}

impl From<DataSelection> for config::DataSelection {
    fn from(data: DataSelection) -> Self {
        config::DataSelection {
            alerts: data.alerts,
            vulnerabilities: data.vulnerabilities,
            logged_on_users: data.logged_on_users,
            ip_history: data.ip_history,
        }
    }
}

/// What the form sends. Deliberately not `Debug`: it carries the secret.
#[derive(Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDraft {
    pub name: String,
    pub description: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub frequency: Frequency,
    pub cloud: Cloud,
    pub api_base_url: Option<String>,
    pub login_authority: Option<String>,
    pub proxy_url: Option<String>,
    /// Full path of a PEM file of extra CA certificates.
    pub ca_certificate_file: Option<String>,
    pub data: DataSelection,
}

impl From<ConnectionDraft> for config::ConnectionDraft {
    fn from(draft: ConnectionDraft) -> Self {
        let blank_to_none = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        config::ConnectionDraft {
            name: draft.name,
            description: draft.description,
            tenant_id: draft.tenant_id,
            client_id: draft.client_id,
            client_secret: draft.client_secret,
            frequency: draft.frequency.into(),
            cloud: draft.cloud.into(),
            api_base_url: blank_to_none(draft.api_base_url),
            login_authority: blank_to_none(draft.login_authority),
            proxy_url: blank_to_none(draft.proxy_url),
            ca_certificate_file: blank_to_none(draft.ca_certificate_file),
            data: draft.data.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl From<&mde_car_core::FieldError> for FieldError {
    fn from(error: &mde_car_core::FieldError) -> Self {
        FieldError {
            field: error.field.to_owned(),
            message: error.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    NeverSynced,
    Connected,
    Syncing,
    Error,
}

impl From<api::ConnectionStatus> for ConnectionStatus {
    fn from(status: api::ConnectionStatus) -> Self {
        match status {
            api::ConnectionStatus::NeverSynced => ConnectionStatus::NeverSynced,
            api::ConnectionStatus::Connected => ConnectionStatus::Connected,
            api::ConnectionStatus::Syncing => ConnectionStatus::Syncing,
            api::ConnectionStatus::Error => ConnectionStatus::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum TestCode {
    Connected,
    UnknownTenant,
    UnknownClient,
    WrongSecret,
    ExpiredSecret,
    MissingPermission,
    Throttled,
    NetworkUnreachable,
    TlsFailure,
    WrongHost,
    Timeout,
    Unexpected,
}

impl From<probe::TestCode> for TestCode {
    fn from(code: probe::TestCode) -> Self {
        use probe::TestCode as Core;
        match code {
            Core::Connected => TestCode::Connected,
            Core::UnknownTenant => TestCode::UnknownTenant,
            Core::UnknownClient => TestCode::UnknownClient,
            Core::WrongSecret => TestCode::WrongSecret,
            Core::ExpiredSecret => TestCode::ExpiredSecret,
            Core::MissingPermission => TestCode::MissingPermission,
            Core::Throttled => TestCode::Throttled,
            Core::NetworkUnreachable => TestCode::NetworkUnreachable,
            Core::TlsFailure => TestCode::TlsFailure,
            Core::WrongHost => TestCode::WrongHost,
            Core::Timeout => TestCode::Timeout,
            Core::Unexpected => TestCode::Unexpected,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TestReport {
    pub ok: bool,
    pub code: TestCode,
    pub title: String,
    pub detail: String,
    pub granted_roles: Vec<String>,
    pub missing_roles: Vec<String>,
    pub tested_at: String,
    pub duration_ms: u32,
}

impl From<probe::TestReport> for TestReport {
    fn from(report: probe::TestReport) -> Self {
        TestReport {
            ok: report.ok,
            code: report.code.into(),
            title: report.title,
            detail: report.detail,
            granted_roles: report.granted_roles,
            missing_roles: report.missing_roles,
            tested_at: report.tested_at.to_rfc3339(),
            duration_ms: u32::try_from(report.duration_ms).unwrap_or(u32::MAX),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub devices: u32,
    pub ip_addresses: u32,
    pub alerts: u32,
    pub vulnerabilities: u32,
    /// Active devices by risk level.
    pub risk: RiskCounts,
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RiskCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub none: u32,
}

impl From<api::Counts> for Counts {
    fn from(counts: api::Counts) -> Self {
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Counts {
            devices: small(counts.devices),
            ip_addresses: small(counts.ip_addresses),
            alerts: small(counts.alerts),
            vulnerabilities: small(counts.vulnerabilities),
            risk: RiskCounts {
                critical: small(counts.risk.critical),
                high: small(counts.risk.high),
                medium: small(counts.risk.medium),
                low: small(counts.risk.low),
                none: small(counts.risk.none),
            },
        }
    }
}

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
    pub effective_api_base: String,
    pub effective_authority: String,
    pub data: DataSelection,
    pub required_permissions: Vec<String>,
    pub is_demo: bool,
    pub status: ConnectionStatus,
    pub status_text: String,
    pub last_test: Option<TestReport>,
    pub last_sync_at: Option<String>,
    pub next_sync_at: Option<String>,
    pub counts: Option<Counts>,
    pub last_run: Option<SyncRun>,
    pub syncing: bool,
    pub created_at: String,
}

impl From<api::ConnectionView> for ConnectionView {
    fn from(view: api::ConnectionView) -> Self {
        let connection = view.connection;
        ConnectionView {
            id: connection.id,
            name: connection.name,
            description: connection.description,
            tenant_id: connection.tenant_id,
            client_id: connection.client_id,
            cloud: connection.cloud.into(),
            cloud_label: connection.cloud.label().to_owned(),
            frequency: connection.frequency.into(),
            frequency_text: view.frequency_text,
            api_base_url: connection.api_base_url,
            login_authority: connection.login_authority,
            // A hand-edited settings file may hold a proxy password; the window never sees it.
            proxy_url: connection
                .proxy_url
                .as_deref()
                .map(mde_car_core::http::redacted),
            ca_certificate_file: connection.ca_certificate_file,
            effective_api_base: view.endpoints.api_base,
            effective_authority: view.endpoints.authority,
            data: connection.data.into(),
            required_permissions: view.required_permissions,
            is_demo: connection.demo,
            status: view.status.into(),
            status_text: view.status_text,
            last_test: view.last_test.map(Into::into),
            last_sync_at: view.last_sync_at.map(|t| t.to_rfc3339()),
            next_sync_at: view.next_sync_at.map(|t| t.to_rfc3339()),
            counts: view.counts.map(Into::into),
            last_run: view.last_run.map(Into::into),
            syncing: view.status == api::ConnectionStatus::Syncing,
            created_at: connection.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub settings_file: String,
    pub database_file: String,
    pub log_dir: String,
}

impl From<api::AppInfo> for AppInfo {
    fn from(info: api::AppInfo) -> Self {
        AppInfo {
            version: info.version.to_owned(),
            data_dir: info.data_dir,
            settings_file: info.settings_file,
            database_file: info.database_file,
            log_dir: info.log_dir,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl From<mde_car_core::store::RunStatus> for RunStatus {
    fn from(status: mde_car_core::store::RunStatus) -> Self {
        use mde_car_core::store::RunStatus as Core;
        match status {
            Core::Running => RunStatus::Running,
            Core::Succeeded => RunStatus::Succeeded,
            Core::Failed => RunStatus::Failed,
            Core::Cancelled => RunStatus::Cancelled,
            Core::Interrupted => RunStatus::Interrupted,
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
    pub started_at: String,
    pub finished_at: Option<String>,
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
            started_at: run.started_at.to_rfc3339(),
            finished_at: run.finished_at.map(|t| t.to_rfc3339()),
            duration_ms: run
                .finished_at
                .and_then(|end| u32::try_from((end - run.started_at).num_milliseconds()).ok()),
            status: run.status.into(),
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
                status: Some(status.into()),
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
