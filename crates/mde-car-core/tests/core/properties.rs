//! Property tests of every entry point that reads outside input, on stable and in `make test`:
//! the functions the fuzz targets (`fuzz/`, docs/fuzzing.md) run, so neither can rot. Each gets
//! arbitrary text or bytes, and near-valid input built from valid pieces or a seed of
//! `fuzz/seeds/` with one value changed. Nothing may panic; where there is something to say,
//! the result says it (a printed query parses back, a followed link stays on the API's host, a
//! decoder keeps or skips every item). An input a fuzzer found is kept here as a named case.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use mde_car_core::config::Frequency;
use mde_car_core::mde::MdeError;
use mde_car_core::mde::fuzzing::{
    alerts_page, export_link, frequency_problems, hunting_answer, machines_page, next_link,
    token_answer, vulnerabilities_page, vulnerability_changes_page,
};
use mde_car_core::search::{MAX_QUERY_CHARS, Query, QueryError};
use mde_car_core::settings::{FileSettings, SettingsBackend};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Cases per property; `PROPTEST_CASES` overrides it for a longer run.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(n),
        // A failure is reported with its shrunk input, which then becomes a named case here.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../fuzz/seeds/{target}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn seed_json(target: &str, name: &str) -> Value {
    serde_json::from_slice(&seed(target, name)).unwrap()
}

