//! Certificate sign-in: client assertions checked as Entra ID checks them — the registered
//! certificate's key and end date, the signature, `aud`, `iss`/`sub`, `nbf`/`exp` with five
//! minutes of skew — each refusal with Entra's AADSTS code.

use base64::Engine;
use chrono::TimeDelta;
use mde_sim::{Sim, test_keys};
use serde_json::{Value, json};
use sha2::Digest;

use crate::support::start;
use crate::tokens::{assert_entra_error, claims, post};

/// A self-signed certificate for `key` (PEM) valid from `from` to `until` (days from now).
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

/// An assertion for `sim`'s app naming `certificate`, signed with `key`; `edit` changes claims.
fn assertion(sim: &Sim, certificate: &[u8], key: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(certificate)),
    );
    let now = sim.clock().now().timestamp();
    let mut claims = json!({
        "aud": sim.token_url(), "iss": sim.client_id(), "sub": sim.client_id(),
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
    });
    edit(&mut claims);
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn sign_in(sim: &Sim, assertion: &str) -> (u16, Value, String) {
    post(
        &sim.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &sim.client_id()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ],
    )
    .await
}

fn description(body: &Value) -> &str {
    body["error_description"].as_str().unwrap()
}

#[tokio::test]
async fn a_registered_certificate_signs_in_and_an_unregistered_one_is_named() {
    let sim = start(10).await;
    let cert = certificate(test_keys::RSA_A, -1, 365);
    let signed = assertion(&sim, &cert, test_keys::RSA_A, |_| {});
    let (status, body, raw) = sign_in(&sim, &signed).await;
    assert_eq!(status, 401, "{raw}");
    assert_entra_error(&body, &raw, "invalid_client", 700027);
    assert!(description(&body).contains("not registered"), "{raw}");
    assert!(
        description(&body).contains("The key was not found"),
        "{raw}"
    );

    let thumbprint = sim.add_certificate(&sim.client_id(), &cert).unwrap();
    assert_eq!(thumbprint, hex::encode_upper(sha2::Sha256::digest(&cert)));
    let (status, body, raw) = sign_in(&sim, &signed).await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["appidacr"],
        "2"
    );

    // Registered with another app only: not this app's key.
    sim.remove_certificates(&sim.client_id());
    sim.add_certificate("00000000-0000-0000-0000-000000000001", &cert)
        .unwrap();
    let (_, body, raw) = sign_in(&sim, &signed).await;
    assert_entra_error(&body, &raw, "invalid_client", 700027);
}

#[tokio::test]
async fn a_pem_certificate_registers_too_and_a_non_certificate_is_refused() {
    let sim = start(10).await;
    let key_pair = rcgen::KeyPair::from_pem(test_keys::RSA_A).unwrap();
    let params = rcgen::CertificateParams::new(vec!["pem".to_owned()]).unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    sim.add_certificate(&sim.client_id(), cert.pem().as_bytes())
        .unwrap();
    let (status, _, raw) =
        sign_in(&sim, &assertion(&sim, cert.der(), test_keys::RSA_A, |_| {})).await;
    assert_eq!(status, 200, "{raw}");
    assert!(
        sim.add_certificate(&sim.client_id(), b"not a certificate")
            .is_err()
    );
    let ec = rcgen::KeyPair::from_pem(test_keys::EC_P256).unwrap();
    let ec_cert = params.self_signed(&ec).unwrap();
    let error = sim
        .add_certificate(&sim.client_id(), ec_cert.der())
        .unwrap_err();
    assert!(error.to_string().contains("RSA"), "{error}");
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_fails_signature_validation() {
    let sim = start(10).await;
    let cert = certificate(test_keys::RSA_A, -1, 365);
    sim.add_certificate(&sim.client_id(), &cert).unwrap();
    let (status, body, raw) =
        sign_in(&sim, &assertion(&sim, &cert, test_keys::RSA_B, |_| {})).await;
    assert_eq!(status, 401);
    assert_entra_error(&body, &raw, "invalid_client", 700027);
    assert!(
        description(&body).contains("use of the key to verify the signature failed"),
        "{raw}"
    );
    // A signature that is not one at all fails the same way.
    let good = assertion(&sim, &cert, test_keys::RSA_A, |_| {});
    let forged = format!("{}.c2ln", &good[..good.rfind('.').unwrap()]);
    let (_, body, raw) = sign_in(&sim, &forged).await;
    assert_entra_error(&body, &raw, "invalid_client", 700027);
}

#[tokio::test]
async fn an_expired_certificate_is_refused_as_expired() {
    let sim = start(10).await;
    let cert = certificate(test_keys::RSA_A, -400, -2);
    sim.add_certificate(&sim.client_id(), &cert).unwrap();
    let (status, body, raw) =
        sign_in(&sim, &assertion(&sim, &cert, test_keys::RSA_A, |_| {})).await;
    assert_eq!(status, 401);
    assert_entra_error(&body, &raw, "invalid_client", 700027);
    assert!(
        description(&body).contains("The key used is expired"),
        "{raw}"
    );
}

#[tokio::test]
async fn assertion_times_allow_five_minutes_of_skew_and_no_more() {
    let sim = start(10).await;
    let cert = certificate(test_keys::RSA_A, -1, 365);
    sim.add_certificate(&sim.client_id(), &cert).unwrap();
    let now = sim.clock().now().timestamp();
    for (nbf, exp, accepted) in [
        (now + 240, now + 840, true),
        (now - 900, now - 240, true),
        (now + 360, now + 960, false),
        (now - 1200, now - 360, false),
    ] {
        let signed = assertion(&sim, &cert, test_keys::RSA_A, |claims| {
            claims["nbf"] = json!(nbf);
            claims["exp"] = json!(exp);
        });
        let (status, body, raw) = sign_in(&sim, &signed).await;
        if accepted {
            assert_eq!(status, 200, "nbf {nbf} exp {exp}: {raw}");
        } else {
            assert_entra_error(&body, &raw, "invalid_client", 700024);
            assert!(description(&body).contains("Current time: "), "{raw}");
        }
    }
    // The simulated clock moving on makes an issued assertion stale.
    let signed = assertion(&sim, &cert, test_keys::RSA_A, |_| {});
    sim.jump_clock(TimeDelta::hours(1));
    let (_, body, raw) = sign_in(&sim, &signed).await;
    assert_entra_error(&body, &raw, "invalid_client", 700024);
}

#[tokio::test]
async fn audience_issuer_and_shape_are_checked() {
    let sim = start(10).await;
    let cert = certificate(test_keys::RSA_A, -1, 365);
    sim.add_certificate(&sim.client_id(), &cert).unwrap();
    let wrong_aud = assertion(&sim, &cert, test_keys::RSA_A, |claims| {
        claims["aud"] = json!("https://login.microsoftonline.com/other/oauth2/v2.0/token");
    });
    let (_, body, raw) = sign_in(&sim, &wrong_aud).await;
    assert_entra_error(&body, &raw, "invalid_client", 700023);
    let wrong_iss = assertion(&sim, &cert, test_keys::RSA_A, |claims| {
        claims["iss"] = json!("00000000-0000-0000-0000-000000000001");
    });
    let (_, body, raw) = sign_in(&sim, &wrong_iss).await;
    assert_entra_error(&body, &raw, "invalid_client", 700021);
    let (status, body, raw) = sign_in(&sim, "not-a-jwt").await;
    assert_eq!(status, 400);
    assert_entra_error(&body, &raw, "invalid_request", 50027);
}
