//! A degraded service, as a robust sync has to survive it: endpoints failing on every call,
//! empty first pages, a shrunk machines listing, damaged export rows, future-dated records and
//! clock jumps; and the binary's flags for each.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use mde_sim::clock::{parse_duration, parse_offset};
use mde_sim::{
    CallLimit, Endpoint, EndpointFailure, ExportRows, Failure, FaultKind, FaultRule,
    ForbiddenWording, FutureDated, Portion, Quirks, RateLimits, Sim, SimConfig,
};
use serde_json::Value;

use crate::support::{self, client, get, get_json, keys_in_order, raw_values, start_with};

const T0: &str = "2025-03-01T12:00:00Z";

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().to_utc()
}

fn config(devices: usize) -> SimConfig {
    SimConfig {
        devices,
        seed: 7,
        start_time: Some(t0()),
        ..SimConfig::default()
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

/// Asserts an MDE error body: keys in order, code, message, and a GUID `target`.
fn assert_mde_error(body: &str, code: &str, message: &str) {
    let value = json(body);
    assert_eq!(
        keys_in_order(&value["error"].to_string()),
        ["code", "message", "target"],
        "{body}"
    );
    assert_eq!(value["error"]["code"], code, "{body}");
    assert_eq!(value["error"]["message"], message, "{body}");
    let target = value["error"]["target"].as_str().unwrap();
    assert!(uuid_like(target), "{body}");
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|&ch| ch == '-').count() == 4
}

async fn hunt(sim: &Sim, token: &str, query: &str) -> (u16, String) {
    let response = client()
        .post(format!("{}/api/advancedqueries/run", sim.api_base()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "Query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn graph_token(sim: &Sim) -> String {
    let response = client()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &sim.client_id()),
            ("client_secret", &sim.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn graph_hunt(sim: &Sim, token: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{}/v1.0/security/runHuntingQuery", sim.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "Query": "DeviceInfo | take 1" }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn persistent_failures_answer_the_services_body_on_every_call() {
    let sim = start_with(config(20)).await;
    let token = support::token(&sim).await;
    let export = "/api/machines/SoftwareVulnerabilitiesByMachine";

    // 404: the endpoint does not exist in this tenant (no vulnerability-management licence).
    sim.faults()
        .fail(Endpoint::VulnerabilitiesExport, Failure::NotFound);
    for _ in 0..5 {
        let (status, headers, body) = get(&sim, &token, export).await;
        assert_eq!(status, 404);
        assert_eq!(headers["content-type"], "application/json; charset=utf-8");
        assert_mde_error(
            &body,
            "ResourceNotFound",
            "Resource '/api/machines/SoftwareVulnerabilitiesByMachine' was not found",
        );
    }
    assert_eq!(get(&sim, &token, "/api/machines").await.0, 200);
    assert_eq!(
        sim.faults().failures(),
        [EndpointFailure::new(
            Endpoint::VulnerabilitiesExport,
            Failure::NotFound
        )]
    );
    // Authentication still comes first.
    let (status, _, body) = get(&sim, "not-a-token", export).await;
    assert_eq!(status, 401, "{body}");
    sim.faults().recover(Endpoint::VulnerabilitiesExport);
    assert_eq!(get(&sim, &token, export).await.0, 200);

    // 403: a role the app lacks, in the service's missing-role wording (2026 form, no target).
    sim.faults().fail(Endpoint::Alerts, Failure::Forbidden);
    for _ in 0..3 {
        let (status, _, body) = get(&sim, &token, "/api/alerts?$top=5").await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            r#"{"error":{"code":"Forbidden","message":"Missing application roles. API required roles: Alert.Read.All,Alert.ReadWrite.All, application roles: Machine.Read.All,AdvancedQuery.Read.All,User.Read.All,Vulnerability.Read.All,ThreatHunting.Read.All."}}"#
        );
    }
    let alert = sim.truth().alerts()[0].id.clone();
    assert_eq!(
        get(&sim, &token, &format!("/api/alerts/{alert}")).await.0,
        200,
        "only the named endpoint fails"
    );

    // 400: the request is rejected; on the POST hunting endpoint, the body.
    sim.faults().fail(Endpoint::Machines, Failure::BadRequest);
    let (status, _, body) = get(&sim, &token, "/api/machines?$top=10").await;
    assert_eq!(status, 400);
    assert_mde_error(&body, "BadRequest", "The request is invalid.");
    sim.faults()
        .fail(Endpoint::AdvancedQueries, Failure::BadRequest);
    let (status, body) = hunt(&sim, &token, "DeviceInfo | take 1").await;
    assert_eq!(status, 400);
    assert_mde_error(&body, "InvalidRequestBody", "Request body is incorrect");

    // 500, for good: the 500 fault's body, not limited to a count.
    sim.faults()
        .fail(Endpoint::Machines, Failure::InternalError);
    for _ in 0..5 {
        let (status, _, body) = get(&sim, &token, "/api/machines").await;
        assert_eq!(status, 500);
        assert_mde_error(
            &body,
            "InternalServerError",
            "An unexpected error occurred. Please try again later.",
        );
    }
    assert!(
        sim.requests()
            .of(Endpoint::Machines)
            .iter()
            .all(|record| record.faults.is_empty()),
        "a failure is not a probabilistic fault"
    );

    // Graph hunting: Graph's error bodies.
    let graph = graph_token(&sim).await;
    sim.faults().fail(Endpoint::GraphHunting, Failure::NotFound);
    let (status, body) = graph_hunt(&sim, &graph).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NotFound");
    assert_eq!(
        body["error"]["message"],
        "Resource '/v1.0/security/runHuntingQuery' was not found"
    );
    assert!(body["error"]["innerError"]["request-id"].is_string());
    sim.faults()
        .fail(Endpoint::GraphHunting, Failure::Forbidden);
    let (status, body) = graph_hunt(&sim, &graph).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["message"],
        "Missing role permissions on the request. API requires one of 'ThreatHunting.Read.All'. Roles on the request 'Machine.Read.All,Alert.Read.All,AdvancedQuery.Read.All,User.Read.All,Vulnerability.Read.All'."
    );

    sim.faults().clear();
    assert!(sim.faults().failures().is_empty());
    assert_eq!(get(&sim, &token, "/api/machines").await.0, 200);
}

#[tokio::test]
async fn failures_from_the_config_and_the_2021_wording() {
    let sim = start_with(SimConfig {
        failures: vec![
            EndpointFailure::parse("export=404").unwrap(),
            EndpointFailure::parse("logonusers=403").unwrap(),
        ],
        quirks: Quirks {
            forbidden_wording: ForbiddenWording::RequiredPermissions,
            ..Quirks::default()
        },
        ..config(10)
    })
    .await;
    let token = support::token(&sim).await;
    let (status, _, body) = get(
        &sim,
        &token,
        "/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=10",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let id = sim.truth().machine_ids()[0].clone();
    let (status, _, body) = get(&sim, &token, &format!("/api/machines/{id}/logonusers")).await;
    assert_eq!(status, 403);
    assert_mde_error(
        &body,
        "Forbidden",
        "The application does not have any of the required application permissions (User.Read.All) to access the resource.",
    );

    assert_eq!(
        EndpointFailure::parse("Delta-Export=500").unwrap(),
        EndpointFailure::new(Endpoint::VulnerabilityChangesExport, Failure::InternalError)
    );
    let error = EndpointFailure::parse("token=404").unwrap_err();
    assert!(
        error.contains("unknown endpoint \"token\"") && error.contains("machines, machine,"),
        "{error}"
    );
    // The second kind of 403: a feature the tenant has not switched on.
    sim.faults()
        .fail(Endpoint::Alerts, Failure::DisabledFeature);
    let (status, _, body) = get(&sim, &token, "/api/alerts?$top=1").await;
    assert_eq!(status, 403);
    assert_mde_error(
        &body,
        "DisabledFeature",
        "The feature is not enabled for this tenant.",
    );
    assert_eq!(
        EndpointFailure::parse("alerts=403-disabled").unwrap(),
        EndpointFailure::new(Endpoint::Alerts, Failure::DisabledFeature)
    );
    let error = EndpointFailure::parse("export=418").unwrap_err();
    assert!(
        error.ends_with("statuses: 400, 403, 403-disabled, 404, 500"),
        "{error}"
    );
    assert!(
        EndpointFailure::parse("export")
            .unwrap_err()
            .contains("ENDPOINT=STATUS")
    );
}

#[tokio::test]
async fn an_empty_first_page_once_or_always() {
    let sim = start_with(config(30)).await;
    let token = support::token(&sim).await;
    let empty = format!(
        r#"{{"@odata.context":"{}/api/$metadata#Machines","value":[]}}"#,
        sim.api_base()
    );

    // Once: a later page does not use the rule up; the first page does, once.
    sim.faults()
        .next(FaultKind::EmptyPage, Some(Endpoint::Machines), 1);
    let later = get_json(&sim, &token, "/api/machines?$top=10&$skip=10").await;
    assert_eq!(later["value"].as_array().unwrap().len(), 10);
    let (status, headers, body) = get(&sim, &token, "/api/machines?$top=10").await;
    assert_eq!((status, body.as_str()), (200, empty.as_str()));
    assert_eq!(headers["odata-version"], "4.0");
    let again = get_json(&sim, &token, "/api/machines?$top=10&$skip=0").await;
    assert_eq!(again["value"].as_array().unwrap().len(), 10);
    assert_eq!(
        sim.requests().of(Endpoint::Machines)[1].faults,
        [FaultKind::EmptyPage]
    );

    // Always, from the CLI form: every first page of alerts, `$count=true` included; other pages
    // and the `$count` path are untouched.
    sim.faults()
        .add(FaultRule::parse("empty-page@alerts").unwrap());
    for _ in 0..3 {
        let (status, _, body) = get(&sim, &token, "/api/alerts?$top=5&$count=true").await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            format!(
                r#"{{"@odata.context":"{}/api/$metadata#Alerts","@odata.count":0,"value":[]}}"#,
                sim.api_base()
            )
        );
    }
    let page = get_json(&sim, &token, "/api/alerts?$top=5&$skip=5").await;
    let n_alerts = sim.truth().alerts().len();
    assert!(n_alerts > 5);
    assert_eq!(
        page["value"].as_array().unwrap().len(),
        (n_alerts - 5).min(5)
    );
    let (_, _, count) = get(&sim, &token, "/api/alerts/$count").await;
    assert_eq!(count, sim.truth().alerts().len().to_string());
    assert_eq!(
        get_json(&sim, &token, "/api/machines").await["value"]
            .as_array()
            .unwrap()
            .len(),
        30,
        "machines are not named by the rule"
    );

    // How often, spelt out.
    let once = FaultRule::parse("empty-page@machines=once").unwrap();
    assert_eq!(
        (once.kind, once.probability, once.remaining),
        (FaultKind::EmptyPage, 1.0, Some(1))
    );
    let thrice = FaultRule::parse("500@machines=3x").unwrap();
    assert_eq!((thrice.probability, thrice.remaining), (1.0, Some(3)));
    let always = FaultRule::parse("500@machines=always").unwrap();
    assert_eq!((always.probability, always.remaining), (1.0, None));
    assert_eq!(FaultRule::parse("500@machines").unwrap(), always);
    let error = FaultRule::parse("500=sometimes").unwrap_err();
    assert!(
        error.contains("a number from 0 to 1, always, once or a count such as 3x"),
        "{error}"
    );
    assert!(FaultRule::parse("500=0x").is_err());
    // A kind aimed where it never fires is refused, naming where it does.
    let error = FaultRule::parse("empty-page@export").unwrap_err();
    assert!(
        error.ends_with("it applies to: machines, alerts"),
        "{error}"
    );
    let error = FaultRule::parse("404@export").unwrap_err();
    assert!(error.contains("--fail ENDPOINT=404"), "{error}");
}

/// Ids of a listing page.
fn ids(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_shrunk_machines_listing_leaves_the_rest_of_the_tenant_alone() {
    let sim = start_with(config(100)).await;
    let token = support::token(&sim).await;
    let truth = sim.truth();
    let all = truth.machine_ids();
    let vulnerable = get_json(
        &sim,
        &token,
        "/api/machines/SoftwareVulnerabilitiesByMachine",
    )
    .await["value"]
        .as_array()
        .unwrap()
        .len();

    sim.faults().shrink_machines(Portion::Fraction(0.2));
    assert_eq!(sim.faults().machines_shrink(), Some(Portion::Fraction(0.2)));
    let (status, _, body) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 200);
    let shown = ids(&json(&body));
    assert_eq!(shown.len(), 20);
    // The devices kept are listed in the listing's order, exactly as the service prints them.
    let expected: Vec<&String> = all.iter().filter(|id| shown.contains(id)).collect();
    assert_eq!(shown.iter().collect::<Vec<_>>(), expected);
    for (id, raw) in shown.iter().zip(raw_values(&body)) {
        assert_eq!(raw, truth.machine_json(id).unwrap());
    }
    // The same devices on every call and page; `$count` and `@odata.count` agree.
    let again = get_json(&sim, &token, "/api/machines?$count=true").await;
    assert_eq!(ids(&again), shown);
    assert_eq!(again["@odata.count"], 20);
    let mut paged = ids(&get_json(&sim, &token, "/api/machines?$top=15").await);
    paged.extend(ids(&get_json(
        &sim,
        &token,
        "/api/machines?$top=15&$skip=15",
    )
    .await));
    assert_eq!(paged, shown);
    assert_eq!(get(&sim, &token, "/api/machines/$count").await.2, "20");

    // Everything else still sees every device.
    let hidden = all.iter().find(|id| !shown.contains(id)).unwrap();
    assert_eq!(
        get(&sim, &token, &format!("/api/machines/{hidden}"))
            .await
            .0,
        200
    );
    assert_eq!(truth.machine_count(), 100);
    assert_eq!(
        get_json(
            &sim,
            &token,
            "/api/machines/SoftwareVulnerabilitiesByMachine"
        )
        .await["value"]
            .as_array()
            .unwrap()
            .len(),
        vulnerable
    );
    let alerts = get_json(&sim, &token, "/api/alerts").await;
    assert_eq!(
        alerts["value"].as_array().unwrap().len(),
        truth.alerts().len()
    );

    sim.faults().shrink_machines(Portion::Count(7));
    assert_eq!(ids(&get_json(&sim, &token, "/api/machines").await).len(), 7);
    sim.faults().restore_machines();
    assert_eq!(ids(&get_json(&sim, &token, "/api/machines").await), all);

    // From the config, and the CLI spellings.
    let small = start_with(SimConfig {
        shrink_machines: Some(Portion::Count(5)),
        ..config(20)
    })
    .await;
    let small_token = support::token(&small).await;
    assert_eq!(
        ids(&get_json(&small, &small_token, "/api/machines").await).len(),
        5
    );
    assert_eq!(Portion::parse("40"), Ok(Portion::Count(40)));
    assert_eq!(Portion::parse("25%"), Ok(Portion::Fraction(0.25)));
    assert_eq!(Portion::parse("0.25"), Ok(Portion::Fraction(0.25)));
    for bad in ["many", "150%", "1.5", "-3", ""] {
        let error = Portion::parse(bad).unwrap_err();
        assert!(
            error.contains("a count (40), a percentage (25%) or a fraction from 0 to 1"),
            "{bad}: {error}"
        );
    }
}

/// Every record of an export, following its links.
async fn export_rows(sim: &Sim, token: &str, path: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut url = format!("{}{path}", sim.api_base());
    loop {
        let response = client().get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        rows.extend(raw_values(&body));
        match json(&body)["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return rows,
        }
    }
}

#[tokio::test]
async fn export_rows_left_out_or_malformed() {
    let sim = start_with(config(40)).await;
    let token = support::token(&sim).await;
    let full = "/api/machines/SoftwareVulnerabilitiesByMachine";
    let baseline = export_rows(&sim, &token, full).await;
    assert!(baseline.len() > 200, "{}", baseline.len());

    // Left out: a stable subset, in order, every served row intact; paging counts what is served.
    sim.faults().set_export_rows(ExportRows {
        omit: 0.3,
        malformed: 0.0,
    });
    let served = export_rows(&sim, &token, full).await;
    let share = served.len() as f64 / baseline.len() as f64;
    assert!((0.55..0.85).contains(&share), "{share}");
    let kept: Vec<&String> = baseline.iter().filter(|row| served.contains(row)).collect();
    assert_eq!(kept, served.iter().collect::<Vec<_>>());
    assert_eq!(export_rows(&sim, &token, full).await, served);
    assert_eq!(
        export_rows(&sim, &token, &format!("{full}?pageSize=17")).await,
        served
    );
    // machinesVulnerabilities and the delta export lose rows too.
    sim.faults().set_export_rows(ExportRows::default());
    let mv_all = export_rows(&sim, &token, "/api/vulnerabilities/machinesVulnerabilities").await;
    let since = (t0() - TimeDelta::days(13)).format("%Y-%m-%dT%H:%M:%SZ");
    let delta = format!("/api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime={since}");
    let delta_all = export_rows(&sim, &token, &delta).await;
    assert!(delta_all.len() > 20, "{}", delta_all.len());
    sim.faults().set_export_rows(ExportRows {
        omit: 0.5,
        malformed: 0.0,
    });
    let mv = export_rows(&sim, &token, "/api/vulnerabilities/machinesVulnerabilities").await;
    assert!(mv.len() < mv_all.len() && mv.iter().all(|row| mv_all.contains(row)));
    let delta_served = export_rows(&sim, &token, &delta).await;
    assert!(
        delta_served.len() < delta_all.len()
            && delta_served.iter().all(|row| delta_all.contains(row))
    );

    // Malformed: every row is served; the broken ones differ from the truth in one key only.
    sim.faults().set_export_rows(ExportRows {
        omit: 0.0,
        malformed: 0.3,
    });
    let damaged = export_rows(&sim, &token, full).await;
    assert_eq!(damaged.len(), baseline.len());
    let (mut no_device, mut no_cve) = (0, 0);
    for (row, truth) in damaged.iter().zip(&baseline) {
        if row == truth {
            continue;
        }
        let (mut row, truth): (Value, Value) = (json(row), json(truth));
        assert_eq!(
            keys_in_order(&row.to_string()),
            keys_in_order(&truth.to_string())
        );
        if row["deviceId"].is_null() {
            no_device += 1;
            row["deviceId"] = truth["deviceId"].clone();
        } else {
            assert_eq!(row["cveId"], "");
            no_cve += 1;
            row["cveId"] = truth["cveId"].clone();
        }
        assert_eq!(row, truth);
    }
    let share = f64::from(no_device + no_cve) / baseline.len() as f64;
    assert!((0.15..0.45).contains(&share), "{share}");
    assert!(no_device > 0 && no_cve > 0, "{no_device} {no_cve}");
    assert_eq!(export_rows(&sim, &token, full).await, damaged);
    let mv = export_rows(&sim, &token, "/api/vulnerabilities/machinesVulnerabilities").await;
    assert_eq!(mv.len(), mv_all.len());
    assert!(
        mv.iter()
            .map(|row| json(row))
            .any(|row| row["machineId"].is_null())
    );

    sim.faults().set_export_rows(ExportRows::default());
    assert_eq!(export_rows(&sim, &token, full).await, baseline);

    // From the config.
    let configured = start_with(SimConfig {
        export_rows: ExportRows {
            omit: 1.0,
            malformed: 0.0,
        },
        ..config(10)
    })
    .await;
    let configured_token = support::token(&configured).await;
    let (status, _, body) = get(&configured, &configured_token, full).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"@odata.context":"{}/api/$metadata#Collection(microsoft.windowsDefenderATP.api.AssetVulnerability)","value":[]}}"#,
            configured.api_base()
        )
    );
}

