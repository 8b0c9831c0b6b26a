//! Advanced hunting: the simulated tenant as KQL tables ([`TenantTables`] implements
//! [`kql::Tables`]) and the two endpoints that run queries over them, the legacy
//! `POST /api/advancedqueries/run` and Graph's `POST /v1.0/security/runHuntingQuery`.
//!
//! Tables and how their rows come about (all derived on demand, nothing materialized):
//! - `DeviceInfo`: one row per device per daily report (at the device's report phase) over the
//!   last 30 days while it reported; names follow renames.
//! - `DeviceNetworkInfo`: one row per adapter every 6 hours and at each DHCP lease start,
//!   showing the lease held at that moment; `MacAddress` hyphenated (`00-0C-29-…`).
//! - `DeviceLogonEvents`: logons of each account seen on a device, on about one day in three,
//!   at a deterministic time; one in ten is a `LogonFailed`.
//! - `DeviceTvmSoftwareVulnerabilities` (snapshot, no `Timestamp`) and
//!   `DeviceTvmSoftwareVulnerabilitiesKB`.
//! - `AlertInfo` and `AlertEvidence` (a `Machine` row plus one per evidence entity).
//!
//! Column types follow the schema reference: `LoggedOnUsers`, `ConnectedNetworks`,
//! `DnsAddresses`, `DefaultGateways` and `IPAddresses` are `string` columns holding JSON text
//! (keys in the documented order, e.g. `{"IPAddress":…,"SubnetPrefix":…,"AddressType":…}`), so a
//! query must `todynamic()` them before member access or `mv-expand`; `AdditionalFields`, the
//! tag columns, `CveTags` and `AffectedSoftware` are `dynamic`. Either way the answer carries
//! them as strings.
//!
//! Legacy MDATP names (`MachineInfo`, `DeviceAlertEvents`, …) are not aliased: they fail as in
//! the service.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value as Json, json};

use crate::faults::{Failure, FaultKind};
use crate::format::{self, Obj};
use crate::kql::{self, ColumnType, ScanHint, TableSchema, Tables, Value};
use crate::requests::Endpoint;
use crate::server::auth::{self, Caller};
use crate::server::{Ctx, Reply};
use crate::tenant::{Device, DeviceClass, HISTORY_DAYS, Tenant, catalog, mac_hyphenated};

/// Rows a query returns at most ("a maximum of 100,000 rows"); more are cut off
/// (docs/defender-api.md#advanced-hunting).
pub const MAX_ROWS: usize = 100_000;
/// Largest response body (124 MB); larger results are a 400.
pub const MAX_RESULT_BYTES: usize = 124 * 1024 * 1024;
/// Interval of periodic DeviceNetworkInfo reports.
const NETWORK_REPORT_HOURS: i64 = 6;

use ColumnType::{
    Boolean as B, DateTime as T, Double as D, Dynamic as J, Int32 as I, Int64 as L, String as S,
};

const DEVICE_INFO: &[(&str, ColumnType)] = &[
    ("Timestamp", T),
    ("DeviceId", S),
    ("DeviceName", S),
    ("ClientVersion", S),
    ("PublicIP", S),
    ("OSArchitecture", S),
    ("OSPlatform", S),
    ("OSBuild", L),
    ("IsAzureADJoined", B),
    ("JoinType", S),
    ("AadDeviceId", S),
    ("LoggedOnUsers", S),
    ("RegistryDeviceTag", S),
    ("OSVersion", S),
    ("MachineGroup", S),
    ("ReportId", L),
    ("OnboardingStatus", S),
    ("AdditionalFields", J),
    ("DeviceCategory", S),
    ("DeviceType", S),
    ("DeviceSubtype", S),
    ("Model", S),
    ("Vendor", S),
    ("OSDistribution", S),
    ("OSVersionInfo", S),
    ("MergedDeviceIds", S),
    ("MergedToDeviceId", S),
    ("IsInternetFacing", B),
    ("SensorHealthState", S),
    ("IsExcluded", B),
    ("ExclusionReason", S),
    ("ExposureLevel", S),
    ("AssetValue", S),
    ("DeviceManualTags", J),
    ("DeviceDynamicTags", J),
    ("ConnectivityType", S),
    ("HostDeviceId", S),
];

const DEVICE_NETWORK_INFO: &[(&str, ColumnType)] = &[
    ("Timestamp", T),
    ("DeviceId", S),
    ("DeviceName", S),
    ("NetworkAdapterName", S),
    ("MacAddress", S),
    ("NetworkAdapterType", S),
    ("NetworkAdapterStatus", S),
    ("TunnelType", S),
    ("ConnectedNetworks", S),
    ("DnsAddresses", S),
    ("IPv4Dhcp", S),
    ("IPv6Dhcp", S),
    ("DefaultGateways", S),
    ("IPAddresses", S),
    ("ReportId", L),
    ("NetworkAdapterVendor", S),
];

const DEVICE_LOGON_EVENTS: &[(&str, ColumnType)] = &[
    ("Timestamp", T),
    ("DeviceId", S),
    ("DeviceName", S),
    ("ActionType", S),
    ("LogonType", S),
    ("AccountDomain", S),
    ("AccountName", S),
    ("AccountSid", S),
    ("Protocol", S),
    ("FailureReason", S),
    ("IsLocalAdmin", B),
    ("LogonId", L),
    ("RemoteDeviceName", S),
    ("RemoteIP", S),
    ("RemoteIPType", S),
    ("RemotePort", I),
    ("InitiatingProcessFileName", S),
    ("InitiatingProcessAccountName", S),
    ("ReportId", L),
    ("AppGuardContainerId", S),
    ("AdditionalFields", J),
];

