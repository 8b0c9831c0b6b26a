//! Unit tests of the client's pure parts: links, headers, messages, formats, conversions.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;
use url::Url;

use super::budget::{Limit, parse_retry_after, quota};
use super::error::required_roles;
use super::hunting::{HuntingRow, initial_window, is_retired, is_too_big, kql_datetime};
use super::paging::{check_export_link, check_next_link};
use super::transport::error_parts;
use super::wire::{
    Interner, Lossy, WireAlert, WireMachine, WireVulnerability, parse_ip, parse_time,
};
use super::{MdeError, odata_time};
use crate::auth::{AuthFailure, Transport};
use crate::model::VulnerabilityChangeKind;

fn machines_url() -> Url {
    Url::parse("https://api.security.microsoft.com/api/machines").unwrap()
}

const FILTER: &str = "lastSeen ge 2024-05-01T00:00:00Z";

#[test]
fn next_links_that_keep_the_query_are_followed() {
    let link = "https://api.security.microsoft.com/api/machines?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$top=50&$skip=100";
    assert_eq!(
        check_next_link(link, &machines_url(), Some(FILTER), Some(50), 50),
        Some(100)
    );
    // Keys are case-insensitive, the host too, %20 as well as + for spaces.
    let link = "https://API.security.microsoft.com/api/Machines?%24Filter=lastSeen%20ge%202024-05-01T00:00:00Z&%24TOP=50&%24skip=100";
    assert_eq!(
        check_next_link(link, &machines_url(), Some(FILTER), Some(50), 50),
        Some(100)
    );
    // No filter and no $top on either side.
    let link = "https://api.security.microsoft.com/api/machines?$skip=10000";
    assert_eq!(
        check_next_link(link, &machines_url(), None, None, 0),
        Some(10_000)
    );
}

#[test]
fn next_links_that_lose_the_query_or_loop_are_ignored() {
    let check = |link: &str, skip: usize| {
        check_next_link(link, &machines_url(), Some(FILTER), Some(50), skip)
    };
    // The broken 2022 link: keys dropped, values kept (docs/defender-api.md#paging).
    assert_eq!(
        check(
            "https://api.security.microsoft.com/api/machines?=lastSeen+ge+2024-05-01T00%3A00%3A00Z&=50&$skip=50",
            50
        ),
        None
    );
    // Filter gone, filter changed, $top gone or changed.
    assert_eq!(
        check(
            "https://api.security.microsoft.com/api/machines?$top=50&$skip=100",
            50
        ),
        None
    );
    assert_eq!(
        check(
            "https://api.security.microsoft.com/api/machines?$filter=lastSeen+ge+2020-01-01T00%3A00%3A00Z&$top=50&$skip=100",
            50
        ),
        None
    );
    assert_eq!(
        check(
            "https://api.security.microsoft.com/api/machines?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$skip=100",
            50
        ),
        None
    );
    // A $skip that does not move forward loops.
    assert_eq!(
        check(
            "https://api.security.microsoft.com/api/machines?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$top=50&$skip=50",
            50
        ),
        None
    );
    // Another host, scheme, port or path would receive the bearer token: never.
    for link in [
        "https://evil.example.com/api/machines?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$top=50&$skip=100",
        "http://api.security.microsoft.com/api/machines?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$top=50&$skip=100",
        "https://api.security.microsoft.com:8443/api/machines?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$top=50&$skip=100",
        "https://api.security.microsoft.com/api/alerts?$filter=lastSeen+ge+2024-05-01T00%3A00%3A00Z&$top=50&$skip=100",
        "not a url",
    ] {
        assert_eq!(check(link, 50), None, "{link}");
    }
}

