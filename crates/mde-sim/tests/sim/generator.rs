//! The tenant generator: determinism, mix, duplicates, DHCP churn, scale.

use std::collections::{BTreeMap, HashSet};

use mde_sim::{Sim, SimConfig};

fn config(devices: usize, seed: u64) -> SimConfig {
    SimConfig {
        devices,
        seed,
        start_time: Some(
            chrono::DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
                .unwrap()
                .to_utc(),
        ),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn same_seed_same_tenant_other_seed_other_tenant() {
    let a = Sim::start(config(120, 3)).await.unwrap();
    let b = Sim::start(config(120, 3)).await.unwrap();
    let c = Sim::start(config(120, 4)).await.unwrap();
    let ids_a = a.truth().machine_ids();
    assert_eq!(ids_a, b.truth().machine_ids());
    assert_ne!(ids_a, c.truth().machine_ids());
    for id in &ids_a {
        assert_eq!(a.truth().machine_json(id), b.truth().machine_json(id));
    }
    assert_eq!(a.truth().alerts().len(), b.truth().alerts().len());
}

#[tokio::test]
async fn default_tenant_has_the_documented_mix() {
    let sim = Sim::start(config(500, 1)).await.unwrap();
    let tenant = sim.truth().snapshot();
    assert_eq!(tenant.devices.len(), 500);
    let mut platforms: BTreeMap<&str, usize> = BTreeMap::new();
    let mut health: BTreeMap<&str, usize> = BTreeMap::new();
    for device in &tenant.devices {
        *platforms.entry(device.os_platform).or_default() += 1;
        *health.entry(device.health_status).or_default() += 1;
    }
    for platform in [
        "Windows10",
        "Windows11",
        "WindowsServer2019",
        "WindowsServer2022",
        "Linux",
        "macOS",
    ] {
        assert!(
            platforms.get(platform).copied().unwrap_or(0) > 0,
            "{platform} missing: {platforms:?}"
        );
    }
    assert!(
        health["Active"] > 300 && health.get("Inactive").copied().unwrap_or(0) > 10,
        "{health:?}"
    );
    // Duplicates: same name, different id, merged or flagged.
    let merged: Vec<_> = tenant
        .devices
        .iter()
        .filter(|d| d.merged_into_machine_id.is_some())
        .collect();
    assert!(!merged.is_empty());
    for old in merged {
        let survivor = tenant
            .device(old.merged_into_machine_id.as_ref().unwrap())
            .unwrap();
        assert_eq!(survivor.computer_dns_name, old.computer_dns_name);
        assert_ne!(survivor.id, old.id);
        assert!(old.is_potential_duplication);
    }
    assert!(
        tenant
            .devices
            .iter()
            .any(|d| d.last_external_ip_address.is_none())
    );
    assert!(tenant.devices.iter().any(|d| !d.machine_tags.is_empty()));
    assert!(tenant.devices.iter().any(|d| d.vm_metadata.is_some()));
    let names: HashSet<&str> = tenant
        .devices
        .iter()
        .map(|d| d.computer_dns_name.as_str())
        .collect();
    assert!(names.len() < tenant.devices.len(), "duplicates share names");
    // Alerts, CVEs, users.
    assert!(tenant.alerts.len() >= 100);
    let n_vulns: usize = tenant
        .devices
        .iter()
        .map(|d| d.current_vulns().count())
        .sum();
    assert!(n_vulns > 500, "{n_vulns}");
    assert!(
        tenant
            .devices
            .iter()
            .any(|d| d.vulns.iter().any(|v| v.fixed_at.is_some()))
    );
    assert!(
        tenant
            .cves
            .iter()
            .any(|cve| (cve.cvss_v3 * 10.0).fract() == 0.0 && cve.cvss_v3.fract() != 0.0)
    );
}

#[tokio::test]
async fn dhcp_leases_never_overlap_in_corporate_space() {
    let sim = Sim::start(config(800, 5)).await.unwrap();
    let tenant = sim.truth().snapshot();
    type Holding<'a> = (
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        &'a str,
    );
    let mut by_ip: BTreeMap<std::net::Ipv4Addr, Vec<Holding<'_>>> = BTreeMap::new();
    for device in &tenant.devices {
        for adapter in &device.adapters {
            for lease in &adapter.leases {
                if lease.ip.octets()[0] == 10 {
                    by_ip
                        .entry(lease.ip)
                        .or_default()
                        .push((lease.start, lease.end, &device.id));
                }
            }
        }
    }
    let mut reused = 0;
    for leases in by_ip.values_mut() {
        leases.sort();
        let holders: HashSet<&str> = leases.iter().map(|l| l.2).collect();
        reused += usize::from(holders.len() > 1);
        for pair in leases.windows(2) {
            let end = pair[0]
                .1
                .expect("an earlier lease of a reused address has ended");
            assert!(
                end + chrono::Duration::minutes(60) <= pair[1].0,
                "quarantine respected"
            );
        }
    }
    assert!(
        reused > 20,
        "DHCP churn should reuse addresses, saw {reused}"
    );
}

/// Scale: a 200,000-device tenant is generated and fully served. Every machine is paged with
/// `$top=10000` and `$skip` as a client does: 20 full pages of distinct ids, then an empty one,
/// and `$count` agrees. Kept to one test, it is the slow one; its speed and memory are measured
/// by `make bench` (the `sim` benchmark), never here.
#[tokio::test]
async fn two_hundred_thousand_devices() {
    const DEVICES: usize = 200_000;
    const PAGE: usize = 10_000;
    let sim = Sim::start(config(DEVICES, 9)).await.unwrap();
    assert_eq!(sim.truth().machine_count(), DEVICES);
    let token = crate::support::token(&sim).await;
    let mut ids = HashSet::new();
    let mut pages = Vec::new();
    for skip in (0..=DEVICES).step_by(PAGE) {
        let (status, _, body) = crate::support::get(
            &sim,
            &token,
            &format!("/api/machines?$top={PAGE}&$skip={skip}"),
        )
        .await;
        assert_eq!(status, 200, "$skip={skip}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        let value = page["value"].as_array().unwrap();
        pages.push(value.len());
        ids.extend(
            value
                .iter()
                .map(|machine| machine["id"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(pages.len(), DEVICES / PAGE + 1);
    assert!(
        pages[..DEVICES / PAGE].iter().all(|&n| n == PAGE),
        "{pages:?}"
    );
    assert_eq!(pages.last(), Some(&0), "the page after the last is empty");
    assert_eq!(ids.len(), DEVICES, "every machine served once");
    let (status, _, count) = crate::support::get(&sim, &token, "/api/machines/$count").await;
    assert_eq!((status, count.as_str()), (200, "200000"));
}

#[tokio::test]
async fn windows_builds_match_releases_and_sids_are_well_formed() {
    let sim = Sim::start(config(400, 5)).await.unwrap();
    let tenant = sim.truth().snapshot();
    let release_build: BTreeMap<(&str, &str), i64> = [
        (("Windows10", "21H2"), 19044),
        (("Windows10", "22H2"), 19045),
        (("Windows11", "22H2"), 22621),
        (("Windows11", "23H2"), 22631),
        (("Windows11", "24H2"), 26100),
        (("WindowsServer2022", "21H2"), 20348),
        (("WindowsServer2019", "1809"), 17763),
        (("WindowsServer2016", "1607"), 14393),
    ]
    .into_iter()
    .collect();
    let mut checked = 0;
    for device in &tenant.devices {
        if let Some(version) = device.version {
            let expected = release_build[&(device.os_platform, version)];
            assert_eq!(device.os_build, Some(expected), "{}", device.id);
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
    // S-1-5-21-X-Y-Z-RID: every sub-authority is a 32-bit number.
    let well_formed = |sid: &str| {
        let Some(rest) = sid.strip_prefix("S-1-5-21-") else {
            return false;
        };
        let parts: Vec<&str> = rest.split('-').collect();
        parts.len() == 4 && parts.iter().all(|part| part.parse::<u32>().is_ok())
    };
    let mut locals = 0;
    for id in sim.truth().machine_ids() {
        for user in sim.truth().logon_users(&id) {
            assert!(well_formed(&user.account_sid), "{}", user.account_sid);
            locals += usize::from(user.account_sid.ends_with("-500"));
        }
    }
    assert!(locals > 50, "{locals}");
}
