//! Certificate import through IPC: `import_certificate` answers with the certificate's public
//! facts, the draft that names the certificate is saved and signs in with the key the shell
//! kept, and no answer or error holds the private key or the PFX password — for PEM (one text
//! or two), PFX, a wrong password and a key of another certificate.

mod common;

use common::invoke;
use mde_sim::test_keys;
use serde_json::{Value, json};

const PASSWORD: &str = "Pfx-pässword-never-shown";

/// A self-signed certificate for `key`, valid from `from` to `until` days from now.
fn certificate(key: &str, from: i64, until: i64) -> rcgen::Certificate {
    let key_pair = rcgen::KeyPair::from_pem(key).expect("a test key");
    let mut params =
        rcgen::CertificateParams::new(vec!["mde-car-test".to_owned()]).expect("parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mde-car desktop test");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |days: i64| epoch + std::time::Duration::from_secs((now + days * 86_400) as u64);
    params.not_before = at(from);
    params.not_after = at(until);
    params.self_signed(&key_pair).expect("a certificate")
}

fn pfx_base64(cert: &rcgen::Certificate, key: &str, password: &str) -> String {
    use base64::Engine as _;
    let key_der = pem::parse(key).expect("a PEM key").contents().to_vec();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8; 20],
        p12_keystore::PrivateKey::from_der(&key_der).expect("a PKCS#8 key"),
        [p12_keystore::Certificate::from_der(cert.der()).expect("a DER certificate")],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "mde-car",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    base64::engine::general_purpose::STANDARD
        .encode(store.writer(password).write().expect("a PFX file"))
}

fn draft(sim: &mde_sim::Sim, name: &str, certificate: &Value) -> Value {
    json!({
        "name": name, "description": "", "tenantId": sim.tenant_id(), "clientId": sim.client_id(),
        "clientSecret": null, "credential": "certificate", "certificate": certificate, "privateKey": null,
        "frequency": {"kind": "interval", "minutes": 240}, "cloud": "commercial",
        "apiBaseUrl": sim.api_base(), "loginAuthority": sim.authority(),
        "data": {"alerts": false, "vulnerabilities": false, "loggedOnUsers": false, "ipHistory": false},
    })
}

/// The lines of a PEM key's body: any of them in an answer would be a piece of the key.
fn key_lines(key: &str) -> Vec<&str> {
    key.lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 20)
        .collect()
}

