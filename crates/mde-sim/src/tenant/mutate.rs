//! Changes over time: what tests (and the demo's churn) do to a generated tenant.

use std::net::Ipv4Addr;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;

use super::generate::{self, QUARANTINE_MINUTES};
use super::{Cve, Device, Lease, Tenant, VulnInstance};

/// Why a mutation could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationError {
    #[error("no device with id {0}")]
    UnknownDevice(String),
    #[error("no alert with id {0}")]
    UnknownAlert(String),
    #[error("device {0} has no DHCP-assigned adapter")]
    NoPool(String),
    #[error("the DHCP pool of device {0} has no free address")]
    PoolExhausted(String),
    #[error("device {0} has no current vulnerability {1}")]
    UnknownVulnerability(String, String),
    #[error("device {0} has no software left to become vulnerable")]
    NoSoftware(String),
}

type Result<T> = std::result::Result<T, MutationError>;

impl Tenant {
    fn idx(&self, id: &str) -> Result<usize> {
        self.device_idx(id)
            .ok_or_else(|| MutationError::UnknownDevice(id.to_owned()))
    }

    /// The device sends a full report: `lastSeen` = now, back to `Active` (a device that was
    /// Inactive or removed takes a fresh lease).
    pub fn report(&mut self, id: &str, now: DateTime<Utc>) -> Result<()> {
        let idx = self.idx(id)?;
        let was_reporting = self.devices[idx].is_reporting();
        {
            let device = &mut self.devices[idx];
            device.last_seen = now;
            device.health_status = "Active";
            device.removed_at = None;
            for user in &mut device.logon_users {
                user.last_seen = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
            }
        }
        if !was_reporting {
            let pooled: Vec<usize> = self.devices[idx]
                .adapters
                .iter()
                .enumerate()
                .filter(|(_, adapter)| adapter.pool.is_some())
                .map(|(adapter_idx, _)| adapter_idx)
                .collect();
            for adapter_idx in pooled {
                self.take_lease(idx, adapter_idx, now)?;
            }
        }
        Ok(())
    }

    /// DHCP moves the device's first pooled adapter to another free address; returns it.
    pub fn reassign_ip(&mut self, id: &str, now: DateTime<Utc>) -> Result<Ipv4Addr> {
        let idx = self.idx(id)?;
        let adapter_idx = self.devices[idx]
            .adapters
            .iter()
            .position(|adapter| adapter.pool.is_some())
            .ok_or_else(|| MutationError::NoPool(id.to_owned()))?;
        self.take_lease(idx, adapter_idx, now)
    }

    /// Ends the adapter's open lease at `now` and starts a new one on a free address.
    fn take_lease(
        &mut self,
        idx: usize,
        adapter_idx: usize,
        now: DateTime<Utc>,
    ) -> Result<Ipv4Addr> {
        let pool_idx = self.devices[idx].adapters[adapter_idx]
            .pool
            .ok_or_else(|| MutationError::NoPool(self.devices[idx].id.clone()))?;
        if let Some(lease) = self.devices[idx].adapters[adapter_idx].leases.last_mut()
            && lease.end.is_none()
        {
            lease.end = Some(now);
        }
        let pool = self.pools[pool_idx as usize];
        let octets = pool.network.octets();
        let quarantine = Duration::minutes(QUARANTINE_MINUTES);
        let mut busy = vec![false; 256];
        for device in &self.devices {
            for adapter in device
                .adapters
                .iter()
                .filter(|adapter| adapter.pool == Some(pool_idx))
            {
                for lease in &adapter.leases {
                    let recently = lease.end.is_none_or(|end| end + quarantine > now);
                    if recently {
                        busy[usize::from(lease.ip.octets()[3])] = true;
                    }
                }
            }
        }
        let free: Vec<u8> = (pool.first_host..=pool.last_host)
            .filter(|host| !busy[usize::from(*host)])
            .collect();
        let host = *free
            .choose(&mut self.rng)
            .ok_or_else(|| MutationError::PoolExhausted(self.devices[idx].id.clone()))?;
        let ip = Ipv4Addr::new(octets[0], octets[1], octets[2], host);
        self.devices[idx].adapters[adapter_idx].leases.push(Lease {
            ip,
            start: now,
            end: None,
        });
        Ok(ip)
    }

    fn close_leases(device: &mut Device, now: DateTime<Utc>) {
        for adapter in &mut device.adapters {
            if let Some(lease) = adapter.leases.last_mut()
                && lease.end.is_none()
            {
                lease.end = Some(now);
            }
        }
    }

