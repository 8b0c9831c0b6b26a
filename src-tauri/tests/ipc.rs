//! The IPC contract through Tauri's mock runtime: command names, argument names, the JSON shape
//! of answers and of `{code, message, fields}` errors, and no secret in any of them.

mod common;

use common::invoke;
use serde_json::{Value, json};

fn draft(sim: &mde_sim::Sim, name: &str, secret: Option<&str>) -> Value {
    json!({
        "name": name, "description": "", "tenantId": sim.tenant_id(), "clientId": sim.client_id(),
        "clientSecret": secret, "frequency": {"kind": "cron", "expression": "0 */4 * * *"}, "cloud": "commercial",
        "apiBaseUrl": sim.api_base(), "loginAuthority": sim.authority(),
        "data": {"alerts": true, "vulnerabilities": true, "loggedOnUsers": true, "ipHistory": true},
    })
}

#[test]
fn commands_answer_in_the_documented_shapes() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let sim = runtime
        .block_on(mde_sim::Sim::start(mde_sim::SimConfig {
            devices: 5,
            ..Default::default()
        }))
        .expect("the simulator starts");
    let data_dir = tempfile::tempdir().expect("a temp dir");
    let app = common::app();
    let data = Some(mde_car_core::paths::DataDir::new(data_dir.path()));
    mde_car_desktop::manage_core(app.handle(), data).expect("the core opens");
    let webview = common::window(&app);
    let secret = sim.client_secret();
    let mut answers = Vec::new();

    assert_eq!(
        invoke(&webview, "list_connections", json!({})),
        Ok(json!([]))
    );

    let bad = json!({
        "name": "", "description": "", "tenantId": "common", "clientId": "x", "clientSecret": null,
        "frequency": {"kind": "interval", "minutes": 1}, "cloud": "gcc_high", "apiBaseUrl": "", "loginAuthority": null,
        "data": {"alerts": false, "vulnerabilities": false, "loggedOnUsers": false, "ipHistory": false},
    });
    let error = invoke(&webview, "add_connection", json!({ "draft": bad }))
        .expect_err("invalid input fails");
    assert_eq!(error["code"], "validation");
    let fields: Vec<&str> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name", "tenantId", "clientId", "clientSecret", "frequency"]
    );
    assert!(error["message"].as_str().unwrap().starts_with("name: "));
    let listed = invoke(
        &webview,
        "validate_connection",
        json!({ "draft": bad, "editingId": null }),
    )
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 5);

    let added = invoke(
        &webview,
        "add_connection",
        json!({ "draft": draft(&sim, "Contoso", Some(&secret)) }),
    )
    .unwrap();
    assert_eq!(added["name"], "Contoso");
    assert_eq!(added["status"], "never_synced");
    assert_eq!(
        added["frequency"],
        json!({"kind": "cron", "expression": "0 */4 * * *"})
    );
    assert_eq!(added["cloudLabel"], "Commercial");
    assert_eq!(added["effectiveApiBase"], sim.api_base());
    assert_eq!(added["isDemo"], false);
    assert_eq!(added["lastTest"], Value::Null);
    let id = added["id"].as_str().unwrap().to_owned();
    answers.push(added.to_string());

    let duplicate = invoke(
        &webview,
        "add_connection",
        json!({ "draft": draft(&sim, "contoso", Some(&secret)) }),
    );
    let duplicate = duplicate.expect_err("a second Contoso fails");
    assert_eq!(duplicate["code"], "duplicate_name");
    assert_eq!(
        duplicate["fields"][0]["field"], "name",
        "the form can show it next to the name"
    );
    answers.push(duplicate.to_string());

    let report = invoke(&webview, "test_connection", json!({ "id": id })).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["code"], "connected");
    answers.push(report.to_string());

    // An edit without a secret keeps the stored one; test_draft can use it.
    let edited = invoke(
        &webview,
        "update_connection",
        json!({ "id": id, "draft": draft(&sim, "Contoso 2", None) }),
    )
    .unwrap();
    assert_eq!(edited["name"], "Contoso 2");
    assert_eq!(
        edited["status"], "connected",
        "the last test result survives an edit"
    );
    let draft_report = invoke(
        &webview,
        "test_draft",
        json!({ "draft": draft(&sim, "Contoso 2", None), "editingId": id }),
    )
    .unwrap();
    assert_eq!(draft_report["code"], "connected");
    answers.push(edited.to_string());
    answers.push(draft_report.to_string());

    // A stored secret goes only to the hosts it was entered for: an edit or a test that points
    // the connection elsewhere is refused until the secret is typed again, and nothing reaches
    // the other host.
    let elsewhere = runtime
        .block_on(mde_sim::Sim::start(mde_sim::SimConfig {
            devices: 1,
            ..Default::default()
        }))
        .expect("a second simulator starts");
    let mut moved = draft(&sim, "Contoso 2", None);
    moved["apiBaseUrl"] = json!(elsewhere.api_base());
    moved["loginAuthority"] = json!(elsewhere.authority());
    for (command, args) in [
        ("update_connection", json!({ "id": id, "draft": moved })),
        ("test_draft", json!({ "draft": moved, "editingId": id })),
    ] {
        let refused = invoke(&webview, command, args).expect_err("the secret must be typed again");
        assert_eq!(refused["code"], "validation", "{command}: {refused}");
        assert_eq!(refused["fields"][0]["field"], "clientSecret", "{command}");
        assert!(
            refused["fields"][0]["message"]
                .as_str()
                .unwrap()
                .contains("Enter the client secret again"),
            "{command}: {refused}"
        );
        answers.push(refused.to_string());
    }
    assert_eq!(
        elsewhere.requests().all().len(),
        0,
        "nothing was sent to the other host"
    );
    let kept = invoke(&webview, "list_connections", json!({})).unwrap();
    assert_eq!(
        kept[0]["apiBaseUrl"],
        sim.api_base(),
        "the edit was not saved"
    );
    // With the secret typed again, the test goes there.
    let mut retyped = moved.clone();
    retyped["clientSecret"] = json!(elsewhere.client_secret());
    retyped["clientId"] = json!(elsewhere.client_id());
    retyped["tenantId"] = json!(elsewhere.tenant_id());
    let retyped_report = invoke(
        &webview,
        "test_draft",
        json!({ "draft": retyped, "editingId": id }),
    )
    .unwrap();
    assert_eq!(retyped_report["code"], "connected", "{retyped_report}");

    let permissions = invoke(
        &webview,
        "required_permissions",
        json!({ "data": {"alerts": true, "vulnerabilities": false, "loggedOnUsers": false, "ipHistory": false} }),
    );
    assert_eq!(
        permissions,
        Ok(json!(["Machine.Read.All", "Alert.Read.All"]))
    );
    let info = invoke(&webview, "app_info", json!({})).unwrap();
    assert!(
        info["settingsFile"]
            .as_str()
            .unwrap()
            .ends_with("settings.json")
    );

    let listed = invoke(&webview, "list_connections", json!({})).unwrap();
    answers.push(listed.to_string());
    assert_eq!(
        invoke(&webview, "delete_connection", json!({ "id": id })),
        Ok(Value::Null)
    );
    let missing = invoke(&webview, "test_connection", json!({ "id": id })).expect_err("it is gone");
    assert_eq!(missing["code"], "not_found");

    for answer in answers {
        assert!(
            !answer.contains(&secret),
            "an IPC answer holds the secret: {answer}"
        );
    }
}
