//! `GET /api/machines`, `/api/machines/{id}`, `/logonusers`, `findbyip`: shapes, headers, paths.

use serde_json::Value;

use crate::support::{self, get, get_json, keys_in_order, raw_values, start};

/// docs/defender-api.md#devices, in order.
pub(crate) const MACHINE_FIELDS: [&str; 32] = [
    "id",
    "mergedIntoMachineId",
    "isPotentialDuplication",
    "isExcluded",
    "exclusionReason",
    "computerDnsName",
    "firstSeen",
    "lastSeen",
    "osPlatform",
    "osVersion",
    "osProcessor",
    "version",
    "lastIpAddress",
    "lastExternalIpAddress",
    "agentVersion",
    "osBuild",
    "healthStatus",
    "deviceValue",
    "rbacGroupId",
    "rbacGroupName",
    "riskScore",
    "exposureLevel",
    "isAadJoined",
    "aadDeviceId",
    "machineTags",
    "defenderAvStatus",
    "onboardingStatus",
    "osArchitecture",
    "managedBy",
    "managedByStatus",
    "ipAddresses",
    "vmMetadata",
];

fn is_service_timestamp(text: &str) -> bool {
    // 2023-04-19T13:27:53[.fffffff]Z with 1–7 fraction digits, trailing zeros trimmed.
    let Some(rest) = text.strip_suffix('Z') else {
        return false;
    };
    let (seconds, fraction) = rest.split_once('.').unwrap_or((rest, ""));
    chrono::NaiveDateTime::parse_from_str(seconds, "%Y-%m-%dT%H:%M:%S").is_ok()
        && fraction.len() <= 7
        && fraction.chars().all(|c| c.is_ascii_digit())
        && !fraction.ends_with('0')
}

#[tokio::test]
async fn every_machine_has_the_exact_field_set_and_order() {
    let sim = start(300).await;
    let token = support::token(&sim).await;
    let (status, headers, body) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
    );
    assert_eq!(headers["odata-version"], "4.0");
    assert_eq!(keys_in_order(&body), ["@odata.context", "value"]);
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        parsed["@odata.context"],
        format!("{}/api/$metadata#Machines", sim.api_base())
    );
    let machines = raw_values(&body);
    assert_eq!(machines.len(), 300);
    let mut saw_seven_digits = false;
    let mut saw_null_external = false;
    let mut saw_duplicate = false;
    for raw in &machines {
        assert_eq!(keys_in_order(raw), MACHINE_FIELDS, "{raw}");
        let machine: Value = serde_json::from_str(raw).unwrap();
        let id = machine["id"].as_str().unwrap();
        assert_eq!(id.len(), 40);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        for field in ["firstSeen", "lastSeen"] {
            let text = machine[field].as_str().unwrap();
            assert!(is_service_timestamp(text), "{text}");
            saw_seven_digits |= text.len() == "2023-04-19T13:27:53.1618923Z".len();
        }
        assert!(machine["rbacGroupId"].is_i64());
        saw_null_external |= machine["lastExternalIpAddress"].is_null();
        saw_duplicate |= machine["isPotentialDuplication"] == true;
        #[derive(serde::Deserialize)]
        struct Addresses<'a> {
            #[serde(borrow, rename = "ipAddresses")]
            ip_addresses: Vec<&'a serde_json::value::RawValue>,
        }
        let addresses: Addresses<'_> = serde_json::from_str(raw).unwrap();
        for entry in &addresses.ip_addresses {
            assert_eq!(
                keys_in_order(entry.get()),
                ["ipAddress", "macAddress", "type", "operationalStatus"]
            );
        }
        for entry in machine["ipAddresses"].as_array().unwrap() {
            match entry["type"].as_str().unwrap() {
                "SoftwareLoopback" => assert!(entry["macAddress"].is_null()),
                _ => {
                    let mac = entry["macAddress"].as_str().unwrap();
                    assert_eq!(mac.len(), 12);
                    assert!(
                        mac.chars()
                            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
                    );
                }
            }
        }
        if machine["osPlatform"]
            .as_str()
            .unwrap()
            .starts_with("Windows")
        {
            let ips: Vec<&str> = machine["ipAddresses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["ipAddress"].as_str().unwrap())
                .collect();
            assert!(ips.contains(&"127.0.0.1") && ips.contains(&"::1"));
            assert!(ips.iter().any(|ip| ip.starts_with("fe80::")));
        }
    }
    assert!(saw_seven_digits && saw_null_external && saw_duplicate);
}

#[tokio::test]
async fn api_json_equals_ground_truth_json() {
    let sim = start(50).await;
    let token = support::token(&sim).await;
    let (_, _, body) = get(&sim, &token, "/api/machines").await;
    let ids = sim.truth().machine_ids();
    for (raw, id) in raw_values(&body).iter().zip(&ids) {
        assert_eq!(raw, &sim.truth().machine_json(id).unwrap());
    }
}

