//! The leak test of the desktop shell, through Tauri's mock runtime: no IPC answer, no error,
//! no event the window hears, no export and no file of the data folder holds the client secret
//! or an access token — after a failed test, a passing test, a full sync that refreshes its
//! expired token, a sync that fails, and every read and export command. It runs itself again
//! with `MDE_CAR_LOG=trace`, so the log file is the most verbose one (the workspace forbids the
//! `unsafe` that setting the variable in-process needs). The CLI's side is in
//! `tests/system/secrets.rs`.

mod common;

use std::time::Duration;

use common::invoke;
use mde_car_core::Core;
use mde_sim::{Endpoint, FaultKind, FaultRule};
use serde_json::{Value, json};
use tauri::Manager as _;

const TEST_NAME: &str = "nothing_the_window_hears_or_the_app_writes_holds_a_secret_or_a_token";

fn draft(sim: &mde_sim::Sim, name: &str, secret: &str) -> Value {
    json!({
        "name": name, "description": "", "tenantId": sim.tenant_id(), "clientId": sim.client_id(),
        "clientSecret": secret, "frequency": {"kind": "interval", "minutes": 240}, "cloud": "commercial",
        "apiBaseUrl": sim.api_base(), "loginAuthority": sim.authority(),
        "data": {"alerts": true, "vulnerabilities": true, "loggedOnUsers": true, "ipHistory": true},
    })
}

