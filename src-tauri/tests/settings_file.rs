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
