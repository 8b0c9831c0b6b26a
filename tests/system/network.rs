//! A connection's own network path: an HTTP proxy in front of the simulator, and a TLS front
//! whose certificate only a custom CA vouches for (a TLS-inspecting proxy, as companies run).
//! Both through the real CLI, settings file and keyring.

use std::sync::{Arc, Mutex};

use mde_car_tests::Workspace;
use mde_sim::{Sim, SimConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

async fn sim() -> Sim {
    Sim::start(SimConfig {
        devices: 10,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts")
}

fn add(workspace: &Workspace, sim: &Sim, name: &str, hosts: &str, extra: &[&str]) {
    workspace
        .add_simulated(sim, name, Some(hosts))
        .args(extra)
        .assert()
        .success();
}

fn test_json(workspace: &Workspace, name: &str) -> Value {
    let output = workspace
        .cli()
        .args(["connection", "test", name, "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stderr)))
}

/// A plain HTTP forward proxy: reads the first request of each connection (absolute form,
/// `GET http://host:port/path`), connects to that host and then relays bytes both ways.
/// Records each connection's first request line.
async fn forward_proxy() -> (String, Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).trim().to_owned();
                log.lock().unwrap().push(line.clone());
                let Some(authority) = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|target| target.strip_prefix("http://"))
                    .and_then(|rest| rest.split('/').next())
                else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(authority).await else {
                    return;
                };
                if upstream.write_all(&head).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (url, seen, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_goes_through_its_proxy() {
    let sim = sim().await;
    let workspace = Workspace::new();
    let (proxy, seen, task) = forward_proxy().await;
    add(
        &workspace,
        &sim,
        "proxied",
        &sim.api_base(),
        &["--proxy", &proxy],
    );
    let listed: Value = serde_json::from_slice(
        &workspace
            .cli()
            .args(["connection", "list", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(listed[0]["proxyUrl"], proxy.as_str());

    let report = test_json(&workspace, "proxied");
    assert_eq!(report["code"], "connected", "{report}");
    let lines = seen.lock().unwrap().clone();
    let sim_url = sim.url();
    assert!(
        lines.iter().any(|line| line.starts_with(&format!(
            "POST {sim_url}/{}/oauth2/v2.0/token",
            sim.tenant_id()
        ))),
        "the sign-in did not go through the proxy: {lines:?}"
    );
    // A sync goes the same way, every call of it.
    workspace.cli().args(["sync", "proxied"]).assert().success();
    assert!(
        seen.lock().unwrap().len() > lines.len(),
        "the sync did not use the proxy"
    );

    // With the proxy gone, the test says where it failed.
    task.abort();
    let _ = task.await;
    let report = test_json(&workspace, "proxied");
    assert_eq!(report["code"], "network_unreachable", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("through the proxy {proxy}")),
        "{detail}"
    );

    // Removing the proxy in an edit restores the direct path; the secret goes along a new
    // path, so it is given again (without it the edit is refused).
    workspace
        .cli()
        .args(["connection", "edit", "proxied", "--proxy", ""])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--secret-stdin"));
    workspace
        .cli()
        .args([
            "connection",
            "edit",
            "proxied",
            "--proxy",
            "",
            "--secret-stdin",
        ])
        .write_stdin(format!("{}\n", sim.client_secret()))
        .assert()
        .success();
    assert_eq!(test_json(&workspace, "proxied")["code"], "connected");
}

/// A TLS front for the simulator whose certificate is signed by a CA of its own.
struct TlsFront {
    url: String,
    ca_pem: String,
}

async fn tls_front(sim: &Sim) -> TlsFront {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mde-car test inspection CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = sim.url().trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        url: format!("https://localhost:{port}"),
        ca_pem: ca.as_ref().pem(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_ca_makes_an_inspecting_proxy_trusted() {
    let sim = sim().await;
    let front = tls_front(&sim).await;
    let workspace = Workspace::new();
    let files = tempfile::tempdir().unwrap();

    // Without the CA, the certificate is refused, and the report says what to add.
    add(&workspace, &sim, "inspected", &front.url, &[]);
    let report = test_json(&workspace, "inspected");
    assert_eq!(report["code"], "tls_failure", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(detail.contains("add its CA certificate"), "{detail}");

    // A file that is not a certificate is refused at the edit, and nothing changes.
    let wrong = files.path().join("notes.txt");
    std::fs::write(&wrong, "not a certificate").unwrap();
    workspace
        .cli()
        .args(["connection", "edit", "inspected", "--ca-cert"])
        .arg(&wrong)
        .assert()
        .failure()
        .stderr(predicates::str::contains("BEGIN CERTIFICATE"));

    // With the CA file, the same host is trusted.
    let ca_file = files.path().join("inspection-ca.pem");
    std::fs::write(&ca_file, &front.ca_pem).unwrap();
    workspace
        .cli()
        .args([
            "connection",
            "edit",
            "inspected",
            "--secret-stdin",
            "--ca-cert",
        ])
        .arg(&ca_file)
        .write_stdin(format!("{}\n", sim.client_secret()))
        .assert()
        .success();
    let report = test_json(&workspace, "inspected");
    assert_eq!(report["code"], "connected", "{report}");
    workspace
        .cli()
        .args(["sync", "inspected"])
        .assert()
        .success();

    // The file disappears later: the test names the file and nothing is sent.
    std::fs::remove_file(&ca_file).unwrap();
    let report = test_json(&workspace, "inspected");
    assert_eq!(report["code"], "tls_failure", "{report}");
    let detail = report["detail"].as_str().unwrap();
    assert!(
        detail.contains("inspection-ca.pem") && detail.contains("does not exist"),
        "{detail}"
    );
    assert!(detail.contains("Nothing was sent"), "{detail}");
}
