//! Defender's JSON as it arrives, and its conversion to the domain types of `model`. Nothing
//! here leaves `mde`.
//!
//! Every field is optional and unknown fields are ignored: the service adds properties without
//! notice (docs/defender-api.md#devices lists nine undocumented ones) and prints `null` freely.
//! Numbers the docs call strings (`rbacGroupId`) and strings the docs call arrays
//! (`mitreTechniques`) are read in either form.

use std::collections::HashSet;
use std::hash::Hash;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::model::{
    Alert, Device, DeviceAddress, DeviceVulnerability, LogonObservation, MacAddress, Timestamp,
    VulnerabilityChange, VulnerabilityChangeKind,
};

/// One shared copy of each repeated value of a bulk download (device ids, CVE ids, software
/// names, address lists): a full sync holds millions of records that repeat a few values.
pub(super) struct Interner<T: ?Sized>(HashSet<Arc<T>>);

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner(HashSet::new())
    }
}

impl<T: Eq + Hash + ?Sized> Interner<T>
where
    Arc<T>: for<'a> From<&'a T>,
{
    pub(super) fn get(&mut self, value: &T) -> Arc<T> {
        if let Some(known) = self.0.get(value) {
            return Arc::clone(known);
        }
        let shared = Arc::from(value);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

/// Values that did not parse and were left out of a record.
#[derive(Debug, Default)]
pub(super) struct Lossy {
    pub(super) unparsable: u64,
}

impl Lossy {
    fn note(&mut self, what: &str, value: &str) {
        self.unparsable += 1;
        tracing::warn!(
            what,
            value,
            "left out a value defender sent that does not parse"
        );
    }

    fn time(&mut self, what: &str, text: Option<&str>) -> Option<Timestamp> {
        let text = text.map(str::trim).filter(|text| !text.is_empty())?;
        let parsed = parse_time(text);
        if parsed.is_none() {
            self.note(what, text);
        }
        parsed
    }

    fn ip(&mut self, what: &str, text: Option<&str>) -> Option<IpAddr> {
        let text = text.map(str::trim).filter(|text| !text.is_empty())?;
        let parsed = parse_ip(text);
        if parsed.is_none() {
            self.note(what, text);
        }
        parsed
    }

    pub(super) fn mac(&mut self, text: Option<&str>) -> Option<MacAddress> {
        let text = text.map(str::trim).filter(|text| !text.is_empty())?;
        let parsed = MacAddress::from_str(text).ok();
        if parsed.is_none() {
            self.note("mac address", text);
        }
        parsed
    }
}

/// Defender's timestamps: ISO 8601 UTC with 0–7 fractional digits (`2023-04-19T13:27:53.1618923Z`),
/// the exports' `2021-01-11 11:01:00` (UTC, no zone), Entra's `2023-05-06 06:03:00Z`.
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let with_t = text.replacen(' ', "T", 1);
    if let Ok(time) = DateTime::parse_from_rfc3339(&with_t) {
        return Some(time.with_timezone(&Utc));
    }
    let naive = with_t.trim_end_matches(['Z', 'z']);
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
}

/// An IP address; an IPv6 zone (`fe80::1%12`) is dropped.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text
        .split_once('%')
        .map_or(text, |(address, _zone)| address);
    text.parse().ok()
}

/// `{"value": […], "@odata.nextLink": …}`. Items stay JSON text until each is read on its own,
/// so one odd record costs that record, not the page, and no page is ever held as a JSON tree
/// (several times the size of its text).
#[derive(Debug, Deserialize)]
pub(super) struct Page {
    pub(super) value: Vec<Box<RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    pub(super) next_link: Option<String>,
    /// A number, or a string holding one (OData's `IEEE754Compatible=true` sends 64-bit
    /// numbers so); anything else is no count.
    #[serde(rename = "@odata.count", default, deserialize_with = "lenient_u64")]
    pub(super) count: Option<u64>,
}

/// Reads one item of a page as `T`; `None` when it does not fit.
pub(super) fn read_item<T: serde::de::DeserializeOwned>(item: &RawValue) -> Option<T> {
    serde_json::from_str(item.get())
        .map_err(|error| {
            tracing::warn!(%error, record = std::any::type_name::<T>(), "left out a record defender sent that does not parse");
        })
        .ok()
}

/// The `id` of a page item, if it has a non-empty string one.
pub(super) fn item_id(item: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Identity {
        id: Option<String>,
    }
    read_item::<Identity>(item)?.id.filter(|id| !id.is_empty())
}

fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|float| float as i64)),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    })
}

/// A string list sent as an array, a comma-separated string or null.
fn lenient_strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    })
}