const TVM_VULNERABILITIES: &[(&str, ColumnType)] = &[
    ("DeviceId", S),
    ("DeviceName", S),
    ("OSPlatform", S),
    ("OSVersion", S),
    ("OSArchitecture", S),
    ("SoftwareVendor", S),
    ("SoftwareName", S),
    ("SoftwareVersion", S),
    ("CveId", S),
    ("VulnerabilitySeverityLevel", S),
    ("RecommendedSecurityUpdate", S),
    ("RecommendedSecurityUpdateId", S),
    ("CveTags", J),
];

const TVM_KB: &[(&str, ColumnType)] = &[
    ("CveId", S),
    ("CvssScore", D),
    ("IsExploitAvailable", B),
    ("VulnerabilitySeverityLevel", S),
    ("LastModifiedTime", T),
    ("PublishedDate", T),
    ("VulnerabilityDescription", S),
    ("AffectedSoftware", J),
];

const ALERT_INFO: &[(&str, ColumnType)] = &[
    ("Timestamp", T),
    ("AlertId", S),
    ("Title", S),
    ("Category", S),
    ("Severity", S),
    ("ServiceSource", S),
    ("DetectionSource", S),
    ("AttackTechniques", S),
];

const ALERT_EVIDENCE: &[(&str, ColumnType)] = &[
    ("Timestamp", T),
    ("AlertId", S),
    ("Title", S),
    ("Categories", S),
    ("AttackTechniques", S),
    ("ServiceSource", S),
    ("DetectionSource", S),
    ("EntityType", S),
    ("EvidenceRole", S),
    ("EvidenceDirection", S),
    ("FileName", S),
    ("FolderPath", S),
    ("SHA1", S),
    ("SHA256", S),
    ("FileSize", L),
    ("ThreatFamily", S),
    ("RemoteIP", S),
    ("RemoteUrl", S),
    ("AccountName", S),
    ("AccountDomain", S),
    ("AccountSid", S),
    ("AccountObjectId", S),
    ("AccountUpn", S),
    ("DeviceId", S),
    ("DeviceName", S),
    ("LocalIP", S),
    ("NetworkMessageId", S),
    ("EmailSubject", S),
    ("Application", S),
    ("ApplicationId", I),
    ("OAuthApplicationId", S),
    ("ProcessCommandLine", S),
    ("RegistryKey", S),
    ("RegistryValueName", S),
    ("RegistryValueData", S),
    ("AdditionalFields", S),
    ("Severity", S),
];

/// The table names served.
pub const TABLES: &[&str] = &[
    "DeviceInfo",
    "DeviceNetworkInfo",
    "DeviceLogonEvents",
    "DeviceTvmSoftwareVulnerabilities",
    "DeviceTvmSoftwareVulnerabilitiesKB",
    "AlertInfo",
    "AlertEvidence",
];

fn columns(table: &str) -> Option<&'static [(&'static str, ColumnType)]> {
    Some(match table {
        "DeviceInfo" => DEVICE_INFO,
        "DeviceNetworkInfo" => DEVICE_NETWORK_INFO,
        "DeviceLogonEvents" => DEVICE_LOGON_EVENTS,
        "DeviceTvmSoftwareVulnerabilities" => TVM_VULNERABILITIES,
        "DeviceTvmSoftwareVulnerabilitiesKB" => TVM_KB,
        "AlertInfo" => ALERT_INFO,
        "AlertEvidence" => ALERT_EVIDENCE,
        _ => return None,
    })
}

/// The tenant as hunting tables, at a given "now".
#[derive(Clone, Copy)]
pub struct TenantTables<'a> {
    pub tenant: &'a Tenant,
    pub now: DateTime<Utc>,
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn opt_s(text: Option<&str>) -> Value {
    text.map_or(Value::String(String::new()), s)
}

/// A deterministic 64-bit mix (splitmix64).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn report_id(parts: &[u64]) -> i64 {
    (parts.iter().fold(0u64, |acc, part| mix(acc ^ *part)) >> 20) as i64
}

/// One element of `IPAddresses`, keys in the documented order:
/// `{"IPAddress":"10.1.2.3","SubnetPrefix":24,"AddressType":"Private"}`.
fn address_json(ip: &str, prefix: u8, kind: &str) -> String {
    let mut obj = Obj::new();
    obj.str("IPAddress", ip)
        .int("SubnetPrefix", i64::from(prefix))
        .str("AddressType", kind);
    obj.finish()
}

/// `ConnectedNetworks` with one network: `[{"Name","Category","Description","IsConnectedToInternet"}]`.
fn network_json(name: &str, category: &str) -> String {
    let mut obj = Obj::new();
    obj.str("Name", name)
        .str("Category", category)
        .str("Description", name)
        .bool("IsConnectedToInternet", true);
    format::array(&[obj.finish()])
}

/// A JSON array of strings (`DnsAddresses`, `DefaultGateways`).
fn strings_json(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format::quote(item)).collect();
    format::array(&quoted)
}

