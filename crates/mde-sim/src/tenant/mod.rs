//! The simulated tenant: every generated fact, held compactly so that 200,000 devices fit.
//!
//! Terms:
//! - A **device** is one machine record (`/api/machines`); a reimaged computer leaves an older
//!   record behind (`isPotentialDuplication`, `mergedIntoMachineId`), so two records may share a
//!   name.
//! - An **adapter** has a MAC and a history of IPv4 **leases** over the last 30 days. In the
//!   corporate `10.0.0.0/8` space a released address rests at least an hour before DHCP hands
//!   it out again, so "which device held 10.x.y.z at time T" has exactly one answer. Home
//!   networks (`192.168.x.y` on laptops' Wi-Fi) are shared by many devices at once, as in life.
//! - A **vulnerability instance** is (device, software version, CVE) with the time it was found
//!   and, once the software was updated, the time it was fixed; the delta export reads these.
//! - History that would be millions of rows (DeviceNetworkInfo, DeviceInfo, DeviceLogonEvents)
//!   is not stored: `crate::hunting` derives the rows from leases and report phases on demand.

pub(crate) mod catalog;
mod generate;
mod mutate;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;

pub use catalog::DeviceClass;
pub(crate) use generate::generate;
pub use mutate::MutationError;

/// Days of history kept (hunting data, leases, findbyip).
pub const HISTORY_DAYS: i64 = 30;

/// One machine record, with everything `/api/machines` shows and the history behind it.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: String,
    pub merged_into_machine_id: Option<String>,
    pub is_potential_duplication: bool,
    pub is_excluded: bool,
    pub exclusion_reason: Option<&'static str>,
    pub computer_dns_name: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub os_platform: &'static str,
    pub os_version: Option<&'static str>,
    pub os_processor: &'static str,
    pub version: Option<&'static str>,
    pub last_external_ip_address: Option<Ipv4Addr>,
    pub agent_version: Option<&'static str>,
    pub os_build: Option<i64>,
    pub health_status: &'static str,
    pub device_value: Option<&'static str>,
    pub rbac_group_id: i64,
    pub rbac_group_name: Option<&'static str>,
    pub risk_score: Option<&'static str>,
    pub exposure_level: Option<&'static str>,
    pub is_aad_joined: bool,
    pub aad_device_id: Option<String>,
    pub machine_tags: Vec<String>,
    pub defender_av_status: Option<&'static str>,
    pub onboarding_status: &'static str,
    pub os_architecture: &'static str,
    pub managed_by: &'static str,
    pub managed_by_status: &'static str,
    pub adapters: Vec<Adapter>,
    pub vm_metadata: Option<VmMetadata>,
    /// Accounts seen logging on (`/logonusers`).
    pub logon_users: Vec<DeviceUser>,
    /// Installed software: (index into [`Tenant::software`], version index).
    pub installed: Vec<(u16, u8)>,
    /// Vulnerability instances, current and fixed.
    pub vulns: Vec<VulnInstance>,
    /// Earlier names with the time each stopped being used, oldest first.
    pub previous_names: Vec<(String, DateTime<Utc>)>,
    /// Set when the device was removed from the service: it is no longer listed.
    pub removed_at: Option<DateTime<Utc>>,
    pub class: DeviceClass,
    /// Seconds after midnight at which this device's periodic reports happen.
    pub report_phase: u32,
    /// Security identifier of the machine account domain (local accounts' SIDs start with it).
    pub machine_sid: String,
}

impl Device {
    /// `lastIpAddress`: the primary adapter's current (or last) IPv4 address.
    pub fn last_ip_address(&self) -> Option<Ipv4Addr> {
        self.adapters
            .iter()
            .find_map(|adapter| adapter.leases.last().map(|lease| lease.ip))
    }

    /// Whether the device still reports (its current leases are open).
    pub fn is_reporting(&self) -> bool {
        self.removed_at.is_none() && self.health_status != "Inactive"
    }

    /// The device's name at a moment (renames change it).
    pub fn name_at(&self, time: DateTime<Utc>) -> &str {
        for (name, until) in &self.previous_names {
            if time < *until {
                return name;
            }
        }
        &self.computer_dns_name
    }

    /// Current vulnerability instances.
    pub fn current_vulns(&self) -> impl Iterator<Item = &VulnInstance> {
        self.vulns.iter().filter(|vuln| vuln.fixed_at.is_none())
    }
}

