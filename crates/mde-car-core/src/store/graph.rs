//! Writing a sync run's data into the asset graph, in one transaction.
//!
//! The sync engine fetches everything first and hands a [`SyncBatch`] to
//! [`Store::apply_sync`](super::Store::apply_sync); this module turns it into inserts, updates
//! and deactivations, and counts them. Deactivation rules:
//! - an asset missing from a *complete* full listing turns inactive (`vanished`) — never from a
//!   partial or incremental one;
//! - an asset that Defender reports `Inactive` and that has not reported for 15 days turns
//!   inactive (`inactive_15_days`), CAR's rule;
//! - an address, MAC or host name missing from a device's latest record turns its link
//!   inactive; the link stays as history.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    net::IpAddr,
    sync::Arc,
};

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::model::{
    Alert, Device, DeviceVulnerability, LogonObservation, MacAddress, NetworkObservation,
    Timestamp, VulnerabilityChange, VulnerabilityChangeKind,
};

/// Days without a report after which an `Inactive` device is deactivated (CAR's rule).
pub const INACTIVE_DEACTIVATION_DAYS: i64 = 15;

/// Everything one sync run fetched, ready to be applied.
#[derive(Debug, Default)]
pub struct SyncBatch {
    pub connection_id: String,
    pub run_id: i64,
    pub now: Timestamp,
    pub devices: Option<DeviceBatch>,
    pub alerts: Option<Vec<Alert>>,
    pub network: Option<Vec<NetworkObservation>>,
    pub logons: Option<Vec<LogonObservation>>,
    pub vulnerabilities: Option<VulnerabilityBatch>,
    /// Watermarks to store with the data: (data kind, value).
    pub watermarks: Vec<(String, Timestamp)>,
    /// What this run's answers said of data types that are, or were, unavailable.
    pub availability: Vec<(String, super::Availability)>,
}

#[derive(Debug, Default)]
pub struct DeviceBatch {
    pub devices: Vec<Device>,
    /// True when this is a full listing that ended normally: only then may devices missing from
    /// it be deactivated.
    pub complete_full_listing: bool,
}

#[derive(Debug)]
pub enum VulnerabilityBatch {
    /// The whole export: links missing from it turn inactive.
    Full(Vec<DeviceVulnerability>),
    /// An export that cannot be trusted whole (rows that could not be read, or empty while
    /// links are known): its rows are applied, and no link is taken for fixed.
    Partial(Vec<DeviceVulnerability>),
    /// Changes since the last run.
    Delta(Vec<VulnerabilityChange>),
}

/// Added / updated / deactivated counts of one entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ChangeCount {
    pub added: u64,
    pub updated: u64,
    pub deactivated: u64,
}

/// Counts per entity name (`assets`, `ip_addresses`, …).
pub type Changes = BTreeMap<&'static str, ChangeCount>;

fn ms(time: Timestamp) -> i64 {
    time.timestamp_millis()
}

/// 16 bytes, IPv4 as IPv4-mapped IPv6: one ordering for both families, so a CIDR range is a
/// single `BETWEEN` on the index.
pub fn address_key(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// private | public | link_local | loopback | other.
pub fn address_class(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                "loopback"
            } else if v4.is_link_local() {
                "link_local"
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                // 100.64.0.0/10 (carrier-grade NAT) is shared address space: not routable publicly.
                "private"
            } else if v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
            {
                "other"
            } else {
                "public"
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                address_class(IpAddr::V4(v4))
            } else if v6.is_loopback() {
                "loopback"
            } else if v6.is_unicast_link_local() {
                "link_local"
            } else if v6.is_unique_local() {
                "private"
            } else if v6.is_unspecified() || v6.is_multicast() {
                "other"
            } else {
                "public"
            }
        }
    }
}

/// An account's identity: the SID when known, else domain\name, else the device's own
/// name space — never a bare name (the IBM connector merged every local "administrator").
pub fn account_key(domain: Option<&str>, name: &str, sid: Option<&str>, device_id: &str) -> String {
    if let Some(sid) = sid.filter(|s| !s.trim().is_empty()) {
        return format!("sid:{}", sid.trim().to_ascii_uppercase());
    }
    match domain.filter(|d| !d.trim().is_empty()) {
        Some(domain) => format!(
            "name:{}\\{}",
            domain.trim().to_lowercase(),
            name.trim().to_lowercase()
        ),
        None => format!("local:{device_id}\\{}", name.trim().to_lowercase()),
    }
}

