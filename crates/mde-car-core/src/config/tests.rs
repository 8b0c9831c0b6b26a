use super::*;

fn good() -> ConnectionDraft {
    ConnectionDraft {
        name: "Contoso production".to_owned(),
        description: String::new(),
        tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
        client_id: "11111111-2222-3333-4444-555555555555".to_owned(),
        client_secret: Some("Abc8Q~secret.value_123".to_owned()),
        credential: Default::default(),
        certificate: None,
        private_key: None,
        frequency: Frequency::Interval { minutes: 240 },
        cloud: Cloud::Commercial,
        api_base_url: None,
        login_authority: None,
        proxy_url: None,
        ca_certificate_file: None,
        data: DataSelection::default(),
    }
}

fn fields(draft: &ConnectionDraft) -> Vec<(&'static str, String)> {
    validate(draft, &[], true)
        .into_iter()
        .map(|e| (e.field, e.message))
        .collect()
}

fn message_for(draft: &ConnectionDraft, field: &str) -> Option<String> {
    fields(draft)
        .into_iter()
        .find(|(f, _)| *f == field)
        .map(|(_, m)| m)
}

#[test]
fn a_complete_draft_is_valid() {
    assert_eq!(fields(&good()), vec![]);
}

#[test]
fn every_bad_field_gets_its_own_message() {
    let draft = ConnectionDraft {
        name: "  ".to_owned(),
        tenant_id: "not a tenant".to_owned(),
        client_id: "my-app".to_owned(),
        client_secret: None,
        frequency: Frequency::Interval { minutes: 1 },
        api_base_url: Some("ftp://example.com".to_owned()),
        login_authority: Some("http://login.example.com".to_owned()),
        proxy_url: Some("socks5://proxy.corp.example:1080".to_owned()),
        ca_certificate_file: Some("certs/corp-ca.pem".to_owned()),
        ..good()
    };
    let got: Vec<&str> = fields(&draft).iter().map(|(f, _)| *f).collect();
    assert_eq!(
        got,
        [
            "name",
            "tenantId",
            "clientId",
            "clientSecret",
            "frequency",
            "apiBaseUrl",
            "loginAuthority",
            "proxyUrl",
            "caCertificateFile"
        ]
    );
}

#[test]
fn tenant_accepts_guid_and_verified_domain_only() {
    for ok in [
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "contoso.onmicrosoft.com",
        "corp.example.co.uk",
    ] {
        assert_eq!(
            message_for(
                &ConnectionDraft {
                    tenant_id: ok.to_owned(),
                    ..good()
                },
                "tenantId"
            ),
            None,
            "{ok}"
        );
    }
    let alias = message_for(
        &ConnectionDraft {
            tenant_id: "common".to_owned(),
            ..good()
        },
        "tenantId",
    );
    assert!(alias.unwrap().contains("multi-tenant alias"));
    let typo = message_for(
        &ConnectionDraft {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db4".to_owned(),
            ..good()
        },
        "tenantId",
    );
    assert!(typo.unwrap().contains("typo"));
    let word = message_for(
        &ConnectionDraft {
            tenant_id: "contoso".to_owned(),
            ..good()
        },
        "tenantId",
    );
    assert!(word.unwrap().contains("verified domain"));
}

#[test]
fn a_secret_id_pasted_instead_of_the_value_is_caught() {
    let draft = ConnectionDraft {
        client_secret: Some("9a0e3d7c-1111-2222-3333-444455556666".to_owned()),
        ..good()
    };
    assert!(
        message_for(&draft, "clientSecret")
            .unwrap()
            .contains("secret's ID")
    );
    let spaced = ConnectionDraft {
        client_secret: Some(" abc~def ".to_owned()),
        ..good()
    };
    assert!(
        message_for(&spaced, "clientSecret")
            .unwrap()
            .contains("space")
    );
}

#[test]
fn an_edit_may_keep_the_stored_secret() {
    let draft = ConnectionDraft {
        client_secret: None,
        ..good()
    };
    assert!(validate(&draft, &[], false).is_empty());
    assert_eq!(validate(&draft, &[], true)[0].field, "clientSecret");
}

#[test]
fn names_are_unique_case_insensitively() {
    let errors = validate(&good(), &["contoso PRODUCTION"], true);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "name");
}

