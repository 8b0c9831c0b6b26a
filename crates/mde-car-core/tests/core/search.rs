//! Search against the simulator's ground truth. Each tenant's truth (devices with adapters and
//! lease history, alerts, logged-on users, vulnerabilities) is converted to the core's model
//! types here and applied to a store as one sync batch; every query kind is then checked
//! against what the simulator says happened.

use std::{
    collections::{BTreeSet, HashSet},
    net::{IpAddr, Ipv4Addr},
};

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use mde_car_core::{
    Core, ErrorCode,
    config::{Cloud, Connection, DataSelection, Frequency},
    model::{
        Alert, Device, DeviceAddress, DeviceVulnerability, LogonObservation, MacAddress,
        NetworkObservation, ObservedAddress,
    },
    paths::DataDir,
    search::{RelationKind, RelationSource, SearchRequest, SortKey},
    settings::{FileSettings, Settings, SettingsBackend},
    store::{DeviceBatch, RunFinish, Store, SyncBatch, VulnerabilityBatch},
};
use mde_sim::{Sim, SimConfig, Tenant, Truth, tenant::DeviceClass};

const DEVICES: usize = 240;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// One simulated tenant behind one connection.
struct TenantUnderTest {
    connection: Connection,
    truth: Truth,
    tenant: Tenant,
    _sim: Sim,
}

struct World {
    core: Core,
    tenants: Vec<TenantUnderTest>,
    _dir: tempfile::TempDir,
}

impl World {
    fn first(&self) -> &TenantUnderTest {
        &self.tenants[0]
    }

    async fn search(&self, request: SearchRequest) -> mde_car_core::search::SearchResults {
        self.core
            .search(&request)
            .await
            .unwrap_or_else(|error| panic!("{request:?}: {error}"))
    }

    /// Device ids of every hit (all pages), optionally of one connection.
    async fn devices(&self, query: &str, connection: Option<&str>) -> BTreeSet<String> {
        let mut request = SearchRequest::new(query);
        request.connection = connection.map(str::to_owned);
        request.limit = 1_000;
        let results = self.search(request).await;
        assert!(
            results.total <= 1_000,
            "more than a page: {}",
            results.total
        );
        results.hits.into_iter().map(|hit| hit.device_id).collect()
    }
}