#[test]
fn export_links_need_a_skiptoken_on_the_same_endpoint() {
    let expected = Url::parse(
        "https://api.security.microsoft.com/api/machines/SoftwareVulnerabilitiesByMachine",
    )
    .unwrap();
    assert_eq!(
        check_export_link(
            "https://api.security.microsoft.com/api/machines/SoftwareVulnerabilitiesByMachine?pagesize=5&$skiptoken=eyJFeHBvcnQ%3D",
            &expected
        ),
        Some("eyJFeHBvcnQ=".to_owned())
    );
    assert_eq!(
        check_export_link(
            "https://api.security.microsoft.com/api/machines/SoftwareVulnerabilitiesByMachine?pagesize=5",
            &expected
        ),
        None
    );
    assert_eq!(
        check_export_link(
            "https://elsewhere.example/api/machines/SoftwareVulnerabilitiesByMachine?$skiptoken=x",
            &expected
        ),
        None
    );
}

#[test]
fn retry_after_reads_seconds_fractions_and_dates() {
    let now = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
    assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("1.5", now),
        Some(Duration::from_millis(1_500))
    );
    assert_eq!(
        parse_retry_after("Wed, 01 May 2024 10:00:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    for bad in ["", "soon", "-3", "NaN"] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad}");
    }
}

#[test]
fn budgets_never_admit_more_than_the_limit_in_any_window() {
    // Half as burst, half refilled over the window: burst + window / period = calls.
    for (calls, per) in [(100u32, 60u64), (1_500, 3_600), (45, 60), (30, 60), (1, 60)] {
        let quota = quota(Limit {
            calls,
            per: Duration::from_secs(per),
        })
        .unwrap();
        let burst = quota.burst_size().get();
        let refills = (Duration::from_secs(per).as_secs_f64()
            / quota.replenish_interval().as_secs_f64())
        .floor() as u32;
        assert!(burst + refills <= calls.max(2), "{calls}/{per}s");
        assert!(burst >= calls / 2, "{calls}/{per}s");
    }
    assert!(
        quota(Limit {
            calls: 0,
            per: Duration::from_secs(60)
        })
        .is_none()
    );
}

#[test]
fn forbidden_messages_name_the_required_roles() {
    // docs/defender-api.md#permissions, 2021 style.
    assert_eq!(
        required_roles(
            "The application does not have any of the required application permissions (Machine.Read.All, Machine.ReadWrite.All) to access the resource."
        ),
        ["Machine.Read.All", "Machine.ReadWrite.All"]
    );
    // 2026 style: the roles after "application roles" are the token's, not the required ones.
    assert_eq!(
        required_roles(
            "Missing application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All, application roles: Machine.Isolate."
        ),
        ["Machine.Read.All", "Machine.ReadWrite.All"]
    );
    // Graph.
    assert_eq!(
        required_roles(
            "Missing role permissions on the request. API requires one of 'ThreatHunting.Read.All'. Roles on the request 'Machine.Read.All,AdvancedQuery.Read.All'."
        ),
        ["ThreatHunting.Read.All"]
    );
    // A 403 that names no role (wrong audience) gives none rather than a guess.
    assert!(
        required_roles(
            "The access token audience 'https://graph.microsoft.com' is not valid for this API."
        )
        .is_empty()
    );
}

#[test]
fn error_bodies_give_code_and_message() {
    let body = br#"{"error":{"code":"ResourceNotFound","message":"Machine 123 was not found","target":"43f4"}}"#;
    assert_eq!(
        error_parts(StatusCode::NOT_FOUND, body),
        (
            Some("ResourceNotFound".to_owned()),
            "Machine 123 was not found".to_owned()
        )
    );
    // Hunting's 429 uses a string code "429"; a numeric code is read too.
    let body = br#"{"error":{"code":429,"message":"API calls quota exceeded! maximum allowed 45 per 00:01:00"}}"#;
    assert_eq!(
        error_parts(StatusCode::TOO_MANY_REQUESTS, body)
            .0
            .as_deref(),
        Some("429")
    );
    assert_eq!(
        error_parts(StatusCode::BAD_GATEWAY, b"<html>\n<body>bad gateway</body>"),
        (None, "<html>".to_owned())
    );
    assert_eq!(
        error_parts(StatusCode::SERVICE_UNAVAILABLE, b""),
        (None, "service unavailable".to_owned())
    );
}

