//! The Defender client against the simulator: paging modes, throttling, transient failures,
//! tokens, permissions, hunting (legacy, Graph, chunked history), exports and cancellation.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use mde_car_core::config::{Cloud, Endpoints};
use mde_car_core::mde::{
    Budgets, ClientOptions, DeviceFilter, Endpoint, EndpointKind, GRAPH_HUNTING_ROLE, HuntingApi,
    Limit, MdeClient, MdeError, Progress, RetryPolicy,
};
use mde_car_core::model::VulnerabilityChangeKind;
use mde_sim::{
    CallLimit, DEFAULT_ROLES, Endpoint as SimEndpoint, Failure, FaultKind, FaultRule, PagingMode,
    RateLimits, Sim, SimConfig,
};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const PAGE: usize = 50;

fn config(devices: usize) -> SimConfig {
    SimConfig {
        devices,
        seed: 11,
        max_page_size: PAGE,
        ..SimConfig::default()
    }
}

async fn start(config: SimConfig) -> Sim {
    Sim::start(config).await.unwrap()
}

/// The simulator's hosts with the real resources (the simulator accepts them).
fn endpoints(sim: &Sim) -> Endpoints {
    let commercial = Cloud::Commercial.endpoints();
    Endpoints {
        authority: sim.authority(),
        api_base: sim.api_base(),
        resource: commercial.resource,
        graph_base: sim.url(),
        graph_resource: commercial.graph_resource,
    }
}

/// Small pages, no local budget, millisecond backoff: fast tests.
fn options() -> ClientOptions {
    ClientOptions {
        page_size: PAGE,
        budgets: Budgets {
            list: Vec::new(),
            hunting: Vec::new(),
            export: Vec::new(),
        },
        retry: RetryPolicy {
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    }
}

fn client_with(sim: &Sim, options: ClientOptions) -> MdeClient {
    MdeClient::new(
        mde_car_core::http::client().unwrap(),
        endpoints(sim),
        &sim.tenant_id(),
        &sim.client_id(),
        SecretString::from(sim.client_secret()),
        options,
    )
}

fn client(sim: &Sim) -> MdeClient {
    client_with(sim, options())
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_owned()).collect()
}

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

/// Records every progress report.
fn recorder() -> (Arc<Mutex<Vec<Progress>>>, mde_car_core::mde::OnProgress) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (
        seen,
        Arc::new(move |progress| sink.lock().unwrap().push(progress)),
    )
}

#[tokio::test]
async fn devices_across_pages_equal_the_ground_truth() {
    let sim = start(config(230)).await;
    let (seen, progress) = recorder();
    let client = client(&sim).with_progress(progress);
    let listing = client.list_devices(None).await.unwrap();

    assert!(listing.complete);
    assert_eq!(listing.duplicates, 0);
    assert_eq!(ids(&listing.items, |d| &d.id), sim.truth().machine_ids());
    assert_eq!(listing.pages, 5, "230 devices in pages of 50");
    assert_eq!(sim.requests().count(SimEndpoint::Machines), 5);
    let stats = client.stats();
    assert_eq!(stats.calls_of(Endpoint::Machines).calls, 5);
    assert_eq!(stats.token_requests, 1);
    assert_eq!(
        client.call_counts(),
        [("machines".to_owned(), 5), ("token".to_owned(), 1)].into()
    );
    // Every request asked for $top and moved $skip by a page.
    let skips: Vec<Option<String>> = sim
        .requests()
        .of(SimEndpoint::Machines)
        .iter()
        .map(|record| {
            assert_eq!(record.param("$top").as_deref(), Some("50"));
            record.param("$skip")
        })
        .collect();
    assert_eq!(
        skips,
        [None, Some("50"), Some("100"), Some("150"), Some("200")].map(|s| s.map(str::to_owned))
    );
    // Progress: a token request, then one report per page with growing counts.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].endpoint, EndpointKind::Token);
    let pages: Vec<(u32, u64)> = seen[1..]
        .iter()
        .map(|p| {
            assert_eq!(p.endpoint, EndpointKind::Machines);
            (p.page, p.items_so_far)
        })
        .collect();
    assert_eq!(pages, [(1, 50), (2, 100), (3, 150), (4, 200), (5, 230)]);
    // Fields and addresses come through: every address the service printed, MACs parsed.
    let device = &listing.items[7];
    let truth = sim.truth().machine(&device.id).unwrap();
    assert_eq!(
        device.computer_dns_name.as_deref(),
        Some(truth.computer_dns_name.as_str())
    );
    assert_eq!(device.last_seen, Some(truth.last_seen));
    assert_eq!(device.rbac_group_id, Some(truth.rbac_group_id));
    let printed: serde_json::Value =
        serde_json::from_str(&sim.truth().machine_json(&device.id).unwrap()).unwrap();
    let printed_ips: Vec<&str> = printed["ipAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ipAddress"].as_str().unwrap())
        .collect();
    let parsed_ips: Vec<String> = device.addresses.iter().map(|a| a.ip.to_string()).collect();
    assert_eq!(parsed_ips, printed_ips);
    for address in &device.addresses {
        assert_eq!(
            address.mac.is_none(),
            address.ip.is_loopback(),
            "{address:?}"
        );
    }
    assert_eq!(stats.unparsable_values, 0);
}

