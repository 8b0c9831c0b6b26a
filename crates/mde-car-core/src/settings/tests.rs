use chrono::Utc;

use super::*;
use crate::config::{Cloud, DataSelection, Frequency};

fn connection(name: &str) -> Connection {
    Connection {
        id: format!("id-{name}"),
        name: name.to_owned(),
        description: String::new(),
        tenant_id: "contoso.onmicrosoft.com".to_owned(),
        client_id: "11111111-2222-3333-4444-555555555555".to_owned(),
        certificate: None,
        frequency: Frequency::Cron {
            expression: "0 */4 * * *".to_owned(),
        },
        cloud: Cloud::Gcc,
        api_base_url: None,
        login_authority: None,
        proxy_url: None,
        ca_certificate_file: None,
        data: DataSelection::default(),
        demo: false,
        created_at: Utc::now(),
    }
}

#[test]
fn a_missing_file_is_an_empty_document_and_a_save_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileSettings::new(dir.path().join("settings.json"));
    assert_eq!(file.load().unwrap(), Settings::default());
    let settings = Settings {
        connections: vec![connection("a"), connection("b")],
    };
    file.save(&settings).unwrap();
    assert_eq!(file.load().unwrap(), settings);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file.path()).unwrap()).unwrap();
    assert_eq!(written["version"], 1);
    assert_eq!(written["connections"][0]["cloud"], "gcc");
    assert_eq!(written["connections"][0]["frequency"]["kind"], "cron");
}

#[test]
fn keys_written_by_others_survive_a_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    std::fs::write(&path, r#"{"theme": "dark", "connections": []}"#).unwrap();
    let file = FileSettings::new(&path);
    file.save(&Settings {
        connections: vec![connection("a")],
    })
    .unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written["theme"], "dark");
    assert_eq!(written["connections"].as_array().unwrap().len(), 1);
}

#[test]
fn a_damaged_file_is_reported_with_its_path_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    std::fs::write(&path, "{ not json").unwrap();
    let file = FileSettings::new(&path);
    let error = file.load().unwrap_err().to_string();
    assert!(
        error.contains("settings.json") && error.contains("not valid JSON"),
        "{error}"
    );
    assert!(
        file.save(&Settings::default()).is_err(),
        "a save must not overwrite what it could not read"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");

    std::fs::write(&path, r#"{"connections": [{"name": 3}]}"#).unwrap();
    assert!(
        file.load()
            .unwrap_err()
            .to_string()
            .contains("\"connections\" entry is malformed")
    );
    std::fs::write(&path, r#"{"version": 99, "connections": []}"#).unwrap();
    assert!(
        file.load()
            .unwrap_err()
            .to_string()
            .contains("newer mde-car")
    );
}

#[test]
fn an_empty_or_cut_file_is_damaged_not_no_connections_and_is_never_saved_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let file = FileSettings::new(&path);
    let cut = r#"{"version": 1, "connections": [{"id": "a", "na"#;
    for (damage, reason) in [
        ("", "it is empty"),
        ("  \n\t", "it is empty"),
        (cut, "not valid JSON"),
    ] {
        std::fs::write(&path, damage).unwrap();
        let error = file.load().unwrap_err();
        assert!(
            error.to_string().contains(reason) && error.to_string().contains("settings.json"),
            "{damage:?}: {error}"
        );
        // A save reads the file first, so it fails too instead of writing one connection over
        // the others (whose secrets would be left in the keyring with no settings).
        file.save(&Settings {
            connections: vec![connection("new")],
        })
        .unwrap_err();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), damage);
    }
}