#[test]
fn error_messages_are_lowercase_and_name_no_secret() {
    let errors = [
        MdeError::Auth(AuthFailure::WrongSecret),
        MdeError::Forbidden {
            required: vec!["Machine.Read.All".to_owned()],
            message: "no".to_owned(),
        },
        MdeError::Throttled {
            retry_after: Some(Duration::from_secs(30)),
        },
        MdeError::Network(Transport::Timeout),
        MdeError::Api {
            status: 400,
            code: Some("BadRequest".to_owned()),
            message: "x".to_owned(),
        },
        MdeError::DeltaWindowExceeded,
        MdeError::Cancelled,
    ];
    for error in &errors {
        let text = error.to_string();
        assert!(text.chars().next().unwrap().is_lowercase(), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
    assert!(errors[1].to_string().contains("Machine.Read.All"));
    assert!(errors[2].to_string().contains("30 s"));
    assert!(!errors[1].is_retryable());
    assert!(errors[2].is_retryable());
    assert!(errors[3].is_retryable());
    assert!(!errors[4].is_retryable());
    assert!(
        MdeError::Api {
            status: 503,
            code: None,
            message: String::new()
        }
        .is_retryable()
    );
    assert!(!MdeError::Network(Transport::Dns("x".to_owned())).is_retryable());
}

#[test]
fn timestamps_in_every_defender_format() {
    let expect = |text: &str, rfc3339: &str| {
        assert_eq!(
            parse_time(text).map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            Some(rfc3339.to_owned()),
            "{text}"
        );
    };
    // Seven fractional digits (100 ns ticks), trimmed fractions, none.
    expect(
        "2023-04-19T13:27:53.1618923Z",
        "2023-04-19T13:27:53.161892300Z",
    );
    expect("2021-01-26T20:33:59.2Z", "2021-01-26T20:33:59.200Z");
    expect("2019-12-18T08:02:54Z", "2019-12-18T08:02:54Z");
    expect("2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z");
    // The exports' format is not ISO (space, no zone): UTC.
    expect("2021-01-11 11:01:00", "2021-01-11T11:01:00Z");
    // Entra's error timestamps.
    expect("2023-05-06 06:03:00Z", "2023-05-06T06:03:00Z");
    for bad in ["", "yesterday", "2023-13-01T00:00:00Z"] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}

#[test]
fn time_literals_for_odata_and_kql() {
    let time = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 7).unwrap()
        + chrono::TimeDelta::nanoseconds(123_456_789);
    // OData: unquoted, whole seconds rounded down so `ge` misses nothing.
    assert_eq!(odata_time(time), "2024-05-01T10:00:07Z");
    // KQL: Kusto's 100 ns precision.
    assert_eq!(kql_datetime(time), "datetime(2024-05-01T10:00:07.1234567Z)");
}

#[test]
fn ips_parse_with_zones_and_junk_is_refused() {
    assert_eq!(parse_ip("10.1.2.3"), Some("10.1.2.3".parse().unwrap()));
    assert_eq!(parse_ip("fe80::1%12"), Some("fe80::1".parse().unwrap()));
    assert_eq!(parse_ip(" ::1 "), Some("::1".parse().unwrap()));
    for bad in ["", "10.1.2", "10.1.2.300", "not-an-ip"] {
        assert_eq!(parse_ip(bad), None, "{bad}");
    }
}

#[test]
fn a_machine_converts_with_every_address_and_loopback_without_mac() {
    // A faithful machine (docs/defender-api.md#devices), plus an unparsable address, a null
    // external IP and a string rbacGroupId (documented as string, observed as number).
    let json = json!({
        "id":"556b3952acb0bff29816d267822305781cc183ec","mergedIntoMachineId":null,"isPotentialDuplication":false,
        "isExcluded":false,"exclusionReason":null,"computerDnsName":"host1.contoso.com",
        "firstSeen":"2023-04-19T13:27:53.1618923Z","lastSeen":"2023-05-04T17:40:05.684607Z",
        "osPlatform":"Windows10","osVersion":null,"osProcessor":"x64","version":"21H2",
        "lastIpAddress":"172.20.10.4","lastExternalIpAddress":null,"agentVersion":"10.8470.19041.2788",
        "osBuild":19044,"healthStatus":"Active","deviceValue":"Normal","rbacGroupId":"140","rbacGroupName":null,
        "riskScore":"Medium","exposureLevel":"High","isAadJoined":true,"aadDeviceId":null,"machineTags":["a","b"],
        "defenderAvStatus":"Updated","onboardingStatus":"Onboarded","osArchitecture":"64-bit",
        "managedBy":"Intune","managedByStatus":"Unknown","someFutureField":{"x":1},
        "ipAddresses":[
            {"ipAddress":"172.20.10.4","macAddress":"000C2992A64D","type":"Ethernet","operationalStatus":"Up"},
            {"ipAddress":"fe80::1%7","macAddress":"000C2992A64D","type":"Ethernet","operationalStatus":"Up"},
            {"ipAddress":"bogus","macAddress":"000C2992A64D","type":"Ethernet","operationalStatus":"Up"},
            {"ipAddress":"127.0.0.1","macAddress":null,"type":"SoftwareLoopback","operationalStatus":"Up"}],
        "vmMetadata":null
    });
    let mut lossy = Lossy::default();
    let device = serde_json::from_value::<WireMachine>(json)
        .unwrap()
        .into_device(&mut lossy)
        .unwrap();
    assert_eq!(device.id, "556b3952acb0bff29816d267822305781cc183ec");
    assert_eq!(device.rbac_group_id, Some(140));
    assert_eq!(device.os_build, Some(19044));
    assert_eq!(device.last_external_ip_address, None);
    assert_eq!(device.last_ip_address, Some("172.20.10.4".parse().unwrap()));
    assert_eq!(device.machine_tags, ["a", "b"]);
    assert_eq!(
        device.last_seen.unwrap().timestamp_subsec_nanos(),
        684_607_000
    );
    let ips: Vec<String> = device.addresses.iter().map(|a| a.ip.to_string()).collect();
    assert_eq!(ips, ["172.20.10.4", "fe80::1", "127.0.0.1"]);
    assert_eq!(
        device.addresses[0].mac.as_ref().unwrap().to_string(),
        "00:0C:29:92:A6:4D"
    );
    assert_eq!(device.addresses[2].mac, None);
    assert_eq!(
        device.addresses[2].interface_type.as_deref(),
        Some("SoftwareLoopback")
    );
    assert_eq!(lossy.unparsable, 1, "the bogus address is counted");
    // No id: no device.
    assert!(
        serde_json::from_value::<WireMachine>(json!({"computerDnsName":"x"}))
            .unwrap()
            .into_device(&mut lossy)
            .is_none()
    );
}

#[test]
fn alerts_read_techniques_in_either_shape() {
    let mut lossy = Lossy::default();
    let alert = serde_json::from_value::<WireAlert>(json!({
        "id":"da637472900382838869_1364969609","title":"Suspicious","severity":"High","status":"New",
        "alertCreationTime":"2024-05-01T10:00:00.1234567Z","lastUpdateTime":"2024-05-02T10:00:00Z",
        "mitreTechniques":"T1064, T1085","machineId":"abc","resolvedTime":null
    }))
    .unwrap()
    .into_alert(&mut lossy)
    .unwrap();
    assert_eq!(alert.mitre_techniques, ["T1064", "T1085"]);
    assert!(alert.created < alert.last_updated);
    assert_eq!(alert.resolved, None);
    assert_eq!(lossy.unparsable, 0);
}

#[test]
fn export_records_read_the_non_iso_times_and_decimal_scores() {
    let mut lossy = Lossy::default();
    let record = json!({
        "id":"d1_chrome_1.0_CVE-2024-1_","deviceId":"d1","cveId":"CVE-2024-1","cvssScore":6.5,
        "vulnerabilitySeverityLevel":"Medium","softwareVendor":"google","softwareName":"chrome",
        "softwareVersion":"1.0","firstSeenTimestamp":"2024-04-01 08:00:00",
        "lastSeenTimestamp":"2024-05-01 09:30:00","status":"Fixed","eventTimestamp":"2024-05-01T09:30:00.5Z"
    });
    let change = serde_json::from_value::<WireVulnerability>(record)
        .unwrap()
        .into_change(&mut Interner::default(), &mut lossy)
        .unwrap();
    assert_eq!(change.kind, VulnerabilityChangeKind::Fixed);
    assert_eq!(change.vulnerability.cvss_score, Some(6.5));
    assert_eq!(
        change.vulnerability.first_seen,
        Some(Utc.with_ymd_and_hms(2024, 4, 1, 8, 0, 0).unwrap())
    );
    assert_eq!(lossy.unparsable, 0);
}

#[test]
fn hunting_rows_parse_json_held_in_strings() {
    let row: HuntingRow = json!({
        "IPAddresses": "[{\"IPAddress\":\"10.1.2.3\",\"SubnetPrefix\":24,\"AddressType\":\"Private\"}]",
        "Native": [1, 2],
        "IsLocalAdmin": "True",
        "Timestamp": "2024-05-01T10:00:00.1234567Z",
        "Empty": "",
        "Null": null
    })
    .as_object()
    .unwrap()
    .clone()
    .into();
    assert_eq!(
        row.json("IPAddresses").unwrap()[0]["IPAddress"],
        json!("10.1.2.3")
    );
    assert_eq!(row.json("Native"), Some(json!([1, 2])));
    assert_eq!(row.bool("IsLocalAdmin"), Some(true));
    assert!(row.time("Timestamp").is_some());
    assert_eq!(row.str("Empty"), None);
    assert_eq!(row.get("Null"), None);
}

#[test]
fn hunting_windows_are_sized_from_the_device_count() {
    // 500 devices × 12 rows a day, aiming at 40,000 rows: about 6.7 days.
    let window = initial_window(500, 12.0, 80_000);
    assert_eq!(window.num_hours(), 160);
    // 200,000 devices: minutes, not days.
    assert_eq!(initial_window(200_000, 12.0, 80_000).num_minutes(), 24);
    assert!(initial_window(0, 12.0, 80_000) > chrono::TimeDelta::days(1_000));
}

#[test]
fn hunting_errors_that_change_the_plan_are_recognized() {
    let api = |status: u16, message: &str| MdeError::Api {
        status,
        code: Some("BadRequest".to_owned()),
        message: message.to_owned(),
    };
    // The simulator's retirement answer, and a bare 410.
    assert!(is_retired(&api(
        400,
        "The Microsoft Defender for Endpoint advanced hunting API has been retired (MC1220762). Use the Microsoft Graph security API runHuntingQuery instead."
    )));
    assert!(is_retired(&api(410, "Gone")));
    assert!(!is_retired(&api(
        400,
        "Query could not be parsed at 'x' on line [1,15]"
    )));
    assert!(!is_retired(&MdeError::Forbidden {
        required: Vec::new(),
        message: "retired".to_owned()
    }));
    // Result-size cap and preemption: a smaller window helps.
    assert!(is_too_big(&api(
        400,
        "Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again."
    )));
    assert!(is_too_big(&api(
        400,
        "Query execution has exceeded the allowed limits. The query execution was preempted."
    )));
    assert!(!is_too_big(&api(
        429,
        "API calls quota exceeded! maximum allowed 45 per 00:01:00"
    )));
}
