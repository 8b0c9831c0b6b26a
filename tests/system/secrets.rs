//! The leak test of the CLI: the client secret lives in the Secret Service and nowhere else,
//! and no access token is written anywhere. Searched: every file of the data folder (settings,
//! database and its WAL, lock files, logs at the most verbose level) and every byte the CLI
//! printed — after a test that fails, a test that passes, a full sync during which a token is
//! refreshed, a sync that fails, searches and device details as text and JSON, and a sync
//! killed in the middle (its output so far, and what it left in the folder). The desktop
//! shell's IPC answers, events and exports are searched by `src-tauri/tests/leaks.rs`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use mde_car_tests::{Workspace, secret_service_lookup};
use mde_sim::{Endpoint, FaultKind, FaultRule, Sim, SimConfig};

/// What must never be written: the secrets, every access token the simulator issued (whole,
/// and its claims and signature alone, should a part be cut out of it), and `eyJ`, the base64 of
/// `{"` that starts every JWT.
fn forbidden(sim: &Sim, secrets: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut forbidden: Vec<(String, Vec<u8>)> = secrets
        .iter()
        .map(|secret| (format!("the secret {secret}"), secret.as_bytes().to_vec()))
        .collect();
    for (n, token) in sim.issued_tokens().iter().enumerate() {
        forbidden.push((format!("access token {n}"), token.as_bytes().to_vec()));
        for (part, segment) in token.split('.').enumerate().skip(1) {
            forbidden.push((
                format!("part {part} of access token {n}"),
                segment.as_bytes().to_vec(),
            ));
        }
    }
    forbidden.push(("the start of a JWT".to_owned(), b"eyJ".to_vec()));
    forbidden
}