#[test]
fn cron_expressions_are_checked_and_described() {
    let four_hourly = Frequency::Cron {
        expression: "0 */4 * * *".to_owned(),
    };
    assert_eq!(
        message_for(
            &ConnectionDraft {
                frequency: four_hourly.clone(),
                ..good()
            },
            "frequency"
        ),
        None
    );
    assert!(
        four_hourly.describe().to_lowercase().contains("every 4"),
        "{}",
        four_hourly.describe()
    );
    let every_minute = Frequency::Cron {
        expression: "* * * * *".to_owned(),
    };
    assert!(
        message_for(
            &ConnectionDraft {
                frequency: every_minute,
                ..good()
            },
            "frequency"
        )
        .unwrap()
        .contains("more often")
    );
    let six_fields = Frequency::Cron {
        expression: "0 0 */4 * * *".to_owned(),
    };
    assert!(
        message_for(
            &ConnectionDraft {
                frequency: six_fields,
                ..good()
            },
            "frequency"
        )
        .unwrap()
        .contains("5 fields")
    );
    let garbage = Frequency::Cron {
        expression: "61 * * * *".to_owned(),
    };
    assert!(
        message_for(
            &ConnectionDraft {
                frequency: garbage,
                ..good()
            },
            "frequency"
        )
        .is_some()
    );
}

#[test]
fn next_run_follows_the_schedule() {
    let at = DateTime::parse_from_rfc3339("2026-11-28T05:10:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let hourly = Frequency::Interval { minutes: 60 };
    assert_eq!(
        hourly.next_after(at).unwrap().to_rfc3339(),
        "2026-11-28T06:10:00+00:00"
    );
    let cron = Frequency::Cron {
        expression: "0 */4 * * *".to_owned(),
    };
    assert_eq!(
        cron.next_after(at).unwrap().to_rfc3339(),
        "2026-11-28T08:00:00+00:00"
    );
}

#[test]
fn frequencies_read_from_the_command_line() {
    assert_eq!(
        Frequency::parse_cli("4h"),
        Ok(Frequency::Interval { minutes: 240 })
    );
    assert_eq!(
        Frequency::parse_cli("15m"),
        Ok(Frequency::Interval { minutes: 15 })
    );
    assert_eq!(
        Frequency::parse_cli("1d"),
        Ok(Frequency::Interval { minutes: 1440 })
    );
    assert_eq!(
        Frequency::parse_cli("0 */6 * * *"),
        Ok(Frequency::Cron {
            expression: "0 */6 * * *".to_owned()
        })
    );
    assert!(Frequency::parse_cli("often").is_err());
    assert!(Frequency::parse_cli("3w").is_err());
    assert_eq!(
        Frequency::Interval { minutes: 240 }.describe(),
        "Every 4 hours"
    );
    assert_eq!(
        Frequency::Interval { minutes: 15 }.describe(),
        "Every 15 minutes"
    );
}

#[test]
fn http_is_refused_except_on_loopback() {
    for ok in [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
        "https://eu.api.security.microsoft.com/",
    ] {
        let draft = ConnectionDraft {
            api_base_url: Some(ok.to_owned()),
            ..good()
        };
        assert_eq!(message_for(&draft, "apiBaseUrl"), None, "{ok}");
    }
    let plain = ConnectionDraft {
        api_base_url: Some("http://proxy.corp:8080".to_owned()),
        ..good()
    };
    assert!(message_for(&plain, "apiBaseUrl").unwrap().contains("https"));
    let with_query = ConnectionDraft {
        login_authority: Some("https://login.microsoftonline.com/?x=1".to_owned()),
        proxy_url: None,
        ca_certificate_file: None,
        ..good()
    };
    assert!(
        message_for(&with_query, "loginAuthority")
            .unwrap()
            .contains("query")
    );
}

#[test]
fn a_proxy_is_scheme_host_and_port_without_credentials() {
    let with_proxy = |proxy: &str| ConnectionDraft {
        proxy_url: Some(proxy.to_owned()),
        ..good()
    };
    for fine in [
        "http://proxy.corp.example:8080",
        "https://proxy.corp.example",
        "http://10.0.0.5:3128/",
        "  ",
    ] {
        assert_eq!(message_for(&with_proxy(fine), "proxyUrl"), None, "{fine}");
    }
    for (bad, says) in [
        ("proxy.corp.example:8080", "http://"),
        ("socks5://proxy:1080", "http:// or https://"),
        ("http://user:pass@proxy:8080", "sign-in"),
        ("http://proxy:8080/path", "only scheme, host and port"),
        ("not a url", "Not a URL"),
    ] {
        let message = message_for(&with_proxy(bad), "proxyUrl")
            .unwrap_or_else(|| panic!("{bad} was accepted"));
        assert!(message.contains(says), "{bad}: {message}");
        // The message never echoes a password back.
        assert!(!message.contains("pass@"), "{message}");
    }
    let normalized = normalized(&with_proxy(" http://proxy.corp.example:8080/ "));
    assert_eq!(
        normalized.proxy_url.as_deref(),
        Some("http://proxy.corp.example:8080")
    );
}

#[test]
fn a_ca_file_must_be_a_full_path_to_pem_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let with_file = |file: &str| ConnectionDraft {
        ca_certificate_file: Some(file.to_owned()),
        ..good()
    };
    let message = message_for(&with_file("corp-ca.pem"), "caCertificateFile").unwrap();
    assert!(message.contains("full path"), "{message}");

    let missing = dir.path().join("missing.pem");
    let message = message_for(&with_file(missing.to_str().unwrap()), "caCertificateFile").unwrap();
    assert!(message.contains("does not exist"), "{message}");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a certificate").unwrap();
    let message = message_for(&with_file(text.to_str().unwrap()), "caCertificateFile").unwrap();
    assert!(message.contains("BEGIN CERTIFICATE"), "{message}");

    let pem = dir.path().join("ca.pem");
    let ca = rcgen::generate_simple_self_signed(vec!["proxy.corp.example".to_owned()]).unwrap();
    std::fs::write(&pem, ca.cert.pem()).unwrap();
    assert_eq!(
        message_for(&with_file(pem.to_str().unwrap()), "caCertificateFile"),
        None
    );
}

