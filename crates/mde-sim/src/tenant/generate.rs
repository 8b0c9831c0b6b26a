//! Deterministic tenant generation from (seed, size, now).

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Duration, Utc};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{self, DeviceClass, OS_KINDS, SOFTWARE};
use super::{
    Adapter, Alert, AlertComment, Cve, Device, DeviceUser, DomainUser, Evidence, HISTORY_DAYS,
    Lease, Pool, Software, Tenant, VmMetadata, VulnInstance,
};

/// Adapters a DHCP pool serves at most; with 241 addresses this leaves room for the quarantine.
const POOL_LOAD: usize = 180;
/// A released corporate address is not handed out again for this long.
pub(crate) const QUARANTINE_MINUTES: i64 = 60;

pub(crate) fn generate(seed: u64, n_devices: usize, now: DateTime<Utc>, tenant_id: &str) -> Tenant {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let software: Vec<Software> = SOFTWARE
        .iter()
        .map(|kind| Software {
            vendor: kind.vendor,
            name: kind.name,
            versions: kind.versions,
            disk_path: kind.disk_path,
        })
        .collect();
    let cves = generate_cves(&mut rng, now);
    let users = generate_users(&mut rng, n_devices);
    let machine_sid_base = format!(
        "S-1-5-21-{}-{}-{}",
        rng.random_range(1_000_000_000u64..4_000_000_000),
        rng.random_range(1_000_000_000u64..4_000_000_000),
        rng.random_range(100_000_000u64..999_999_999)
    );

    let n_dups = n_devices / 50;
    let n_primary = n_devices - n_dups;
    let mut devices: Vec<Device> = (0..n_primary)
        .map(|idx| generate_device(&mut rng, idx, now, &users, &machine_sid_base))
        .collect();
    for dup_idx in 0..n_dups {
        let original = rng.random_range(0..n_primary);
        let twin = make_twin(&mut rng, &mut devices[original], now, dup_idx);
        devices.push(twin);
    }
    let pools = assign_leases(&mut rng, &mut devices, now);
    let mut cves_by_software: Vec<Vec<usize>> = vec![Vec::new(); SOFTWARE.len()];
    for (cve_idx, cve) in cves.iter().enumerate() {
        cves_by_software[usize::from(cve.software)].push(cve_idx);
    }
    for device in &mut devices {
        generate_vulns(&mut rng, device, &cves, &cves_by_software, now);
    }
    let mut ids = HashSet::new();
    for device in &devices {
        assert!(ids.insert(device.id.clone()), "device ids are unique");
    }
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    let alerts = generate_alerts(&mut rng, &devices, &users, now);
    let next_alert_serial = alerts.len() as u64;
    let mut tenant = Tenant {
        tenant_id: tenant_id.to_owned(),
        generated_at: now,
        devices,
        alerts,
        users,
        software,
        cves,
        pools,
        index: Default::default(),
        rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6d75_7461_7465),
        next_alert_serial,
    };
    tenant.reindex();
    tenant
}

pub(crate) fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, weight)| weight).sum();
    let mut roll = rng.random_range(0..total);
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    &items[items.len() - 1].0
}

/// A random span in `[min, max)` at 100 ns resolution.
pub(crate) fn span(rng: &mut ChaCha8Rng, min: Duration, max: Duration) -> Duration {
    let min_ticks = min.num_microseconds().unwrap_or(0) * 10;
    let max_ticks = max.num_microseconds().unwrap_or(0) * 10;
    if max_ticks <= min_ticks {
        return min;
    }
    Duration::nanoseconds(rng.random_range(min_ticks..max_ticks) * 100)
}

pub(crate) fn hex(rng: &mut ChaCha8Rng, n_bytes: usize) -> String {
    let bytes: Vec<u8> = (0..n_bytes).map(|_| rng.random()).collect();
    hex::encode(bytes)
}

pub(crate) fn guid(rng: &mut ChaCha8Rng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

fn truncate_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(time.timestamp(), 0).unwrap_or(time)
}

