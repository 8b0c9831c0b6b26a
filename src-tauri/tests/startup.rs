//! When the app cannot open its data, the window says why instead of the app vanishing.

mod common;

use common::{app, invoke, window};
use serde_json::{Value, json};

#[test]
fn a_damaged_database_is_explained_in_the_window_and_left_alone() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database = dir.path().join("mde-car.sqlite3");
    let garbage = b"this is not a SQLite database, it was overwritten by something else".repeat(64);
    std::fs::write(&database, &garbage).expect("written");

    let app = app();
    let data = mde_car_core::paths::DataDir::new(dir.path());
    mde_car_desktop::start(app.handle(), Some(data));
    let webview = window(&app);

    let problem = invoke(&webview, "startup_problem", json!({})).expect("an answer");
    let message = problem["message"].as_str().expect("a message");
    assert!(message.contains("mde-car.sqlite3"), "{message}");
    assert!(message.contains("move it aside"), "{message}");
    assert_eq!(problem["dataDir"], dir.path().display().to_string());
    assert_eq!(std::fs::read(&database).expect("still there"), garbage);
}

#[test]
fn a_healthy_start_has_no_problem_to_show() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let app = app();
    let data = Some(mde_car_core::paths::DataDir::new(dir.path()));
    // The part of `start` that opens the data, without the scheduler.
    mde_car_desktop::manage_core(app.handle(), data).expect("the core opens");
    let webview = window(&app);
    assert_eq!(
        invoke(&webview, "startup_problem", json!({})),
        Ok(Value::Null)
    );
}