#[tokio::test]
async fn future_dated_alerts_and_machines() {
    let sim = start_with(config(40)).await;
    let token = support::token(&sim).await;
    let truth = sim.truth();
    let dated = truth.future_date_alerts(Portion::Count(3), Duration::from_secs(2 * 3_600));
    assert_eq!(dated.len(), 3);
    for id in &dated {
        let alert = get_json(&sim, &token, &format!("/api/alerts/{id}")).await;
        assert_eq!(alert["lastUpdateTime"], "2025-03-01T14:00:00Z");
        assert!(alert["alertCreationTime"].as_str().unwrap() < T0);
    }
    // A filter on the update time finds exactly them.
    let future = get_json(
        &sim,
        &token,
        &format!("/api/alerts?$filter=lastUpdateTime+gt+{T0}"),
    )
    .await;
    let found: BTreeSet<String> = ids(&future).into_iter().collect();
    assert_eq!(found, dated.iter().cloned().collect());

    let machines = truth.future_date_machines(Portion::Count(2), Duration::from_secs(30 * 60));
    let future = get_json(
        &sim,
        &token,
        &format!("/api/machines?$filter=lastSeen+gt+{T0}"),
    )
    .await;
    assert_eq!(
        ids(&future).into_iter().collect::<BTreeSet<_>>(),
        machines.iter().cloned().collect()
    );
    for machine in future["value"].as_array().unwrap() {
        assert_eq!(machine["lastSeen"], "2025-03-01T12:30:00Z");
    }

    // From the config: a fraction of the alerts, an hour ahead by default.
    let configured = start_with(SimConfig {
        future_dated: Some(FutureDated {
            alerts: Portion::Fraction(0.1),
            ..FutureDated::default()
        }),
        ..config(40)
    })
    .await;
    let configured_token = support::token(&configured).await;
    let n_alerts = configured.truth().alerts().len();
    let future = get_json(
        &configured,
        &configured_token,
        &format!("/api/alerts?$filter=lastUpdateTime+gt+{T0}"),
    )
    .await;
    let values = future["value"].as_array().unwrap();
    assert_eq!(values.len(), (n_alerts as f64 * 0.1).round() as usize);
    assert!(
        values
            .iter()
            .all(|alert| alert["lastUpdateTime"] == "2025-03-01T13:00:00Z")
    );
}

