//! [`Core`]: the use cases the shells (desktop app, CLI, daemon) call — the facade of the
//! crate. It owns the process's state (settings, keyring, store, HTTP client, demo tenant,
//! event bus, run registry) and delegates each use case to the module that implements it:
//! `config` validates, `probe` tests, `sync` runs, `search` answers, `scheduler` and `watch`
//! run in the background. Its types serialize as the one JSON contract of every shell.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tokio::sync::{Mutex, broadcast};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{
        self, Connection, ConnectionDraft, Credential, Endpoints, FieldError,
        certificate::{CertificateState, ImportedCertificate},
    },
    demo::DemoTenant,
    error::{Error, ErrorCode, Result},
    events::SyncEvent,
    http,
    mde::{ClientOptions, HuntingApi, MdeClient},
    model::{RunStatus, TestCode, TestReport},
    paths::{DataDir, LockFailure, LockFile},
    probe::{self, ProbeTarget},
    registry::{RunGuard, RunRegistry},
    scheduler::{self, AttemptEnd, AttemptOutcome, ScheduleHandle},
    search::{
        self, AssetDetail, Attribution, Export, ExportFormat, IpTimeline, SearchRequest,
        SearchResults,
    },
    secrets::{SecretSource, Secrets},
    settings::{FileSettings, Settings, SettingsBackend, SettingsError},
    shared_backoff::{self, AttemptFailure, SharedBackoff, WallClock},
    store::{RunRecord, Store},
    sync::{self, SyncError, SyncOutcome, Trigger},
    watch::{self, OutsideChange},
};

/// The status pill of a connection card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    NeverSynced,
    Connected,
    Syncing,
    Error,
}

/// Item counts of a connection's data (filled once sync exists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub devices: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub ip_addresses: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub alerts: u64,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub vulnerabilities: u64,
    /// Active devices by mde-car's risk level.
    pub risk: crate::store::RiskCounts,
}

/// A connection as a card shows it.
#[derive(Debug, Clone)]
pub struct ConnectionView {
    pub connection: Connection,
    pub frequency_text: String,
    /// The hosts in use; for the demo tenant, those of the running simulator.
    pub endpoints: Endpoints,
    pub required_permissions: Vec<String>,
    pub status: ConnectionStatus,
    pub status_text: String,
    pub last_test: Option<TestReport>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub counts: Option<Counts>,
    /// The newest finished run.
    pub last_run: Option<RunRecord>,
    /// What the settings file gives this connection that the form never accepts; while any,
    /// it is not synced or tested (see [`Connection::problems`]).
    pub problems: Vec<FieldError>,
    /// Where a certificate connection's certificate stands now (none for a secret): the card
    /// warns [`config::certificate::EXPIRY_WARNING_DAYS`] before it ends.
    pub certificate_state: Option<CertificateState>,
    /// What the card says of that certificate (when it ends soon, has ended or is not yet
    /// valid), from [`config::CertificateInfo::notice`].
    pub certificate_notice: Option<String>,
}

/// Where things are, for the Settings page and `mde-car --version`-like output.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: &'static str,
    pub data_dir: String,
    pub settings_file: String,
    pub database_file: String,
    pub log_dir: String,
}

/// The core handle: cheap to clone, shared by every command.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: DataDir,
    settings: Box<dyn SettingsBackend>,
    /// Serializes settings changes within this process; the lock file does it across processes.
    settings_guard: Mutex<()>,
    secrets: Secrets,
    store: Store,
    http: reqwest::Client,
    demo: DemoTenant,
    events: broadcast::Sender<SyncEvent>,
    /// Runs in progress here, the Defender clients that outlive them, the scheduler's wake-up.
    runs: RunRegistry,
    /// The clock of the backoff shared with other processes (the system's, but in tests).
    clock: WallClock,
}

/// A scheduled attempt that is going ahead: the run lock it was decided under, held until its
/// outcome is recorded, and the shared backoff as it was read under that lock.
struct ScheduledAttempt {
    ended: AttemptEnd,
    run_lock: Arc<LockFile>,
    seen: SharedBackoff,
}

/// Events kept for slow subscribers before they miss some (progress events are frequent).
const EVENT_BACKLOG: usize = 1024;

impl Core {
    /// Opens the data folder with the settings file read directly (CLI, daemon, tests).
    pub fn open(data_dir: DataDir) -> Result<Core> {
        let settings = FileSettings::new(data_dir.settings_file());
        Core::open_with_settings(data_dir, Box::new(settings))
    }

    /// Opens the data folder with another settings backend (the desktop app's plugin store).
    pub fn open_with_settings(
        data_dir: DataDir,
        settings: Box<dyn SettingsBackend>,
    ) -> Result<Core> {
        Core::open_with_clock(data_dir, settings, WallClock::System)
    }

    /// Opens the data folder with the settings file and `clock` for the shared backoff (tests
    /// on tokio's paused clock).
    #[cfg(test)]
    pub(crate) fn open_with_backoff_clock(data_dir: DataDir, clock: WallClock) -> Result<Core> {
        let settings = FileSettings::new(data_dir.settings_file());
        Core::open_with_clock(data_dir, Box::new(settings), clock)
    }

    fn open_with_clock(
        data_dir: DataDir,
        settings: Box<dyn SettingsBackend>,
        clock: WallClock,
    ) -> Result<Core> {
        std::fs::create_dir_all(data_dir.root()).map_err(|error| SettingsError {
            path: data_dir.root().display().to_string(),
            action: "created",
            reason: error.to_string(),
        })?;
        if let Err(error) = crate::paths::make_private(data_dir.root()) {
            // The data still works; the log says whose access could not be taken away.
            tracing::warn!(folder = %data_dir.root().display(), %error, "the data folder could not be made private to its user");
        }
        let secrets = Secrets::new(SecretSource::from_env().map_err(Error::SecretSource)?);
        let store = Store::open(&data_dir.database_file())?;
        let http = http::client().map_err(Error::Internal)?;
        Ok(Core {
            inner: Arc::new(Inner {
                data_dir,
                settings,
                settings_guard: Mutex::new(()),
                secrets,
                store,
                http,
                demo: DemoTenant::default(),
                events: broadcast::channel(EVENT_BACKLOG).0,
                runs: RunRegistry::default(),
                clock,
            }),
        })
    }

    /// Sets the options of the Defender clients built from now on (page size, budgets):
    /// tests and benchmarks use it to exercise paging on small tenants.
    pub fn set_client_options(&self, options: ClientOptions) {
        self.inner.runs.set_client_options(options);
    }

    /// Where this installation keeps secrets (`MDE_CAR_SECRETS`).
    pub fn secret_source(&self) -> &SecretSource {
        self.inner.secrets.source()
    }