    /// The device stops reporting: `healthStatus` becomes `Inactive`, its leases end now.
    pub fn set_inactive(&mut self, id: &str, now: DateTime<Utc>) -> Result<()> {
        let idx = self.idx(id)?;
        let device = &mut self.devices[idx];
        device.health_status = "Inactive";
        Self::close_leases(device, now);
        Ok(())
    }

    /// The device disappears from the service (retention or offboarding).
    pub fn remove(&mut self, id: &str, now: DateTime<Utc>) -> Result<()> {
        let idx = self.idx(id)?;
        let device = &mut self.devices[idx];
        device.removed_at = Some(now);
        Self::close_leases(device, now);
        Ok(())
    }

    /// The device is renamed; its id stays.
    pub fn rename(&mut self, id: &str, new_name: &str, now: DateTime<Utc>) -> Result<()> {
        let idx = self.idx(id)?;
        let device = &mut self.devices[idx];
        let old = std::mem::replace(&mut device.computer_dns_name, new_name.to_ascii_lowercase());
        device.previous_names.push((old, now));
        device.last_seen = now;
        Ok(())
    }

    /// The computer is reimaged: a new record with a new id and the same name appears; the old
    /// one turns Inactive and is merged into it. Returns the new id.
    pub fn reimage(&mut self, id: &str, now: DateTime<Utc>) -> Result<String> {
        let idx = self.idx(id)?;
        let mut fresh = self.devices[idx].clone();
        fresh.id = generate::hex(&mut self.rng, 20);
        fresh.first_seen = now;
        fresh.last_seen = now;
        fresh.health_status = "Active";
        fresh.is_potential_duplication = false;
        fresh.merged_into_machine_id = None;
        fresh.previous_names.clear();
        fresh
            .vulns
            .iter_mut()
            .for_each(|vuln| vuln.first_seen = now);
        fresh.vulns.retain(|vuln| vuln.fixed_at.is_none());
        for adapter in &mut fresh.adapters {
            adapter.leases.clear();
        }
        {
            let old = &mut self.devices[idx];
            old.health_status = "Inactive";
            old.is_potential_duplication = true;
            old.merged_into_machine_id = Some(fresh.id.clone());
            Self::close_leases(old, now);
        }
        let new_id = fresh.id.clone();
        let position = self.devices.partition_point(|device| device.id < new_id);
        self.devices.insert(position, fresh);
        self.reindex();
        let new_idx = self.idx(&new_id)?;
        let pooled: Vec<usize> = self.devices[new_idx]
            .adapters
            .iter()
            .enumerate()
            .filter(|(_, adapter)| adapter.pool.is_some())
            .map(|(adapter_idx, _)| adapter_idx)
            .collect();
        for adapter_idx in pooled {
            self.take_lease(new_idx, adapter_idx, now)?;
        }
        Ok(new_id)
    }

    /// A new alert on the device, created now; returns its id.
    pub fn add_alert(&mut self, machine_id: &str, now: DateTime<Utc>) -> Result<String> {
        let idx = self.idx(machine_id)?;
        let serial = self.next_alert_serial;
        self.next_alert_serial += 1;
        let mut alert =
            generate::new_alert(&mut self.rng, &self.devices[idx], &self.users, now, serial);
        let ticks = (now.timestamp() + 62_135_596_800) * 10_000_000
            + i64::from(now.timestamp_subsec_nanos() / 100);
        alert.id = format!(
            "da{ticks}_{}",
            self.rng.random_range(1_000_000_000u64..9_999_999_999)
        );
        alert.alert_creation_time = now;
        alert.last_event_time = Some(now - Duration::seconds(30));
        alert.first_event_time = Some(now - Duration::minutes(5));
        alert.last_update_time = now;
        alert.status = "New";
        alert.resolved_time = None;
        alert.classification = None;
        alert.determination = None;
        alert.assigned_to = None;
        alert.comments.clear();
        for evidence in &mut alert.evidence {
            evidence.evidence_creation_time = Some(now);
        }
        let id = alert.id.clone();
        self.alerts.push(alert);
        Ok(id)
    }

    /// Moves an alert to `status` (`New`, `InProgress`, `Resolved`) at `now`.
    pub fn update_alert(
        &mut self,
        alert_id: &str,
        status: &'static str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let alert = self
            .alerts
            .iter_mut()
            .find(|alert| alert.id.eq_ignore_ascii_case(alert_id))
            .ok_or_else(|| MutationError::UnknownAlert(alert_id.to_owned()))?;
        alert.status = status;
        alert.last_update_time = now;
        if status == "Resolved" {
            alert.resolved_time = Some(now);
            alert.classification = Some("TruePositive");
            alert.determination = Some("Malware");
        } else {
            alert.resolved_time = None;
            alert
                .assigned_to
                .get_or_insert_with(|| "secops@contoso-sim.com".to_owned());
        }
        Ok(())
    }