/// The claims of a JWT.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `print t=now()` through the legacy hunting API.
async fn hunting_now(sim: &Sim, token: &str) -> String {
    let (status, body) = hunt(sim, token, "print t=now()").await;
    assert_eq!(status, 200, "{body}");
    json(&body)["Results"][0]["t"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_clock_jump_moves_tokens_records_and_hunting_but_not_the_windows() {
    let sim = start_with(SimConfig {
        limits: RateLimits {
            list: CallLimit {
                per_minute: 4,
                per_hour: 1_000,
            },
            ..RateLimits::default()
        },
        ..config(20)
    })
    .await;
    let before = support::token(&sim).await;
    assert_eq!(claims(&before)["iat"], t0().timestamp());
    let id = sim.truth().machine_ids()[3].clone();
    // The minute's four listing calls, before the jump.
    for _ in 0..4 {
        assert_eq!(get(&sim, &before, "/api/machines?$top=1").await.0, 200);
    }

    // Forward two hours: the old token has expired, a new one carries the new time, and so do
    // the records written and hunting's now().
    sim.jump_clock(TimeDelta::hours(2));
    assert_eq!(sim.clock().now(), t0() + TimeDelta::hours(2));
    assert_eq!(sim.clock().jumped(), TimeDelta::hours(2));
    let (status, headers, body) = get(&sim, &before, "/api/alerts?$top=1").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_mde_error(
        &body,
        "Unauthorized",
        "Unauthorized (invalid or expired authorization header)",
    );
    let after = support::token(&sim).await;
    assert_eq!(
        claims(&after)["iat"],
        (t0() + TimeDelta::hours(2)).timestamp()
    );
    // No time passed for the rate limits: the minute's window is still full.
    let (status, headers, _) = get(&sim, &after, "/api/machines?$top=1").await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
    sim.truth().report(&id).unwrap();
    let machine = get_json(&sim, &after, &format!("/api/machines/{id}")).await;
    assert_eq!(machine["lastSeen"], "2025-03-01T14:00:00Z");
    let alert = sim.truth().add_alert(&id).unwrap();
    let alert = get_json(&sim, &after, &format!("/api/alerts/{alert}")).await;
    assert_eq!(alert["alertCreationTime"], "2025-03-01T14:00:00Z");
    assert_eq!(hunting_now(&sim, &after).await, "2025-03-01T14:00:00Z");

    // Back three hours: a token minted before is not valid yet, a new one is; lastSeen moves
    // back; hunting's rows stop at the new now.
    sim.jump_clock(TimeDelta::hours(-3));
    assert_eq!(sim.clock().now(), t0() - TimeDelta::hours(1));
    let (status, _, _) = get(&sim, &after, "/api/alerts?$top=1").await;
    assert_eq!(status, 401, "nbf two hours after now");
    let back = support::token(&sim).await;
    assert_eq!(
        claims(&back)["exp"],
        (t0() - TimeDelta::hours(1)).timestamp() + 3_599
    );
    sim.truth().report(&id).unwrap();
    let machine = get_json(&sim, &back, &format!("/api/machines/{id}")).await;
    assert_eq!(machine["lastSeen"], "2025-03-01T11:00:00Z");
    assert_eq!(hunting_now(&sim, &back).await, "2025-03-01T11:00:00Z");
    let (status, body) = hunt(&sim, &back, "DeviceInfo | summarize latest=max(Timestamp)").await;
    assert_eq!(status, 200, "{body}");
    let latest = json(&body)["Results"][0]["latest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(latest.as_str() <= "2025-03-01T11:00:00Z", "{latest}");

    // Time passing (`advance`), unlike a jump, frees the window.
    assert_eq!(get(&sim, &back, "/api/machines?$top=1").await.0, 429);
    sim.clock().advance(Duration::from_secs(61));
    assert_eq!(get(&sim, &back, "/api/machines?$top=1").await.0, 200);

    // The CLI spellings.
    assert_eq!(parse_offset("-2h"), Ok(TimeDelta::hours(-2)));
    assert_eq!(parse_offset("+90m"), Ok(TimeDelta::minutes(90)));
    assert_eq!(parse_offset("1h30m"), Ok(TimeDelta::minutes(90)));
    assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
    assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
    for bad in ["2 hours", "-", "", "h", "10"] {
        let error = parse_offset(bad).unwrap_err();
        assert!(error.contains("(-2h, +90m, 1d)"), "{bad}: {error}");
    }
    assert!(parse_duration("-2h").is_err());
}

/// The `mde-sim` binary, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mde-sim"))
}

/// Starts `mde-sim --json` with `args`; returns the process, its API base and a token.
async fn serve(args: &[&str]) -> (Running, String, String) {
    let (running, line) = tokio::task::block_in_place(|| {
        let mut child = binary()
            .args(["--devices", "30", "--seed", "7", "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let running = Running(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        (running, line)
    });
    let details = json(&line);
    let answer: Value = client()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            details["authority"].as_str().unwrap(),
            details["tenantId"].as_str().unwrap()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", details["clientId"].as_str().unwrap()),
            ("client_secret", details["clientSecret"].as_str().unwrap()),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    (
        running,
        details["apiBase"].as_str().unwrap().to_owned(),
        token,
    )
}

async fn call(base: &str, token: &str, path: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, json(&response.text().await.unwrap()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_takes_failures_empty_pages_shrinks_and_export_damage() {
    let (running, base, token) = serve(&[
        "--fail",
        "export=404",
        "--fail",
        "alerts=403",
        "--fault",
        "empty-page@machines=once",
        "--shrink-machines",
        "20%",
        "--export-omit",
        "1",
    ])
    .await;
    let (status, body) = call(
        &base,
        &token,
        "/api/machines/SoftwareVulnerabilitiesByMachine",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let (status, body) = call(&base, &token, "/api/alerts").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Forbidden");
    let (status, first) = call(&base, &token, "/api/machines").await;
    assert_eq!((status, ids(&first).len()), (200, 0));
    let (_, listing) = call(&base, &token, "/api/machines").await;
    assert_eq!(ids(&listing).len(), 6, "20% of 30");
    let (_, rows) = call(
        &base,
        &token,
        "/api/vulnerabilities/machinesVulnerabilities",
    )
    .await;
    assert_eq!(rows["value"], Value::Array(Vec::new()));
    drop(running);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_future_dates_records_and_jumps_its_clock() {
    let (running, base, token) = serve(&[
        "--clock",
        "frozen",
        "--future-machines",
        "2",
        "--future-alerts",
        "1",
        "--future-by",
        "3h",
        "--clock-jump",
        "-1d",
    ])
    .await;
    // The token was minted after the jump, a day before the start time; the records were
    // dated at start, three hours ahead of it.
    let iat = claims(&token)["iat"].as_i64().unwrap();
    let start = DateTime::from_timestamp(iat, 0).unwrap() + TimeDelta::days(1);
    let ahead = (start + TimeDelta::hours(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (_, machines) = call(&base, &token, "/api/machines").await;
    let dated = machines["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|machine| machine["lastSeen"] == ahead.as_str())
        .count();
    assert_eq!(dated, 2, "{ahead}");
    let (_, alerts) = call(&base, &token, "/api/alerts").await;
    let dated = alerts["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|alert| alert["lastUpdateTime"] == ahead.as_str())
        .count();
    assert_eq!(dated, 1, "{ahead}");
    drop(running);
}

#[test]
fn the_binary_refuses_bad_values_and_lists_the_good_ones() {
    for (args, reason) in [
        (
            &["--fail", "nowhere=404"][..],
            "unknown endpoint \"nowhere\" in failure \"nowhere=404\"; endpoints: machines, machine,",
        ),
        (
            &["--fail", "export=418"][..],
            "statuses: 400, 403, 403-disabled, 404, 500",
        ),
        (&["--fail", "export"][..], "give ENDPOINT=STATUS"),
        (
            &["--fault", "empty-page@machines=sometimes"][..],
            "always, once or a count such as 3x",
        ),
        (
            &["--fault", "empty-page@export"][..],
            "does not apply to endpoint \"export\" in \"empty-page@export\"; it applies to: machines, alerts",
        ),
        (
            &["--shrink-machines", "most"][..],
            "--shrink-machines: bad amount \"most\": give a count (40), a percentage (25%) or a fraction from 0 to 1 (0.25)",
        ),
        (
            &["--export-omit", "2"][..],
            "--export-omit must be a number from 0 to 1",
        ),
        (
            &["--export-malformed", "some"][..],
            "--export-malformed must be a number from 0 to 1",
        ),
        (&["--future-alerts", "x"][..], "--future-alerts: bad amount"),
        (
            &["--future-machines", "3", "--future-by", "soon"][..],
            "--future-by: bad duration \"soon\": give a number and a unit, s, m, h or d",
        ),
        (
            &["--future-by", "2h"][..],
            "--future-by needs --future-alerts or --future-machines",
        ),
        (
            &["--clock-jump", "-2 hours"][..],
            "bad offset \"-2 hours\": give a duration with an optional sign, + forward or - back",
        ),
        (&["--clock-jump", "-2h@later"][..], "bad duration \"later\""),
    ] {
        let output = binary().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let help = binary().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--fail <ENDPOINT=STATUS>",
        "--shrink-machines <AMOUNT>",
        "--export-omit <FRACTION>",
        "--export-malformed <FRACTION>",
        "--future-alerts <AMOUNT>",
        "--future-machines <AMOUNT>",
        "--future-by <DURATION>",
        "--clock-jump <OFFSET[@AFTER]>",
        "empty-page",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