fn generate_cves(rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> Vec<Cve> {
    let mut cves = Vec::new();
    let mut seen = HashSet::new();
    for (sw_idx, kind) in SOFTWARE.iter().enumerate() {
        let n_cves = if kind.family == "os" {
            rng.random_range(6..12)
        } else {
            rng.random_range(3..8)
        };
        for _ in 0..n_cves {
            let id = loop {
                let candidate = format!(
                    "CVE-{}-{}",
                    rng.random_range(2021..2026),
                    rng.random_range(1000..49_999)
                );
                if seen.insert(candidate.clone()) {
                    break candidate;
                }
            };
            // One decimal, as NVD prints CVSS v3 base scores.
            let cvss_v3 = f64::from(rng.random_range(20u32..=100)) / 10.0;
            let severity = match cvss_v3 {
                score if score >= 9.0 => "Critical",
                score if score >= 7.0 => "High",
                score if score >= 4.0 => "Medium",
                _ => "Low",
            };
            let published_on = now - span(rng, Duration::days(20), Duration::days(900));
            let updated_on = published_on + span(rng, Duration::zero(), now - published_on);
            let n_versions = kind.versions.len() as u8;
            let fixed_in_version = rng.random_range(1..=n_versions);
            let fixing_kb = (kind.vendor == "microsoft" && fixed_in_version < n_versions)
                .then(|| format!("{}", rng.random_range(5_030_000..5_040_000)));
            let exploitability = *pick_weighted(
                rng,
                &[
                    ("NoExploit", 70),
                    ("ExploitIsPublic", 20),
                    ("ExploitIsVerified", 7),
                    ("ExploitIsInKit", 3),
                ],
            );
            let rescored_at = rng
                .random_bool(0.08)
                .then(|| now - span(rng, Duration::hours(1), Duration::days(13)));
            cves.push(Cve {
                name: id.clone(),
                description: format!(
                    "A {} vulnerability in {} {} could allow an attacker to {}.",
                    severity.to_ascii_lowercase(),
                    kind.vendor,
                    kind.name,
                    [
                        "execute code remotely",
                        "elevate privileges",
                        "disclose information",
                        "cause a denial of service",
                        "bypass a security feature"
                    ]
                    .choose(rng)
                    .expect("non-empty")
                ),
                id,
                cvss_v3,
                cvss_vector: format!(
                    "CVSS:3.1/AV:{}/AC:L/PR:N/UI:{}/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C",
                    if rng.random_bool(0.7) { "N" } else { "L" },
                    if rng.random_bool(0.5) { "N" } else { "R" }
                ),
                severity,
                published_on,
                updated_on,
                exploitability,
                epss: f64::from(rng.random_range(1u32..9_000)) / 10_000.0,
                software: sw_idx as u16,
                fixed_in_version,
                fixing_kb,
                rescored_at,
            });
        }
    }
    cves
}

fn generate_users(rng: &mut ChaCha8Rng, n_devices: usize) -> Vec<DomainUser> {
    let n_users = (n_devices / 2).max(12);
    let sid_base = format!(
        "S-1-5-21-{}-{}-{}",
        rng.random_range(1_000_000_000u64..4_000_000_000),
        rng.random_range(1_000_000_000u64..4_000_000_000),
        rng.random_range(100_000_000u64..999_999_999)
    );
    let n_first = catalog::FIRST_NAMES.len();
    let n_last = catalog::LAST_NAMES.len();
    let n_admins = (n_users / 100).max(2);
    (0..n_users)
        .map(|idx| {
            let first = catalog::FIRST_NAMES[idx % n_first];
            let last = catalog::LAST_NAMES[(idx / n_first) % n_last];
            let suffix = idx / (n_first * n_last);
            let account_name = if suffix == 0 {
                format!("{first}.{last}")
            } else {
                format!("{first}.{last}{suffix}")
            };
            DomainUser {
                upn: format!("{account_name}@contoso-sim.com"),
                account_name,
                domain: catalog::NETBIOS_DOMAIN,
                sid: format!("{sid_base}-{}", 1_104 + idx),
                aad_object_id: guid(rng),
                is_domain_admin: idx < n_admins,
                is_only_network_user: if rng.random_bool(0.1) {
                    None
                } else {
                    Some(false)
                },
            }
        })
        .collect()
}

fn device_name(rng: &mut ChaCha8Rng, class: DeviceClass, platform: &str, idx: usize) -> String {
    let tag = format!("{idx:05}");
    match (class, platform) {
        (DeviceClass::Server, "Linux") => {
            let role = catalog::SERVER_ROLES.choose(rng).expect("non-empty");
            if rng.random_bool(0.5) {
                format!("lnx-{role}-{tag}")
            } else {
                format!("lnx-{role}-{tag}.{}", catalog::DNS_SUFFIX)
            }
        }
        (DeviceClass::Server, _) => {
            let role = catalog::SERVER_ROLES.choose(rng).expect("non-empty");
            format!("srv-{role}-{tag}.{}", catalog::DNS_SUFFIX)
        }
        (DeviceClass::Laptop, "macOS") => {
            let first = catalog::FIRST_NAMES.choose(rng).expect("non-empty");
            format!("{first}s-macbook-pro-{tag}")
        }
        (DeviceClass::Laptop, _) => format!("lt-{tag}.{}", catalog::DNS_SUFFIX),
        (DeviceClass::Desktop, _) => {
            let letters: String = (0..3)
                .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                .collect();
            format!("desktop-{letters}{tag}.{}", catalog::DNS_SUFFIX)
        }
        (DeviceClass::Mobile, "iOS") => format!("iphone-{tag}"),
        (DeviceClass::Mobile, _) => format!("android-{tag}"),
    }
}

const OUIS: &[&str] = &[
    "3C5282", "F8E43B", "A4BB6D", "D4F5EF", "B06EBF", "8C1645", "00155D",
];

fn mac(rng: &mut ChaCha8Rng, vm: bool) -> String {
    let oui = if vm {
        "000C29"
    } else {
        OUIS.choose(rng).expect("non-empty")
    };
    format!("{oui}{}", hex(rng, 3).to_ascii_uppercase())
}

fn link_local(rng: &mut ChaCha8Rng) -> Ipv6Addr {
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        rng.random(),
        rng.random(),
        rng.random(),
        rng.random(),
    )
}

fn adapter(rng: &mut ChaCha8Rng, name: &str, kind: &'static str, vm: bool) -> Adapter {
    Adapter {
        name: name.to_owned(),
        adapter_type: kind,
        mac: mac(rng, vm),
        status: "Up",
        subnet_prefix: 24,
        leases: Vec::new(),
        ipv6_link_local: link_local(rng),
        ipv6_global: None,
        apipa: None,
        pool: None,
    }
}

