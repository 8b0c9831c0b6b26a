//! The `mde-sim` binary as a person or a script runs it: the details it prints, the options it
//! takes (faults, paging, seed), and a clear refusal of bad options.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use mde_sim::{Sim, SimConfig};
use serde_json::Value;

/// The running binary, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mde-sim` with `args` and reads the first `count` lines it prints.
fn start(args: &[&str], count: usize) -> (Running, Vec<String>) {
    let mut child = Command::new(mde_car_tests::mde_sim_binary())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let lines = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take(count)
        .collect();
    (running, lines)
}

async fn token(details: &Value) -> String {
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        details["authority"].as_str().unwrap(),
        details["tenantId"].as_str().unwrap()
    );
    let answer: Value = mde_car_core::http::client()
        .unwrap()
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", details["clientId"].as_str().unwrap()),
            ("client_secret", details["clientSecret"].as_str().unwrap()),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {answer}"))
        .to_owned()
}

async fn get(details: &Value, token: &str, path: &str) -> (u16, Value) {
    let response = mde_car_core::http::client()
        .unwrap()
        .get(format!("{}{path}", details["apiBase"].as_str().unwrap()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_the_seeded_tenant_with_its_faults_and_paging() {
    let (_sim, lines) = tokio::task::block_in_place(|| {
        start(
            &[
                "--devices",
                "30",
                "--seed",
                "7",
                "--port",
                "0",
                "--paging",
                "graph-like",
                "--max-page-size",
                "10",
                "--fault",
                "500@alerts=1",
                "--json",
            ],
            1,
        )
    });
    let line = lines.concat();
    let details: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(details["devices"], 30);

    // Same seed, same tenant and credentials as the library.
    let library = Sim::start(SimConfig {
        devices: 30,
        seed: 7,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(details["tenantId"], library.tenant_id());
    assert_eq!(details["clientId"], library.client_id());
    assert_eq!(details["clientSecret"], library.client_secret());

    let token = token(&details).await;
    // Graph-like paging: pages of 10 linked by nextLink, 30 distinct devices in all.
    let (status, first) = get(&details, &token, "/api/machines").await;
    assert_eq!(status, 200, "{first}");
    let mut ids: Vec<String> = Vec::new();
    let mut page = first;
    loop {
        for machine in page["value"].as_array().unwrap() {
            ids.push(machine["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["@odata.nextLink"].as_str() else {
            break;
        };
        assert!(ids.len() <= 30, "the links never end");
        let response = mde_car_core::http::client()
            .unwrap()
            .get(next)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        page = response.json().await.unwrap();
    }
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (30, 30));

    // The fault given on the command line: every alerts call fails, machines are untouched.
    let (status, body) = get(&details, &token, "/api/alerts?$top=5").await;
    assert_eq!(status, 500, "{body}");
}

#[test]
fn the_human_form_prints_what_to_configure() {
    let library = tokio::runtime::Runtime::new().unwrap().block_on(async {
        Sim::start(SimConfig {
            devices: 5,
            seed: 3,
            ..SimConfig::default()
        })
        .await
        .unwrap()
    });
    // It prints nine lines, then serves until Ctrl-C.
    let (running, lines) = start(&["--devices", "5", "--seed", "3"], 9);
    drop(running);
    let text = lines.join("\n");
    assert!(
        text.starts_with("mde-sim listening on http://127.0.0.1:"),
        "{text}"
    );
    for expected in [
        format!("tenant id:     {}", library.tenant_id()),
        format!("client id:     {}", library.client_id()),
        format!("client secret: {}", library.client_secret()),
        "devices:       5".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn bad_options_are_refused_with_a_reason() {
    for (args, reason) in [
        (&["--paging", "sideways"][..], "unknown paging mode"),
        (&["--clock", "sundial"][..], "unknown clock mode"),
        (
            &["--rate-scale", "0"][..],
            "--rate-scale must be a positive number",
        ),
        (&["--fault", "explode@machines"][..], "explode"),
        (&["--devices", "many"][..], "invalid value 'many'"),
    ] {
        let output = Command::new(mde_car_tests::mde_sim_binary())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