    pub fn app_info(&self) -> AppInfo {
        let dir = &self.inner.data_dir;
        AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            data_dir: dir.root().display().to_string(),
            settings_file: self.inner.settings.path().display().to_string(),
            database_file: dir.database_file().display().to_string(),
            log_dir: dir.log_dir().display().to_string(),
        }
    }

    pub async fn list_connections(&self) -> Result<Vec<ConnectionView>> {
        let settings = self.load_settings().await?;
        let mut views = Vec::with_capacity(settings.connections.len());
        for connection in settings.connections {
            views.push(self.view(connection).await?);
        }
        Ok(views)
    }

    /// Finds a connection by name (case-insensitive) or id.
    pub async fn find_connection(&self, name_or_id: &str) -> Result<Connection> {
        let settings = self.load_settings().await?;
        find(&settings, name_or_id)
            .cloned()
            .ok_or_else(|| Error::ConnectionNotFound(name_or_id.to_owned()))
    }

    /// The connection `name_or_id` names, when its stored settings pass the form's rules (see
    /// [`Connection::problems`]): runs and tests start only from this, so a hand-edited file
    /// never sends the secret where the form would not.
    async fn usable_connection(&self, name_or_id: &str) -> Result<Connection> {
        let connection = self.find_connection(name_or_id).await?;
        self.check_usable(&connection)?;
        Ok(connection)
    }

    fn check_usable(&self, connection: &Connection) -> Result<()> {
        let problems = connection.problems();
        if problems.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidSettings {
            file: self.inner.settings.path().display().to_string(),
            name: connection.name.clone(),
            problems,
        })
    }

    /// The field problems of `draft`; `editing_id` names the connection being edited.
    pub async fn validate_connection(
        &self,
        draft: &ConnectionDraft,
        editing_id: Option<&str>,
    ) -> Result<Vec<FieldError>> {
        let settings = self.load_settings().await?;
        Ok(validate_against(
            &settings,
            draft,
            editing_id,
            self.secret_source(),
        ))
    }

    pub async fn add_connection(&self, draft: &ConnectionDraft) -> Result<ConnectionView> {
        self.add_connection_flagged(draft, false).await
    }

    async fn add_connection_flagged(
        &self,
        draft: &ConnectionDraft,
        demo: bool,
    ) -> Result<ConnectionView> {
        let (draft, secrets) = (draft.clone(), self.inner.secrets.clone());
        let connection = self
            .modify_settings(move |settings| {
                let errors = validate_against(settings, &draft, None, secrets.source());
                if !errors.is_empty() {
                    return Err(duplicate_or_validation(errors, &draft.name));
                }
                let secret = Connection::draft_secret(&draft)
                    .map(|secret| SecretString::from(secret.to_owned()));
                let connection =
                    draft.into_connection(uuid::Uuid::new_v4().to_string(), demo, Utc::now());
                match secret {
                    // The secret goes in first: a connection must never exist without its
                    // secret where mde-car keeps secrets itself.
                    Some(secret) => secrets.set(&connection.id, &secret)?,
                    // systemd credentials are the admin's to create, after the add.
                    None if !secrets.source().is_writable() => {}
                    None => {
                        return Err(Error::Internal(
                            "validation let a new connection through without a secret".to_owned(),
                        ));
                    }
                }
                settings.connections.push(connection.clone());
                Ok(connection)
            })
            .await;
        let connection = match connection {
            Ok(connection) => connection,
            Err((error, Some(orphan))) => {
                // Saving the settings failed after the secret was stored: take it back out.
                let _ = self.inner.secrets.delete(&orphan.id);
                return Err(error);
            }
            Err((error, None)) => return Err(error),
        };
        tracing::info!(connection = %connection.name, id = %connection.id, "connection added");
        self.connections_changed();
        self.view(connection).await
    }

    /// Replaces a connection's settings; a `None` secret keeps the stored one.
    pub async fn update_connection(
        &self,
        id: &str,
        draft: &ConnectionDraft,
    ) -> Result<ConnectionView> {
        let (id, draft, secrets) = (id.to_owned(), draft.clone(), self.inner.secrets.clone());
        let connection = self
            .modify_settings(move |settings| {
                let index = settings
                    .connections
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or_else(|| Error::ConnectionNotFound(id.clone()))?;
                let draft = settings.connections[index].with_kept_proxy_credentials(draft);
                let errors = validate_against(settings, &draft, Some(&id), secrets.source());
                if !errors.is_empty() {
                    return Err(duplicate_or_validation(errors, &draft.name));
                }
                // The key of a certificate connection is its secret: stored the same way.
                if let Some(secret) = Connection::draft_secret(&draft) {
                    secrets.set(&id, &SecretString::from(secret.to_owned()))?;
                }
                let existing = &mut settings.connections[index];
                *existing = draft.into_connection(id, existing.demo, existing.created_at);
                Ok(existing.clone())
            })
            .await
            .map_err(|(error, _)| error)?;
        tracing::info!(connection = %connection.name, id = %connection.id, "connection updated");
        // Before the scheduler is woken, so its next look tries the edited connection at once.
        self.reset_shared_backoff(&connection.id).await;
        self.connections_changed();
        self.view(connection).await
    }

    /// Deletes a connection, its keyring entry and everything stored for it.
    pub async fn delete_connection(&self, id: &str) -> Result<()> {
        // A run of a deleted connection would write rows nobody can see or remove.
        self.cancel_sync(id);
        let (id, secrets) = (id.to_owned(), self.inner.secrets.clone());
        let removed = self
            .modify_settings(move |settings| {
                let index = settings
                    .connections
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or_else(|| Error::ConnectionNotFound(id.clone()))?;
                // The keyring entry goes first: if that fails, the connection stays and the
                // user can retry, instead of a secret being left behind unreachable.
                secrets.delete(&id)?;
                Ok(settings.connections.remove(index))
            })
            .await
            .map_err(|(error, _)| error)?;
        let store = self.inner.store.clone();
        let id = removed.id.clone();
        blocking(move || Ok(store.forget_connection(&id)?)).await?;
        let (data_dir, id) = (self.inner.data_dir.clone(), removed.id.clone());
        if let Err(error) = backoff_file(move || shared_backoff::forget(&data_dir, &id)).await {
            // A leftover record of a deleted connection is never read again.
            tracing::warn!(connection = %removed.name, %error, "the shared backoff file stays behind");
        }
        tracing::info!(connection = %removed.name, id = %removed.id, "connection deleted");
        self.connections_changed();
        Ok(())
    }

    /// Tests a saved connection with its stored secret and records the result.
    pub async fn test_connection(&self, id: &str) -> Result<TestReport> {
        let connection = self.usable_connection(id).await?;
        let credential = self.stored_credential(&connection).await?;
        let endpoints = self.endpoints(&connection).await?;
        let target = ProbeTarget {
            tenant_id: &connection.tenant_id,
            client_id: &connection.client_id,
            cloud: connection.cloud,
            endpoints: &endpoints,
            data: connection.data,
            network: connection.network(),
        };
        let report = match self.http_for(&connection) {
            Ok(http) => {
                let probed = probe::test_connection(&http, &target, &credential).await;
                let client = self.client_for(&connection).await?;
                with_data_checks(probed, &client, connection.data).await
            }
            Err(message) => probe::network_settings_report(&message, connection.network()),
        };
        tracing::info!(connection = %connection.name, code = ?report.code, ms = report.duration_ms, "connection tested");
        let store = self.inner.store.clone();
        let (connection_id, saved) = (connection.id.clone(), report.clone());
        // A data type the tenant does not offer is remembered (the sync leaves it alone for a
        // day); one that answered is asked for again by the next sync.
        let answers = sync::availability_answers(&report.data);
        let tested_at = report.tested_at;
        blocking(move || {
            store.record_availability(&connection_id, &answers, tested_at)?;
            Ok(store.save_test_report(&connection_id, &saved)?)
        })
        .await?;
        Ok(report)
    }

    /// Tests what a form holds before it is saved. With `editing_id` and no secret in the
    /// draft, the stored secret is used — only when the draft keeps the saved connection's
    /// hosts, proxy and CA file (see [`Connection::keeps_secret_destination`]). Nothing is
    /// recorded.
    pub async fn test_draft(
        &self,
        draft: &ConnectionDraft,
        editing_id: Option<&str>,
    ) -> Result<TestReport> {
        let settings = self.load_settings().await?;
        let draft = &match editing_id.and_then(|id| find(&settings, id)) {
            Some(existing) => existing.with_kept_proxy_credentials(draft.clone()),
            None => draft.clone(),
        };
        let errors: Vec<FieldError> = validate_against(
            &settings,
            draft,
            editing_id.or(Some("")),
            self.secret_source(),
        )
        .into_iter()
        // A test needs the credentials and hosts right; the name can wait for Save.
        .filter(|error| !matches!(error.field, "name" | "description"))
        .collect();
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let editing = editing_id.and_then(|id| find(&settings, id)).cloned();
        let secret = match (Connection::draft_secret(draft), &editing) {
            (Some(secret), _) => SecretString::from(secret.to_owned()),
            // The draft passed the form's rules above and keeps the stored secret's hosts and
            // credential, so the stored connection's own problems (being fixed in this form)
            // do not matter.
            (None, Some(existing)) => self.keyring_secret(existing).await?,
            (None, None) => {
                return Err(Error::Validation(vec![match draft.credential {
                    config::CredentialKind::Secret => {
                        FieldError::new("clientSecret", "Enter the client secret's Value")
                    }
                    config::CredentialKind::Certificate => {
                        FieldError::new("privateKey", "Import the certificate's private key")
                    }
                }]));
            }
        };
        let credential = draft_credential(draft, secret)?;
        let demo = editing.as_ref().is_some_and(|c| c.demo);
        let probe_connection = draft
            .clone()
            .into_connection(String::new(), demo, Utc::now());
        let endpoints = self.endpoints(&probe_connection).await?;
        let target = ProbeTarget {
            tenant_id: &probe_connection.tenant_id,
            client_id: &probe_connection.client_id,
            cloud: probe_connection.cloud,
            endpoints: &endpoints,
            data: probe_connection.data,
            network: probe_connection.network(),
        };
        Ok(match self.http_for(&probe_connection) {
            Ok(http) => {
                let probed = probe::test_connection(&http, &target, &credential).await;
                let client = MdeClient::with_credential(
                    http,
                    endpoints.clone(),
                    &probe_connection.tenant_id,
                    &probe_connection.client_id,
                    credential,
                    self.inner.runs.client_options(),
                );
                with_data_checks(probed, &client, probe_connection.data).await
            }
            Err(message) => probe::network_settings_report(&message, probe_connection.network()),
        })
    }

    /// The permissions an app registration needs for a data selection.
    pub fn required_permissions(data: config::DataSelection) -> Vec<String> {
        data.required_permissions()
            .iter()
            .map(|p| p.name.to_owned())
            .collect()
    }

    /// Starts the bundled simulator and adds the demo connection (or returns the existing one).
    pub async fn start_demo(&self) -> Result<ConnectionView> {
        let tenant = self.inner.demo.ensure_running().await?;
        let settings = self.load_settings().await?;
        if let Some(existing) = settings.connections.iter().find(|c| c.demo) {
            return self.view(existing.clone()).await;
        }
        let taken: Vec<&str> = settings
            .connections
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    "Demo tenant".to_owned()
                } else {
                    format!("Demo tenant {n}")
                }
            })
            .find(|name| !taken.iter().any(|t| t.eq_ignore_ascii_case(name)))
            .unwrap_or_else(|| "Demo tenant".to_owned());
        let draft = ConnectionDraft {
            name,
            description: "Simulated Defender tenant bundled with mde-car: try everything without an Azure account".to_owned(),
            tenant_id: tenant.tenant_id,
            client_id: tenant.client_id,
            client_secret: Some(tenant.client_secret),
            credential: config::CredentialKind::Secret,
            certificate: None,
            private_key: None,
            frequency: config::Frequency::Interval { minutes: 60 },
            cloud: config::Cloud::Commercial,
            api_base_url: None,
            login_authority: None,
            proxy_url: None,
            ca_certificate_file: None,
            data: config::DataSelection::default(),
        };
        self.add_connection_flagged(&draft, true).await
    }

    /// The hosts a connection uses now; starts the simulator for the demo tenant.
    async fn endpoints(&self, connection: &Connection) -> Result<Endpoints> {
        if connection.demo {
            Ok(self.inner.demo.ensure_running().await?.endpoints)
        } else {
            Ok(connection.endpoints())
        }
    }

    async fn view(&self, connection: Connection) -> Result<ConnectionView> {
        let store = self.inner.store.clone();
        let id = connection.id.clone();
        let (last_test, runs, counts) = blocking(move || {
            Ok((
                store.last_test_report(&id)?,
                store.runs(&id, CARD_RUNS)?,
                store.connection_counts(&id)?,
            ))
        })
        .await?;
        let runs = self
            .settle_abandoned(&connection.id, runs, CARD_RUNS)
            .await?;
        let problems = connection.problems();
        let here = self.is_syncing(&connection.id);
        // Only a run this process does not know of needs the lock file looked at (and only
        // with an id fit to name a file).
        let elsewhere = !here
            && problems.is_empty()
            && runs
                .first()
                .is_some_and(|run| run.status == RunStatus::Running)
            && sync::running_elsewhere(&self.inner.data_dir, &connection.id);
        let last_run = runs.iter().find(|run| run.status != RunStatus::Running);
        let last_success = runs.iter().find(|run| run.status.saved_data());
        let test_is_newer = match (&last_test, last_run) {
            (Some(test), Some(run)) => test.tested_at > run.finished_at.unwrap_or(run.started_at),
            (Some(_), None) => true,
            _ => false,
        };
        // Scheduled attempts that ended before a run was recorded (a missing secret, a locked
        // keyring) leave their reason in the shared backoff: it stands until a run or an edit.
        let shared = self.read_shared_backoff(&connection.id);
        let failed_attempt = shared.last_failure.as_ref().filter(|failure| {
            last_run.is_none_or(|run| failure.at > run.finished_at.unwrap_or(run.started_at))
        });
        let (status, status_text) = if !problems.is_empty() {
            // The problems themselves travel in `problems`, each with its field.
            (
                ConnectionStatus::Error,
                format!(
                    "Not synced or tested: the settings file gives {} the form never accepts ({}). Edit the connection to fix {}.",
                    if problems.len() == 1 {
                        "a value"
                    } else {
                        "values"
                    },
                    problems
                        .iter()
                        .map(|problem| format!("\"{}\"", problem.field))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if problems.len() == 1 { "it" } else { "them" },
                ),
            )
        } else if here {
            (ConnectionStatus::Syncing, "Syncing…".to_owned())
        } else if elsewhere {
            (
                ConnectionStatus::Syncing,
                "Syncing in another mde-car process (the command line or a daemon)…".to_owned(),
            )
        } else if let Some(failure) = failed_attempt {
            (
                ConnectionStatus::Error,
                attempt_failure_line(failure, shared.failures),
            )
        } else if let (Some(run), false) = (last_run, test_is_newer) {
            run_status_line(run, counts.devices)
        } else {
            match &last_test {
                None => (
                    ConnectionStatus::NeverSynced,
                    "Not tested yet — run Test to check the credentials".to_owned(),
                ),
                Some(report) if report.ok && last_success.is_none() => (
                    ConnectionStatus::Connected,
                    "Connection works — not synced yet".to_owned(),
                ),
                Some(report) if report.ok => {
                    (ConnectionStatus::Connected, "Connection works".to_owned())
                }
                Some(report) => (ConnectionStatus::Error, status_line(report)),
            }
        };
        let certificate_state = connection
            .certificate
            .as_ref()
            .map(|certificate| certificate.state(Utc::now()));
        let certificate_notice = connection
            .certificate
            .as_ref()
            .and_then(|certificate| certificate.notice(Utc::now()));
        let (status, status_text) = match (certificate_state, &certificate_notice) {
            (Some(CertificateState::Expired), Some(notice)) if problems.is_empty() => {
                (ConnectionStatus::Error, notice.clone())
            }
            _ => (status, status_text),
        };
        let endpoints = match (connection.demo, self.inner.demo.running_endpoints().await) {
            (true, Some(endpoints)) => endpoints,
            _ => connection.endpoints(),
        };
        Ok(ConnectionView {
            frequency_text: connection.frequency.describe(),
            required_permissions: Core::required_permissions(connection.data),
            endpoints,
            status,
            status_text,
            last_test,
            last_sync_at: last_success.map(|run| run.finished_at.unwrap_or(run.started_at)),
            next_sync_at: problems
                .is_empty()
                .then(|| self.next_attempt(&connection, &runs)),
            counts: last_success.map(|_| Counts {
                devices: counts.devices,
                ip_addresses: counts.ip_addresses,
                alerts: counts.alerts,
                vulnerabilities: counts.vulnerabilities,
                risk: counts.risk,
            }),
            last_run: last_run.cloned(),
            problems,
            certificate_state,
            certificate_notice,
            connection,
        })
    }

    /// The connections as stored (for the scheduler and the CLI).
    pub async fn list_connection_records(&self) -> Result<Vec<Connection>> {
        Ok(self.load_settings().await?.connections)
    }

    /// Events of every run and connection change, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.inner.events.subscribe()
    }

    pub fn is_syncing(&self, connection_id: &str) -> bool {
        self.inner.runs.is_running(connection_id)
    }

    /// Runs one sync of a connection and waits for it (CLI, tests). `force_full` asks for a full
    /// listing and export even when an incremental run would do.
    pub async fn sync_connection(
        &self,
        id_or_name: &str,
        force_full: bool,
        trigger: Trigger,
    ) -> Result<SyncOutcome> {
        let connection = self.usable_connection(id_or_name).await?;
        let guard = self.register_run(&connection.id, &connection.name)?;
        let result = match sync::lock_run(&self.inner.data_dir, &connection.id, &connection.name) {
            Ok(run_lock) => {
                self.run_registered(
                    connection.clone(),
                    force_full,
                    trigger,
                    guard.cancel_token(),
                    Arc::new(run_lock),
                )
                .await
            }
            Err(error) => Err(error.into()),
        };
        drop(guard);
        self.announce_end(&connection.id, &result);
        result
    }

    /// Starts a sync in the background and returns at once (desktop "Sync now", scheduler).
    /// Progress and the end arrive as events.
    pub fn start_sync(
        &self,
        connection_id: &str,
        force_full: bool,
        trigger: Trigger,
    ) -> Result<()> {
        self.spawn_sync(connection_id, force_full, trigger, None)
    }

    /// [`Core::start_sync`]; for a `scheduled` attempt, under the run lock it was decided
    /// under, recording its outcome in the shared backoff and telling the scheduler.
    fn spawn_sync(
        &self,
        connection_id: &str,
        force_full: bool,
        trigger: Trigger,
        scheduled: Option<ScheduledAttempt>,
    ) -> Result<()> {
        let core = self.clone();
        let id = connection_id.to_owned();
        // Registering before spawning closes the window in which two callers both start one.
        let guard = self.register_run(&id, &id)?;
        tokio::spawn(async move {
            let taken_lock = scheduled.as_ref().map(|attempt| attempt.run_lock.clone());
            let result = core
                .attempt_registered(&id, force_full, trigger, guard.cancel_token(), taken_lock)
                .await;
            if let Some(ScheduledAttempt {
                ended,
                run_lock,
                seen,
            }) = scheduled
            {
                let outcome = match &result {
                    Ok(_) => AttemptOutcome::Recorded,
                    Err(error) => {
                        core.record_failed_attempt(&id, seen, error).await;
                        AttemptOutcome::NotRecorded
                    }
                };
                // Told while still registered: the scheduler never sees the connection idle
                // with its attempt unreported (and start it again at once).
                ended.tell(outcome);
                // Released once the shared backoff says when the next attempt may come.
                drop(run_lock);
            }
            drop(guard);
            if let Err(error) = &result {
                tracing::warn!(connection = %id, %error, "sync did not run");
            }
            core.announce_end(&id, &result);
            core.inner.runs.wake_scheduler();
        });
        Ok(())
    }

    /// Accepts a much smaller device listing than before for the connection's next full run
    /// (the card's "Accept smaller listing", `mde-car sync NAME --full --accept-shrink`): the
    /// devices it lacks are then marked gone. Without it, such a listing deactivates nothing.
    pub fn accept_shrink(&self, connection_id: &str) {
        self.inner.runs.accept_shrink(connection_id);
    }

    /// The card's "Accept smaller listing": accepts the shrink and starts a full run now.
    pub fn start_sync_accepting_shrink(&self, connection_id: &str) -> Result<()> {
        self.accept_shrink(connection_id);
        self.start_sync(connection_id, true, Trigger::Manual)
    }

    /// Asks a running sync to stop; true when one was running here.
    pub fn cancel_sync(&self, connection_id: &str) -> bool {
        self.inner.runs.cancel(connection_id)
    }

    /// Past runs of a connection, newest first; one that a killed process left `running`
    /// reads as interrupted (see `settle_abandoned`).
    pub async fn sync_runs(&self, connection_id: &str, limit: usize) -> Result<Vec<RunRecord>> {
        let runs = self.stored_runs(connection_id, limit).await?;
        self.settle_abandoned(connection_id, runs, limit).await
    }

    async fn stored_runs(&self, connection_id: &str, limit: usize) -> Result<Vec<RunRecord>> {
        let store = self.inner.store.clone();
        let id = connection_id.to_owned();
        blocking(move || Ok(store.runs(&id, limit)?)).await
    }

    /// `runs` (the newest `limit` of the connection's records), with every record still
    /// `running` that no process is running read as [`RunStatus::Interrupted`]: its process was
    /// killed (or the machine lost power) before the run ended. The file keeps `running` until
    /// the connection's next run marks it interrupted under the run lock (`Store::begin_run`);
    /// reading writes nothing, so neither an open nor a listing waits on another process's
    /// save. A run is live while this process runs it or another holds its run lock, and it
    /// ends its record before letting go of both; so the records are read again after looking,
    /// and one still `running` then, that was already there before, is a dead process's.
    async fn settle_abandoned(
        &self,
        connection_id: &str,
        runs: Vec<RunRecord>,
        limit: usize,
    ) -> Result<Vec<RunRecord>> {
        let running: Vec<i64> = runs
            .iter()
            .filter(|run| run.status == RunStatus::Running)
            .map(|run| run.id)
            .collect();
        if running.is_empty()
            || self.is_syncing(connection_id)
            || sync::running_elsewhere(&self.inner.data_dir, connection_id)
        {
            return Ok(runs);
        }
        let mut again = self.stored_runs(connection_id, limit).await?;
        for run in &mut again {
            if run.status == RunStatus::Running && running.contains(&run.id) {
                run.status = RunStatus::Interrupted;
            }
        }
        Ok(again)
    }

    /// Starts the scheduler (desktop app, daemon); it stops when the token is cancelled.
    pub fn start_scheduler(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::scheduler::run(
            self.clone(),
            stop,
            self.inner.runs.scheduler_wake(),
        ))
    }

    /// Watches for other processes' changes until `stop`; sends [`SyncEvent::StoreChanged`]
    /// and [`SyncEvent::ConnectionsChanged`] when it sees some.
    pub fn watch_other_processes(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let core = self.clone();
        let (store, settings_path) = (self.inner.store.clone(), self.inner.settings.path());
        tokio::spawn(watch::watch(store, settings_path, stop, move |change| {
            match change {
                OutsideChange::Store => core.announce(SyncEvent::StoreChanged),
                // New runs use the new credentials and hosts.
                OutsideChange::Settings => core.connections_changed(),
            }
        }))
    }

    /// Runs one search over every connection (or the one named), sorted and paged.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let connections = self.list_connection_records().await?;
        Ok(search::search(&self.inner.store, &connections, request).await?)
    }

    /// Every asset that held `address`, as intervals on a timeline, with risk.
    pub async fn ip_timeline(&self, address: &str, connection: Option<&str>) -> Result<IpTimeline> {
        let connections = self.list_connection_records().await?;
        Ok(search::ip_timeline(&self.inner.store, &connections, address, connection).await?)
    }

    /// The device view of one asset (see [`search::asset_detail`] for the references taken).
    pub async fn asset_detail(&self, reference: &str) -> Result<AssetDetail> {
        let connections = self.list_connection_records().await?;
        Ok(search::asset_detail(&self.inner.store, &connections, reference).await?)
    }

    /// Every page of a search's results as a file (up to [`search::MAX_EXPORT_ROWS`] assets).
    pub async fn export_search(
        &self,
        request: &SearchRequest,
        format: ExportFormat,
    ) -> Result<Export> {
        let connections = self.list_connection_records().await?;
        Ok(search::export_search(&self.inner.store, &connections, request, format).await?)
    }

    /// Who held `address` when, as a file.
    pub async fn export_ip_timeline(
        &self,
        address: &str,
        connection: Option<&str>,
        format: ExportFormat,
    ) -> Result<Export> {
        let connections = self.list_connection_records().await?;
        let store = &self.inner.store;
        Ok(search::export_ip_timeline(store, &connections, address, connection, format).await?)
    }

    /// The device view of one asset, as a file.
    pub async fn export_asset(&self, reference: &str, format: ExportFormat) -> Result<Export> {
        let connections = self.list_connection_records().await?;
        Ok(search::export_asset(&self.inner.store, &connections, reference, format).await?)
    }

    /// Confirms "who had `address` at `at`" live with the connection's tenant (`findbyip`).
    pub async fn confirm_attribution(
        &self,
        connection: &str,
        address: &str,
        at: &str,
    ) -> Result<Attribution> {
        let connections = self.list_connection_records().await?;
        let request = search::live_request(&connections, connection, address, at)?;
        let client = self.client_for(&request.connection).await?;
        let store = &self.inner.store;
        Ok(search::confirm_attribution(store, &connections, &client, request).await?)
    }

    /// Tells the shells a run ended, or could not start. Sent after the run is unregistered,
    /// so a new run of the connection is accepted as soon as this is heard.
    fn announce_end(&self, connection_id: &str, result: &Result<SyncOutcome>) {
        let event = match result {
            Ok(outcome) => SyncEvent::Finished {
                connection_id: connection_id.to_owned(),
                run_id: Some(outcome.run_id),
                status: outcome.status,
                summary: sync::summary(outcome),
                error_code: outcome.error_code.clone(),
            },
            Err(error) => SyncEvent::Finished {
                connection_id: connection_id.to_owned(),
                run_id: None,
                status: RunStatus::Failed,
                summary: error.to_string(),
                error_code: Some(error.code().key().to_owned()),
            },
        };
        let _ = self.inner.events.send(event);
    }

    fn announce(&self, event: SyncEvent) {
        let _ = self.inner.events.send(event);
    }

    fn connections_changed(&self) {
        // Credentials or hosts may have changed: the next run builds a fresh client, and the
        // scheduler tries a connection whose runs could not start again now.
        self.inner.runs.forget_clients();
        self.inner.runs.connections_edited();
        self.announce(SyncEvent::ConnectionsChanged);
        self.inner.runs.wake_scheduler();
    }

    /// Registers a run of the connection; `name` is what "already running" calls it.
    fn register_run(&self, connection_id: &str, name: &str) -> Result<RunGuard> {
        self.inner
            .runs
            .register(connection_id)
            .ok_or_else(|| Error::AlreadyRunning(name.to_owned()))
    }

    /// A registered run of the connection `id` names: its settings, then its run lock (unless
    /// the scheduler took it already), then the run.
    async fn attempt_registered(
        &self,
        id: &str,
        force_full: bool,
        trigger: Trigger,
        cancel: CancellationToken,
        run_lock: Option<Arc<LockFile>>,
    ) -> Result<SyncOutcome> {
        let connection = self.usable_connection(id).await?;
        let run_lock = match run_lock {
            Some(run_lock) => run_lock,
            None => Arc::new(sync::lock_run(
                &self.inner.data_dir,
                &connection.id,
                &connection.name,
            )?),
        };
        self.run_registered(connection, force_full, trigger, cancel, run_lock)
            .await
    }

    /// Runs a registered run in a task of its own, so that a panic anywhere in it (the sync,
    /// the client, the keyring) ends here as a failed run instead of a task that died with its
    /// record left `running`. The task is aborted if this future is dropped, as the run itself
    /// would have been. `run_lock` is held here, outside the task, so a panic does not release
    /// it before the record is ended.
    async fn run_registered(
        &self,
        connection: Connection,
        force_full: bool,
        trigger: Trigger,
        cancel: CancellationToken,
        run_lock: Arc<LockFile>,
    ) -> Result<SyncOutcome> {
        // A record this run begins starts later; an older `running` one is not this run's.
        let began = Utc::now();
        let task = tokio_util::task::AbortOnDropHandle::new(tokio::spawn({
            let (core, connection) = (self.clone(), connection.clone());
            async move {
                core.run_unguarded(connection, force_full, trigger, cancel)
                    .await
            }
        }));
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => {
                let detail = panic_text(error.into_panic().as_ref());
                self.end_after_panic(connection, began, &detail, run_lock)
                    .await
            }
            Err(error) => Err(Error::Internal(format!(
                "the sync of '{}' stopped unexpectedly: {error}",
                connection.name
            ))),
        }
    }

    /// A run's task panicked: its record, if it got one, is ended as failed (`internal`), so
    /// the history says so and the connection is not left `running`.
    async fn end_after_panic(
        &self,
        connection: Connection,
        began: DateTime<Utc>,
        detail: &str,
        run_lock: Arc<LockFile>,
    ) -> Result<SyncOutcome> {
        // The panic's own words go to the log only: they were not written for a person, and
        // nothing vouches that they hold no secret.
        tracing::error!(connection = %connection.name, panic = detail, "a sync run panicked");
        let message = "an internal error stopped the sync (a bug in mde-car; the log has the details); nothing was changed".to_owned();
        let store = self.inner.store.clone();
        let recorded = {
            let message = message.clone();
            blocking(move || {
                Ok(sync::end_after_panic(
                    &store,
                    &run_lock,
                    &connection,
                    began,
                    &message,
                )?)
            })
            .await?
        };
        let Some((run_id, full)) = recorded else {
            return Err(Error::Internal(message));
        };
        Ok(SyncOutcome {
            run_id,
            full,
            status: RunStatus::Failed,
            changes: Default::default(),
            api_calls: Default::default(),
            throttled_ms: 0,
            notes: Vec::new(),
            error: Some(message),
            error_code: Some(ErrorCode::Internal.key().to_owned()),
        })
    }

    async fn run_unguarded(
        &self,
        connection: Connection,
        force_full: bool,
        trigger: Trigger,
        cancel: CancellationToken,
    ) -> Result<SyncOutcome> {
        let client = self.client_for(&connection).await?;
        // Only a full listing can mark devices gone, so only a full run uses the acceptance up.
        let accept_shrink = force_full && self.inner.runs.take_accepted_shrink(&connection.id);
        Ok(sync::run(sync::RunContext {
            store: self.inner.store.clone(),
            client,
            data_dir: self.inner.data_dir.clone(),
            connection,
            events: self.inner.events.clone(),
            cancel,
            force_full,
            accept_shrink,
            trigger,
        })
        .await?)
    }

    /// The connection's Defender client: one per connection, kept so its token cache and rate
    /// budget outlive a run (dropped when connections change).
    async fn client_for(&self, connection: &Connection) -> Result<MdeClient> {
        let credential = self.stored_credential(connection).await?;
        let endpoints = self.endpoints(connection).await?;
        let http = self.http_for(connection).map_err(|message| {
            Error::Validation(vec![FieldError::new(
                if connection.ca_certificate_file.is_some() {
                    "caCertificateFile"
                } else {
                    "proxyUrl"
                },
                message,
            )])
        })?;
        Ok(self.inner.runs.client(&connection.id, |options| {
            MdeClient::with_credential(
                http,
                endpoints,
                &connection.tenant_id,
                &connection.client_id,
                credential,
                options,
            )
        }))
    }

    /// The connection's credential: its secret from the keyring, or for a certificate
    /// connection the key stored there with its certificate; a missing one is an error that
    /// says how to set it again.
    async fn stored_credential(&self, connection: &Connection) -> Result<Credential> {
        self.check_usable(connection)?;
        let secret = self.keyring_secret(connection).await?;
        match &connection.certificate {
            None => Ok(Credential::Secret(secret)),
            Some(certificate) => Credential::certificate(secret, certificate)
                .map_err(|error| Error::Internal(error.to_string())),
        }
    }

    /// Reads a certificate and its private key from the files a person chose (a PEM file with
    /// the key or a separate key file, or a PFX file with its password), for the form's and
    /// the CLI's certificate field. Nothing is stored.
    pub fn import_certificate(
        &self,
        file: &[u8],
        key_file: Option<&[u8]>,
        password: Option<&str>,
    ) -> Result<ImportedCertificate> {
        config::certificate::import(file, key_file, password, Utc::now()).map_err(|error| {
            Error::Validation(vec![FieldError::new(
                error.field(),
                capitalize_first(&error.to_string()),
            )])
        })
    }

    /// [`Core::stored_secret`] without the settings check, for a draft that passed it itself.
    async fn keyring_secret(&self, connection: &Connection) -> Result<SecretString> {
        let secrets = self.inner.secrets.clone();
        let id = connection.id.clone();
        blocking(move || Ok(secrets.get(&id)?))
            .await?
            .ok_or_else(|| Error::SecretMissing(connection.name.clone()))
    }

    /// The HTTP client of a connection: the shared one, or one with its proxy and CA file.
    fn http_for(&self, connection: &Connection) -> std::result::Result<reqwest::Client, String> {
        let network = connection.network();
        if network.is_default() {
            Ok(self.inner.http.clone())
        } else {
            http::client_for(network)
        }
    }

    /// The connection's shared backoff; one that cannot be read counts as none (this
    /// process's own backoff still holds, and the next recorded failure replaces the file).
    fn read_shared_backoff(&self, connection_id: &str) -> SharedBackoff {
        shared_backoff::read(&self.inner.data_dir, connection_id).unwrap_or_else(|error| {
            tracing::debug!(connection = connection_id, %error, "no shared backoff to read");
            SharedBackoff::default()
        })
    }

    /// When the scheduler tries the connection next: when its history makes it due, or later
    /// while attempts that recorded no run hold it back in every process.
    fn next_attempt(&self, connection: &Connection, runs: &[RunRecord]) -> DateTime<Utc> {
        let due = scheduler::next_due(connection, runs, Utc::now());
        let now = self.inner.clock.now();
        let shared = self.read_shared_backoff(&connection.id).not_before;
        match scheduler::shared_wait(shared, now) {
            Some(wait) => due.max(now + wait),
            None => due,
        }
    }

    /// A scheduled attempt ended before a run was recorded: writes the next shared step, under
    /// the run lock the caller still holds. When that fails, this process's own backoff is all
    /// that holds the next attempt back (and the other processes keep theirs).
    async fn record_failed_attempt(&self, connection_id: &str, seen: SharedBackoff, error: &Error) {
        let (data_dir, id, now) = (
            self.inner.data_dir.clone(),
            connection_id.to_owned(),
            self.inner.clock.now(),
        );
        let failure = AttemptFailure {
            code: error.code().key().to_owned(),
            message: error.to_string(),
            at: now,
        };
        let recorded = backoff_file(move || {
            shared_backoff::record_failure(
                &data_dir,
                &id,
                &seen,
                now,
                failure,
                scheduler::attempt_delay,
            )
        })
        .await;
        match recorded {
            Ok(Some(backoff)) => tracing::info!(
                connection = connection_id,
                failures = backoff.failures,
                not_before = ?backoff.not_before,
                "no mde-car process on this data folder tries the sync again before then"
            ),
            Ok(None) => tracing::info!(
                connection = connection_id,
                "the connection was edited during the attempt: its backoff starts over"
            ),
            Err(error) => tracing::warn!(
                connection = connection_id,
                %error,
                "the backoff could not be shared; this process backs off on its own"
            ),
        }
    }

    /// An edit of the connection starts its shared backoff over, for every process: the edit
    /// may be the fix. A reset that cannot be written leaves the backoff to run out (one step
    /// at most); the edit stands.
    async fn reset_shared_backoff(&self, connection_id: &str) {
        let (data_dir, id) = (self.inner.data_dir.clone(), connection_id.to_owned());
        if let Err(error) =
            backoff_file(move || shared_backoff::reset_for_edit(&data_dir, &id)).await
        {
            tracing::warn!(connection = connection_id, %error, "the shared backoff could not be reset");
        }
    }

    async fn load_settings(&self) -> Result<Settings> {
        let _guard = self.inner.settings_guard.lock().await;
        let inner = self.inner.clone();
        blocking(move || {
            let _lock = lock_settings(&inner.data_dir)?;
            Ok(inner.settings.load()?)
        })
        .await
    }

    /// Runs `change` on the current settings under both locks and saves the result. When the
    /// save fails after `change` succeeded, the error comes back with `change`'s value, so the
    /// caller can undo side effects (a secret already stored).
    async fn modify_settings<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, (Error, Option<T>)> {
        let _guard = self.inner.settings_guard.lock().await;
        let inner = self.inner.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let _lock = lock_settings(&inner.data_dir).map_err(|e| (e, None))?;
            let mut settings = inner.settings.load().map_err(|e| (e.into(), None))?;
            let value = change(&mut settings).map_err(|e| (e, None))?;
            match inner.settings.save(&settings) {
                Ok(()) => Ok(value),
                Err(error) => Err((error.into(), Some(value))),
            }
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(join_error) => Err((
                Error::Internal(format!("a settings task failed: {join_error}")),
                None,
            )),
        }
    }
}