#[test]
fn overrides_replace_the_cloud_hosts() {
    let connection = Connection {
        id: "x".to_owned(),
        name: "n".to_owned(),
        description: String::new(),
        tenant_id: "t".to_owned(),
        client_id: "c".to_owned(),
        certificate: None,
        frequency: Frequency::default(),
        cloud: Cloud::GccHigh,
        api_base_url: Some("https://proxy.example.com/mde".to_owned()),
        login_authority: None,
        proxy_url: None,
        ca_certificate_file: None,
        data: DataSelection::default(),
        demo: false,
        created_at: Utc::now(),
    };
    let endpoints = connection.endpoints();
    assert_eq!(endpoints.api_base, "https://proxy.example.com/mde");
    assert_eq!(endpoints.authority, "https://login.microsoftonline.us");
    assert_eq!(
        endpoints.token_url("contoso.onmicrosoft.us"),
        "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"
    );
    assert_eq!(
        endpoints.scope(),
        "https://api-gov.securitycenter.microsoft.us/.default"
    );
}

#[test]
fn permissions_follow_the_data_selection() {
    let none = DataSelection {
        alerts: false,
        vulnerabilities: false,
        logged_on_users: false,
        ip_history: false,
    };
    let names = |d: DataSelection| {
        d.required_permissions()
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(none), ["Machine.Read.All"]);
    assert_eq!(
        names(DataSelection::default()),
        [
            "Machine.Read.All",
            "Alert.Read.All",
            "Vulnerability.Read.All",
            "AdvancedQuery.Read.All",
            "User.Read.All"
        ]
    );
    assert!(MACHINE_READ.is_granted(&["Machine.ReadWrite.All".to_owned()]));
    assert!(!ALERT_READ.is_granted(&["Machine.Read.All".to_owned()]));
}

#[test]
fn debug_output_never_shows_the_secret() {
    let text = format!("{:?}", good());
    assert!(!text.contains("Abc8Q~secret.value_123"));
    assert!(text.contains("<redacted>"));
}

#[test]
fn a_stored_secret_keeps_its_hosts_and_only_them() {
    let saved = good().into_connection("c1".to_owned(), false, chrono::Utc::now());
    let same = ConnectionDraft {
        name: "Renamed".to_owned(),
        frequency: Frequency::Interval { minutes: 60 },
        client_secret: None,
        // Spelling that normalizes to nothing is the same as nothing.
        api_base_url: Some("  ".to_owned()),
        ..good()
    };
    assert!(saved.keeps_secret_destination(&same));
    let moved: [(&str, ConnectionDraft); 5] = [
        (
            "API base",
            ConnectionDraft {
                api_base_url: Some("https://attacker.example".to_owned()),
                ..good()
            },
        ),
        (
            "login authority",
            ConnectionDraft {
                login_authority: Some("https://login.attacker.example".to_owned()),
                ..good()
            },
        ),
        (
            "proxy",
            ConnectionDraft {
                proxy_url: Some("http://127.0.0.1:3128".to_owned()),
                ..good()
            },
        ),
        (
            "CA file",
            ConnectionDraft {
                ca_certificate_file: Some("/etc/ssl/other.pem".to_owned()),
                ..good()
            },
        ),
        (
            "cloud",
            ConnectionDraft {
                cloud: Cloud::GccHigh,
                ..good()
            },
        ),
    ];
    for (what, draft) in moved {
        assert!(!saved.keeps_secret_destination(&draft), "{what}");
    }
}