pub(super) fn apply(tx: &Transaction<'_>, batch: &SyncBatch) -> rusqlite::Result<Changes> {
    let mut writer = Writer {
        tx,
        batch,
        changes: Changes::new(),
        asset_ids: HashMap::new(),
        ip_ids: HashMap::new(),
        mac_ids: HashMap::new(),
    };
    if let Some(devices) = &batch.devices {
        writer.devices(devices)?;
    }
    writer.inactive_rule()?;
    fail_point!("store::save::devices_written");
    if let Some(alerts) = &batch.alerts {
        writer.alerts(alerts)?;
    }
    fail_point!("store::save::alerts_written");
    if let Some(observations) = &batch.network {
        writer.network(observations)?;
    }
    fail_point!("store::save::ip_history_written");
    if let Some(logons) = &batch.logons {
        writer.logons(logons)?;
    }
    fail_point!("store::save::logons_written");
    match &batch.vulnerabilities {
        Some(VulnerabilityBatch::Full(rows)) => writer.vulnerabilities_full(rows, true)?,
        Some(VulnerabilityBatch::Partial(rows)) => writer.vulnerabilities_full(rows, false)?,
        Some(VulnerabilityBatch::Delta(changes)) => writer.vulnerability_changes(changes)?,
        None => {}
    }
    fail_point!("store::save::vulnerabilities_written");
    for (kind, value) in &batch.watermarks {
        tx.execute(
            "INSERT INTO sync_watermarks (connection_id, kind, value, run_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (connection_id, kind) DO UPDATE SET value = excluded.value, run_id = excluded.run_id",
            params![batch.connection_id, kind, ms(*value), batch.run_id],
        )?;
    }
    super::availability::record(tx, &batch.connection_id, &batch.availability, batch.now)?;
    fail_point!("store::save::watermarks_written");
    Ok(writer.changes)
}

/// How long a holder of an address may go without reporting it while other devices report the
/// same address, before its lease ends at its last report. Devices report their network state
/// every few hours; a day leaves room for a laptop that sleeps overnight.
const SILENT_HOLDER_MS: i64 = 24 * 3_600 * 1_000;

/// An adapter of a device: device id, MAC, adapter name.
type AdapterKey = (Arc<str>, Option<MacAddress>, Option<Arc<str>>);

/// What the lease rebuild knows of one adapter.
struct AdapterState {
    asset_id: i64,
    mac_id: Option<i64>,
    /// Open leases: address id -> (since, newest report showing it). The newest report is
    /// written once, when the lease closes or the batch ends, not on every report.
    open: HashMap<i64, (i64, i64)>,
    /// Leases another device's report ended (address id -> since, newest report) that this
    /// adapter has not contradicted since: if it reports the address again, the address is
    /// shared (home networks behind different routers), not handed over, and the lease reopens.
    taken_over: HashMap<i64, (i64, i64)>,
    /// The newest report already applied.
    applied_until: i64,
}

/// Address id -> the adapters holding it open.
type Holders = HashMap<i64, HashSet<AdapterKey>>;

/// What the lease rebuild carries from one report to the next.
#[derive(Default)]
struct Leases {
    adapters: HashMap<AdapterKey, AdapterState>,
    /// Which adapters hold each address open, to end them when another device takes it.
    holders: Holders,
    /// The newest report of each address in this batch, by any device.
    reported: HashMap<i64, i64>,
}

struct Writer<'a> {
    tx: &'a Transaction<'a>,
    batch: &'a SyncBatch,
    changes: Changes,
    asset_ids: HashMap<String, i64>,
    /// Vertex ids already looked up in this batch: IP history repeats the same addresses
    /// hundreds of thousands of times.
    ip_ids: HashMap<IpAddr, i64>,
    mac_ids: HashMap<MacAddress, i64>,
}