/// What the scheduler sees of the core: connections, their runs, and starting one.
impl ScheduleHandle for Core {
    type Error = Error;

    async fn connections(&self) -> Result<Vec<(Connection, Vec<RunRecord>)>> {
        let connections = self.list_connection_records().await?;
        let mut with_runs = Vec::with_capacity(connections.len());
        // One the settings file gives invalid values is never due: its card says why, and an
        // edit that fixes it wakes the scheduler.
        for connection in connections.into_iter().filter(|c| c.problems().is_empty()) {
            // A connection whose runs cannot be read is due now, as one never synced is.
            let runs = self.sync_runs(&connection.id, 12).await.unwrap_or_default();
            with_runs.push((connection, runs));
        }
        Ok(with_runs)
    }

    fn is_running(&self, connection_id: &str) -> bool {
        self.is_syncing(connection_id)
    }

    fn runs_ended(&self) -> u64 {
        self.inner.runs.runs_ended()
    }

    fn running_elsewhere(&self, connection_id: &str) -> bool {
        sync::running_elsewhere(&self.inner.data_dir, connection_id)
    }

    fn edits(&self) -> u64 {
        self.inner.runs.connection_edits()
    }

    fn shared_backoff(&self, connection_id: &str) -> Option<Duration> {
        let record = self.read_shared_backoff(connection_id);
        scheduler::shared_wait(record.not_before, self.inner.clock.now())
    }

