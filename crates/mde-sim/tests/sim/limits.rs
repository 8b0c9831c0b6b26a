//! Rate limits: per-minute and per-hour windows, per app, Retry-After, rate_scale, hunting budget.

use std::time::Duration;

use mde_sim::{AppRegistration, CallLimit, RateLimits, SimConfig};
use serde_json::Value;

use crate::support::{self, client, get, start_with};

fn limited(list: CallLimit, rate_scale: f64) -> SimConfig {
    SimConfig {
        devices: 10,
        seed: 3,
        rate_scale,
        limits: RateLimits {
            list,
            hunting: CallLimit {
                per_minute: 2,
                per_hour: 100,
            },
            ..RateLimits::default()
        },
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn per_minute_limit_answers_429_until_the_window_moves() {
    let sim = start_with(limited(
        CallLimit {
            per_minute: 5,
            per_hour: 1_500,
        },
        1.0,
    ))
    .await;
    let token = support::token(&sim).await;
    for _ in 0..5 {
        assert_eq!(get(&sim, &token, "/api/machines?$top=1").await.0, 200);
    }
    let (status, headers, body) = get(&sim, &token, "/api/machines?$top=1").await;
    assert_eq!(status, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert_eq!(
        body["error"]["message"],
        "API calls quota exceeded! maximum allowed 5 per 00:01:00"
    );
    // Another endpoint and another app have their own budget.
    assert_eq!(get(&sim, &token, "/api/alerts?$top=1").await.0, 200);
    sim.add_app(AppRegistration {
        client_id: "22222222-2222-2222-2222-222222222222".into(),
        secret: "other".into(),
        roles: vec!["Machine.Read.All".into()],
        ..Default::default()
    });
    let other = support::token_for(&sim, "22222222-2222-2222-2222-222222222222", "other").await;
    assert_eq!(get(&sim, &other, "/api/machines?$top=1").await.0, 200);
    sim.clock().advance(Duration::from_secs(61));
    assert_eq!(get(&sim, &token, "/api/machines?$top=1").await.0, 200);
}

#[tokio::test]
async fn per_hour_limit() {
    let sim = start_with(limited(
        CallLimit {
            per_minute: 100,
            per_hour: 8,
        },
        1.0,
    ))
    .await;
    let token = support::token(&sim).await;
    for minute in 0..8 {
        assert_eq!(
            get(&sim, &token, "/api/machines?$top=1").await.0,
            200,
            "call {minute}"
        );
        sim.clock().advance(Duration::from_secs(61));
    }
    let (status, headers, body) = get(&sim, &token, "/api/machines?$top=1").await;
    assert_eq!(status, 429);
    assert!(body.contains("maximum allowed 8 per 01:00:00"), "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 60 && retry <= 3_600, "{retry}");
    sim.clock().advance(Duration::from_secs(retry));
    let token = support::token(&sim).await;
    assert_eq!(get(&sim, &token, "/api/machines?$top=1").await.0, 200);
}

#[tokio::test]
async fn rate_scale_shrinks_windows_to_real_seconds() {
    // 60×: a minute lasts one real second.
    let sim = start_with(limited(
        CallLimit {
            per_minute: 3,
            per_hour: 1_500,
        },
        60.0,
    ))
    .await;
    let token = support::token(&sim).await;
    let mut throttled = None;
    for _ in 0..10 {
        let (status, headers, _) = get(&sim, &token, "/api/machines?$top=1").await;
        if status == 429 {
            throttled = Some(headers["retry-after"].to_str().unwrap().to_owned());
            break;
        }
    }
    assert_eq!(throttled.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(get(&sim, &token, "/api/machines?$top=1").await.0, 200);
}

async fn hunt(sim: &mde_sim::Sim, token: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{}/api/advancedqueries/run", sim.api_base()))
        .bearer_auth(token)
        .json(&serde_json::json!({"Query": "AlertInfo | take 1"}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn hunting_calls_and_execution_budget() {
    let sim = start_with(limited(
        CallLimit {
            per_minute: 100,
            per_hour: 1_500,
        },
        1.0,
    ))
    .await;
    let token = support::token(&sim).await;
    assert_eq!(hunt(&sim, &token).await.0, 200);
    assert_eq!(hunt(&sim, &token).await.0, 200);
    let (status, body) = hunt(&sim, &token).await;
    assert_eq!(status, 429);
    assert_eq!(
        body["error"]["code"], "429",
        "hunting 429s carry the code as a string"
    );
    assert_eq!(
        body["error"]["message"],
        "API calls quota exceeded! maximum allowed 2 per 00:01:00"
    );

    let mut config = limited(
        CallLimit {
            per_minute: 100,
            per_hour: 1_500,
        },
        1.0,
    );
    config.limits.hunting = CallLimit {
        per_minute: 45,
        per_hour: 1_500,
    };
    config.limits.hunting_cost_per_query = Duration::from_secs(300);
    let sim = start_with(config).await;
    let token = support::token(&sim).await;
    assert_eq!(hunt(&sim, &token).await.0, 200);
    assert_eq!(hunt(&sim, &token).await.0, 200);
    let (status, body) = hunt(&sim, &token).await;
    assert_eq!(status, 429, "10 minutes of execution per hour are spent");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("execution time")
    );
    sim.clock().advance(Duration::from_secs(3_601));
    let token = support::token(&sim).await;
    assert_eq!(hunt(&sim, &token).await.0, 200);
}
