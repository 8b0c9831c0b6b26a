//! Certificate sign-in against the simulator: a registered certificate connects, and each
//! refusal (not registered, expired, wrong key, clock skew) is a Test report with its own code;
//! a certificate connection saved through the core syncs, and its card says when it ends.

use chrono::TimeDelta;
use mde_car_core::config::certificate::{self, CertificateInfo};
use mde_car_core::config::{Cloud, Credential, Endpoints};
use mde_car_core::model::TestCode;
use mde_car_core::probe::{self, ProbeTarget};
use mde_sim::{Sim, SimConfig, test_keys};
use secrecy::SecretString;

/// A self-signed certificate for `key`, valid from `from` to `until` days from now (DER).
fn certificate(key: &str, from: i64, until: i64) -> Vec<u8> {
    let key_pair = rcgen::KeyPair::from_pem(key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["mde-car-test".to_owned()]).unwrap();
    let now = chrono::Utc::now().timestamp();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |days: i64| epoch + std::time::Duration::from_secs((now + days * 86_400) as u64);
    params.not_before = at(from);
    params.not_after = at(until);
    params.self_signed(&key_pair).unwrap().der().to_vec()
}

fn endpoints(sim: &Sim) -> Endpoints {
    Endpoints {
        authority: sim.authority(),
        api_base: sim.api_base(),
        graph_base: sim.url(),
        ..Cloud::Commercial.endpoints()
    }
}

async fn test(sim: &Sim, info: &CertificateInfo, key: &str) -> mde_car_core::model::TestReport {
    let credential = Credential::certificate(SecretString::from(key.to_owned()), info).unwrap();
    let (tenant, client) = (sim.tenant_id(), sim.client_id());
    let endpoints = endpoints(sim);
    let target = ProbeTarget {
        tenant_id: &tenant,
        client_id: &client,
        cloud: Cloud::Commercial,
        endpoints: &endpoints,
        data: Default::default(),
        network: Default::default(),
    };
    probe::test_connection(&mde_car_core::http::client().unwrap(), &target, &credential)
        .await
        .report
}

#[tokio::test]
async fn a_registered_certificate_connects_and_an_unregistered_one_is_named() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let der = certificate(test_keys::RSA_A, -1, 365);
    let info = certificate::info_from_der(&der).unwrap();
    let report = test(&sim, &info, test_keys::RSA_A).await;
    assert_eq!(
        report.code,
        TestCode::CertificateNotRegistered,
        "{report:?}"
    );
    assert!(
        report.detail.contains("Certificates & secrets"),
        "{report:?}"
    );
    sim.add_certificate(&sim.client_id(), &der).unwrap();
    let report = test(&sim, &info, test_keys::RSA_A).await;
    assert_eq!(report.code, TestCode::Connected, "{report:?}");
}

#[tokio::test]
async fn an_expired_certificate_is_reported_as_expired() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let der = certificate(test_keys::RSA_A, -400, -1);
    sim.add_certificate(&sim.client_id(), &der).unwrap();
    let info = certificate::info_from_der(&der).unwrap();
    let report = test(&sim, &info, test_keys::RSA_A).await;
    assert_eq!(report.code, TestCode::CertificateExpired, "{report:?}");
    assert!(!report.ok);
}

#[tokio::test]
async fn another_key_is_reported_as_the_wrong_key() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let der = certificate(test_keys::RSA_A, -1, 365);
    sim.add_certificate(&sim.client_id(), &der).unwrap();
    let info = certificate::info_from_der(&der).unwrap();
    let report = test(&sim, &info, test_keys::RSA_B).await;
    assert_eq!(report.code, TestCode::WrongKey, "{report:?}");
    assert!(report.title.contains("Wrong private key"));
}

#[tokio::test]
async fn a_clock_off_either_way_is_reported_as_clock_skew() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let der = certificate(test_keys::RSA_A, -30, 365);
    sim.add_certificate(&sim.client_id(), &der).unwrap();
    let info = certificate::info_from_der(&der).unwrap();
    // Entra's clock an hour ahead of ours: the assertion has expired on arrival.
    sim.jump_clock(TimeDelta::hours(1));
    let report = test(&sim, &info, test_keys::RSA_A).await;
    assert_eq!(report.code, TestCode::ClockSkew, "{report:?}");
    // An hour behind: not yet valid.
    sim.jump_clock(TimeDelta::hours(-2));
    let report = test(&sim, &info, test_keys::RSA_A).await;
    assert_eq!(report.code, TestCode::ClockSkew, "{report:?}");
    // Within the five minutes Entra allows: fine.
    sim.jump_clock(TimeDelta::minutes(63));
    let report = test(&sim, &info, test_keys::RSA_A).await;
    assert_eq!(report.code, TestCode::Connected, "{report:?}");
}