/// Any JSON value, nested a little: what a changed field may become.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::from),
        // Values of the shapes the decoders look for: times, addresses, MACs, GUIDs.
        prop_oneof![
            Just("2024-05-01T10:00:00.1234567Z"),
            Just("2024-05-01 10:00:00"),
            Just("9999-12-31T23:59:59Z"),
            Just("0000-01-01T00:00:00+99:99"),
            Just("10.1.2.3"),
            Just("fe80::1%7"),
            Just("::ffff:10.1.2.3"),
            Just("AA-BB-CC-DD-EE-FF"),
            Just("000C2992A64D"),
            Just("[{\"IPAddress\":\"10.1.2.3\",\"SubnetPrefix\":300}]"),
            Just("00000000-0000-0000-0000-000000000000"),
            Just("New"),
            Just("Fixed"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// `value` with the field at `pick` (of the object at `pointer`) replaced by `new`, or a new
/// field of that name when `pick` is past the last one.
fn with_field(mut value: Value, pointer: &str, pick: usize, name: &str, new: Value) -> Value {
    let Some(Value::Object(object)) = value.pointer_mut(pointer) else {
        panic!("no object at {pointer}");
    };
    let key = object
        .keys()
        .nth(pick % (object.len() + 1))
        .cloned()
        .unwrap_or_else(|| name.to_owned());
    object.insert(key, new);
    value
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

// ---- The search query parser -----------------------------------------------------------------

/// A parsed query printed and parsed again is the same query (the print keeps whole seconds).
fn assert_round_trip(text: &str, at: Option<&str>) -> Result<(), TestCaseError> {
    let Ok((query, _notes)) = Query::parse_explained(text, at) else {
        return Ok(());
    };
    prop_assert!(!query.describe().is_empty());
    let printed = query.to_string();
    let again = Query::parse(&printed, None);
    prop_assert!(again.is_ok(), "{text:?} printed as {printed:?}: {again:?}");
    let again = again.unwrap();
    prop_assert_eq!(again.kind(), query.kind());
    prop_assert_eq!(again.value(), query.value());
    prop_assert_eq!(
        again.at().map(|at| at.timestamp()),
        query.at().map(|at| at.timestamp())
    );
    Ok(())
}

fn time_text() -> impl Strategy<Value = String> {
    (
        1970..2100i32,
        1..=12u32,
        1..=28u32,
        0..24u32,
        0..60u32,
        0..60u32,
    )
        .prop_flat_map(|(y, mo, d, h, mi, s)| {
            prop_oneof![
                Just(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")),
                Just(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")),
                Just(format!(
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.123+05:30"
                )),
                Just(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")),
                Just(format!("{y:04}-{mo:02}-{d:02}")),
            ]
        })
}

proptest! {
    #![proptest_config(cases(3000))]

    #[test]
    fn any_search_text_parses_or_says_why(text in "\\PC{0,40}|[0-9a-fA-F.:/@ *%\\[\\]-]{0,40}", at in proptest::option::of("\\PC{0,24}")) {
        match Query::parse_explained(&text, at.as_deref()) {
            Ok(_) => assert_round_trip(&text, at.as_deref())?,
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn every_address_and_range_parses_to_its_normal_form(
        ip in any::<IpAddr>(),
        prefix in proptest::option::of(0..=128u8),
        time in proptest::option::of(time_text()),
    ) {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let mut text = ip.to_string();
        if let Some(prefix) = prefix {
            text = format!("{text}/{}", prefix % (max + 1));
        }
        if let Some(time) = &time {
            text = format!("{text} @ {time}");
        }
        let query = Query::parse(&text, None);
        prop_assert!(query.is_ok(), "{text}: {query:?}");
        let query = query.unwrap();
        prop_assert_eq!(query.at().is_some(), time.is_some());
        prop_assert_eq!(query.kind().starts_with("cidr"), prefix.is_some());
        assert_round_trip(&text, None)?;
    }

    #[test]
    fn every_mac_notation_reads_as_the_same_mac(
        mac in prop_oneof![any::<[u8; 6]>().prop_map(Vec::from), any::<[u8; 8]>().prop_map(Vec::from)],
        notation in 0..4usize,
        upper in any::<bool>(),
    ) {
        let pairs: Vec<String> = mac.iter().map(|byte| format!("{byte:02x}")).collect();
        let text = match notation {
            0 => pairs.join(":"),
            1 => pairs.join("-"),
            2 => pairs.chunks(2).map(|pair| pair.concat()).collect::<Vec<_>>().join("."),
            _ => pairs.concat(),
        };
        let text = if upper { text.to_ascii_uppercase() } else { text };
        let query = Query::parse(&text, None);
        prop_assert!(query.is_ok(), "{text}: {query:?}");
        let query = query.unwrap();
        prop_assert_eq!(query.kind(), "mac");
        prop_assert_eq!(query.value(), pairs.join(":").to_ascii_uppercase());
        // Eight colon-separated pairs are also an IPv6 address: printed, the MAC must still read
        // as the MAC (a fuzzer found it read as the address).
        assert_round_trip(&text, None)?;
    }

    #[test]
    fn a_host_name_prefix_prints_as_it_reads(prefix in "[0-9a-fA-F:.-]{1,23}\\*?") {
        // Hex digits and separators: host names that look like MACs (a fuzzer's find).
        assert_round_trip(&prefix, None)?;
    }

    #[test]
    fn a_search_longer_than_the_limit_is_refused_before_it_is_read(text in "\\PC{301,400}") {
        let chars = text.chars().count();
        prop_assume!(chars > MAX_QUERY_CHARS);
        prop_assert_eq!(Query::parse(&text, None), Err(QueryError::TooLong { chars }));
    }
}

// ---- Frequency and cron ----------------------------------------------------------------------

fn after() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_795_000_000, 0).unwrap()
}

/// What the scheduler does with a frequency a form, the CLI or a settings file gave: a valid
/// one runs again, later.
fn check_frequency(frequency: &Frequency) -> Result<(), TestCaseError> {
    let problems = frequency_problems(frequency);
    prop_assert!(!frequency.describe().is_empty());
    let next = frequency.next_after(after());
    if problems.is_empty() {
        prop_assert!(
            next.is_some_and(|next| next > after()),
            "{frequency:?}: {next:?}"
        );
    } else {
        prop_assert!(
            problems.iter().all(|problem| problem.field == "frequency"),
            "{problems:?}"
        );
    }
    Ok(())
}

fn cron_field(low: u32, high: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        (low..=high).prop_map(|n| n.to_string()),
        (1..=high.max(1)).prop_map(|step| format!("*/{step}")),
        (low..=high, low..=high).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (low..=high, low..=high).prop_map(|(a, b)| format!("{a},{b}")),
        (low..=high, 1..=high.max(1)).prop_map(|(a, step)| format!("{a}/{step}")),
        // A list of nothing, which croner accepts and which matches no time (a fuzzer's find).
        Just(",".to_owned()),
        // Off the range, which must be refused, not wrap or panic.
        (high + 1..high + 100).prop_map(|n| n.to_string()),
    ]
}

fn cron() -> impl Strategy<Value = String> {
    (
        cron_field(0, 59),
        cron_field(0, 23),
        prop_oneof![
            cron_field(1, 31).boxed(),
            Just("L".to_owned()).boxed(),
            Just("?".to_owned()).boxed()
        ],
        prop_oneof![cron_field(1, 12).boxed(), Just("FEB".to_owned()).boxed()],
        prop_oneof![
            cron_field(0, 7).boxed(),
            Just("MON-FRI".to_owned()).boxed(),
            Just("5#3".to_owned()).boxed(),
            Just("5L".to_owned()).boxed()
        ],
    )
        .prop_map(|(minute, hour, day, month, weekday)| {
            format!("{minute} {hour} {day} {month} {weekday}")
        })
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn any_frequency_text_is_read_checked_and_scheduled(text in "\\PC{0,30}|[0-9*/,LW#? -]{0,30}") {
        check_frequency(&Frequency::Cron { expression: text.clone() })?;
        if let Ok(frequency) = Frequency::parse_cli(&text) {
            check_frequency(&frequency)?;
        }
    }

    #[test]
    fn a_cron_of_valid_pieces_is_valid_or_refused_with_a_reason(expression in cron()) {
        let frequency = Frequency::Cron { expression: expression.clone() };
        check_frequency(&frequency)?;
        // Every minute of some hour is far more often than every five minutes.
        if expression.starts_with("* ") {
            prop_assert!(!frequency_problems(&frequency).is_empty(), "{expression}");
        }
    }

    #[test]
    fn a_duration_is_its_minutes(number in any::<u32>(), unit in prop_oneof![Just("m"), Just("h"), Just("d"), Just("")]) {
        let parsed = Frequency::parse_cli(&format!("{number}{unit}"));
        let expected = match unit {
            "h" => number.checked_mul(60),
            "d" => number.checked_mul(1440),
            _ => Some(number),
        };
        match expected {
            Some(minutes) => prop_assert_eq!(parsed, Ok(Frequency::Interval { minutes })),
            // Too many minutes to count reads as the most there can be, which the checks
            // refuse as longer than a week (the message the form shows for any long interval).
            None => {
                let frequency = Frequency::Interval { minutes: u32::MAX };
                prop_assert_eq!(parsed, Ok(frequency.clone()));
                prop_assert!(!frequency_problems(&frequency).is_empty());
            }
        }
        if let Ok(frequency) = Frequency::parse_cli(&format!("{number}{unit}")) {
            check_frequency(&frequency)?;
        }
    }
}

// ---- nextLink and $skiptoken checks ----------------------------------------------------------

const API_HOST: &str = "api.security.microsoft.com";
const LIST: &str = "https://api.security.microsoft.com/api/machines";
const EXPORT: &str =
    "https://api.security.microsoft.com/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=2";
const FILTER: &str = "lastSeen ge 2026-11-20T14:00:00Z";

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(API_HOST.to_owned()),
        Just("API.Security.Microsoft.COM".to_owned()),
        Just("api.security.microsoft.com.evil.example".to_owned()),
        Just("evil.example".to_owned()),
        Just("api.security.microsoft.com@evil.example".to_owned()),
        Just("evil.example#@api.security.microsoft.com".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        "[a-z0-9.-]{1,20}",
    ]
}

fn link() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("https"), Just("http"), Just("HTTPS"), Just("ftp")],
        host(),
        prop_oneof![Just(""), Just(":443"), Just(":8443"), Just(":0")],
        prop_oneof![
            Just("/api/machines"),
            Just("/api/machines/"),
            Just("/API/Machines"),
            Just("/api/alerts"),
            Just("/api/machines/SoftwareVulnerabilitiesByMachine"),
            Just("/api/machines/../machines"),
        ],
        prop::collection::vec(
            prop_oneof![
                Just("$filter=lastSeen+ge+2026-11-20T14%3A00%3A00Z".to_owned()),
                Just("$top=10000".to_owned()),
                Just("$TOP=10000".to_owned()),
                (0..100_000usize).prop_map(|skip| format!("$skip={skip}")),
                Just("$skip=-1".to_owned()),
                Just("$skip=99999999999999999999999".to_owned()),
                Just("$skiptoken=eyJQYWdlIjoyfQ".to_owned()),
                Just("$skiptoken=".to_owned()),
                Just("pageSize=2".to_owned()),
                Just("=x".to_owned()),
                "[a-z$%=&+]{0,12}",
            ],
            0..5,
        ),
    )
        .prop_map(|(scheme, host, port, path, query)| {
            let query = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            format!("{scheme}://{host}{port}{path}{query}")
        })
}

/// Whether `link` names the API's host over https on its port: the one place a bearer token may
/// go.
fn on_api_host(link: &str) -> bool {
    url::Url::parse(link).is_ok_and(|url| {
        url.scheme() == "https"
            && url
                .host_str()
                .is_some_and(|host| host.eq_ignore_ascii_case(API_HOST))
            && url.port_or_known_default() == Some(443)
    })
}

proptest! {
    #![proptest_config(cases(4000))]

    #[test]
    fn a_followed_link_never_leaves_the_api_host(
        link in prop_oneof![link(), "\\PC{0,60}"],
        filter in any::<bool>(),
        top in any::<bool>(),
        current_skip in 0..60_000usize,
    ) {
        let filter = filter.then_some(FILTER);
        let top = top.then_some(10_000);
        if let Some(skip) = next_link(&link, LIST, filter, top, current_skip) {
            prop_assert!(on_api_host(&link), "{link}");
            prop_assert!(skip > current_skip, "{link}");
        }
        if let Some(token) = export_link(&link, EXPORT) {
            prop_assert!(on_api_host(&link), "{link}");
            prop_assert!(!token.is_empty(), "{link}");
        }
        if !on_api_host(&link) {
            prop_assert_eq!(next_link(&link, LIST, filter, top, current_skip), None);
            prop_assert_eq!(export_link(&link, EXPORT), None);
        }
    }
}

#[test]
fn a_link_that_keeps_the_query_is_followed() {
    let link = "https://api.security.microsoft.com/api/machines?$filter=lastSeen+ge+2026-11-20T14%3A00%3A00Z&$top=10000&$skip=10000";
    assert_eq!(
        next_link(link, LIST, Some(FILTER), Some(10_000), 0),
        Some(10_000)
    );
    assert_eq!(
        next_link(link, LIST, Some(FILTER), Some(10_000), 10_000),
        None,
        "$skip must move forward"
    );
    assert_eq!(
        export_link(
            "https://api.security.microsoft.com/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=2&$skiptoken=abc",
            EXPORT
        )
        .as_deref(),
        Some("abc")
    );
}

// ---- Defender's answers ----------------------------------------------------------------------

/// A decoder either reads the body or says why in a typed error; well-formed JSON of the page's
/// shape is always read.
fn assert_decoded<T>(body: &[u8], result: &Result<T, MdeError>) -> Result<(), TestCaseError> {
    if result.is_ok() {
        prop_assert!(serde_json::from_slice::<Value>(body).is_ok());
    }
    if let Err(error) = result {
        prop_assert!(
            matches!(error, MdeError::Network(_) | MdeError::Decode { .. }),
            "{error:?}"
        );
    }
    Ok(())
}

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        any_json().prop_map(|value| bytes(&json!({ "value": [value] }))),
        any_json().prop_map(|value| bytes(&value)),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn any_body_is_read_or_refused_with_a_typed_error(body in any_body()) {
        assert_decoded(&body, &machines_page(&body))?;
        assert_decoded(&body, &alerts_page(&body))?;
        assert_decoded(&body, &vulnerabilities_page(&body))?;
        assert_decoded(&body, &vulnerability_changes_page(&body))?;
        assert_decoded(&body, &hunting_answer(&body))?;
    }

    #[test]
    fn a_machine_with_one_field_changed_is_kept_or_skipped(item in 0..2usize, pick in 0..40usize, new in any_json()) {
        let page = with_field(seed_json("machines", "page.json"), &format!("/value/{item}"), pick, "extra", new);
        let decoded = machines_page(&bytes(&page));
        prop_assert!(decoded.is_ok(), "{decoded:?}");
        let decoded = decoded.unwrap();
        prop_assert_eq!(decoded.items.len() as u64 + decoded.skipped, 2);
        prop_assert!(decoded.items.iter().all(|device| !device.id.is_empty()));
    }

    #[test]
    fn an_address_with_any_text_costs_at_most_the_address(address in 0..3usize, pick in 0..5usize, new in proptest::option::of(".{0,40}")) {
        // The fields are text or null; a value of another type makes the record unreadable
        // (skipped and counted, the listing then incomplete), which the property above covers.
        let page = with_field(seed_json("machines", "page.json"), &format!("/value/0/ipAddresses/{address}"), pick, "extra", json!(new));
        let decoded = machines_page(&bytes(&page)).unwrap();
        prop_assert_eq!(decoded.items.len(), 2, "{:?}", decoded.items);
        prop_assert!(decoded.items[0].addresses.len() <= 3);
    }

    #[test]
    fn an_alert_with_one_field_changed_is_kept_or_skipped(item in 0..2usize, pick in 0..20usize, new in any_json()) {
        let page = with_field(seed_json("alerts", "page.json"), &format!("/value/{item}"), pick, "extra", new);
        let decoded = alerts_page(&bytes(&page));
        prop_assert!(decoded.is_ok(), "{decoded:?}");
        let decoded = decoded.unwrap();
        prop_assert_eq!(decoded.items.len() as u64 + decoded.skipped, 2);
        prop_assert!(decoded.items.iter().all(|alert| !alert.id.is_empty()));
    }

    #[test]
    fn an_export_row_with_one_field_changed_is_kept_or_skipped(item in 0..2usize, pick in 0..15usize, new in any_json()) {
        let full = with_field(seed_json("vulnerabilities", "full.json"), &format!("/value/{item}"), pick, "extra", new.clone());
        let decoded = vulnerabilities_page(&bytes(&full));
        prop_assert!(decoded.is_ok(), "{decoded:?}");
        let decoded = decoded.unwrap();
        prop_assert!(decoded.items.len() as u64 + decoded.skipped <= 2);
        let changes = with_field(seed_json("vulnerabilities", "changes.json"), &format!("/value/{item}"), pick, "extra", new);
        let decoded = vulnerability_changes_page(&bytes(&changes));
        prop_assert!(decoded.is_ok(), "{decoded:?}");
        let decoded = decoded.unwrap();
        prop_assert_eq!(decoded.items.len() as u64 + decoded.skipped, 2);
    }

    #[test]
    fn a_hunting_row_with_one_cell_changed_is_read_or_left_out(graph in any::<bool>(), item in 0..2usize, pick in 0..8usize, new in any_json()) {
        let (name, rows) = if graph { ("graph.json", "results") } else { ("legacy.json", "Results") };
        let answer = with_field(seed_json("hunting", name), &format!("/{rows}/{item}"), pick, "Extra", new);
        let decoded = hunting_answer(&bytes(&answer));
        prop_assert!(decoded.is_ok(), "{decoded:?}");
        let decoded = decoded.unwrap();
        prop_assert_eq!(decoded.rows, 2);
        prop_assert!(decoded.network.len() <= 2 && decoded.logons.len() <= 2);
    }
}

