//! `$filter` operators and literals, `$top`/`$skip`/`$select`/`$orderby`/`$count`, 400 bodies.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{self, get, get_json, keys_in_order, raw_values, start};

async fn ids(sim: &mde_sim::Sim, token: &str, filter: &str) -> BTreeSet<String> {
    let body = get_json(
        sim,
        token,
        &format!("/api/machines?$filter={}", urlencode(filter)),
    )
    .await;
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn odata_error(sim: &mde_sim::Sim, token: &str, query: &str) -> String {
    let (status, _, body) = get(sim, token, &format!("/api/machines?{query}")).await;
    assert_eq!(status, 400, "{query}: {body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "ODataError");
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_operator_agrees_with_ground_truth() {
    let sim = start(250).await;
    let token = support::token(&sim).await;
    let tenant = sim.truth().snapshot();
    let listed: Vec<_> = tenant.listed_devices().collect();
    let select = |pred: &dyn Fn(&mde_sim::tenant::Device) -> bool| -> BTreeSet<String> {
        listed
            .iter()
            .filter(|d| pred(d))
            .map(|d| d.id.clone())
            .collect()
    };
    let cut = sim.clock().now() - chrono::Duration::hours(12);
    let cut_text = cut.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let cut = chrono::DateTime::parse_from_rfc3339(&cut_text)
        .unwrap()
        .to_utc();
    let checks: Vec<(String, BTreeSet<String>)> = vec![
        ("healthStatus eq 'Active'".into(), select(&|d| d.health_status == "Active")),
        ("HealthStatus ne 'Active'".into(), select(&|d| d.health_status != "Active")),
        (format!("lastSeen gt {cut_text}"), select(&|d| d.last_seen > cut)),
        (format!("lastSeen ge {cut_text}"), select(&|d| d.last_seen >= cut)),
        (format!("LASTSEEN lt {cut_text}"), select(&|d| d.last_seen < cut)),
        (format!("lastSeen le {cut_text}"), select(&|d| d.last_seen <= cut)),
        ("rbacGroupId eq 141 and osPlatform eq 'Linux'".into(), select(&|d| d.rbac_group_id == 141 && d.os_platform == "Linux")),
        ("riskScore eq 'High' or exposureLevel eq 'High'".into(), select(&|d| d.risk_score == Some("High") || d.exposure_level == Some("High"))),
        ("startswith(computerDnsName,'srv-')".into(), select(&|d| d.computer_dns_name.starts_with("srv-"))),
        ("machineTags eq 'VIP'".into(), select(&|d| d.machine_tags.iter().any(|t| t == "VIP"))),
        ("aadDeviceId eq null".into(), select(&|d| d.aad_device_id.is_none())),
        ("(osPlatform eq 'Windows10' or osPlatform eq 'Windows11') and onboardingStatus eq 'Onboarded'".into(),
         select(&|d| (d.os_platform == "Windows10" || d.os_platform == "Windows11") && d.onboarding_status == "Onboarded")),
        ("rbacGroupId ge 142".into(), select(&|d| d.rbac_group_id >= 142)),
        ("lastSeen ge 2000-01-01Z".into(), select(&|_| true)),
    ];
    for (filter, expected) in checks {
        assert!(
            !expected.is_empty() || filter.contains("null"),
            "{filter} selects nothing; pick another"
        );
        assert_eq!(ids(&sim, &token, &filter).await, expected, "{filter}");
    }
    let one = listed[3];
    let ip = one.last_ip_address().unwrap().to_string();
    assert!(
        ids(&sim, &token, &format!("lastIpAddress eq '{ip}'"))
            .await
            .contains(&one.id)
    );
    assert_eq!(
        ids(&sim, &token, &format!("id eq '{}'", one.id)).await,
        BTreeSet::from([one.id.clone()])
    );
}

#[tokio::test]
async fn bad_queries_are_odata_errors() {
    let sim = start(20).await;
    let token = support::token(&sim).await;
    assert!(
        odata_error(&sim, &token, "$filter=lastSeen+ge+'2024-01-01T00:00:00Z'")
            .await
            .contains("incompatible types")
    );
    assert!(
        odata_error(&sim, &token, "$filter=lastSeen+ge+2024-01-01T00:00:00")
            .await
            .contains("DateTimeOffset")
    );
    assert!(
        odata_error(&sim, &token, "$filter=rbacGroupName+eq+'x'")
            .await
            .contains("rbacGroupName")
    );
    odata_error(&sim, &token, "$filter=contains(computerDnsName,'a')").await;
    odata_error(&sim, &token, "$filter=osPlatform+in+('Linux')").await;
    assert_eq!(
        odata_error(&sim, &token, "$top=10001").await,
        "The limit of '10000' for Top query has been exceeded. The value from the incoming request is '10001'."
    );
    odata_error(&sim, &token, "$top=abc").await;
    odata_error(&sim, &token, "$expand=evidence").await;
    odata_error(&sim, &token, "$select=id,nope").await;
    odata_error(&sim, &token, "$apply=groupby(osPlatform)").await;
    // Unknown non-OData keys (the IBM connector's api-version) are ignored.
    let (status, _, _) = get(&sim, &token, "/api/machines?api-version=v1.0").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn top_skip_select_orderby_count() {
    let sim = start(60).await;
    let token = support::token(&sim).await;
    let all = sim.truth().machine_ids();
    let page = get_json(&sim, &token, "/api/machines?$top=7&$skip=10").await;
    let got: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        all[10..17].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(page.get("@odata.nextLink").is_none());

    let (_, _, body) = get(
        &sim,
        &token,
        "/api/machines?$select=computerDnsName,id,onboardingStatus,osPlatform",
    )
    .await;
    for raw in raw_values(&body) {
        // Entity order, and onboardingStatus silently dropped (docs/defender-api.md#odata-queries).
        assert_eq!(keys_in_order(&raw), ["id", "computerDnsName", "osPlatform"]);
    }
    let sorted = get_json(&sim, &token, "/api/machines?$orderby=lastSeen desc&$top=60").await;
    let seen: Vec<&str> = sorted["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lastSeen"].as_str().unwrap())
        .collect();
    let parsed: Vec<_> = seen
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]));
    // Several keys, OData style: by health, then newest first within each.
    let sorted = get_json(
        &sim,
        &token,
        "/api/machines?$orderby=healthStatus,lastSeen%20desc&$top=60",
    )
    .await;
    let keys: Vec<(String, chrono::DateTime<chrono::FixedOffset>)> = sorted["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["healthStatus"].as_str().unwrap().to_lowercase(),
                chrono::DateTime::parse_from_rfc3339(m["lastSeen"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 60);
    assert!(
        keys.windows(2)
            .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 >= w[1].1)),
        "{keys:?}"
    );
    let counted = get_json(
        &sim,
        &token,
        "/api/machines?$count=true&$top=1&$filter=healthStatus+eq+'Active'",
    )
    .await;
    let active = sim.truth().read(|t| {
        t.listed_devices()
            .filter(|d| d.health_status == "Active")
            .count()
    });
    assert_eq!(counted["@odata.count"], active);
    assert_eq!(keys_in_order(&counted.to_string()).len(), 3);
}

