//! Paging modes: skip-only (default), graph-like nextLink, the broken 2022 nextLink.

use std::collections::BTreeSet;

use mde_sim::{PagingMode, SimConfig};
use serde_json::Value;

use crate::support::{self, client, get_json, start_with};

fn config(paging: PagingMode) -> SimConfig {
    SimConfig {
        devices: 230,
        seed: 2,
        paging,
        max_page_size: 50,
        ..SimConfig::default()
    }
}

async fn follow(token: &str, url: &str) -> Value {
    let response = client().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn skip_only_never_links_and_skip_paging_sees_every_device_once() {
    let sim = start_with(config(PagingMode::SkipOnly)).await;
    let token = support::token(&sim).await;
    let first = get_json(&sim, &token, "/api/machines").await;
    assert!(first.get("@odata.nextLink").is_none());
    assert_eq!(
        first["value"].as_array().unwrap().len(),
        50,
        "no $top: the first full page only"
    );
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let page = get_json(&sim, &token, &format!("/api/machines?$top=50&$skip={skip}")).await;
        assert!(page.get("@odata.nextLink").is_none());
        let items = page["value"].as_array().unwrap();
        seen.extend(items.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        if items.len() < 50 {
            break;
        }
        skip += 50;
    }
    assert_eq!(seen, sim.truth().machine_ids());
}

#[tokio::test]
async fn graph_like_next_links_keep_the_query() {
    let sim = start_with(config(PagingMode::GraphLike)).await;
    let token = support::token(&sim).await;
    let mut page = get_json(
        &sim,
        &token,
        "/api/machines?$filter=healthStatus+ne+'Unknown'",
    )
    .await;
    let mut seen = BTreeSet::new();
    let mut n_pages = 1;
    loop {
        seen.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = page
            .get("@odata.nextLink")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            break;
        };
        assert!(
            next.contains("%24filter=healthStatus+ne+%27Unknown%27"),
            "{next}"
        );
        page = follow(&token, &next).await;
        n_pages += 1;
    }
    let expected: BTreeSet<String> = sim.truth().read(|t| {
        t.listed_devices()
            .filter(|d| d.health_status != "Unknown")
            .map(|d| d.id.clone())
            .collect()
    });
    assert_eq!(seen, expected);
    assert!(n_pages >= 4);
    // With $top too, the link carries $top and the next $skip.
    let page = get_json(&sim, &token, "/api/alerts?$top=10").await;
    assert!(
        page["@odata.nextLink"]
            .as_str()
            .unwrap()
            .contains("$skip=10")
    );
}

#[tokio::test]
async fn buggy_2022_links_drop_keys_and_loop() {
    let sim = start_with(config(PagingMode::Buggy2022)).await;
    let token = support::token(&sim).await;
    let filtered: BTreeSet<String> = sim.truth().read(|t| {
        t.listed_devices()
            .filter(|d| d.onboarding_status == "Onboarded")
            .map(|d| d.id.clone())
            .collect()
    });
    let first = get_json(
        &sim,
        &token,
        "/api/machines?$filter=onboardingStatus+eq+'Onboarded'",
    )
    .await;
    // The first link is sound: it keeps the filter and moves one page on.
    let next = first["@odata.nextLink"].as_str().unwrap().to_owned();
    assert!(
        next.ends_with("?%24filter=onboardingStatus+eq+%27Onboarded%27&$skip=50"),
        "{next}"
    );
    let second = follow(&token, &next).await;
    let ids = |page: &Value| -> Vec<String> {
        page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids(&second).iter().all(|id| filtered.contains(id)));
    // The next one has lost its keys (docs/defender-api.md#paging) ...
    let broken = second["@odata.nextLink"].as_str().unwrap().to_owned();
    assert!(
        broken.ends_with("?=onboardingStatus+eq+%27Onboarded%27&=50&$skip=50"),
        "{broken}"
    );
    // ... so the filter is gone and the links point at the same page for ever.
    let third = follow(&token, &broken).await;
    let fourth = follow(&token, third["@odata.nextLink"].as_str().unwrap()).await;
    assert_eq!(third["value"], fourth["value"]);
    assert_eq!(third["@odata.nextLink"], fourth["@odata.nextLink"]);
    assert_eq!(ids(&third), sim.truth().machine_ids()[50..100].to_vec());
    let with_top = get_json(&sim, &token, "/api/machines?$top=50").await;
    assert!(
        with_top.get("@odata.nextLink").is_none(),
        "$top suppresses the link"
    );
}