/// A record that cannot be read is left out and counted, and the listing is then not complete,
/// so the sync never takes the device it could not read for one that is gone.
#[tokio::test]
async fn an_unreadable_device_is_left_out_and_the_listing_is_not_complete() {
    let sim = start(config(1)).await;
    let machines = axum::Router::new().route(
        "/api/machines",
        axum::routing::get(|| async {
            axum::Json(serde_json::json!({
                "@odata.context": "https://api.security.microsoft.com/api/$metadata#Machines",
                "value": [
                    { "id": "a".repeat(40), "computerDnsName": "good-1" },
                    { "id": "b".repeat(40), "computerDnsName": "bad", "ipAddresses": "not a list" },
                    { "id": "c".repeat(40), "computerDnsName": "good-2" },
                ]
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, machines).await });
    // Tokens from the simulator, machines from the server above.
    let client = MdeClient::new(
        mde_car_core::http::client().unwrap(),
        Endpoints {
            api_base: format!("http://{address}"),
            ..endpoints(&sim)
        },
        &sim.tenant_id(),
        &sim.client_id(),
        SecretString::from(sim.client_secret()),
        options(),
    );

    let listing = client.list_devices(None).await.unwrap();

    assert_eq!(
        ids(&listing.items, |d| &d.id),
        vec!["a".repeat(40), "c".repeat(40)]
    );
    assert!(!listing.complete);
    assert_eq!(client.stats().skipped_records, 1);
}

#[tokio::test]
async fn incremental_devices_and_alerts_filter_on_unquoted_utc_times() {
    let sim = start(config(120)).await;
    let client = client(&sim);
    let since = sim.clock().now() - TimeDelta::hours(20);
    let listing = client
        .list_devices(DeviceFilter {
            last_seen_since: Some(since),
        })
        .await
        .unwrap();
    let expected: BTreeSet<String> = sim.truth().read(|tenant| {
        tenant
            .listed_devices()
            .filter(|device| device.last_seen >= since - TimeDelta::seconds(1))
            .map(|device| device.id.clone())
            .collect()
    });
    assert!(!expected.is_empty() && expected.len() < 120);
    assert!(listing.complete);
    assert_eq!(set(&ids(&listing.items, |d| &d.id)), expected);
    let filter = sim.requests().of(SimEndpoint::Machines)[0]
        .param("$filter")
        .unwrap();
    assert_eq!(
        filter,
        format!("lastSeen ge {}", since.format("%Y-%m-%dT%H:%M:%SZ"))
    );

    let all_alerts = client.list_alerts(None).await.unwrap();
    assert!(all_alerts.complete);
    let truth: BTreeSet<String> = sim.truth().alerts().iter().map(|a| a.id.clone()).collect();
    assert_eq!(set(&ids(&all_alerts.items, |a| &a.id)), truth);
    let since = sim.clock().now() - TimeDelta::days(3);
    let recent = client.list_alerts(Some(since)).await.unwrap();
    assert!(recent.complete);
    let expected: BTreeSet<String> = sim
        .truth()
        .alerts()
        .iter()
        .filter(|a| a.last_update_time >= since - TimeDelta::seconds(1))
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(set(&ids(&recent.items, |a| &a.id)), expected);
    assert!(
        sim.requests()
            .of(SimEndpoint::Alerts)
            .last()
            .unwrap()
            .param("$filter")
            .unwrap()
            .starts_with("lastUpdateTime ge ")
    );
}

#[tokio::test]
async fn every_paging_mode_yields_the_complete_set_once() {
    for (paging, send_top) in [
        (PagingMode::SkipOnly, true),
        (PagingMode::GraphLike, true),
        (PagingMode::GraphLike, false),
        (PagingMode::Buggy2022, true),
        // Without $top the 2022 service sent links that drop the query keys and loop on page
        // two (docs/defender-api.md#paging).
        (PagingMode::Buggy2022, false),
    ] {
        let sim = start(SimConfig {
            paging,
            ..config(230)
        })
        .await;
        let client = client_with(
            &sim,
            ClientOptions {
                send_top,
                ..options()
            },
        );
        // With and without a filter: the broken links drop the filter's key.
        let since = sim.clock().now() - TimeDelta::days(20);
        for filter in [None, Some(since)] {
            sim.requests().clear();
            let listing = client.list_devices(filter).await.unwrap();
            let label = format!("{paging:?}, $top sent: {send_top}, filter: {filter:?}");
            assert!(listing.complete, "{label}");
            let listed = ids(&listing.items, |d| &d.id);
            assert_eq!(set(&listed).len(), listed.len(), "{label}: duplicates");
            let expected: Vec<String> = sim.truth().read(|tenant| {
                tenant
                    .listed_devices()
                    .filter(|device| filter.is_none_or(|since| device.last_seen >= since))
                    .map(|device| device.id.clone())
                    .collect()
            });
            assert!(expected.len() > 150, "{label}: several pages");
            assert_eq!(listed, expected, "{label}");
            let records = sim.requests().of(SimEndpoint::Machines);
            assert_eq!(
                records.len(),
                expected.len() / PAGE + 1,
                "{label}: one call per page"
            );
            for record in &records {
                let query = record.query.clone().unwrap_or_default();
                assert!(
                    !query.starts_with('=') && !query.contains("&="),
                    "{label}: followed a broken link: {query}"
                );
                assert_eq!(
                    record.param("$filter").is_some(),
                    filter.is_some(),
                    "{label}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_429_storm_is_waited_out_as_retry_after_says() {
    // Four calls per simulated minute; a simulated minute lasts one real second.
    let sim = start(SimConfig {
        rate_scale: 60.0,
        limits: RateLimits {
            list: CallLimit {
                per_minute: 4,
                per_hour: 1_000,
            },
            ..RateLimits::default()
        },
        ..config(230)
    })
    .await;
    let client = client_with(
        &sim,
        ClientOptions {
            page_size: 20,
            ..options()
        },
    );
    let started = Instant::now();
    let listing = client.list_devices(None).await.unwrap();
    let elapsed = started.elapsed();

    assert!(listing.complete);
    assert_eq!(ids(&listing.items, |d| &d.id), sim.truth().machine_ids());
    let refused = sim
        .requests()
        .of(SimEndpoint::Machines)
        .iter()
        .filter(|record| record.status == 429)
        .count();
    let stats = client.stats();
    let machines = stats.calls_of(Endpoint::Machines);
    assert!(refused > 0, "the storm happened");
    assert_eq!(machines.throttled as usize, refused);
    assert_eq!(machines.failed, 0, "a 429 is not a failure");
    assert_eq!(
        machines.retried, 0,
        "a 429 does not use up the retry allowance"
    );
    assert!(stats.retry_after_wait >= Duration::from_secs(1));
    assert_eq!(client.throttled_time(), stats.throttle_wait());
    // 12 pages at 4 per second: about two seconds of waiting, not minutes.
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
}

#[tokio::test]
async fn throttling_without_end_gives_throttled_with_the_wait() {
    let sim = start(config(20)).await;
    sim.faults()
        .set(FaultKind::Throttle, Some(SimEndpoint::Machines), 1.0);
    let client = client_with(
        &sim,
        ClientOptions {
            retry: RetryPolicy {
                max_throttle_waits: 2,
                ..options().retry
            },
            ..options()
        },
    );
    let error = client.list_devices(None).await.unwrap_err();
    assert_eq!(
        error,
        MdeError::Throttled {
            retry_after: Some(Duration::from_secs(1))
        }
    );
    assert!(error.is_retryable());
    assert_eq!(error.code(), "throttled");
    assert_eq!(sim.requests().count(SimEndpoint::Machines), 3);
}

#[tokio::test]
async fn the_local_budget_spaces_calls_out() {
    let sim = start(config(230)).await;
    // 4 calls per 400 ms: a burst of 2, then one every 200 ms.
    let client = client_with(
        &sim,
        ClientOptions {
            budgets: Budgets {
                list: vec![Limit {
                    calls: 4,
                    per: Duration::from_millis(400),
                }],
                ..options().budgets
            },
            ..options()
        },
    );
    let started = Instant::now();
    let listing = client.list_devices(None).await.unwrap();
    assert!(listing.complete);
    // 5 calls: 2 at once, 3 more 200 ms apart.
    let waited = client.stats().budget_wait;
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert_eq!(client.throttled_time(), waited);
}

#[tokio::test]
async fn transient_failures_are_retried_and_the_listing_stays_complete() {
    let sim = start(config(230)).await;
    for kind in [
        FaultKind::InternalError,
        FaultKind::Unavailable,
        FaultKind::ConnectionReset,
        FaultKind::TruncatedJson,
    ] {
        sim.faults().clear();
        sim.requests().clear();
        sim.faults().next(kind, Some(SimEndpoint::Machines), 2);
        let client = client(&sim);
        let listing = client.list_devices(None).await.unwrap();
        assert!(listing.complete, "{kind:?}");
        assert_eq!(
            ids(&listing.items, |d| &d.id),
            sim.truth().machine_ids(),
            "{kind:?}"
        );
        let injected = sim
            .requests()
            .of(SimEndpoint::Machines)
            .iter()
            .filter(|record| record.faults.contains(&kind))
            .count();
        assert_eq!(injected, 2, "{kind:?}");
        let machines = client.stats().calls_of(Endpoint::Machines);
        assert_eq!(machines.retried, 2, "{kind:?}");
        assert_eq!(machines.calls, 7, "{kind:?}: five pages and two repeats");
        assert_eq!(machines.failed, 0, "{kind:?}");
    }
}

#[tokio::test]
async fn failures_that_persist_end_with_the_last_error_and_client_errors_are_final() {
    let sim = start(config(20)).await;
    sim.faults()
        .set(FaultKind::InternalError, Some(SimEndpoint::Machines), 1.0);
    let client = client(&sim);
    let error = client.list_devices(None).await.unwrap_err();
    assert!(
        matches!(&error, MdeError::Api { status: 500, code: Some(code), .. } if code == "InternalServerError"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    // One try and five retries.
    assert_eq!(sim.requests().count(SimEndpoint::Machines), 6);

    // A 404 is not retried.
    let error = client
        .logon_users("0000000000000000000000000000000000000000")
        .await
        .unwrap_err();
    assert!(
        matches!(error, MdeError::Api { status: 404, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert_eq!(sim.requests().count(SimEndpoint::LogonUsers), 1);
    assert_eq!(client.stats().calls_of(Endpoint::LogonUsers).failed, 1);
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_refreshed_once() {
    let sim = start(config(230)).await;
    let expired = Arc::new(AtomicBool::new(false));
    let (sim_handle, flag) = (sim.clone(), expired.clone());
    let client = client(&sim).with_progress(Arc::new(move |progress: Progress| {
        if progress.endpoint == EndpointKind::Machines
            && progress.page == 2
            && !flag.swap(true, Ordering::SeqCst)
        {
            sim_handle.faults().expire_tokens();
        }
    }));
    let listing = client.list_devices(None).await.unwrap();
    assert!(expired.load(Ordering::SeqCst));
    assert!(listing.complete);
    assert_eq!(ids(&listing.items, |d| &d.id), sim.truth().machine_ids());
    let statuses: Vec<u16> = sim
        .requests()
        .of(SimEndpoint::Machines)
        .iter()
        .map(|record| record.status)
        .collect();
    assert_eq!(statuses, [200, 200, 401, 200, 200, 200]);
    assert_eq!(sim.requests().count(SimEndpoint::Token), 2);
    assert_eq!(client.stats().token_requests, 2);

    // A token the API keeps rejecting is refreshed once, then the 401 is the answer.
    sim.faults()
        .set(FaultKind::TokenExpired, Some(SimEndpoint::Alerts), 1.0);
    let error = client.list_alerts(None).await.unwrap_err();
    assert!(
        matches!(error, MdeError::Api { status: 401, .. }),
        "{error:?}"
    );
    assert_eq!(sim.requests().count(SimEndpoint::Alerts), 2);
    assert_eq!(sim.requests().count(SimEndpoint::Token), 3);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires() {
    // Two-second tokens: renewed after half their life (the 5-minute skew does not fit).
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(2),
        ..config(20)
    })
    .await;
    let client = client(&sim);
    client.list_alerts(None).await.unwrap();
    client.list_alerts(None).await.unwrap();
    assert_eq!(sim.requests().count(SimEndpoint::Token), 1);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    client.list_alerts(None).await.unwrap();
    assert_eq!(sim.requests().count(SimEndpoint::Token), 2);
    assert!(
        sim.requests()
            .all()
            .iter()
            .all(|record| record.status != 401),
        "renewed before the service refused it"
    );
}

#[test]
fn client_futures_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    let client = MdeClient::new(
        mde_car_core::http::client().unwrap(),
        // Never polled, so nothing is sent; a local address all the same.
        Endpoints {
            authority: "http://127.0.0.1:9".to_owned(),
            api_base: "http://127.0.0.1:9".to_owned(),
            ..Cloud::Commercial.endpoints()
        },
        "contoso.onmicrosoft.com",
        "00000000-0000-0000-0000-000000000000",
        SecretString::from("x"),
        ClientOptions::default(),
    );
    let now = Utc::now();
    send(&client.list_devices(None));
    send(&client.list_alerts(None));
    send(&client.hunting("DeviceInfo"));
    send(&client.network_history(now, now));
    send(&client.logons(now, now));
    send(&client.logon_users("x"));
    send(&client.vulnerabilities_full());
    send(&client.vulnerability_changes(now));
    send(&client.find_by_ip(std::net::Ipv4Addr::LOCALHOST.into(), now));
}

#[tokio::test]
async fn one_token_serves_a_whole_run_and_concurrent_callers() {
    let sim = start(config(60)).await;
    let client = client(&sim);
    let ids: Vec<String> = sim.truth().machine_ids().into_iter().take(8).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let client = client.clone();
        tasks.spawn(async move { client.logon_users(&id).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(sim.requests().count(SimEndpoint::Token), 1, "single flight");
    client.list_devices(None).await.unwrap();
    client.list_alerts(None).await.unwrap();
    client.hunting("DeviceInfo | take 3").await.unwrap();
    client.hunting("DeviceInfo | take 3").await.unwrap();
    client.vulnerabilities_full().await.unwrap();
    // Hunting goes to Graph: one Graph token besides the Defender one.
    assert_eq!(sim.requests().count(SimEndpoint::Token), 2);
    assert_eq!(client.stats().token_requests, 2);
    // A new run of the same connection keeps the tokens and counts afresh.
    let run = client.clone().with_cancel(CancellationToken::new());
    run.list_alerts(None).await.unwrap();
    run.hunting("DeviceInfo | take 3").await.unwrap();
    assert_eq!(sim.requests().count(SimEndpoint::Token), 2);
    assert_eq!(run.stats().token_requests, 0);
    assert_eq!(run.stats().calls_of(Endpoint::Alerts).calls, 1);
    // Neither the client nor its counters show the secret.
    let shown = format!("{client:?} {:?}", client.stats());
    assert!(!shown.contains(&sim.client_secret()));
}

#[tokio::test]
async fn pages_shuffled_once_still_give_the_complete_set() {
    let sim = start(config(230)).await;
    sim.faults()
        .next(FaultKind::ShufflePages, Some(SimEndpoint::Machines), 1);
    let client = client(&sim);
    let listing = client.list_devices(None).await.unwrap();
    let listed = ids(&listing.items, |d| &d.id);
    assert_eq!(set(&listed).len(), listed.len(), "unique by id");
    assert!(listing.duplicates > 0, "the shuffle showed as repeated ids");
    assert!(listing.complete);
    assert_eq!(set(&listed), set(&sim.truth().machine_ids()));
}

#[tokio::test]
async fn a_listing_that_stays_shuffled_is_not_complete() {
    let sim = start(config(230)).await;
    sim.faults()
        .set(FaultKind::ShufflePages, Some(SimEndpoint::Machines), 1.0);
    let client = client(&sim);
    let listing = client.list_devices(None).await.unwrap();
    let listed = ids(&listing.items, |d| &d.id);
    assert_eq!(set(&listed).len(), listed.len(), "unique by id");
    let truth = set(&sim.truth().machine_ids());
    assert!(set(&listed).is_subset(&truth));
    assert_eq!(
        listing.complete,
        set(&listed) == truth,
        "complete only if it is"
    );
    assert!(!listing.complete);
    // Three passes of five pages, each followed by a $count check.
    assert_eq!(sim.requests().count(SimEndpoint::Machines), 18);
}

/// The default roles without Graph's hunting role.
fn roles_without_graph_hunting() -> Vec<&'static str> {
    DEFAULT_ROLES
        .iter()
        .copied()
        .filter(|role| *role != GRAPH_HUNTING_ROLE)
        .collect()
}

#[tokio::test]
async fn with_the_graph_role_hunting_goes_to_graph_only() {
    let sim = start(config(40)).await;
    let client = client(&sim);
    assert!(
        !client.uses_graph_hunting(),
        "undecided before the first query"
    );
    let rows = client
        .hunting("DeviceInfo | summarize arg_max(Timestamp, *) by DeviceId | project DeviceId, LoggedOnUsers")
        .await
        .unwrap();
    assert_eq!(rows.len(), sim.truth().machine_count());
    // JSON-array columns arrive as strings holding JSON.
    assert!(rows.iter().any(|row| {
        row.json("LoggedOnUsers")
            .is_some_and(|users| users.is_array())
    }));
    assert!(client.uses_graph_hunting());
    assert_eq!(client.hunting_api().await.unwrap(), HuntingApi::Graph);
    let rows = client.hunting("DeviceInfo | count").await.unwrap();
    assert!(rows[0].i64("Count").unwrap() > 0);
    assert_eq!(sim.requests().count(SimEndpoint::AdvancedQueries), 0);
    assert_eq!(sim.requests().count(SimEndpoint::GraphHunting), 2);
    let body = sim.requests().of(SimEndpoint::GraphHunting)[0]
        .body
        .clone()
        .unwrap();
    assert!(body.starts_with("{\"Query\":"), "{body}");
    // Only the Graph token: the decision reuses the token the queries need.
    assert_eq!(sim.requests().count(SimEndpoint::Token), 1);
    let stats = client.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.calls_of(Endpoint::Hunting).calls, 0);
    assert_eq!(stats.calls_of(Endpoint::GraphHunting).calls, 2);
    assert_eq!(client.call_counts().get("graph_hunting"), Some(&2));
}

#[tokio::test]
async fn without_the_graph_role_hunting_goes_to_the_legacy_api_only() {
    let sim = start(config(40)).await;
    sim.set_roles(&sim.client_id(), &roles_without_graph_hunting());
    let client = client(&sim);
    let rows = client.hunting("DeviceInfo | count").await.unwrap();
    assert!(rows[0].i64("Count").unwrap() > 0);
    client.hunting("DeviceInfo | take 3").await.unwrap();
    assert!(!client.uses_graph_hunting());
    assert_eq!(
        client.hunting_api().await.unwrap(),
        HuntingApi::LegacyWithoutGraphRole
    );
    assert_eq!(sim.requests().count(SimEndpoint::GraphHunting), 0);
    assert_eq!(sim.requests().count(SimEndpoint::AdvancedQueries), 2);
    let body = sim.requests().of(SimEndpoint::AdvancedQueries)[0]
        .body
        .clone()
        .unwrap();
    assert!(
        body.starts_with("{\"Query\":"),
        "case-sensitive key: {body}"
    );
    // The Graph token that decided, and the Defender token of the queries.
    assert_eq!(sim.requests().count(SimEndpoint::Token), 2);
}

#[tokio::test]
async fn retired_legacy_hunting_switches_to_graph_for_the_rest_of_the_run() {
    let sim = start(config(40)).await;
    sim.faults().set(FaultKind::HuntingRetired, None, 1.0);
    // No Graph token at the first query: the legacy API is asked first.
    sim.faults()
        .next(FaultKind::InternalError, Some(SimEndpoint::Token), 1);
    let client = client(&sim);
    let rows = client.hunting("DeviceInfo | count").await.unwrap();
    assert!(rows[0].i64("Count").unwrap() > 0);
    assert!(client.uses_graph_hunting());
    assert_eq!(
        client.hunting_api().await.unwrap(),
        HuntingApi::GraphLegacyRetired
    );
    client.hunting("DeviceInfo | count").await.unwrap();
    assert_eq!(sim.requests().count(SimEndpoint::AdvancedQueries), 1);
    assert_eq!(sim.requests().count(SimEndpoint::GraphHunting), 2);
    // The Graph token refused, a Defender token, then a Graph token.
    assert_eq!(sim.requests().count(SimEndpoint::Token), 3);
    let stats = client.stats();
    assert_eq!(stats.calls_of(Endpoint::Hunting).calls, 1);
    assert_eq!(stats.calls_of(Endpoint::Hunting).failed, 1);
    assert_eq!(stats.calls_of(Endpoint::GraphHunting).calls, 2);

    // Retired without the Graph role: Graph's 403 names the role, and nothing ping-pongs.
    let sim = start(config(20)).await;
    sim.faults().set(FaultKind::HuntingRetired, None, 1.0);
    sim.set_roles(&sim.client_id(), &roles_without_graph_hunting());
    let unauthorized = self::client(&sim);
    for _ in 0..2 {
        let error = unauthorized
            .hunting("DeviceInfo | count")
            .await
            .unwrap_err();
        assert!(
            matches!(&error, MdeError::Forbidden { required, .. } if required.iter().any(|role| role == GRAPH_HUNTING_ROLE)),
            "{error:?}"
        );
    }
    assert_eq!(sim.requests().count(SimEndpoint::AdvancedQueries), 1);
    assert_eq!(sim.requests().count(SimEndpoint::GraphHunting), 2);
}

#[tokio::test]
async fn a_graph_403_moves_hunting_to_the_legacy_api_for_good() {
    let sim = start(config(20)).await;
    sim.faults()
        .fail(SimEndpoint::GraphHunting, Failure::Forbidden);
    let client = client(&sim);
    let rows = client.hunting("DeviceInfo | count").await.unwrap();
    assert!(rows[0].i64("Count").unwrap() > 0);
    client.hunting("DeviceInfo | count").await.unwrap();
    assert!(!client.uses_graph_hunting());
    assert_eq!(
        client.hunting_api().await.unwrap(),
        HuntingApi::LegacyGraphForbidden
    );
    assert_eq!(sim.requests().count(SimEndpoint::GraphHunting), 1);
    assert_eq!(sim.requests().count(SimEndpoint::AdvancedQueries), 2);
    // A new run of the connection keeps the choice.
    let run = client.clone().with_cancel(CancellationToken::new());
    run.hunting("DeviceInfo | count").await.unwrap();
    assert_eq!(sim.requests().count(SimEndpoint::GraphHunting), 1);
}

#[tokio::test]
async fn page_sizes_above_the_service_maximum_are_not_sent() {
    let sim = start(SimConfig {
        max_page_size: 10_000,
        ..config(30)
    })
    .await;
    let client = client_with(
        &sim,
        ClientOptions {
            page_size: 50_000,
            ..options()
        },
    );
    let listing = client.list_devices(None).await.unwrap();
    assert!(listing.complete);
    assert_eq!(listing.items.len(), 30);
    let top = sim.requests().of(SimEndpoint::Machines)[0].param("$top");
    assert_eq!(top.as_deref(), Some("10000"));
}

#[tokio::test]
async fn a_missing_role_is_named() {
    let sim = start(config(20)).await;
    sim.set_roles(&sim.client_id(), &["Alert.Read.All"]);
    let client = client(&sim);
    let error = client.list_devices(None).await.unwrap_err();
    match &error {
        MdeError::Forbidden { required, message } => {
            assert_eq!(required, &["Machine.Read.All", "Machine.ReadWrite.All"]);
            assert!(message.contains("Machine.Read.All"));
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("Machine.Read.All"), "{error}");
    assert_eq!(
        sim.requests().count(SimEndpoint::Machines),
        1,
        "not retried"
    );
    // Alerts still work.
    assert!(client.list_alerts(None).await.unwrap().complete);
}

#[tokio::test]
async fn cancellation_stops_promptly_wherever_the_client_waits() {
    let sim = start(config(20)).await;
    // A request the server is slow to answer.
    let mut slow = FaultRule::new(FaultKind::Slow, Some(SimEndpoint::Machines), 1.0);
    slow.delay = Duration::from_secs(30);
    let rule = sim.faults().add(slow);
    let cancel = CancellationToken::new();
    let client = client(&sim).with_cancel(cancel.clone());
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    assert_eq!(
        client.list_devices(None).await.unwrap_err(),
        MdeError::Cancelled
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        client.stats().calls_of(Endpoint::Machines).failed,
        0,
        "cancelled is no failure"
    );
    sim.faults().remove(rule);

    // A long Retry-After.
    let mut throttle = FaultRule::new(FaultKind::Throttle, Some(SimEndpoint::Alerts), 1.0);
    throttle.retry_after_secs = 30;
    sim.faults().add(throttle);
    let cancel = CancellationToken::new();
    let client = client.with_cancel(cancel.clone());
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    assert_eq!(
        client.list_alerts(None).await.unwrap_err(),
        MdeError::Cancelled
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // The rate budget.
    let cancel = CancellationToken::new();
    let client = client_with(
        &sim,
        ClientOptions {
            budgets: Budgets {
                hunting: vec![Limit::per_hour(2)],
                ..options().budgets
            },
            ..options()
        },
    )
    .with_cancel(cancel.clone());
    client.hunting("DeviceInfo | count").await.unwrap();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    assert_eq!(
        client.hunting("DeviceInfo | count").await.unwrap_err(),
        MdeError::Cancelled
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Already cancelled: nothing is sent.
    let before = sim.requests().total();
    assert_eq!(
        client.vulnerabilities_full().await.unwrap_err(),
        MdeError::Cancelled
    );
    assert_eq!(sim.requests().total(), before);
}

#[tokio::test]
async fn network_history_is_chunked_without_losing_or_repeating_rows() {
    let sim = start(config(90)).await;
    let client = client_with(
        &sim,
        ClientOptions {
            hunting_high_water: 1_500,
            ..options()
        },
    );
    // Tell the client the tenant is tiny: the first window is far too wide and must be halved.
    client.set_device_count_hint(1);
    let now = sim.clock().now();
    let (from, to) = (now - TimeDelta::days(9) - TimeDelta::minutes(17), now);
    let windows = Arc::new(AtomicU32::new(0));
    let counter = windows.clone();
    let client = client.with_progress(Arc::new(move |progress: Progress| {
        if progress.endpoint == EndpointKind::NetworkHistory {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let observations = client.network_history(from, to).await.unwrap();

    // The same range in one query.
    let total = client
        .hunting(&format!(
            "DeviceNetworkInfo | where Timestamp >= {} and Timestamp < {} | count",
            kql(from),
            kql(to)
        ))
        .await
        .unwrap()[0]
        .i64("Count")
        .unwrap();
    assert!(
        total > 3_000,
        "enough rows to need several windows: {total}"
    );
    assert_eq!(observations.len() as i64, total, "no row lost or repeated");
    let keys: HashSet<(Arc<str>, Option<Arc<str>>, i64)> = observations
        .iter()
        .map(|o| {
            (
                o.device_id.clone(),
                o.adapter_name.clone(),
                o.timestamp.timestamp_micros(),
            )
        })
        .collect();
    assert_eq!(keys.len(), observations.len());
    assert!(
        observations
            .iter()
            .all(|o| o.timestamp >= from && o.timestamp < to)
    );
    let n_windows = windows.load(Ordering::SeqCst);
    let n_queries = client.stats().calls_of(Endpoint::GraphHunting).calls;
    assert!(n_windows >= 3, "{n_windows} windows");
    assert!(
        n_queries > u64::from(n_windows) + 1,
        "some window was halved and asked again"
    );
    for record in sim.requests().of(SimEndpoint::GraphHunting) {
        let body = record.body.unwrap();
        if body.contains("| count") {
            continue;
        }
        assert!(
            body.contains(
                "project Timestamp, DeviceId, NetworkAdapterName, MacAddress, IPAddresses"
            ),
            "{body}"
        );
    }
    // Hunting MACs are hyphenated; they arrive normalized, and IPs parsed from the JSON column.
    let with_mac = observations.iter().find(|o| o.mac.is_some()).unwrap();
    assert_eq!(with_mac.mac.as_ref().unwrap().to_string().len(), 17);
    assert!(observations.iter().all(|o| !o.addresses.is_empty()));
    assert!(
        observations
            .iter()
            .flat_map(|o| o.addresses.iter())
            .any(|a| a.prefix.is_some_and(|prefix| (1..=128).contains(&prefix)))
    );
    assert_eq!(client.stats().unparsable_values, 0);
    // A device's reports share one copy of its id, adapter names and each address list (a
    // full history holds millions of reports).
    let first = &observations[0];
    let same_device: Vec<_> = observations
        .iter()
        .filter(|o| o.device_id == first.device_id && o.adapter_name == first.adapter_name)
        .collect();
    assert!(same_device.len() > 1, "the device reported more than once");
    for other in same_device {
        assert!(Arc::ptr_eq(&other.device_id, &first.device_id));
        if let (Some(a), Some(b)) = (&other.adapter_name, &first.adapter_name) {
            assert!(Arc::ptr_eq(a, b));
        }
        if other.addresses == first.addresses {
            assert!(Arc::ptr_eq(&other.addresses, &first.addresses));
        }
    }
    let repeated = observations
        .iter()
        .filter(|o| !Arc::ptr_eq(&o.addresses, &first.addresses) && o.addresses == first.addresses)
        .count();
    assert_eq!(repeated, 0, "an address list is held once");
}

fn kql(time: chrono::DateTime<Utc>) -> String {
    format!(
        "datetime({}.{:07}Z)",
        time.format("%Y-%m-%dT%H:%M:%S"),
        time.timestamp_subsec_nanos() / 100
    )
}

#[tokio::test]
async fn logons_keep_the_latest_sign_in_per_device_and_account() {
    let sim = start(config(80)).await;
    let client = client_with(
        &sim,
        ClientOptions {
            hunting_high_water: 60,
            ..options()
        },
    );
    let now = sim.clock().now();
    let (from, to) = (now - TimeDelta::days(20), now);
    let logons = client.logons(from, to).await.unwrap();
    assert!(
        client.stats().calls_of(Endpoint::GraphHunting).calls > 2,
        "chunked"
    );

    let whole = client
        .hunting(&format!(
            "DeviceLogonEvents | where Timestamp >= {} and Timestamp < {} | where ActionType == \"LogonSuccess\" | summarize Timestamp = max(Timestamp) by DeviceId, AccountDomain, AccountName",
            kql(from),
            kql(to)
        ))
        .await
        .unwrap();
    let expected: BTreeSet<(String, String, String, i64)> = whole
        .iter()
        .map(|row| {
            (
                row.str("DeviceId").unwrap().to_owned(),
                row.str("AccountDomain").unwrap_or_default().to_owned(),
                row.str("AccountName").unwrap().to_owned(),
                row.time("Timestamp").unwrap().timestamp(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String, String, i64)> = logons
        .iter()
        .map(|o| {
            (
                o.device_id.clone(),
                o.account_domain.clone().unwrap_or_default(),
                o.account_name.clone(),
                o.timestamp.timestamp(),
            )
        })
        .collect();
    assert_eq!(got.len(), logons.len(), "one row per device and account");
    assert_eq!(got, expected);
    assert!(
        logons
            .iter()
            .all(|o| o.account_sid.is_some() && o.is_local_admin.is_some())
    );
    // The local administrator of two devices stays two accounts.
    let admins: BTreeSet<&str> = logons
        .iter()
        .filter(|o| o.account_name == "administrator")
        .map(|o| o.device_id.as_str())
        .collect();
    assert!(admins.len() > 1, "{admins:?}");
}

#[tokio::test]
async fn logon_users_of_one_device() {
    let sim = start(config(40)).await;
    let client = client(&sim);
    let id = sim
        .truth()
        .machine_ids()
        .into_iter()
        .find(|id| sim.truth().logon_users(id).len() > 1)
        .unwrap();
    let users = client.logon_users(&id).await.unwrap();
    let got: BTreeSet<(String, String)> = users
        .iter()
        .map(|u| (u.account_domain.clone().unwrap(), u.account_name.clone()))
        .collect();
    let truth: BTreeSet<(String, String)> = sim
        .truth()
        .logon_users(&id)
        .into_iter()
        .map(|u| (u.account_domain, u.account_name))
        .collect();
    assert_eq!(got, truth);
    assert!(users.iter().all(|u| u.device_id == id));
}

#[tokio::test]
async fn the_vulnerability_export_follows_its_skiptoken_to_the_end() {
    let sim = start(config(40)).await;
    let client = client_with(
        &sim,
        ClientOptions {
            export_page_size: Some(100),
            ..options()
        },
    );
    let vulnerabilities = client.vulnerabilities_full().await.unwrap();
    let truth: Vec<mde_sim::VulnerabilityFact> = sim
        .truth()
        .machine_ids()
        .iter()
        .flat_map(|id| sim.truth().vulnerabilities(id, false))
        .collect();
    assert!(truth.len() > 300, "several pages: {}", truth.len());
    assert_eq!(vulnerabilities.len(), truth.len());
    let pages = sim.requests().count(SimEndpoint::VulnerabilitiesExport);
    assert_eq!(pages, truth.len().div_ceil(100));
    let fact = &truth[5];
    let found = vulnerabilities
        .iter()
        .find(|v| {
            *v.device_id == *fact.machine_id
                && *v.cve_id == *fact.cve_id
                && *v.software_name == *fact.product_name
                && *v.software_version == *fact.product_version
        })
        .unwrap();
    assert_eq!(found.cvss_score, Some(fact.cvss_v3), "decimal score kept");
    // Each repeated text is held once: a full export repeats CVEs and products thousands of times.
    let mut first_of: std::collections::HashMap<&str, &Arc<str>> = Default::default();
    let mut shared = 0;
    for text in vulnerabilities
        .iter()
        .flat_map(|v| [&v.cve_id, &v.software_name, &v.device_id])
    {
        let first = *first_of.entry(&**text).or_insert(text);
        assert!(Arc::ptr_eq(first, text), "{text} is held twice");
        shared += usize::from(!std::ptr::eq(first, text));
    }
    assert!(shared > 0, "some text repeats");
    assert_eq!(
        found.first_seen.map(|t| t.timestamp()),
        Some(fact.first_seen.timestamp())
    );
    assert_eq!(
        client.stats().calls_of(Endpoint::VulnerabilityExport).calls as usize,
        pages
    );
}

/// Every `$skiptoken` of an export is new, so a service whose links never end would be followed
/// for ever: a page count stops it, and the export fails as a whole (nothing is marked fixed).
#[tokio::test]
async fn an_export_longer_than_the_page_limit_is_stopped_and_not_used() {
    let sim = start(config(40)).await;
    let client = client_with(
        &sim,
        ClientOptions {
            export_page_size: Some(100),
            max_export_pages: 2,
            ..options()
        },
    );
    let error = client.vulnerabilities_full().await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, MdeError::Decode { .. }) && message.contains("limit of 2 pages"),
        "{message}"
    );
    assert!(message.contains("200 rows"), "{message}");
    assert_eq!(sim.requests().count(SimEndpoint::VulnerabilitiesExport), 2);
}

#[tokio::test]
async fn vulnerability_changes_and_their_fourteen_day_window() {
    let sim = start(config(40)).await;
    let client = client(&sim);
    let id = sim
        .truth()
        .machine_ids()
        .into_iter()
        .find(|id| !sim.truth().vulnerabilities(id, false).is_empty())
        .unwrap();
    let cve = sim.truth().vulnerabilities(&id, false)[0].cve_id.clone();
    sim.clock().advance(Duration::from_secs(60));
    sim.truth().fix_cve(&id, &cve).unwrap();
    let changes = client
        .vulnerability_changes(Utc::now() - TimeDelta::days(2))
        .await
        .unwrap();
    assert!(
        changes
            .iter()
            .any(|change| change.kind == VulnerabilityChangeKind::Fixed
                && *change.vulnerability.device_id == *id
                && *change.vulnerability.cve_id == *cve)
    );
    let since = sim.requests().of(SimEndpoint::VulnerabilityChangesExport)[0]
        .param("sinceTime")
        .unwrap();
    assert!(since.ends_with('Z'), "{since}");

    let before = sim.requests().total();
    assert_eq!(
        client
            .vulnerability_changes(Utc::now() - TimeDelta::days(15))
            .await
            .unwrap_err(),
        MdeError::DeltaWindowExceeded
    );
    assert_eq!(
        sim.requests().total(),
        before,
        "known too old without asking"
    );
}

#[tokio::test]
async fn find_by_ip_confirms_who_held_an_address() {
    let sim = start(config(40)).await;
    let client = client(&sim);
    let (id, ip) = sim
        .truth()
        .read(|tenant| {
            tenant
                .listed_devices()
                .find_map(|device| device.last_ip_address().map(|ip| (device.id.clone(), ip)))
        })
        .unwrap();
    let at = sim.clock().now() - TimeDelta::minutes(5);
    let devices = client.find_by_ip(ip.into(), at).await.unwrap();
    assert!(
        devices.iter().any(|device| device.id == id),
        "{id} held {ip}"
    );
    assert_eq!(sim.requests().count(SimEndpoint::FindByIp), 1);
}

#[tokio::test]
async fn an_incremental_listing_answered_with_404_is_empty_and_complete() {
    let sim = start(SimConfig {
        quirks: mde_sim::Quirks {
            empty_machine_list_404: true,
            ..mde_sim::Quirks::default()
        },
        ..config(20)
    })
    .await;
    let client = client(&sim);
    let listing = client
        .list_devices(Some(sim.clock().now() + TimeDelta::days(1)))
        .await
        .unwrap();
    assert!(listing.items.is_empty());
    assert!(listing.complete);
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_fails_its_call_and_says_so() {
    let sim = Sim::start(SimConfig {
        devices: 40,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // A page of devices is far over 4 KiB; the token answer is not read through this cap.
    let capped = client_with(
        &sim,
        ClientOptions {
            max_answer_bytes: 4096,
            ..options()
        },
    );
    let error = capped.list_devices(None).await.unwrap_err();
    assert!(
        matches!(
            error,
            mde_car_core::mde::MdeError::TooLarge { limit: 4096, .. }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), "too_large");
    assert!(!error.is_retryable());
    assert!(
        error.to_string().contains("larger than 4096 bytes"),
        "{error}"
    );
    // One call, no retries of an answer that will not shrink.
    assert_eq!(
        sim.requests()
            .of(mde_sim::requests::Endpoint::Machines)
            .len(),
        1
    );
    // The default reads it.
    assert_eq!(
        client(&sim).list_devices(None).await.unwrap().items.len(),
        40
    );
}

/// A token answer from a host that sends without end: `chunked` without a length, else with a
/// Content-Length that says it. Starts like Entra ID's, with an access token.
async fn endless_token_host(chunked: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = socket.read(&mut request).await;
                let start = br#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.LEAKED-ACCESS-TOKEN."#;
                let padding = vec![b'A'; 64 * 1024];
                let total = 4 * 1024 * 1024;
                let head = if chunked {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
                    )
                };
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut sent = 0;
                for part in std::iter::once(&start[..]).chain(std::iter::repeat(&padding[..])) {
                    if sent >= total {
                        break;
                    }
                    let written = if chunked {
                        let mut chunk = format!("{:x}\r\n", part.len()).into_bytes();
                        chunk.extend_from_slice(part);
                        chunk.extend_from_slice(b"\r\n");
                        socket.write_all(&chunk).await
                    } else {
                        socket.write_all(part).await
                    };
                    // The client stops reading at its cap and hangs up.
                    if written.is_err() {
                        return;
                    }
                    sent += part.len();
                }
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_token_answer_larger_than_a_token_is_refused_unread_and_never_shown() {
    let sim = start(config(1)).await;
    for chunked in [false, true] {
        let client = MdeClient::new(
            mde_car_core::http::client().unwrap(),
            Endpoints {
                authority: endless_token_host(chunked).await,
                ..endpoints(&sim)
            },
            &sim.tenant_id(),
            &sim.client_id(),
            SecretString::from(sim.client_secret()),
            options(),
        );
        let error = client.list_devices(None).await.unwrap_err();
        let text = error.to_string();
        assert!(
            matches!(error, MdeError::Auth(_)) && text.contains("not entra id"),
            "chunked {chunked}: {error:?}"
        );
        assert!(
            text.contains("larger than 1024 kB"),
            "chunked {chunked}: {text}"
        );
        assert!(!text.contains("LEAKED"), "chunked {chunked}: {text}");
    }
}

/// Test connection reads one device; a host that answers with megabytes is not Defender, and
/// is refused at the cap instead of read whole.
#[tokio::test]
async fn test_connection_reads_at_most_a_megabyte_for_its_one_device() {
    let sim = start(config(1)).await;
    let machines = axum::Router::new().route(
        "/api/machines",
        axum::routing::get(|| async { format!("{{\"value\":[\"{}\"]}}", "x".repeat(3 << 20)) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, machines).await });
    let endpoints = Endpoints {
        api_base: format!("http://{address}"),
        ..endpoints(&sim)
    };
    let (tenant, client) = (sim.tenant_id(), sim.client_id());
    let probed = mde_car_core::probe::test_connection(
        &mde_car_core::http::client().unwrap(),
        &mde_car_core::probe::ProbeTarget {
            tenant_id: &tenant,
            client_id: &client,
            cloud: Cloud::Commercial,
            endpoints: &endpoints,
            data: Default::default(),
            network: Default::default(),
        },
        &SecretString::from(sim.client_secret()).into(),
    )
    .await;
    assert!(!probed.devices_read);
    assert_eq!(
        probed.report.code,
        mde_car_core::probe::TestCode::Unexpected,
        "{:?}",
        probed.report
    );
    assert!(
        probed.report.detail.contains("more than 1024 kB"),
        "{:?}",
        probed.report
    );
}
