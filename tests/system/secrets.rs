//! The client secret lives in the Secret Service and nowhere else: not in the settings file,
//! the database (and its WAL), or the logs — even at the most verbose log level, and after a
//! failed test whose error path formats the most text.

use mde_car_tests::{Workspace, secret_service_lookup};
use mde_sim::{Sim, SimConfig};

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_is_only_in_the_secret_service() {
    let sim = Sim::start(SimConfig {
        devices: 5,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let workspace = Workspace::new();
    let secret = sim.client_secret();
    let wrong = "Wr0ng~but.also.secret.value";
    for (name, value) in [("right", secret.as_str()), ("wrong", wrong)] {
        workspace
            .cli()
            .env("MDE_CAR_LOG", "trace")
            .args([
                "--verbose",
                "connection",
                "add",
                "--name",
                name,
                "--tenant",
                &sim.tenant_id(),
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
            .write_stdin(format!("{value}\n"))
            .assert()
            .success();
        let test = workspace
            .cli()
            .env("MDE_CAR_LOG", "trace")
            .args(["--verbose", "connection", "test", name, "--json"])
            .output()
            .unwrap();
        // A whole sync at the most verbose level, too (it signs in and calls every endpoint).
        let sync = workspace
            .cli()
            .env("MDE_CAR_LOG", "trace")
            .args(["--verbose", "sync", name])
            .output()
            .unwrap();
        for stream in [&test.stdout, &test.stderr, &sync.stdout, &sync.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains(value),
                "the {name} secret was printed: {text}"
            );
            // Every JWT starts with the base64 of `{"`: no access token was printed either.
            assert!(!text.contains("eyJ"), "an access token was printed");
        }
    }
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

    let files = workspace.all_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "settings.json"), "{names:?}");
    assert!(names.iter().any(|n| n == "mde-car.sqlite3"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("mde-car.log")),
        "{names:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for value in [secret.as_bytes(), wrong.as_bytes(), b"eyJ".as_slice()] {
            assert!(
                !bytes.windows(value.len()).any(|window| window == value),
                "{} holds a secret",
                file.display()
            );
        }
    }
}