#[test]
fn an_edit_that_sends_the_proxy_back_redacted_keeps_its_credentials() {
    let saved = ConnectionDraft {
        proxy_url: Some("http://user:pa55@proxy.corp.example:8080".to_owned()),
        ..good()
    }
    .into_connection("c1".to_owned(), false, chrono::Utc::now());
    let shown = ConnectionDraft {
        proxy_url: Some("http://proxy.corp.example:8080".to_owned()),
        client_secret: None,
        ..good()
    };
    assert!(saved.keeps_secret_destination(&shown), "same proxy host");
    assert_eq!(
        saved
            .with_kept_proxy_credentials(shown)
            .proxy_url
            .as_deref(),
        Some("http://user:pa55@proxy.corp.example:8080")
    );
    let other = ConnectionDraft {
        proxy_url: Some("http://proxy.elsewhere.example:8080".to_owned()),
        ..good()
    };
    assert!(!saved.keeps_secret_destination(&other));
    assert_eq!(
        saved
            .with_kept_proxy_credentials(other)
            .proxy_url
            .as_deref(),
        Some("http://proxy.elsewhere.example:8080"),
        "another proxy gets no stored credentials"
    );
}

#[test]
fn a_stored_connection_is_checked_by_the_forms_rules() {
    let saved = good().into_connection(uuid::Uuid::new_v4().to_string(), false, chrono::Utc::now());
    assert_eq!(saved.problems(), Vec::new(), "a connection the form saved");
    // What a hand edit of the settings file can write and the form never accepts.
    let cases: Vec<(&str, Connection)> = vec![
        (
            "loginAuthority",
            Connection {
                login_authority: Some("http://login.attacker.example".to_owned()),
                ..saved.clone()
            },
        ),
        (
            "apiBaseUrl",
            Connection {
                api_base_url: Some("file:///etc/passwd".to_owned()),
                ..saved.clone()
            },
        ),
        (
            "frequency",
            Connection {
                frequency: Frequency::Interval { minutes: 0 },
                ..saved.clone()
            },
        ),
        (
            "frequency",
            Connection {
                // 30 February: never runs.
                frequency: Frequency::Cron {
                    expression: "0 0 30 2 *".to_owned(),
                },
                ..saved.clone()
            },
        ),
        (
            "id",
            Connection {
                id: "../../outside".to_owned(),
                ..saved.clone()
            },
        ),
        (
            "id",
            Connection {
                id: String::new(),
                ..saved.clone()
            },
        ),
        (
            "id",
            Connection {
                id: "x".repeat(65),
                ..saved.clone()
            },
        ),
        (
            "tenantId",
            Connection {
                tenant_id: "common".to_owned(),
                ..saved.clone()
            },
        ),
        (
            "clientId",
            Connection {
                client_id: "not a guid".to_owned(),
                ..saved.clone()
            },
        ),
        (
            "name",
            Connection {
                name: "Contoso\u{1b}[2J".to_owned(),
                ..saved.clone()
            },
        ),
        (
            "proxyUrl",
            Connection {
                proxy_url: Some("socks5://proxy.example:1080".to_owned()),
                ..saved.clone()
            },
        ),
        (
            "caCertificateFile",
            Connection {
                ca_certificate_file: Some("relative/ca.pem".to_owned()),
                ..saved
            },
        ),
    ];
    for (field, connection) in cases {
        let problems = connection.problems();
        assert!(
            problems.iter().any(|problem| problem.field == field),
            "{field} of {connection:?} passed: {problems:?}"
        );
        assert_eq!(problems.len(), 1, "only {field} is wrong: {problems:?}");
    }
}

#[test]
fn a_stored_ca_file_is_not_read_on_every_load() {
    // A full path to a file that is not there (moved, or a share not mounted): the run that
    // needs it reports that; the settings themselves are fine.
    let saved = ConnectionDraft {
        ca_certificate_file: Some("/nonexistent/corp-ca.pem".to_owned()),
        ..good()
    }
    .into_connection("c1".to_owned(), false, chrono::Utc::now());
    assert_eq!(saved.problems(), Vec::new());
}

#[test]
fn a_cron_that_never_runs_is_refused_after_one_calendar_cycle() {
    // Found by fuzzing (frequency, a timeout): for `0 0 30 2 *` croner searched every day up
    // to its year limit, 3,000 years, on every check and every load of the settings.
    // Then (a timeout again): a minute or hour field of only `,` lists no time at all.
    for expression in [
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "*/30 * 31 2 *",
        ", 2 * * 0-5",
        "0 , * * *",
    ] {
        let frequency = Frequency::Cron {
            expression: expression.to_owned(),
        };
        assert_eq!(
            check_frequency(&frequency),
            Err("This cron expression never runs".to_owned()),
            "{expression}"
        );
        assert_eq!(frequency.next_after(Utc::now()), None, "{expression}");
    }
    // Rare is not never: February has a fifth Friday only when the 29th is one.
    let rare = Frequency::Cron {
        expression: "0 0 * 2 5#5".to_owned(),
    };
    assert_eq!(check_frequency(&rare), Ok(()));
    let after = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
    assert_eq!(
        rare.next_after(after),
        Some(Utc.with_ymd_and_hms(2036, 2, 29, 0, 0, 0).unwrap())
    );
}
