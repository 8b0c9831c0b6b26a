//! The search over small hand-made stores: the rules of "who held it when", the notes that
//! explain results, asset references, and that every statement starts from an index. The
//! integration tests (`tests/core/search.rs`) check the answers against the simulator's truth.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::*;
use crate::{
    model::{
        Alert, Device, DeviceAddress, DeviceVulnerability, MacAddress, NetworkObservation,
        ObservedAddress, Timestamp,
    },
    store::{DeviceBatch, RunFinish, Store, SyncBatch, VulnerabilityBatch},
};

pub(super) fn at(text: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn device(id: &str, ips: &[&str], external: Option<&str>) -> Device {
    Device {
        id: id.to_owned(),
        computer_dns_name: Some(format!("{id}.contoso.com")),
        first_seen: Some(at("2026-11-01T00:00:00Z")),
        last_seen: Some(at("2026-11-27T10:00:00Z")),
        os_platform: Some("Windows11".to_owned()),
        os_version: None,
        os_build: Some(22631),
        version: Some("23H2".to_owned()),
        os_architecture: Some("64-bit".to_owned()),
        health_status: Some("Active".to_owned()),
        onboarding_status: Some("Onboarded".to_owned()),
        risk_score: Some("Medium".to_owned()),
        exposure_level: Some("Low".to_owned()),
        device_value: Some("Normal".to_owned()),
        machine_tags: vec!["finance".to_owned()],
        rbac_group_id: Some(7),
        rbac_group_name: Some("Finance".to_owned()),
        aad_device_id: None,
        is_aad_joined: Some(true),
        last_ip_address: None,
        last_external_ip_address: external.map(|ip| ip.parse().unwrap()),
        merged_into_machine_id: None,
        is_potential_duplication: false,
        addresses: ips
            .iter()
            .map(|ip| DeviceAddress {
                ip: ip.parse().unwrap(),
                mac: Some(mac_of(id)),
                interface_type: Some("Ethernet".to_owned()),
                operational_status: Some("Up".to_owned()),
            })
            .collect(),
    }
}

fn mac_of(id: &str) -> MacAddress {
    let last = id.bytes().last().unwrap_or(0);
    format!("00155DAA00{last:02X}").parse().unwrap()
}

fn report(device_id: &str, time: &str, ips: &[&str]) -> NetworkObservation {
    NetworkObservation {
        timestamp: at(time),
        device_id: device_id.into(),
        adapter_name: Some("Ethernet".into()),
        mac: Some(mac_of(device_id)),
        addresses: ips
            .iter()
            .map(|ip| ObservedAddress {
                ip: ip.parse::<IpAddr>().unwrap(),
                prefix: Some(24),
            })
            .collect(),
    }
}

fn alert(id: &str, device_id: &str, severity: &str, status: &str) -> Alert {
    Alert {
        id: id.to_owned(),
        title: format!("{severity} thing on {device_id}"),
        description: None,
        severity: severity.to_owned(),
        status: status.to_owned(),
        category: Some("Malware".to_owned()),
        classification: None,
        determination: None,
        detection_source: Some("WindowsDefenderAv".to_owned()),
        machine_id: Some(device_id.to_owned()),
        computer_dns_name: None,
        created: at("2026-11-25T10:00:00Z"),
        last_updated: at("2026-11-25T11:00:00Z"),
        first_event: None,
        last_event: None,
        resolved: None,
        mitre_techniques: Vec::new(),
    }
}

fn vulnerability(device_id: &str, cve: &str, cvss: f64) -> DeviceVulnerability {
    DeviceVulnerability {
        device_id: device_id.into(),
        cve_id: cve.into(),
        cvss_score: Some(cvss),
        severity: None,
        software_vendor: "microsoft".into(),
        software_name: "edge".into(),
        software_version: "120.0".into(),
        first_seen: None,
        last_seen: None,
    }
}

pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub(super) store: Store,
    pub(super) names: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let names = [("c1", "Contoso"), ("c2", "Fabrikam")]
            .into_iter()
            .map(|(id, name)| (id.to_owned(), name.to_owned()))
            .collect();
        Fixture {
            _dir: dir,
            store,
            names,
        }
    }

    fn run(&self, connection: &str, now: &str, fill: impl FnOnce(&mut SyncBatch)) {
        let now = at(now);
        let run_id = self
            .store
            .begin_run(connection, "full", "test", now)
            .unwrap();
        let mut batch = SyncBatch {
            connection_id: connection.to_owned(),
            run_id,
            now,
            ..SyncBatch::default()
        };
        fill(&mut batch);
        self.store
            .apply_sync(&batch, &RunFinish::default())
            .unwrap();
    }

    pub(super) fn search_with(
        &self,
        text: &str,
        connection: Option<&str>,
        page: Page,
    ) -> SearchResults {
        let (query, notes) = Query::parse_explained(text, None).unwrap();
        let filter = connection.map(|id| ConnectionRef {
            id: id.to_owned(),
            name: self.names.get(id).cloned(),
        });
        self.store
            .read(|db| search_in(db, query, notes, filter.as_ref(), page, &self.names))
            .unwrap()
    }

    fn search(&self, text: &str) -> SearchResults {
        self.search_with(text, None, page(SortKey::Relevance, 0, 50))
    }

    fn devices(&self, text: &str) -> Vec<String> {
        self.search(text)
            .hits
            .iter()
            .map(|hit| hit.device_id.clone())
            .collect()
    }
}

