//! A server without a desktop session: no D-Bus at all, the secret from a systemd credentials
//! folder, `mde-car daemon --metrics` syncing the simulator, its metrics scraped, and
//! `mde-car status` telling a working connection from a failing one by its exit status.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command as Process, Stdio},
    sync::mpsc,
    time::Duration,
};

use mde_car_tests::Workspace;
use mde_sim::{Sim, SimConfig};

/// `mde-car` as a systemd service runs it: no session bus, secrets from `credentials`.
fn service_cli(workspace: &Workspace, credentials: &Path) -> assert_cmd::Command {
    let mut command = workspace.cli();
    command
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env("MDE_CAR_SECRETS", "systemd-credentials")
        .env("CREDENTIALS_DIRECTORY", credentials);
    command
}

/// `connection add NAME` of the simulated tenant as the service would run it, no secret given.
fn service_add(
    workspace: &Workspace,
    credentials: &Path,
    sim: &Sim,
    name: &str,
) -> assert_cmd::Command {
    let mut command = service_cli(workspace, credentials);
    command
        .args(["connection", "add", "--name", name])
        .args(["--tenant", &sim.tenant_id()])
        .args(["--client-id", &sim.client_id()])
        .args(["--api-base", &sim.api_base()])
        .args(["--authority", &sim.api_base()]);
    command
}