#[test]
fn an_imported_certificate_is_saved_and_used_and_its_key_never_comes_back() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let sim = runtime
        .block_on(mde_sim::Sim::start(mde_sim::SimConfig {
            devices: 3,
            ..Default::default()
        }))
        .expect("the simulator starts");
    let cert = certificate(test_keys::RSA_A, -1, 20);
    sim.add_certificate(&sim.client_id(), cert.der()).unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let app = common::app();
    mde_car_desktop::manage_core(
        app.handle(),
        Some(mde_car_core::paths::DataDir::new(data_dir.path())),
    )
    .expect("the core opens");
    let webview = common::window(&app);
    let mut said: Vec<String> = Vec::new();
    let mut call = |cmd: &str, args: Value| {
        let answer = invoke(&webview, cmd, args);
        said.push(format!("{cmd}: {}", answer.as_ref().unwrap_or_else(|e| e)));
        answer
    };

    // A certificate never imported here: the shell has no key for it, and the form is told
    // to import one.
    let unknown = certificate(test_keys::RSA_B, -1, 365);
    let unknown = serde_json::to_value(
        mde_car_core::config::certificate::info_from_der(unknown.der()).unwrap(),
    )
    .unwrap();
    let fields = call(
        "validate_connection",
        json!({ "draft": draft(&sim, "unknown", &unknown), "editingId": null }),
    )
    .unwrap();
    assert!(
        fields
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == "privateKey"),
        "{fields}"
    );

    // PEM, certificate and key in two texts: the public facts, the state and the warning.
    let imported = call(
        "import_certificate",
        json!({ "files": { "kind": "pem", "certificate": cert.pem(), "privateKey": test_keys::RSA_A } }),
    )
    .unwrap();
    assert_eq!(
        imported["certificate"]["subject"],
        "CN=mde-car desktop test"
    );
    assert_eq!(
        imported["certificate"]["thumbprintSha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(imported["state"], "expires_soon");
    assert!(imported.get("privateKey").is_none(), "{imported}");
    let certificate_facts = imported["certificate"].clone();

    // The draft names the certificate and carries no key: the shell adds the one it kept.
    let fields = call(
        "validate_connection",
        json!({ "draft": draft(&sim, "pem", &certificate_facts), "editingId": null }),
    )
    .unwrap();
    assert_eq!(fields, json!([]));
    let tested = call(
        "test_draft",
        json!({ "draft": draft(&sim, "pem", &certificate_facts), "editingId": null }),
    )
    .unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let view = call(
        "add_connection",
        json!({ "draft": draft(&sim, "pem", &certificate_facts) }),
    )
    .unwrap();
    assert_eq!(view["credential"], "certificate");
    assert_eq!(view["certificateState"], "expires_soon");
    assert!(
        view["certificateNotice"]
            .as_str()
            .unwrap()
            .contains("renew it in Entra ID and import the new one"),
        "{view}"
    );
    let id = view["id"].as_str().unwrap().to_owned();
    let report = call("test_connection", json!({ "id": id })).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    // Saved, the key is in the keyring and no longer kept: a second connection naming the
    // certificate must import it again.
    let again = call(
        "validate_connection",
        json!({ "draft": draft(&sim, "again", &certificate_facts), "editingId": null }),
    )
    .unwrap();
    assert!(
        again
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == "privateKey"),
        "{again}"
    );

    // An edit that keeps the certificate needs no key.
    let kept = call(
        "update_connection",
        json!({ "id": id, "draft": draft(&sim, "pem renamed", &certificate_facts) }),
    )
    .unwrap();
    assert_eq!(kept["name"], "pem renamed");

    // PEM in one text, PFX with its password, and the failures.
    let together = format!("{}{}", cert.pem(), test_keys::RSA_A);
    call(
        "import_certificate",
        json!({ "files": { "kind": "pem", "certificate": together, "privateKey": null } }),
    )
    .unwrap();
    let pfx = pfx_base64(&cert, test_keys::RSA_A, PASSWORD);
    let from_pfx = call(
        "import_certificate",
        json!({ "files": { "kind": "pfx", "pfxBase64": pfx, "password": PASSWORD } }),
    )
    .unwrap();
    assert_eq!(from_pfx["certificate"], certificate_facts);
    let wrong = call(
        "import_certificate",
        json!({ "files": { "kind": "pfx", "pfxBase64": pfx, "password": format!("{PASSWORD}-wrong") } }),
    )
    .unwrap_err();
    assert_eq!(wrong["code"], "validation");
    assert_eq!(wrong["fields"][0]["field"], "certificatePassword");
    let mismatch = call(
        "import_certificate",
        json!({ "files": { "kind": "pem", "certificate": cert.pem(), "privateKey": test_keys::RSA_B } }),
    )
    .unwrap_err();
    assert_eq!(mismatch["fields"][0]["field"], "privateKey");
    let damaged = call(
        "import_certificate",
        json!({ "files": { "kind": "pfx", "pfxBase64": "not base64!", "password": PASSWORD } }),
    )
    .unwrap_err();
    assert_eq!(damaged["fields"][0]["field"], "certificate");
    call("list_connections", json!({})).unwrap();

    let everything = said.join("\n");
    for key in [test_keys::RSA_A, test_keys::RSA_B] {
        for line in key_lines(key) {
            assert!(
                !everything.contains(line),
                "a line of a private key reached the window"
            );
        }
    }
    assert!(!everything.contains("PRIVATE KEY"), "{everything}");
    assert!(
        !everything.contains(PASSWORD),
        "the PFX password reached the window"
    );
    // Nor the settings file or the log.
    for entry in walk(data_dir.path()) {
        let Ok(text) = std::fs::read_to_string(&entry) else {
            continue;
        };
        assert!(!text.contains("PRIVATE KEY"), "{}", entry.display());
        assert!(!text.contains(PASSWORD), "{}", entry.display());
        for line in key_lines(test_keys::RSA_A) {
            assert!(!text.contains(line), "{}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
