//! The settings file belongs to whoever saves it under the lock, not to tauri-plugin-store: the
//! plugin saves every store it tracks when the app exits, which would write an empty document
//! over a file the app could not read, or a stale one over another process's change.

mod common;

use common::{App, Window, invoke, window};
use serde_json::json;

/// The app on `data_dir`, with its window.
fn open(data_dir: &std::path::Path) -> (App, Window) {
    let app = common::app();
    let data = Some(mde_car_core::paths::DataDir::new(data_dir));
    mde_car_desktop::manage_core(app.handle(), data).expect("the core opens");
    let webview = window(&app);
    (app, webview)
}

/// Runs the app and closes its last window once it runs, so it exits the normal way and its
/// exit hooks run. (A window closed before the loop runs is dropped without an exit.)
fn exit(app: App, webview: Window) {
    app.run_return(move |_, event| {
        if let tauri::RunEvent::Ready = event {
            webview.close().expect("the window closes");
        }
    });
}

#[test]
fn a_damaged_settings_file_is_reported_and_survives_the_app_exit() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("settings.json");
    // Cut short, as a full disk or a crash mid-write leaves a file.
    let damaged =
        r#"{"version": 1, "connections": [{"id": "c1", "name": "Contoso", "tenantId": "72f9"#;
    std::fs::write(&file, damaged).expect("written");

    let (app, webview) = open(dir.path());
    let error =
        invoke(&webview, "list_connections", json!({})).expect_err("a damaged file is an error");
    exit(app, webview);
    assert_eq!(error["code"], "storage", "{error}");
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.contains("settings.json") && message.contains("not valid JSON"),
        "{message}"
    );
    assert!(message.contains("fix or move the file"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        damaged,
        "the app rewrote the damaged settings file"
    );
}

#[test]
fn a_change_made_by_another_process_survives_the_app_exit() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("settings.json");
    std::fs::write(&file, r#"{"version": 1, "connections": []}"#).expect("written");
    let (app, webview) = open(dir.path());
    assert_eq!(
        invoke(&webview, "list_connections", json!({})),
        Ok(json!([]))
    );

    // The CLI writes the file while the app is open; the app exits before it reads it again.
    let written_elsewhere = r#"{"version":1,"connections":[{"id":"c9","name":"Added by the CLI","tenantId":"contoso.onmicrosoft.com","clientId":"00000000-0000-0000-0000-000000000001","createdAt":"2026-11-28T00:00:00Z"}]}"#;
    std::fs::write(&file, written_elsewhere).expect("written");
    exit(app, webview);
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        written_elsewhere,
        "the app's exit wrote its stale copy over another process's change"
    );
}

/// A connection as the form sends it; no network is needed to save one.
fn new_connection(name: &str) -> serde_json::Value {
    json!({
        "name": name, "description": "", "tenantId": "contoso.onmicrosoft.com",
        "clientId": "00000000-0000-0000-0000-000000000001", "clientSecret": "Abc8Q~secret.value_123",
        "frequency": {"kind": "interval", "minutes": 240}, "cloud": "commercial",
        "apiBaseUrl": null, "loginAuthority": null,
        "data": {"alerts": true, "vulnerabilities": true, "loggedOnUsers": true, "ipHistory": true},
    })
}

#[test]
fn an_empty_settings_file_is_damaged_and_an_add_does_not_write_over_it() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("settings.json");
    // What a write cut short leaves; read as "no connections", the next add would save only the
    // new one and orphan every other connection's secret in the keyring.
    std::fs::write(&file, "").expect("written");
    let (app, webview) = open(dir.path());
    let listed = invoke(&webview, "list_connections", json!({})).expect_err("an error");
    let added = invoke(
        &webview,
        "add_connection",
        json!({ "draft": new_connection("New") }),
    )
    .expect_err("an add over a damaged file fails");
    exit(app, webview);
    for error in [listed, added] {
        assert_eq!(error["code"], "storage", "{error}");
        let message = error["message"].as_str().expect("a message");
        assert!(
            message.contains("settings.json") && message.contains("it is empty"),
            "{message}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).expect("still there"), "");
}

#[test]
fn the_app_writes_settings_atomically_privately_and_keeps_keys_it_does_not_know() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("settings.json");
    std::fs::write(
        &file,
        r#"{"version": 1, "connections": [], "theme": "dark"}"#,
    )
    .expect("written");
    // Readable by others before, as an older version or a copy may have left it.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let inode_before = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&file).unwrap());
    let (app, webview) = open(dir.path());
    let added = invoke(
        &webview,
        "add_connection",
        json!({ "draft": new_connection("Saved by the app") }),
    )
    .expect("added");
    // One save only: a second one could be given the inode the first one freed.
    let id = added["id"].as_str().expect("an id").to_owned();
    exit(app, webview);

    let metadata = std::fs::metadata(&file).expect("there");
    // A new file renamed over the old one (the plugin's own save rewrites it in place).
    assert_ne!(std::os::unix::fs::MetadataExt::ino(&metadata), inode_before);
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("JSON");
    assert_eq!(written["theme"], "dark");
    assert_eq!(written["connections"][0]["id"], id.as_str());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listed")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".settings.json") || name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
