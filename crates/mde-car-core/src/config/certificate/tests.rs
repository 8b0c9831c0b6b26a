//! Import of certificates and keys: PEM (one file or two), PFX with its password, and every
//! bad input with its own error.

use chrono::{Duration, Utc};
use mde_sim::test_keys;

use super::*;

/// A self-signed certificate for `key`, valid from `from` to `until` days from now.
fn certificate(key: &str, from: i64, until: i64) -> rcgen::Certificate {
    let key_pair = rcgen::KeyPair::from_pem(key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["mde-car-test".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mde-car test");
    let now = Utc::now().timestamp();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let at = |days: i64| epoch + std::time::Duration::from_secs((now + days * 86_400) as u64);
    params.not_before = at(from);
    params.not_after = at(until);
    params.self_signed(&key_pair).unwrap()
}

fn pfx(cert: &rcgen::Certificate, key: &str, password: &str) -> Vec<u8> {
    let key_der = pem::parse(key).unwrap().contents().to_vec();
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8; 20],
        p12_keystore::PrivateKey::from_der(&key_der).unwrap(),
        [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "mde-car",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
    );
    store.writer(password).write().unwrap()
}

#[test]
fn a_pem_pair_in_one_file_or_two_imports_with_its_facts() {
    let cert = certificate(test_keys::RSA_A, -1, 365);
    let together = format!("{}{}", cert.pem(), test_keys::RSA_A);
    let imported = import(together.as_bytes(), None, None, Utc::now()).unwrap();
    assert_eq!(imported.certificate.subject, "CN=mde-car test");
    assert_eq!(imported.certificate.thumbprint_sha256.len(), 64);
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    assert!(imported.certificate.check().is_ok());
    let apart = import(
        cert.pem().as_bytes(),
        Some(test_keys::RSA_A.as_bytes()),
        None,
        Utc::now(),
    )
    .unwrap();
    assert_eq!(apart.certificate, imported.certificate);
    // Debug output never shows the key.
    assert!(!format!("{apart:?}").contains("PRIVATE KEY"));
}

#[test]
fn a_pfx_imports_with_its_password_and_names_a_wrong_one() {
    let cert = certificate(test_keys::RSA_A, -1, 365);
    let file = pfx(&cert, test_keys::RSA_A, "pässword");
    let imported = import(&file, None, Some("pässword"), Utc::now()).unwrap();
    assert_eq!(imported.certificate.der().unwrap(), cert.der().to_vec());
    assert!(check_key(&imported.certificate, &imported.private_key).is_ok());
    let wrong = import(&file, None, Some("wrong"), Utc::now()).unwrap_err();
    assert_eq!(wrong, CertificateError::WrongPassword);
    assert_eq!(wrong.field(), "certificatePassword");
}

#[test]
fn a_key_of_another_certificate_is_a_mismatch() {
    let cert = certificate(test_keys::RSA_A, -1, 365);
    let error = import(
        cert.pem().as_bytes(),
        Some(test_keys::RSA_B.as_bytes()),
        None,
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(error, CertificateError::KeyMismatch);
    assert_eq!(error.code(), "key_mismatch");
}

#[test]
fn bad_inputs_each_get_their_own_error() {
    let cert = certificate(test_keys::RSA_A, -1, 365);
    let now = Utc::now();
    assert_eq!(
        import(cert.pem().as_bytes(), None, None, now).unwrap_err(),
        CertificateError::NoPrivateKey
    );
    assert_eq!(
        import(test_keys::RSA_A.as_bytes(), None, None, now).unwrap_err(),
        CertificateError::NoCertificate
    );
    assert!(matches!(
        import(b"hello, not a certificate", None, None, now).unwrap_err(),
        CertificateError::NotACertificate(_)
    ));
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(
        import(cert.pem().as_bytes(), Some(encrypted.as_bytes()), None, now).unwrap_err(),
        CertificateError::EncryptedKey
    );
    let ec = certificate(test_keys::EC_P256, -1, 365);
    assert!(matches!(
        import(
            ec.pem().as_bytes(),
            Some(test_keys::EC_P256.as_bytes()),
            None,
            now
        )
        .unwrap_err(),
        CertificateError::UnsupportedKey(_)
    ));
    assert_eq!(
        import(&vec![b'A'; MAX_FILE_BYTES + 1], None, None, now).unwrap_err(),
        CertificateError::TooLarge
    );
}

#[test]
fn expiry_is_a_warning_and_a_state() {
    let cert = certificate(test_keys::RSA_A, -400, -2);
    let imported = import(
        cert.pem().as_bytes(),
        Some(test_keys::RSA_A.as_bytes()),
        None,
        Utc::now(),
    )
    .unwrap();
    assert!(
        imported.warnings[0].contains("expired"),
        "{:?}",
        imported.warnings
    );
    let info = imported.certificate;
    assert_eq!(info.state(Utc::now()), CertificateState::Expired);
    assert_eq!(
        info.state(info.not_after - Duration::days(10)),
        CertificateState::ExpiresSoon
    );
    assert_eq!(
        info.state(info.not_after - Duration::days(31)),
        CertificateState::Valid
    );
    assert_eq!(
        info.state(info.not_before - Duration::days(1)),
        CertificateState::NotYetValid
    );
}

#[test]
fn stored_facts_that_are_not_the_certificates_own_are_refused() {
    let cert = certificate(test_keys::RSA_A, -1, 365);
    let mut info = info_from_der(cert.der()).unwrap();
    info.thumbprint_sha256 = "00".repeat(32);
    assert_eq!(info.check(), Err(CertificateError::ThumbprintMismatch));
    let mut info = info_from_der(cert.der()).unwrap();
    info.not_after += Duration::days(1);
    assert_eq!(info.check(), Err(CertificateError::DatesMismatch));
    let mut info = info_from_der(cert.der()).unwrap();
    info.der_base64 = "!!".to_owned();
    assert!(matches!(
        info.check(),
        Err(CertificateError::NotACertificate(_))
    ));
}

#[test]
fn the_card_warns_from_thirty_days_before_the_end_and_says_what_to_do() {
    let cert = certificate(test_keys::RSA_A, -300, 400);
    let info = info_from_der(cert.der()).unwrap();
    let end = info.not_after;
    let day = end.format("%Y-%m-%d").to_string();
    // The threshold is the one constant, inclusive: 30 days left warns, 31 does not.
    assert_eq!(
        info.state(end - Duration::days(EXPIRY_WARNING_DAYS)),
        CertificateState::ExpiresSoon
    );
    assert_eq!(
        info.notice(end - Duration::days(EXPIRY_WARNING_DAYS + 1)),
        None
    );
    // Days count calendar days to the end's date, as the date beside them reads.
    assert_eq!(
        info.notice(end - Duration::days(12)).as_deref(),
        Some(
            format!(
                "Certificate expires in 12 days ({day}) — renew it in Entra ID and import the new one"
            )
            .as_str()
        )
    );
    assert_eq!(info.days_left(end - Duration::days(12)), 12);
    assert!(
        info.notice(end - Duration::days(1))
            .unwrap()
            .starts_with("Certificate expires in 1 day (")
    );
    let midnight = end.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    if midnight < end {
        assert!(
            info.notice(midnight)
                .unwrap()
                .starts_with("Certificate expires today (")
        );
    }
    let expired = info.notice(end + Duration::days(2)).unwrap();
    assert!(
        expired.starts_with(&format!("Certificate expired on {day}")),
        "{expired}"
    );
    assert!(
        info.notice(info.not_before - Duration::days(1))
            .unwrap()
            .contains("valid only from")
    );
}