impl<'a> TenantTables<'a> {
    pub fn new(tenant: &'a Tenant, now: DateTime<Utc>) -> TenantTables<'a> {
        TenantTables { tenant, now }
    }

    /// The span a device's history covers, clipped to the hint: `[from, to]`.
    fn span(&self, device: &Device, hint: &ScanHint) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let mut from = device
            .first_seen
            .max(self.now - Duration::days(HISTORY_DAYS));
        let mut to = if device.is_reporting() {
            self.now
        } else {
            device.last_seen.min(self.now)
        };
        if let Some(removed) = device.removed_at {
            to = to.min(removed);
        }
        if let Some(min) = hint.min_time {
            from = from.max(min);
        }
        if let Some(max) = hint.max_time {
            to = to.min(max);
        }
        (from <= to).then_some((from, to))
    }

    /// Periodic times `phase + k·period` inside `[from, to]`.
    fn periodic(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        phase_secs: u32,
        period: Duration,
    ) -> Vec<DateTime<Utc>> {
        let period_secs = period.num_seconds();
        let anchor =
            from.timestamp() - (from.timestamp() - i64::from(phase_secs)).rem_euclid(period_secs);
        let mut time = DateTime::from_timestamp(anchor, 0).unwrap_or(from);
        if time < from {
            time += period;
        }
        let mut out = Vec::new();
        while time <= to {
            out.push(time);
            time += period;
        }
        out
    }

    /// `LoggedOnUsers`: `[{"UserName":…,"DomainName":…,"Sid":…}]` as a string.
    fn logged_on_users(&self, device: &Device) -> String {
        let users: Vec<String> = device
            .logon_users
            .iter()
            .map(|user| {
                let (name, domain, sid) = self.tenant.account_of(device, user);
                let mut obj = Obj::new();
                obj.str("UserName", &name)
                    .str("DomainName", &domain)
                    .str("Sid", &sid);
                obj.finish()
            })
            .collect();
        format::array(&users)
    }

