//! The domain types of Defender data as the sync and the store see them. The Defender client
//! (`mde`) turns its private wire types into these; nothing else sees Defender's JSON.
//!
//! Times are UTC with Defender's own precision (up to 100 ns) kept as `DateTime<Utc>`.

use std::{fmt, net::IpAddr, str::FromStr, sync::Arc};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type Timestamp = DateTime<Utc>;

/// How every JSON surface writes a time — the CLI's `--json`, exports, IPC and the stored test
/// reports: RFC 3339 in UTC with `Z` and milliseconds (`2026-11-20T14:00:00.000Z`). Any
/// RFC 3339 time is read. Fields use it with `#[serde(with = "crate::model::json_time")]`
/// (`json_time::option` for an `Option`), and tell specta they are strings.
pub mod json_time {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Timestamp;

    /// The time as JSON writes it.
    pub fn text(time: &Timestamp) -> String {
        time.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn serialize<S: Serializer>(time: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&text(time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The same for an optional time (`null` when absent).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        use super::Timestamp;

        pub fn serialize<S: Serializer>(
            time: &Option<Timestamp>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match time {
                Some(time) => super::serialize(time, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Timestamp>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] Timestamp);
            Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(time)| time))
        }
    }
}

/// How a sync run ended (or that it is still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    /// Devices and every data type that could be read were saved; one or more others could not
    /// be, kept what was known before, and say why in the run's notes. The next run retries
    /// them.
    Partial,
    Failed,
    Cancelled,
    Interrupted,
}

impl RunStatus {
    pub fn key(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Whether the run saved data (in full or in part): the scheduler and the card count it as
    /// a sync that happened.
    pub fn saved_data(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Partial)
    }

    /// Reads a stored status; anything unknown is a run that never finished.
    pub(crate) fn parse(text: &str) -> RunStatus {
        match text {
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "partial" => RunStatus::Partial,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => RunStatus::Interrupted,
        }
    }
}

/// The outcome of a connection test, as the card and `mde-car connection test` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum TestCode {
    Connected,
    UnknownTenant,
    UnknownClient,
    WrongSecret,
    ExpiredSecret,
    /// The certificate is not registered with the app (AADSTS700027, key not found).
    CertificateNotRegistered,
    /// The registered certificate has ended.
    CertificateExpired,
    /// The signature does not verify with the registered certificate: another key.
    WrongKey,
    /// This computer's clock is too far from Entra ID's (AADSTS700024).
    ClockSkew,
    MissingPermission,
    Throttled,
    NetworkUnreachable,
    TlsFailure,
    WrongHost,
    Timeout,
    Unexpected,
}

/// A connection test's result. Holds no secret and no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct TestReport {
    pub ok: bool,
    pub code: TestCode,
    /// A few words: "Connected", "Wrong client secret".
    pub title: String,
    /// What happened and what to do, in one or two sentences.
    pub detail: String,
    pub granted_roles: Vec<String>,
    pub missing_roles: Vec<String>,
    #[serde(with = "crate::model::json_time")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub tested_at: Timestamp,
    #[cfg_attr(feature = "specta", specta(type = u32))]
    pub duration_ms: u64,
    /// Whether each data type besides devices can be read, when the sign-in and the device
    /// call worked (empty otherwise, and in reports saved before this existed).
    #[serde(default)]
    pub data: Vec<DataCheck>,
}

/// A data type besides devices, as a test reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub enum DataKind {
    Alerts,
    IpHistory,
    LoggedOnUsers,
    Vulnerabilities,
}

/// Whether a data type could be read when the connection was tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum DataState {
    Available,
    /// Turned off for this connection: not asked.
    NotSelected,
    /// The app registration lacks its permission (403).
    MissingPermission,
    /// Defender answered that the tenant or cloud does not offer it (404): remembered, so the
    /// sync does not ask on every run.
    NotOffered,
    /// Another failure (5xx after retries, a timeout, an unreadable answer).
    Failed,
}

/// One data type's line of a test report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct DataCheck {
    pub data: DataKind,
    pub state: DataState,
    /// What Defender answered and what to do, in words; empty when available.
    pub detail: String,
}

/// A device (Defender "machine").
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Defender's 40-hex device id; the join key of alerts, hunting rows and vulnerabilities.
    pub id: String,
    pub computer_dns_name: Option<String>,
    pub first_seen: Option<Timestamp>,
    /// Time of the last full device report (about daily), not the portal's "last seen".
    pub last_seen: Option<Timestamp>,
    pub os_platform: Option<String>,
    pub os_version: Option<String>,
    pub os_build: Option<i64>,
    /// Windows release, e.g. `22H2`.
    pub version: Option<String>,
    pub os_architecture: Option<String>,
    pub health_status: Option<String>,
    pub onboarding_status: Option<String>,
    /// Defender's risk level: None, Informational, Low, Medium, High.
    pub risk_score: Option<String>,
    /// None, Low, Medium, High.
    pub exposure_level: Option<String>,
    /// Low, Normal, High.
    pub device_value: Option<String>,
    pub machine_tags: Vec<String>,
    pub rbac_group_id: Option<i64>,
    pub rbac_group_name: Option<String>,
    pub aad_device_id: Option<String>,
    pub is_aad_joined: Option<bool>,
    pub last_ip_address: Option<IpAddr>,
    pub last_external_ip_address: Option<IpAddr>,
    pub merged_into_machine_id: Option<String>,
    pub is_potential_duplication: bool,
    /// Every address the device reported in its latest record (`ipAddresses[]`).
    pub addresses: Vec<DeviceAddress>,
}