fn assert_clean(what: &str, bytes: &[u8], forbidden: &[(String, Vec<u8>)]) {
    for (name, value) in forbidden {
        assert!(
            !bytes
                .windows(value.len())
                .any(|window| window == value.as_slice()),
            "{what} holds {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_and_no_access_token_is_written_or_printed_anywhere() {
    let sim = Sim::start(SimConfig {
        devices: 12,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let workspace = Workspace::new();
    let secret = sim.client_secret();
    let wrong = "Wr0ng~but.also.secret.value";
    let mut printed: Vec<(String, Vec<u8>)> = Vec::new();
    let mut keep = |what: String, output: &std::process::Output| {
        printed.push((format!("{what}: stdout"), output.stdout.clone()));
        printed.push((format!("{what}: stderr"), output.stderr.clone()));
    };
    for (name, value) in [("right", secret.as_str()), ("wrong", wrong)] {
        let add = workspace
            .cli()
            .env("MDE_CAR_LOG", "trace")
            .args(["--verbose", "connection", "add", "--name", name])
            .args([
                "--tenant",
                &sim.tenant_id(),
                "--client-id",
                &sim.client_id(),
            ])
            .args([
                "--api-base",
                &sim.api_base(),
                "--authority",
                &sim.authority(),
            ])
            .arg("--secret-stdin")
            .write_stdin(format!("{value}\n"))
            .output()
            .unwrap();
        assert!(
            add.status.success(),
            "{}",
            String::from_utf8_lossy(&add.stderr)
        );
        keep(format!("connection add {name}"), &add);
        // A test whose error path formats the most text (the wrong secret), and one that passes.
        for json in [false, true] {
            let test = workspace
                .cli()
                .env("MDE_CAR_LOG", "trace")
                .args(["--verbose", "connection", "test", name])
                .args(json.then_some("--json"))
                .output()
                .unwrap();
            assert_eq!(test.status.success(), name == "right", "test {name}");
            keep(format!("connection test {name} (json {json})"), &test);
        }
    }
    // A full sync at the most verbose level during which the API calls the token expired once:
    // the client signs in again mid-run (a token refresh).
    let tokens_before = sim.issued_tokens().len();
    sim.faults().add(FaultRule {
        remaining: Some(1),
        ..FaultRule::new(FaultKind::TokenExpired, Some(Endpoint::Machines), 1.0)
    });
    for name in ["right", "wrong"] {
        let sync = workspace
            .cli()
            .env("MDE_CAR_LOG", "trace")
            .args(["--verbose", "sync", name, "--full"])
            .output()
            .unwrap();
        assert_eq!(sync.status.success(), name == "right", "sync {name}");
        keep(format!("sync {name}"), &sync);
    }
    assert!(
        sim.issued_tokens().len() >= tokens_before + 2,
        "the sync signed in and then again after the expired token"
    );
    assert!(
        sim.requests()
            .of(Endpoint::Machines)
            .iter()
            .any(|request| request.status == 401),
        "the token expired during the sync"
    );

    // What an analyst reads: searches and a device's detail, as text and JSON.
    let device = sim.truth().machine_ids()[0].clone();
    let host = sim.truth().machine(&device).unwrap().computer_dns_name;
    for args in [
        vec!["search", "10.0.0.0/8"],
        vec!["search", host.as_str()],
        vec!["asset", device.as_str()],
        vec!["runs", "right"],
        vec!["connection", "list"],
    ] {
        for json in [false, true] {
            let output = workspace
                .cli()
                .env("MDE_CAR_LOG", "trace")
                .arg("--verbose")
                .args(&args)
                .args(json.then_some("--json"))
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            keep(format!("{args:?} (json {json})"), &output);
        }
    }

    // A sync killed in the middle: the alerts answer a 503 asking for a long wait, the run says
    // it waits, and is killed then, as a crash or a power cut would end it.
    sim.faults().add(FaultRule {
        remaining: Some(1),
        retry_after_secs: 600,
        ..FaultRule::new(FaultKind::Unavailable, Some(Endpoint::Alerts), 1.0)
    });
    let mut killed = std::process::Command::new(mde_car_tests::mde_car_binary())
        .env("MDE_CAR_DATA_DIR", workspace.data_dir())
        .env("MDE_CAR_LOG", "trace")
        .args(["--verbose", "sync", "right", "--full"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(killed.stderr.take().unwrap());
    let mut crash_output = Vec::new();
    loop {
        let mut line = Vec::new();
        let read = stderr.read_until(b'\n', &mut line).unwrap();
        assert!(read > 0, "the sync ended before it waited for the alerts");
        crash_output.extend_from_slice(&line);
        let line = String::from_utf8_lossy(&line);
        if line.contains("alerts") && (line.contains("waiting") || line.contains("retrying")) {
            break;
        }
    }
    // The folder as the running sync has it (its WAL, its lock), read before it dies.
    let while_running: Vec<(String, Vec<u8>)> = workspace
        .all_files()
        .iter()
        .filter_map(|file| Some((file.display().to_string(), std::fs::read(file).ok()?)))
        .collect();
    killed.kill().unwrap();
    killed.wait().unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stderr, &mut rest).unwrap();
    crash_output.extend_from_slice(&rest);
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut killed.stdout.take().unwrap(), &mut stdout).unwrap();
    printed.push(("the killed sync: stderr".to_owned(), crash_output));
    printed.push(("the killed sync: stdout".to_owned(), stdout));

    // The secrets are where they belong.
    let listed = workspace
        .cli()
        .args(["connection", "list", "--json"])
        .output()
        .unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    for connection in listed.as_array().unwrap() {
        let id = connection["id"].as_str().unwrap();
        let expected = if connection["name"] == "right" {
            secret.as_str()
        } else {
            wrong
        };
        assert_eq!(secret_service_lookup(id).as_deref(), Some(expected));
    }

    // Nowhere else.
    let forbidden = forbidden(&sim, &[&secret, wrong]);
    assert!(
        forbidden.len() > 10,
        "tokens were issued: {}",
        forbidden.len()
    );
    for (what, bytes) in &printed {
        assert_clean(what, bytes, &forbidden);
    }
    // The most verbose lines were there to search.
    for what in ["sync right: stderr", "the killed sync: stderr"] {
        let (_, bytes) = printed.iter().find(|(name, _)| name == what).unwrap();
        assert!(
            String::from_utf8_lossy(bytes).contains("TRACE"),
            "{what} has trace lines"
        );
    }
    let files = workspace.all_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["settings.json", "mde-car.sqlite3"] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with("mde-car.log")),
        "{names:?}"
    );
    assert!(
        while_running.iter().any(|(name, _)| name.ends_with("-wal")),
        "the WAL of the running sync was searched: {:?}",
        while_running
            .iter()
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
    );
    for (file, bytes) in &while_running {
        assert_clean(&format!("{file} (while a sync ran)"), bytes, &forbidden);
    }
    for file in &files {
        assert_clean(
            &file.display().to_string(),
            &std::fs::read(file).unwrap(),
            &forbidden,
        );
    }
}