/// A network adapter and what it held over time.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub name: String,
    /// .NET `NetworkInterfaceType`: `Ethernet`, `Wireless80211`.
    pub adapter_type: &'static str,
    /// 12 uppercase hex digits, no separators (the REST format).
    pub mac: String,
    /// .NET `OperationalStatus`: `Up` or `Down`.
    pub status: &'static str,
    pub subnet_prefix: u8,
    /// Leases oldest first; the last one has `end == None` while the device holds it.
    pub leases: Vec<Lease>,
    pub ipv6_link_local: Ipv6Addr,
    pub ipv6_global: Option<Ipv6Addr>,
    /// APIPA address shown while the adapter is down and has no lease.
    pub apipa: Option<Ipv4Addr>,
    /// Index of the DHCP pool (subnet) the adapter draws from, if any.
    pub pool: Option<u32>,
}

/// One IPv4 address held by an adapter for `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Lease {
    pub fn covers(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && self.end.is_none_or(|end| time < end)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmMetadata {
    pub vm_id: String,
    pub cloud_provider: &'static str,
    pub resource_id: String,
    pub subscription_id: String,
}

/// An account seen on a device.
#[derive(Debug, Clone)]
pub struct DeviceUser {
    /// Index into [`Tenant::users`], or `None` for the machine's local `administrator`.
    pub user: Option<u32>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// e.g. `Interactive`, `Network, RemoteInteractive`.
    pub logon_types: &'static str,
    pub is_local_admin: bool,
}

/// A domain account.
#[derive(Debug, Clone)]
pub struct DomainUser {
    pub account_name: String,
    pub domain: &'static str,
    pub sid: String,
    pub upn: String,
    pub aad_object_id: String,
    pub is_domain_admin: bool,
    pub is_only_network_user: Option<bool>,
}

/// A CVE in the tenant's catalog.
#[derive(Debug, Clone)]
pub struct Cve {
    pub id: String,
    pub name: String,
    pub description: String,
    pub cvss_v3: f64,
    pub cvss_vector: String,
    pub severity: &'static str,
    pub published_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
    pub exploitability: &'static str,
    pub epss: f64,
    pub software: u16,
    /// Versions of the software with an index below this are vulnerable.
    pub fixed_in_version: u8,
    pub fixing_kb: Option<String>,
    /// When the CVE was rescored inside the delta window (an `Updated` delta event).
    pub rescored_at: Option<DateTime<Utc>>,
}

/// Software the tenant knows.
#[derive(Debug, Clone)]
pub struct Software {
    pub vendor: &'static str,
    pub name: &'static str,
    pub versions: &'static [&'static str],
    pub disk_path: &'static str,
}

/// A CVE present on a device through one software version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnInstance {
    pub software: u16,
    pub version: u8,
    pub cve: u16,
    pub first_seen: DateTime<Utc>,
    pub fixed_at: Option<DateTime<Utc>>,
}

/// An alert (`/api/alerts`).
#[derive(Debug, Clone)]
pub struct Alert {
    pub id: String,
    pub incident_id: Option<i64>,
    pub investigation_id: Option<i64>,
    pub assigned_to: Option<String>,
    pub severity: &'static str,
    pub status: &'static str,
    pub classification: Option<&'static str>,
    pub determination: Option<&'static str>,
    pub investigation_state: Option<&'static str>,
    pub detection_source: &'static str,
    pub detector_id: String,
    pub category: &'static str,
    pub threat_family_name: Option<&'static str>,
    pub title: &'static str,
    pub description: String,
    pub alert_creation_time: DateTime<Utc>,
    pub first_event_time: Option<DateTime<Utc>>,
    pub last_event_time: Option<DateTime<Utc>>,
    pub last_update_time: DateTime<Utc>,
    pub resolved_time: Option<DateTime<Utc>>,
    pub machine_id: String,
    pub computer_dns_name: String,
    pub rbac_group_name: Option<&'static str>,
    pub threat_name: Option<&'static str>,
    pub mitre_techniques: Vec<&'static str>,
    /// (userName, domainName)
    pub related_user: Option<(String, String)>,
    /// (accountName, domainName)
    pub logged_on_users: Vec<(String, String)>,
    pub comments: Vec<AlertComment>,
    pub evidence: Vec<Evidence>,
    /// Index of the kind in the catalog (hunting tables read its new-style names).
    pub(crate) kind: u8,
}

#[derive(Debug, Clone)]
pub struct AlertComment {
    pub comment: String,
    pub created_by: String,
    pub created_time: DateTime<Utc>,
}

/// One evidence entity; every key of the wire shape is present, null where not applicable.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub entity_type: &'static str,
    pub evidence_creation_time: Option<DateTime<Utc>>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub file_path: Option<String>,
    pub process_id: Option<i64>,
    pub process_command_line: Option<String>,
    pub process_creation_time: Option<DateTime<Utc>>,
    pub parent_process_id: Option<i64>,
    pub parent_process_creation_time: Option<DateTime<Utc>>,
    pub parent_process_file_name: Option<String>,
    pub parent_process_file_path: Option<String>,
    pub ip_address: Option<String>,
    pub url: Option<String>,
    pub registry_key: Option<String>,
    pub registry_hive: Option<String>,
    pub registry_value_type: Option<String>,
    pub registry_value: Option<String>,
    pub registry_value_name: Option<String>,
    pub account_name: Option<String>,
    pub domain_name: Option<String>,
    pub user_sid: Option<String>,
    pub aad_user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub detection_status: Option<&'static str>,
}