/// One IP address on one adapter of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAddress {
    pub ip: IpAddr,
    /// `None` for loopback adapters.
    pub mac: Option<MacAddress>,
    /// .NET `NetworkInterfaceType` name, e.g. `Ethernet`, `Wireless80211`.
    pub interface_type: Option<String>,
    /// .NET `OperationalStatus` name, e.g. `Up`.
    pub operational_status: Option<String>,
}

/// An alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// UnSpecified, Informational, Low, Medium, High.
    pub severity: String,
    /// Unknown, New, InProgress, Resolved.
    pub status: String,
    pub category: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub detection_source: Option<String>,
    pub machine_id: Option<String>,
    pub computer_dns_name: Option<String>,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    pub first_event: Option<Timestamp>,
    pub last_event: Option<Timestamp>,
    pub resolved: Option<Timestamp>,
    pub mitre_techniques: Vec<String>,
}

/// One adapter report from advanced hunting's `DeviceNetworkInfo`.
///
/// A full sync holds every report of the last 30 days at once (about 150 per device), so this
/// is kept small: only what the IP history uses, with the device's strings and each distinct
/// address list held once and shared (`Arc`): an adapter reports the same addresses for days.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkObservation {
    pub timestamp: Timestamp,
    pub device_id: Arc<str>,
    pub adapter_name: Option<Arc<str>>,
    pub mac: Option<MacAddress>,
    pub addresses: Arc<[ObservedAddress]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObservedAddress {
    pub ip: IpAddr,
    pub prefix: Option<u8>,
}

/// A sign-in seen on a device (advanced hunting's `DeviceLogonEvents`, or `logonusers`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogonObservation {
    pub timestamp: Timestamp,
    pub device_id: String,
    pub account_domain: Option<String>,
    pub account_name: String,
    pub account_sid: Option<String>,
    pub logon_type: Option<String>,
    pub is_local_admin: Option<bool>,
}

/// A vulnerable software version on a device. The texts are shared (`Arc<str>`): a full export
/// has a row per device, CVE and software version, and repeats each value thousands of times.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceVulnerability {
    pub device_id: Arc<str>,
    pub cve_id: Arc<str>,
    /// CVSS v3 base score, kept decimal (IBM's connector rounded it to an integer).
    pub cvss_score: Option<f64>,
    /// Low, Medium, High, Critical.
    pub severity: Option<Arc<str>>,
    pub software_vendor: Arc<str>,
    pub software_name: Arc<str>,
    pub software_version: Arc<str>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
}

/// What the delta export says happened to a device vulnerability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VulnerabilityChangeKind {
    New,
    Fixed,
    Updated,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VulnerabilityChange {
    pub kind: VulnerabilityChangeKind,
    pub event_time: Timestamp,
    pub vulnerability: DeviceVulnerability,
}

/// A MAC address (6 bytes, or 8 for some tunnel adapters), in any common notation on input:
/// `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff`, `AABBCCDDEEFF`.
///
/// Held inline (no allocation): a full sync holds millions of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddress {
    bytes: [u8; 8],
    len: u8,
}

impl MacAddress {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl FromStr for MacAddress {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let hex: String = text
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.' | ' '))
            .collect();
        if !(hex.len() == 12 || hex.len() == 16) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "'{text}' is not a MAC address (12 hex digits, e.g. aa:bb:cc:dd:ee:ff)"
            ));
        }
        let mut mac = MacAddress {
            bytes: [0; 8],
            len: 0,
        };
        for (slot, i) in mac.bytes.iter_mut().zip((0..hex.len()).step_by(2)) {
            *slot = u8::from_str_radix(&hex[i..i + 2], 16).map_err(|error| error.to_string())?;
            mac.len += 1;
        }
        Ok(mac)
    }
}

impl fmt::Display for MacAddress {
    /// Colon-separated uppercase, the form the store keeps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.bytes().iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&parts.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_in_every_common_notation() {
        for text in [
            "aa:bb:cc:dd:ee:0f",
            "AA-BB-CC-DD-EE-0F",
            "aabb.ccdd.ee0f",
            "AABBCCDDEE0F",
        ] {
            assert_eq!(
                text.parse::<MacAddress>().unwrap().to_string(),
                "AA:BB:CC:DD:EE:0F",
                "{text}"
            );
        }
        assert_eq!(
            "00155D0A0B0C0D0E"
                .parse::<MacAddress>()
                .unwrap()
                .bytes()
                .len(),
            8
        );
        assert!("aa:bb:cc".parse::<MacAddress>().is_err());
        assert!("zz:bb:cc:dd:ee:ff".parse::<MacAddress>().is_err());
    }
}