/// The longest text kept of a field Defender documents as short (names, enum-like values,
/// titles): the service sends none near it, so a longer one is broken or hostile, and keeping
/// it whole would put megabytes into every search result and page that shows it.
pub(super) const MAX_FIELD_BYTES: usize = 4096;
/// The longest host name kept: DNS allows 253 characters.
pub(super) const MAX_NAME_BYTES: usize = 255;
/// The longest alert description kept (descriptions are paragraphs, not books).
pub(super) const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        tracing::warn!(
            bytes = text.len(),
            kept = end,
            "cut a text defender sent that is longer than mde-car keeps"
        );
        text.truncate(end);
        text.push('…');
    }
    text
}

fn non_empty(text: Option<String>) -> Option<String> {
    non_empty_at_most(text, MAX_FIELD_BYTES)
}

fn non_empty_at_most(text: Option<String>, max: usize) -> Option<String> {
    text.filter(|text| !text.trim().is_empty())
        .map(|text| clip(text, max))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireMachine {
    id: Option<String>,
    merged_into_machine_id: Option<String>,
    is_potential_duplication: Option<bool>,
    computer_dns_name: Option<String>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    os_platform: Option<String>,
    os_version: Option<String>,
    version: Option<String>,
    last_ip_address: Option<String>,
    last_external_ip_address: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    os_build: Option<i64>,
    health_status: Option<String>,
    device_value: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    rbac_group_id: Option<i64>,
    rbac_group_name: Option<String>,
    risk_score: Option<String>,
    exposure_level: Option<String>,
    is_aad_joined: Option<bool>,
    aad_device_id: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    machine_tags: Vec<String>,
    onboarding_status: Option<String>,
    os_architecture: Option<String>,
    ip_addresses: Option<Vec<WireIpAddress>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireIpAddress {
    ip_address: Option<String>,
    mac_address: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    operational_status: Option<String>,
}

impl WireMachine {
    /// `None` when the record has no id (nothing could refer to it).
    pub(super) fn into_device(self, lossy: &mut Lossy) -> Option<Device> {
        let id = non_empty(self.id)?;
        let addresses = self
            .ip_addresses
            .unwrap_or_default()
            .into_iter()
            .filter_map(|address| {
                let ip = lossy.ip("device ip address", address.ip_address.as_deref())?;
                Some(DeviceAddress {
                    ip,
                    mac: lossy.mac(address.mac_address.as_deref()),
                    interface_type: non_empty(address.kind),
                    operational_status: non_empty(address.operational_status),
                })
            })
            .collect();
        Some(Device {
            id,
            computer_dns_name: non_empty_at_most(self.computer_dns_name, MAX_NAME_BYTES),
            first_seen: lossy.time("firstSeen", self.first_seen.as_deref()),
            last_seen: lossy.time("lastSeen", self.last_seen.as_deref()),
            os_platform: non_empty(self.os_platform),
            os_version: non_empty(self.os_version),
            os_build: self.os_build,
            version: non_empty(self.version),
            os_architecture: non_empty(self.os_architecture),
            health_status: non_empty(self.health_status),
            onboarding_status: non_empty(self.onboarding_status),
            risk_score: non_empty(self.risk_score),
            exposure_level: non_empty(self.exposure_level),
            device_value: non_empty(self.device_value),
            machine_tags: self.machine_tags,
            rbac_group_id: self.rbac_group_id,
            rbac_group_name: non_empty(self.rbac_group_name),
            aad_device_id: non_empty(self.aad_device_id),
            is_aad_joined: self.is_aad_joined,
            last_ip_address: lossy.ip("lastIpAddress", self.last_ip_address.as_deref()),
            last_external_ip_address: lossy.ip(
                "lastExternalIpAddress",
                self.last_external_ip_address.as_deref(),
            ),
            merged_into_machine_id: non_empty(self.merged_into_machine_id),
            is_potential_duplication: self.is_potential_duplication.unwrap_or(false),
            addresses,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireAlert {
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    severity: Option<String>,
    status: Option<String>,
    category: Option<String>,
    classification: Option<String>,
    determination: Option<String>,
    detection_source: Option<String>,
    machine_id: Option<String>,
    computer_dns_name: Option<String>,
    alert_creation_time: Option<String>,
    last_update_time: Option<String>,
    first_event_time: Option<String>,
    last_event_time: Option<String>,
    resolved_time: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    mitre_techniques: Vec<String>,
}

impl WireAlert {
    /// `None` without an id or any time of creation or update.
    pub(super) fn into_alert(self, lossy: &mut Lossy) -> Option<Alert> {
        let id = non_empty(self.id)?;
        let created = lossy.time("alertCreationTime", self.alert_creation_time.as_deref());
        let last_updated = lossy.time("lastUpdateTime", self.last_update_time.as_deref());
        let (created, last_updated) = match (created, last_updated) {
            (Some(created), Some(updated)) => (created, updated),
            (Some(only), None) | (None, Some(only)) => (only, only),
            (None, None) => return None,
        };
        Some(Alert {
            id,
            title: clip(self.title.unwrap_or_default(), MAX_FIELD_BYTES),
            description: non_empty_at_most(self.description, MAX_DESCRIPTION_BYTES),
            severity: self.severity.unwrap_or_else(|| "UnSpecified".to_owned()),
            status: self.status.unwrap_or_else(|| "Unknown".to_owned()),
            category: non_empty(self.category),
            classification: non_empty(self.classification),
            determination: non_empty(self.determination),
            detection_source: non_empty(self.detection_source),
            machine_id: non_empty(self.machine_id),
            computer_dns_name: non_empty_at_most(self.computer_dns_name, MAX_NAME_BYTES),
            created,
            last_updated,
            first_event: lossy.time("firstEventTime", self.first_event_time.as_deref()),
            last_event: lossy.time("lastEventTime", self.last_event_time.as_deref()),
            resolved: lossy.time("resolvedTime", self.resolved_time.as_deref()),
            mitre_techniques: self.mitre_techniques,
        })
    }
}

/// An entry of `GET /api/machines/{id}/logonusers` (docs/defender-api.md#logged-on-users).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireLogonUser {
    id: Option<String>,
    account_name: Option<String>,
    account_domain: Option<String>,
    account_sid: Option<String>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    logon_types: Option<String>,
}

impl WireLogonUser {
    pub(super) fn into_observation(
        self,
        device_id: &str,
        lossy: &mut Lossy,
    ) -> Option<LogonObservation> {
        // `id` is `domain\name`; use it when the separate fields are missing.
        let (id_domain, id_name) = match self.id.as_deref().and_then(|id| id.split_once('\\')) {
            Some((domain, name)) => (Some(domain.to_owned()), Some(name.to_owned())),
            None => (None, self.id.clone()),
        };
        let account_name = non_empty(self.account_name).or(non_empty(id_name))?;
        let timestamp = lossy
            .time("lastSeen", self.last_seen.as_deref())
            .or_else(|| lossy.time("firstSeen", self.first_seen.as_deref()))?;
        Some(LogonObservation {
            timestamp,
            device_id: device_id.to_owned(),
            account_domain: non_empty(self.account_domain).or(non_empty(id_domain)),
            account_name,
            account_sid: non_empty(self.account_sid),
            logon_type: non_empty(self.logon_types),
            is_local_admin: None,
        })
    }
}

/// A record of the vulnerability exports (docs/defender-api.md#vulnerability-exports); the
/// delta export adds `status` and `eventTimestamp`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireVulnerability {
    id: Option<String>,
    device_id: Option<String>,
    cve_id: Option<String>,
    #[serde(deserialize_with = "lenient_f64")]
    cvss_score: Option<f64>,
    vulnerability_severity_level: Option<String>,
    software_vendor: Option<String>,
    software_name: Option<String>,
    software_version: Option<String>,
    first_seen_timestamp: Option<String>,
    last_seen_timestamp: Option<String>,
    status: Option<String>,
    event_timestamp: Option<String>,
}

impl WireVulnerability {
    /// The record's identity for de-duplication across pages.
    pub(super) fn key(&self) -> String {
        match &self.id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => format!(
                "{}|{}|{}|{}|{}",
                self.device_id.as_deref().unwrap_or_default(),
                self.cve_id.as_deref().unwrap_or_default(),
                self.software_vendor.as_deref().unwrap_or_default(),
                self.software_name.as_deref().unwrap_or_default(),
                self.software_version.as_deref().unwrap_or_default()
            ),
        }
    }

    pub(super) fn into_vulnerability(
        self,
        texts: &mut Interner<str>,
        lossy: &mut Lossy,
    ) -> Option<DeviceVulnerability> {
        Some(DeviceVulnerability {
            device_id: texts.get(&non_empty(self.device_id)?),
            cve_id: texts.get(&non_empty(self.cve_id)?),
            cvss_score: self.cvss_score,
            severity: non_empty(self.vulnerability_severity_level).map(|level| texts.get(&level)),
            software_vendor: texts.get(self.software_vendor.as_deref().unwrap_or_default()),
            software_name: texts.get(self.software_name.as_deref().unwrap_or_default()),
            software_version: texts.get(self.software_version.as_deref().unwrap_or_default()),
            first_seen: lossy.time("firstSeenTimestamp", self.first_seen_timestamp.as_deref()),
            last_seen: lossy.time("lastSeenTimestamp", self.last_seen_timestamp.as_deref()),
        })
    }

    pub(super) fn into_change(
        mut self,
        texts: &mut Interner<str>,
        lossy: &mut Lossy,
    ) -> Option<VulnerabilityChange> {
        let kind = match self.status.take()?.trim().to_ascii_lowercase().as_str() {
            "new" => VulnerabilityChangeKind::New,
            "fixed" => VulnerabilityChangeKind::Fixed,
            "updated" => VulnerabilityChangeKind::Updated,
            other => {
                lossy.note("vulnerability change status", other);
                return None;
            }
        };
        let event_time = lossy.time("eventTimestamp", self.event_timestamp.take().as_deref())?;
        Some(VulnerabilityChange {
            kind,
            event_time,
            vulnerability: self.into_vulnerability(texts, lossy)?,
        })
    }
}