    fn start_run(&self, connection_id: &str, ended: AttemptEnd) -> Result<()> {
        // Decided under the run lock: of two processes that found the connection due together,
        // one takes the lock and the other skips it, then reads the winner's new not-before.
        let run_lock = match sync::lock_run(&self.inner.data_dir, connection_id, connection_id) {
            Ok(run_lock) => Arc::new(run_lock),
            Err(SyncError::AlreadyRunning(_)) => {
                ended.tell(AttemptOutcome::Skipped);
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        // Read again under the lock: another process may have attempted since the pass read it.
        let seen = self.read_shared_backoff(connection_id);
        if scheduler::shared_wait(seen.not_before, self.inner.clock.now()).is_some() {
            ended.tell(AttemptOutcome::Skipped);
            return Ok(());
        }
        let attempt = ScheduledAttempt {
            ended,
            run_lock,
            seen,
        };
        self.spawn_sync(connection_id, false, Trigger::Schedule, Some(attempt))
    }
}

/// What a panic said, when it said it in words.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The inter-process settings lock, held across load + save.
fn lock_settings(data_dir: &DataDir) -> Result<LockFile> {
    let path = data_dir.settings_lock_file();
    LockFile::acquire(&path).map_err(|failure| {
        let reason = match failure {
            LockFailure::Io(error) => error.to_string(),
            LockFailure::Held => "another holder has it".to_owned(),
        };
        Error::Settings(SettingsError {
            path: path.display().to_string(),
            action: "locked",
            reason,
        })
    })
}

fn find<'a>(settings: &'a Settings, name_or_id: &str) -> Option<&'a Connection> {
    let wanted = name_or_id.trim();
    settings
        .connections
        .iter()
        .find(|c| c.id == wanted)
        .or_else(|| {
            settings
                .connections
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(wanted))
        })
}

