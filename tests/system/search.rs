//! `mde-car search` and `mde-car asset` as a user runs them: after a real `mde-car sync` from
//! the simulator, answers match its ground truth, the JSON is what the README documents, and
//! bad input gets a specific message and a failing exit status, never a panic.

use chrono::{Duration, SecondsFormat};
use mde_car_tests::Workspace;
use mde_sim::{Sim, SimConfig};
use serde_json::Value;

async fn synced() -> (Sim, Workspace) {
    let sim = Sim::start(SimConfig {
        devices: 300,
        seed: 21,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let workspace = Workspace::new();
    workspace
        .add_simulated(&sim, "Contoso", None)
        .assert()
        .success();
    workspace.cli().args(["sync", "Contoso"]).assert().success();
    (sim, workspace)
}

fn json(workspace: &Workspace, args: &[&str]) -> Value {
    let output = workspace.cli().args(args).arg("--json").output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn device_ids(results: &Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["deviceId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_answers_from_the_synced_store_as_the_tenant_says() {
    let (sim, workspace) = synced().await;
    let truth = sim.truth();
    let now = sim.clock().now();

    // A device's current address: its holder comes first, with its risk and relation.
    let (device, ip) = truth
        .machine_ids()
        .into_iter()
        .find_map(|id| {
            let machine: Value = serde_json::from_str(&truth.machine_json(&id)?).ok()?;
            let ip: std::net::Ipv4Addr = machine["lastIpAddress"].as_str()?.parse().ok()?;
            (truth.ip_holders_at(ip, now) == vec![id.clone()]).then_some((id, ip))
        })
        .expect("a device holds its last address alone");
    let results = json(&workspace, &["search", &ip.to_string()]);
    assert_eq!(results["query"]["kind"], "ip", "{results}");
    assert_eq!(device_ids(&results).first(), Some(&device), "{ip}");
    let hit = &results["hits"][0];
    assert_eq!(hit["connection"]["name"], "Contoso");
    let score = hit["risk"]["score"].as_f64().unwrap();
    assert!((0.0..=10.0).contains(&score), "{score}");
    assert!(hit["risk"]["components"].is_array());
    assert!(
        hit["relations"][0]["text"]
            .as_str()
            .unwrap()
            .contains(&ip.to_string())
    );

    // The device view of that hit.
    let asset_id = hit["assetId"].as_i64().unwrap().to_string();
    let detail = json(&workspace, &["asset", &asset_id]);
    assert_eq!(detail["deviceId"], device.as_str());
    assert!(
        detail["ipAddresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|link| link["address"] == ip.to_string().as_str()),
        "{detail}"
    );
    let by_device = json(&workspace, &["asset", &format!("Contoso:{device}")]);
    assert_eq!(by_device["assetId"], detail["assetId"]);

    // An address that changed hands: at the middle of a past lease, its holder then.
    let reused = truth.reused_ip().expect("the tenant reuses addresses");
    let (holder, lease) = truth
        .ip_history(reused)
        .into_iter()
        .filter(|(_, lease)| lease.start > now - Duration::days(28))
        .filter_map(|(device, lease)| Some((device, lease, lease.end?)))
        .max_by_key(|(_, lease, end)| *end - lease.start)
        .map(|(device, lease, _)| (device, lease))
        .expect("a lease that ended in the last four weeks");
    let end = lease.end.unwrap();
    let middle = lease.start + (end - lease.start) / 2;
    assert_eq!(truth.ip_holders_at(reused, middle), vec![holder.clone()]);
    let at = middle.to_rfc3339_opts(SecondsFormat::Secs, true);
    let then = json(&workspace, &["search", &format!("{reused} @ {at}")]);
    assert_eq!(device_ids(&then), vec![holder.clone()], "{reused} @ {at}");
    let same = json(&workspace, &["search", &reused.to_string(), "--at", &at]);
    assert_eq!(device_ids(&same), vec![holder]);

    // A range holds the single address's holder.
    let octets = ip.octets();
    let range = format!("{}.{}.{}.0/24", octets[0], octets[1], octets[2]);
    let wide = json(&workspace, &["search", &range, "--limit", "1000"]);
    assert!(device_ids(&wide).contains(&device), "{range}");
    assert!(wide["total"].as_u64().unwrap() >= 1);

    // Host name prefix and MAC find the device too.
    let name = detail["name"].as_str().unwrap().to_owned();
    let prefix: String = name.chars().take(name.len().min(6)).collect();
    let by_name = json(
        &workspace,
        &["search", &prefix.to_uppercase(), "--limit", "1000"],
    );
    assert!(device_ids(&by_name).contains(&device), "{prefix}");
    if let Some(mac) = detail["macAddresses"][0]["value"].as_str() {
        let dashed = mac.replace(':', "-").to_lowercase();
        let by_mac = json(&workspace, &["search", &dashed]);
        assert!(device_ids(&by_mac).contains(&device), "{dashed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_searches_fail_with_a_specific_message() {
    let (_sim, workspace) = synced().await;
    let long = "1".repeat(10_000);
    for (args, expected) in [
        (vec!["search", "10.1.2"], "10.1.2"),
        (vec!["search", "300.1.1.1"], "300"),
        (vec!["search", "10.0.0.0/33"], "/33"),
        (
            vec!["search", "10.1.2.3", "--at", "next tuesday-ish"],
            "time",
        ),
        (vec!["search", long.as_str()], "at most 300"),
        (vec!["search", "10.1.2.3", "--connection", "Nope"], "Nope"),
        (vec!["asset", "999999999"], "999999999"),
    ] {
        let output = workspace.cli().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let shown: Vec<&str> = args.iter().map(|a| &a[..a.len().min(20)]).collect();
        assert!(!output.status.success(), "{shown:?} succeeded");
        assert!(
            stderr.contains(expected),
            "{shown:?}: expected {expected:?} in {}",
            &stderr[..stderr.len().min(400)]
        );
        assert!(!stderr.contains("panicked"), "{shown:?}: {stderr}");
    }
}