fn add_without_secret(workspace: &Workspace, credentials: &Path, sim: &Sim, name: &str) -> String {
    let output = service_add(workspace, credentials, sim, name)
        .args(["--frequency", "1h"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert!(
        text.contains("systemd-creds encrypt --name=mde-car.connection."),
        "{text}"
    );
    let list = service_cli(workspace, credentials)
        .args(["connection", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until the daemon has printed a line containing each of `wanted`, in any order (a
/// connection without its credential fails at once, before the other's sync ends).
fn wait_for_lines(lines: &mpsc::Receiver<String>, wanted: &[&str], secs: u64) -> Vec<String> {
    tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut found: Vec<Option<String>> = vec![None; wanted.len()];
        let mut seen = Vec::new();
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    for (slot, want) in found.iter_mut().zip(wanted) {
                        if slot.is_none() && line.contains(want) {
                            *slot = Some(line.clone());
                        }
                    }
                    seen.push(line);
                }
                Err(error) => panic!(
                    "not every one of {wanted:?} in {secs} s ({error}); the daemon said:\n{}",
                    seen.join("\n")
                ),
            }
        }
        found.into_iter().flatten().collect()
    })
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name_and_labels} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_without_dbus_syncs_with_a_systemd_credential_and_serves_metrics() {
    let sim = Sim::start(SimConfig {
        devices: 40,
        seed: 11,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let workspace = Workspace::new();
    let credentials = tempfile::tempdir().unwrap();
    let contoso = add_without_secret(&workspace, credentials.path(), &sim, "Contoso");
    // A secret given where systemd provides them is refused, not silently dropped.
    service_cli(&workspace, credentials.path())
        .args(["connection", "edit", "Contoso", "--secret-stdin"])
        .write_stdin("other\n")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("systemd credentials"));
    std::fs::write(
        credentials
            .path()
            .join(format!("mde-car.connection.{contoso}")),
        sim.client_secret(),
    )
    .unwrap();
    // Fabrikam's credential was never created: it fails, and says what to add to the unit.
    let fabrikam = add_without_secret(&workspace, credentials.path(), &sim, "Fabrikam");

    let mut daemon = Process::new(mde_car_tests::mde_car_binary())
        .env("MDE_CAR_DATA_DIR", workspace.data_dir())
        .env_remove("MDE_CAR_LOG")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env("MDE_CAR_SECRETS", "systemd-credentials")
        .env("CREDENTIALS_DIRECTORY", credentials.path())
        .args(["daemon", "--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (send, lines) = mpsc::channel();
    let stdout = daemon.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let address = wait_for_lines(&lines, &["Prometheus metrics at http://"], 30).remove(0);
    let url = address
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_owned();
    wait_for_lines(&lines, &["Contoso: succeeded", "Fabrikam: failed"], 120);

    let scraped = reqwest::get(&url).await.unwrap();
    assert!(scraped.status().is_success());
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = scraped.text().await.unwrap();
    let db = rusqlite::Connection::open(workspace.data_dir().join("mde-car.sqlite3")).unwrap();
    let active: u32 = db
        .query_row(
            "SELECT count(*) FROM assets WHERE connection_id = ?1 AND active = 1",
            [&contoso],
            |row| row.get(0),
        )
        .unwrap();
    assert!(active > 0 && active as usize <= sim.truth().machine_count());
    let devices = metric(&text, "mde_car_devices{connection=\"Contoso\"}");
    assert_eq!(devices, f64::from(active), "{text}");
    assert_eq!(
        metric(
            &text,
            "mde_car_runs_total{connection=\"Contoso\",status=\"succeeded\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            "mde_car_runs_total{connection=\"Fabrikam\",status=\"failed\"}"
        ),
        1.0
    );
    assert!(
        metric(
            &text,
            "mde_car_api_calls_total{connection=\"Contoso\",endpoint=\"machines\"}"
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "mde_car_connection_failing{connection=\"Fabrikam\"}"),
        1.0
    );
    assert_eq!(
        metric(&text, "mde_car_connection_failing{connection=\"Contoso\"}"),
        0.0
    );
    assert!(
        text.contains("mde_car_run_duration_seconds_count{connection=\"Contoso\"} 1"),
        "{text}"
    );
    let issued = sim.issued_tokens();
    assert!(!issued.is_empty(), "the daemon signed in");
    for secret in std::iter::once(sim.client_secret()).chain(issued) {
        assert!(
            !text.contains(&secret),
            "the metrics hold a secret or a token"
        );
    }

    // Monitoring: Fabrikam fails, so status says so by its exit status and names the fix.
    let status = service_cli(&workspace, credentials.path())
        .args(["status", "--json"])
        .assert()
        .code(4)
        .get_output()
        .stdout
        .clone();
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["health"], "failing");
    let of = |name: &str| {
        status["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(of("Contoso")["health"], "ok");
    assert_eq!(of("Contoso")["lastRun"]["status"], "succeeded");
    assert!(of("Contoso")["nextSyncAt"].is_string());
    assert_eq!(of("Fabrikam")["health"], "failing");
    let why = of("Fabrikam")["statusText"].as_str().unwrap().to_owned();
    assert!(
        why.contains(&format!(
            "LoadCredentialEncrypted=mde-car.connection.{fabrikam}"
        )),
        "{why}"
    );
    // Once the failing connection is gone, every connection is fine: exit 0.
    service_cli(&workspace, credentials.path())
        .args(["connection", "remove", "Fabrikam"])
        .assert()
        .success();
    service_cli(&workspace, credentials.path())
        .arg("status")
        .assert()
        .success()
        .stdout(predicates::str::contains("Contoso: ok"));

    let pid = daemon.id().to_string();
    assert!(
        Process::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = tokio::task::block_in_place(|| daemon.wait()).unwrap();
    assert!(stopped.success(), "{stopped:?}");
}

/// A certificate connection on a server: `connection add --certificate --key` checks the pair
/// but keeps no key (the admin's systemd credential holds it), and the sync signs in with the key
/// read from the credentials folder.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_connection_takes_its_key_from_a_systemd_credential() {
    let sim = Sim::start(SimConfig {
        devices: 10,
        seed: 5,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let workspace = Workspace::new();
    let credentials = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let key_pair = rcgen::KeyPair::from_pem(mde_sim::test_keys::RSA_A).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["mde-car-server".to_owned()]).unwrap();
    // It ends in ten days: `connection list` and `status` warn of it, as the card does.
    let ends = chrono::Utc::now() + chrono::TimeDelta::days(10);
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    params.not_after = rcgen::date_time_ymd(
        ends.format("%Y").to_string().parse().unwrap(),
        ends.format("%m").to_string().parse().unwrap(),
        ends.format("%d").to_string().parse().unwrap(),
    );
    let certificate = params.self_signed(&key_pair).unwrap();
    sim.add_certificate(&sim.client_id(), certificate.der())
        .unwrap();
    let (certificate_file, key_file) =
        (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::write(&certificate_file, certificate.pem()).unwrap();
    std::fs::write(&key_file, mde_sim::test_keys::RSA_A).unwrap();

    let added = service_add(&workspace, credentials.path(), &sim, "Server")
        .arg("--certificate")
        .arg(&certificate_file)
        .arg("--key")
        .arg(&key_file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let added = String::from_utf8(added).unwrap();
    assert!(
        added.contains("openssl pkcs8 -topk8 -nocrypt -in KEY.pem | systemd-creds encrypt --name=mde-car.connection."),
        "{added}"
    );
    let settings = std::fs::read_to_string(workspace.data_dir().join("settings.json")).unwrap();
    assert!(!settings.contains("PRIVATE KEY"), "{settings}");

    // Without its credential the sync says what to add to the unit.
    service_cli(&workspace, credentials.path())
        .args(["sync", "Server"])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "LoadCredentialEncrypted=mde-car.connection.",
        ));

    let list = service_cli(&workspace, credentials.path())
        .args(["connection", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    std::fs::write(
        credentials.path().join(format!("mde-car.connection.{id}")),
        mde_sim::test_keys::RSA_A,
    )
    .unwrap();
    service_cli(&workspace, credentials.path())
        .args(["sync", "Server"])
        .assert()
        .success();
    let db = rusqlite::Connection::open(workspace.data_dir().join("mde-car.sqlite3")).unwrap();
    let active: u32 = db
        .query_row(
            "SELECT count(*) FROM assets WHERE connection_id = ?1 AND active = 1",
            [&id],
            |row| row.get(0),
        )
        .unwrap();
    assert!(active > 0);
    for command in [&["connection", "list"][..], &["status"][..]] {
        service_cli(&workspace, credentials.path())
            .args(command)
            .assert()
            .success()
            .stdout(predicates::str::contains(
                "certificate Certificate expires in ",
            ));
    }
}