/// The draft's problems against the other connections, where `source` keeps secrets: a
/// source mde-car cannot write (systemd credentials) takes no secret at all, so a new
/// connection needs none and its hosts, which a stored secret follows, cannot change.
fn validate_against(
    settings: &Settings,
    draft: &ConnectionDraft,
    editing_id: Option<&str>,
    source: &SecretSource,
) -> Vec<FieldError> {
    let others: Vec<&str> = settings
        .connections
        .iter()
        .filter(|c| Some(c.id.as_str()) != editing_id)
        .map(|c| c.name.as_str())
        .collect();
    let writable = source.is_writable();
    let mut errors = config::validate(draft, &others, editing_id.is_none() && writable);
    let secret_field = match draft.credential {
        config::CredentialKind::Secret => "clientSecret",
        config::CredentialKind::Certificate => "privateKey",
    };
    if !writable {
        // The client secret or the certificate's key is the admin's systemd credential: none
        // is asked for, and one given is refused rather than dropped.
        let given = Connection::draft_secret(draft).is_some();
        let moves = editing_id
            .and_then(|id| find(settings, id))
            .is_some_and(|existing| !existing.keeps_secret_destination(draft));
        errors.retain(|error| error.field != "clientSecret" && error.field != "privateKey");
        if given {
            errors.push(FieldError::new(secret_field, config::SECRET_FROM_SYSTEMD));
        } else if moves {
            errors.push(FieldError::new(
                secret_field,
                config::HOSTS_FIXED_UNDER_SYSTEMD,
            ));
        }
        return errors;
    }
    // An edit to other hosts without a secret (none, or the form's empty field) is told why
    // the secret is needed, rather than only that it is empty.
    let moves_secret = draft
        .client_secret
        .as_deref()
        .is_none_or(|secret| secret.trim().is_empty())
        && editing_id
            .and_then(|id| find(settings, id))
            .is_some_and(|existing| !existing.keeps_secret_destination(draft));
    let no_secret = Connection::draft_secret(draft).is_none();
    let editing = editing_id.and_then(|id| find(settings, id));
    if moves_secret && draft.credential == config::CredentialKind::Secret {
        errors.retain(|error| error.field != "clientSecret");
        errors.push(FieldError::new(
            "clientSecret",
            config::SECRET_FOR_NEW_HOSTS,
        ));
    } else if no_secret
        && let Some(existing) = editing
        && (!existing.keeps_credential(draft) || moves_secret)
    {
        // Another kind or certificate, or other hosts: the stored secret or key belongs to
        // what was there, so it is asked for again (the "secrets follow their hosts" rule).
        errors.retain(|error| error.field != secret_field);
        errors.push(FieldError::new(
            secret_field,
            match draft.credential {
                config::CredentialKind::Secret => config::SECRET_FOR_NEW_KIND,
                config::CredentialKind::Certificate if moves_secret => {
                    "Import the certificate's private key again: the cloud, login authority, API base URL, proxy or CA file changed, and a stored key is only used where it was entered for"
                }
                config::CredentialKind::Certificate => config::KEY_FOR_NEW_CERTIFICATE,
            },
        ));
    }
    errors
}