    fn device_info(&self, hint: &ScanHint) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let tables = TenantTables {
            tenant: self.tenant,
            now: self.now,
        };
        let hint = hint.clone();
        Box::new(
            self.tenant
                .devices
                .iter()
                .enumerate()
                .flat_map(move |(idx, device)| {
                    let times = tables
                        .span(device, &hint)
                        .map(|(from, to)| {
                            Self::periodic(from, to, device.report_phase, Duration::days(1))
                        })
                        .unwrap_or_default();
                    let users = tables.logged_on_users(device);
                    times.into_iter().map(move |time| {
                        let category = if device.onboarding_status == "Onboarded" {
                            "Endpoint"
                        } else {
                            "Unknown"
                        };
                        let device_type = match device.class {
                            DeviceClass::Server => "Server",
                            DeviceClass::Mobile => "MobileDevice",
                            _ => "Workstation",
                        };
                        vec![
                            Value::DateTime(time),
                            s(&device.id),
                            s(device.name_at(time)),
                            opt_s(device.agent_version),
                            opt_s(
                                device
                                    .last_external_ip_address
                                    .map(|ip| ip.to_string())
                                    .as_deref(),
                            ),
                            s(if device.os_architecture == "32-bit" {
                                "32-bit"
                            } else {
                                "64-bit"
                            }),
                            s(device.os_platform),
                            device.os_build.map_or(Value::Null, Value::Long),
                            Value::Bool(device.is_aad_joined),
                            s(if device.is_aad_joined {
                                "AADJoined"
                            } else if device.computer_dns_name.contains('.') {
                                "Domain Joined"
                            } else {
                                ""
                            }),
                            opt_s(device.aad_device_id.as_deref()),
                            s(&users),
                            s(""),
                            opt_s(device.os_version.or(device.version)),
                            opt_s(device.rbac_group_name),
                            Value::Long(report_id(&[idx as u64, time.timestamp() as u64, 1])),
                            s(device.onboarding_status),
                            Value::Dynamic(json!({})),
                            s(category),
                            s(device_type),
                            s(""),
                            s(if device.vm_metadata.is_some() {
                                "Virtual Machine"
                            } else {
                                ""
                            }),
                            s(if device.vm_metadata.is_some() {
                                "Microsoft"
                            } else {
                                ""
                            }),
                            s(if device.os_platform == "Linux" {
                                "Ubuntu"
                            } else {
                                ""
                            }),
                            opt_s(device.version),
                            s(""),
                            opt_s(device.merged_into_machine_id.as_deref()),
                            Value::Bool(false),
                            s(match device.health_status {
                                "Active" => "Active",
                                "Inactive" => "Inactive",
                                "ImpairedCommunication" => "Impaired communications",
                                _ => "No sensor data",
                            }),
                            Value::Bool(device.is_excluded),
                            opt_s(device.exclusion_reason),
                            opt_s(device.exposure_level),
                            opt_s(device.device_value),
                            Value::Dynamic(json!(device.machine_tags)),
                            Value::Dynamic(json!([])),
                            s(""),
                            s(""),
                        ]
                    })
                }),
        )
    }

    fn device_network_info(&self, hint: &ScanHint) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let tables = TenantTables {
            tenant: self.tenant,
            now: self.now,
        };
        let hint = hint.clone();
        Box::new(
            self.tenant
                .devices
                .iter()
                .enumerate()
                .flat_map(move |(device_idx, device)| {
                    let span = tables.span(device, &hint);
                    device
                        .adapters
                        .iter()
                        .enumerate()
                        .flat_map(move |(adapter_idx, adapter)| {
                            let mut times = match span {
                                Some((from, to)) => {
                                    let mut times = Self::periodic(
                                        from,
                                        to,
                                        device.report_phase,
                                        Duration::hours(NETWORK_REPORT_HOURS),
                                    );
                                    times.extend(
                                        adapter
                                            .leases
                                            .iter()
                                            .map(|lease| lease.start)
                                            .filter(|start| *start >= from && *start <= to),
                                    );
                                    times
                                }
                                None => Vec::new(),
                            };
                            times.sort_unstable();
                            times.dedup();
                            let pool = adapter
                                .pool
                                .map(|pool_idx| tables.tenant.pools[pool_idx as usize]);
                            times.into_iter().map(move |time| {
                                let lease = adapter.leases.iter().find(|lease| lease.covers(time));
                                let mut addresses = Vec::new();
                                match (lease, adapter.apipa) {
                                    (Some(lease), _) => addresses.push(address_json(
                                        &lease.ip.to_string(),
                                        adapter.subnet_prefix,
                                        "Private",
                                    )),
                                    (None, Some(apipa)) => addresses.push(address_json(
                                        &apipa.to_string(),
                                        16,
                                        "LinkLocal",
                                    )),
                                    (None, None) => {}
                                }
                                if let Some(global) = adapter.ipv6_global {
                                    addresses.push(address_json(&global.to_string(), 64, "Public"));
                                }
                                addresses.push(address_json(
                                    &adapter.ipv6_link_local.to_string(),
                                    64,
                                    "LinkLocal",
                                ));
                                let up = lease.is_some();
                                let (networks, dns, gateway, dhcp) = match (up, pool) {
                                    (true, Some(pool)) => {
                                        let octets = pool.network.octets();
                                        let base =
                                            format!("{}.{}.{}", octets[0], octets[1], octets[2]);
                                        (
                                            network_json(catalog::DNS_SUFFIX, "Domain"),
                                            strings_json(&["10.16.0.10", "10.16.0.11"]),
                                            strings_json(&[&format!("{base}.1")]),
                                            format!("{base}.2"),
                                        )
                                    }
                                    (true, None) => (
                                        network_json("HomeNetwork", "Private"),
                                        strings_json(&["192.168.1.1"]),
                                        strings_json(&["192.168.1.1"]),
                                        "192.168.1.1".to_owned(),
                                    ),
                                    _ => (
                                        "[]".to_owned(),
                                        "[]".to_owned(),
                                        "[]".to_owned(),
                                        String::new(),
                                    ),
                                };
                                vec![
                                    Value::DateTime(time),
                                    s(&device.id),
                                    s(device.name_at(time)),
                                    s(&adapter.name),
                                    s(&mac_hyphenated(&adapter.mac)),
                                    s(adapter.adapter_type),
                                    s(if up { "Up" } else { "Down" }),
                                    s(""),
                                    Value::String(networks),
                                    Value::String(dns),
                                    s(&dhcp),
                                    s(""),
                                    Value::String(gateway),
                                    Value::String(format::array(&addresses)),
                                    Value::Long(report_id(&[
                                        device_idx as u64,
                                        adapter_idx as u64,
                                        time.timestamp() as u64,
                                        2,
                                    ])),
                                    s(if adapter.adapter_type == "Ethernet" {
                                        "Intel Corporation"
                                    } else {
                                        "Realtek"
                                    }),
                                ]
                            })
                        })
                }),
        )
    }

    fn device_logon_events(&self, hint: &ScanHint) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let tables = TenantTables {
            tenant: self.tenant,
            now: self.now,
        };
        let hint = hint.clone();
        Box::new(
            self.tenant
                .devices
                .iter()
                .enumerate()
                .flat_map(move |(device_idx, device)| {
                    let span = tables.span(device, &hint);
                    device
                        .logon_users
                        .iter()
                        .enumerate()
                        .flat_map(move |(user_idx, user)| {
                            let mut rows = Vec::new();
                            let Some((from, to)) = span else {
                                return rows.into_iter();
                            };
                            let from = from.max(user.first_seen);
                            let to =
                                to.min(user.last_seen.max(user.first_seen) + Duration::days(1));
                            let (name, domain, sid) = tables.tenant.account_of(device, user);
                            let logon_type =
                                user.logon_types.split(", ").last().unwrap_or("Interactive");
                            let mut day = from.timestamp().div_euclid(86_400);
                            while day * 86_400 <= to.timestamp() {
                                let roll = mix((device_idx as u64) << 24
                                    ^ (user_idx as u64) << 16
                                    ^ day as u64);
                                if roll.is_multiple_of(3) {
                                    let time = DateTime::from_timestamp(
                                        day * 86_400 + (roll >> 8) as i64 % 86_400,
                                        0,
                                    )
                                    .unwrap_or(from);
                                    if time >= from && time <= to {
                                        let failed = (roll >> 40).is_multiple_of(10);
                                        let remote = logon_type != "Interactive";
                                        rows.push(vec![
                                            Value::DateTime(time),
                                            s(&device.id),
                                            s(device.name_at(time)),
                                            s(if failed {
                                                "LogonFailed"
                                            } else {
                                                "LogonSuccess"
                                            }),
                                            s(logon_type),
                                            s(&domain.to_ascii_lowercase()),
                                            s(&name.to_ascii_lowercase()),
                                            s(&sid),
                                            s(if remote { "Kerberos" } else { "Negotiate" }),
                                            s(if failed {
                                                "InvalidUserNameOrPassword"
                                            } else {
                                                ""
                                            }),
                                            Value::Bool(user.is_local_admin),
                                            Value::Long((roll >> 16) as i64 & 0xff_ffff),
                                            s(if remote {
                                                "jump-01.corp.contoso-sim.com"
                                            } else {
                                                ""
                                            }),
                                            s(if remote { "10.16.0.50" } else { "" }),
                                            s(if remote { "Private" } else { "" }),
                                            if remote {
                                                Value::Int(49_152 + (roll % 1_000) as i32)
                                            } else {
                                                Value::Null
                                            },
                                            s(if remote { "lsass.exe" } else { "winlogon.exe" }),
                                            s("system"),
                                            Value::Long(report_id(&[
                                                device_idx as u64,
                                                user_idx as u64,
                                                day as u64,
                                                3,
                                            ])),
                                            s(""),
                                            Value::Dynamic(json!({})),
                                        ]);
                                    }
                                }
                                day += 1;
                            }
                            rows.into_iter()
                        })
                }),
        )
    }

    fn tvm(&self) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let tenant = self.tenant;
        Box::new(tenant.listed_devices().flat_map(move |device| {
            device.current_vulns().map(move |vuln| {
                let cve = &tenant.cves[usize::from(vuln.cve)];
                let software = &tenant.software[usize::from(vuln.software)];
                let tags = if cve.fixed_in_version >= software.versions.len() as u8 {
                    json!(["NoSecurityUpdate"])
                } else {
                    json!([])
                };
                vec![
                    s(&device.id),
                    s(&device.computer_dns_name),
                    s(device.os_platform),
                    opt_s(device.os_version.or(device.version)),
                    s(if device.os_architecture == "32-bit" {
                        "x86"
                    } else {
                        "x64"
                    }),
                    s(software.vendor),
                    s(software.name),
                    s(software.versions[usize::from(vuln.version)]),
                    s(&cve.id),
                    s(cve.severity),
                    opt_s(
                        cve.fixing_kb
                            .as_ref()
                            .map(|_| format!("{} Security Updates", cve.updated_on.format("%B %Y")))
                            .as_deref(),
                    ),
                    opt_s(cve.fixing_kb.as_deref()),
                    Value::Dynamic(tags),
                ]
            })
        }))
    }

    fn tvm_kb(&self) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let tenant = self.tenant;
        Box::new(tenant.cves.iter().map(move |cve| {
            let software = &tenant.software[usize::from(cve.software)];
            let affected: Vec<String> = software.versions[..usize::from(cve.fixed_in_version)]
                .iter()
                .map(|version| format!("{} {} {}", software.vendor, software.name, version))
                .collect();
            vec![
                s(&cve.id),
                Value::Real(cve.cvss_v3),
                Value::Bool(cve.exploitability != "NoExploit"),
                s(cve.severity),
                Value::DateTime(cve.updated_on),
                Value::DateTime(cve.published_on),
                s(&cve.description),
                Value::Dynamic(json!(affected)),
            ]
        }))
    }

    fn alert_info(&self, hint: &ScanHint) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let hint = hint.clone();
        let now = self.now;
        Box::new(
            self.tenant
                .alerts
                .iter()
                .filter(move |alert| in_hint(alert.alert_creation_time, &hint, now))
                .map(|alert| {
                    let kind = &catalog::ALERT_KINDS[usize::from(alert.kind)];
                    vec![
                        Value::DateTime(alert.alert_creation_time),
                        s(&alert.id),
                        s(alert.title),
                        s(alert.category),
                        s(alert.severity),
                        s("Microsoft Defender for Endpoint"),
                        s(kind.ah_detection_source),
                        s(&json!(kind.mitre).to_string()),
                    ]
                }),
        )
    }

    fn alert_evidence(&self, hint: &ScanHint) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let hint = hint.clone();
        let now = self.now;
        let tenant = self.tenant;
        Box::new(
            tenant
                .alerts
                .iter()
                .filter(move |alert| in_hint(alert.alert_creation_time, &hint, now))
                .flat_map(move |alert| {
                    let kind = &catalog::ALERT_KINDS[usize::from(alert.kind)];
                    let device = tenant.device(&alert.machine_id);
                    let local_ip = device
                        .and_then(Device::last_ip_address)
                        .map(|ip| ip.to_string());
                    let base = move |entity: &str, role: &str| -> Vec<Value> {
                        let mut row = vec![Value::String(String::new()); ALERT_EVIDENCE.len()];
                        row[0] = Value::DateTime(alert.alert_creation_time);
                        row[1] = s(&alert.id);
                        row[2] = s(alert.title);
                        row[3] = s(&json!([alert.category]).to_string());
                        row[4] = s(&json!(kind.mitre).to_string());
                        row[5] = s("Microsoft Defender for Endpoint");
                        row[6] = s(kind.ah_detection_source);
                        row[7] = s(entity);
                        row[8] = s(role);
                        row[14] = Value::Null;
                        row[29] = Value::Null;
                        row[35] = s("{}");
                        row[36] = s(alert.severity);
                        row
                    };
                    let mut rows = Vec::new();
                    let mut machine = base("Machine", "Impacted");
                    machine[23] = s(&alert.machine_id);
                    machine[24] = s(&alert.computer_dns_name);
                    machine[25] = opt_s(local_ip.as_deref());
                    rows.push(machine);
                    for evidence in &alert.evidence {
                        let entity = if evidence.entity_type == "Registry" {
                            "RegistryValue"
                        } else {
                            evidence.entity_type
                        };
                        let mut row = base(entity, "Related");
                        row[10] = opt_s(evidence.file_name.as_deref());
                        row[11] = opt_s(evidence.file_path.as_deref());
                        row[12] = opt_s(evidence.sha1.as_deref());
                        row[13] = opt_s(evidence.sha256.as_deref());
                        if evidence.sha1.is_some() {
                            row[14] = Value::Long(1_048_576);
                        }
                        row[15] = opt_s(alert.threat_family_name);
                        row[16] = opt_s(evidence.ip_address.as_deref());
                        row[17] = opt_s(evidence.url.as_deref());
                        row[18] = opt_s(evidence.account_name.as_deref());
                        row[19] = opt_s(evidence.domain_name.as_deref());
                        row[20] = opt_s(evidence.user_sid.as_deref());
                        row[21] = opt_s(evidence.aad_user_id.as_deref());
                        row[22] = opt_s(evidence.user_principal_name.as_deref());
                        row[31] = opt_s(evidence.process_command_line.as_deref());
                        row[32] = opt_s(evidence.registry_key.as_deref());
                        row[33] = opt_s(evidence.registry_value_name.as_deref());
                        row[34] = opt_s(evidence.registry_value.as_deref());
                        rows.push(row);
                    }
                    rows.into_iter()
                }),
        )
    }
}