pub(super) fn page(sort: SortKey, offset: usize, limit: usize) -> Page {
    Page {
        sort,
        reverse: false,
        offset,
        limit,
    }
}

fn full(devices: Vec<Device>) -> Option<DeviceBatch> {
    Some(DeviceBatch {
        devices,
        complete_full_listing: true,
    })
}

/// Contoso (c1): a held 10.1.2.3 from the 20th to the 22nd, b from the 23rd on (IP history);
/// a stale record put 10.1.2.3 on b's device record from the 21st. Both egress through NAT
/// 52.1.2.3. Fabrikam (c2): x has 10.1.2.3 on its record from the 25th, without IP history.
pub(super) fn dhcp_fixture() -> Fixture {
    let f = Fixture::new();
    f.run("c1", "2026-11-21T00:00:00Z", |b| {
        b.devices = full(vec![
            device("a", &["10.1.2.3"], Some("52.1.2.3")),
            device("b", &["10.1.2.3"], Some("52.1.2.3")),
        ]);
    });
    f.run("c1", "2026-11-28T00:00:00Z", |b| {
        b.devices = full(vec![
            device("a", &["10.1.2.9"], Some("52.1.2.3")),
            device("b", &["10.1.2.3"], Some("52.1.2.3")),
        ]);
        b.network = Some(vec![
            report("a", "2026-11-20T08:00:00Z", &["10.1.2.3"]),
            report("a", "2026-11-22T08:00:00Z", &["10.1.2.9"]),
            report("b", "2026-11-23T08:00:00Z", &["10.1.2.3"]),
        ]);
        b.alerts = Some(vec![
            alert("al1", "b", "High", "New"),
            alert("al2", "b", "Medium", "Resolved"),
        ]);
        b.vulnerabilities = Some(VulnerabilityBatch::Full(vec![
            vulnerability("a", "CVE-2026-1", 9.8),
            vulnerability("a", "CVE-2026-2", 5.0),
        ]));
    });
    f.run("c2", "2026-11-25T00:00:00Z", |b| {
        b.devices = full(vec![device("x", &["10.1.2.3"], None)]);
    });
    f
}

#[test]
fn an_address_lists_current_and_past_holders_with_the_evidence() {
    let f = dhcp_fixture();
    let results = f.search("10.1.2.3");
    assert_eq!(results.total, 3);
    let ids: Vec<&str> = results.hits.iter().map(|h| h.device_id.as_str()).collect();
    assert_eq!(
        ids,
        ["b", "x", "a"],
        "current holders first, then by recency"
    );
    let a = &results.hits[2];
    assert!(
        a.relations
            .iter()
            .all(|r| r.kind == RelationKind::PastHolder)
    );
    let history = a
        .relations
        .iter()
        .find(|r| r.source == RelationSource::IpHistory)
        .unwrap();
    assert_eq!(history.first_seen, at("2026-11-20T08:00:00Z"));
    assert_eq!(history.until, Some(at("2026-11-22T08:00:00Z")));
    assert_eq!(
        history.text,
        "past holder of 10.1.2.3 (private): IP history: 2026-11-20 08:00 – 2026-11-22 08:00 UTC"
    );
    let b = &results.hits[0];
    assert_eq!(b.connection.name.as_deref(), Some("Contoso"));
    assert!(
        b.relations
            .iter()
            .any(|r| r.kind == RelationKind::CurrentHolder && r.source == RelationSource::IpHistory)
    );
    assert_eq!(b.relations[0].address_class.as_deref(), Some("private"));
}