/// Tenants of `seeds` as connections named Contoso, Fabrikam, … in one data folder.
async fn world(seeds: &[u64]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let store = Store::open(&data.database_file()).unwrap();
    let mut tenants = Vec::new();
    for (index, seed) in seeds.iter().enumerate() {
        let sim = Sim::start(SimConfig {
            devices: DEVICES,
            seed: *seed,
            start_time: Some(now()),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let truth = sim.truth();
        let tenant = truth.snapshot();
        let connection = Connection {
            id: format!("connection-{seed}"),
            name: ["Contoso", "Fabrikam", "Northwind"][index].to_owned(),
            description: String::new(),
            tenant_id: sim.tenant_id(),
            client_id: sim.client_id(),
            certificate: None,
            frequency: Frequency::default(),
            cloud: Cloud::default(),
            api_base_url: None,
            login_authority: None,
            proxy_url: None,
            ca_certificate_file: None,
            data: DataSelection::default(),
            demo: false,
            created_at: now(),
        };
        apply(&store, &connection.id, &truth, &tenant);
        tenants.push(TenantUnderTest {
            connection,
            truth,
            tenant,
            _sim: sim,
        });
    }
    FileSettings::new(data.settings_file())
        .save(&Settings {
            connections: tenants.iter().map(|t| t.connection.clone()).collect(),
        })
        .unwrap();
    drop(store);
    World {
        core: Core::open(data).unwrap(),
        tenants,
        _dir: dir,
    }
}

/// The tenant as one full sync would store it.
fn apply(store: &Store, connection_id: &str, truth: &Truth, tenant: &Tenant) {
    let run_id = store
        .begin_run(connection_id, "full", "test", now())
        .unwrap();
    let listed: Vec<&mde_sim::tenant::Device> = tenant.listed_devices().collect();
    let mut network = Vec::new();
    let mut logons = Vec::new();
    let mut vulnerabilities = Vec::new();
    for device in &listed {
        network.extend(network_reports(device));
        for user in truth.logon_users(&device.id) {
            for timestamp in [user.first_seen, user.last_seen] {
                logons.push(LogonObservation {
                    timestamp,
                    device_id: device.id.clone(),
                    account_domain: Some(user.account_domain.clone()),
                    account_name: user.account_name.clone(),
                    account_sid: Some(user.account_sid.clone()),
                    logon_type: Some(user.logon_types.to_owned()),
                    is_local_admin: Some(user.is_local_admin),
                });
            }
        }
        for fact in truth.vulnerabilities(&device.id, false) {
            vulnerabilities.push(DeviceVulnerability {
                device_id: fact.machine_id.into(),
                cve_id: fact.cve_id.into(),
                cvss_score: Some(fact.cvss_v3),
                severity: Some(fact.severity.into()),
                software_vendor: fact.product_vendor.into(),
                software_name: fact.product_name.into(),
                software_version: fact.product_version.into(),
                first_seen: Some(fact.first_seen),
                last_seen: None,
            });
        }
    }
    let batch = SyncBatch {
        connection_id: connection_id.to_owned(),
        run_id,
        now: now(),
        devices: Some(DeviceBatch {
            devices: listed.iter().map(|device| model_device(device)).collect(),
            complete_full_listing: true,
        }),
        alerts: Some(tenant.alerts.iter().map(model_alert).collect()),
        network: Some(network),
        logons: Some(logons),
        vulnerabilities: Some(VulnerabilityBatch::Full(vulnerabilities)),
        watermarks: Vec::new(),
        availability: Vec::new(),
    };
    store.apply_sync(&batch, &RunFinish::default()).unwrap();
}

/// The store keeps milliseconds.
fn ms(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap()
}

fn mac(text: &str) -> MacAddress {
    text.parse().unwrap()
}

/// The device record as `/api/machines` prints it: each adapter's current lease (or its last
/// one when the device no longer reports, or APIPA), global and link-local IPv6, loopback.
fn model_device(device: &mde_sim::tenant::Device) -> Device {
    let mut addresses = Vec::new();
    let address = |ip: IpAddr, mac: Option<MacAddress>, kind: &str| DeviceAddress {
        ip,
        mac,
        interface_type: Some(kind.to_owned()),
        operational_status: Some("Up".to_owned()),
    };
    for adapter in &device.adapters {
        let current = adapter
            .leases
            .last()
            .filter(|lease| lease.end.is_none() || !device.is_reporting())
            .map(|lease| lease.ip)
            .or(adapter.apipa);
        if let Some(ip) = current {
            addresses.push(address(
                IpAddr::V4(ip),
                Some(mac(&adapter.mac)),
                adapter.adapter_type,
            ));
        }
        if let Some(global) = adapter.ipv6_global {
            addresses.push(address(
                IpAddr::V6(global),
                Some(mac(&adapter.mac)),
                adapter.adapter_type,
            ));
        }
        addresses.push(address(
            IpAddr::V6(adapter.ipv6_link_local),
            Some(mac(&adapter.mac)),
            adapter.adapter_type,
        ));
    }
    if device.class != DeviceClass::Mobile {
        addresses.push(address(
            "127.0.0.1".parse().unwrap(),
            None,
            "SoftwareLoopback",
        ));
    }
    Device {
        id: device.id.clone(),
        computer_dns_name: Some(device.computer_dns_name.clone()),
        first_seen: Some(device.first_seen),
        last_seen: Some(device.last_seen),
        os_platform: Some(device.os_platform.to_owned()),
        os_version: device.os_version.map(str::to_owned),
        os_build: device.os_build,
        version: device.version.map(str::to_owned),
        os_architecture: Some(device.os_architecture.to_owned()),
        health_status: Some(device.health_status.to_owned()),
        onboarding_status: Some(device.onboarding_status.to_owned()),
        risk_score: device.risk_score.map(str::to_owned),
        exposure_level: device.exposure_level.map(str::to_owned),
        device_value: device.device_value.map(str::to_owned),
        machine_tags: device.machine_tags.clone(),
        rbac_group_id: Some(device.rbac_group_id),
        rbac_group_name: device.rbac_group_name.map(str::to_owned),
        aad_device_id: device.aad_device_id.clone(),
        is_aad_joined: Some(device.is_aad_joined),
        last_ip_address: device.last_ip_address().map(IpAddr::V4),
        last_external_ip_address: device.last_external_ip_address.map(IpAddr::V4),
        merged_into_machine_id: device.merged_into_machine_id.clone(),
        is_potential_duplication: device.is_potential_duplication,
        addresses,
    }
}

/// DeviceNetworkInfo as the IP history sees it: a report when a lease starts, and an empty one
/// when it ends without another starting at that moment.
fn network_reports(device: &mde_sim::tenant::Device) -> Vec<NetworkObservation> {
    let mut reports = Vec::new();
    for adapter in &device.adapters {
        let report = |timestamp, ips: Vec<Ipv4Addr>| NetworkObservation {
            timestamp,
            device_id: device.id.as_str().into(),
            adapter_name: Some(adapter.name.as_str().into()),
            mac: Some(mac(&adapter.mac)),
            addresses: ips
                .into_iter()
                .map(|ip| ObservedAddress {
                    ip: IpAddr::V4(ip),
                    prefix: Some(adapter.subnet_prefix),
                })
                .collect(),
        };
        for (index, lease) in adapter.leases.iter().enumerate() {
            reports.push(report(lease.start, vec![lease.ip]));
            let next_start = adapter.leases.get(index + 1).map(|next| next.start);
            if let Some(end) = lease.end
                && next_start != Some(end)
            {
                reports.push(report(end, Vec::new()));
            }
        }
    }
    reports
}

fn model_alert(alert: &mde_sim::tenant::Alert) -> Alert {
    Alert {
        id: alert.id.clone(),
        title: alert.title.to_owned(),
        description: Some(alert.description.clone()),
        severity: alert.severity.to_owned(),
        status: alert.status.to_owned(),
        category: Some(alert.category.to_owned()),
        classification: alert.classification.map(str::to_owned),
        determination: alert.determination.map(str::to_owned),
        detection_source: Some(alert.detection_source.to_owned()),
        machine_id: Some(alert.machine_id.clone()),
        computer_dns_name: Some(alert.computer_dns_name.clone()),
        created: alert.alert_creation_time,
        last_updated: alert.last_update_time,
        first_event: alert.first_event_time,
        last_event: alert.last_event_time,
        resolved: alert.resolved_time,
        mitre_techniques: alert
            .mitre_techniques
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
    }
}

fn is_corporate(ip: Ipv4Addr) -> bool {
    ip.octets()[0] == 10
}

/// Listed devices that hold a corporate address now, with it.
fn current_corporate(tenant: &Tenant) -> Vec<(String, Ipv4Addr)> {
    tenant
        .listed_devices()
        .filter(|device| device.is_reporting())
        .flat_map(|device| {
            device.adapters.iter().filter_map(move |adapter| {
                adapter
                    .leases
                    .last()
                    .filter(|lease| lease.end.is_none() && is_corporate(lease.ip))
                    .map(|lease| (device.id.clone(), lease.ip))
            })
        })
        .collect()
}

/// Listed devices that ever had an address in `network` (lease history or record).
fn holders_in(tenant: &Tenant, network: &IpNet) -> BTreeSet<String> {
    tenant
        .listed_devices()
        .filter(|device| {
            let record = model_device(device);
            device
                .adapters
                .iter()
                .flat_map(|adapter| adapter.leases.iter())
                .any(|lease| network.contains(&IpAddr::V4(lease.ip)))
                || record.addresses.iter().any(|a| network.contains(&a.ip))
                || device
                    .last_external_ip_address
                    .is_some_and(|ip| network.contains(&IpAddr::V4(ip)))
        })
        .map(|device| device.id.clone())
        .collect()
}

#[tokio::test]
async fn an_address_finds_its_current_holder_and_everyone_who_held_it() {
    let world = world(&[1]).await;
    let tenant = &world.first().tenant;
    let current = current_corporate(tenant);
    assert!(
        current.len() > 50,
        "the tenant has addresses: {}",
        current.len()
    );
    for (device_id, ip) in current.iter().step_by(9) {
        let results = world.search(SearchRequest::new(ip.to_string())).await;
        let current_holders: BTreeSet<&str> = results
            .hits
            .iter()
            .filter(|hit| {
                hit.relations.iter().any(|r| {
                    r.kind == RelationKind::CurrentHolder && r.source == RelationSource::IpHistory
                })
            })
            .map(|hit| hit.device_id.as_str())
            .collect();
        let truth: BTreeSet<String> = world
            .first()
            .truth
            .ip_holders_at(*ip, now())
            .into_iter()
            .collect();
        assert_eq!(
            current_holders,
            truth.iter().map(String::as_str).collect::<BTreeSet<&str>>(),
            "{ip}"
        );
        assert_eq!(
            results.hits[0].device_id, *device_id,
            "{ip}: the current holder comes first"
        );
        assert_eq!(results.hits[0].connection.name.as_deref(), Some("Contoso"));
        assert!(
            results.hits[0].relations[0]
                .text
                .starts_with(&format!("current holder of {ip} (private)")),
            "{}",
            results.hits[0].relations[0].text
        );
        let everyone: BTreeSet<String> = world
            .first()
            .truth
            .ip_history(*ip)
            .into_iter()
            .map(|(device, _)| device)
            .filter(|id| tenant.device(id).is_some_and(|d| d.removed_at.is_none()))
            .collect();
        let found: BTreeSet<String> = results
            .hits
            .iter()
            .map(|hit| hit.device_id.clone())
            .collect();
        assert_eq!(found, everyone, "{ip}: current and past holders");
        assert_eq!(results.total, everyone.len());
    }
}

#[tokio::test]
async fn an_address_at_a_time_follows_dhcp_churn() {
    let world = world(&[1]).await;
    let truth = &world.first().truth;
    let ip = truth.reused_ip().expect("the simulator reuses addresses");
    let history = truth.ip_history(ip);
    let holders: HashSet<&str> = history.iter().map(|(device, _)| device.as_str()).collect();
    assert!(holders.len() > 1, "{ip} has several holders: {history:?}");
    let mut checked = 0;
    for (index, (device, lease)) in history.iter().enumerate() {
        let end = lease.end.unwrap_or(now());
        let middle = lease.start + (end - lease.start) / 2;
        for time in [lease.start, middle, end - Duration::seconds(1)] {
            if time >= now() {
                continue;
            }
            assert_eq!(
                truth.ip_owner_at(ip, time).as_deref(),
                Some(device.as_str())
            );
            let query = format!("{ip} @ {}", time.to_rfc3339());
            let found = world.devices(&query, None).await;
            assert_eq!(found, BTreeSet::from([device.clone()]), "{query}");
            checked += 1;
        }
        // The rest between two holders: nobody.
        if let (Some(end), Some((_, next))) = (lease.end, history.get(index + 1))
            && next.start - end > Duration::minutes(2)
        {
            let gap = end + Duration::minutes(1);
            assert!(truth.ip_owner_at(ip, gap).is_none());
            let request = SearchRequest::new(format!("{ip} @ {}", gap.format("%Y-%m-%d %H:%M:%S")));
            let results = world.search(request).await;
            assert_eq!(results.total, 0, "{gap}");
            assert!(
                results.notes.iter().any(|n| n.contains("read as UTC")),
                "{:?}",
                results.notes
            );
            assert!(
                results.notes.iter().any(|n| n.contains("but none at")),
                "{:?}",
                results.notes
            );
        }
    }
    assert!(checked >= 4, "{checked} moments checked");
    // The separate time field means the same; the minute form too.
    let (device, lease) = &history[0];
    let minute = (lease.start + Duration::minutes(2))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let mut request = SearchRequest::new(ip.to_string());
    request.at = Some(minute.clone());
    let results = world.search(request).await;
    assert_eq!(results.hits.len(), 1, "{minute}");
    assert_eq!(&results.hits[0].device_id, device);
    assert_eq!(
        results.hits[0].relations[0].kind,
        RelationKind::HolderAtTime
    );
}

#[tokio::test]
async fn ipv6_and_cidr_ranges() {
    let world = world(&[1]).await;
    let tenant = &world.first().tenant;
    let (device, global) = tenant
        .listed_devices()
        .find_map(|d| {
            d.adapters
                .iter()
                .find_map(|a| a.ipv6_global)
                .map(|ip| (d.id.clone(), ip))
        })
        .expect("some device has a global IPv6 address");
    let results = world
        .search(SearchRequest::new(global.to_string().to_uppercase()))
        .await;
    assert_eq!(results.hits.len(), 1);
    assert_eq!(results.hits[0].device_id, device);
    assert_eq!(
        results.hits[0].relations[0].kind,
        RelationKind::CurrentHolder
    );
    assert_eq!(
        results.hits[0].relations[0].source,
        RelationSource::DeviceRecord
    );
    let ipv6_net: IpNet = format!("{global}/64").parse::<IpNet>().unwrap().trunc();
    assert_eq!(
        world.devices(&ipv6_net.to_string(), None).await,
        holders_in(tenant, &ipv6_net)
    );

    let (_, ip) = current_corporate(tenant)[0];
    for prefix in [24, 20, 16] {
        let network = IpNet::new(IpAddr::V4(ip), prefix).unwrap().trunc();
        let expected = holders_in(tenant, &network);
        let mut request = SearchRequest::new(network.to_string());
        request.limit = 1_000;
        let results = world.search(request).await;
        assert_eq!(results.total, expected.len(), "{network}");
        let found: BTreeSet<String> = results.hits.iter().map(|h| h.device_id.clone()).collect();
        assert_eq!(found, expected, "{network}");
        for hit in &results.hits {
            assert!(
                hit.relations
                    .iter()
                    .all(|r| r.address_class.as_deref() == Some("private")),
                "{network}: {:?}",
                hit.relations
            );
        }
    }
}

#[tokio::test]
async fn host_name_prefixes_and_macs_in_four_notations() {
    let world = world(&[1]).await;
    let tenant = &world.first().tenant;
    let listed: Vec<&mde_sim::tenant::Device> = tenant.listed_devices().collect();
    for device in listed.iter().step_by(40) {
        let name = &device.computer_dns_name;
        for prefix in [
            &name[..3],
            &name[..name.find('.').unwrap_or(name.len())],
            name.as_str(),
        ] {
            let expected: BTreeSet<String> = listed
                .iter()
                .filter(|d| d.computer_dns_name.starts_with(&prefix.to_lowercase()))
                .map(|d| d.id.clone())
                .collect();
            assert_eq!(
                world.devices(&prefix.to_uppercase(), None).await,
                expected,
                "{prefix}"
            );
        }
        let adapter = &device.adapters[0];
        let hex = adapter.mac.to_lowercase();
        let pairs: Vec<&str> = (0..12).step_by(2).map(|i| &hex[i..i + 2]).collect();
        let expected: BTreeSet<String> = listed
            .iter()
            .filter(|d| d.adapters.iter().any(|a| a.mac == adapter.mac))
            .map(|d| d.id.clone())
            .collect();
        for notation in [
            pairs.join(":"),
            pairs.join("-").to_uppercase(),
            format!("{}.{}.{}", &hex[0..4], &hex[4..8], &hex[8..12]),
            adapter.mac.clone(),
        ] {
            let results = world.search(SearchRequest::new(notation.clone())).await;
            let found: BTreeSet<String> =
                results.hits.iter().map(|h| h.device_id.clone()).collect();
            assert_eq!(found, expected, "{notation}");
            assert_eq!(results.hits[0].relations[0].kind, RelationKind::MacAddress);
            assert_eq!(results.query.value(), pairs.join(":").to_uppercase());
        }
    }
}

#[tokio::test]
async fn an_address_in_two_tenants_is_told_apart_by_connection() {
    let world = world(&[1, 2]).await;
    let (contoso, fabrikam) = (&world.tenants[0], &world.tenants[1]);
    let in_fabrikam: std::collections::HashMap<Ipv4Addr, String> =
        current_corporate(&fabrikam.tenant)
            .into_iter()
            .map(|(device, ip)| (ip, device))
            .collect();
    let (contoso_device, ip, fabrikam_device) = current_corporate(&contoso.tenant)
        .into_iter()
        .find_map(|(device, ip)| {
            in_fabrikam
                .get(&ip)
                .map(|other| (device, ip, other.clone()))
        })
        .expect("both tenants use the same corporate scopes");
    let results = world.search(SearchRequest::new(ip.to_string())).await;
    let current: BTreeSet<(String, String)> = results
        .hits
        .iter()
        .filter(|hit| hit.relations.iter().any(|r| r.current))
        .map(|hit| (hit.connection.name.clone().unwrap(), hit.device_id.clone()))
        .collect();
    assert!(
        current.contains(&("Contoso".to_owned(), contoso_device.clone())),
        "{current:?}"
    );
    assert!(
        current.contains(&("Fabrikam".to_owned(), fabrikam_device.clone())),
        "{current:?}"
    );

    for (name, id, expected) in [
        ("fabrikam", &fabrikam.connection.id, &fabrikam_device),
        ("Contoso", &contoso.connection.id, &contoso_device),
    ] {
        let mut request = SearchRequest::new(ip.to_string());
        request.connection = Some(name.to_owned());
        let filtered = world.search(request).await;
        assert!(filtered.hits.iter().all(|hit| &hit.connection.id == id));
        assert_eq!(&filtered.hits[0].device_id, expected);
        assert!(
            filtered
                .notes
                .iter()
                .any(|n| n.contains("in other connections")),
            "{:?}",
            filtered.notes
        );
        assert_eq!(filtered.connection.as_ref().map(|c| &c.id), Some(id));
    }
    let mut unknown = SearchRequest::new(ip.to_string());
    unknown.connection = Some("Northwind".to_owned());
    let error = world.core.search(&unknown).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::NotFound);
    // The Defender device id of one tenant is unique across both.
    let detail = world.core.asset_detail(&contoso_device).await.unwrap();
    assert_eq!(detail.connection.name.as_deref(), Some("Contoso"));
}

#[tokio::test]
async fn results_page_and_sort_by_risk_name_and_last_seen() {
    let world = world(&[1]).await;
    let everyone = world.devices("10.0.0.0/8", None).await;
    assert!(everyone.len() > 100);
    for sort in [
        SortKey::Risk,
        SortKey::Name,
        SortKey::LastSeen,
        SortKey::Relevance,
    ] {
        let mut pages = Vec::new();
        let mut offset = 0;
        loop {
            let mut request = SearchRequest::new("10.0.0.0/8");
            request.sort = sort;
            request.offset = offset;
            request.limit = 37;
            let page = world.search(request).await;
            assert_eq!(page.total, everyone.len(), "{sort:?}");
            if page.hits.is_empty() {
                break;
            }
            offset += page.hits.len();
            pages.extend(page.hits);
        }
        let ids: Vec<&str> = pages.iter().map(|h| h.device_id.as_str()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), everyone.len(), "{sort:?}: every hit once");
        assert_eq!(unique.len(), ids.len(), "{sort:?}: no hit twice");
        for pair in pages.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            match sort {
                SortKey::Risk => assert!(a.risk.score >= b.risk.score),
                SortKey::Name => assert!(a.name <= b.name, "{:?} {:?}", a.name, b.name),
                SortKey::LastSeen => assert!(
                    a.last_seen.unwrap_or(a.last_synced) >= b.last_seen.unwrap_or(b.last_synced)
                ),
                SortKey::Relevance => {
                    let current =
                        |h: &mde_car_core::search::AssetHit| h.relations.iter().any(|r| r.current);
                    assert!(current(a) || !current(b), "current holders first");
                }
            }
        }
        if sort == SortKey::Risk {
            assert!(
                pages[0].risk.score > pages[pages.len() - 1].risk.score,
                "scores differ"
            );
        }
    }
    let mut reversed = SearchRequest::new("10.0.0.0/8");
    reversed.sort = SortKey::Name;
    reversed.reverse = true;
    reversed.limit = 2;
    let reversed = world.search(reversed).await;
    assert!(reversed.hits[0].name >= reversed.hits[1].name);
}