/// Everything generated for one tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub generated_at: DateTime<Utc>,
    pub devices: Vec<Device>,
    pub alerts: Vec<Alert>,
    pub users: Vec<DomainUser>,
    pub software: Vec<Software>,
    pub cves: Vec<Cve>,
    /// DHCP pools: (network address, usable host range) per pool index.
    pub pools: Vec<Pool>,
    pub(crate) index: HashMap<String, usize>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) next_alert_serial: u64,
}

/// A corporate DHCP scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub network: Ipv4Addr,
    pub prefix: u8,
    pub first_host: u8,
    pub last_host: u8,
}

impl Tenant {
    /// A device by machine id (case-insensitive), removed ones included.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.index
            .get(&id.to_ascii_lowercase())
            .map(|&idx| &self.devices[idx])
    }

    pub(crate) fn device_idx(&self, id: &str) -> Option<usize> {
        self.index.get(&id.to_ascii_lowercase()).copied()
    }

    /// A listed device by id or by computer DNS name (what `/api/machines/{id}` accepts).
    pub fn lookup(&self, id_or_name: &str) -> Option<&Device> {
        if let Some(device) = self.device(id_or_name) {
            return (device.removed_at.is_none()).then_some(device);
        }
        let wanted = id_or_name.to_ascii_lowercase();
        self.devices
            .iter()
            .filter(|device| device.removed_at.is_none())
            .filter(|device| {
                device.computer_dns_name == wanted
                    || device.computer_dns_name.split('.').next() == Some(wanted.as_str())
            })
            .max_by_key(|device| device.last_seen)
    }

    /// Devices `/api/machines` lists, in the service's stable order (generation order).
    pub fn listed_devices(&self) -> impl Iterator<Item = &Device> {
        self.devices
            .iter()
            .filter(|device| device.removed_at.is_none())
    }

    /// Which devices held `ip` at `time` (from adapter leases). In `10.0.0.0/8` the answer has
    /// at most one device.
    pub fn ip_holders_at(&self, ip: Ipv4Addr, time: DateTime<Utc>) -> Vec<&Device> {
        self.devices
            .iter()
            .filter(|device| {
                device.adapters.iter().any(|adapter| {
                    adapter
                        .leases
                        .iter()
                        .any(|lease| lease.ip == ip && lease.covers(time))
                })
            })
            .collect()
    }

    /// Every lease of `ip` over the history, oldest first: (device id, lease).
    pub fn ip_history(&self, ip: Ipv4Addr) -> Vec<(String, Lease)> {
        let mut out: Vec<(String, Lease)> = self
            .devices
            .iter()
            .flat_map(|device| {
                device.adapters.iter().flat_map(move |adapter| {
                    adapter
                        .leases
                        .iter()
                        .filter(move |lease| lease.ip == ip)
                        .map(move |lease| (device.id.clone(), *lease))
                })
            })
            .collect();
        out.sort_by_key(|(_, lease)| lease.start);
        out
    }

    /// Display name of a logon user entry: (accountName, accountDomain, accountSid).
    pub fn account_of(&self, device: &Device, user: &DeviceUser) -> (String, String, String) {
        match user.user {
            Some(idx) => {
                let domain_user = &self.users[idx as usize];
                (
                    domain_user.account_name.clone(),
                    domain_user.domain.to_owned(),
                    domain_user.sid.clone(),
                )
            }
            None => (
                "administrator".to_owned(),
                short_name(&device.computer_dns_name).to_ascii_uppercase(),
                format!("{}-500", device.machine_sid),
            ),
        }
    }

    /// Number of listed devices a domain account logged on to.
    pub fn machine_count_of(&self, user_idx: u32) -> usize {
        self.listed_devices()
            .filter(|device| {
                device
                    .logon_users
                    .iter()
                    .any(|user| user.user == Some(user_idx))
            })
            .count()
    }

    /// An alert by id.
    pub fn alert(&self, id: &str) -> Option<&Alert> {
        self.alerts
            .iter()
            .find(|alert| alert.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn reindex(&mut self) {
        self.index = self
            .devices
            .iter()
            .enumerate()
            .map(|(idx, device)| (device.id.clone(), idx))
            .collect();
    }
}

/// `host1` of `host1.contoso.com`.
pub fn short_name(dns_name: &str) -> &str {
    dns_name.split('.').next().unwrap_or(dns_name)
}

/// A MAC as the hunting tables print it: `00-0C-29-92-A6-4D`.
pub fn mac_hyphenated(mac: &str) -> String {
    mac.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}