/// The credential a draft signs in with, from the secret or key it carries (or the stored one).
fn draft_credential(draft: &ConnectionDraft, secret: SecretString) -> Result<Credential> {
    match (draft.credential, &draft.certificate) {
        (config::CredentialKind::Certificate, Some(certificate)) => {
            Credential::certificate(secret, certificate).map_err(|error| {
                Error::Validation(vec![FieldError::new("certificate", error.to_string())])
            })
        }
        _ => Ok(Credential::Secret(secret)),
    }
}

fn capitalize_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A name clash alone is reported as its own code, so the CLI and UI can say so plainly.
fn duplicate_or_validation(errors: Vec<FieldError>, name: &str) -> Error {
    let only_name_taken = errors.len() == 1
        && errors[0].field == "name"
        && errors[0].message.starts_with("Another connection");
    if only_name_taken {
        Error::DuplicateName(name.trim().to_owned())
    } else {
        Error::Validation(errors)
    }
}

/// How many of a connection's newest runs its card is built from.
const CARD_RUNS: usize = 12;

/// The card's pill and line after a run.
/// The card's line for scheduled attempts that could not start a run.
fn attempt_failure_line(failure: &AttemptFailure, attempts: u32) -> String {
    let tries = if attempts > 1 {
        format!(" ({attempts} attempts in a row)")
    } else {
        String::new()
    };
    format!(
        "Sync could not start{tries}: {}. It is tried again at the next sync time; an edit of the connection lets it try at once.",
        failure.message.trim_end_matches('.')
    )
}