fn generate_device(
    rng: &mut ChaCha8Rng,
    idx: usize,
    now: DateTime<Utc>,
    users: &[DomainUser],
    machine_sid_base: &str,
) -> Device {
    let total: u32 = OS_KINDS.iter().map(|kind| kind.weight).sum();
    let mut roll = rng.random_range(0..total);
    let os = OS_KINDS
        .iter()
        .find(|kind| {
            if roll < kind.weight {
                return true;
            }
            roll -= kind.weight;
            false
        })
        .unwrap_or(&OS_KINDS[0]);
    let class = os.class;
    let is_windows = os.platform.starts_with("Windows");
    let onboarding_status = if class == DeviceClass::Mobile {
        "Onboarded"
    } else {
        *pick_weighted(
            rng,
            &[
                ("Onboarded", 94),
                ("CanBeOnboarded", 4),
                ("Unsupported", 1),
                ("InsufficientInfo", 1),
            ],
        )
    };
    let onboarded = onboarding_status == "Onboarded";
    let first_seen = if rng.random_bool(0.8) {
        now - span(rng, Duration::days(HISTORY_DAYS + 1), Duration::days(700))
    } else {
        now - span(rng, Duration::hours(2), Duration::days(HISTORY_DAYS))
    };
    let mut health_status = *pick_weighted(
        rng,
        &[
            ("Active", 85),
            ("Inactive", 9),
            ("ImpairedCommunication", 2),
            ("NoSensorData", 2),
            ("NoSensorDataImpairedCommunication", 1),
        ],
    );
    if !onboarded {
        health_status = "Unknown";
    }
    let inactive_for = span(rng, Duration::days(8), Duration::days(HISTORY_DAYS - 1));
    if health_status == "Inactive" && now - inactive_for <= first_seen + Duration::hours(1) {
        health_status = "Active";
    }
    let last_seen = if health_status == "Inactive" {
        now - inactive_for
    } else {
        let ago = span(rng, Duration::zero(), Duration::hours(24));
        (now - ago).max(first_seen)
    };
    let vm = class == DeviceClass::Server && rng.random_bool(0.6);
    let mut adapters = match (class, os.platform) {
        (DeviceClass::Server, "Linux") => vec![adapter(rng, "eth0", "Ethernet", vm)],
        (DeviceClass::Server, _) => vec![adapter(rng, "Ethernet0", "Ethernet", vm)],
        (DeviceClass::Desktop, _) => vec![adapter(rng, "Ethernet", "Ethernet", false)],
        (DeviceClass::Laptop, "macOS") => vec![adapter(rng, "en0", "Wireless80211", false)],
        (DeviceClass::Laptop, _) => {
            let mut ethernet = adapter(rng, "Ethernet", "Ethernet", false);
            ethernet.status = "Down";
            ethernet.apipa = Some(Ipv4Addr::new(
                169,
                254,
                rng.random_range(1..255),
                rng.random_range(1..255),
            ));
            // Wi-Fi first: it carries lastIpAddress.
            vec![adapter(rng, "Wi-Fi", "Wireless80211", false), ethernet]
        }
        (DeviceClass::Mobile, _) => vec![adapter(rng, "wlan0", "Wireless80211", false)],
    };
    for adapter in &mut adapters {
        if adapter.status == "Up" && rng.random_bool(0.3) {
            adapter.ipv6_global = Some(Ipv6Addr::new(
                0x2001,
                0xdb8,
                rng.random_range(0..64),
                rng.random(),
                rng.random(),
                rng.random(),
                rng.random(),
                rng.random(),
            ));
        }
    }
    let (rbac_group_id, rbac_group_name) = if rng.random_bool(0.05) {
        catalog::RBAC_GROUPS[0]
    } else {
        match class {
            DeviceClass::Server => {
                if rng.random_bool(0.7) {
                    catalog::RBAC_GROUPS[2]
                } else {
                    catalog::RBAC_GROUPS[3]
                }
            }
            DeviceClass::Mobile => catalog::RBAC_GROUPS[6],
            _ => *[
                catalog::RBAC_GROUPS[1],
                catalog::RBAC_GROUPS[1],
                catalog::RBAC_GROUPS[4],
                catalog::RBAC_GROUPS[5],
            ]
            .choose(rng)
            .expect("non-empty"),
        }
    };
    let is_aad_joined = match class {
        DeviceClass::Mobile => true,
        DeviceClass::Server => rng.random_bool(0.1),
        _ => is_windows && rng.random_bool(0.8),
    };
    let aad_device_id = (is_aad_joined && onboarded).then(|| guid(rng));
    let n_tags = if rng.random_bool(0.3) {
        rng.random_range(1..=2)
    } else {
        0
    };
    let mut machine_tags: Vec<String> = Vec::new();
    for _ in 0..n_tags {
        let tag = (*catalog::MACHINE_TAGS.choose(rng).expect("non-empty")).to_owned();
        if !machine_tags.contains(&tag) {
            machine_tags.push(tag);
        }
    }
    let arm = matches!(class, DeviceClass::Laptop | DeviceClass::Mobile) && rng.random_bool(0.15);
    let x86 = !arm && os.platform == "Windows10" && rng.random_bool(0.03);
    let vm_metadata = (vm && rng.random_bool(0.6)).then(|| {
        let subscription_id = guid(rng);
        VmMetadata {
            vm_id: guid(rng),
            cloud_provider: "Azure",
            resource_id: format!(
                "/subscriptions/{subscription_id}/resourceGroups/rg-prod-{}/providers/Microsoft.Compute/virtualMachines/vm-{idx:05}",
                rng.random_range(1..9)
            ),
            subscription_id,
        }
    });
    let computer_dns_name = device_name(rng, class, os.platform, idx);
    let is_excluded = rng.random_bool(0.01);
    let mut device = Device {
        id: hex(rng, 20),
        merged_into_machine_id: None,
        is_potential_duplication: false,
        is_excluded,
        exclusion_reason: is_excluded.then(|| {
            *["InactiveDevice", "Duplicate", "Other"]
                .choose(rng)
                .expect("non-empty")
        }),
        computer_dns_name,
        first_seen,
        last_seen,
        os_platform: os.platform,
        os_version: os.os_versions.choose(rng).copied(),
        os_processor: if arm {
            "ARM64"
        } else if x86 {
            "x86"
        } else {
            "x64"
        },
        version: os.versions.choose(rng).copied(),
        last_external_ip_address: None,
        agent_version: if onboarded {
            os.agents.choose(rng).copied()
        } else {
            None
        },
        os_build: os.builds.choose(rng).copied(),
        health_status,
        device_value: if onboarded {
            Some(*pick_weighted(
                rng,
                &[("Normal", 85), ("High", 10), ("Low", 5)],
            ))
        } else {
            None
        },
        rbac_group_id,
        rbac_group_name,
        risk_score: if onboarded {
            Some(*pick_weighted(
                rng,
                &[
                    ("None", 40),
                    ("Informational", 10),
                    ("Low", 20),
                    ("Medium", 20),
                    ("High", 10),
                ],
            ))
        } else {
            None
        },
        exposure_level: if onboarded {
            Some(*pick_weighted(
                rng,
                &[("None", 5), ("Low", 40), ("Medium", 40), ("High", 15)],
            ))
        } else {
            None
        },
        is_aad_joined,
        aad_device_id,
        machine_tags,
        defender_av_status: match (is_windows, onboarded) {
            (true, true) => Some(*pick_weighted(
                rng,
                &[
                    ("Updated", 85),
                    ("NotUpdated", 10),
                    ("Disabled", 3),
                    ("Unknown", 2),
                ],
            )),
            (false, true) if class != DeviceClass::Mobile => Some("Updated"),
            _ => None,
        },
        onboarding_status,
        os_architecture: if x86 { "32-bit" } else { "64-bit" },
        managed_by: match class {
            DeviceClass::Server if rng.random_bool(0.5) => "MDE",
            DeviceClass::Server => "Unknown",
            _ if is_aad_joined => "Intune",
            _ => "Unknown",
        },
        managed_by_status: if rng.random_bool(0.7) {
            "Unknown"
        } else {
            "Managed"
        },
        adapters,
        vm_metadata,
        logon_users: Vec::new(),
        installed: Vec::new(),
        vulns: Vec::new(),
        previous_names: Vec::new(),
        removed_at: None,
        class,
        report_phase: rng.random_range(0..86_400),
        machine_sid: machine_sid(machine_sid_base, rng.random_range(10_000u32..99_999), idx),
    };
    // A Windows release has one build (21H2 is 19044, 22H2 is 19045, …): both lists of an OS
    // kind are in the same order.
    if let Some(at) = device
        .version
        .and_then(|version| os.versions.iter().position(|known| *known == version))
        && os.builds.len() == os.versions.len()
    {
        device.os_build = Some(os.builds[at]);
    }
    device.logon_users = generate_logon_users(rng, &device, users, now);
    device.installed = install_software(rng, &device, os.os_software);
    device
}