/// Waits for the end of the connection's run, keeping every event as the window gets it.
fn wait_for_end(
    runtime: &tokio::runtime::Runtime,
    events: &mut tokio::sync::broadcast::Receiver<mde_car_core::events::SyncEvent>,
    heard: &mut Vec<String>,
    connection_id: &str,
) -> Value {
    loop {
        let event = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(120), events.recv()).await })
            .expect("the run ends within two minutes")
            .expect("the core's events go on");
        let update = serde_json::to_value(mde_car_desktop::dto::SyncUpdate::from(event))
            .expect("an event is JSON");
        heard.push(update.to_string());
        if update["kind"] == "finished" && update["connectionId"] == connection_id {
            return update;
        }
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn nothing_the_window_hears_or_the_app_writes_holds_a_secret_or_a_token() {
    if std::env::var("MDE_CAR_LOG").as_deref() != Ok("trace") {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env("MDE_CAR_LOG", "trace")
            .status()
            .unwrap();
        assert!(status.success(), "the test at trace level failed");
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let sim = runtime
        .block_on(mde_sim::Sim::start(mde_sim::SimConfig {
            devices: 12,
            ..Default::default()
        }))
        .expect("the simulator starts");
    let data_dir = tempfile::tempdir().unwrap();
    let export_dir = tempfile::tempdir().unwrap();
    let app = common::app();
    mde_car_desktop::manage_core(
        app.handle(),
        Some(mde_car_core::paths::DataDir::new(data_dir.path())),
    )
    .expect("the core opens");
    app.manage(mde_car_desktop::export::SaveLocation::folder(
        export_dir.path().to_owned(),
    ));
    let mut events = app.state::<Core>().subscribe();
    let webview = common::window(&app);
    let secret = sim.client_secret();
    let wrong = "Wr0ng~but.also.secret.value";
    let mut said: Vec<String> = Vec::new();
    let mut heard: Vec<String> = Vec::new();
    let mut call = |cmd: &str, args: Value| {
        let answer = invoke(&webview, cmd, args);
        said.push(format!("{cmd}: {}", answer.as_ref().unwrap_or_else(|e| e)));
        answer
    };

    let right = call(
        "add_connection",
        json!({ "draft": draft(&sim, "right", &secret) }),
    )
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong_id = call(
        "add_connection",
        json!({ "draft": draft(&sim, "wrong", wrong) }),
    )
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Failed tests (the stored wrong secret, and a wrong one typed into the form), then one
    // that passes.
    let failed = call("test_connection", json!({ "id": wrong_id })).unwrap();
    assert_eq!(failed["ok"], false, "{failed}");
    let typed = call(
        "test_draft",
        json!({ "draft": draft(&sim, "typed", wrong), "editingId": null }),
    )
    .unwrap();
    assert_eq!(typed["ok"], false, "{typed}");
    let passed = call("test_connection", json!({ "id": right })).unwrap();
    assert_eq!(passed["ok"], true, "{passed}");

    // A full sync during which the API calls the token expired once: the client signs in again.
    let tokens_before = sim.issued_tokens().len();
    sim.faults().add(FaultRule {
        remaining: Some(1),
        ..FaultRule::new(FaultKind::TokenExpired, Some(Endpoint::Machines), 1.0)
    });
    call("sync_now", json!({ "id": right, "full": true })).unwrap();
    let ended = wait_for_end(&runtime, &mut events, &mut heard, &right);
    assert_eq!(ended["status"], "succeeded", "{ended}");
    // The token of the test was cached; the sync got a new one after the API refused it.
    let refused = sim
        .requests()
        .of(Endpoint::Machines)
        .iter()
        .find(|request| request.status == 401)
        .map(|request| request.seq)
        .expect("the token expired during the sync");
    assert!(
        sim.requests()
            .of(Endpoint::Token)
            .iter()
            .any(|request| request.seq > refused && request.status == 200),
        "a token refresh"
    );
    assert!(sim.issued_tokens().len() > tokens_before);
    call("sync_now", json!({ "id": wrong_id, "full": true })).unwrap();
    let ended = wait_for_end(&runtime, &mut events, &mut heard, &wrong_id);
    assert_eq!(ended["status"], "failed", "{ended}");

    // Every read and export the window makes, and errors of each kind.
    let truth = sim.truth();
    let device = truth.machine_ids()[0].clone();
    let machine: Value = serde_json::from_str(&truth.machine_json(&device).unwrap()).unwrap();
    let ip = machine["lastIpAddress"].as_str().unwrap().to_owned();
    let request = |query: &str| json!({ "query": query, "at": null, "connection": null, "sort": "relevance", "reverse": false, "offset": 0, "limit": 1000 });
    call("list_connections", json!({})).unwrap();
    for id in [&right, &wrong_id] {
        call("sync_runs", json!({ "id": id, "limit": 20 })).unwrap();
    }
    let found = call("search", json!({ "request": request("10.0.0.0/8") })).unwrap();
    assert!(!found["hits"].as_array().unwrap().is_empty(), "{found}");
    call("search", json!({ "request": request(&ip) })).unwrap();
    call("asset_detail", json!({ "reference": device })).unwrap();
    call("ip_timeline", json!({ "address": ip, "connection": null })).unwrap();
    for format in ["csv", "json"] {
        call(
            "export_search",
            json!({ "request": request("10.0.0.0/8"), "format": format }),
        )
        .unwrap();
        call(
            "export_ip_timeline",
            json!({ "address": ip, "connection": null, "format": format }),
        )
        .unwrap();
        call(
            "export_asset",
            json!({ "reference": device, "format": format }),
        )
        .unwrap();
    }
    call("search", json!({ "request": request("10.0.0.0/33") })).unwrap_err();
    call("asset_detail", json!({ "reference": "no-such-device" })).unwrap_err();
    call("test_connection", json!({ "id": "no-such-connection" })).unwrap_err();
    call("app_info", json!({})).unwrap();
    // Closed, so the log writer's last lines are in the file.
    drop(app);

    // What must never appear: the secrets, every issued access token (whole, and its claims
    // and signature alone), and the start of any JWT.
    let mut forbidden: Vec<(String, Vec<u8>)> = vec![
        ("the secret".to_owned(), secret.as_bytes().to_vec()),
        ("the wrong secret".to_owned(), wrong.as_bytes().to_vec()),
        ("the start of a JWT".to_owned(), b"eyJ".to_vec()),
    ];
    for (n, token) in sim.issued_tokens().iter().enumerate() {
        forbidden.push((format!("access token {n}"), token.as_bytes().to_vec()));
        for (part, segment) in token.split('.').enumerate().skip(1) {
            forbidden.push((
                format!("part {part} of access token {n}"),
                segment.as_bytes().to_vec(),
            ));
        }
    }
    assert!(heard.len() > 4, "the runs' events were heard: {heard:?}");
    let exports = files_under(export_dir.path());
    assert_eq!(exports.len(), 6, "{exports:?}");
    for export in &exports {
        let text = std::fs::read_to_string(export).unwrap();
        assert!(
            text.contains(&device),
            "{} holds the device",
            export.display()
        );
    }
    let written = files_under(data_dir.path());
    let log = written
        .iter()
        .find(|file| file.to_string_lossy().contains("mde-car.log"))
        .expect("a log file");
    assert!(
        std::fs::read_to_string(log).unwrap().contains("TRACE"),
        "the log is at trace level"
    );
    let mut searched: Vec<(String, Vec<u8>)> = said
        .into_iter()
        .chain(heard)
        .map(|text| (text.chars().take(80).collect(), text.into_bytes()))
        .collect();
    for file in exports.iter().chain(&written) {
        searched.push((file.display().to_string(), std::fs::read(file).unwrap()));
    }
    for (what, bytes) in &searched {
        for (name, value) in &forbidden {
            assert!(
                !bytes
                    .windows(value.len())
                    .any(|window| window == value.as_slice()),
                "{what} holds {name}"
            );
        }
    }
}
