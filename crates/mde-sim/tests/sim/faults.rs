//! Faults on demand, and the request log that records them.

use std::time::{Duration, Instant};

use mde_sim::{Endpoint, FaultKind, FaultRule};
use serde_json::Value;

use crate::support::{self, client, get, start};

#[tokio::test]
async fn http_error_faults_fire_then_stop() {
    let sim = start(30).await;
    let token = support::token(&sim).await;
    sim.faults()
        .next(FaultKind::InternalError, Some(Endpoint::Machines), 1);
    let (status, _, body) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "InternalServerError"
    );
    assert_eq!(get(&sim, &token, "/api/machines").await.0, 200);

    let mut rule = FaultRule::new(FaultKind::Unavailable, Some(Endpoint::Alerts), 1.0);
    rule.retry_after_secs = 7;
    rule.remaining = Some(2);
    sim.faults().add(rule);
    let (status, headers, _) = get(&sim, &token, "/api/alerts").await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (503, "7")
    );
    assert_eq!(get(&sim, &token, "/api/alerts").await.0, 503);
    assert_eq!(get(&sim, &token, "/api/alerts").await.0, 200);
    assert_eq!(
        get(&sim, &token, "/api/machines").await.0,
        200,
        "other endpoints unaffected"
    );

    sim.faults().next(FaultKind::Throttle, None, 1);
    let (status, headers, _) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn broken_bodies_reset_and_truncate() {
    let sim = start(30).await;
    let token = support::token(&sim).await;
    sim.faults()
        .next(FaultKind::ConnectionReset, Some(Endpoint::Machines), 1);
    let response = client()
        .get(format!("{}/api/machines", sim.api_base()))
        .bearer_auth(&token)
        .send()
        .await;
    let failed = match response {
        Err(_) => true,
        Ok(response) => response.text().await.is_err(),
    };
    assert!(failed, "a reset mid-body must surface as an error");

    sim.faults()
        .next(FaultKind::TruncatedJson, Some(Endpoint::Machines), 1);
    let (status, _, body) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "truncated JSON must not parse"
    );
    assert_eq!(get(&sim, &token, "/api/machines").await.0, 200);
}

