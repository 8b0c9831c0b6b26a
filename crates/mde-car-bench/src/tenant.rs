//! Synthetic tenants for the search store: devices as a full sync hands them to the store, with
//! a realistic address mix. Every device is a pure function of (tenant, index), so the
//! benchmark draws query keys by regenerating random devices instead of reading the store.
//!
//! Per device: a corporate IPv4 address on Ethernet (10.x, /24s of 250 hosts, a few /16s per
//! tenant), held since 2 days ago; the day before it held another device's current address
//! (adapter reports every 12 hours, so two leases and a hand-over); on 40% of devices a Wi-Fi adapter with a home address (192.168.0/1/178.x, shared by
//! many devices across tenants); on 10% a VPN address (172.16–31.x); IPv6 link-local on every
//! adapter and global on 20%; loopback on non-mobile devices; one of five public egress
//! addresses per tenant; a host name; alerts on 8%; 0–6 vulnerabilities from a catalogue.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::Duration;
use mde_car_core::model::{
    Alert, Device, DeviceAddress, DeviceVulnerability, MacAddress, NetworkObservation,
    ObservedAddress, Timestamp,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PREFIXES: &[&str] = &["ws", "lt", "srv", "db", "web", "kiosk", "dev"];
const HOME_NETS: &[[u8; 3]] = &[[192, 168, 0], [192, 168, 1], [192, 168, 178]];
const CATALOGUE: usize = 400;

/// One generated device and everything a sync would bring with it.
pub(crate) struct Synthetic {
    pub(crate) device: Device,
    pub(crate) reports: Vec<NetworkObservation>,
    pub(crate) alerts: Vec<Alert>,
    pub(crate) vulnerabilities: Vec<DeviceVulnerability>,
    pub(crate) corporate: Ipv4Addr,
    /// The address it held before, and when it held it (a time inside that lease).
    pub(crate) previous: (Ipv4Addr, Timestamp),
    pub(crate) mac: MacAddress,
}

/// The corporate address of slot `slot` in tenant `tenant`.
fn corporate(tenant: usize, slot: usize) -> Ipv4Addr {
    let second = ((tenant * 4 + slot / 62_500) % 256) as u8;
    let third = ((slot % 62_500) / 250) as u8;
    let fourth = (1 + slot % 250) as u8;
    Ipv4Addr::new(10, second, third, fourth)
}

/// Unique per (tenant, index < 2^20, adapter < 16).
fn mac(tenant: usize, index: usize, adapter: u8) -> anyhow::Result<MacAddress> {
    let [_, b, c, d] = (index as u32).to_be_bytes();
    let text = format!(
        "00:15:{:02x}:{:02x}:{c:02x}:{d:02x}",
        tenant % 256,
        (adapter << 4) | (b & 0x0f)
    );
    text.parse().map_err(anyhow::Error::msg)
}

fn link_local(mac: &MacAddress) -> IpAddr {
    let b = mac.bytes();
    let word = |high: u8, low: u8| u16::from_be_bytes([high, low]);
    IpAddr::V6(Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        word(b[0] ^ 0x02, b[1]),
        word(b[2], 0xff),
        word(0xfe, b[3]),
        word(b[4], b[5]),
    ))
}

