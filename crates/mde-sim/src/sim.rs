//! [`Sim`]: start a simulator, reach its URLs, credentials, ground truth, clock, faults and log.

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::SimClock;
use crate::config::{AppRegistration, DEFAULT_ROLES, SimConfig};
use crate::faults::{self, Faults, Portion};
use crate::limits::Limiter;
use crate::requests::Requests;
use crate::server::{self, Shared};
use crate::tenant::{self, Alert, Device, Lease, MutationError, Tenant};

/// A running simulator. Clones share it; `Send + Sync`.
#[derive(Clone)]
pub struct Sim {
    shared: Arc<Shared>,
    server: Arc<Mutex<Option<ServerTask>>>,
}

/// The serving task and the signal that stops it.
type ServerTask = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
);

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("url", &self.shared.url)
            .field("tenant_id", &self.shared.tenant_id)
            .finish()
    }
}

impl Sim {
    /// Generates the tenant and serves it on `127.0.0.1:{config.port}`.
    pub async fn start(config: SimConfig) -> anyhow::Result<Sim> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let port = listener.local_addr()?.port();
        let url = format!("http://127.0.0.1:{port}");
        let (tenant_id, client_id, secret, signing_key) = server::auth::identity(config.seed);
        let now = config.start_time.unwrap_or_else(|| {
            DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now)
        });
        let mut apps = config.apps.clone();
        if apps.is_empty() {
            apps.push(AppRegistration {
                client_id,
                secret,
                secret_expired: false,
                roles: DEFAULT_ROLES
                    .iter()
                    .map(|role| (*role).to_owned())
                    .collect(),
                display_name: "mde-car simulator app".to_owned(),
            });
        }
        let (seed, n_devices, generation_tenant) = (config.seed, config.devices, tenant_id.clone());
        let tenant = tokio::task::spawn_blocking(move || {
            tenant::generate(seed, n_devices, now, &generation_tenant)
        })
        .await?;
        let token_serial = Arc::new(AtomicU64::new(1));
        let shared = Arc::new(Shared {
            url,
            tenant_domain: "contoso-sim.onmicrosoft.com".to_owned(),
            tenant_display_name: "Contoso (simulated)".to_owned(),
            tenant_id,
            apps: RwLock::new(apps),
            certificates: RwLock::new(Vec::new()),
            tenant: RwLock::new(tenant),
            clock: SimClock::new(now, config.clock),
            faults: Faults::new(config.seed, token_serial.clone()),
            requests: Requests::default(),
            limiter: Limiter::default(),
            signing_key,
            token_serial,
            issued_tokens: std::sync::Mutex::new(Vec::new()),
            config,
        });
        for failure in &shared.config.failures {
            shared.faults.fail(failure.endpoint, failure.failure);
        }
        if let Some(shown) = shared.config.shrink_machines {
            shared.faults.shrink_machines(shown);
        }
        shared.faults.set_export_rows(shared.config.export_rows);
        let router = axum::Router::new()
            .fallback(server::dispatch)
            .with_state(shared.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "simulator server stopped with an error");
            }
        });
        let sim = Sim {
            shared,
            server: Arc::new(Mutex::new(Some((stop_tx, handle)))),
        };
        if let Some(future) = sim.shared.config.future_dated {
            let truth = sim.truth();
            truth.future_date_alerts(future.alerts, future.ahead);
            truth.future_date_machines(future.machines, future.ahead);
        }
        Ok(sim)
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    /// The login authority: the token URL is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority(&self) -> String {
        self.shared.url.clone()
    }

    /// The API base: machines are at `{api_base}/api/machines`.
    pub fn api_base(&self) -> String {
        self.shared.url.clone()
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.shared.url, self.shared.tenant_id
        )
    }

    /// `{authority}/{tenant}/oauth2/token` (v1, `resource=`).
    pub fn token_url_v1(&self) -> String {
        format!("{}/{}/oauth2/token", self.shared.url, self.shared.tenant_id)
    }

    /// The scope a client should ask for: `https://api.securitycenter.microsoft.com/.default`.
    pub fn scope(&self) -> String {
        "https://api.securitycenter.microsoft.com/.default".to_owned()
    }

    /// Tenant GUID, deterministic from the seed.
    pub fn tenant_id(&self) -> String {
        self.shared.tenant_id.clone()
    }

    /// The verified domain the tenant also answers to.
    pub fn tenant_domain(&self) -> String {
        self.shared.tenant_domain.clone()
    }

    fn default_app(&self) -> AppRegistration {
        self.shared.apps.read().expect("apps lock poisoned")[0].clone()
    }

    /// The default app's client id (deterministic from the seed unless apps were configured).
    pub fn client_id(&self) -> String {
        self.default_app().client_id
    }

    /// The default app's secret value.
    pub fn client_secret(&self) -> String {
        self.default_app().secret
    }

    /// Every access token this simulator issued so far, oldest first. Not a service feature:
    /// the leak tests search everything the client wrote for them.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared
            .issued_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Registers another app (or replaces one with the same client id).
    pub fn add_app(&self, app: AppRegistration) {
        let mut apps = self.shared.apps.write().expect("apps lock poisoned");
        apps.retain(|existing| !existing.client_id.eq_ignore_ascii_case(&app.client_id));
        apps.push(app);
    }

    /// Changes an app's granted roles (takes effect for tokens issued afterwards).
    pub fn set_roles(&self, client_id: &str, roles: &[&str]) {
        let mut apps = self.shared.apps.write().expect("apps lock poisoned");
        for app in apps
            .iter_mut()
            .filter(|app| app.client_id.eq_ignore_ascii_case(client_id))
        {
            app.roles = roles.iter().map(|role| (*role).to_owned()).collect();
        }
    }

    /// Marks an app's secret expired (or not).
    pub fn set_secret_expired(&self, client_id: &str, expired: bool) {
        let mut apps = self.shared.apps.write().expect("apps lock poisoned");
        for app in apps
            .iter_mut()
            .filter(|app| app.client_id.eq_ignore_ascii_case(client_id))
        {
            app.secret_expired = expired;
        }
    }

    /// Registers a certificate (PEM or DER) with an app, as uploading it under "Certificates &
    /// secrets" does: assertions naming its thumbprint (`x5t#S256`, or SHA-1 `x5t`) are
    /// checked against its public key and its end date. Returns its SHA-256 thumbprint (hex).
    pub fn add_certificate(&self, client_id: &str, certificate: &[u8]) -> anyhow::Result<String> {
        let registered = server::auth::RegisteredCertificate::parse(client_id, certificate)?;
        let thumbprint = hex::encode_upper(registered.sha256);
        self.shared
            .certificates
            .write()
            .expect("certificates lock poisoned")
            .push(registered);
        Ok(thumbprint)
    }

    /// Removes every certificate registered with an app.
    pub fn remove_certificates(&self, client_id: &str) {
        self.shared
            .certificates
            .write()
            .expect("certificates lock poisoned")
            .retain(|known| !known.client_id.eq_ignore_ascii_case(client_id));
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    pub fn clock(&self) -> SimClock {
        self.shared.clock.clone()
    }

    pub fn truth(&self) -> Truth {
        Truth {
            shared: self.shared.clone(),
        }
    }

    /// Steps the simulated clock by `by` (negative = back) without time passing; see
    /// [`SimClock::jump`]. `sim.jump_clock(TimeDelta::hours(-2))`.
    pub fn jump_clock(&self, by: chrono::TimeDelta) {
        self.shared.clock.jump(by);
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    pub fn requests(&self) -> crate::requests::Requests {
        self.shared.requests.clone()
    }

    /// Stops serving; waits up to two seconds for open connections.
    pub async fn shutdown(self) {
        let taken = self.server.lock().expect("server handle poisoned").take();
        if let Some((stop, handle)) = taken {
            let _ = stop.send(());
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), handle)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// `now + ahead`, or the last representable time.
fn later(now: DateTime<Utc>, ahead: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(ahead)
        .ok()
        .and_then(|ahead| now.checked_add_signed(ahead))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Ground truth: every generated fact, and the mutations that change them (at the clock's now).
#[derive(Clone)]
pub struct Truth {
    shared: Arc<Shared>,
}

/// One CVE on one device, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct VulnerabilityFact {
    pub machine_id: String,
    pub cve_id: String,
    pub cvss_v3: f64,
    pub severity: &'static str,
    pub product_vendor: &'static str,
    pub product_name: &'static str,
    pub product_version: &'static str,
    pub fixing_kb_id: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub fixed_at: Option<DateTime<Utc>>,
}

/// One account seen on one device, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogonUserFact {
    pub machine_id: String,
    pub account_name: String,
    pub account_domain: String,
    pub account_sid: String,
    pub is_local_admin: bool,
    pub is_domain_admin: bool,
    pub logon_types: &'static str,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl Truth {
    fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Reads the tenant under the lock.
    pub fn read<R>(&self, reader: impl FnOnce(&Tenant) -> R) -> R {
        reader(&self.shared.tenant.read().expect("tenant lock poisoned"))
    }

    /// Changes the tenant under the lock (for changes the named mutations do not cover).
    pub fn write<R>(&self, writer: impl FnOnce(&mut Tenant, DateTime<Utc>) -> R) -> R {
        let now = self.now();
        writer(
            &mut self.shared.tenant.write().expect("tenant lock poisoned"),
            now,
        )
    }

    /// A copy of everything.
    pub fn snapshot(&self) -> Tenant {
        self.read(Tenant::clone)
    }

    /// Ids of the devices `/api/machines` lists, in its order.
    pub fn machine_ids(&self) -> Vec<String> {
        self.read(|tenant| {
            tenant
                .listed_devices()
                .map(|device| device.id.clone())
                .collect()
        })
    }

    pub fn machine_count(&self) -> usize {
        self.read(|tenant| tenant.listed_devices().count())
    }

    pub fn machine(&self, id: &str) -> Option<Device> {
        self.read(|tenant| tenant.device(id).cloned())
    }

    /// The machine's JSON exactly as `/api/machines` prints it.
    pub fn machine_json(&self, id: &str) -> Option<String> {
        self.read(|tenant| {
            tenant
                .device(id)
                .map(|device| server::machines::machine_json(device, None, None))
        })
    }

    /// The alert's JSON as `/api/alerts?$expand=evidence` prints it.
    pub fn alert_json(&self, id: &str) -> Option<String> {
        let tenant_id = self.shared.tenant_id.clone();
        self.read(|tenant| {
            tenant
                .alert(id)
                .map(|alert| server::alerts::alert_json(alert, &tenant_id, true, None, None))
        })
    }

    pub fn alerts(&self) -> Vec<Alert> {
        self.read(|tenant| tenant.alerts.clone())
    }

    /// The one device that held a corporate (`10.0.0.0/8`) address at `time`.
    pub fn ip_owner_at(&self, ip: Ipv4Addr, time: DateTime<Utc>) -> Option<String> {
        self.read(|tenant| {
            tenant
                .ip_holders_at(ip, time)
                .first()
                .map(|device| device.id.clone())
        })
    }

    /// Every device holding `ip` at `time` (several for shared home-network addresses).
    pub fn ip_holders_at(&self, ip: Ipv4Addr, time: DateTime<Utc>) -> Vec<String> {
        self.read(|tenant| {
            tenant
                .ip_holders_at(ip, time)
                .iter()
                .map(|device| device.id.clone())
                .collect()
        })
    }

    /// Every lease of `ip`, oldest first.
    pub fn ip_history(&self, ip: Ipv4Addr) -> Vec<(String, Lease)> {
        self.read(|tenant| tenant.ip_history(ip))
    }

    /// An address that several devices held one after another (DHCP churn), if any.
    pub fn reused_ip(&self) -> Option<Ipv4Addr> {
        self.read(|tenant| {
            let mut holders: std::collections::BTreeMap<
                Ipv4Addr,
                std::collections::BTreeSet<&str>,
            > = Default::default();
            for device in &tenant.devices {
                for adapter in device
                    .adapters
                    .iter()
                    .filter(|adapter| adapter.pool.is_some())
                {
                    for lease in &adapter.leases {
                        holders.entry(lease.ip).or_default().insert(&device.id);
                    }
                }
            }
            holders
                .into_iter()
                .find(|(_, devices)| devices.len() > 1)
                .map(|(ip, _)| ip)
        })
    }

    pub fn logon_users(&self, machine_id: &str) -> Vec<LogonUserFact> {
        self.read(|tenant| {
            let Some(device) = tenant.device(machine_id) else {
                return Vec::new();
            };
            device
                .logon_users
                .iter()
                .map(|user| {
                    let (account_name, account_domain, account_sid) =
                        tenant.account_of(device, user);
                    LogonUserFact {
                        machine_id: device.id.clone(),
                        account_name,
                        account_domain,
                        account_sid,
                        is_local_admin: user.is_local_admin,
                        is_domain_admin: user
                            .user
                            .is_some_and(|idx| tenant.users[idx as usize].is_domain_admin),
                        logon_types: user.logon_types,
                        first_seen: user.first_seen,
                        last_seen: user.last_seen,
                    }
                })
                .collect()
        })
    }

    /// CVEs on a device; `include_fixed` adds the ones fixed within the history.
    pub fn vulnerabilities(&self, machine_id: &str, include_fixed: bool) -> Vec<VulnerabilityFact> {
        self.read(|tenant| {
            let Some(device) = tenant.device(machine_id) else {
                return Vec::new();
            };
            device
                .vulns
                .iter()
                .filter(|vuln| include_fixed || vuln.fixed_at.is_none())
                .map(|vuln| {
                    let cve = &tenant.cves[usize::from(vuln.cve)];
                    let software = &tenant.software[usize::from(vuln.software)];
                    VulnerabilityFact {
                        machine_id: device.id.clone(),
                        cve_id: cve.id.clone(),
                        cvss_v3: cve.cvss_v3,
                        severity: cve.severity,
                        product_vendor: software.vendor,
                        product_name: software.name,
                        product_version: software.versions[usize::from(vuln.version)],
                        fixing_kb_id: cve.fixing_kb.clone(),
                        first_seen: vuln.first_seen,
                        fixed_at: vuln.fixed_at,
                    }
                })
                .collect()
        })
    }

    pub fn report(&self, id: &str) -> Result<(), MutationError> {
        self.write(|tenant, now| tenant.report(id, now))
    }

    pub fn reassign_ip(&self, id: &str) -> Result<Ipv4Addr, MutationError> {
        self.write(|tenant, now| tenant.reassign_ip(id, now))
    }

    pub fn set_inactive(&self, id: &str) -> Result<(), MutationError> {
        self.write(|tenant, now| tenant.set_inactive(id, now))
    }

    pub fn remove(&self, id: &str) -> Result<(), MutationError> {
        self.write(|tenant, now| tenant.remove(id, now))
    }

    pub fn rename(&self, id: &str, new_name: &str) -> Result<(), MutationError> {
        self.write(|tenant, now| tenant.rename(id, new_name, now))
    }

    pub fn reimage(&self, id: &str) -> Result<String, MutationError> {
        self.write(|tenant, now| tenant.reimage(id, now))
    }

    pub fn add_alert(&self, machine_id: &str) -> Result<String, MutationError> {
        self.write(|tenant, now| tenant.add_alert(machine_id, now))
    }

    pub fn update_alert(&self, alert_id: &str, status: &'static str) -> Result<(), MutationError> {
        self.write(|tenant, now| tenant.update_alert(alert_id, status, now))
    }

    pub fn resolve_alert(&self, alert_id: &str) -> Result<(), MutationError> {
        self.update_alert(alert_id, "Resolved")
    }

    pub fn add_cve(&self, machine_id: &str) -> Result<String, MutationError> {
        self.write(|tenant, now| tenant.add_cve(machine_id, now))
    }

    pub fn fix_cve(&self, machine_id: &str, cve_id: &str) -> Result<(), MutationError> {
        self.write(|tenant, now| tenant.fix_cve(machine_id, cve_id, now))
    }

    /// `portion` of the alerts (chosen by a seeded hash of their ids, see [`Portion`]) get a
    /// `lastUpdateTime` of now + `ahead`, as written by a backend whose clock runs ahead; returns
    /// their ids. Their other times are untouched.
    pub fn future_date_alerts(&self, portion: Portion, ahead: Duration) -> Vec<String> {
        let seed = self.shared.config.seed;
        self.write(|tenant, now| {
            let at = later(now, ahead);
            let ids: Vec<&str> = tenant
                .alerts
                .iter()
                .map(|alert| alert.id.as_str())
                .collect();
            let picked = faults::pick(&ids, portion, seed, "future-alerts");
            let mut dated = Vec::new();
            for (alert, picked) in tenant.alerts.iter_mut().zip(picked) {
                if picked {
                    alert.last_update_time = at;
                    dated.push(alert.id.clone());
                }
            }
            dated
        })
    }

    /// `portion` of the listed machines (chosen by a seeded hash of their ids) get a `lastSeen`
    /// of now + `ahead`, as reported by a device whose clock runs ahead; returns their ids. The
    /// export's `lastSeenTimestamp` follows.
    pub fn future_date_machines(&self, portion: Portion, ahead: Duration) -> Vec<String> {
        let seed = self.shared.config.seed;
        self.write(|tenant, now| {
            let at = later(now, ahead);
            let listed: Vec<usize> = tenant
                .devices
                .iter()
                .enumerate()
                .filter(|(_, device)| device.removed_at.is_none())
                .map(|(idx, _)| idx)
                .collect();
            let ids: Vec<&str> = listed
                .iter()
                .map(|&idx| tenant.devices[idx].id.as_str())
                .collect();
            let picked = faults::pick(&ids, portion, seed, "future-machines");
            let mut dated = Vec::new();
            for (idx, picked) in listed.into_iter().zip(picked) {
                if picked {
                    tenant.devices[idx].last_seen = at;
                    dated.push(tenant.devices[idx].id.clone());
                }
            }
            dated
        })
    }

    /// Ordinary activity at the clock's now (see [`Tenant::churn`]).
    pub fn churn(&self) {
        self.write(|tenant, now| tenant.churn(now));
    }
}
