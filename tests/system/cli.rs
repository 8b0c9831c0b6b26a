//! `mde-car connection add|list|test|remove` and `demo`, headless, on real files and keyring.

use mde_car_tests::{Workspace, secret_service_lookup};
use mde_sim::{AppRegistration, Endpoint, FaultKind, Sim, SimConfig};
use predicates::{prelude::PredicateBooleanExt, str::contains};
use serde_json::Value;

async fn sim() -> Sim {
    Sim::start(SimConfig {
        devices: 20,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

fn add(
    workspace: &Workspace,
    sim: &Sim,
    name: &str,
    client_id: &str,
    secret: &str,
) -> assert_cmd::assert::Assert {
    workspace
        .cli()
        .args([
            "connection",
            "add",
            "--name",
            name,
            "--tenant",
            &sim.tenant_id(),
            "--client-id",
            client_id,
        ])
        .args([
            "--api-base",
            &sim.api_base(),
            "--authority",
            &sim.authority(),
            "--frequency",
            "1h",
            "--secret-stdin",
        ])
        .write_stdin(format!("{secret}\n"))
        .assert()
}

fn list(workspace: &Workspace) -> Vec<Value> {
    let output = workspace
        .cli()
        .args(["connection", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn test_json(workspace: &Workspace, name: &str, expected_status: i32) -> Value {
    let output = workspace
        .cli()
        .args(["connection", "test", name, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(expected_status),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn add_list_test_remove_round_trip() {
    let sim = sim().await;
    let workspace = Workspace::new();
    add(
        &workspace,
        &sim,
        "Contoso",
        &sim.client_id(),
        &sim.client_secret(),
    )
    .success()
    .stdout(contains("added connection 'Contoso'"));

    let listed = list(&workspace);
    assert_eq!(listed.len(), 1);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["tenantId"], sim.tenant_id());
    assert_eq!(listed[0]["frequencyText"], "Every hour");
    assert_eq!(listed[0]["status"], "never_synced");
    assert_eq!(
        secret_service_lookup(&id).as_deref(),
        Some(sim.client_secret().as_str())
    );

    let report = test_json(&workspace, "contoso", 0);
    assert_eq!(report["code"], "connected");
    let granted: Vec<&str> = report["grantedRoles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for role in [
        "Machine.Read.All",
        "Alert.Read.All",
        "AdvancedQuery.Read.All",
        "User.Read.All",
        "Vulnerability.Read.All",
    ] {
        assert!(granted.contains(&role), "{role} missing from {granted:?}");
    }
    // Each data type besides devices was asked for once and answered.
    let states: Vec<(&str, &str)> = report["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|check| {
            (
                check["data"].as_str().unwrap(),
                check["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("alerts", "available"),
            ("ipHistory", "available"),
            ("loggedOnUsers", "available"),
            ("vulnerabilities", "available")
        ]
    );
    assert_eq!(list(&workspace)[0]["status"], "connected");

    workspace
        .cli()
        .args(["connection", "remove", "Contoso"])
        .assert()
        .success();
    assert!(list(&workspace).is_empty());
    assert_eq!(
        secret_service_lookup(&id),
        None,
        "the keyring entry goes with the connection"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_credential_problem_has_its_own_answer() {
    let sim = sim().await;
    sim.add_app(AppRegistration {
        client_id: "aaaaaaaa-0000-4000-8000-000000000001".to_owned(),
        secret: "Exp~ired.secret.value".to_owned(),
        secret_expired: true,
        roles: vec!["Machine.Read.All".to_owned()],
        display_name: "expired".to_owned(),
    });
    sim.add_app(AppRegistration {
        client_id: "aaaaaaaa-0000-4000-8000-000000000002".to_owned(),
        secret: "Few~roles.secret.value".to_owned(),
        secret_expired: false,
        roles: vec!["Machine.Read.All".to_owned(), "Alert.Read.All".to_owned()],
        display_name: "few roles".to_owned(),
    });
    let workspace = Workspace::new();
    add(
        &workspace,
        &sim,
        "wrong-secret",
        &sim.client_id(),
        "Not~the.right.secret",
    )
    .success();
    add(
        &workspace,
        &sim,
        "unknown-client",
        "aaaaaaaa-0000-4000-8000-0000000000ff",
        "Some~secret.value",
    )
    .success();
    add(
        &workspace,
        &sim,
        "expired",
        "aaaaaaaa-0000-4000-8000-000000000001",
        "Exp~ired.secret.value",
    )
    .success();
    add(
        &workspace,
        &sim,
        "few-roles",
        "aaaaaaaa-0000-4000-8000-000000000002",
        "Few~roles.secret.value",
    )
    .success();
    workspace
        .cli()
        .args([
            "connection",
            "add",
            "--name",
            "unknown-tenant",
            "--tenant",
            "bbbbbbbb-0000-4000-8000-000000000000",
        ])
        .args([
            "--client-id",
            &sim.client_id(),
            "--api-base",
            &sim.api_base(),
            "--authority",
            &sim.authority(),
        ])
        .args(["--secret-stdin"])
        .write_stdin(sim.client_secret())
        .assert()
        .success();

    assert_eq!(
        test_json(&workspace, "wrong-secret", 3)["code"],
        "wrong_secret"
    );
    assert_eq!(
        test_json(&workspace, "unknown-client", 3)["code"],
        "unknown_client"
    );
    assert_eq!(
        test_json(&workspace, "expired", 3)["code"],
        "expired_secret"
    );
    assert_eq!(
        test_json(&workspace, "unknown-tenant", 3)["code"],
        "unknown_tenant"
    );
    let few = test_json(&workspace, "few-roles", 3);
    assert_eq!(few["code"], "missing_permission");
    assert_eq!(
        few["missingRoles"],
        serde_json::json!([
            "Vulnerability.Read.All",
            "AdvancedQuery.Read.All",
            "User.Read.All"
        ])
    );
    assert!(
        few["detail"]
            .as_str()
            .unwrap()
            .contains("Vulnerability.Read.All")
    );

    // Devices were read, so each other data type says whether it can be.
    let data = few["data"].as_array().unwrap();
    let state = |name: &str| {
        data.iter()
            .find(|check| check["data"] == name)
            .map(|check| check["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state("alerts").as_deref(), Some("available"));
    assert_eq!(
        state("vulnerabilities").as_deref(),
        Some("missing_permission")
    );
    workspace
        .cli()
        .args(["connection", "test", "few-roles"])
        .assert()
        .code(3)
        .stdout(contains("vulnerabilities  missing permission: "));

    // The human form names the problem and the fix.
    workspace
        .cli()
        .args(["connection", "test", "wrong-secret"])
        .assert()
        .code(3)
        .stdout(contains("Wrong client secret"))
        .stdout(contains("Edit"));
}

#[tokio::test(flavor = "multi_thread")]
async fn network_and_host_problems_are_told_apart() {
    let sim = sim().await;
    let workspace = Workspace::new();
    // Nothing listens on port 9 of loopback: connection refused.
    let closed = "http://127.0.0.1:9";
    let add_with = |name: &str, api: &str, authority: &str| {
        workspace
            .cli()
            .args([
                "connection",
                "add",
                "--name",
                name,
                "--tenant",
                &sim.tenant_id(),
                "--client-id",
                &sim.client_id(),
            ])
            .args([
                "--api-base",
                api,
                "--authority",
                authority,
                "--secret-stdin",
            ])
            .write_stdin(sim.client_secret())
            .assert()
            .success();
    };
    add_with("refused", &sim.api_base(), closed);
    // TLS spoken to a plain-HTTP server fails the handshake.
    let tls_authority = sim.authority().replace("http://", "https://");
    add_with("tls", &sim.api_base(), &tls_authority);
    // The token comes from the simulator, but the API base is a host with no Defender API.
    add_with(
        "wrong-host",
        &format!("{}/not-defender", sim.api_base()),
        &sim.authority(),
    );

    let refused = test_json(&workspace, "refused", 3);
    assert_eq!(refused["code"], "network_unreachable");
    assert!(refused["detail"].as_str().unwrap().contains("127.0.0.1:9"));
    assert_eq!(test_json(&workspace, "tls", 3)["code"], "tls_failure");
    assert_eq!(test_json(&workspace, "wrong-host", 3)["code"], "wrong_host");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_api_says_so_and_when_to_try_again() {
    let sim = sim().await;
    let workspace = Workspace::new();
    add(
        &workspace,
        &sim,
        "busy",
        &sim.client_id(),
        &sim.client_secret(),
    )
    .success();
    let rule = sim
        .faults()
        .set(FaultKind::Throttle, Some(Endpoint::Machines), 1.0);

    let report = test_json(&workspace, "busy", 3);
    assert_eq!(report["code"], "throttled", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(detail.contains("asked to slow down"), "{detail}");
    assert!(detail.contains("Try again in"), "{detail}");
    assert_ne!(list(&workspace)[0]["status"], "connected");

    // Once Defender stops refusing, the same connection tests fine: nothing was lost.
    sim.faults().remove(rule);
    assert_eq!(test_json(&workspace, "busy", 0)["code"], "connected");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_field_messages_and_nothing_is_saved() {
    let workspace = Workspace::new();
    workspace
        .cli()
        .args([
            "connection",
            "add",
            "--name",
            "x",
            "--tenant",
            "common",
            "--client-id",
            "not-a-guid",
        ])
        .args(["--api-base", "http://example.com", "--secret-stdin"])
        .write_stdin("whatever\n")
        .assert()
        .code(2)
        .stderr(contains("--tenant: \"common\" is a multi-tenant alias"))
        .stderr(contains("--client-id: The client ID is a GUID"))
        .stderr(contains("--api-base: Use https"));
    assert!(list(&workspace).is_empty());
    assert!(
        !workspace.data_dir().join("settings.json").exists(),
        "nothing was written"
    );

    workspace
        .cli()
        .args([
            "connection",
            "add",
            "--name",
            "x",
            "--tenant",
            "contoso.onmicrosoft.com",
        ])
        .args([
            "--client-id",
            "11111111-2222-3333-4444-555555555555",
            "--frequency",
            "* * * * *",
            "--secret-stdin",
        ])
        .write_stdin("Abc~def\n")
        .assert()
        .code(2)
        .stderr(contains("--frequency"));
    workspace
        .cli()
        .args(["connection", "test", "nope"])
        .assert()
        .code(2)
        .stderr(contains("no connection named 'nope'"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_never_comes_from_argv_and_edit_keeps_or_replaces_it() {
    let sim = sim().await;
    let workspace = Workspace::new();
    // Without a terminal and without --secret-stdin there is nobody to ask.
    workspace
        .cli()
        .args([
            "connection",
            "add",
            "--name",
            "n",
            "--tenant",
            &sim.tenant_id(),
            "--client-id",
            &sim.client_id(),
        ])
        .assert()
        .failure()
        .stderr(contains("--secret-stdin"));
    add(&workspace, &sim, "n", &sim.client_id(), "Wrong~first.value").success();
    let id = list(&workspace)[0]["id"].as_str().unwrap().to_owned();
    workspace
        .cli()
        .args(["connection", "edit", "n", "--frequency", "0 */4 * * *"])
        .assert()
        .success();
    assert_eq!(
        secret_service_lookup(&id).as_deref(),
        Some("Wrong~first.value")
    );
    let frequency = list(&workspace)[0]["frequencyText"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(frequency.contains("every 4"), "{frequency}");
    workspace
        .cli()
        .args(["connection", "edit", "n", "--secret-stdin"])
        .write_stdin(format!("{}\n", sim.client_secret()))
        .assert()
        .success();
    assert_eq!(test_json(&workspace, "n", 0)["code"], "connected");

    // Pointing the connection at other hosts needs the secret again: the stored one is only
    // sent where it was entered for.
    for flags in [
        &["--api-base", "https://attacker.example"][..],
        &["--authority", "https://login.attacker.example"][..],
        &["--proxy", "http://127.0.0.1:3128"][..],
        &["--cloud", "gcc_high"][..],
    ] {
        workspace
            .cli()
            .args(["connection", "edit", "n"])
            .args(flags)
            .assert()
            .code(2)
            .stderr(contains("--secret-stdin: Enter the client secret again"));
    }
    assert_eq!(
        list(&workspace)[0]["apiBase"],
        sim.api_base(),
        "nothing was saved"
    );
    assert_eq!(test_json(&workspace, "n", 0)["code"], "connected");
    // Given again, the move is saved with the new secret.
    workspace
        .cli()
        .args([
            "connection",
            "edit",
            "n",
            "--api-base",
            "https://attacker.example",
            "--secret-stdin",
        ])
        .write_stdin("another~secret.value\n")
        .assert()
        .success();
    assert_eq!(
        secret_service_lookup(&id).as_deref(),
        Some("another~secret.value")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_tenant_is_one_command_away() {
    let workspace = Workspace::new();
    workspace
        .cli()
        .arg("demo")
        .assert()
        .success()
        .stdout(contains("Connected"));
    let listed = list(&workspace);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["demo"], true);
    assert_eq!(listed[0]["status"], "connected");
    // A later process starts the simulator again with the same identity: the connection works.
    assert_eq!(test_json(&workspace, "Demo tenant", 0)["code"], "connected");
    // Running it again does not add a second demo connection.
    workspace.cli().arg("demo").assert().success();
    assert_eq!(list(&workspace).len(), 1);
}

/// Every file and folder under `dir` with its permission bits.
fn modes(dir: &std::path::Path) -> Vec<(String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        found.push((path.display().to_string(), mode));
        if path.is_dir() {
            found.extend(modes(&path));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_folder_and_its_files_are_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let sim = sim().await;
    let workspace = Workspace::new();
    // A folder an earlier version left open to others, with a file in it.
    let root = workspace.data_dir();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let old = root.join("notes-from-before.txt");
    std::fs::write(&old, "x").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();

    add(
        &workspace,
        &sim,
        "Contoso",
        &sim.client_id(),
        &sim.client_secret(),
    )
    .success();
    workspace.cli().args(["sync", "Contoso"]).assert().success();
    let root_mode = std::fs::metadata(root).unwrap().permissions().mode() & 0o777;
    assert_eq!(root_mode, 0o700, "the data folder");
    let found = modes(root);
    for name in ["settings.json", "mde-car.sqlite3", "logs"] {
        assert!(
            found.iter().any(|(path, _)| path.contains(name)),
            "{name} is there: {found:?}"
        );
    }
    let open: Vec<_> = found.iter().filter(|(_, mode)| mode & 0o077 != 0).collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edited_connection_is_marked_by_list_and_refused_by_sync_and_test() {
    let sim = sim().await;
    let workspace = Workspace::new();
    add(
        &workspace,
        &sim,
        "Edited",
        &sim.client_id(),
        &sim.client_secret(),
    )
    .success();
    let id = list(&workspace)[0]["id"].as_str().unwrap().to_owned();
    // A schedule of 0 minutes (runs back to back) and a name that would drive the terminal.
    let file = workspace.data_dir().join("settings.json");
    let mut written: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    written["connections"][0]["frequency"] = serde_json::json!({"kind": "interval", "minutes": 0});
    written["connections"][0]["name"] = Value::from("Edited\u{1b}]0;owned\u{7}");
    std::fs::write(&file, serde_json::to_vec(&written).unwrap()).unwrap();
    let requests_before = sim.requests().all().len();

    let output = workspace
        .cli()
        .args(["connection", "list"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("[invalid settings: not synced or tested]"),
        "{text}"
    );
    assert!(
        text.contains("INVALID    \"frequency\": Sync at most every"),
        "{text}"
    );
    assert!(
        text.contains("INVALID    \"name\": Remove the control character"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "a raw escape reached the terminal: {text:?}"
    );
    let listed = list(&workspace);
    let fields: Vec<&str> = listed[0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|problem| problem["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "frequency"]);
    assert_eq!(listed[0]["status"], "error");

    for command in [
        vec!["sync", id.as_str()],
        vec!["connection", "test", id.as_str()],
    ] {
        workspace
            .cli()
            .args(&command)
            .assert()
            .code(2)
            .stderr(contains("settings.json"))
            .stderr(contains("\"frequency\": Sync at most every"))
            .stderr(contains("until then it is not synced or tested"))
            .stderr(contains("\u{1b}").not());
    }
    assert_eq!(
        sim.requests().all().len(),
        requests_before,
        "a refused connection reached the tenant"
    );
}
