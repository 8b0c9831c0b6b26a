//! Entra ID token endpoints: success shapes (v1 and v2), every documented error, bearer checks.

use base64::Engine;
use serde_json::Value;

use crate::support::{self, client, get, start};

pub(crate) fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub(crate) async fn post(url: &str, form: &[(&str, &str)]) -> (u16, Value, String) {
    let response = client().post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap(), text)
}

pub(crate) fn assert_entra_error(body: &Value, raw: &str, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{raw}");
    assert_eq!(body["error_codes"], serde_json::json!([code]));
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "));
    assert!(description.contains("\r\nCorrelation ID: "));
    let timestamp = body["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), 20);
    assert_eq!(&timestamp[10..11], " ");
    assert_eq!(
        support::keys_in_order(raw),
        [
            "error",
            "error_description",
            "error_codes",
            "timestamp",
            "trace_id",
            "correlation_id",
            "error_uri"
        ]
    );
}

#[tokio::test]
async fn v2_success_shape_and_claims() {
    let sim = start(20).await;
    let (status, body, raw) = post(
        &sim.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &sim.client_id()),
            ("client_secret", &sim.client_secret()),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        support::keys_in_order(&raw),
        ["token_type", "expires_in", "ext_expires_in", "access_token"]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap();
    let claims = claims(token);
    assert_eq!(claims["aud"], "https://api.securitycenter.microsoft.com");
    assert_eq!(claims["tid"], sim.tenant_id());
    assert_eq!(claims["appid"], sim.client_id());
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{}/", sim.tenant_id())
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3599
    );
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for role in [
        "Machine.Read.All",
        "Alert.Read.All",
        "AdvancedQuery.Read.All",
        "User.Read.All",
        "Vulnerability.Read.All",
    ] {
        assert!(roles.contains(&role), "{role} missing");
    }
}

