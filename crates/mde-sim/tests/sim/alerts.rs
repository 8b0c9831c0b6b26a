//! `/api/alerts` and friends: field set and order (docs/defender-api.md#alerts), evidence and
//! incremental sync.

use serde_json::Value;

use crate::support::{self, get, get_json, keys_in_order, raw_values, start};

pub(crate) const ALERT_FIELDS: [&str; 31] = [
    "id",
    "incidentId",
    "investigationId",
    "assignedTo",
    "severity",
    "status",
    "classification",
    "determination",
    "investigationState",
    "detectionSource",
    "detectorId",
    "category",
    "threatFamilyName",
    "title",
    "description",
    "alertCreationTime",
    "firstEventTime",
    "lastEventTime",
    "lastUpdateTime",
    "resolvedTime",
    "machineId",
    "computerDnsName",
    "rbacGroupName",
    "aadTenantId",
    "threatName",
    "mitreTechniques",
    "relatedUser",
    "loggedOnUsers",
    "comments",
    "evidence",
    "domains",
];

const EVIDENCE_FIELDS: [&str; 26] = [
    "entityType",
    "evidenceCreationTime",
    "sha1",
    "sha256",
    "fileName",
    "filePath",
    "processId",
    "processCommandLine",
    "processCreationTime",
    "parentProcessId",
    "parentProcessCreationTime",
    "parentProcessFileName",
    "parentProcessFilePath",
    "ipAddress",
    "url",
    "registryKey",
    "registryHive",
    "registryValueType",
    "registryValue",
    "registryValueName",
    "accountName",
    "domainName",
    "userSid",
    "aadUserId",
    "userPrincipalName",
    "detectionStatus",
];

fn evidence_raw(alert: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Only<'a> {
        #[serde(borrow)]
        evidence: Vec<&'a serde_json::value::RawValue>,
    }
    let only: Only<'_> = serde_json::from_str(alert).unwrap();
    only.evidence
        .iter()
        .map(|raw| raw.get().to_owned())
        .collect()
}

#[tokio::test]
async fn alerts_have_exact_fields_and_evidence_only_when_expanded() {
    let sim = start(200).await;
    let token = support::token(&sim).await;
    let (status, headers, body) = get(&sim, &token, "/api/alerts").await;
    assert_eq!(status, 200);
    assert_eq!(headers["odata-version"], "4.0");
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        parsed["@odata.context"],
        format!("{}/api/$metadata#Alerts", sim.api_base())
    );
    let alerts = raw_values(&body);
    assert_eq!(alerts.len(), sim.truth().alerts().len());
    for raw in &alerts {
        assert_eq!(keys_in_order(raw), ALERT_FIELDS);
        assert!(evidence_raw(raw).is_empty(), "no evidence without $expand");
        let alert: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(alert["aadTenantId"], sim.tenant_id());
        assert!(
            sim.truth()
                .machine(alert["machineId"].as_str().unwrap())
                .is_some()
        );
    }
    let (_, _, body) = get(&sim, &token, "/api/alerts?$expand=evidence").await;
    let mut n_evidence = 0;
    for raw in raw_values(&body) {
        let id = serde_json::from_str::<Value>(&raw).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(raw, sim.truth().alert_json(&id).unwrap());
        for evidence in evidence_raw(&raw) {
            assert_eq!(keys_in_order(&evidence), EVIDENCE_FIELDS);
            n_evidence += 1;
        }
    }
    assert!(n_evidence > 0);
}

#[tokio::test]
async fn single_alert_its_machine_and_machine_alerts() {
    let sim = start(100).await;
    let token = support::token(&sim).await;
    let alert = sim.truth().alerts()[0].clone();
    let single = get_json(&sim, &token, &format!("/api/alerts/{}", alert.id)).await;
    assert!(
        single["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#Alerts/$entity")
    );
    assert_eq!(single["id"], alert.id.as_str());
    let machine = get_json(&sim, &token, &format!("/api/alerts/{}/machine", alert.id)).await;
    assert_eq!(machine["id"], alert.machine_id.as_str());
    let of_machine = get_json(
        &sim,
        &token,
        &format!("/api/machines/{}/alerts", alert.machine_id),
    )
    .await;
    let expected = sim
        .truth()
        .alerts()
        .iter()
        .filter(|a| a.machine_id == alert.machine_id)
        .count();
    assert_eq!(of_machine["value"].as_array().unwrap().len(), expected);
    let (_, _, count) = get(
        &sim,
        &token,
        &format!(
            "/api/machines/{}/alerts/$count?$filter=status ne 'Resolved'",
            alert.machine_id
        ),
    )
    .await;
    let open = sim
        .truth()
        .alerts()
        .iter()
        .filter(|a| a.machine_id == alert.machine_id && a.status != "Resolved")
        .count();
    assert_eq!(count, open.to_string());
    let (status, _, _) = get(&sim, &token, "/api/alerts/da000_1").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn incremental_sync_on_last_update_time_sees_new_and_resolved_alerts() {
    let sim = start(100).await;
    let token = support::token(&sim).await;
    let watermark = sim.clock().now();
    let since = mde_sim::format::timestamp(watermark);
    let path = format!("/api/alerts?$filter=lastUpdateTime ge {since}");
    let before = get_json(&sim, &token, &path).await["value"]
        .as_array()
        .unwrap()
        .len();
    sim.clock().advance(std::time::Duration::from_secs(600));
    let machine = sim.truth().alerts()[0].machine_id.clone();
    let new_id = sim.truth().add_alert(&machine).unwrap();
    let open = sim
        .truth()
        .alerts()
        .into_iter()
        .find(|a| a.status == "New" && a.id != new_id)
        .unwrap();
    sim.truth().resolve_alert(&open.id).unwrap();
    let after = get_json(&sim, &token, &path).await;
    let ids: Vec<&str> = after["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), before + 2, "{ids:?}");
    assert!(ids.contains(&new_id.as_str()) && ids.contains(&open.id.as_str()));
    let resolved = after["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == open.id.as_str())
        .unwrap();
    assert_eq!(resolved["status"], "Resolved");
    assert!(resolved["resolvedTime"].is_string());
}