fn in_hint(time: DateTime<Utc>, hint: &ScanHint, now: DateTime<Utc>) -> bool {
    time >= now - Duration::days(HISTORY_DAYS)
        && hint.min_time.is_none_or(|min| time >= min)
        && hint.max_time.is_none_or(|max| time <= max)
}

impl Tables for TenantTables<'_> {
    fn schema(&self, table: &str) -> Option<TableSchema> {
        columns(table).map(|columns| TableSchema {
            name: table.to_owned(),
            columns: columns
                .iter()
                .map(|(name, kind)| ((*name).to_owned(), *kind))
                .collect(),
        })
    }

    fn scan<'b>(
        &'b self,
        table: &str,
        hint: &ScanHint,
    ) -> Box<dyn Iterator<Item = Vec<Value>> + 'b> {
        match table {
            "DeviceInfo" => self.device_info(hint),
            "DeviceNetworkInfo" => self.device_network_info(hint),
            "DeviceLogonEvents" => self.device_logon_events(hint),
            "DeviceTvmSoftwareVulnerabilities" => self.tvm(),
            "DeviceTvmSoftwareVulnerabilitiesKB" => self.tvm_kb(),
            "AlertInfo" => self.alert_info(hint),
            "AlertEvidence" => self.alert_evidence(hint),
            _ => Box::new(std::iter::empty()),
        }
    }
}