#[tokio::test]
async fn single_machine_by_id_and_by_name_paths_are_case_insensitive() {
    let sim = start(40).await;
    let token = support::token(&sim).await;
    let device = sim.truth().read(|tenant| {
        tenant
            .listed_devices()
            .find(|d| !d.is_potential_duplication)
            .unwrap()
            .clone()
    });
    let (status, _, body) = get(&sim, &token, &format!("/API/Machines/{}", device.id)).await;
    assert_eq!(status, 200, "{body}");
    let keys = keys_in_order(&body);
    assert_eq!(keys[0], "@odata.context");
    assert_eq!(keys[1..], MACHINE_FIELDS);
    let machine: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        machine["@odata.context"],
        format!("{}/API/$metadata#Machines/$entity", sim.api_base())
    );
    let by_name = get_json(
        &sim,
        &token,
        &format!("/api/v1.0/machines/{}", device.computer_dns_name),
    )
    .await;
    assert_eq!(by_name["id"], device.id.as_str());
    assert!(
        by_name["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1.0/$metadata#Machines/$entity")
    );

    let (status, _, body) = get(
        &sim,
        &token,
        "/api/machines/0000000000000000000000000000000000000000",
    )
    .await;
    assert_eq!(status, 404);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "ResourceNotFound");
    assert_eq!(
        error["error"]["message"],
        "Machine 0000000000000000000000000000000000000000 was not found"
    );
    assert_eq!(
        keys_in_order(&error["error"].to_string()),
        ["code", "message", "target"]
    );

    let count = get(&sim, &token, "/api/machines/$count").await;
    assert_eq!(count.2, sim.truth().machine_count().to_string());
}