#[tokio::test]
async fn v1_numbers_are_strings_and_resource_echoes() {
    let sim = start(20).await;
    let (status, body, raw) = post(
        &sim.token_url_v1(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &sim.client_id()),
            ("client_secret", &sim.client_secret()),
            ("resource", "https://api.securitycenter.windows.com"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(body["expires_in"], "3599");
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(body["resource"], "https://api.securitycenter.windows.com");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        "https://api.securitycenter.windows.com"
    );
}

#[tokio::test]
async fn domain_gov_scope_own_url_and_basic_auth_work() {
    let sim = start(20).await;
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        sim.authority(),
        sim.tenant_domain()
    );
    for scope in [
        "https://api-gov.securitycenter.microsoft.us/.default".to_owned(),
        "https://securitycenter.onmicrosoft.com/windowsatpservice/.default".to_owned(),
        format!("{}/.default", sim.api_base()),
    ] {
        let (status, body, raw) = post(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &sim.client_id()),
                ("client_secret", &sim.client_secret()),
                ("scope", &scope),
            ],
        )
        .await;
        assert_eq!(status, 200, "{scope}: {raw}");
        let token = body["access_token"].as_str().unwrap();
        let (status, _, _) = get(&sim, token, "/api/machines?$top=1").await;
        assert_eq!(status, 200, "token for {scope} should work on the API");
    }
    let response = client()
        .post(sim.token_url())
        .basic_auth(sim.client_id(), Some(sim.client_secret()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn identity_is_deterministic_from_the_seed() {
    let a = start(10).await;
    let b = start(10).await;
    assert_eq!(a.tenant_id(), b.tenant_id());
    assert_eq!(a.client_id(), b.client_id());
    assert_eq!(a.client_secret(), b.client_secret());
    let c = support::start_with(mde_sim::SimConfig {
        devices: 10,
        seed: 8,
        ..Default::default()
    })
    .await;
    assert_ne!(a.tenant_id(), c.tenant_id());
    assert!(uuid::Uuid::parse_str(&a.tenant_id()).is_ok());
}

#[tokio::test]
async fn every_documented_error() {
    let sim = start(10).await;
    let id = sim.client_id();
    let secret = sim.client_secret();
    let good_scope = "https://api.securitycenter.microsoft.com/.default";
    let base = |tenant: &str| format!("{}/{tenant}/oauth2/v2.0/token", sim.authority());
    let form = |client_id: &str, secret: &str, scope: &str| {
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), client_id.to_owned()),
            ("client_secret".to_owned(), secret.to_owned()),
            ("scope".to_owned(), scope.to_owned()),
        ]
    };
    type Case<'a> = (String, Vec<(String, String)>, u16, &'a str, u64);
    let cases: Vec<Case<'_>> = vec![
        (
            base("00000000-1111-2222-3333-444444444444"),
            form(&id, &secret, good_scope),
            400,
            "invalid_tenant",
            90002,
        ),
        (
            base("not a tenant!"),
            form(&id, &secret, good_scope),
            400,
            "invalid_request",
            900023,
        ),
        (
            base(&sim.tenant_id()),
            form("9a9a9a9a-0000-0000-0000-000000000000", &secret, good_scope),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            base(&sim.tenant_id()),
            form(&id, "wrong", good_scope),
            401,
            "invalid_client",
            7000215,
        ),
        (
            base(&sim.tenant_id()),
            form(
                &id,
                &secret,
                "https://api.securitycenter.microsoft.com/Machine.Read.All",
            ),
            400,
            "invalid_scope",
            70011,
        ),
        (
            base(&sim.tenant_id()),
            form(&id, &secret, "https://nothing.example.com/.default"),
            400,
            "invalid_resource",
            500011,
        ),
        (
            base("common"),
            form(&id, &secret, good_scope),
            400,
            "invalid_request",
            9001023,
        ),
    ];
    for (url, fields, status, error, code) in cases {
        let response = client().post(&url).form(&fields).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{url} {error}");
        let raw = response.text().await.unwrap();
        assert_entra_error(&serde_json::from_str(&raw).unwrap(), &raw, error, code);
    }
    // No credential at all, missing grant type, unsupported grant type, v1 without resource.
    let (status, body, raw) = post(
        &sim.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("scope", good_scope),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_entra_error(&body, &raw, "invalid_client", 7000218);
    let (status, body, raw) = post(
        &sim.token_url(),
        &[("client_id", &id), ("client_secret", &secret)],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, &raw, "invalid_request", 900144);
    let (status, body, raw) = post(
        &sim.token_url(),
        &[("grant_type", "password"), ("client_id", &id)],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, &raw, "unsupported_grant_type", 70003);
    let (status, body, raw) = post(
        &sim.token_url_v1(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("resource", "https://wrong.example.com"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, &raw, "invalid_resource", 500011);
    // Expired secret.
    sim.set_secret_expired(&id, true);
    let (status, body, raw) = post(
        &sim.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", good_scope),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_entra_error(&body, &raw, "invalid_client", 7000222);
}

#[tokio::test]
async fn api_rejects_missing_bad_expired_tokens_and_missing_roles() {
    let sim = start(10).await;
    let response = client()
        .get(format!("{}/api/machines", sim.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert!(body["error"]["target"].is_string());

    let (status, _, _) = get(&sim, "abc.def.ghi", "/api/machines").await;
    assert_eq!(status, 401);

    let token = support::token(&sim).await;
    sim.clock().advance(std::time::Duration::from_secs(3_600));
    let (status, _, body) = get(&sim, &token, "/api/machines").await;
    assert_eq!(status, 401, "{body}");

    sim.add_app(mde_sim::AppRegistration {
        client_id: "11111111-2222-3333-4444-555555555555".to_owned(),
        secret: "s3cret~value".to_owned(),
        secret_expired: false,
        roles: vec!["Machine.Read.All".to_owned()],
        display_name: "narrow".to_owned(),
    });
    let narrow =
        support::token_for(&sim, "11111111-2222-3333-4444-555555555555", "s3cret~value").await;
    let (status, _, _) = get(&sim, &narrow, "/api/machines").await;
    assert_eq!(status, 200);
    let (status, _, body) = get(&sim, &narrow, "/api/alerts").await;
    assert_eq!(status, 403);
    // The current wording names the required roles and the ones held, without a target.
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(
        body["error"]["message"],
        "Missing application roles. API required roles: Alert.Read.All,Alert.ReadWrite.All, application roles: Machine.Read.All."
    );
    assert!(body["error"].get("target").is_none());
    let machine = sim.truth().machine_ids()[0].clone();
    let (status, _, body) = get(
        &sim,
        &narrow,
        &format!("/api/machines/{machine}/logonusers"),
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("User.Read.All"));
}

#[tokio::test]
async fn graph_token_cannot_call_mde_api() {
    let sim = start(10).await;
    let (status, body, _) = post(
        &sim.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &sim.client_id()),
            ("client_secret", &sim.client_secret()),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = get(
        &sim,
        body["access_token"].as_str().unwrap(),
        "/api/machines",
    )
    .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn the_older_forbidden_wording_is_a_quirk() {
    let sim = support::start_with(mde_sim::SimConfig {
        devices: 5,
        quirks: mde_sim::Quirks {
            forbidden_wording: mde_sim::ForbiddenWording::RequiredPermissions,
            ..mde_sim::Quirks::default()
        },
        ..mde_sim::SimConfig::default()
    })
    .await;
    sim.set_roles(&sim.client_id(), &["Machine.Read.All"]);
    let token = support::token(&sim).await;
    let (status, _, body) = get(&sim, &token, "/api/alerts").await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["error"]["message"],
        "The application does not have any of the required application permissions (Alert.Read.All, Alert.ReadWrite.All) to access the resource."
    );
    assert!(body["error"]["target"].is_string());
}