#[test]
fn a_nat_address_says_it_is_external_and_shared() {
    let f = dhcp_fixture();
    let results = f.search("52.1.2.3");
    assert_eq!(results.total, 2);
    for hit in &results.hits {
        let relation = &hit.relations[0];
        assert_eq!(relation.source, RelationSource::ExternalAddress);
        assert_eq!(relation.address_class.as_deref(), Some("external"));
        assert_eq!(relation.shared_by, Some(2));
        assert!(
            relation.text.starts_with(
                "current holder of 52.1.2.3 (external, public): its external address: the public address Defender saw it connect from (NAT: 2 devices have it now)"
            ),
            "{}",
            relation.text
        );
    }
}

#[test]
fn at_a_time_the_ip_history_decides_and_snapshots_fill_in_without_it() {
    let f = dhcp_fixture();
    assert_eq!(f.devices("10.1.2.3 @ 2026-11-21 12:00"), ["a"]);
    // b's record showed the address from the 21st, but its history starts on the 23rd: the
    // history wins. Fabrikam has no history for the address: its snapshot answers.
    assert_eq!(
        f.devices("10.1.2.3 @ 2026-11-22 12:00"),
        Vec::<String>::new()
    );
    let mut at_26 = f.devices("10.1.2.3 @ 2026-11-26T00:00:00Z");
    at_26.sort();
    assert_eq!(at_26, ["b", "x"]);
    let x = f
        .search("10.1.2.3 @ 2026-11-26 00:00")
        .hits
        .into_iter()
        .find(|hit| hit.device_id == "x")
        .unwrap();
    assert_eq!(x.relations[0].kind, RelationKind::HolderAtTime);
    assert!(
        x.relations[0]
            .text
            .ends_with("(no IP history for this address to narrow it down)"),
        "{}",
        x.relations[0].text
    );
    // External addresses have no history: snapshots answer.
    assert_eq!(f.devices("52.1.2.3 @ 2026-11-19 00:00").len(), 0);
    assert_eq!(f.devices("52.1.2.3 @ 2026-11-22 00:00").len(), 2);
    // A range at a time.
    assert_eq!(
        f.devices("10.1.2.0/24 @ 2026-11-22 12:00"),
        ["a"],
        "a had .9 then"
    );
}

#[test]
fn empty_results_and_hidden_matches_are_explained() {
    let f = dhcp_fixture();
    let unknown = f.search("10.9.9.9");
    assert_eq!(unknown.total, 0);
    assert_eq!(
        unknown.notes,
        [
            "no synced device has had 10.9.9.9: not on a device record, as an external address, or in the IP history"
        ]
    );
    let before = f.search("10.1.2.3 @ 2026-11-19 12:00");
    assert_eq!(before.total, 0);
    assert_eq!(
        before.notes,
        [
            "the time has no zone, so it is read as UTC: 2026-11-19 12:00:00 UTC",
            "devices have had 10.1.2.3, but none at 2026-11-19 12:00:00 UTC as far as the synced data shows; search without the time to see who held it when"
        ]
    );
    let filtered = f.search_with("10.1.2.3", Some("c2"), page(SortKey::Relevance, 0, 50));
    assert_eq!(filtered.total, 1);
    assert_eq!(filtered.hits[0].device_id, "x");
    assert_eq!(
        filtered.notes,
        [
            "2 more matches are in other connections (search without the connection filter to see them)"
        ]
    );
    assert_eq!(
        f.search("nosuchhost").notes,
        ["no device has a host name starting with 'nosuchhost'"]
    );
    assert_eq!(
        f.search("00:15:5d:aa:00:ff").notes,
        ["no device has or had an adapter with MAC 00:15:5D:AA:00:FF"]
    );
    let past_end = f.search_with("10.1.2.3", None, page(SortKey::Name, 10, 5));
    assert_eq!((past_end.total, past_end.hits.len()), (3, 0));
    assert_eq!(
        past_end.notes,
        ["the offset 10 is past the last of the 3 results"]
    );
    let capped = f.search_with("10.1.2.3", None, page(SortKey::Name, 0, 5_000));
    assert_eq!(capped.limit, MAX_LIMIT);
    assert!(capped.notes[0].starts_with("a page holds at most 1000 results"));
}

