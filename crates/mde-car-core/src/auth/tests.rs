use base64::Engine as _;

use super::*;

#[test]
fn aadsts_codes_are_read_from_the_description() {
    assert_eq!(
        aadsts_code("AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"),
        Some(7000215)
    );
    assert_eq!(
        aadsts_code("AADSTS90002: Tenant 'x' not found."),
        Some(90002)
    );
    assert_eq!(aadsts_code("no code here"), None);
    assert_eq!(aadsts_code("AADSTS: empty"), None);
}

#[test]
fn entra_errors_map_to_what_the_user_can_fix() {
    let cases = [
        (
            "invalid_tenant",
            "AADSTS90002: Tenant 'x' not found.",
            AuthFailure::UnknownTenant { malformed: false },
        ),
        (
            "invalid_request",
            "AADSTS90002: Tenant 'x' not found.",
            AuthFailure::UnknownTenant { malformed: false },
        ),
        (
            "invalid_request",
            "AADSTS900023: Specified tenant identifier 'x' is neither…",
            AuthFailure::UnknownTenant { malformed: true },
        ),
        (
            "unauthorized_client",
            "AADSTS700016: Application with identifier 'x' was not found",
            AuthFailure::UnknownClient,
        ),
        (
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
            AuthFailure::WrongSecret,
        ),
        (
            "invalid_client",
            "AADSTS7000222: The provided client secret keys for app 'x' are expired.",
            AuthFailure::ExpiredSecret,
        ),
        (
            "temporarily_unavailable",
            "AADSTS90055: TenantThrottlingError",
            AuthFailure::Throttled {
                retry_after_secs: None,
            },
        ),
    ];
    for (error, description, expected) in cases {
        assert_eq!(
            classify_entra_error(error, description),
            expected,
            "{description}"
        );
    }
    assert!(matches!(
        classify_entra_error(
            "invalid_resource",
            "AADSTS500011: The resource principal named x was not found"
        ),
        AuthFailure::UnknownResource {
            aadsts: Some(500011),
            ..
        }
    ));
    assert!(matches!(
        classify_entra_error("invalid_request", "AADSTS9999999: something new\r\nTrace ID: 1"),
        AuthFailure::Other { aadsts: Some(9999999), ref description, .. } if description == "AADSTS9999999: something new"
    ));
}

#[test]
fn roles_are_read_from_the_token_payload() {
    let encode = |value: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    let payload = r#"{"aud":"https://api.securitycenter.microsoft.com","tid":"t","roles":["Machine.Read.All","Alert.Read.All"]}"#;
    let jwt = format!(
        "{}.{}.signature",
        encode(r#"{"alg":"RS256"}"#),
        encode(payload)
    );
    let claims = decode_claims(&jwt).unwrap();
    assert_eq!(claims.roles, ["Machine.Read.All", "Alert.Read.All"]);
    assert_eq!(claims.aud, "https://api.securitycenter.microsoft.com");
    let no_roles = format!("{}.{}.s", encode("{}"), encode(r#"{"aud":"a"}"#));
    assert_eq!(
        decode_claims(&no_roles).unwrap().roles,
        Vec::<String>::new()
    );
    assert_eq!(decode_claims("not-a-jwt"), None);
    assert_eq!(decode_claims("a.!!!.c"), None);
}