impl Writer<'_> {
    fn count(&mut self, entity: &'static str) -> &mut ChangeCount {
        self.changes.entry(entity).or_default()
    }

    fn devices(&mut self, batch: &DeviceBatch) -> rusqlite::Result<()> {
        let (connection, run) = (&self.batch.connection_id, self.batch.run_id);
        let mut seen = HashSet::new();
        for device in &batch.devices {
            if !seen.insert(device.id.as_str()) {
                continue;
            }
            let asset_id = self.upsert_asset(device)?;
            self.asset_ids.insert(device.id.clone(), asset_id);
            self.device_links(asset_id, device)?;
        }
        if batch.complete_full_listing {
            let vanished = self.tx.execute(
                "UPDATE assets SET active = 0, inactive_reason = 'vanished'
                 WHERE connection_id = ?1 AND active = 1 AND last_run <> ?2",
                params![connection, run],
            )?;
            self.count("assets").deactivated += vanished as u64;
        }
        Ok(())
    }

    fn upsert_asset(&mut self, device: &Device) -> rusqlite::Result<i64> {
        let (connection, run, now) = (
            &self.batch.connection_id,
            self.batch.run_id,
            ms(self.batch.now),
        );
        let tags = serde_json::to_string(&device.machine_tags).unwrap_or_else(|_| "[]".to_owned());
        let fields = params![
            connection,
            device.id,
            device.computer_dns_name.as_deref().map(str::to_lowercase),
            device.os_platform,
            device.os_version,
            device.os_build,
            device.version,
            device.os_architecture,
            device.health_status,
            device.onboarding_status,
            device.risk_score,
            device.exposure_level,
            device.device_value,
            tags,
            device.rbac_group_id,
            device.rbac_group_name,
            device.aad_device_id,
            device.is_aad_joined,
            device.merged_into_machine_id,
            device.is_potential_duplication,
            device.first_seen.map(ms),
            device.last_seen.map(ms),
            now,
            run,
        ];
        let existing: Option<(i64, String)> = self
            .tx
            .prepare_cached(
                "SELECT id, json_array(name, os_platform, os_version, os_build, os_release, os_architecture,
                    health_status, onboarding_status, risk_score, exposure_level, device_value, tags,
                    rbac_group_id, rbac_group_name, aad_device_id, aad_joined, merged_into,
                    potential_duplicate, defender_first_seen, defender_last_seen, active) AS fields
                 FROM assets WHERE connection_id = ?1 AND device_id = ?2",
            )?
            .query_row(params![connection, device.id], |row| {
                Ok((row.get("id")?, row.get("fields")?))
            })
            .optional()?;
        match existing {
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO assets (connection_id, device_id, name, os_platform, os_version, os_build,
                            os_release, os_architecture, health_status, onboarding_status, risk_score,
                            exposure_level, device_value, tags, rbac_group_id, rbac_group_name, aad_device_id,
                            aad_joined, merged_into, potential_duplicate, defender_first_seen,
                            defender_last_seen, first_seen, last_seen, active, first_run, last_run)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                            ?18, ?19, ?20, ?21, ?22, ?23, ?23, 1, ?24, ?24)",
                    )?
                    .execute(fields)?;
                self.count("assets").added += 1;
                Ok(self.tx.last_insert_rowid())
            }
            Some((id, before)) => {
                self.tx
                    .prepare_cached(
                        "UPDATE assets SET name = ?3, os_platform = ?4, os_version = ?5, os_build = ?6,
                            os_release = ?7, os_architecture = ?8, health_status = ?9, onboarding_status = ?10,
                            risk_score = ?11, exposure_level = ?12, device_value = ?13, tags = ?14,
                            rbac_group_id = ?15, rbac_group_name = ?16, aad_device_id = ?17, aad_joined = ?18,
                            merged_into = ?19, potential_duplicate = ?20, defender_first_seen = ?21,
                            defender_last_seen = ?22, last_seen = ?23, active = 1, inactive_reason = NULL,
                            last_run = ?24
                         WHERE connection_id = ?1 AND device_id = ?2",
                    )?
                    .execute(fields)?;
                let after: String = self.tx.query_row(
                    "SELECT json_array(name, os_platform, os_version, os_build, os_release, os_architecture,
                        health_status, onboarding_status, risk_score, exposure_level, device_value, tags,
                        rbac_group_id, rbac_group_name, aad_device_id, aad_joined, merged_into,
                        potential_duplicate, defender_first_seen, defender_last_seen, active) AS fields
                     FROM assets WHERE id = ?1",
                    [id],
                    |row| row.get("fields"),
                )?;
                if after != before {
                    self.count("assets").updated += 1;
                }
                Ok(id)
            }
        }
    }

    /// Host name, addresses and MACs of a device's latest record; what the record no longer
    /// shows turns inactive.
    fn device_links(&mut self, asset_id: i64, device: &Device) -> rusqlite::Result<()> {
        let mut hostnames = Vec::new();
        if let Some(name) = device
            .computer_dns_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        {
            hostnames.push(self.hostname_id(name)?);
        }
        self.sync_links(
            "hostnames",
            "asset_hostnames",
            "hostname_id",
            asset_id,
            &hostnames,
        )?;

        let mut addresses = Vec::new();
        let mut macs = Vec::new();
        for address in &device.addresses {
            let ip_id = self.ip_id(address.ip)?;
            let mac_id = match &address.mac {
                Some(mac) => Some(self.mac_id(mac)?),
                None => None,
            };
            if let Some(mac_id) = mac_id
                && !macs.contains(&mac_id)
            {
                macs.push(mac_id);
            }
            if !addresses
                .iter()
                .any(|(id, _, _): &(i64, Option<i64>, Option<&str>)| *id == ip_id)
            {
                addresses.push((ip_id, mac_id, address.interface_type.as_deref()));
            }
        }
        self.sync_address_links(asset_id, "device", &addresses)?;
        let external = match device.last_external_ip_address {
            Some(ip) => vec![(self.ip_id(ip)?, None, None)],
            None => Vec::new(),
        };
        self.sync_address_links(asset_id, "external", &external)?;
        self.sync_links(
            "mac_addresses",
            "asset_mac_addresses",
            "mac_id",
            asset_id,
            &macs,
        )?;
        Ok(())
    }

    /// Makes exactly `targets` the active links of `asset_id` in a simple link table.
    fn sync_links(
        &mut self,
        entity: &'static str,
        table: &str,
        column: &str,
        asset_id: i64,
        targets: &[i64],
    ) -> rusqlite::Result<()> {
        let (connection, run, now) = (
            &self.batch.connection_id,
            self.batch.run_id,
            ms(self.batch.now),
        );
        for target in targets {
            let previous: Option<bool> = self
                .tx
                .prepare_cached(&format!(
                    "SELECT active FROM {table} WHERE asset_id = ?1 AND {column} = ?2"
                ))?
                .query_row(params![asset_id, target], |row| row.get("active"))
                .optional()?;
            match previous {
                None => {
                    self.tx
                        .prepare_cached(&format!(
                            "INSERT INTO {table} (asset_id, {column}, connection_id, first_seen, last_seen, active, first_run, last_run)
                             VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5, ?5)"
                        ))?
                        .execute(params![asset_id, target, connection, now, run])?;
                    self.count(entity).added += 1;
                }
                Some(active) => {
                    self.tx
                        .prepare_cached(&format!(
                            "UPDATE {table} SET last_seen = ?3, active = 1, last_run = ?4 WHERE asset_id = ?1 AND {column} = ?2"
                        ))?
                        .execute(params![asset_id, target, now, run])?;
                    if !active {
                        self.count(entity).updated += 1;
                    }
                }
            }
        }
        let deactivated = self
            .tx
            .prepare_cached(&format!(
                "UPDATE {table} SET active = 0 WHERE asset_id = ?1 AND active = 1 AND last_run <> ?2"
            ))?
            .execute(params![asset_id, run])?;
        self.count(entity).deactivated += deactivated as u64;
        Ok(())
    }

    fn sync_address_links(
        &mut self,
        asset_id: i64,
        source: &str,
        addresses: &[(i64, Option<i64>, Option<&str>)],
    ) -> rusqlite::Result<()> {
        let (connection, run, now) = (
            &self.batch.connection_id,
            self.batch.run_id,
            ms(self.batch.now),
        );
        for (ip_id, mac_id, interface_type) in addresses {
            let previous: Option<bool> = self
                .tx
                .prepare_cached("SELECT active FROM asset_ip_addresses WHERE asset_id = ?1 AND ip_id = ?2 AND source = ?3")?
                .query_row(params![asset_id, ip_id, source], |row| row.get("active"))
                .optional()?;
            match previous {
                None => {
                    self.tx
                        .prepare_cached(
                            "INSERT INTO asset_ip_addresses (asset_id, ip_id, source, mac_id, interface_type,
                                connection_id, first_seen, last_seen, active, first_run, last_run)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1, ?8, ?8)",
                        )?
                        .execute(params![asset_id, ip_id, source, mac_id, interface_type, connection, now, run])?;
                    self.count("ip_addresses").added += 1;
                }
                Some(active) => {
                    self.tx
                        .prepare_cached(
                            "UPDATE asset_ip_addresses SET mac_id = ?4, interface_type = ?5, last_seen = ?6,
                                active = 1, last_run = ?7
                             WHERE asset_id = ?1 AND ip_id = ?2 AND source = ?3",
                        )?
                        .execute(params![asset_id, ip_id, source, mac_id, interface_type, now, run])?;
                    if !active {
                        self.count("ip_addresses").updated += 1;
                    }
                }
            }
        }
        let deactivated = self
            .tx
            .prepare_cached(
                "UPDATE asset_ip_addresses SET active = 0
                 WHERE asset_id = ?1 AND source = ?2 AND active = 1 AND last_run <> ?3",
            )?
            .execute(params![asset_id, source, run])?;
        self.count("ip_addresses").deactivated += deactivated as u64;
        Ok(())
    }

    fn inactive_rule(&mut self) -> rusqlite::Result<()> {
        let cutoff = ms(self.batch.now - chrono::Duration::days(INACTIVE_DEACTIVATION_DAYS));
        let deactivated = self.tx.execute(
            "UPDATE assets SET active = 0, inactive_reason = 'inactive_15_days'
             WHERE connection_id = ?1 AND active = 1 AND health_status = 'Inactive'
               AND defender_last_seen IS NOT NULL AND defender_last_seen < ?2",
            params![self.batch.connection_id, cutoff],
        )?;
        self.count("assets").deactivated += deactivated as u64;
        Ok(())
    }

    fn alerts(&mut self, alerts: &[Alert]) -> rusqlite::Result<()> {
        let (connection, run, now) = (
            &self.batch.connection_id,
            self.batch.run_id,
            ms(self.batch.now),
        );
        for alert in alerts {
            let previous: Option<i64> = self
                .tx
                .prepare_cached(
                    "SELECT updated FROM alerts WHERE connection_id = ?1 AND alert_id = ?2",
                )?
                .query_row(params![connection, alert.id], |row| row.get("updated"))
                .optional()?;
            let values = params![
                connection,
                alert.id,
                alert.machine_id,
                alert.title,
                alert.description,
                alert.severity,
                alert.status,
                alert.category,
                alert.classification,
                alert.determination,
                alert.detection_source,
                ms(alert.created),
                ms(alert.last_updated),
                alert.first_event.map(ms),
                alert.last_event.map(ms),
                alert.resolved.map(ms),
                now,
                run,
            ];
            self.tx
                .prepare_cached(
                    "INSERT INTO alerts (connection_id, alert_id, device_id, title, description, severity, status,
                        category, classification, determination, detection_source, created, updated,
                        first_event, last_event, resolved, first_seen, last_seen, first_run, last_run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17, ?18, ?18)
                     ON CONFLICT (connection_id, alert_id) DO UPDATE SET
                        device_id = excluded.device_id, title = excluded.title, description = excluded.description,
                        severity = excluded.severity, status = excluded.status, category = excluded.category,
                        classification = excluded.classification, determination = excluded.determination,
                        detection_source = excluded.detection_source, created = excluded.created,
                        updated = excluded.updated, first_event = excluded.first_event,
                        last_event = excluded.last_event, resolved = excluded.resolved,
                        last_seen = excluded.last_seen, last_run = excluded.last_run",
                )?
                .execute(values)?;
            match previous {
                None => self.count("alerts").added += 1,
                Some(updated) if updated != ms(alert.last_updated) => {
                    self.count("alerts").updated += 1
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn asset_id(&mut self, device_id: &str) -> rusqlite::Result<Option<i64>> {
        if let Some(id) = self.asset_ids.get(device_id) {
            return Ok(Some(*id));
        }
        let id: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM assets WHERE connection_id = ?1 AND device_id = ?2")?
            .query_row(params![self.batch.connection_id, device_id], |row| {
                row.get("id")
            })
            .optional()?;
        if let Some(id) = id {
            self.asset_ids.insert(device_id.to_owned(), id);
        }
        Ok(id)
    }

    /// Rebuilds who-held-which-address intervals from adapter reports, in time order across
    /// all adapters. A report at time t says: from t until the adapter's next report, these are
    /// its addresses. An address has one holder at a time within a connection: when a device
    /// starts holding it, another device's open lease that has not been reported since ends
    /// there (that device went quiet, and DHCP handed the address on). Reports at or before the
    /// last one already applied for an adapter (the overlap window) change nothing.
    fn network(&mut self, observations: &[NetworkObservation]) -> rusqlite::Result<()> {
        let mut reports: Vec<&NetworkObservation> = observations.iter().collect();
        reports.sort_by(|a, b| (a.timestamp, &a.device_id).cmp(&(b.timestamp, &b.device_id)));
        let mut leases = Leases::default();
        for report in reports {
            self.apply_report(&mut leases, report)?;
        }
        self.write_newest_reports(&leases.adapters)?;
        self.end_silent_holders(leases.reported)
    }

    /// One adapter report, read as the adapter's whole set of addresses from its time on.
    fn apply_report(
        &mut self,
        leases: &mut Leases,
        report: &NetworkObservation,
    ) -> rusqlite::Result<()> {
        let key: AdapterKey = (
            Arc::clone(&report.device_id),
            report.mac.clone(),
            report.adapter_name.clone(),
        );
        if !self.load_adapter(leases, &key, report)? {
            return Ok(());
        }
        let Some(state) = leases.adapters.get_mut(&key) else {
            return Ok(());
        };
        let at = ms(report.timestamp);
        if at <= state.applied_until {
            return Ok(());
        }
        let current = self.report_addresses(report, at, &mut leases.reported)?;
        // A report without the address confirms the hand-over.
        state.taken_over.retain(|ip, _| current.contains(ip));
        self.close_unreported(state, &key, &current, at, &mut leases.holders)?;
        let taken = self.hold_reported(state, &key, current, at, &mut leases.holders)?;
        state.applied_until = at;
        let asset_id = state.asset_id;
        for ip_id in taken {
            self.end_other_holders(leases, &key, asset_id, ip_id, at)?;
        }
        Ok(())
    }

    /// Loads an adapter's leases on its first report in the batch; later reports build on what
    /// the earlier ones changed. False for a device the store does not know: its reports are
    /// skipped.
    fn load_adapter(
        &mut self,
        leases: &mut Leases,
        key: &AdapterKey,
        report: &NetworkObservation,
    ) -> rusqlite::Result<bool> {
        if leases.adapters.contains_key(key) {
            return Ok(true);
        }
        let Some(state) = self.adapter_state(report)? else {
            return Ok(false);
        };
        for ip_id in state.open.keys() {
            leases
                .holders
                .entry(*ip_id)
                .or_default()
                .insert(key.clone());
        }
        leases.adapters.insert(key.clone(), state);
        Ok(true)
    }

    /// The addresses a report shows, noting it as each one's newest report so far (which
    /// decides, at the end, which silent holders of a shared address have let it go).
    fn report_addresses(
        &mut self,
        report: &NetworkObservation,
        at: i64,
        reported: &mut HashMap<i64, i64>,
    ) -> rusqlite::Result<HashSet<i64>> {
        let mut current = HashSet::new();
        for address in report.addresses.iter() {
            let ip_id = self.ip_id(address.ip)?;
            current.insert(ip_id);
            let newest = reported.entry(ip_id).or_insert(at);
            *newest = (*newest).max(at);
        }
        Ok(current)
    }

    /// The adapter's leases of addresses its report no longer shows end at that report.
    fn close_unreported(
        &mut self,
        state: &mut AdapterState,
        key: &AdapterKey,
        current: &HashSet<i64>,
        at: i64,
        holders: &mut Holders,
    ) -> rusqlite::Result<()> {
        let run = self.batch.run_id;
        let closing: Vec<(i64, (i64, i64))> = state
            .open
            .iter()
            .filter(|(ip, _)| !current.contains(ip))
            .map(|(ip, lease)| (*ip, *lease))
            .collect();
        for (ip_id, (since, last_report)) in closing {
            self.tx
                .prepare_cached(
                    "UPDATE ip_leases SET until = ?4, last_report = ?6, last_run = ?5
                     WHERE asset_id = ?1 AND ip_id = ?2 AND since = ?3",
                )?
                .execute(params![state.asset_id, ip_id, since, at, run, last_report])?;
            state.open.remove(&ip_id);
            if let Some(set) = holders.get_mut(&ip_id) {
                set.remove(key);
            }
            self.count("ip_leases").deactivated += 1;
        }
        Ok(())
    }

    /// The adapter holds every address its report shows. Returns the addresses it newly took,
    /// whose other holders lose them.
    fn hold_reported(
        &mut self,
        state: &mut AdapterState,
        key: &AdapterKey,
        current: HashSet<i64>,
        at: i64,
        holders: &mut Holders,
    ) -> rusqlite::Result<Vec<i64>> {
        let mut taken = Vec::new();
        for ip_id in current {
            if let Some(lease) = state.open.get_mut(&ip_id) {
                lease.1 = at;
            } else if let Some((since, _)) = state.taken_over.remove(&ip_id) {
                // Still here after another device took it: both hold it at once.
                self.reopen_lease(state.asset_id, ip_id, since, at)?;
                state.open.insert(ip_id, (since, at));
                holders.entry(ip_id).or_default().insert(key.clone());
            } else {
                self.open_lease(state, ip_id, at)?;
                state.open.insert(ip_id, (at, at));
                taken.push(ip_id);
            }
        }
        Ok(taken)
    }

    fn reopen_lease(
        &mut self,
        asset_id: i64,
        ip_id: i64,
        since: i64,
        at: i64,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE ip_leases SET until = NULL, ended_by_takeover = 0, last_report = ?4, last_run = ?5
                 WHERE asset_id = ?1 AND ip_id = ?2 AND since = ?3",
            )?
            .execute(params![asset_id, ip_id, since, at, self.batch.run_id])?;
        self.count("ip_leases").updated += 1;
        Ok(())
    }

    fn open_lease(&mut self, state: &AdapterState, ip_id: i64, at: i64) -> rusqlite::Result<()> {
        let (connection, run) = (&self.batch.connection_id, self.batch.run_id);
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO ip_leases (asset_id, ip_id, mac_id, since, until, last_report,
                    connection_id, first_run, last_run)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?4, ?5, ?6, ?6)",
            )?
            .execute(params![state.asset_id, ip_id, state.mac_id, at, connection, run])?;
        self.count("ip_leases").added += 1;
        Ok(())
    }

    /// The adapter at `key` (of `asset_id`) took `ip_id` at `at`: other devices' open leases
    /// of it end there.
    fn end_other_holders(
        &mut self,
        leases: &mut Leases,
        key: &AdapterKey,
        asset_id: i64,
        ip_id: i64,
        at: i64,
    ) -> rusqlite::Result<()> {
        let others: Vec<AdapterKey> = leases
            .holders
            .get(&ip_id)
            .map(|set| set.iter().filter(|k| *k != key).cloned().collect())
            .unwrap_or_default();
        for other in others {
            if let Some(other_state) = leases.adapters.get_mut(&other)
                && other_state.asset_id != asset_id
                && let Some(lease) = other_state.open.remove(&ip_id)
            {
                other_state.taken_over.insert(ip_id, lease);
                self.end_taken_lease(other_state.asset_id, ip_id, lease, at)?;
            }
            if let Some(set) = leases.holders.get_mut(&ip_id) {
                set.remove(&other);
            }
        }
        self.end_stored_holders(asset_id, ip_id, at)?;
        leases.holders.entry(ip_id).or_default().insert(key.clone());
        Ok(())
    }

    /// Ends a lease another device took; `(since, last_report)` is the lease as this batch
    /// knows it, its newest report not yet written.
    fn end_taken_lease(
        &mut self,
        asset_id: i64,
        ip_id: i64,
        (since, last_report): (i64, i64),
        at: i64,
    ) -> rusqlite::Result<()> {
        // A holder silent for long held it until its last report.
        let until = if last_report < at - SILENT_HOLDER_MS {
            last_report
        } else {
            at
        };
        self.tx
            .prepare_cached(
                "UPDATE ip_leases SET until = ?4, last_report = ?6, last_run = ?5, ended_by_takeover = 1
                 WHERE asset_id = ?1 AND ip_id = ?2 AND since = ?3",
            )?
            .execute(params![asset_id, ip_id, since, until, self.batch.run_id, last_report])?;
        self.count("ip_leases").deactivated += 1;
        Ok(())
    }

    /// Holders this run has not touched yet live only in the database: their leases of
    /// `ip_id` end as in [`Writer::end_taken_lease`], in one statement.
    fn end_stored_holders(&mut self, asset_id: i64, ip_id: i64, at: i64) -> rusqlite::Result<()> {
        let (connection, run) = (&self.batch.connection_id, self.batch.run_id);
        let ended = self
            .tx
            .prepare_cached(
                "UPDATE ip_leases
                 SET until = CASE WHEN last_report < ?3 - ?6 THEN last_report ELSE ?3 END,
                     last_run = ?4, ended_by_takeover = 1
                 WHERE ip_id = ?1 AND connection_id = ?5 AND until IS NULL AND asset_id <> ?2 AND last_report < ?3",
            )?
            .execute(params![ip_id, asset_id, at, run, connection, SILENT_HOLDER_MS])?;
        self.count("ip_leases").deactivated += ended as u64;
        Ok(())
    }

    /// Open leases keep their newest report in memory during the batch (see
    /// [`AdapterState::open`]); it is written here, once.
    fn write_newest_reports(
        &mut self,
        adapters: &HashMap<AdapterKey, AdapterState>,
    ) -> rusqlite::Result<()> {
        let run = self.batch.run_id;
        for state in adapters.values() {
            for (ip_id, (since, last_report)) in &state.open {
                self.tx
                    .prepare_cached(
                        "UPDATE ip_leases SET last_report = ?4, last_run = ?5
                         WHERE asset_id = ?1 AND ip_id = ?2 AND since = ?3 AND last_report < ?4",
                    )?
                    .execute(params![state.asset_id, ip_id, since, last_report, run])?;
            }
        }
        Ok(())
    }

    /// A holder of a shared address that fell silent while others kept reporting it (a
    /// laptop retired from a home network) held it until its last report. Without this, a
    /// shared address — which no new holder "takes" — would keep every past holder forever.
    /// `reported`: each address's newest report in the batch.
    fn end_silent_holders(&mut self, reported: HashMap<i64, i64>) -> rusqlite::Result<()> {
        let (connection, run) = (&self.batch.connection_id, self.batch.run_id);
        for (ip_id, newest) in reported {
            let ended = self
                .tx
                .prepare_cached(
                    "UPDATE ip_leases SET until = last_report, ended_by_takeover = 1, last_run = ?3
                     WHERE ip_id = ?1 AND connection_id = ?4 AND until IS NULL AND last_report < ?2",
                )?
                .execute(params![ip_id, newest - SILENT_HOLDER_MS, run, connection])?;
            self.count("ip_leases").deactivated += ended as u64;
        }
        Ok(())
    }

    /// An adapter's open leases and newest applied report, from the database.
    fn adapter_state(
        &mut self,
        report: &NetworkObservation,
    ) -> rusqlite::Result<Option<AdapterState>> {
        let Some(asset_id) = self.asset_id(&report.device_id)? else {
            return Ok(None);
        };
        let mac_id = match &report.mac {
            Some(mac) => Some(self.mac_id(mac)?),
            None => None,
        };
        let mut state = AdapterState {
            asset_id,
            mac_id,
            open: HashMap::new(),
            taken_over: HashMap::new(),
            applied_until: i64::MIN,
        };
        let mut statement = self.tx.prepare_cached(
            "SELECT ip_id, since, last_report, until, ended_by_takeover FROM ip_leases
             WHERE asset_id = ?1 AND mac_id IS ?2",
        )?;
        let rows = statement.query_map(params![asset_id, mac_id], |row| {
            Ok((
                row.get::<_, i64>("ip_id")?,
                row.get::<_, i64>("since")?,
                row.get::<_, i64>("last_report")?,
                row.get::<_, Option<i64>>("until")?,
                row.get::<_, bool>("ended_by_takeover")?,
            ))
        })?;
        // The newest lease of each address: taken over and not contradicted since, or not.
        let mut newest: HashMap<i64, (i64, i64, bool)> = HashMap::new();
        for row in rows {
            let (ip_id, since, last_report, until, by_takeover) = row?;
            state.applied_until = state
                .applied_until
                .max(last_report)
                .max(until.unwrap_or(i64::MIN));
            if until.is_none() {
                state.open.insert(ip_id, (since, last_report));
            }
            let entry = newest
                .entry(ip_id)
                .or_insert((since, last_report, by_takeover));
            if since >= entry.0 {
                *entry = (since, last_report, by_takeover && until.is_some());
            }
        }
        for (ip_id, (since, last_report, by_takeover)) in newest {
            if by_takeover && !state.open.contains_key(&ip_id) {
                state.taken_over.insert(ip_id, (since, last_report));
            }
        }
        Ok(Some(state))
    }

    fn logons(&mut self, logons: &[LogonObservation]) -> rusqlite::Result<()> {
        let (connection, run) = (&self.batch.connection_id, self.batch.run_id);
        for logon in logons {
            let Some(asset_id) = self.asset_id(&logon.device_id)? else {
                continue;
            };
            let key = account_key(
                logon.account_domain.as_deref(),
                &logon.account_name,
                logon.account_sid.as_deref(),
                &logon.device_id,
            );
            self.tx
                .prepare_cached(
                    "INSERT INTO accounts (key, domain, name, sid) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (key) DO UPDATE SET domain = coalesce(excluded.domain, domain),
                        sid = coalesce(excluded.sid, sid)",
                )?
                .execute(params![
                    key,
                    logon.account_domain,
                    logon.account_name,
                    logon.account_sid
                ])?;
            let account_id: i64 = self
                .tx
                .prepare_cached("SELECT id FROM accounts WHERE key = ?1")?
                .query_row([&key], |row| row.get("id"))?;
            let at = ms(logon.timestamp);
            let existed: bool = self
                .tx
                .prepare_cached(
                    "SELECT count(*) AS links FROM asset_accounts WHERE asset_id = ?1 AND account_id = ?2",
                )?
                .query_row(params![asset_id, account_id], |row| row.get::<_, i64>("links"))?
                > 0;
            self.tx
                .prepare_cached(
                    "INSERT INTO asset_accounts (asset_id, account_id, logon_type, is_local_admin, connection_id,
                        first_seen, last_seen, active, first_run, last_run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?7)
                     ON CONFLICT (asset_id, account_id) DO UPDATE SET
                        logon_type = coalesce(excluded.logon_type, logon_type),
                        is_local_admin = coalesce(excluded.is_local_admin, is_local_admin),
                        first_seen = min(first_seen, excluded.first_seen),
                        last_seen = max(last_seen, excluded.last_seen), active = 1, last_run = excluded.last_run",
                )?
                .execute(params![asset_id, account_id, logon.logon_type, logon.is_local_admin, connection, at, run])?;
            if !existed {
                self.count("accounts").added += 1;
            }
        }
        Ok(())
    }

    fn vulnerability_link(
        &mut self,
        row: &DeviceVulnerability,
        active: bool,
    ) -> rusqlite::Result<()> {
        let (connection, run, now) = (
            &self.batch.connection_id,
            self.batch.run_id,
            ms(self.batch.now),
        );
        let Some(asset_id) = self.asset_id(&row.device_id)? else {
            return Ok(());
        };
        self.tx
            .prepare_cached(
                "INSERT INTO vulnerabilities (cve, cvss, severity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (cve) DO UPDATE SET cvss = coalesce(excluded.cvss, cvss),
                    severity = coalesce(excluded.severity, severity)",
            )?
            .execute(params![row.cve_id, row.cvss_score, row.severity])?;
        let vulnerability_id: i64 = self
            .tx
            .prepare_cached("SELECT id FROM vulnerabilities WHERE cve = ?1")?
            .query_row([&row.cve_id], |r| r.get("id"))?;
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO applications (vendor, product, version) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                row.software_vendor,
                row.software_name,
                row.software_version
            ])?;
        let application_id: i64 = self
            .tx
            .prepare_cached(
                "SELECT id FROM applications WHERE vendor = ?1 AND product = ?2 AND version = ?3",
            )?
            .query_row(
                params![row.software_vendor, row.software_name, row.software_version],
                |r| r.get("id"),
            )?;
        let previous: Option<bool> = self
            .tx
            .prepare_cached(
                "SELECT active FROM asset_vulnerabilities WHERE asset_id = ?1 AND vulnerability_id = ?2 AND application_id = ?3",
            )?
            .query_row(params![asset_id, vulnerability_id, application_id], |r| r.get("active"))
            .optional()?;
        let first_seen = row.first_seen.map(ms).unwrap_or(now);
        let last_seen = row.last_seen.map(ms).unwrap_or(now);
        match (previous, active) {
            (None, false) => {}
            (None, true) => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO asset_vulnerabilities (asset_id, vulnerability_id, application_id, connection_id,
                            first_seen, last_seen, active, first_run, last_run)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)",
                    )?
                    .execute(params![asset_id, vulnerability_id, application_id, connection, first_seen, last_seen, run])?;
                self.count("vulnerabilities").added += 1;
            }
            (Some(was_active), active) => {
                self.tx
                    .prepare_cached(
                        "UPDATE asset_vulnerabilities SET active = ?4, last_seen = max(last_seen, ?5), last_run = ?6
                         WHERE asset_id = ?1 AND vulnerability_id = ?2 AND application_id = ?3",
                    )?
                    .execute(params![asset_id, vulnerability_id, application_id, active, last_seen, run])?;
                match (was_active, active) {
                    (true, false) => self.count("vulnerabilities").deactivated += 1,
                    (false, true) => self.count("vulnerabilities").updated += 1,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn vulnerabilities_full(
        &mut self,
        rows: &[DeviceVulnerability],
        complete: bool,
    ) -> rusqlite::Result<()> {
        for row in rows {
            self.vulnerability_link(row, true)?;
        }
        if !complete {
            return Ok(());
        }
        let fixed = self.tx.execute(
            "UPDATE asset_vulnerabilities SET active = 0 WHERE connection_id = ?1 AND active = 1 AND last_run <> ?2",
            params![self.batch.connection_id, self.batch.run_id],
        )?;
        self.count("vulnerabilities").deactivated += fixed as u64;
        Ok(())
    }

    fn vulnerability_changes(&mut self, changes: &[VulnerabilityChange]) -> rusqlite::Result<()> {
        let mut ordered: Vec<&VulnerabilityChange> = changes.iter().collect();
        ordered.sort_by_key(|change| change.event_time);
        for change in ordered {
            let active = change.kind != VulnerabilityChangeKind::Fixed;
            self.vulnerability_link(&change.vulnerability, active)?;
        }
        Ok(())
    }

    fn ip_id(&mut self, ip: IpAddr) -> rusqlite::Result<i64> {
        if let Some(id) = self.ip_ids.get(&ip) {
            return Ok(*id);
        }
        let id = self.ip_id_uncached(ip)?;
        self.ip_ids.insert(ip, id);
        Ok(id)
    }

    fn ip_id_uncached(&mut self, ip: IpAddr) -> rusqlite::Result<i64> {
        let key = address_key(ip);
        self.tx
            .prepare_cached(
                "INSERT OR IGNORE INTO ip_addresses (address, text, family, class) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key.as_slice(), ip.to_string(), if ip.is_ipv4() { 4 } else { 6 }, address_class(ip)])?;
        self.tx
            .prepare_cached("SELECT id FROM ip_addresses WHERE address = ?1")?
            .query_row([key.as_slice()], |row| row.get("id"))
    }

    fn mac_id(&mut self, mac: &MacAddress) -> rusqlite::Result<i64> {
        if let Some(id) = self.mac_ids.get(mac) {
            return Ok(*id);
        }
        let id = self.mac_id_uncached(mac)?;
        self.mac_ids.insert(mac.clone(), id);
        Ok(id)
    }

    fn mac_id_uncached(&mut self, mac: &MacAddress) -> rusqlite::Result<i64> {
        let text = mac.to_string();
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO mac_addresses (address) VALUES (?1)")?
            .execute([&text])?;
        self.tx
            .prepare_cached("SELECT id FROM mac_addresses WHERE address = ?1")?
            .query_row([&text], |row| row.get("id"))
    }

    fn hostname_id(&mut self, name: &str) -> rusqlite::Result<i64> {
        let name = name.trim().to_lowercase();
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO hostnames (name) VALUES (?1)")?
            .execute([&name])?;
        self.tx
            .prepare_cached("SELECT id FROM hostnames WHERE name = ?1")?
            .query_row([&name], |row| row.get("id"))
    }
}