#[test]
fn host_name_prefixes_and_macs_match_current_and_former_values() {
    let f = Fixture::new();
    let mut renamed = device("r1", &[], None);
    renamed.computer_dns_name = Some("SQL_01.contoso.com".to_owned());
    f.run("c1", "2026-11-20T00:00:00Z", |b| {
        b.devices = full(vec![
            renamed.clone(),
            device("sqla", &[], None),
            device("web01", &["10.5.5.5"], None),
        ]);
    });
    renamed.computer_dns_name = Some("db01.contoso.com".to_owned());
    f.run("c1", "2026-11-21T00:00:00Z", |b| {
        b.devices = full(vec![
            renamed,
            device("sqla", &[], None),
            device("web01", &["10.5.5.5"], None),
        ]);
    });
    assert_eq!(
        f.devices("SQL_"),
        ["r1"],
        "'_' is literal and sqla is outside the range"
    );
    assert_eq!(
        f.devices("sql"),
        ["sqla", "r1"],
        "current name first, then the former one"
    );
    let hit = &f.search("sql_01").hits[0];
    assert_eq!(hit.relations[0].kind, RelationKind::HostName);
    assert!(!hit.relations[0].current);
    assert!(
        hit.relations[0]
            .text
            .starts_with("former host name sql_01.contoso.com")
    );
    assert_eq!(f.devices("DB01.CONTOSO.COM"), ["r1"]);
    assert_eq!(f.devices("WEB"), ["web01"]);
    assert_eq!(f.devices("wec").len(), 0);
    for notation in [
        "00:15:5d:aa:00:31",
        "00-15-5D-AA-00-31",
        "0015.5daa.0031",
        "00155DAA0031",
    ] {
        assert_eq!(f.devices(notation), ["web01"], "{notation}");
    }
}

