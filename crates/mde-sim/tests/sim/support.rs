//! Shared helpers: start a simulator, get tokens, call the API, read JSON key order.

use std::fmt;

use mde_sim::{Sim, SimConfig};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub(crate) async fn start(devices: usize) -> Sim {
    Sim::start(SimConfig {
        devices,
        seed: 7,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

pub(crate) async fn start_with(config: SimConfig) -> Sim {
    Sim::start(config).await.unwrap()
}

/// A v2 token for the default app.
pub(crate) async fn token(sim: &Sim) -> String {
    token_for(sim, &sim.client_id(), &sim.client_secret()).await
}

pub(crate) async fn token_for(sim: &Sim, client_id: &str, secret: &str) -> String {
    let response = client()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// GET `{api_base}{path}` with a bearer token; returns (status, headers, body text).
pub(crate) async fn get(
    sim: &Sim,
    token: &str,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = client()
        .get(format!("{}{path}", sim.api_base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

pub(crate) async fn get_json(sim: &Sim, token: &str, path: &str) -> Value {
    let (status, _, body) = get(sim, token, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The keys of a JSON object in document order (serde_json's `Map` sorts them).
pub(crate) fn keys_in_order(json: &str) -> Vec<String> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    deserializer.deserialize_map(Keys).unwrap()
}

/// The raw JSON text of each element of the top-level `value` array.
pub(crate) fn raw_values(json: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        value: Vec<&'a serde_json::value::RawValue>,
    }
    let envelope: Envelope<'_> = serde_json::from_str(json).unwrap();
    envelope
        .value
        .iter()
        .map(|raw| raw.get().to_owned())
        .collect()
}