#[tokio::test]
async fn slow_answers() {
    let sim = start(10).await;
    let token = support::token(&sim).await;
    let mut rule = FaultRule::new(FaultKind::Slow, Some(Endpoint::Machine), 1.0);
    rule.delay = Duration::from_millis(400);
    sim.faults().add(rule);
    let id = sim.truth().machine_ids()[0].clone();
    let started = Instant::now();
    assert_eq!(
        get(&sim, &token, &format!("/api/machines/{id}")).await.0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn token_expiring_mid_sync() {
    let sim = start(10).await;
    let token = support::token(&sim).await;
    assert_eq!(get(&sim, &token, "/api/machines").await.0, 200);
    sim.faults().expire_tokens();
    let (status, headers, _) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let fresh = support::token(&sim).await;
    assert_eq!(get(&sim, &fresh, "/api/machines").await.0, 200);
    sim.faults()
        .next(FaultKind::TokenExpired, Some(Endpoint::Alerts), 1);
    assert_eq!(get(&sim, &fresh, "/api/alerts").await.0, 401);
    assert_eq!(get(&sim, &fresh, "/api/alerts").await.0, 200);
}

#[tokio::test]
async fn shuffled_pages_and_intermittent_404() {
    let sim = start(80).await;
    let token = support::token(&sim).await;
    sim.faults()
        .set(FaultKind::ShufflePages, Some(Endpoint::Machines), 1.0);
    let order = |body: Value| -> Vec<String> {
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let a = order(support::get_json(&sim, &token, "/api/machines").await);
    let b = order(support::get_json(&sim, &token, "/api/machines").await);
    assert_ne!(a, b);
    let (mut sa, mut sb) = (a.clone(), b.clone());
    sa.sort();
    sb.sort();
    assert_eq!(sa, sb, "same devices, other order");
    // $skip paging over shuffled pages misses and repeats devices.
    let p1 = order(support::get_json(&sim, &token, "/api/machines?$top=40&$skip=0").await);
    let p2 = order(support::get_json(&sim, &token, "/api/machines?$top=40&$skip=40").await);
    let union: std::collections::BTreeSet<_> = p1.iter().chain(&p2).collect();
    assert!(union.len() < 80);
    sim.faults().clear();

    let id = sim.truth().machine_ids()[5].clone();
    let flaky = sim
        .faults()
        .set(FaultKind::Intermittent404, Some(Endpoint::Machine), 1.0);
    let (status, _, body) = get(&sim, &token, &format!("/api/machines/{id}")).await;
    assert_eq!(status, 404);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    assert!(body["error"]["target"].as_str().unwrap().starts_with('|'));
    sim.faults().remove(flaky);
    assert_eq!(
        get(&sim, &token, &format!("/api/machines/{id}")).await.0,
        200
    );
}

#[tokio::test]
async fn probabilities_and_parsing() {
    let sim = start(5).await;
    let token = support::token(&sim).await;
    sim.faults()
        .set(FaultKind::InternalError, Some(Endpoint::Machines), 0.5);
    let mut failures = 0;
    for _ in 0..200 {
        failures += usize::from(get(&sim, &token, "/api/machines?$top=1").await.0 == 500);
    }
    assert!((60..=140).contains(&failures), "{failures}");
    let rule = FaultRule::parse("500@machines=0.25").unwrap();
    assert_eq!(
        (rule.kind, rule.endpoint, rule.probability),
        (FaultKind::InternalError, Some(Endpoint::Machines), 0.25)
    );
    assert_eq!(
        FaultRule::parse("retired").unwrap().kind,
        FaultKind::HuntingRetired
    );
    for kind in FaultKind::ALL {
        assert_eq!(FaultKind::parse(kind.name()), Some(kind));
    }
    assert!(FaultRule::parse("nope").is_err());
    assert!(FaultRule::parse("500@nowhere").is_err());
    assert!(FaultRule::parse("500=2").is_err());
}

#[tokio::test]
async fn request_log_counts_calls_per_endpoint() {
    let sim = start(10).await;
    let token = support::token(&sim).await;
    get(
        &sim,
        &token,
        "/api/machines?$filter=healthStatus+eq+'Active'&$top=5",
    )
    .await;
    get(&sim, &token, "/api/alerts").await;
    get(&sim, &token, "/api/alerts").await;
    let requests = sim.requests();
    assert_eq!(requests.count(Endpoint::Token), 1);
    assert_eq!(requests.count(Endpoint::Machines), 1);
    assert_eq!(requests.count(Endpoint::Alerts), 2);
    assert_eq!(requests.api_calls(), 3);
    let machines = &requests.of(Endpoint::Machines)[0];
    assert_eq!(
        machines.param("$filter").as_deref(),
        Some("healthStatus eq 'Active'")
    );
    assert_eq!(machines.param("$TOP").as_deref(), Some("5"));
    assert_eq!(machines.status, 200);
    assert_eq!(
        machines.client_id.as_deref(),
        Some(sim.client_id().as_str())
    );
    assert_eq!(requests.counts()[&Endpoint::Alerts], 2);
    requests.clear();
    assert_eq!(requests.total(), 0);
}

#[tokio::test]
async fn heavy_hunting_queries_token_throttling_and_quota_texts() {
    let sim = start(10).await;
    let token = support::token(&sim).await;
    let hunt = |token: String, url: String| async move {
        let response = client()
            .post(url)
            .bearer_auth(token)
            .json(&serde_json::json!({"Query": "DeviceInfo | take 1"}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let legacy = format!("{}/api/advancedqueries/run", sim.api_base());
    let graph = format!("{}/v1.0/security/runHuntingQuery", sim.url());
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
    let graph_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A preempted query and an oversized result are 400s naming the exceeded limit, on both
    // hunting APIs; the next query runs.
    for (kind, words) in [
        (FaultKind::HuntingPreempted, "exceeded the allowed limits"),
        (
            FaultKind::HuntingTooLarge,
            "exceeded the allowed result size",
        ),
    ] {
        for (url, token) in [(&legacy, &token), (&graph, &graph_token)] {
            sim.faults().next(kind, None, 1);
            let (status, body) = hunt(token.clone(), url.clone()).await;
            assert_eq!(status, 400, "{kind:?} {url}: {body}");
            assert_eq!(body["error"]["code"], "BadRequest");
            assert!(
                body["error"]["message"].as_str().unwrap().contains(words),
                "{body}"
            );
            assert_eq!(hunt(token.clone(), url.clone()).await.0, 200);
        }
    }
    assert_eq!(
        FaultRule::parse("preempted@advanced-queries").unwrap().kind,
        FaultKind::HuntingPreempted
    );

    // The 429 text names the endpoint's own per-minute quota.
    sim.faults()
        .next(FaultKind::Throttle, Some(Endpoint::AdvancedQueries), 1);
    let (status, body) = hunt(token.clone(), legacy.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "429");
    assert_eq!(
        body["error"]["message"],
        "API calls quota exceeded! maximum allowed 45 per 00:01:00"
    );

    // Throttling aimed at the token endpoint is Entra's AADSTS90055; a rule for every endpoint
    // leaves tokens alone.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &sim.client_id()),
        ("client_secret", &sim.client_secret()),
        ("scope", "https://api.securitycenter.microsoft.com/.default"),
    ];
    let rule = sim.faults().set(FaultKind::Throttle, None, 1.0);
    let response = client()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "an untargeted rule spares the token endpoint"
    );
    sim.faults().remove(rule);
    sim.faults()
        .next(FaultKind::Throttle, Some(Endpoint::Token), 1);
    let response = client()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(body["error_codes"][0], 90055);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90055:")
    );
    let response = client()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