fn type_name(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::String | ColumnType::Dynamic => "String",
        ColumnType::DateTime => "DateTime",
        ColumnType::Int64 => "Int64",
        ColumnType::Int32 => "Int32",
        ColumnType::Double => "Double",
        ColumnType::Boolean => "Boolean",
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::String(text) => format::quote(text),
        Value::DateTime(time) => format::quote(&format::timestamp(*time)),
        Value::Long(number) => number.to_string(),
        Value::Int(number) => number.to_string(),
        Value::Real(number) => format::float(*number),
        Value::Bool(flag) => flag.to_string(),
        // JSON-array and object columns travel as strings holding JSON.
        Value::Dynamic(json) => format::quote(&json.to_string()),
    }
}

fn rows_json(output: &kql::QueryOutput) -> String {
    let rows: Vec<String> = output
        .rows
        .iter()
        .take(MAX_ROWS)
        .map(|row| {
            let mut obj = Obj::new();
            for ((name, _), value) in output.schema.iter().zip(row) {
                obj.raw(name, &cell(value));
            }
            obj.finish()
        })
        .collect();
    format::array(&rows)
}

enum Outcome {
    Ok {
        output: kql::QueryOutput,
        seconds: f64,
    },
    Failed(String),
}

/// Runs a query against the tenant at the clock's now; charges the execution budget.
fn execute(ctx: &Ctx<'_>, client_id: &str, query: &str) -> Outcome {
    let shared = ctx.shared;
    let started = Instant::now();
    let result = {
        let tenant = shared.tenant.read().expect("tenant lock poisoned");
        let tables = TenantTables::new(&tenant, ctx.now);
        kql::run(query, &tables, ctx.now)
    };
    let seconds = started.elapsed().as_secs_f64();
    let charged = seconds + shared.config.limits.hunting_cost_per_query.as_secs_f64();
    shared.limiter.charge(
        client_id,
        shared.clock.limiter_seconds(shared.config.rate_scale),
        charged,
    );
    match result {
        Ok(output) => Outcome::Ok { output, seconds },
        Err(error) => Outcome::Failed(error.message),
    }
}

const SIZE_MESSAGE: &str = "Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again.";
/// The Graph hunting API's answer to a query stopped for its resource use
/// (docs/defender-api.md#advanced-hunting); the legacy API is given the same text.
const PREEMPTED_MESSAGE: &str = "Query execution has exceeded the allowed limits. The query execution was preempted. This could possibly be due to high CPU and/or memory resource consumption. Optimize your query by following best practices and try again.";