/// Device `index` of tenant `tenant` (of `tenant_size` devices), as synced at `now`.
pub(crate) fn device(
    tenant: usize,
    index: usize,
    tenant_size: usize,
    now: Timestamp,
) -> anyhow::Result<Synthetic> {
    let mut rng = ChaCha8Rng::seed_from_u64(((tenant as u64) << 32) ^ index as u64 ^ 0x5eed);
    let id = format!(
        "{:016x}{:016x}{:08x}",
        rng.random::<u64>(),
        rng.random::<u64>(),
        rng.random::<u32>()
    );
    let prefix = PREFIXES[index % PREFIXES.len()];
    let name = format!("{prefix}-{index:06}.tenant{tenant:03}.example.com");
    let mobile = prefix == "lt" && rng.random_bool(0.1);
    let inactive = rng.random_bool(0.03);
    let last_seen = if inactive {
        now - Duration::days(20)
    } else {
        now - Duration::minutes(rng.random_range(5..600))
    };

    let ethernet = mac(tenant, index, 0)?;
    let corporate_ip = corporate(tenant, index);
    // DHCP reuse: the address it held until two days ago is another device's now.
    let previous_ip = corporate(tenant, (index + 97) % tenant_size.max(1));
    // Inside that lease: reported from 3 days ago, every 12 hours, until the hand-over.
    let previous_at = now - Duration::days(3) + Duration::hours(6);
    let mut addresses = vec![
        address(IpAddr::V4(corporate_ip), Some(ethernet.clone()), "Ethernet"),
        address(link_local(&ethernet), Some(ethernet.clone()), "Ethernet"),
    ];
    let report =
        |at: Timestamp, ip: Ipv4Addr, adapter: &str, mac: &MacAddress| NetworkObservation {
            timestamp: at,
            device_id: id.as_str().into(),
            adapter_name: Some(adapter.into()),
            mac: Some(mac.clone()),
            addresses: [ObservedAddress {
                ip: IpAddr::V4(ip),
                prefix: Some(24),
            }]
            .into(),
        };
    let mut reports = vec![
        report(now - Duration::days(3), previous_ip, "Ethernet", &ethernet),
        report(
            now - Duration::hours(60),
            previous_ip,
            "Ethernet",
            &ethernet,
        ),
        report(now - Duration::days(2), corporate_ip, "Ethernet", &ethernet),
    ];
    if rng.random_bool(0.2) {
        let global = Ipv6Addr::new(
            0x2001,
            0xdb8,
            tenant as u16,
            0,
            0,
            0,
            (index >> 16) as u16,
            index as u16,
        );
        addresses.push(address(
            IpAddr::V6(global),
            Some(ethernet.clone()),
            "Ethernet",
        ));
    }
    if rng.random_bool(0.4) {
        let wifi = mac(tenant, index, 1)?;
        let [a, b, c] = HOME_NETS[rng.random_range(0..HOME_NETS.len())];
        let home = Ipv4Addr::new(a, b, c, rng.random_range(2..255));
        addresses.push(address(
            IpAddr::V4(home),
            Some(wifi.clone()),
            "Wireless80211",
        ));
        addresses.push(address(
            link_local(&wifi),
            Some(wifi.clone()),
            "Wireless80211",
        ));
        reports.push(report(now - Duration::days(1), home, "Wi-Fi", &wifi));
    }
    if rng.random_bool(0.1) {
        let vpn = Ipv4Addr::new(
            172,
            16 + (tenant % 16) as u8,
            rng.random(),
            rng.random_range(1..255),
        );
        addresses.push(address(IpAddr::V4(vpn), None, "Ppp"));
    }
    if !mobile {
        addresses.push(address(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            "SoftwareLoopback",
        ));
    }
    let egress = Ipv4Addr::new(
        52,
        (tenant % 256) as u8,
        (tenant / 256) as u8,
        rng.random_range(1..6),
    );

    let risk = ["None", "Informational", "Low", "Medium", "High"][rng.random_range(0..5)];
    let device = Device {
        id: id.clone(),
        computer_dns_name: Some(name.clone()),
        first_seen: Some(now - Duration::days(rng.random_range(30..900))),
        last_seen: Some(last_seen),
        os_platform: Some(if prefix == "srv" || prefix == "db" || prefix == "web" {
            "WindowsServer2022".to_owned()
        } else {
            "Windows11".to_owned()
        }),
        os_version: None,
        os_build: Some(22_631),
        version: Some("23H2".to_owned()),
        os_architecture: Some("64-bit".to_owned()),
        health_status: Some(if inactive { "Inactive" } else { "Active" }.to_owned()),
        onboarding_status: Some("Onboarded".to_owned()),
        risk_score: Some(risk.to_owned()),
        exposure_level: Some(["Low", "Medium", "High"][rng.random_range(0..3)].to_owned()),
        device_value: Some(
            if rng.random_bool(0.05) {
                "High"
            } else {
                "Normal"
            }
            .to_owned(),
        ),
        machine_tags: if rng.random_bool(0.3) {
            vec![format!("site-{}", index % 12)]
        } else {
            Vec::new()
        },
        rbac_group_id: Some((index % 8) as i64),
        rbac_group_name: Some(format!("group-{}", index % 8)),
        aad_device_id: None,
        is_aad_joined: Some(true),
        last_ip_address: Some(IpAddr::V4(corporate_ip)),
        last_external_ip_address: Some(IpAddr::V4(egress)),
        merged_into_machine_id: None,
        is_potential_duplication: false,
        addresses,
    };

    let mut alerts = Vec::new();
    if rng.random_bool(0.08) {
        for k in 0..rng.random_range(1..=3) {
            let created = now - Duration::hours(rng.random_range(1..24 * 30));
            alerts.push(Alert {
                id: format!("da{}_{k}", &id[..20]),
                title: "Suspicious PowerShell command line".to_owned(),
                description: None,
                severity: ["Informational", "Low", "Medium", "High"][rng.random_range(0..4)]
                    .to_owned(),
                status: ["New", "InProgress", "Resolved"][rng.random_range(0..3)].to_owned(),
                category: Some("Execution".to_owned()),
                classification: None,
                determination: None,
                detection_source: Some("WindowsDefenderAtp".to_owned()),
                machine_id: Some(id.clone()),
                computer_dns_name: Some(name.clone()),
                created,
                last_updated: created,
                first_event: Some(created),
                last_event: Some(created),
                resolved: None,
                mitre_techniques: vec!["T1059.001".to_owned()],
            });
        }
    }
    let vulnerabilities = (0..rng.random_range(0..=6))
        .map(|_| {
            let entry = rng.random_range(0..CATALOGUE);
            DeviceVulnerability {
                device_id: id.as_str().into(),
                cve_id: format!("CVE-2025-{:05}", 10_000 + entry).into(),
                cvss_score: Some(2.0 + (entry % 80) as f64 / 10.0),
                severity: Some(["Low", "Medium", "High", "Critical"][entry % 4].into()),
                software_vendor: "vendor".into(),
                software_name: format!("product-{}", entry % 60).into(),
                software_version: format!("{}.{}", entry % 7, entry % 13).into(),
                first_seen: Some(now - Duration::days(entry as i64 % 90)),
                last_seen: None,
            }
        })
        .collect();
    Ok(Synthetic {
        device,
        reports,
        alerts,
        vulnerabilities,
        corporate: corporate_ip,
        previous: (previous_ip, previous_at),
        mac: ethernet,
    })
}

fn address(ip: IpAddr, mac: Option<MacAddress>, kind: &str) -> DeviceAddress {
    DeviceAddress {
        ip,
        mac,
        interface_type: Some(kind.to_owned()),
        operational_status: Some("Up".to_owned()),
    }
}