#[tokio::test]
async fn alert_filters() {
    let sim = start(150).await;
    let token = support::token(&sim).await;
    let alerts = sim.truth().alerts();
    let body = get_json(
        &sim,
        &token,
        "/api/alerts?$filter=status+eq+'New'+and+severity+eq+'High'",
    )
    .await;
    let expected = alerts
        .iter()
        .filter(|a| a.status == "New" && a.severity == "High")
        .count();
    assert_eq!(body["value"].as_array().unwrap().len(), expected);
    let body = get_json(
        &sim,
        &token,
        "/api/alerts?$filter=status+eq+'New'+or+status+eq+'InProgress'",
    )
    .await;
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        alerts.iter().filter(|a| a.status != "Resolved").count()
    );
    let cut = alerts[alerts.len() / 2].alert_creation_time;
    let text = mde_sim::format::timestamp(cut);
    let body = get_json(
        &sim,
        &token,
        &format!("/api/alerts?$filter=alertCreationTime+ge+{text}"),
    )
    .await;
    assert_eq!(
        body["value"].as_array().unwrap().len(),
        alerts
            .iter()
            .filter(|a| a.alert_creation_time >= cut)
            .count()
    );
    let (status, _, _) = get(&sim, &token, "/api/alerts?$filter=title+eq+'x'").await;
    assert_eq!(status, 400);
}