#[test]
fn the_credential_never_shows_its_key() {
    let der = certificate(test_keys::RSA_A, -1, 365);
    let info = certificate::info_from_der(&der).unwrap();
    let credential =
        Credential::certificate(SecretString::from(test_keys::RSA_A.to_owned()), &info).unwrap();
    let shown = format!("{credential:?}");
    assert!(!shown.contains("PRIVATE"), "{shown}");
    assert!(!format!("{:?}", Credential::Secret(SecretString::from("s3cret"))).contains("s3cret"));
}

/// A certificate connection as the form saves it: the certificate imported from PEM through
/// the core, its key stored in the keyring, the hosts those of the simulator.
async fn certificate_connection(
    core: &mde_car_core::Core,
    sim: &Sim,
    name: &str,
    pem: &[u8],
) -> mde_car_core::api::ConnectionView {
    let imported = core
        .import_certificate(pem, Some(test_keys::RSA_A.as_bytes()), None)
        .unwrap();
    let draft = mde_car_core::config::ConnectionDraft {
        name: name.to_owned(),
        client_secret: None,
        credential: mde_car_core::config::CredentialKind::Certificate,
        certificate: Some(imported.certificate),
        private_key: Some(imported.private_key),
        ..crate::sync::sim_draft(sim)
    };
    core.add_connection(&draft).await.unwrap()
}

fn pem_of(der: &[u8]) -> Vec<u8> {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())).into_bytes()
}

#[tokio::test]
async fn a_saved_certificate_connection_tests_and_syncs_and_its_card_warns_before_the_end() {
    let sim = Sim::start(SimConfig {
        devices: 8,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let core = mde_car_core::Core::open(mde_car_core::paths::DataDir::new(dir.path())).unwrap();

    let good = certificate(test_keys::RSA_A, -1, 365);
    sim.add_certificate(&sim.client_id(), &good).unwrap();
    let view = certificate_connection(&core, &sim, "good", &pem_of(&good)).await;
    assert_eq!(
        view.certificate_state,
        Some(certificate::CertificateState::Valid)
    );
    assert_eq!(view.certificate_notice, None);
    let report = core.test_connection(&view.connection.id).await.unwrap();
    assert_eq!(report.code, TestCode::Connected, "{report:?}");
    let outcome = core
        .sync_connection(&view.connection.id, true, mde_car_core::sync::Trigger::Cli)
        .await
        .unwrap();
    assert_eq!(
        outcome.status,
        mde_car_core::store::RunStatus::Succeeded,
        "{outcome:?}"
    );
    // Settings hold the certificate's public facts, never its key.
    let settings =
        std::fs::read_to_string(mde_car_core::paths::DataDir::new(dir.path()).settings_file())
            .unwrap();
    assert!(!settings.contains("PRIVATE KEY"), "{settings}");

    // Twenty days left: a warning on the card, the connection still usable.
    let soon = certificate(test_keys::RSA_A, -300, 20);
    sim.add_certificate(&sim.client_id(), &soon).unwrap();
    let view = certificate_connection(&core, &sim, "soon", &pem_of(&soon)).await;
    assert_eq!(
        view.certificate_state,
        Some(certificate::CertificateState::ExpiresSoon)
    );
    let notice = view.certificate_notice.clone().unwrap();
    assert!(
        notice.starts_with("Certificate expires in 20 days ("),
        "{notice}"
    );
    assert_ne!(view.status, mde_car_core::ConnectionStatus::Error);

    // Ended: the card's status is an error that says what to do.
    let ended = certificate(test_keys::RSA_A, -400, -2);
    let view = certificate_connection(&core, &sim, "ended", &pem_of(&ended)).await;
    assert_eq!(
        view.certificate_state,
        Some(certificate::CertificateState::Expired)
    );
    assert_eq!(view.status, mde_car_core::ConnectionStatus::Error);
    assert!(
        view.status_text.starts_with("Certificate expired on "),
        "{}",
        view.status_text
    );
}