/// The 400 text of a heavy-query fault, if one fired.
fn heavy_query_fault(ctx: &Ctx<'_>) -> Option<&'static str> {
    if ctx.fault(FaultKind::HuntingPreempted).is_some() {
        Some(PREEMPTED_MESSAGE)
    } else if ctx.fault(FaultKind::HuntingTooLarge).is_some() {
        Some(SIZE_MESSAGE)
    } else {
        None
    }
}

/// `POST /api/advancedqueries/run` with `{"Query": "…"}` (key case-sensitive).
pub(crate) fn legacy_endpoint(ctx: &Ctx<'_>, caller: &Caller) -> Reply {
    if ctx.fault(FaultKind::HuntingRetired).is_some() {
        return Reply::mde_error(
            400,
            "BadRequest",
            "The Microsoft Defender for Endpoint advanced hunting API has been retired (MC1220762). Use the Microsoft Graph security API runHuntingQuery instead.",
        );
    }
    let json_body = ctx
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"));
    if !json_body {
        // POST bodies must be `Content-Type: application/json`
        // (docs/defender-api.md#advanced-hunting); the answer to anything else is our guess at
        // what ASP.NET gives.
        return Reply::mde_error(
            415,
            "UnsupportedMediaType",
            "The request body must be JSON, sent with Content-Type: application/json.",
        );
    }
    let body: Option<Json> = serde_json::from_slice(&ctx.body).ok();
    let Some(query) = body
        .as_ref()
        .and_then(|body| body.get("Query"))
        .and_then(Json::as_str)
    else {
        return Reply::mde_error(
            400,
            "InvalidRequestBody",
            "Request body is invalid: the 'Query' property is required.",
        );
    };
    if let Some(message) = heavy_query_fault(ctx) {
        return Reply::mde_error(400, "BadRequest", message);
    }
    match execute(ctx, &caller.client_id, query) {
        Outcome::Failed(message) => Reply::mde_error(400, "BadRequest", &message),
        Outcome::Ok { output, seconds } => {
            let schema: Vec<String> = output
                .schema
                .iter()
                .map(|(name, kind)| {
                    let mut obj = Obj::new();
                    obj.str("Name", name).str("Type", type_name(*kind));
                    obj.finish()
                })
                .collect();
            let results = rows_json(&output);
            let n_rows = output.rows.len().min(MAX_ROWS);
            let stats = format!(
                r#"{{"ExecutionTime":{},"resource_usage":{{"cache":{{"memory":null,"disk":null}},"cpu":{{"user":"00:00:00","kernel":"00:00:00","total cpu":"00:00:00"}},"memory":{{"peak_per_node":{}}}}},"dataset_statistics":[{{"table_row_count":{n_rows},"table_size":{}}}]}}"#,
                format::float(seconds),
                3_146_640 + results.len(),
                results.len()
            );
            let body = format!(
                r#"{{"Stats":{stats},"Schema":{},"Results":{results}}}"#,
                format::array(&schema)
            );
            if body.len() > MAX_RESULT_BYTES {
                return Reply::mde_error(400, "BadRequest", SIZE_MESSAGE);
            }
            Reply::json(200, body)
        }
    }
}

/// A Graph error body: `{"error":{"code","message","innerError":{date, request-id, client-request-id}}}`.
fn graph_error(ctx: &Ctx<'_>, status: u16, code: &str, message: &str) -> Reply {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut inner = Obj::new();
    inner
        .str("date", &format::timestamp_seconds(ctx.now))
        .str("request-id", &request_id)
        .str("client-request-id", &request_id);
    let mut error = Obj::new();
    error
        .str("code", code)
        .str("message", message)
        .raw("innerError", &inner.finish());
    let mut outer = Obj::new();
    outer.raw("error", &error.finish());
    Reply::json(status, outer.finish()).header("request-id", request_id)
}

/// Graph's 403 for a token without `ThreatHunting.Read.All`, naming the roles it holds
/// (wording unpublished, docs/defender-api.md#permissions).
fn graph_forbidden(ctx: &Ctx<'_>, roles: &[String]) -> Reply {
    graph_error(
        ctx,
        403,
        "Forbidden",
        &format!(
            "Missing role permissions on the request. API requires one of 'ThreatHunting.Read.All'. Roles on the request '{}'.",
            roles.join(",")
        ),
    )
}

/// Graph `POST /v1.0/security/runHuntingQuery` with `{"Query": "…"}`.
pub(crate) fn graph_endpoint(ctx: &mut Ctx<'_>) -> Reply {
    let caller = match auth::check_bearer(ctx, auth::Audience::Graph) {
        Ok(caller) if ctx.fault(FaultKind::TokenExpired).is_none() => caller,
        Err(auth::Refusal::WrongAudience(_)) => {
            return graph_error(
                ctx,
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            )
            .header("www-authenticate", "Bearer".to_owned());
        }
        Ok(_) | Err(auth::Refusal::Unauthorized(_)) => {
            return graph_error(
                ctx,
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
            .header("www-authenticate", "Bearer".to_owned());
        }
    };
    ctx.client_id = Some(caller.client_id.clone());
    if !caller
        .roles
        .iter()
        .any(|role| role == "ThreatHunting.Read.All")
    {
        return graph_forbidden(ctx, &caller.roles);
    }
    let failure = ctx.shared.faults.failure(Endpoint::GraphHunting);
    if failure == Some(Failure::Forbidden) {
        let without: Vec<String> = caller
            .roles
            .iter()
            .filter(|role| *role != "ThreatHunting.Read.All")
            .cloned()
            .collect();
        return graph_forbidden(ctx, &without);
    }
    if ctx.method != axum::http::Method::POST {
        return graph_error(
            ctx,
            405,
            "BadRequest",
            "The HTTP method is not allowed for this resource.",
        );
    }
    if let Err(reply) = crate::server::check_limits(ctx, &caller, Endpoint::GraphHunting) {
        let retry = reply
            .headers
            .iter()
            .find(|(name, _)| *name == "retry-after")
            .map(|(_, value)| value.clone());
        let mut graph = graph_error(
            ctx,
            429,
            "TooManyRequests",
            "Too many requests. Please retry after the time given in the Retry-After header.",
        );
        if let Some(retry) = retry {
            graph = graph.header("retry-after", retry);
        }
        return graph;
    }
    match failure {
        Some(Failure::BadRequest) => {
            return graph_error(ctx, 400, "BadRequest", "Invalid request body.");
        }
        Some(Failure::DisabledFeature) => {
            return graph_error(
                ctx,
                403,
                "Forbidden",
                "The feature is not enabled for this tenant.",
            );
        }
        Some(Failure::NotFound) => {
            return graph_error(
                ctx,
                404,
                "NotFound",
                &format!("Resource '{}' was not found", ctx.path),
            );
        }
        Some(Failure::InternalError) => {
            return graph_error(
                ctx,
                500,
                "InternalServerError",
                "An unexpected error occurred. Please try again later.",
            );
        }
        Some(Failure::Forbidden) | None => {}
    }
    // Graph reads JSON property names case-insensitively.
    let body: Option<Json> = serde_json::from_slice(&ctx.body).ok();
    let query = body.as_ref().and_then(Json::as_object).and_then(|object| {
        object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("query"))
            .and_then(|(_, value)| value.as_str())
    });
    let Some(query) = query.map(str::to_owned) else {
        return graph_error(ctx, 400, "BadRequest", "The 'Query' property is required.");
    };
    if let Some(message) = heavy_query_fault(ctx) {
        return graph_error(ctx, 400, "BadRequest", message);
    }
    match execute(ctx, &caller.client_id, &query) {
        Outcome::Failed(message) => graph_error(ctx, 400, "BadRequest", &message),
        Outcome::Ok { output, .. } => {
            let schema: Vec<String> = output
                .schema
                .iter()
                .map(|(name, kind)| {
                    let mut obj = Obj::new();
                    obj.str("name", name).str("type", type_name(*kind));
                    obj.finish()
                })
                .collect();
            let body = format!(
                r#"{{"@odata.context":{},"schema":{},"results":{}}}"#,
                format::quote(&format!(
                    "{}/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",
                    ctx.base
                )),
                format::array(&schema),
                rows_json(&output)
            );
            if body.len() > MAX_RESULT_BYTES {
                return graph_error(ctx, 400, "BadRequest", SIZE_MESSAGE);
            }
            Reply {
                status: 200,
                headers: vec![
                    ("content-type", crate::server::ODATA_JSON.to_owned()),
                    ("odata-version", "4.0".to_owned()),
                ],
                body,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .to_utc();
        crate::tenant::generate(11, 150, now, "tid")
    }

    #[test]
    fn schemas_match_rows() {
        let tenant = tenant();
        let tables = TenantTables::new(&tenant, tenant.generated_at);
        for table in TABLES {
            let schema = tables.schema(table).unwrap();
            let mut n_rows = 0;
            for row in tables.scan(table, &ScanHint::default()) {
                assert_eq!(row.len(), schema.columns.len(), "{table}");
                n_rows += 1;
            }
            assert!(n_rows > 0, "{table} is empty");
        }
        assert!(tables.schema("MachineInfo").is_none());
    }

    #[test]
    fn network_rows_agree_with_leases_and_honour_hints() {
        let tenant = tenant();
        let now = tenant.generated_at;
        let tables = TenantTables::new(&tenant, now);
        let hint = ScanHint {
            min_time: Some(now - Duration::days(1)),
            max_time: None,
        };
        let bounded: Vec<Vec<Value>> = tables.scan("DeviceNetworkInfo", &hint).collect();
        let all = tables
            .scan("DeviceNetworkInfo", &ScanHint::default())
            .count();
        assert!(
            bounded.len() * 10 < all,
            "a one-day hint scans far fewer rows"
        );
        for row in &bounded {
            let Value::DateTime(time) = row[0] else {
                panic!("timestamp")
            };
            assert!(time >= now - Duration::days(1));
            let Value::String(id) = &row[1] else {
                panic!("id")
            };
            let Value::String(addresses) = &row[13] else {
                panic!("IPAddresses")
            };
            let addresses: Json = serde_json::from_str(addresses).unwrap();
            if let Some(ip) = addresses[0]["IPAddress"]
                .as_str()
                .and_then(|ip| ip.parse().ok())
                && addresses[0]["AddressType"] == "Private"
            {
                let holders = tenant.ip_holders_at(ip, time);
                assert!(
                    holders.iter().any(|device| &device.id == id),
                    "{ip} at {time}"
                );
            }
        }
    }
}
