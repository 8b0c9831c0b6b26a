//! Certificate sign-in against the simulator: a registered certificate connects, and each
//! refusal (not registered, expired, wrong key, clock skew) is a Test report with its own code.

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
