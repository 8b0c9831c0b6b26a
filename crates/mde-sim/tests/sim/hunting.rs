//! Advanced hunting: legacy `/api/advancedqueries/run` and Graph `runHuntingQuery` shapes, the
//! row cap, errors, the retirement fault and the Graph audience.

use serde_json::Value;

use mde_sim::{FaultKind, Sim, SimConfig};

use crate::support::{self, client, keys_in_order, start};

async fn legacy(sim: &Sim, token: &str, body: Value) -> (u16, String) {
    let response = client()
        .post(format!("{}/api/advancedqueries/run", sim.api_base()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    (status, response.text().await.unwrap())
}

async fn run(sim: &Sim, token: &str, query: &str) -> Value {
    let (status, body) = legacy(sim, token, serde_json::json!({ "Query": query })).await;
    assert_eq!(status, 200, "{query}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn graph_token(sim: &Sim, scope: &str) -> String {
    let response = client()
        .post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &sim.client_id()),
            ("client_secret", &sim.client_secret()),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn graph(sim: &Sim, token: &str, query: &str) -> (u16, Value) {
    let response = client()
        .post(format!("{}/v1.0/security/runHuntingQuery", sim.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "Query": query }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn legacy_response_shape_and_json_columns_as_strings() {
    let sim = start(40).await;
    let token = support::token(&sim).await;
    let (status, body) = legacy(
        &sim,
        &token,
        serde_json::json!({"Query": "DeviceInfo | where Timestamp > ago(1d) | summarize arg_max(Timestamp, *) by DeviceId | project DeviceId, DeviceName, LoggedOnUsers, OSBuild, Timestamp"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys_in_order(&body), ["Stats", "Schema", "Results"]);
    let parsed: Value = serde_json::from_str(&body).unwrap();
    assert!(parsed["Stats"]["ExecutionTime"].is_number());
    assert!(parsed["Stats"]["dataset_statistics"][0]["table_row_count"].is_number());
    let schema: Vec<(&str, &str)> = parsed["Schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["Name"].as_str().unwrap(), c["Type"].as_str().unwrap()))
        .collect();
    assert_eq!(schema[0], ("DeviceId", "String"));
    assert_eq!(schema[3], ("OSBuild", "Int64"));
    assert_eq!(schema[4], ("Timestamp", "DateTime"));
    let results = parsed["Results"].as_array().unwrap();
    let reporting = sim
        .truth()
        .read(|t| t.listed_devices().filter(|d| d.is_reporting()).count());
    assert_eq!(results.len(), reporting);
    for row in results {
        let users = row["LoggedOnUsers"]
            .as_str()
            .expect("JSON-array column delivered as a string");
        let users: Value = serde_json::from_str(users).unwrap();
        assert!(users.is_array());
        let device = sim
            .truth()
            .machine(row["DeviceId"].as_str().unwrap())
            .unwrap();
        assert_eq!(row["DeviceName"], device.computer_dns_name.as_str());
    }
}

#[tokio::test]
async fn network_info_agrees_with_machine_ip_addresses() {
    let sim = start(60).await;
    let token = support::token(&sim).await;
    let device = sim.truth().read(|t| {
        t.listed_devices()
            .find(|d| d.is_reporting() && d.last_ip_address().is_some())
            .unwrap()
            .clone()
    });
    let query = format!(
        "DeviceNetworkInfo | where Timestamp > ago(1d) and DeviceId == \"{}\" | summarize arg_max(Timestamp, *) by MacAddress | mv-expand ip=todynamic(IPAddresses) | project MacAddress, IP=tostring(ip.IPAddress)",
        device.id
    );
    let parsed = run(&sim, &token, &query).await;
    let ips: Vec<&str> = parsed["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["IP"].as_str().unwrap())
        .collect();
    assert!(
        ips.contains(&device.last_ip_address().unwrap().to_string().as_str()),
        "{ips:?}"
    );
    let macs: Vec<&str> = parsed["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["MacAddress"].as_str().unwrap())
        .collect();
    assert!(
        macs.iter()
            .all(|mac| mac.len() == 17 && mac.matches('-').count() == 5)
    );
}

#[tokio::test]
async fn every_table_answers_and_legacy_names_fail() {
    let sim = start(40).await;
    let token = support::token(&sim).await;
    for table in [
        "DeviceInfo",
        "DeviceNetworkInfo",
        "DeviceLogonEvents",
        "DeviceTvmSoftwareVulnerabilities",
        "DeviceTvmSoftwareVulnerabilitiesKB",
        "AlertInfo",
        "AlertEvidence",
    ] {
        let parsed = run(&sim, &token, &format!("{table} | take 3")).await;
        assert_eq!(parsed["Results"].as_array().unwrap().len(), 3, "{table}");
    }
    let joined = run(&sim, &token, "AlertInfo | join kind=inner (AlertEvidence | where EntityType == \"Machine\") on AlertId | count").await;
    assert_eq!(joined["Results"][0]["Count"], sim.truth().alerts().len());
    let admins = run(
        &sim,
        &token,
        "DeviceLogonEvents | where AccountName == \"administrator\" | distinct DeviceId | count",
    )
    .await;
    assert!(admins["Results"][0]["Count"].as_i64().unwrap() > 3);
    for bad in [
        "MachineInfo | take 1",
        "DeviceInfo | where",
        "DeviceInfo | frobnicate",
    ] {
        let (status, body) = legacy(&sim, &token, serde_json::json!({ "Query": bad })).await;
        assert_eq!(status, 400, "{bad}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "BadRequest");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        assert!(body["error"]["target"].is_string());
    }
    let (status, body) = legacy(
        &sim,
        &token,
        serde_json::json!({"query": "DeviceInfo | take 1"}),
    )
    .await;
    assert_eq!(status, 400, "the body key is case-sensitive");
    assert!(body.contains("InvalidRequestBody"));
}

#[tokio::test]
async fn results_stop_at_100000_rows() {
    let sim = Sim::start(SimConfig {
        devices: 700,
        seed: 4,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let token = support::token(&sim).await;
    let counted = run(&sim, &token, "DeviceNetworkInfo | count").await;
    assert!(
        counted["Results"][0]["Count"].as_i64().unwrap() > 100_000,
        "{counted}"
    );
    let parsed = run(&sim, &token, "DeviceNetworkInfo | project DeviceId").await;
    assert_eq!(parsed["Results"].as_array().unwrap().len(), 100_000);
}

#[tokio::test]
async fn graph_run_hunting_query_and_retirement() {
    let sim = start(30).await;
    let token = graph_token(&sim, "https://graph.microsoft.com/.default").await;
    let (status, body) = graph(
        &sim,
        &token,
        "AlertInfo | project AlertId, Severity | take 2",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys_in_order(&body.to_string()).len(), 3);
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#microsoft.graph.security.huntingQueryResults")
    );
    assert_eq!(
        body["schema"][0],
        serde_json::json!({"name": "AlertId", "type": "String"})
    );
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let (status, body) = graph(&sim, &token, "NoSuchTable | take 1").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadRequest");
    assert!(body["error"]["innerError"]["request-id"].is_string());

    let mde = support::token(&sim).await;
    let (status, body) = graph(&sim, &mde, "AlertInfo | take 1").await;
    assert_eq!(status, 401, "an MDE-audience token is not a Graph token");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    let own = graph_token(&sim, &format!("{}/.default", sim.url())).await;
    assert_eq!(graph(&sim, &own, "AlertInfo | take 1").await.0, 200);

    sim.faults().set(FaultKind::HuntingRetired, None, 1.0);
    let (status, body) = legacy(
        &sim,
        &mde,
        serde_json::json!({"Query": "AlertInfo | take 1"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("retired"), "{body}");
    assert_eq!(
        graph(&sim, &token, "AlertInfo | take 1").await.0,
        200,
        "Graph is the successor"
    );

    sim.set_roles(&sim.client_id(), &["Machine.Read.All"]);
    let narrow = graph_token(&sim, "https://graph.microsoft.com/.default").await;
    let (status, body) = graph(&sim, &narrow, "AlertInfo | take 1").await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ThreatHunting.Read.All")
    );
}

#[tokio::test]
async fn json_text_columns_are_strings_in_the_documented_key_order() {
    let sim = start(40).await;
    let token = support::token(&sim).await;
    // The schema reference types these columns `string`: they must be parsed before use.
    for query in [
        "DeviceNetworkInfo | mv-expand IPAddresses",
        "DeviceNetworkInfo | project IPAddresses[0].IPAddress",
        "DeviceInfo | mv-expand LoggedOnUsers",
        "DeviceNetworkInfo | extend g = DefaultGateways[0]",
    ] {
        let (status, body) = legacy(&sim, &token, serde_json::json!({ "Query": query })).await;
        assert_eq!(status, 400, "{query}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "BadRequest");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("todynamic"),
            "{body}"
        );
    }
    let parsed = run(
        &sim,
        &token,
        "DeviceNetworkInfo | where Timestamp > ago(1d) and NetworkAdapterStatus == \"Up\" \
         | project IPAddresses, ConnectedNetworks, DnsAddresses, DefaultGateways | getschema",
    )
    .await;
    for row in parsed["Results"].as_array().unwrap() {
        assert_eq!(row["ColumnType"], "string", "{row}");
    }
    let parsed = run(
        &sim,
        &token,
        "DeviceNetworkInfo | where Timestamp > ago(1d) and NetworkAdapterStatus == \"Up\" \
         | project IPAddresses, ConnectedNetworks | take 20",
    )
    .await;
    let rows = parsed["Results"].as_array().unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let addresses = row["IPAddresses"].as_str().unwrap();
        let items: Value = serde_json::from_str(addresses).unwrap();
        assert!(!items.as_array().unwrap().is_empty(), "{addresses}");
        // serde_json's Value sorts keys; read them from the text itself.
        let first = &addresses[1..addresses.find('}').unwrap() + 1];
        assert_eq!(
            keys_in_order(first),
            ["IPAddress", "SubnetPrefix", "AddressType"]
        );
        let networks = row["ConnectedNetworks"].as_str().unwrap();
        let first = &networks[1..networks.find('}').unwrap() + 1];
        assert_eq!(
            keys_in_order(first),
            ["Name", "Category", "Description", "IsConnectedToInternet"]
        );
    }
    let parsed = run(
        &sim,
        &token,
        "DeviceInfo | where Timestamp > ago(1d) | where LoggedOnUsers != \"[]\" | project LoggedOnUsers | take 5",
    )
    .await;
    for row in parsed["Results"].as_array().unwrap() {
        let users = row["LoggedOnUsers"].as_str().unwrap();
        let first = &users[1..users.find('}').unwrap() + 1];
        assert_eq!(keys_in_order(first), ["UserName", "DomainName", "Sid"]);
    }
    // Parsed first, they expand.
    let parsed = run(
        &sim,
        &token,
        "DeviceInfo | where Timestamp > ago(1d) | mv-expand u = parse_json(LoggedOnUsers) | project User = tostring(u.UserName) | take 3",
    )
    .await;
    assert!(!parsed["Results"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_query_must_be_sent_as_json() {
    let sim = start(10).await;
    let token = support::token(&sim).await;
    let url = format!("{}/api/advancedqueries/run", sim.api_base());
    let body = r#"{"Query":"DeviceInfo | take 1"}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = client().post(&url).bearer_auth(&token).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "UnsupportedMediaType");
    }
    let response = client()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