    /// A CVE newly found on the device (a new CVE published against software it runs, or one
    /// from the catalog it did not have). Returns the CVE id.
    pub fn add_cve(&mut self, machine_id: &str, now: DateTime<Utc>) -> Result<String> {
        let idx = self.idx(machine_id)?;
        let installed = self.devices[idx].installed.clone();
        let &(software, version) = installed
            .choose(&mut self.rng)
            .ok_or_else(|| MutationError::NoSoftware(machine_id.to_owned()))?;
        let n_versions = self.software[usize::from(software)].versions.len() as u8;
        let cve_id = loop {
            let candidate = format!(
                "CVE-{}-{}",
                now.format("%Y"),
                self.rng.random_range(50_000..99_999)
            );
            if !self.cves.iter().any(|cve| cve.id == candidate) {
                break candidate;
            }
        };
        let cvss_v3 = f64::from(self.rng.random_range(40u32..=98)) / 10.0;
        self.cves.push(Cve {
            id: cve_id.clone(),
            name: cve_id.clone(),
            description: format!(
                "A newly published vulnerability in {}.",
                self.software[usize::from(software)].name
            ),
            cvss_v3,
            cvss_vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_owned(),
            severity: if cvss_v3 >= 9.0 {
                "Critical"
            } else if cvss_v3 >= 7.0 {
                "High"
            } else {
                "Medium"
            },
            published_on: now - Duration::hours(6),
            updated_on: now - Duration::hours(6),
            exploitability: "NoExploit",
            epss: 0.01,
            software,
            fixed_in_version: n_versions,
            fixing_kb: None,
            rescored_at: None,
        });
        let cve = (self.cves.len() - 1) as u16;
        self.devices[idx].vulns.push(VulnInstance {
            software,
            version,
            cve,
            first_seen: now,
            fixed_at: None,
        });
        Ok(cve_id)
    }

    /// The device's software was patched: the CVE is fixed at `now`.
    pub fn fix_cve(&mut self, machine_id: &str, cve_id: &str, now: DateTime<Utc>) -> Result<()> {
        let idx = self.idx(machine_id)?;
        let cve_indices: Vec<u16> = self
            .cves
            .iter()
            .enumerate()
            .filter(|(_, cve)| cve.id.eq_ignore_ascii_case(cve_id))
            .map(|(cve_idx, _)| cve_idx as u16)
            .collect();
        let vuln = self.devices[idx]
            .vulns
            .iter_mut()
            .find(|vuln| vuln.fixed_at.is_none() && cve_indices.contains(&vuln.cve))
            .ok_or_else(|| {
                MutationError::UnknownVulnerability(machine_id.to_owned(), cve_id.to_owned())
            })?;
        vuln.fixed_at = Some(now);
        Ok(())
    }

    /// A burst of ordinary activity up to `now`: reporting devices report, some laptops and
    /// phones move, a few alerts appear or get resolved. Deterministic given the seed and the
    /// sequence of calls.
    pub fn churn(&mut self, now: DateTime<Utc>) {
        let n_devices = self.devices.len();
        for idx in 0..n_devices {
            if !self.devices[idx].is_reporting() {
                continue;
            }
            let since_report = now - self.devices[idx].last_seen;
            if since_report > Duration::hours(24) || self.rng.random_bool(0.1) {
                self.devices[idx].last_seen = now;
            }
            let mobile = matches!(
                self.devices[idx].class,
                super::DeviceClass::Laptop | super::DeviceClass::Mobile
            );
            if mobile && self.rng.random_bool(0.05) {
                let id = self.devices[idx].id.clone();
                let _ = self.reassign_ip(&id, now);
            }
        }
        let n_new = (n_devices / 200).max(1);
        let eligible: Vec<String> = self
            .devices
            .iter()
            .filter(|device| device.is_reporting() && device.onboarding_status == "Onboarded")
            .map(|device| device.id.clone())
            .collect();
        for _ in 0..n_new {
            if let Some(id) = eligible.choose(&mut self.rng).cloned() {
                let _ = self.add_alert(&id, now);
            }
        }
        let open: Vec<String> = self
            .alerts
            .iter()
            .filter(|alert| alert.status != "Resolved")
            .map(|alert| alert.id.clone())
            .collect();
        for _ in 0..n_new.min(open.len()) {
            if let Some(id) = open.choose(&mut self.rng).cloned() {
                let _ = self.update_alert(&id, "Resolved", now);
            }
        }
    }
}