#[tokio::test]
async fn the_asset_detail_matches_the_truth() {
    let world = world(&[1]).await;
    let under_test = world.first();
    let tenant = &under_test.tenant;
    let device = tenant
        .listed_devices()
        .filter(|d| d.is_reporting())
        .filter(|d| d.current_vulns().count() > 1 && !d.logon_users.is_empty())
        .find(|d| {
            tenant
                .alerts
                .iter()
                .any(|a| a.machine_id == d.id && a.status != "Resolved")
        })
        .expect("a device with alerts, vulnerabilities and users");
    let detail = world
        .core
        .asset_detail(&format!("contoso:{}", device.id))
        .await
        .unwrap();
    assert_eq!(detail.device_id, device.id);
    assert_eq!(detail.connection.name.as_deref(), Some("Contoso"));
    assert_eq!(
        detail.name.as_deref(),
        Some(device.computer_dns_name.as_str())
    );
    assert_eq!(detail.host_names[0].value, device.computer_dns_name);
    assert_eq!(detail.os.platform.as_deref(), Some(device.os_platform));
    assert_eq!(detail.tags, device.machine_tags);
    assert_eq!(detail.aad_device_id, device.aad_device_id);
    assert_eq!(detail.rbac_group_name.as_deref(), device.rbac_group_name);
    assert_eq!(detail.defender.risk_score.as_deref(), device.risk_score);
    assert_eq!(detail.defender.device_value.as_deref(), device.device_value);
    let macs: BTreeSet<String> = detail
        .mac_addresses
        .iter()
        .map(|m| m.value.replace(':', ""))
        .collect();
    let truth_macs: BTreeSet<String> = device.adapters.iter().map(|a| a.mac.clone()).collect();
    assert_eq!(macs, truth_macs);
    let leases: usize = device.adapters.iter().map(|a| a.leases.len()).sum();
    assert_eq!(detail.ip_history.len(), leases);
    let record: BTreeSet<String> = model_device(device)
        .addresses
        .iter()
        .map(|a| a.ip.to_string())
        .collect();
    let active: BTreeSet<String> = detail
        .ip_addresses
        .iter()
        .filter(|a| a.active && a.source == RelationSource::DeviceRecord)
        .map(|a| a.address.clone())
        .collect();
    assert_eq!(active, record);
    let accounts: BTreeSet<(String, Option<String>)> = detail
        .accounts
        .iter()
        .map(|a| (a.name.clone(), a.sid.clone()))
        .collect();
    let truth_accounts: BTreeSet<(String, Option<String>)> = under_test
        .truth
        .logon_users(&device.id)
        .into_iter()
        .map(|u| (u.account_name, Some(u.account_sid)))
        .collect();
    assert_eq!(accounts, truth_accounts);
    let alerts: BTreeSet<&str> = detail.alerts.iter().map(|a| a.alert_id.as_str()).collect();
    let truth_alerts: BTreeSet<&str> = tenant
        .alerts
        .iter()
        .filter(|a| a.machine_id == device.id)
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(alerts, truth_alerts);
    let active_alerts = tenant
        .alerts
        .iter()
        .filter(|a| a.machine_id == device.id && a.status != "Resolved")
        .count() as u64;
    assert_eq!(
        detail.alert_counts.high
            + detail.alert_counts.medium
            + detail.alert_counts.low
            + detail.alert_counts.informational,
        active_alerts
    );
    let cves: BTreeSet<String> = detail
        .vulnerabilities
        .iter()
        .filter(|v| v.active)
        .map(|v| v.cve.clone())
        .collect();
    let truth_vulns = under_test.truth.vulnerabilities(&device.id, false);
    let truth_cves: BTreeSet<String> = truth_vulns.iter().map(|v| v.cve_id.clone()).collect();
    assert_eq!(cves, truth_cves);
    let max_cvss = truth_vulns.iter().map(|v| v.cvss_v3).fold(0.0, f64::max);
    assert_eq!(detail.vulnerability_summary.max_cvss, Some(max_cvss));
    assert_eq!(detail.vulnerability_summary.active, truth_cves.len() as u64);
    let first = &detail.vulnerabilities[0];
    assert_eq!(first.cvss, Some(max_cvss), "highest CVSS first");
    assert!(!first.vendor.is_empty() && !first.product.is_empty() && !first.version.is_empty());
    // The breakdown adds up to the score, and says why.
    let sum: f64 = detail.risk.components.iter().map(|c| c.points).sum();
    assert!((sum - detail.risk.score).abs() < 0.05, "{:?}", detail.risk);
    assert!(detail.risk.score > 0.0);
    assert!(
        detail.risk.components[0]
            .explanation
            .contains(&format!("{max_cvss:.1}"))
    );
    let run = detail.last_run.as_ref().unwrap();
    assert_eq!(
        (run.mode.as_str(), run.status.as_str()),
        ("full", "succeeded")
    );
    // The other two ways to name it.
    assert_eq!(
        world.core.asset_detail(&device.id).await.unwrap().asset_id,
        detail.asset_id
    );
    assert_eq!(
        world
            .core
            .asset_detail(&detail.asset_id.to_string())
            .await
            .unwrap()
            .device_id,
        device.id
    );
    let missing = world.core.asset_detail("contoso:0000").await.unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound);
    assert!(
        missing.to_string().contains("no asset 'contoso:0000'"),
        "{missing}"
    );
}