#[tokio::test]
async fn logon_users_shape_and_local_administrator_everywhere() {
    let sim = start(200).await;
    let token = support::token(&sim).await;
    let ids = sim.truth().machine_ids();
    let mut admins = 0;
    for id in ids.iter().take(60) {
        let (status, _, body) = get(&sim, &token, &format!("/api/machines/{id}/logonusers")).await;
        assert_eq!(status, 200);
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert!(
            parsed["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with("/api/$metadata#Users")
        );
        let facts = sim.truth().logon_users(id);
        let users = raw_values(&body);
        assert_eq!(users.len(), facts.len());
        for (raw, fact) in users.iter().zip(&facts) {
            assert_eq!(
                keys_in_order(raw),
                [
                    "id",
                    "accountName",
                    "accountDomain",
                    "accountSid",
                    "firstSeen",
                    "lastSeen",
                    "mostPrevalentMachineId",
                    "leastPrevalentMachineId",
                    "logonTypes",
                    "logOnMachinesCount",
                    "isDomainAdmin",
                    "isOnlyNetworkUser"
                ]
            );
            let user: Value = serde_json::from_str(raw).unwrap();
            assert_eq!(user["accountName"], fact.account_name.as_str());
            assert_eq!(
                user["id"],
                format!(
                    "{}\\{}",
                    fact.account_domain.to_lowercase(),
                    fact.account_name
                )
            );
            assert_eq!(
                user["firstSeen"].as_str().unwrap().len(),
                20,
                "second precision"
            );
            admins += usize::from(fact.account_name == "administrator");
        }
    }
    assert!(
        admins >= 10,
        "local administrator should be on many machines, saw {admins}"
    );
    let (status, _, _) = get(
        &sim,
        &token,
        "/api/machines/ffffffffffffffffffffffffffffffffffffffff/logonusers",
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn find_by_ip_matches_ground_truth_history() {
    let sim = start(400).await;
    let token = support::token(&sim).await;
    let truth = sim.truth();
    let ip = truth.reused_ip().expect("DHCP churn reuses some address");
    let history = truth.ip_history(ip);
    let holders: std::collections::BTreeSet<&str> =
        history.iter().map(|(id, _)| id.as_str()).collect();
    assert!(holders.len() >= 2);
    for (id, lease) in &history {
        let end = lease.end.unwrap_or(sim.clock().now());
        let middle = lease.start + (end - lease.start) / 2;
        assert_eq!(truth.ip_owner_at(ip, middle).as_deref(), Some(id.as_str()));
        assert_eq!(
            truth.ip_holders_at(ip, middle).len(),
            1,
            "one right answer in 10/8"
        );
        if end - lease.start < chrono::Duration::minutes(40) {
            continue;
        }
        let stamp = middle.format("%Y-%m-%dT%H:%M:%SZ");
        let found = get_json(
            &sim,
            &token,
            &format!("/api/machines/findbyip(ip='{ip}',timestamp={stamp})"),
        )
        .await;
        let found_ids: Vec<&str> = found["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        if truth.machine(id).unwrap().removed_at.is_none() {
            assert_eq!(found_ids, [id.as_str()], "{ip} at {stamp}");
        }
    }
    let (status, _, _) = get(
        &sim,
        &token,
        "/api/machines/findbyip(ip='10.0.0.1',timestamp=2001-01-01T00:00:00Z)",
    )
    .await;
    assert_eq!(status, 400, "older than 30 days");
}

#[tokio::test]
async fn mutations_show_up_in_the_api() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<mde_sim::Sim>();
    let sim = start(120).await;
    let token = support::token(&sim).await;
    let truth = sim.truth();
    let pick = |pred: &dyn Fn(&mde_sim::tenant::Device) -> bool| -> String {
        truth.read(|t| t.listed_devices().find(|d| pred(d)).unwrap().id.clone())
    };
    let laptop = pick(&|d| {
        d.is_reporting()
            && d.adapters.iter().any(|a| a.pool.is_some())
            && !d.is_potential_duplication
    });
    sim.clock().advance(std::time::Duration::from_secs(120));

    let old_ip = truth.machine(&laptop).unwrap().last_ip_address().unwrap();
    let new_ip = truth.reassign_ip(&laptop).unwrap();
    assert_ne!(old_ip, new_ip);
    let machine = get_json(&sim, &token, &format!("/api/machines/{laptop}")).await;
    assert_eq!(machine["lastIpAddress"], new_ip.to_string());
    let stamp = sim.clock().now().format("%Y-%m-%dT%H:%M:%SZ");
    let found = get_json(
        &sim,
        &token,
        &format!("/api/machines/findbyip(ip='{new_ip}',timestamp={stamp})"),
    )
    .await;
    assert_eq!(found["value"][0]["id"], laptop.as_str());
    assert_eq!(
        truth.ip_owner_at(old_ip, sim.clock().now()),
        None,
        "released, resting in quarantine"
    );

    truth
        .rename(&laptop, "renamed-laptop.corp.contoso-sim.com")
        .unwrap();
    let machine = get_json(&sim, &token, &format!("/api/machines/{laptop}")).await;
    assert_eq!(
        machine["computerDnsName"],
        "renamed-laptop.corp.contoso-sim.com"
    );

    let before = sim.clock().now();
    sim.clock().advance(std::time::Duration::from_secs(60));
    truth.report(&laptop).unwrap();
    let machine = get_json(&sim, &token, &format!("/api/machines/{laptop}")).await;
    assert!(
        chrono::DateTime::parse_from_rfc3339(machine["lastSeen"].as_str().unwrap()).unwrap()
            > before
    );

    let new_id = truth.reimage(&laptop).unwrap();
    let old = get_json(&sim, &token, &format!("/api/machines/{laptop}")).await;
    assert_eq!(old["mergedIntoMachineId"], new_id.as_str());
    assert_eq!(old["healthStatus"], "Inactive");
    let fresh = get_json(&sim, &token, &format!("/api/machines/{new_id}")).await;
    assert_eq!(
        fresh["computerDnsName"],
        "renamed-laptop.corp.contoso-sim.com"
    );

    let other = pick(&|d| d.is_reporting() && d.id != new_id);
    truth.set_inactive(&other).unwrap();
    let inactive = get_json(
        &sim,
        &token,
        &format!("/api/machines?$filter=id+eq+'{other}'"),
    )
    .await;
    assert_eq!(inactive["value"][0]["healthStatus"], "Inactive");
    let count = truth.machine_count();
    truth.remove(&other).unwrap();
    assert_eq!(truth.machine_count(), count - 1);
    assert_eq!(
        get(&sim, &token, &format!("/api/machines/{other}")).await.0,
        404
    );

    let n_alerts = truth.alerts().len();
    truth.churn();
    assert!(truth.alerts().len() > n_alerts, "churn raises alerts");
}

#[tokio::test]
async fn find_by_tag_exact_or_by_prefix() {
    let sim = start(200).await;
    let token = support::token(&sim).await;
    let tenant = sim.truth().snapshot();
    let tagged = |pred: &dyn Fn(&str) -> bool| -> Vec<String> {
        tenant
            .listed_devices()
            .filter(|d| d.machine_tags.iter().any(|t| pred(t)))
            .map(|d| d.id.clone())
            .collect()
    };
    let ids = |body: &Value| -> Vec<String> {
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let exact = tagged(&|t| t == "TestMachine");
    assert!(!exact.is_empty(), "pick a tag the tenant uses");
    let body = get_json(&sim, &token, "/api/machines/findbytag?tag=TestMachine").await;
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/api/$metadata#Machines")
    );
    assert_eq!(ids(&body), exact);
    let raw = raw_values(
        &get(&sim, &token, "/api/machines/findbytag?tag=TestMachine")
            .await
            .2,
    );
    assert_eq!(keys_in_order(&raw[0]), MACHINE_FIELDS);
    // Without the prefix flag a partial tag matches nothing; with it, every tag that starts so.
    let body = get_json(&sim, &token, "/api/machines/findbytag?tag=Test").await;
    assert!(ids(&body).is_empty());
    let body = get_json(
        &sim,
        &token,
        "/api/machines/findbytag?tag=t&useStartsWithFilter=true",
    )
    .await;
    let prefixed = tagged(&|t| t.starts_with('T'));
    assert!(prefixed.len() > exact.len(), "TestMachine and Tier0");
    assert_eq!(ids(&body), prefixed);
    let (status, _, body) = get(&sim, &token, "/api/machines/findbytag").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(sim.requests().count(mde_sim::Endpoint::FindByTag), 5);
}