fn run_status_line(run: &RunRecord, devices: u64) -> (ConnectionStatus, String) {
    let synced = format!(
        "Synced {} device{}",
        group_digits(devices),
        if devices == 1 { "" } else { "s" }
    );
    match run.status {
        RunStatus::Succeeded => (
            ConnectionStatus::Connected,
            // The card lists the notes under this line, and the CLI's `runs` prints them: here
            // only how many there are.
            match run.notes.len() {
                0 => synced,
                1 => format!("{synced}, with a note"),
                n => format!("{synced}, with {n} notes"),
            },
        ),
        // The notes (listed under this line) say which data is missing and why.
        RunStatus::Partial => (
            ConnectionStatus::Connected,
            format!("{synced}; some data could not be updated — see the notes below"),
        ),
        RunStatus::Cancelled => (
            ConnectionStatus::Connected,
            "Last sync was cancelled; nothing changed".to_owned(),
        ),
        RunStatus::Failed | RunStatus::Interrupted | RunStatus::Running => {
            let error = run
                .error
                .as_deref()
                .unwrap_or("the run was interrupted before it finished");
            let next = match run.error_code.as_deref() {
                Some("auth") => " — run Test to see what is wrong with the credentials",
                Some("forbidden") => " — grant the permission in Entra ID, then Test again",
                Some("network") => " — check the network or proxy; the next sync tries again",
                Some("throttled") => " — Defender's rate limit; the next sync continues",
                None if run.status != RunStatus::Failed => {
                    " — the next sync starts over; nothing was lost"
                }
                _ => "",
            };
            (
                ConnectionStatus::Error,
                format!("Sync failed: {error}{next}"),
            )
        }
    }
}