// ---- Entra ID's token answers ----------------------------------------------------------------

const STATUSES: [u16; 6] = [200, 400, 401, 403, 500, 302];
const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/html"),
];

/// A token answer gives a token only for a 200, and never one that lives past a day.
fn check_token(status: u16, content_type: Option<&str>, body: &[u8]) -> Result<(), TestCaseError> {
    let before = Utc::now();
    match token_answer(status, content_type, body) {
        Ok(token) => {
            prop_assert_eq!(status, 200);
            prop_assert!(token.expires_at >= before);
            prop_assert!(token.expires_at <= Utc::now() + TimeDelta::days(1));
        }
        Err(failure) => {
            let text = format!("{failure:?}");
            prop_assert!(!text.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn any_token_answer_is_a_bounded_token_or_a_failure(status in 0..6usize, content_type in 0..4usize, body in any_body()) {
        check_token(STATUSES[status], CONTENT_TYPES[content_type], &body)?;
    }

    #[test]
    fn a_token_answer_with_one_field_changed_is_bounded(status in 0..6usize, pick in 0..5usize, new in any_json(), error in any::<bool>()) {
        let base = if error {
            json!({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]})
        } else {
            let body = seed("token", "ok");
            serde_json::from_slice(&body[2..]).unwrap()
        };
        let body = bytes(&with_field(base, "", pick, "extra", new));
        check_token(STATUSES[status], Some("application/json"), &body)?;
    }
}

#[test]
fn a_token_answer_reads_its_lifetime_roles_and_failures() {
    let body = seed("token", "ok");
    let token = token_answer(200, Some("application/json"), &body[2..]).unwrap();
    assert_eq!(token.roles, ["Machine.Read.All", "Alert.Read.All"]);
    assert_eq!(token.tenant, "t1");
    let lifetime = token.expires_at - Utc::now();
    assert!(lifetime > TimeDelta::minutes(59) && lifetime <= TimeDelta::minutes(60));
    let long = br#"{"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"x"}"#;
    let token = token_answer(200, Some("application/json"), long).unwrap();
    assert!(token.expires_at <= Utc::now() + TimeDelta::days(1));
    let wrong = seed("token", "wrong_secret");
    assert_eq!(
        format!(
            "{:?}",
            token_answer(401, Some("application/json"), &wrong[2..]).unwrap_err()
        ),
        "WrongSecret"
    );
}

// ---- The settings file -----------------------------------------------------------------------

/// A settings file of these bytes, loaded as the CLI loads it, and every connection checked as
/// every load checks it.
fn check_settings(dir: &std::path::Path, text: &[u8]) -> Result<(), TestCaseError> {
    let path = dir.join("settings.json");
    std::fs::write(&path, text).unwrap();
    match FileSettings::new(&path).load() {
        Ok(settings) => {
            for connection in &settings.connections {
                let _ = connection.problems();
                let _ = connection.endpoints();
            }
        }
        Err(error) => prop_assert!(error.to_string().contains("settings.json")),
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn any_settings_file_loads_or_says_why(text in any_body()) {
        let dir = tempfile::tempdir().unwrap();
        check_settings(dir.path(), &text)?;
    }

    #[test]
    fn a_connection_with_one_field_changed_loads_or_says_why(item in 0..2usize, pick in 0..20usize, new in any_json()) {
        let dir = tempfile::tempdir().unwrap();
        let settings = with_field(seed_json("settings", "two.json"), &format!("/connections/{item}"), pick, "extra", new);
        check_settings(dir.path(), &bytes(&settings))?;
    }
}