/// A machine's own SID prefix, `S-1-5-21-X-Y-Z` with three 32-bit sub-authorities (local
/// accounts append their RID: `…-500` is the administrator).
fn machine_sid(tenant_base: &str, draw: u32, idx: usize) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{tenant_base}/{draw}/{idx}").as_bytes());
    let part = |at: usize| {
        let word = u32::from_le_bytes([digest[at], digest[at + 1], digest[at + 2], digest[at + 3]]);
        1_000_000_000 + word % 3_000_000_000
    };
    format!("S-1-5-21-{}-{}-{}", part(0), part(4), part(8))
}

fn generate_logon_users(
    rng: &mut ChaCha8Rng,
    device: &Device,
    users: &[DomainUser],
    now: DateTime<Utc>,
) -> Vec<DeviceUser> {
    let n_users = users.len() as u32;
    let n_admins = (users.len() / 100).max(2) as u32;
    let mut chosen: Vec<(Option<u32>, &'static str, bool)> = Vec::new();
    match device.class {
        DeviceClass::Server => {
            for _ in 0..rng.random_range(2..=4) {
                let user = if rng.random_bool(0.5) {
                    rng.random_range(0..n_admins)
                } else {
                    rng.random_range(0..n_users.min(n_admins * 5))
                };
                chosen.push((Some(user), "Network, RemoteInteractive", true));
            }
            if device.os_platform.starts_with("Windows") && rng.random_bool(0.8) {
                chosen.push((None, "RemoteInteractive", true));
            }
        }
        DeviceClass::Mobile => {
            chosen.push((Some(rng.random_range(0..n_users)), "Interactive", false))
        }
        _ => {
            chosen.push((
                Some(rng.random_range(0..n_users)),
                "Interactive",
                rng.random_bool(0.2),
            ));
            if rng.random_bool(0.2) {
                chosen.push((Some(rng.random_range(0..n_users)), "Network", false));
            }
            if device.os_platform.starts_with("Windows") && rng.random_bool(0.6) {
                chosen.push((None, "Interactive", true));
            }
        }
    }
    let mut out: Vec<DeviceUser> = Vec::new();
    for (user, logon_types, is_local_admin) in chosen {
        if out.iter().any(|existing| existing.user == user) {
            continue;
        }
        let earliest = device.first_seen.max(now - Duration::days(180));
        let first_seen = truncate_seconds(
            earliest
                + span(
                    rng,
                    Duration::zero(),
                    (device.last_seen - earliest).max(Duration::seconds(1)),
                ),
        );
        let last_seen = truncate_seconds(
            first_seen
                + span(
                    rng,
                    Duration::zero(),
                    (device.last_seen - first_seen).max(Duration::seconds(1)),
                ),
        );
        out.push(DeviceUser {
            user,
            first_seen,
            last_seen,
            logon_types,
            is_local_admin,
        });
    }
    out
}

fn install_software(rng: &mut ChaCha8Rng, device: &Device, os_software: usize) -> Vec<(u16, u8)> {
    let families: &[&str] = match (device.class, device.os_platform) {
        (DeviceClass::Mobile, _) => &[],
        (DeviceClass::Server, "Linux") => &["linux"],
        (DeviceClass::Server, _) => &["server", "win"],
        (_, "macOS") => &["desktop"],
        _ => &["desktop", "win"],
    };
    let mut installed = vec![(
        os_software as u16,
        newer_version(rng, SOFTWARE[os_software].versions.len()),
    )];
    let candidates: Vec<usize> = SOFTWARE
        .iter()
        .enumerate()
        .filter(|(_, kind)| families.contains(&kind.family))
        .map(|(idx, _)| idx)
        .collect();
    if !candidates.is_empty() {
        let n_installed = rng.random_range(1..=candidates.len().min(5));
        for &sw in candidates.choose_multiple(rng, n_installed) {
            installed.push((sw as u16, newer_version(rng, SOFTWARE[sw].versions.len())));
        }
    }
    installed.sort_unstable();
    installed
}

/// Newer versions are more common.
fn newer_version(rng: &mut ChaCha8Rng, n_versions: usize) -> u8 {
    let n = n_versions as u32;
    let weights: Vec<(u8, u32)> = (0..n).map(|idx| (idx as u8, idx + 1)).collect();
    *pick_weighted(rng, &weights)
}

fn generate_vulns(
    rng: &mut ChaCha8Rng,
    device: &mut Device,
    cves: &[Cve],
    cves_by_software: &[Vec<usize>],
    now: DateTime<Utc>,
) {
    if device.onboarding_status != "Onboarded" {
        return;
    }
    let report_end = device.last_seen.min(now);
    let mut vulns = Vec::new();
    for &(sw, version) in &device.installed {
        // A quarter of the installed software was updated within the delta window.
        let updated_at = (version > 0 && rng.random_bool(0.25))
            .then(|| now - span(rng, Duration::hours(2), Duration::days(12)))
            .filter(|time| *time > device.first_seen && *time < report_end);
        for &cve_idx in &cves_by_software[usize::from(sw)] {
            let cve = &cves[cve_idx];
            let found = |rng: &mut ChaCha8Rng| {
                (device.first_seen.max(cve.published_on)
                    + span(rng, Duration::hours(1), Duration::hours(48)))
                .min(report_end)
            };
            let affects_now = version < cve.fixed_in_version;
            let affected_before = version
                .checked_sub(1)
                .is_some_and(|previous| previous < cve.fixed_in_version);
            match updated_at {
                Some(update) if affected_before && !affects_now => vulns.push(VulnInstance {
                    software: sw,
                    version: version - 1,
                    cve: cve_idx as u16,
                    first_seen: found(rng).min(update),
                    fixed_at: Some(update),
                }),
                Some(update) if affects_now && !affected_before => vulns.push(VulnInstance {
                    software: sw,
                    version,
                    cve: cve_idx as u16,
                    first_seen: update,
                    fixed_at: None,
                }),
                _ if affects_now => vulns.push(VulnInstance {
                    software: sw,
                    version,
                    cve: cve_idx as u16,
                    first_seen: found(rng),
                    fixed_at: None,
                }),
                _ => {}
            }
        }
    }
    device.vulns = vulns;
}

/// Turns `original` into a reimaged machine and returns the record it left behind.
fn make_twin(
    rng: &mut ChaCha8Rng,
    original: &mut Device,
    now: DateTime<Utc>,
    dup_idx: usize,
) -> Device {
    let mut twin = original.clone();
    twin.id = hex(rng, 20);
    twin.first_seen = now - span(rng, Duration::days(60), Duration::days(500));
    let reimaged = now - span(rng, Duration::days(1), Duration::days(20));
    twin.last_seen = reimaged - span(rng, Duration::minutes(5), Duration::hours(6));
    twin.health_status = "Inactive";
    twin.is_potential_duplication = true;
    twin.aad_device_id = original.aad_device_id.as_ref().map(|_| guid(rng));
    if dup_idx.is_multiple_of(2) {
        twin.merged_into_machine_id = Some(original.id.clone());
    } else {
        original.is_potential_duplication = true;
    }
    for adapter in &mut twin.adapters {
        adapter.mac = mac(rng, false);
    }
    twin.report_phase = rng.random_range(0..86_400);
    original.first_seen = reimaged;
    if original.last_seen < reimaged {
        original.last_seen = reimaged + Duration::minutes(30);
        original.health_status = "Active";
    }
    for user in original
        .logon_users
        .iter_mut()
        .chain(twin.logon_users.iter_mut())
    {
        user.first_seen = user.first_seen.max(truncate_seconds(reimaged));
        user.last_seen = user.last_seen.max(user.first_seen);
    }
    twin
}

/// The address range of pool `idx`: `10.{16 + idx / 256}.{idx % 256}.0/24`, hosts .10–.250.
pub(crate) fn pool_for(idx: u32) -> Pool {
    Pool {
        network: Ipv4Addr::new(10, 16 + (idx / 256) as u8, (idx % 256) as u8, 0),
        prefix: 24,
        first_host: 10,
        last_host: 250,
    }
}

/// Runs DHCP over the last 30 days: every pooled adapter gets a sequence of leases, with the
/// quarantine that keeps corporate addresses unambiguous.
fn assign_leases(rng: &mut ChaCha8Rng, devices: &mut [Device], now: DateTime<Utc>) -> Vec<Pool> {
    let window_start = now - Duration::days(HISTORY_DAYS);
    // Group adapters by class so servers, clients and phones live in separate scopes.
    let mut members: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut open_pool: [Option<usize>; 3] = [None, None, None];
    let mut home_counter = 0u32;
    for (device_idx, device) in devices.iter_mut().enumerate() {
        let group = match device.class {
            DeviceClass::Server => 0,
            DeviceClass::Mobile => 2,
            _ => 1,
        };
        let home = device.class == DeviceClass::Laptop && rng.random_bool(0.15);
        for (adapter_idx, adapter) in device.adapters.iter_mut().enumerate() {
            if adapter.status != "Up" {
                continue;
            }
            if home {
                // Consumer routers hand out the same few addresses to everybody.
                home_counter += 1;
                let start = device.first_seen.max(window_start);
                let end = (device.health_status == "Inactive")
                    .then(|| device.last_seen + Duration::hours(1));
                adapter.leases.push(Lease {
                    ip: Ipv4Addr::new(
                        192,
                        168,
                        (home_counter % 2) as u8,
                        2 + (home_counter % 20) as u8,
                    ),
                    start,
                    end,
                });
                continue;
            }
            let pool_idx = match open_pool[group] {
                Some(pool_idx) if members[pool_idx].len() < POOL_LOAD => pool_idx,
                _ => {
                    members.push(Vec::new());
                    open_pool[group] = Some(members.len() - 1);
                    members.len() - 1
                }
            };
            members[pool_idx].push((device_idx, adapter_idx));
            adapter.pool = Some(pool_idx as u32);
        }
        let site_egress = Ipv4Addr::new(
            52,
            160 + (device_idx / 5_000 % 90) as u8,
            17,
            40 + (device_idx / 1_000 % 200) as u8,
        );
        device.last_external_ip_address = match (device.onboarding_status, home) {
            ("Onboarded", _) if rng.random_bool(0.05) => None,
            ("Onboarded", true) => Some(Ipv4Addr::new(
                73,
                rng.random_range(0..255),
                rng.random_range(0..255),
                rng.random_range(1..255),
            )),
            ("Onboarded", false) => Some(site_egress),
            _ => None,
        };
    }
    let pools: Vec<Pool> = (0..members.len() as u32).map(pool_for).collect();
    for (pool_idx, pool_members) in members.iter().enumerate() {
        run_pool(
            rng,
            devices,
            pool_members,
            pools[pool_idx],
            window_start,
            now,
        );
    }
    pools
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    End,
    Change,
    Start,
}

fn run_pool(
    rng: &mut ChaCha8Rng,
    devices: &mut [Device],
    pool_members: &[(usize, usize)],
    pool: Pool,
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    let mut events: Vec<(DateTime<Utc>, EventKind, usize)> = Vec::new();
    for (member_idx, &(device_idx, _)) in pool_members.iter().enumerate() {
        let device = &devices[device_idx];
        let start = device.first_seen.max(window_start);
        let end =
            (device.health_status == "Inactive").then(|| device.last_seen + Duration::hours(1));
        let stop = end.unwrap_or(now).min(now);
        events.push((start, EventKind::Start, member_idx));
        if let Some(end) = end {
            events.push((end, EventKind::End, member_idx));
        }
        let mean_hours = match device.class {
            DeviceClass::Server => 0.0,
            DeviceClass::Desktop => 8.0 * 24.0,
            DeviceClass::Laptop => 30.0,
            DeviceClass::Mobile => 16.0,
        };
        if mean_hours > 0.0 {
            let mut time = start;
            loop {
                let draw: f64 = rng.random_range(0.0001..1.0);
                let minutes = (-draw.ln() * mean_hours * 60.0).max(20.0) as i64;
                time += Duration::minutes(minutes)
                    + Duration::nanoseconds(rng.random_range(0..60_000_000_000i64 / 100) * 100);
                if time >= stop {
                    break;
                }
                events.push((time, EventKind::Change, member_idx));
            }
        }
    }
    events.sort_by_key(|event| (event.0, event.1, event.2));
    let quarantine = Duration::minutes(QUARANTINE_MINUTES);
    let mut free: Vec<(u8, Option<DateTime<Utc>>)> = (pool.first_host..=pool.last_host)
        .map(|host| (host, None))
        .collect();
    let mut held: Vec<Option<u8>> = vec![None; pool_members.len()];
    let octets = pool.network.octets();
    for (time, kind, member_idx) in events {
        let (device_idx, adapter_idx) = pool_members[member_idx];
        if kind != EventKind::Start
            && let Some(host) = held[member_idx].take()
        {
            free.push((host, Some(time)));
            if let Some(lease) = devices[device_idx].adapters[adapter_idx].leases.last_mut() {
                lease.end = Some(time);
            }
        }
        if kind == EventKind::End {
            continue;
        }
        let rested = |entry: &(u8, Option<DateTime<Utc>>)| {
            entry.1.is_none_or(|since| since + quarantine <= time)
        };
        // Random probes first; a full scan only when the pool is nearly exhausted.
        let mut slot = None;
        for _ in 0..8 {
            if free.is_empty() {
                break;
            }
            let probe = rng.random_range(0..free.len());
            if rested(&free[probe]) {
                slot = Some(probe);
                break;
            }
        }
        if slot.is_none() {
            let available: Vec<usize> = free
                .iter()
                .enumerate()
                .filter(|(_, entry)| rested(entry))
                .map(|(idx, _)| idx)
                .collect();
            slot = available.choose(rng).copied();
        }
        let Some(slot) = slot else { continue };
        let (host, _) = free.swap_remove(slot);
        held[member_idx] = Some(host);
        devices[device_idx].adapters[adapter_idx]
            .leases
            .push(Lease {
                ip: Ipv4Addr::new(octets[0], octets[1], octets[2], host),
                start: time,
                end: None,
            });
    }
}

fn generate_alerts(
    rng: &mut ChaCha8Rng,
    devices: &[Device],
    users: &[DomainUser],
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let eligible: Vec<usize> = devices
        .iter()
        .enumerate()
        .filter(|(_, device)| {
            device.onboarding_status == "Onboarded" && device.class != DeviceClass::Mobile
        })
        .map(|(idx, _)| idx)
        .collect();
    if eligible.is_empty() {
        return Vec::new();
    }
    let n_alerts = (devices.len() * 3 / 10).max(5);
    let mut alerts: Vec<Alert> = (0..n_alerts)
        .map(|serial| {
            let device = &devices[*eligible.choose(rng).expect("non-empty")];
            new_alert(rng, device, users, now, serial as u64)
        })
        .collect();
    alerts.sort_by_key(|alert| alert.alert_creation_time);
    alerts
}

pub(crate) fn new_alert(
    rng: &mut ChaCha8Rng,
    device: &Device,
    users: &[DomainUser],
    now: DateTime<Utc>,
    serial: u64,
) -> Alert {
    let kind_idx = rng.random_range(0..catalog::ALERT_KINDS.len());
    let kind = &catalog::ALERT_KINDS[kind_idx];
    let active_until = device.last_seen.min(now);
    let window_start = device.first_seen.max(now - Duration::days(HISTORY_DAYS));
    let creation = if active_until > window_start {
        window_start + span(rng, Duration::zero(), active_until - window_start)
    } else {
        active_until
    };
    let first_event = creation - span(rng, Duration::minutes(1), Duration::hours(2));
    let last_event = first_event + span(rng, Duration::zero(), creation - first_event);
    let status = *pick_weighted(rng, &[("New", 45), ("InProgress", 15), ("Resolved", 40)]);
    let last_update = if status == "New" && rng.random_bool(0.5) {
        creation + Duration::nanoseconds(rng.random_range(1..10_000_000) * 100)
    } else {
        creation
            + span(
                rng,
                Duration::minutes(1),
                (now - creation).max(Duration::minutes(2)),
            )
    }
    .min(now);
    let resolved = status == "Resolved";
    let (classification, determination) = if resolved {
        *pick_weighted(
            rng,
            &[
                ((Some("TruePositive"), Some("Malware")), 30),
                ((Some("TruePositive"), Some("MultiStagedAttack")), 5),
                (
                    (
                        Some("InformationalExpectedActivity"),
                        Some("SecurityTesting"),
                    ),
                    20,
                ),
                ((Some("FalsePositive"), Some("NotMalicious")), 30),
                ((None, None), 15),
            ],
        )
    } else {
        (None, None)
    };
    let primary_user = device
        .logon_users
        .iter()
        .find_map(|user| user.user)
        .map(|idx| &users[idx as usize]);
    let severity = *pick_weighted(
        rng,
        &[
            ("Informational", 10),
            ("Low", 25),
            ("Medium", 40),
            ("High", 25),
        ],
    );
    let ticks = (creation.timestamp() + 62_135_596_800) * 10_000_000
        + i64::from(creation.timestamp_subsec_nanos() / 100);
    let evidence = kind
        .evidence
        .iter()
        .map(|entity| make_evidence(rng, entity, creation, device, primary_user))
        .collect();
    Alert {
        id: format!(
            "da{ticks}_{}",
            rng.random_range(1_000_000_000u64..9_999_999_999)
        ),
        incident_id: Some(1_000 + serial as i64 / 2),
        investigation_id: rng
            .random_bool(0.5)
            .then(|| rng.random_range(10_000..99_999)),
        assigned_to: (status != "New").then(|| "secops@contoso-sim.com".to_owned()),
        severity,
        status,
        classification,
        determination,
        investigation_state: Some(*pick_weighted(
            rng,
            &[
                ("Running", 10),
                ("SuccessfullyRemediated", 20),
                ("Benign", 20),
                ("UnsupportedAlertType", 30),
                ("PendingApproval", 5),
                ("TerminatedBySystem", 15),
            ],
        )),
        detection_source: kind.detection_source,
        detector_id: detector_id(kind_idx),
        category: kind.category,
        threat_family_name: kind.threat_family,
        title: kind.title,
        description: format!(
            "{} was observed on {}.",
            kind.title, device.computer_dns_name
        ),
        alert_creation_time: creation,
        first_event_time: Some(first_event),
        last_event_time: Some(last_event),
        last_update_time: last_update,
        resolved_time: resolved.then_some(last_update),
        machine_id: device.id.clone(),
        computer_dns_name: device.computer_dns_name.clone(),
        rbac_group_name: device.rbac_group_name,
        threat_name: kind.threat_family.map(|family| match family {
            "Mimikatz" => "HackTool:Win32/Mimikatz.D",
            "Emotet" => "Trojan:Win32/Emotet.RPX!MTB",
            _ => "PUA:Win32/BundleInstaller",
        }),
        mitre_techniques: kind.mitre.to_vec(),
        related_user: if kind.evidence.contains(&"User") {
            primary_user.map(|user| (user.account_name.clone(), user.domain.to_owned()))
        } else {
            None
        },
        logged_on_users: device
            .logon_users
            .iter()
            .filter_map(|user| user.user)
            .map(|idx| {
                (
                    users[idx as usize].account_name.clone(),
                    users[idx as usize].domain.to_owned(),
                )
            })
            .collect(),
        comments: if resolved {
            vec![AlertComment {
                comment: "Reviewed and closed".to_owned(),
                created_by: "secops@contoso-sim.com".to_owned(),
                created_time: last_update,
            }]
        } else {
            Vec::new()
        },
        evidence,
        kind: kind_idx as u8,
    }
}

fn make_evidence(
    rng: &mut ChaCha8Rng,
    entity: &str,
    creation: DateTime<Utc>,
    device: &Device,
    user: Option<&DomainUser>,
) -> Evidence {
    let mut evidence = Evidence {
        entity_type: match entity {
            "File" => "File",
            "Process" => "Process",
            "User" => "User",
            "Ip" => "Ip",
            "Url" => "Url",
            _ => "Registry",
        },
        evidence_creation_time: Some(creation),
        ..Evidence::default()
    };
    match entity {
        "File" | "Process" => {
            let (name, path) = if entity == "File" {
                ("invoice_0423.exe", "C:\\Users\\Public\\Downloads")
            } else {
                (
                    "powershell.exe",
                    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
                )
            };
            evidence.sha1 = Some(hex(rng, 20));
            evidence.sha256 = Some(hex(rng, 32));
            evidence.file_name = Some(name.to_owned());
            evidence.file_path = Some(path.to_owned());
            evidence.detection_status = Some(if entity == "File" {
                "Blocked"
            } else {
                "Detected"
            });
            if entity == "Process" {
                let started = creation - Duration::minutes(rng.random_range(1..90));
                evidence.process_id = Some(rng.random_range(1_000..60_000));
                evidence.process_command_line =
                    Some("powershell.exe -NoProfile -EncodedCommand SQBFAFgA".to_owned());
                evidence.process_creation_time = Some(started);
                evidence.parent_process_id = Some(rng.random_range(500..9_000));
                evidence.parent_process_creation_time = Some(started - Duration::minutes(3));
                evidence.parent_process_file_name = Some("explorer.exe".to_owned());
                evidence.parent_process_file_path = Some("C:\\Windows".to_owned());
            }
        }
        "User" => {
            if let Some(user) = user {
                evidence.account_name = Some(user.account_name.clone());
                evidence.domain_name = Some(user.domain.to_owned());
                evidence.user_sid = Some(user.sid.clone());
                evidence.aad_user_id = Some(user.aad_object_id.clone());
                evidence.user_principal_name = Some(user.upn.clone());
            } else {
                evidence.account_name = Some("administrator".to_owned());
                evidence.domain_name =
                    Some(super::short_name(&device.computer_dns_name).to_ascii_uppercase());
                evidence.user_sid = Some(format!("{}-500", device.machine_sid));
            }
        }
        "Ip" => {
            evidence.ip_address = Some(format!(
                "{}.{}.{}.{}",
                rng.random_range(23..199),
                rng.random_range(0..255),
                rng.random_range(0..255),
                rng.random_range(1..255)
            ));
        }
        "Url" => {
            evidence.url = Some(format!(
                "http://login-verify{}.example-phish.net/",
                rng.random_range(1..99)
            ));
        }
        _ => {
            evidence.registry_key =
                Some("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run".to_owned());
            evidence.registry_hive = Some("HKEY_LOCAL_MACHINE".to_owned());
            evidence.registry_value_type = Some("String".to_owned());
            evidence.registry_value = Some("C:\\Users\\Public\\updater.exe".to_owned());
            evidence.registry_value_name = Some("Updater".to_owned());
        }
    }
    evidence
}

/// The detector of an alert kind: a stable GUID per kind.
fn detector_id(kind_idx: usize) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(catalog::ALERT_KINDS[kind_idx].title.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}
