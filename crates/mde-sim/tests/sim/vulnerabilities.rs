//! Vulnerability endpoints: catalog, machinesVulnerabilities, per machine, export and delta.

use std::collections::BTreeSet;

use base64::Engine;
use serde_json::Value;

use crate::support::{self, client, get, get_json, keys_in_order, raw_values, start};

async fn follow(token: &str, url: &str) -> Value {
    let response = client().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn machines_vulnerabilities_pages_through_every_row() {
    let sim = start(60).await;
    let token = support::token(&sim).await;
    let expected: BTreeSet<(String, String)> = sim
        .truth()
        .machine_ids()
        .iter()
        .flat_map(|id| sim.truth().vulnerabilities(id, false))
        .map(|fact| (fact.machine_id, fact.cve_id))
        .collect();
    let (_, _, body) = get(
        &sim,
        &token,
        "/api/vulnerabilities/machinesVulnerabilities?$top=100",
    )
    .await;
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert!(
        parsed["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#Collection(microsoft.windowsDefenderATP.api.PublicAssetVulnerabilityDto)")
    );
    for raw in raw_values(&body) {
        assert_eq!(
            keys_in_order(&raw),
            [
                "id",
                "cveId",
                "machineId",
                "fixingKbId",
                "productName",
                "productVendor",
                "productVersion",
                "severity"
            ]
        );
        let row: Value = serde_json::from_str(&raw).unwrap();
        let id = row["id"].as_str().unwrap();
        assert!(id.starts_with(&format!(
            "{}-_-{}-_-",
            row["machineId"].as_str().unwrap(),
            row["cveId"].as_str().unwrap()
        )));
        assert_eq!(id.matches("-_-").count(), 5);
    }
    let mut seen = BTreeSet::new();
    let mut page = parsed;
    loop {
        for row in page["value"].as_array().unwrap() {
            seen.insert((
                row["machineId"].as_str().unwrap().to_owned(),
                row["cveId"].as_str().unwrap().to_owned(),
            ));
        }
        let Some(next) = page
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            break;
        };
        page = follow(&token, &next).await;
    }
    assert_eq!(seen, expected);
    let cve = expected.iter().next().unwrap().1.clone();
    let filtered = get_json(
        &sim,
        &token,
        &format!("/api/vulnerabilities/machinesVulnerabilities?$filter=cveId+eq+'{cve}'"),
    )
    .await;
    assert!(
        filtered["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["cveId"] == cve.as_str())
    );
    assert_eq!(
        filtered["value"].as_array().unwrap().len(),
        expected.iter().filter(|(_, c)| c == &cve).count()
    );
}

#[tokio::test]
async fn catalog_and_machine_vulnerabilities() {
    let sim = start(40).await;
    let token = support::token(&sim).await;
    let catalog = get_json(&sim, &token, "/api/vulnerabilities").await;
    assert!(
        catalog["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#Vulnerabilities")
    );
    let first = &catalog["value"][0];
    assert!(first["cvssV3"].is_f64());
    assert!(first["id"].as_str().unwrap().starts_with("CVE-"));
    let (status, _, _) = get(&sim, &token, "/api/vulnerabilities?$top=8001").await;
    assert_eq!(status, 400);
    let high = get_json(&sim, &token, "/api/vulnerabilities?$filter=cvssV3+ge+9").await;
    assert!(
        high["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["cvssV3"].as_f64().unwrap() >= 9.0 && v["severity"] == "Critical")
    );

    let id = sim.truth().read(|t| {
        t.listed_devices()
            .find(|d| d.current_vulns().count() > 2)
            .unwrap()
            .id
            .clone()
    });
    let body = get_json(&sim, &token, &format!("/api/machines/{id}/vulnerabilities")).await;
    let got: BTreeSet<String> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = sim
        .truth()
        .vulnerabilities(&id, false)
        .into_iter()
        .map(|f| f.cve_id)
        .collect();
    assert_eq!(got, expected);
}

fn skiptoken_line(link: &str) -> u64 {
    let token = link.split("$skiptoken=").nth(1).unwrap();
    let token: String = url::form_urlencoded::parse(format!("t={token}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let json: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(token)
            .unwrap(),
    )
    .unwrap();
    assert!(json["ExportDefinition"]["TimePath"].is_string());
    assert_eq!(json["ExportFileIndex"], 0);
    json["LineStoppedAt"].as_u64().unwrap()
}

#[tokio::test]
async fn export_pages_with_skiptoken_and_top_stops() {
    let sim = start(50).await;
    let token = support::token(&sim).await;
    let total: usize = sim
        .truth()
        .machine_ids()
        .iter()
        .map(|id| sim.truth().vulnerabilities(id, false).len())
        .sum();
    let (status, _, body) = get(
        &sim,
        &token,
        "/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=40",
    )
    .await;
    assert_eq!(status, 200);
    for raw in raw_values(&body) {
        assert_eq!(
            keys_in_order(&raw),
            [
                "id",
                "deviceId",
                "rbacGroupName",
                "deviceName",
                "osPlatform",
                "osVersion",
                "osArchitecture",
                "softwareVendor",
                "softwareName",
                "softwareVersion",
                "cveId",
                "vulnerabilitySeverityLevel",
                "recommendedSecurityUpdate",
                "recommendedSecurityUpdateId",
                "recommendedSecurityUpdateUrl",
                "diskPaths",
                "registryPaths",
                "lastSeenTimestamp",
                "firstSeenTimestamp",
                "exploitabilityLevel",
                "recommendationReference",
                "securityUpdateAvailable",
                "cvssScore"
            ]
        );
        let record: Value = serde_json::from_str(&raw).unwrap();
        let seen = record["lastSeenTimestamp"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(seen, "%Y-%m-%d %H:%M:%S").is_ok(),
            "{seen}"
        );
        assert!(record["id"].as_str().unwrap().ends_with('_'));
    }
    let mut page: Value = serde_json::from_str(&body).unwrap();
    let mut n_records = 0;
    let mut line = 0;
    loop {
        n_records += page["value"].as_array().unwrap().len();
        let Some(next) = page
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            break;
        };
        assert!(next.contains("pageSize=40") || next.contains("pagesize=40"));
        let stopped = skiptoken_line(&next);
        assert_eq!(stopped, line + 40);
        line = stopped;
        page = follow(&token, &next).await;
    }
    assert_eq!(n_records, total);
    let top = get_json(
        &sim,
        &token,
        "/api/machines/SoftwareVulnerabilitiesByMachine?$top=5",
    )
    .await;
    assert_eq!(top["value"].as_array().unwrap().len(), 5);
    assert!(top.get("@odata.nextLink").is_none());
    let (status, _, _) = get(
        &sim,
        &token,
        "/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=200001",
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn delta_export_reports_new_fixed_and_updated() {
    let sim = start(120).await;
    let token = support::token(&sim).await;
    let now = sim.clock().now();
    let too_old = (now - chrono::Duration::days(15)).format("%Y-%m-%dT%H:%M:%SZ");
    let (status, _, _) = get(
        &sim,
        &token,
        &format!("/api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime={too_old}"),
    )
    .await;
    assert_eq!(status, 400);
    let since = (now - chrono::Duration::days(13)).format("%Y-%m-%dT%H:%M:%SZ");
    let delta = get_json(
        &sim,
        &token,
        &format!("/api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime={since}"),
    )
    .await;
    assert!(
        delta["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("DeltaAssetVulnerability)")
    );
    let statuses: BTreeSet<&str> = delta["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["New", "Fixed", "Updated"]));

    sim.clock().advance(std::time::Duration::from_secs(600));
    let mark = sim.clock().now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    sim.clock().advance(std::time::Duration::from_secs(60));
    let id = sim.truth().read(|t| {
        t.listed_devices()
            .find(|d| d.current_vulns().count() > 0)
            .unwrap()
            .id
            .clone()
    });
    let fixed = sim.truth().vulnerabilities(&id, false)[0].cve_id.clone();
    sim.truth().fix_cve(&id, &fixed).unwrap();
    let added = sim.truth().add_cve(&id).unwrap();
    let delta = get_json(
        &sim,
        &token,
        &format!("/api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime={mark}"),
    )
    .await;
    let events: BTreeSet<(String, String, String)> = delta["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["deviceId"].as_str().unwrap().into(),
                r["cveId"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        events.contains(&(id.clone(), fixed, "Fixed".into())),
        "{events:?}"
    );
    assert!(events.contains(&(id, added, "New".into())));
    assert_eq!(events.len(), 2, "nothing else changed since the mark");
}