/// `12402` → `12,402`: counts as people read them.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn status_line(report: &TestReport) -> String {
    let action = match report.code {
        TestCode::WrongSecret
        | TestCode::ExpiredSecret
        | TestCode::WrongKey
        | TestCode::CertificateExpired => " — update it in Edit",
        TestCode::CertificateNotRegistered => " — upload it to the app registration",
        TestCode::ClockSkew => " — set this computer's clock right",
        TestCode::UnknownTenant | TestCode::UnknownClient => " — check it in Edit",
        TestCode::MissingPermission => " — grant it in Entra ID, then Test again",
        _ => "",
    };
    if report.code == TestCode::MissingPermission && !report.missing_roles.is_empty() {
        format!(
            "Missing permission {}{action}",
            report.missing_roles.join(", ")
        )
    } else {
        format!("{}{action}", report.title)
    }
}

/// Shared backoff file work, off the async threads. Its failures are logged, never returned:
/// the backoff is advisory, and each process's own backoff holds without it.
async fn backoff_file<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, shared_backoff::SharedBackoffError> + Send + 'static,
) -> std::result::Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done.map_err(|error| error.to_string()),
        Err(error) => Err(format!("a background task failed: {error}")),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Internal(format!("a background task failed: {error}")))?
}

/// A test's report with each selected data type checked, once the device list was read (a
/// failure before that is the whole answer). A data type that cannot be read does not make the
/// test fail: devices are what a connection needs, and the report says what is missing.
async fn with_data_checks(
    probed: probe::Probed,
    client: &MdeClient,
    data: config::DataSelection,
) -> TestReport {
    let mut report = probed.report;
    if probed.devices_read {
        let started = std::time::Instant::now();
        report.data = sync::check_data(client, data).await;
        // The Defender token's roles cannot show Graph's: when hunting goes to Graph, the
        // legacy API's AdvancedQuery.Read.All is not needed, whatever the probe counted.
        if probe::lacks_hunting_role(&report)
            && client.hunting_api().await.is_ok_and(HuntingApi::is_graph)
        {
            report = probe::hunting_covered_by_graph(report);
        }
        if let Some(note) = sync::hunting_note(client, data).await {
            if !report.detail.is_empty() {
                report.detail.push(' ');
            }
            report.detail.push_str(&note);
        }
        report.duration_ms = report
            .duration_ms
            .saturating_add(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    }
    report
}

#[cfg(test)]
mod tests;