#[tokio::test]
async fn the_ip_timeline_is_the_lease_history() {
    let world = world(&[1]).await;
    let truth = &world.first().truth;
    let ip = truth.reused_ip().unwrap();
    let timeline = world.core.ip_timeline(&ip.to_string(), None).await.unwrap();
    assert_eq!(
        (timeline.address.as_str(), timeline.class.as_str()),
        (ip.to_string().as_str(), "private")
    );
    let by_id: std::collections::HashMap<i64, &str> = timeline
        .holders
        .iter()
        .map(|h| (h.asset_id, h.device_id.as_str()))
        .collect();
    let spans: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = timeline
        .spans
        .iter()
        .filter(|s| s.source == RelationSource::IpHistory)
        .map(|s| (by_id[&s.asset_id].to_owned(), s.from, s.until))
        .collect();
    let expected: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = truth
        .ip_history(ip)
        .into_iter()
        .map(|(device, lease)| (device, ms(lease.start), lease.end.map(ms)))
        .collect();
    assert_eq!(spans, expected);
    let error = world
        .core
        .ip_timeline("10.0.0.0/8", None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("the IP view shows one address"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_input_is_explained_not_answered() {
    let world = world(&[1]).await;
    for (query, needle) in [
        ("10.1.2", "not a complete IPv4 address"),
        ("300.1.1.1", "300 is greater than 255"),
        ("10.0.0.0/33", "prefix length 33 is out of range"),
        ("10.1.2.3 @ next tuesday", "is not a time"),
        ("", "the search is empty"),
    ] {
        let error = world
            .core
            .search(&SearchRequest::new(query))
            .await
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::Validation, "{query}");
        assert!(error.to_string().contains(needle), "{query}: {error}");
        assert_eq!(error.fields().len(), 1, "{query}");
    }
    let long = world
        .core
        .search(&SearchRequest::new("x".repeat(10_240)))
        .await
        .unwrap_err();
    assert!(long.to_string().contains("10240 characters long"), "{long}");
}