#[test]
fn risk_sort_pages_and_counts() {
    let f = dhcp_fixture();
    let by_risk = f.search_with("10.1.2.0/24", None, page(SortKey::Risk, 0, 50));
    let scores: Vec<f64> = by_risk.hits.iter().map(|h| h.risk.score).collect();
    assert_eq!(
        by_risk
            .hits
            .iter()
            .map(|h| h.device_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "x"]
    );
    // a: CVSS 9.8 → 3.9 + one Critical 0.2 = 4.1; b: one active High alert = 4.0.
    assert_eq!(scores, [4.1, 4.0, 0.0]);
    let b = &by_risk.hits[1];
    assert_eq!(
        b.alerts,
        AlertCounts {
            high: 1,
            ..AlertCounts::default()
        },
        "the resolved one does not count"
    );
    let a = &by_risk.hits[0];
    assert_eq!(
        a.vulnerabilities,
        VulnerabilitySummary {
            active: 2,
            critical: 1,
            high: 0,
            max_cvss: Some(9.8)
        }
    );
    assert_eq!(a.defender.risk_score.as_deref(), Some("Medium"));
    let mut reversed = page(SortKey::Risk, 0, 50);
    reversed.reverse = true;
    let reversed = f.search_with("10.1.2.0/24", None, reversed);
    assert_eq!(reversed.hits[0].device_id, "x");
    let second = f.search_with("10.1.2.0/24", None, page(SortKey::Risk, 1, 1));
    assert_eq!((second.total, second.hits.len()), (3, 1));
    assert_eq!(second.hits[0].device_id, "b");
    let names = f.search_with("10.1.2.0/24", None, page(SortKey::Name, 0, 2));
    assert_eq!(
        names
            .hits
            .iter()
            .map(|h| h.device_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let count_only = f.search_with("10.1.2.0/24", None, page(SortKey::Name, 0, 0));
    assert_eq!((count_only.total, count_only.hits.len()), (3, 0));
}

#[test]
fn the_timeline_shows_every_holder_in_order() {
    let f = dhcp_fixture();
    let timeline = f
        .store
        .read(|db| timeline_in(db, "10.1.2.3".parse().unwrap(), None, &f.names))
        .unwrap();
    assert_eq!(timeline.class, "private");
    let holders: Vec<&str> = timeline
        .holders
        .iter()
        .map(|h| h.device_id.as_str())
        .collect();
    assert_eq!(holders, ["a", "b", "x"], "by first interval");
    let a_id = timeline.holders[0].asset_id;
    let lease = timeline
        .spans
        .iter()
        .find(|s| s.asset_id == a_id && s.source == RelationSource::IpHistory)
        .unwrap();
    assert_eq!(
        (lease.from, lease.until),
        (at("2026-11-20T08:00:00Z"), Some(at("2026-11-22T08:00:00Z")))
    );
    let record = timeline
        .spans
        .iter()
        .find(|s| s.asset_id == a_id && s.source == RelationSource::DeviceRecord)
        .unwrap();
    assert_eq!(
        record.until,
        Some(at("2026-11-21T00:00:00Z")),
        "gone from the record since"
    );
    assert!(timeline.spans.windows(2).all(|w| w[0].from <= w[1].from));
}

#[test]
fn asset_references_resolve_or_say_why_not() {
    let f = Fixture::new();
    f.run("c1", "2026-11-20T00:00:00Z", |b| {
        b.devices = full(vec![device("d1", &[], None), device("only1", &[], None)])
    });
    f.run("c2", "2026-11-20T00:00:00Z", |b| {
        b.devices = full(vec![device("d1", &[], None)])
    });
    let resolve = |reference: &str, scope: Option<(&str, &str)>| {
        let scope = scope.map(|(c, d)| (c.to_owned(), d.to_owned()));
        f.store
            .read(|db| resolve_asset(db, reference, scope.as_ref(), &f.names))
            .unwrap()
    };
    let only = resolve("only1", None).unwrap();
    assert_eq!(resolve(&only.to_string(), None).unwrap(), only, "by number");
    assert_eq!(
        resolve("ONLY1", None).unwrap(),
        only,
        "device ids are compared lowercase too"
    );
    match resolve("d1", None) {
        Err(error @ SearchError::AmbiguousAsset { .. }) => assert_eq!(
            error.to_string(),
            "the Defender device id 'd1' is in 2 connections; name one: 'Contoso:d1' or 'Fabrikam:d1'"
        ),
        other => panic!("{other:?}"),
    }
    let in_c2 = resolve("Fabrikam:d1", Some(("c2", "d1"))).unwrap();
    assert_ne!(in_c2, resolve("Contoso:d1", Some(("c1", "d1"))).unwrap());
    assert!(matches!(
        resolve("nope", None),
        Err(SearchError::AssetNotFound(_))
    ));
    assert!(matches!(
        resolve("Contoso:only2", Some(("c1", "only2"))),
        Err(SearchError::AssetNotFound(_))
    ));
    assert_eq!(
        crate::Error::from(SearchError::AssetNotFound("x".to_owned())).code(),
        crate::ErrorCode::NotFound
    );
}

#[test]
fn the_detail_holds_identity_network_accounts_alerts_vulnerabilities_and_runs() {
    let f = dhcp_fixture();
    let id = f
        .store
        .read(|db| resolve_asset(db, "b", Some(&("c1".to_owned(), "b".to_owned())), &f.names))
        .unwrap()
        .unwrap();
    let detail = f
        .store
        .read(|db| detail_in(db, id, &f.names))
        .unwrap()
        .unwrap();
    assert_eq!(detail.connection.name.as_deref(), Some("Contoso"));
    assert_eq!(detail.tags, ["finance"]);
    assert_eq!(detail.os.describe(), "Windows11 23H2 (build 22631)");
    assert_eq!(detail.host_names[0].value, "b.contoso.com");
    assert_eq!(detail.mac_addresses[0].value, "00:15:5D:AA:00:62");
    let addresses: Vec<(&str, RelationSource, bool)> = detail
        .ip_addresses
        .iter()
        .map(|a| (a.address.as_str(), a.source, a.active))
        .collect();
    assert_eq!(
        addresses,
        [
            ("10.1.2.3", RelationSource::DeviceRecord, true),
            ("52.1.2.3", RelationSource::ExternalAddress, true)
        ]
    );
    assert_eq!(detail.ip_history.len(), 1);
    assert_eq!(detail.alerts.len(), 2);
    assert!(
        detail.alerts[0].active && !detail.alerts[1].active,
        "active first"
    );
    assert_eq!(detail.risk.score, 4.0);
    let runs = (
        detail.first_run.as_ref().unwrap().id,
        detail.last_run.as_ref().unwrap().id,
    );
    assert!(runs.0 < runs.1, "first and last run differ: {runs:?}");
    assert_eq!(detail.last_run.as_ref().unwrap().status, "succeeded");
}

/// Every statement's plan, with unbound parameters (NULL): no full scan of a table.
#[test]
fn every_statement_starts_from_an_index() {
    let f = Fixture::new();
    let mut statements: Vec<(String, String)> = [
        ("ANY_ADDRESS", sql::ANY_ADDRESS),
        ("EXTERNAL_SHARERS", sql::EXTERNAL_SHARERS),
        ("ASSET", sql::ASSET),
        ("ALERT_COUNTS", sql::ALERT_COUNTS),
        ("VULNERABILITY_SUMMARY", sql::VULNERABILITY_SUMMARY),
        ("ASSETS_BY_DEVICE_ID", sql::ASSETS_BY_DEVICE_ID),
        ("DETAIL_ASSET", sql::DETAIL_ASSET),
        ("DETAIL_HOSTNAMES", sql::DETAIL_HOSTNAMES),
        ("DETAIL_MACS", sql::DETAIL_MACS),
        ("DETAIL_ADDRESSES", sql::DETAIL_ADDRESSES),
        ("DETAIL_LEASES", sql::DETAIL_LEASES),
        ("DETAIL_ACCOUNTS", sql::DETAIL_ACCOUNTS),
        ("DETAIL_ALERTS", sql::DETAIL_ALERTS),
        ("DETAIL_VULNERABILITIES", sql::DETAIL_VULNERABILITIES),
        ("DETAIL_RUNS", sql::DETAIL_RUNS),
    ]
    .into_iter()
    .map(|(name, sql)| (name.to_owned(), sql.to_owned()))
    .collect();
    let orders: Vec<sql::Order> = [
        SortKey::Relevance,
        SortKey::Risk,
        SortKey::Name,
        SortKey::LastSeen,
    ]
    .into_iter()
    .flat_map(|key| [order(key, false, false), order(key, true, true)])
    .collect();
    for text in [
        "10.1.2.3",
        "10.1.2.3 @ 2026-11-20 14:00",
        "10.0.0.0/8",
        "web01",
        "aa:bb:cc:dd:ee:ff",
    ] {
        let target = target(&Query::parse(text, None).unwrap());
        for (index, statement) in sql::statements_of(&target, &orders).into_iter().enumerate() {
            statements.push((format!("{text} #{index}"), statement));
        }
    }
    let plans = f
        .store
        .read(|db| {
            let mut plans = Vec::new();
            for (name, statement) in &statements {
                let mut explain = db.prepare(&format!("EXPLAIN QUERY PLAN {statement}"))?;
                let unbound = std::iter::repeat_n(rusqlite::types::Null, explain.parameter_count());
                let rows = explain.query_map(rusqlite::params_from_iter(unbound), |row| {
                    row.get::<_, String>(3)
                })?;
                plans.push((
                    name.clone(),
                    rows.collect::<rusqlite::Result<Vec<String>>>()?,
                ));
            }
            Ok(plans)
        })
        .unwrap();
    // Scanning the match set itself (the CTEs m and g, a subquery) is fine: it holds only
    // what the indexes found. Scanning a table is not.
    let scans_a_table = |step: &String| {
        step.starts_with("SCAN ")
            && !matches!(step.as_str(), "SCAN m" | "SCAN g")
            && !step.starts_with("SCAN (subquery")
    };
    for (name, plan) in &plans {
        assert!(!plan.iter().any(scans_a_table), "{name} scans: {plan:#?}");
    }
    let plan_of = |wanted: &str| &plans.iter().find(|(name, _)| name == wanted).unwrap().1;
    assert!(
        plan_of("ALERT_COUNTS")
            .iter()
            .any(|step| step.contains("COVERING INDEX alerts_by_device_status")),
        "{:?}",
        plan_of("ALERT_COUNTS")
    );
    for (name, wanted) in [
        (
            "10.0.0.0/8 #0",
            "SEARCH ip USING COVERING INDEX sqlite_autoindex_ip_addresses_1 (address>? AND address<?)",
        ),
        (
            "web01 #0",
            "SEARCH h USING COVERING INDEX sqlite_autoindex_hostnames_1 (name>? AND name<?)",
        ),
        (
            "aa:bb:cc:dd:ee:ff #0",
            "SEARCH m USING COVERING INDEX sqlite_autoindex_mac_addresses_1 (address=?)",
        ),
        ("10.1.2.3 #10", "SEARCH l USING PRIMARY KEY (asset_id=?)"),
    ] {
        assert!(
            plan_of(name).iter().any(|step| step == wanted),
            "{name}: {:#?}",
            plan_of(name)
        );
    }
}

#[test]
fn prefix_bounds_cover_exactly_the_prefix() {
    assert_eq!(prefix_upper_bound("web"), "wec");
    assert_eq!(prefix_upper_bound("sql_"), "sql`");
    assert_eq!(prefix_upper_bound("a-"), "a.");
    assert_eq!(prefix_upper_bound("9"), ":");
}
