//! Engine tests over a small in-memory tenant: five devices (`d1`..`d5`) with a few reports
//! each, their adapters, logons, vulnerabilities and alerts. `now` is 2026-11-20T14:00:00Z.

use std::cell::RefCell;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::{ColumnType, KqlError, QueryOutput, ScanHint, TableSchema, Tables, Value, run};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 14, 0, 0).unwrap()
}

fn hours_ago(h: i64) -> Value {
    Value::DateTime(now() - TimeDelta::hours(h))
}

fn s(x: &str) -> Value {
    Value::String(x.to_owned())
}

fn j(x: &str) -> Value {
    Value::Dynamic(serde_json::from_str(x).unwrap())
}

fn long(n: i64) -> Value {
    Value::Long(n)
}

struct MemTables {
    tables: Vec<(TableSchema, Vec<Vec<Value>>)>,
    scans: RefCell<Vec<(String, ScanHint)>>,
}

impl Tables for MemTables {
    fn schema(&self, table: &str) -> Option<TableSchema> {
        self.tables
            .iter()
            .find(|(t, _)| t.name == table)
            .map(|(t, _)| t.clone())
    }

    fn scan<'a>(
        &'a self,
        table: &str,
        hint: &ScanHint,
    ) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        self.scans
            .borrow_mut()
            .push((table.to_owned(), hint.clone()));
        match self.tables.iter().find(|(t, _)| t.name == table) {
            Some((_, rows)) => Box::new(rows.iter().cloned()),
            None => Box::new(std::iter::empty()),
        }
    }
}

fn schema(name: &str, cols: &[(&str, ColumnType)]) -> TableSchema {
    TableSchema {
        name: name.to_owned(),
        columns: cols.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
    }
}

const USERS_ALICE: &str = r#"[{"UserName":"alice","DomainName":"CONTOSO","Sid":"S-1-5-21-1001"}]"#;
const USERS_BOB_CAROL: &str = r#"[{"UserName":"bob","DomainName":"CONTOSO","Sid":"S-1-5-21-1002"},{"UserName":"carol","DomainName":"CONTOSO","Sid":"S-1-5-21-1003"}]"#;
const USERS_DAVE: &str = r#"[{"UserName":"dave","DomainName":"mac-007","Sid":""}]"#;

fn device_info() -> (TableSchema, Vec<Vec<Value>>) {
    use ColumnType::*;
    let schema = schema(
        "DeviceInfo",
        &[
            ("Timestamp", DateTime),
            ("DeviceId", String),
            ("DeviceName", String),
            ("OSPlatform", String),
            ("OSBuild", Int64),
            ("IsAzureADJoined", Boolean),
            ("PublicIP", String),
            ("LoggedOnUsers", String),
            ("MachineGroup", String),
            ("ExposureLevel", String),
            ("ReportId", Int64),
        ],
    );
    #[allow(clippy::type_complexity)]
    let devices: [(
        &str,
        &str,
        [&str; 3],
        Option<[i64; 3]>,
        bool,
        &str,
        &str,
        &str,
        &str,
        [i64; 3],
    ); 5] = [
        (
            "d1",
            "ws-001.contoso.local",
            ["Windows10"; 3],
            Some([19045, 19045, 19044]),
            true,
            "203.0.113.10",
            USERS_ALICE,
            "Workstations",
            "Medium",
            [1, 25, 73],
        ),
        (
            "d2",
            "ws-002.contoso.local",
            ["Windows11"; 3],
            Some([22631; 3]),
            true,
            "203.0.113.10",
            USERS_BOB_CAROL,
            "Workstations",
            "Low",
            [2, 26, 74],
        ),
        (
            "d3",
            "srv-db-01.contoso.local",
            ["WindowsServer2022"; 3],
            Some([20348; 3]),
            false,
            "198.51.100.7",
            "[]",
            "Servers",
            "High",
            [3, 27, 75],
        ),
        (
            "d4",
            "mac-007",
            ["macOS"; 3],
            None,
            false,
            "192.0.2.44",
            USERS_DAVE,
            "Workstations",
            "None",
            [240, 264, 288],
        ),
        (
            "d5",
            "lin-web-01",
            ["Linux", "Linux", ""],
            None,
            false,
            "198.51.100.8",
            "[]",
            "Servers",
            "Medium",
            [5, 29, 77],
        ),
    ];
    let mut rows = Vec::new();
    for (k, (id, name, os, build, aad, ip, users, group, exposure, hours)) in
        devices.iter().enumerate()
    {
        for r in 0..3 {
            rows.push(vec![
                hours_ago(hours[r]),
                s(id),
                s(name),
                s(os[r]),
                build.map_or(Value::Null, |b| long(b[r])),
                Value::Bool(*aad),
                s(ip),
                s(users),
                s(group),
                s(exposure),
                long((k as i64 + 1) * 100 + r as i64 + 1),
            ]);
        }
    }
    (schema, rows)
}

fn ips(list: &[(&str, i64, &str)]) -> Value {
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|(ip, p, t)| serde_json::json!({"IPAddress": ip, "SubnetPrefix": p, "AddressType": t}))
        .collect();
    // JSON text, as the service stores the column.
    Value::String(serde_json::Value::Array(items).to_string())
}

fn device_network_info() -> (TableSchema, Vec<Vec<Value>>) {
    use ColumnType::*;
    let schema = schema(
        "DeviceNetworkInfo",
        &[
            ("Timestamp", DateTime),
            ("DeviceId", String),
            ("DeviceName", String),
            ("NetworkAdapterName", String),
            ("MacAddress", String),
            ("NetworkAdapterType", String),
            ("NetworkAdapterStatus", String),
            ("IPAddresses", String),
            ("ConnectedNetworks", String),
            ("ReportId", Int64),
        ],
    );
    let domain = r#"[{"Name":"contoso.local","Category":"Domain","IsConnectedToInternet":true}]"#;
    let home = r#"[{"Name":"HomeWiFi","Category":"Private","IsConnectedToInternet":true}]"#;
    let row = |h: i64,
               id: &str,
               name: &str,
               nic: &str,
               mac: &str,
               ty: &str,
               st: &str,
               ip: Value,
               cn: &str,
               rep: i64| {
        vec![
            hours_ago(h),
            s(id),
            s(name),
            s(nic),
            s(mac),
            s(ty),
            s(st),
            ip,
            s(cn),
            long(rep),
        ]
    };
    let ws1 = "ws-001.contoso.local";
    let ws2 = "ws-002.contoso.local";
    let db = "srv-db-01.contoso.local";
    let rows = vec![
        row(
            1,
            "d1",
            ws1,
            "Ethernet",
            "00-15-5D-01-00-01",
            "Ethernet",
            "Up",
            ips(&[("10.1.0.11", 24, "Private"), ("fe80::1", 64, "LinkLocal")]),
            domain,
            1101,
        ),
        row(
            1,
            "d1",
            ws1,
            "Wi-Fi",
            "00-15-5D-01-00-02",
            "Wireless80211",
            "Down",
            ips(&[]),
            "[]",
            1101,
        ),
        row(
            25,
            "d1",
            ws1,
            "Ethernet",
            "00-15-5D-01-00-01",
            "Ethernet",
            "Up",
            ips(&[("10.1.0.11", 24, "Private")]),
            domain,
            1102,
        ),
        row(
            25,
            "d1",
            ws1,
            "Wi-Fi",
            "00-15-5D-01-00-02",
            "Wireless80211",
            "Up",
            ips(&[("192.168.1.23", 24, "Private")]),
            home,
            1102,
        ),
        row(
            2,
            "d2",
            ws2,
            "Ethernet",
            "00-15-5D-02-00-01",
            "Ethernet",
            "Up",
            ips(&[("10.1.0.12", 24, "Private")]),
            domain,
            1201,
        ),
        row(
            26,
            "d2",
            ws2,
            "Ethernet",
            "00-15-5D-02-00-01",
            "Ethernet",
            "Up",
            ips(&[("10.1.0.99", 24, "Private")]),
            domain,
            1202,
        ),
        row(
            3,
            "d3",
            db,
            "NIC1",
            "00-15-5D-03-00-01",
            "Ethernet",
            "Up",
            ips(&[("10.2.0.5", 16, "Private"), ("10.2.0.6", 16, "Private")]),
            domain,
            1301,
        ),
        row(
            3,
            "d3",
            db,
            "NIC2",
            "00-15-5D-03-00-02",
            "Ethernet",
            "Up",
            ips(&[("203.0.113.5", 28, "Public")]),
            "[]",
            1301,
        ),
        row(
            27,
            "d3",
            db,
            "NIC1",
            "00-15-5D-03-00-01",
            "Ethernet",
            "Up",
            ips(&[("10.2.0.5", 16, "Private"), ("10.2.0.6", 16, "Private")]),
            domain,
            1302,
        ),
        row(
            27,
            "d3",
            db,
            "NIC2",
            "00-15-5D-03-00-02",
            "Ethernet",
            "Up",
            ips(&[("203.0.113.5", 28, "Public")]),
            "[]",
            1302,
        ),
        row(
            240,
            "d4",
            "mac-007",
            "en0",
            "A4-83-E7-00-00-04",
            "Wireless80211",
            "Up",
            ips(&[("192.168.1.50", 24, "Private")]),
            home,
            1401,
        ),
        row(
            264,
            "d4",
            "mac-007",
            "en0",
            "A4-83-E7-00-00-04",
            "Wireless80211",
            "Up",
            ips(&[("192.168.1.50", 24, "Private")]),
            home,
            1402,
        ),
        row(
            5,
            "d5",
            "lin-web-01",
            "eth0",
            "00-15-5D-05-00-01",
            "Ethernet",
            "Up",
            ips(&[("172.16.5.10", 20, "Private")]),
            "[]",
            1501,
        ),
        row(
            29,
            "d5",
            "lin-web-01",
            "eth0",
            "00-15-5D-05-00-01",
            "Ethernet",
            "Up",
            ips(&[("172.16.5.10", 20, "Private")]),
            "[]",
            1502,
        ),
    ];
    (schema, rows)
}

const ACCOUNTS: [&str; 4] = ["alice", "bob", "svc_backup", "Administrator"];
const LOGON_TYPES: [&str; 4] = ["Interactive", "Network", "Service", "RemoteInteractive"];
const LOGON_DEVICES: [(&str, &str); 3] = [
    ("d1", "ws-001.contoso.local"),
    ("d2", "ws-002.contoso.local"),
    ("d3", "srv-db-01.contoso.local"),
];

/// 24 logons, one every 3 hours: logon `i` is on device `i % 3` by account `i % 4`, and every
/// fifth logon failed.
fn device_logon_events() -> (TableSchema, Vec<Vec<Value>>) {
    use ColumnType::*;
    let schema = schema(
        "DeviceLogonEvents",
        &[
            ("Timestamp", DateTime),
            ("DeviceId", String),
            ("DeviceName", String),
            ("ActionType", String),
            ("LogonType", String),
            ("AccountDomain", String),
            ("AccountName", String),
            ("IsLocalAdmin", Boolean),
            ("LogonId", Int64),
            ("RemoteIP", String),
            ("RemotePort", Int32),
        ],
    );
    let rows = (0..24i64)
        .map(|i| {
            let k = i as usize;
            let (dev, name) = LOGON_DEVICES[k % 3];
            let account = ACCOUNTS[k % 4];
            let remote = matches!(k % 4, 1 | 3);
            vec![
                hours_ago(i * 3 + 1),
                s(dev),
                s(name),
                s(if i % 5 == 0 {
                    "LogonFailed"
                } else {
                    "LogonSuccess"
                }),
                s(LOGON_TYPES[k % 4]),
                s(if account == "Administrator" {
                    "ws-local"
                } else {
                    "CONTOSO"
                }),
                s(account),
                Value::Bool(account == "Administrator"),
                long(1000 + i),
                s(&if remote {
                    format!("10.9.0.{i}")
                } else {
                    std::string::String::new()
                }),
                if remote {
                    Value::Int(i as i32 * 100)
                } else {
                    Value::Null
                },
            ]
        })
        .collect();
    (schema, rows)
}

fn vulnerabilities() -> (TableSchema, Vec<Vec<Value>>) {
    use ColumnType::*;
    let schema = schema(
        "DeviceTvmSoftwareVulnerabilities",
        &[
            ("DeviceId", String),
            ("DeviceName", String),
            ("OSPlatform", String),
            ("SoftwareVendor", String),
            ("SoftwareName", String),
            ("SoftwareVersion", String),
            ("CveId", String),
            ("VulnerabilitySeverityLevel", String),
            ("CveTags", Dynamic),
        ],
    );
    let data: [[&str; 9]; 10] = [
        [
            "d1",
            "ws-001.contoso.local",
            "Windows10",
            "microsoft",
            "windows_10",
            "10.0.19045.1",
            "CVE-2026-0001",
            "Critical",
            r#"["ZeroDay"]"#,
        ],
        [
            "d1",
            "ws-001.contoso.local",
            "Windows10",
            "google",
            "chrome",
            "120.0.1",
            "CVE-2026-1111",
            "High",
            "[]",
        ],
        [
            "d1",
            "ws-001.contoso.local",
            "Windows10",
            "google",
            "chrome",
            "120.0.1",
            "CVE-2026-1112",
            "Medium",
            "[]",
        ],
        [
            "d2",
            "ws-002.contoso.local",
            "Windows11",
            "google",
            "chrome",
            "121.0.0",
            "CVE-2026-1112",
            "Medium",
            "[]",
        ],
        [
            "d2",
            "ws-002.contoso.local",
            "Windows11",
            "mozilla",
            "firefox",
            "115.0",
            "CVE-2026-2001",
            "Low",
            r#"["NoSecurityUpdate"]"#,
        ],
        [
            "d3",
            "srv-db-01.contoso.local",
            "WindowsServer2022",
            "microsoft",
            "sql_server",
            "15.0",
            "CVE-2026-3001",
            "Critical",
            r#"["ExploitAvailable","ZeroDay"]"#,
        ],
        [
            "d3",
            "srv-db-01.contoso.local",
            "WindowsServer2022",
            "microsoft",
            "windows_server_2022",
            "10.0.20348",
            "CVE-2026-0001",
            "Critical",
            r#"["ZeroDay"]"#,
        ],
        [
            "d5",
            "lin-web-01",
            "Linux",
            "openssl",
            "openssl",
            "3.0.2",
            "CVE-2026-4001",
            "High",
            "[]",
        ],
        [
            "d5",
            "lin-web-01",
            "Linux",
            "nginx",
            "nginx",
            "1.18",
            "CVE-2026-4002",
            "Medium",
            "[]",
        ],
        [
            "d4",
            "mac-007",
            "macOS",
            "apple",
            "macos",
            "14.1",
            "CVE-2026-5001",
            "Low",
            "[]",
        ],
    ];
    let rows = data
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, x)| if i == 8 { j(x) } else { s(x) })
                .collect()
        })
        .collect();
    (schema, rows)
}

fn alerts() -> [(TableSchema, Vec<Vec<Value>>); 2] {
    use ColumnType::*;
    let info = schema(
        "AlertInfo",
        &[
            ("Timestamp", DateTime),
            ("AlertId", String),
            ("Title", String),
            ("Category", String),
            ("Severity", String),
            ("ServiceSource", String),
            ("DetectionSource", String),
            ("AttackTechniques", String),
        ],
    );
    let mde = "Microsoft Defender for Endpoint";
    let info_rows = [
        (
            2,
            "da001",
            "Suspicious PowerShell command line",
            "Execution",
            "Medium",
            "EDR",
            r#"["PowerShell (T1059.001)"]"#,
        ),
        (
            6,
            "da002",
            "Mimikatz credential theft tool",
            "CredentialAccess",
            "High",
            "Antivirus",
            r#"["OS Credential Dumping (T1003)"]"#,
        ),
        (
            30,
            "da003",
            "Ransomware behavior detected",
            "Ransomware",
            "High",
            "EDR",
            "[]",
        ),
        (
            50,
            "da004",
            "Suspicious connection to known C2",
            "CommandAndControl",
            "Medium",
            "Custom TI",
            "[]",
        ),
        (
            100,
            "da005",
            "Unwanted software",
            "Malware",
            "Low",
            "Antivirus",
            "[]",
        ),
        (
            200,
            "da006",
            "Test alert",
            "Malware",
            "Informational",
            "EDR",
            "[]",
        ),
    ]
    .iter()
    .map(|(h, id, title, cat, sev, det, tech)| {
        vec![
            hours_ago(*h),
            s(id),
            s(title),
            s(cat),
            s(sev),
            s(mde),
            s(det),
            s(tech),
        ]
    })
    .collect();
    let evidence = schema(
        "AlertEvidence",
        &[
            ("Timestamp", DateTime),
            ("AlertId", String),
            ("EntityType", String),
            ("EvidenceRole", String),
            ("DeviceId", String),
            ("DeviceName", String),
            ("RemoteIP", String),
            ("FileName", String),
            ("AccountName", String),
        ],
    );
    let ev_rows = [
        (
            2,
            "da001",
            "Machine",
            "Impacted",
            "d1",
            "ws-001.contoso.local",
            "",
            "",
            "",
        ),
        (
            2,
            "da001",
            "Process",
            "Related",
            "d1",
            "ws-001.contoso.local",
            "",
            "powershell.exe",
            "",
        ),
        (2, "da001", "User", "Impacted", "", "", "", "", "alice"),
        (
            6,
            "da002",
            "Machine",
            "Impacted",
            "d2",
            "ws-002.contoso.local",
            "",
            "",
            "",
        ),
        (
            6,
            "da002",
            "File",
            "Related",
            "d2",
            "ws-002.contoso.local",
            "",
            "mimikatz.exe",
            "",
        ),
        (
            30,
            "da003",
            "Machine",
            "Impacted",
            "d3",
            "srv-db-01.contoso.local",
            "",
            "",
            "",
        ),
        (
            30,
            "da003",
            "File",
            "Related",
            "d3",
            "srv-db-01.contoso.local",
            "",
            "evil.dll",
            "",
        ),
        (
            50,
            "da004",
            "Machine",
            "Impacted",
            "d1",
            "ws-001.contoso.local",
            "",
            "",
            "",
        ),
        (50, "da004", "Ip", "Related", "", "", "192.0.2.66", "", ""),
        (
            100, "da005", "Machine", "Impacted", "d4", "mac-007", "", "", "",
        ),
        (
            1,
            "da007",
            "Machine",
            "Impacted",
            "d5",
            "lin-web-01",
            "",
            "",
            "",
        ),
    ]
    .iter()
    .map(|(h, id, et, role, dev, name, ip, file, acct)| {
        vec![
            hours_ago(*h),
            s(id),
            s(et),
            s(role),
            s(dev),
            s(name),
            s(ip),
            s(file),
            s(acct),
        ]
    })
    .collect();
    [(info, info_rows), (evidence, ev_rows)]
}

fn tenant() -> MemTables {
    let [info, evidence] = alerts();
    MemTables {
        tables: vec![
            device_info(),
            device_network_info(),
            device_logon_events(),
            vulnerabilities(),
            info,
            evidence,
        ],
        scans: RefCell::new(Vec::new()),
    }
}

fn run_on(t: &MemTables, query: &str) -> QueryOutput {
    match run(query, t, now()) {
        Ok(out) => out,
        Err(e) => panic!("query failed: {query}\n  {e}"),
    }
}

fn q(query: &str) -> QueryOutput {
    run_on(&tenant(), query)
}

fn err(query: &str) -> String {
    match run(query, &tenant(), now()) {
        Ok(out) => panic!("expected an error for {query}, got {} rows", out.rows.len()),
        Err(KqlError { message }) => message,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(x) => x.clone(),
        Value::DateTime(d) => d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Value::Long(n) => n.to_string(),
        Value::Int(n) => format!("{n}i"),
        Value::Real(f) => format!("{f}r"),
        Value::Bool(b) => b.to_string(),
        Value::Dynamic(j) => j.to_string(),
    }
}

/// Rows as `a | b | c` lines.
fn table(out: &QueryOutput) -> Vec<String> {
    out.rows
        .iter()
        .map(|r| r.iter().map(show).collect::<Vec<_>>().join(" | "))
        .collect()
}

fn names(out: &QueryOutput) -> Vec<&str> {
    out.schema.iter().map(|(n, _)| n.as_str()).collect()
}

/// A single-row `print` query's cells.
fn print(exprs: &str) -> Vec<String> {
    let out = q(&format!("print {exprs}"));
    assert_eq!(out.rows.len(), 1);
    out.rows[0].iter().map(show).collect()
}

fn col(out: &QueryOutput, name: &str) -> Vec<String> {
    let i = out.schema.iter().position(|(n, _)| n == name).unwrap();
    out.rows.iter().map(|r| show(&r[i])).collect()
}

// ---- the documented real-world queries -------------------------------------------------------

#[test]
fn network_info_reference_query() {
    let t = tenant();
    let out = run_on(
        &t,
        "DeviceNetworkInfo | where Timestamp > ago(1d) | summarize arg_max(Timestamp,*) by DeviceId, MacAddress \
         | mv-expand ip=todynamic(IPAddresses) \
         | project DeviceId, DeviceName, MacAddress, IP=tostring(ip.IPAddress), Prefix=toint(ip.SubnetPrefix), AddrType=tostring(ip.AddressType)",
    );
    use ColumnType::*;
    assert_eq!(
        out.schema,
        vec![
            ("DeviceId".to_owned(), String),
            ("DeviceName".to_owned(), String),
            ("MacAddress".to_owned(), String),
            ("IP".to_owned(), String),
            ("Prefix".to_owned(), Int32),
            ("AddrType".to_owned(), String),
        ]
    );
    assert_eq!(
        table(&out),
        vec![
            "d1 | ws-001.contoso.local | 00-15-5D-01-00-01 | 10.1.0.11 | 24i | Private",
            "d1 | ws-001.contoso.local | 00-15-5D-01-00-01 | fe80::1 | 64i | LinkLocal",
            "d2 | ws-002.contoso.local | 00-15-5D-02-00-01 | 10.1.0.12 | 24i | Private",
            "d3 | srv-db-01.contoso.local | 00-15-5D-03-00-01 | 10.2.0.5 | 16i | Private",
            "d3 | srv-db-01.contoso.local | 00-15-5D-03-00-01 | 10.2.0.6 | 16i | Private",
            "d3 | srv-db-01.contoso.local | 00-15-5D-03-00-02 | 203.0.113.5 | 28i | Public",
            "d5 | lin-web-01 | 00-15-5D-05-00-01 | 172.16.5.10 | 20i | Private",
        ]
    );
    let scans = t.scans.borrow();
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].0, "DeviceNetworkInfo");
    assert_eq!(scans[0].1.min_time, Some(now() - TimeDelta::days(1)));
    assert_eq!(scans[0].1.max_time, None);
}

#[test]
fn device_info_latest_state_idiom() {
    let out = q(
        "DeviceInfo | where isnotempty(OSPlatform) | summarize arg_max(Timestamp, *) by DeviceId",
    );
    assert_eq!(
        names(&out),
        vec![
            "DeviceId",
            "Timestamp",
            "DeviceName",
            "OSPlatform",
            "OSBuild",
            "IsAzureADJoined",
            "PublicIP",
            "LoggedOnUsers",
            "MachineGroup",
            "ExposureLevel",
            "ReportId"
        ]
    );
    assert_eq!(out.schema[1].1, ColumnType::DateTime);
    assert_eq!(col(&out, "DeviceId"), vec!["d1", "d2", "d3", "d4", "d5"]);
    assert_eq!(
        col(&out, "ReportId"),
        vec!["101", "201", "301", "401", "501"]
    );
    assert_eq!(
        col(&out, "OSBuild"),
        vec!["19045", "22631", "20348", "null", "null"]
    );
    assert_eq!(col(&out, "Timestamp")[0], "2026-11-20T13:00:00Z");
}

#[test]
fn logged_on_users_expand_from_string_column() {
    let out = q("DeviceInfo | where Timestamp > ago(1d) \
         | mv-expand u = parse_json(LoggedOnUsers) \
         | project DeviceId, User = tostring(u.UserName), Domain = tostring(u['DomainName'])");
    assert_eq!(
        table(&out),
        vec![
            "d1 | alice | CONTOSO",
            "d2 | bob | CONTOSO",
            "d2 | carol | CONTOSO"
        ]
    );
}

#[test]
fn string_columns_holding_json_need_todynamic() {
    // The service types `LoggedOnUsers` and `IPAddresses` as string (JSON text): Kusto refuses
    // member access and mv-expand on them until they are parsed.
    assert_eq!(
        err("DeviceInfo | mv-expand LoggedOnUsers"),
        "'mv-expand' operator: the expanded expression must be of type dynamic, not string (use todynamic())"
    );
    assert_eq!(
        err("DeviceNetworkInfo | project IPAddresses[0].IPAddress"),
        "'project' operator: member access needs a value of type dynamic, not string (use todynamic())"
    );
    assert_eq!(
        err("DeviceNetworkInfo | extend a = IPAddresses.IPAddress"),
        "'extend' operator: member access needs a value of type dynamic, not string (use todynamic())"
    );
    let out = q(
        "DeviceNetworkInfo | where ReportId == 1101 and NetworkAdapterName == \"Ethernet\" \
         | extend a = todynamic(IPAddresses) | project A = tostring(a[0].IPAddress)",
    );
    assert_eq!(table(&out), vec!["10.1.0.11"]);
}

// ---- where and the scan hint ------------------------------------------------------------------

#[test]
fn where_ago_filters_and_sets_hint() {
    let t = tenant();
    let out = run_on(
        &t,
        "DeviceInfo | where Timestamp > ago(1d) | project DeviceId, ReportId",
    );
    assert_eq!(
        table(&out),
        vec!["d1 | 101", "d2 | 201", "d3 | 301", "d5 | 501"]
    );
    assert_eq!(
        t.scans.borrow()[0].1.min_time,
        Some(now() - TimeDelta::days(1))
    );
}

#[test]
fn hint_from_between_and_several_leading_wheres() {
    let t = tenant();
    let out = run_on(
        &t,
        "DeviceInfo | where Timestamp between (datetime(2026-11-18) .. datetime(2026-11-19T12:00:00Z)) | project ReportId",
    );
    // Reports 25 hours old (13:00 on the 19th) fall after the upper bound; 26 hours is on it.
    assert_eq!(table(&out), vec!["202", "302", "502"]);
    let hint = t.scans.borrow()[0].1.clone();
    assert_eq!(
        hint.min_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 18, 0, 0, 0).unwrap())
    );
    assert_eq!(
        hint.max_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 19, 12, 0, 0).unwrap())
    );

    let t = tenant();
    let out = run_on(
        &t,
        "DeviceInfo\n| where DeviceId != 'd9' and Timestamp >= datetime(2026-11-17) and Timestamp >= ago(4d)\n\
         | where datetime(\"2026-11-20T12:00:00Z\") > Timestamp\n| where DeviceName != ''\n| count",
    );
    assert_eq!(table(&out), vec!["10"]);
    let hint = t.scans.borrow()[0].1.clone();
    assert_eq!(
        hint.min_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 17, 0, 0, 0).unwrap())
    );
    assert_eq!(
        hint.max_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap())
    );
}

#[test]
fn hint_from_let_and_between_offset() {
    let t = tenant();
    let out = run_on(
        &t,
        "let since = ago(2d); DeviceInfo | where since < Timestamp | count",
    );
    assert_eq!(table(&out), vec!["8"]);
    assert_eq!(
        t.scans.borrow()[0].1.min_time,
        Some(now() - TimeDelta::days(2))
    );

    let t = tenant();
    run_on(
        &t,
        "DeviceInfo | where (ReportId > 0 and (Timestamp < ago(1h))) and (Timestamp >= ago(3d))",
    );
    let hint = t.scans.borrow()[0].1.clone();
    assert_eq!(hint.min_time, Some(now() - TimeDelta::days(3)));
    assert_eq!(hint.max_time, Some(now() - TimeDelta::hours(1)));

    let t = tenant();
    let out = run_on(
        &t,
        "DeviceInfo | where Timestamp between (ago(2d) .. 1d) | project ReportId",
    );
    assert_eq!(table(&out), vec!["102", "202", "302", "502"]);
    let hint = t.scans.borrow()[0].1.clone();
    assert_eq!(hint.min_time, Some(now() - TimeDelta::days(2)));
    assert_eq!(hint.max_time, Some(now() - TimeDelta::days(1)));
}

#[test]
fn no_hint_from_or_or_later_wheres() {
    let t = tenant();
    run_on(
        &t,
        "DeviceInfo | where Timestamp > ago(1d) or DeviceId == 'd4' | count",
    );
    run_on(
        &t,
        "DeviceInfo | where Timestamp > ReportId * 1h + datetime(2026-01-01) | count",
    );
    run_on(
        &t,
        "DeviceInfo | project Timestamp, DeviceId | where Timestamp > ago(1d)",
    );
    run_on(
        &t,
        "DeviceInfo | where Timestamp != datetime(2026-01-01) | where not(Timestamp < ago(1d))",
    );
    for (_, hint) in t.scans.borrow().iter() {
        assert_eq!((hint.min_time, hint.max_time), (None, None));
    }
}

#[test]
fn where_comparisons_and_logic() {
    let out = q(
        "DeviceLogonEvents | where LogonId >= 1020 or (LogonId < 1002 and not(IsLocalAdmin)) | project LogonId",
    );
    assert_eq!(
        table(&out),
        vec!["1000", "1001", "1020", "1021", "1022", "1023"]
    );
    let out = q(
        "DeviceLogonEvents | where LogonId > 1010 and LogonId <= 1013 and LogonId != 1012 | project LogonId",
    );
    assert_eq!(table(&out), vec!["1011", "1013"]);
    let out = q("DeviceLogonEvents | where LogonId == 1005 | project ActionType, LogonId");
    assert_eq!(table(&out), vec!["LogonFailed | 1005"]);
    let out = q("DeviceLogonEvents | where LogonId between (1003 .. 1005) | project LogonId");
    assert_eq!(table(&out), vec!["1003", "1004", "1005"]);
    let out = q("DeviceLogonEvents | where LogonId !between (1001 .. 1022) | project LogonId");
    assert_eq!(table(&out), vec!["1000", "1023"]);
}

#[test]
fn where_string_equality_and_sets() {
    let count = |w: &str| table(&q(&format!("DeviceLogonEvents | where {w} | count")))[0].clone();
    assert_eq!(count("AccountName == 'administrator'"), "0");
    assert_eq!(count("AccountName =~ 'ADMINISTRATOR'"), "6");
    assert_eq!(count("AccountName !~ 'ADMINISTRATOR'"), "18");
    assert_eq!(count("AccountName != 'Administrator'"), "18");
    assert_eq!(count("AccountName in ('alice', 'bob')"), "12");
    assert_eq!(count("AccountName in ('ALICE', 'bob')"), "6");
    assert_eq!(count("AccountName in~ ('ALICE', 'BOB')"), "12");
    assert_eq!(count("AccountName !in ('alice', 'bob')"), "12");
    assert_eq!(count("AccountName !in~ ('ALICE')"), "18");
    assert_eq!(
        count("AccountName in (dynamic(['alice', 'svc_backup']))"),
        "12"
    );
    assert_eq!(count("LogonId in (1000, 1001, 1999)"), "2");
    assert_eq!(count("RemotePort in (100, 300)"), "2");
}

#[test]
fn where_string_operators() {
    let names = |w: &str| {
        col(
            &q(&format!(
                "DeviceInfo | where Timestamp > ago(1d) | where {w}"
            )),
            "DeviceId",
        )
        .join(",")
    };
    assert_eq!(names("DeviceName has 'contoso'"), "d1,d2,d3");
    assert_eq!(names("DeviceName has 'CONTOSO'"), "d1,d2,d3");
    assert_eq!(names("DeviceName has 'conto'"), "");
    assert_eq!(names("DeviceName !has 'contoso'"), "d5");
    assert_eq!(names("DeviceName has 'contoso.local'"), "d1,d2,d3");
    assert_eq!(names("DeviceName has 'db-01'"), "d3");
    assert_eq!(names("DeviceName has_cs 'Contoso'"), "");
    assert_eq!(names("DeviceName contains 'NTOS'"), "d1,d2,d3");
    assert_eq!(names("DeviceName contains_cs 'NTOS'"), "");
    assert_eq!(names("DeviceName !contains 'ws-'"), "d3,d5");
    assert_eq!(names("DeviceName startswith 'WS-'"), "d1,d2");
    assert_eq!(names("DeviceName !startswith 'ws-'"), "d3,d5");
    assert_eq!(names("DeviceName startswith_cs 'WS-'"), "");
    assert_eq!(names("DeviceName endswith '.LOCAL'"), "d1,d2,d3");
    assert_eq!(names("DeviceName !endswith '.local'"), "d5");
    assert_eq!(names("DeviceName endswith_cs '01'"), "d5");
    assert_eq!(names("DeviceName hasprefix 'loc'"), "d1,d2,d3");
    assert_eq!(names("DeviceName hassuffix 'we'"), "");
    assert_eq!(names("DeviceName hassuffix 'eb'"), "d5");
    assert_eq!(names("OSPlatform has_any ('linux', 'windows10')"), "d1,d5");
    assert_eq!(names("DeviceName has_all ('ws', '002')"), "d2");
    assert_eq!(names("DeviceName has DeviceId"), "");
    assert_eq!(
        names("strcat(DeviceName, '/', DeviceId) has DeviceId"),
        "d1,d2,d3,d5"
    );
}

#[test]
fn null_and_empty_predicates() {
    let ids = |w: &str| {
        col(
            &q(&format!("DeviceInfo | where {w} | distinct DeviceId")),
            "DeviceId",
        )
        .join(",")
    };
    assert_eq!(ids("isnull(OSBuild)"), "d4,d5");
    assert_eq!(ids("isnotnull(OSBuild)"), "d1,d2,d3");
    assert_eq!(ids("isempty(OSPlatform)"), "d5");
    assert_eq!(ids("isnotempty(OSPlatform) and OSBuild > 20000"), "d2,d3");
    // Comparisons with null are not true, in either direction.
    assert_eq!(ids("OSBuild < 20000 or OSBuild >= 20000"), "d1,d2,d3");
    assert_eq!(ids("not(OSBuild < 20000)"), "d2,d3");
    let out = q("DeviceLogonEvents | where isnotnull(RemotePort) and isnotempty(RemoteIP) | count");
    assert_eq!(table(&out), vec!["12"]);
}

// ---- project, extend and friends ----------------------------------------------------------------

#[test]
fn project_renames_and_expressions() {
    let out = q("DeviceInfo | where ReportId == 101 \
                 | project Id = DeviceId, Name = toupper(DeviceName), Build = OSBuild + 1, DeviceId, strlen(DeviceName), tostring(OSBuild)");
    assert_eq!(
        names(&out),
        vec!["Id", "Name", "Build", "DeviceId", "Column1", "OSBuild"]
    );
    assert_eq!(
        table(&out),
        vec!["d1 | WS-001.CONTOSO.LOCAL | 19046 | d1 | 20 | 19045"]
    );
    let types: Vec<ColumnType> = out.schema.iter().map(|(_, t)| *t).collect();
    use ColumnType::*;
    assert_eq!(types, vec![String, String, Int64, String, Int64, String]);
}

#[test]
fn project_away_keep_rename_reorder() {
    let out =
        q("DeviceNetworkInfo | take 1 | project-away IPAddresses, Connected*, ReportId, Network*");
    assert_eq!(
        names(&out),
        vec!["Timestamp", "DeviceId", "DeviceName", "MacAddress"]
    );
    let out = q("DeviceNetworkInfo | take 1 | project-keep Device*, ReportId");
    assert_eq!(names(&out), vec!["DeviceId", "DeviceName", "ReportId"]);
    let out = q(
        "DeviceNetworkInfo | take 1 | project-rename Mac = MacAddress, Id = DeviceId | project Id, Mac",
    );
    assert_eq!(table(&out), vec!["d1 | 00-15-5D-01-00-01"]);
    let out = q(
        "DeviceNetworkInfo | take 1 | project DeviceId, MacAddress, ReportId | project-reorder ReportId, MacAddress",
    );
    assert_eq!(names(&out), vec!["ReportId", "MacAddress", "DeviceId"]);
    assert!(
        err("DeviceInfo | project-away Nope")
            .contains("'project-away' operator: Failed to resolve scalar expression named 'Nope'")
    );
}

#[test]
fn extend_appends_replaces_and_chains() {
    let out = q("DeviceInfo | where ReportId == 201 \
                 | extend Short = tostring(split(DeviceName, '.')[0]), Upper = toupper(Short), DeviceName = strlen(DeviceName) \
                 | project DeviceId, DeviceName, Short, Upper");
    assert_eq!(table(&out), vec!["d2 | 20 | ws-002 | WS-002"]);
    assert_eq!(out.schema[1].1, ColumnType::Int64);
    let out = q(
        "DeviceInfo | where ReportId == 101 | extend bin(Timestamp, 1d), Age = now() - Timestamp | project Timestamp, Timestamp1, Age",
    );
    assert_eq!(
        table(&out),
        vec!["2026-11-20T13:00:00Z | 2026-11-20T00:00:00Z | 01:00:00"]
    );
    assert_eq!(out.schema[2].1, ColumnType::String);
}

// ---- summarize ----------------------------------------------------------------------------------

#[test]
fn summarize_counts_and_sets() {
    let out = q(
        "DeviceLogonEvents | summarize count(), Failed = countif(ActionType == 'LogonFailed'), dcount(AccountName), \
                 make_set(AccountName), Logons = make_list(LogonId, 3) by DeviceId",
    );
    assert_eq!(
        names(&out),
        vec![
            "DeviceId",
            "count_",
            "Failed",
            "dcount_AccountName",
            "set_AccountName",
            "Logons"
        ]
    );
    assert_eq!(
        table(&out),
        vec![
            r#"d1 | 8 | 2 | 4 | ["alice","Administrator","svc_backup","bob"] | [1000,1003,1006]"#,
            r#"d2 | 8 | 1 | 4 | ["bob","alice","Administrator","svc_backup"] | [1001,1004,1007]"#,
            r#"d3 | 8 | 2 | 4 | ["svc_backup","bob","alice","Administrator"] | [1002,1005,1008]"#,
        ]
    );
    assert_eq!(out.schema[4].1, ColumnType::Dynamic);
}

#[test]
fn summarize_without_by_and_on_empty_input() {
    let out = q(
        "DeviceLogonEvents | summarize Total = count(), Min = min(LogonId), Max = max(LogonId), Sum = sum(LogonId), \
                 Avg = avg(LogonId), First = min(Timestamp), Ports = sum(RemotePort)",
    );
    assert_eq!(
        table(&out),
        vec!["24 | 1000 | 1023 | 24276 | 1011.5r | 2026-11-17T16:00:00Z | 14400"]
    );
    let out = q(
        "DeviceLogonEvents | where LogonId < 0 | summarize count(), max(LogonId), make_set(AccountName)",
    );
    assert_eq!(table(&out), vec!["0 | null | []"]);
    let out = q("DeviceLogonEvents | where LogonId < 0 | summarize count() by DeviceId");
    assert!(out.rows.is_empty());
}

#[test]
fn summarize_by_bin_and_expressions() {
    let out = q(
        "DeviceLogonEvents | where Timestamp > ago(1d) | summarize n = count() by bin(Timestamp, 6h) | order by Timestamp asc",
    );
    assert_eq!(names(&out), vec!["Timestamp", "n"]);
    assert_eq!(
        table(&out),
        vec![
            "2026-11-19T12:00:00Z | 1",
            "2026-11-19T18:00:00Z | 2",
            "2026-11-20T00:00:00Z | 2",
            "2026-11-20T06:00:00Z | 2",
            "2026-11-20T12:00:00Z | 1",
        ]
    );
    let out = q(
        "DeviceLogonEvents | summarize Pct = round(100.0 * countif(ActionType == 'LogonFailed') / count(), 1), \
                 Admins = dcountif(AccountName, IsLocalAdmin) by Kind = iff(LogonType in ('Network', 'RemoteInteractive'), 'remote', 'local')",
    );
    assert_eq!(table(&out), vec!["local | 25r | 0", "remote | 16.7r | 1"]);
}

#[test]
fn summarize_arg_min_and_named_columns() {
    let out = q(
        "DeviceLogonEvents | summarize arg_min(Timestamp, LogonId, AccountName), Last = arg_max(LogonId, AccountName) by DeviceId",
    );
    assert_eq!(
        names(&out),
        vec![
            "DeviceId",
            "Timestamp",
            "LogonId",
            "AccountName",
            "Last",
            "AccountName1"
        ]
    );
    assert_eq!(
        table(&out),
        vec![
            "d1 | 2026-11-17T22:00:00Z | 1021 | bob | 1021 | bob",
            "d2 | 2026-11-17T19:00:00Z | 1022 | svc_backup | 1022 | svc_backup",
            "d3 | 2026-11-17T16:00:00Z | 1023 | Administrator | 1023 | Administrator",
        ]
    );
    let out = q(
        "DeviceTvmSoftwareVulnerabilities | summarize Tags = make_set(CveTags), any(SoftwareName), sumif(1, VulnerabilitySeverityLevel == 'Critical')",
    );
    assert_eq!(
        table(&out),
        vec![r#"["ZeroDay","NoSecurityUpdate","ExploitAvailable"] | windows_10 | 3"#]
    );
    let out = q("DeviceInfo | summarize by MachineGroup");
    assert_eq!(table(&out), vec!["Workstations", "Servers"]);
}

// ---- sorting and limiting -------------------------------------------------------------------------

#[test]
fn order_by_several_keys_and_nulls() {
    let out = q(
        "DeviceInfo | where Timestamp > ago(2d) | order by MachineGroup asc, OSBuild desc, ReportId | project ReportId, OSBuild",
    );
    assert_eq!(
        table(&out),
        vec![
            "302 | 20348",
            "301 | 20348",
            "502 | null",
            "501 | null",
            "202 | 22631",
            "201 | 22631",
            "102 | 19045",
            "101 | 19045"
        ]
    );
    let out = q("DeviceInfo | where ReportId % 100 == 1 | sort by OSBuild asc | project ReportId");
    assert_eq!(table(&out), vec!["401", "501", "101", "301", "201"]);
    // The second key sorts descending by default: lin-web-01 is longer than mac-007.
    let out = q(
        "DeviceInfo | where ReportId % 100 == 1 | sort by OSBuild asc nulls last, strlen(DeviceName) | project ReportId",
    );
    assert_eq!(table(&out), vec!["101", "301", "201", "501", "401"]);
}

#[test]
fn take_limit_and_top() {
    assert_eq!(q("DeviceLogonEvents | take 3").rows.len(), 3);
    assert_eq!(q("DeviceLogonEvents | limit 0").rows.len(), 0);
    assert_eq!(
        table(&q("DeviceLogonEvents | limit 2 | project LogonId")),
        vec!["1000", "1001"]
    );
    let out = q("DeviceLogonEvents | top 3 by Timestamp asc | project LogonId");
    assert_eq!(table(&out), vec!["1023", "1022", "1021"]);
    // LogonId % 7 is 6 for 1000, 1007, 1014 and 1021; ties keep input order.
    let out = q("DeviceLogonEvents | top 2 by LogonId % 7 | project LogonId");
    assert_eq!(table(&out), vec!["1000", "1007"]);
    let out = q("DeviceLogonEvents | top 2 by LogonId % 7 asc | project LogonId");
    assert_eq!(table(&out), vec!["1001", "1008"]);
    let out = q("DeviceLogonEvents | top 100 by LogonId desc | count");
    assert_eq!(table(&out), vec!["24"]);
}

#[test]
fn distinct_columns_and_star() {
    let out = q("DeviceLogonEvents | distinct DeviceId, LogonType | where DeviceId == 'd1'");
    assert_eq!(
        table(&out),
        vec![
            "d1 | Interactive",
            "d1 | RemoteInteractive",
            "d1 | Service",
            "d1 | Network"
        ]
    );
    let out = q("DeviceInfo | project MachineGroup, ExposureLevel | distinct *");
    assert_eq!(
        table(&out),
        vec![
            "Workstations | Medium",
            "Workstations | Low",
            "Servers | High",
            "Workstations | None",
            "Servers | Medium"
        ]
    );
}

#[test]
fn getschema_lists_columns() {
    let out = q(
        "DeviceNetworkInfo | project DeviceId, ReportId, IPAddresses, Age = now() - Timestamp | getschema",
    );
    assert_eq!(
        names(&out),
        vec!["ColumnName", "ColumnOrdinal", "DataType", "ColumnType"]
    );
    assert_eq!(
        table(&out),
        vec![
            "DeviceId | 0i | System.String | string",
            "ReportId | 1i | System.Int64 | long",
            "IPAddresses | 2i | System.String | string",
            "Age | 3i | System.TimeSpan | timespan",
        ]
    );
}

#[test]
fn count_operator() {
    let out = q("DeviceNetworkInfo | count");
    assert_eq!(out.schema, vec![("Count".to_owned(), ColumnType::Int64)]);
    assert_eq!(table(&out), vec!["14"]);
}

// ---- mv-expand ------------------------------------------------------------------------------------

#[test]
fn mv_expand_column_in_place() {
    let out = q(
        "DeviceNetworkInfo | where ReportId in (1101, 1301) | mv-expand IPAddresses = todynamic(IPAddresses) \
                 | project MacAddress, A = tostring(IPAddresses.IPAddress), IPAddresses.SubnetPrefix",
    );
    assert_eq!(
        names(&out),
        vec!["MacAddress", "A", "IPAddresses_SubnetPrefix"]
    );
    assert_eq!(out.schema[2].1, ColumnType::Dynamic);
    assert_eq!(
        table(&out),
        vec![
            "00-15-5D-01-00-01 | 10.1.0.11 | 24",
            "00-15-5D-01-00-01 | fe80::1 | 64",
            "00-15-5D-03-00-01 | 10.2.0.5 | 16",
            "00-15-5D-03-00-01 | 10.2.0.6 | 16",
            "00-15-5D-03-00-02 | 203.0.113.5 | 28",
        ]
    );
    let out = q(
        "DeviceNetworkInfo | where ReportId == 1301 | mv-expand todynamic(IPAddresses) | project IPAddresses.IPAddress",
    );
    assert_eq!(
        table(&out),
        vec![r#""10.2.0.5""#, r#""10.2.0.6""#, r#""203.0.113.5""#]
    );
}

#[test]
fn mv_expand_index_typeof_bags_and_nulls() {
    let out = q(
        "print arr = dynamic(['a', 'b', 3]), bag = dynamic({'k1': 1, 'k2': 'x'}), n = dynamic(null) \
                 | mv-expand with_itemindex = Ix arr to typeof(string) | project arr, Ix",
    );
    assert_eq!(table(&out), vec!["a | 0", "b | 1", " | 2"]);
    let out = q("print bag = dynamic({'k1': 1, 'k2': 'x'}) | mv-expand bag");
    assert_eq!(table(&out), vec![r#"{"k1":1}"#, r#"{"k2":"x"}"#]);
    let out = q("print bag = dynamic({'k1': 1}) | mv-expand kind=array bag");
    assert_eq!(table(&out), vec![r#"["k1",1]"#]);
    let out = q("print n = dynamic(null), e = dynamic([]) | mv-expand n");
    assert_eq!(table(&out), vec!["null | []"]);
    let out = q("print n = dynamic(null), e = dynamic([]) | mv-expand e");
    assert!(out.rows.is_empty());
    let out = q("print a = dynamic([1, 2, 3]), b = dynamic(['x']) | mv-expand a, b limit 2");
    assert_eq!(table(&out), vec![r#"1 | "x""#, "2 | null"]);
}

// ---- scalar functions -----------------------------------------------------------------------------

#[test]
fn conversions() {
    assert_eq!(
        print(
            "tostring(42), tostring(1.5), tostring(true), tostring(datetime(2026-11-20 14:00)), tostring(dynamic({'a':[1]}))"
        ),
        vec!["42", "1.5", "true", "2026-11-20T14:00:00Z", r#"{"a":[1]}"#]
    );
    assert_eq!(
        print(
            "toint('12'), toint(' 7 '), toint('x'), toint(3.9), toint('99999999999'), tolong('99999999999'), todouble('2.5'), toreal(3)"
        ),
        vec![
            "12i",
            "7i",
            "null",
            "3i",
            "null",
            "99999999999",
            "2.5r",
            "3r"
        ]
    );
    assert_eq!(
        print("tobool('TRUE'), tobool(0), todatetime('2026-01-02T03:04:05Z'), todatetime('nope')"),
        vec!["true", "false", "2026-01-02T03:04:05Z", "null"]
    );
    assert_eq!(
        print(
            "parse_json('{\"a\":{\"b\":[10,20]}}').a.b[1], todynamic('not json'), parse_json('[1,2]')[-1]"
        ),
        vec!["20", r#""not json""#, "2"]
    );
}

#[test]
fn string_functions() {
    assert_eq!(
        print(
            "tolower('AbC'), toupper('ÄbC'), strlen('héllo'), strcat('a', 1, true), substring('abcdef', 2, 3), substring('abc', 1)"
        ),
        vec!["abc", "ÄBC", "5", "a1true", "cde", "bc"]
    );
    assert_eq!(
        print(
            "split('a.b.c', '.'), split('a.b.c', '.', 1), replace_string('a-b-c', '-', '+'), indexof('hello', 'l'), indexof('x', 'y')"
        ),
        vec![r#"["a","b","c"]"#, r#"["b"]"#, "a+b+c", "2", "-1"]
    );
    assert_eq!(
        print(r#"@"c:\temp", h'secret', "tab\there""#),
        vec![r"c:\temp", "secret", "tab\there"]
    );
}

#[test]
fn datetime_and_timespan_arithmetic() {
    assert_eq!(
        print(
            "now(), ago(1d), now(-2h), datetime(2026-11-20) + 36h, datetime(2026-11-20T14:00:00Z) - datetime(2026-11-19T12:30:00Z)"
        ),
        vec![
            "2026-11-20T14:00:00Z",
            "2026-11-19T14:00:00Z",
            "2026-11-20T12:00:00Z",
            "2026-11-21T12:00:00Z",
            "1.01:30:00"
        ]
    );
    assert_eq!(
        print(
            "1d / 1h, 2h * 3, 90m, -1.5s, 1ms, 1d > 23h, timespan(1.02:03:04), totimespan('00:00:10')"
        ),
        vec![
            "24r",
            "06:00:00",
            "01:30:00",
            "-00:00:01.5000000",
            "00:00:00.0010000",
            "true",
            "1.02:03:04",
            "00:00:10"
        ]
    );
    assert_eq!(
        print(
            "bin(datetime(2026-11-20T14:37:00Z), 15m), bin(datetime(2026-11-20T14:37:00Z), 7d), startofday(now()), startofweek(now()), startofmonth(now()), dayofweek(now())"
        ),
        vec![
            "2026-11-20T14:30:00Z",
            "2026-11-16T00:00:00Z",
            "2026-11-20T00:00:00Z",
            "2026-11-15T00:00:00Z",
            "2026-11-01T00:00:00Z",
            "5.00:00:00"
        ]
    );
    assert_eq!(
        print("tostring(datetime(2026-11-20 14:00:00.1234567)), datetime(\"2026-11-20\")"),
        vec!["2026-11-20T14:00:00.1234567Z", "2026-11-20T00:00:00Z"]
    );
}

#[test]
fn numbers_and_logic_functions() {
    assert_eq!(
        print(
            "7 / 2, 7 % 3, 7 / 2.0, -(3), 1 / 0, bin(17, 5), bin(4.5, 2), abs(-3), round(2.345, 2), round(7)"
        ),
        vec![
            "3", "1", "3.5r", "-3", "null", "15", "4r", "3", "2.35r", "7"
        ]
    );
    assert_eq!(
        print(
            "iff(1 > 2, 'a', 'b'), iif(true, 1, 2.5), case(false, 'x', 1 == 1, 'y', 'z'), coalesce('', 'first'), coalesce(int(null), 5), not(false)"
        ),
        vec!["b", "1r", "y", "first", "5", "true"]
    );
    assert_eq!(
        print("min_of(3, 1, 2), max_of(1.5, 4), isnull(long(null)), isempty(''), isnotempty(' ')"),
        vec!["1", "4r", "true", "true", "true"]
    );
    assert_eq!(
        print(
            "array_length(dynamic([1,2,3])), array_length('nope'), set_has_element(dynamic(['a','b']), 'b'), pack_array(1, 'x'), bag_pack('k', 2)"
        ),
        vec!["3", "null", "true", r#"[1,"x"]"#, r#"{"k":2}"#]
    );
}

#[test]
fn ip_functions() {
    assert_eq!(
        print(
            "ipv4_is_in_range('10.1.2.3', '10.0.0.0/8'), ipv4_is_in_range('11.1.2.3', '10.0.0.0/8'), ipv4_is_in_range('10.1.2.3', '10.1.2.3'), ipv4_is_in_range('x', '10.0.0.0/8')"
        ),
        vec!["true", "false", "true", "null"]
    );
    assert_eq!(
        print("ipv4_is_private('172.20.1.1'), ipv4_is_private('8.8.8.8'), parse_ipv4('10.0.0.1')"),
        vec!["true", "false", "167772161"]
    );
    let out = q(
        "DeviceNetworkInfo | where Timestamp > ago(1d) | mv-expand ip = todynamic(IPAddresses) \
                 | where ipv4_is_in_range(tostring(ip.IPAddress), '10.0.0.0/8') | distinct DeviceId",
    );
    assert_eq!(table(&out), vec!["d1", "d2", "d3"]);
}

// ---- let, comments, join ----------------------------------------------------------------------------

#[test]
fn let_statements_scalar_and_tabular() {
    let out = q("let since = ago(1d);\nlet groups = dynamic(['Servers']);\n\
                 let Recent = DeviceInfo | where Timestamp > since;\n\
                 Recent | where MachineGroup in (groups) | project DeviceId;");
    assert_eq!(table(&out), vec!["d3", "d5"]);
    let out = q("let n = 2; let m = n; DeviceLogonEvents | take m");
    assert_eq!(out.rows.len(), 2);
    let out = q("let T = DeviceInfo; T | count");
    assert_eq!(table(&out), vec!["15"]);
}

#[test]
fn comments_and_layout() {
    let out = q(
        "// latest devices\nDeviceInfo // the table\n   | where Timestamp > ago(1d) // recent\n\n   | count // done\n",
    );
    assert_eq!(table(&out), vec!["4"]);
}

#[test]
fn joins() {
    let out = q(
        "AlertInfo | where Severity == 'High' | join kind=inner (AlertEvidence | where EntityType == 'Machine') on AlertId \
                 | project AlertId, Title, DeviceName",
    );
    assert_eq!(
        table(&out),
        vec![
            "da002 | Mimikatz credential theft tool | ws-002.contoso.local",
            "da003 | Ransomware behavior detected | srv-db-01.contoso.local"
        ]
    );
    let out = q(
        "AlertInfo | join AlertEvidence on AlertId | project AlertId, AlertId1, EntityType | take 2",
    );
    assert_eq!(
        table(&out),
        vec!["da001 | da001 | Machine", "da001 | da001 | Process"]
    );
    let out = q("AlertEvidence | join kind=leftanti AlertInfo on AlertId | project AlertId");
    assert_eq!(table(&out), vec!["da007"]);
    let out = q(
        "AlertInfo | join kind=leftouter (AlertEvidence | where EntityType == 'File') on $left.AlertId == $right.AlertId \
                 | project AlertId, FileName",
    );
    assert_eq!(
        table(&out),
        vec![
            "da001 | null",
            "da002 | mimikatz.exe",
            "da003 | evil.dll",
            "da004 | null",
            "da005 | null",
            "da006 | null"
        ]
    );
    let out = q("AlertInfo | join kind=rightsemi AlertEvidence on AlertId | count");
    assert_eq!(table(&out), vec!["10"]);
    let out = q("AlertInfo | join kind=rightanti AlertEvidence on AlertId | project AlertId");
    assert_eq!(table(&out), vec!["da007"]);
    let out = q("AlertInfo | where AlertId in ('da005', 'da006') \
                 | join kind=fullouter (AlertEvidence | where AlertId in ('da005', 'da007')) on AlertId \
                 | project AlertId, AlertId1");
    assert_eq!(
        table(&out),
        vec!["da005 | da005", "da006 | null", "null | da007"]
    );
    let out = q("AlertInfo | join kind=leftsemi AlertEvidence on AlertId | project AlertId");
    assert_eq!(
        table(&out),
        vec!["da001", "da002", "da003", "da004", "da005"]
    );
    // A join of every logon with every logon on the same device streams into `take`.
    let out = q(
        "DeviceLogonEvents | join kind=inner DeviceLogonEvents on DeviceId | take 3 | project LogonId, LogonId1",
    );
    assert_eq!(
        table(&out),
        vec!["1000 | 1000", "1000 | 1003", "1000 | 1006"]
    );
}

#[test]
fn vulnerability_rollup() {
    let out = q(
        "DeviceTvmSoftwareVulnerabilities | where VulnerabilitySeverityLevel in ('Critical', 'High') \
                 | summarize Cves = dcount(CveId), Devices = make_set(DeviceName) by SoftwareName | sort by Cves desc, SoftwareName asc",
    );
    assert_eq!(
        table(&out),
        vec![
            r#"chrome | 1 | ["ws-001.contoso.local"]"#,
            r#"openssl | 1 | ["lin-web-01"]"#,
            r#"sql_server | 1 | ["srv-db-01.contoso.local"]"#,
            r#"windows_10 | 1 | ["ws-001.contoso.local"]"#,
            r#"windows_server_2022 | 1 | ["srv-db-01.contoso.local"]"#,
        ]
    );
    let out = q(
        "DeviceTvmSoftwareVulnerabilities | where CveTags has 'ZeroDay' | summarize count() by CveId",
    );
    assert_eq!(table(&out), vec!["CVE-2026-0001 | 2", "CVE-2026-3001 | 1"]);
}

// ---- errors -----------------------------------------------------------------------------------------

#[test]
fn error_unknown_table_and_column() {
    assert_eq!(
        err("MachineInfo | take 1"),
        "Failed to resolve table or column expression named 'MachineInfo'"
    );
    assert_eq!(
        err("deviceinfo | take 1"),
        "Failed to resolve table or column expression named 'deviceinfo'"
    );
    assert_eq!(
        err("DeviceInfo | where Foo == 1"),
        "'where' operator: Failed to resolve scalar expression named 'Foo'"
    );
    assert_eq!(
        err("DeviceInfo | project deviceId"),
        "'project' operator: Failed to resolve scalar expression named 'deviceId'"
    );
    assert_eq!(
        err("DeviceInfo | project DeviceId | where DeviceName == ''"),
        "'where' operator: Failed to resolve scalar expression named 'DeviceName'"
    );
    assert_eq!(
        err("DeviceInfo | summarize count() by Nope"),
        "'summarize' operator: Failed to resolve scalar expression named 'Nope'"
    );
}

#[test]
fn error_syntax_with_position() {
    assert_eq!(
        err("DeviceInfo | foo"),
        "Query could not be parsed at 'foo' on line [1,13]"
    );
    assert_eq!(
        err("DeviceInfo | Where Timestamp > ago(1d)"),
        "Query could not be parsed at 'Where' on line [1,13]"
    );
    assert_eq!(
        err("DeviceInfo\n| where Timestamp > ago(1d)\n| summarise count()"),
        "Query could not be parsed at 'summarise' on line [3,2]"
    );
    assert_eq!(
        err("completely invalid syntax"),
        "Query could not be parsed at 'invalid' on line [1,11]"
    );
    assert_eq!(
        err("DeviceInfo | where (Timestamp > ago(1d)"),
        "Query could not be parsed at '<EOF>' on line [1,39]"
    );
    assert_eq!(
        err("DeviceInfo | project DeviceId as Id"),
        "Query could not be parsed at 'as' on line [1,30]"
    );
    assert_eq!(
        err("DeviceInfo | where DeviceName == 'abc"),
        "Query could not be parsed at ''abc' on line [1,33]"
    );
    assert_eq!(
        err("DeviceInfo | take 5x"),
        "Query could not be parsed at '5x' on line [1,18]"
    );
    assert_eq!(
        err("DeviceInfo | where x == datetime(garbage)"),
        "Query could not be parsed at 'datetime(garbage)' on line [1,24]"
    );
    assert_eq!(
        err(""),
        "Query could not be parsed at '<EOF>': the query has no tabular expression"
    );
}

#[test]
fn error_functions_and_types() {
    assert_eq!(
        err("DeviceInfo | extend x = frobnicate(DeviceId)"),
        "'extend' operator: Unknown function: 'frobnicate'"
    );
    assert_eq!(
        err("DeviceInfo | extend x = ToString(DeviceId)"),
        "'extend' operator: Unknown function: 'ToString'"
    );
    assert_eq!(
        err("DeviceInfo | where DeviceName > 5"),
        "'where' operator: Cannot compare values of types string and long. Try adding explicit casts"
    );
    assert_eq!(
        err("DeviceInfo | where Timestamp > '2026-01-01'"),
        "'where' operator: Cannot compare values of types datetime and string. Try adding explicit casts"
    );
    assert_eq!(
        err("DeviceInfo | where DeviceName"),
        "'where' operator: the predicate must be of type bool, not string"
    );
    assert_eq!(
        err("DeviceInfo | extend x = DeviceName + 1"),
        "'extend' operator: Cannot apply operator '+' to operands of types string and long"
    );
    assert_eq!(
        err("DeviceInfo | where Timestamp > ago(1)"),
        "'where' operator: ago(): argument #1 expected to be of type timespan, but it is of type long"
    );
    assert_eq!(
        err("DeviceInfo | where count() > 1"),
        "'where' operator: the aggregation function 'count' can only be used in 'summarize'"
    );
    assert_eq!(
        err("DeviceInfo | summarize DeviceName"),
        "'summarize' operator: 'DeviceName' is not an aggregate; use it in 'by', or aggregate it (e.g. take_any(DeviceName))"
    );
    assert_eq!(
        err("DeviceInfo | extend x = strlen()"),
        "'extend' operator: The function 'strlen' expects 1 argument"
    );
    assert_eq!(
        err("DeviceInfo | take DeviceId"),
        "'take' operator: the row count must be a non-negative integer constant"
    );
    assert_eq!(
        err("DeviceInfo | extend x = iff(true, 'a', 1)"),
        "'extend' operator: the arguments of 'iff' have incompatible types string and long"
    );
    assert_eq!(
        err("DeviceInfo | extend x = OSBuild.Foo"),
        "'extend' operator: member access needs a value of type dynamic, not long (use todynamic())"
    );
    assert_eq!(
        err("DeviceInfo | join kind=inner (DeviceNetworkInfo) on Nope"),
        "'join' operator: Failed to resolve scalar expression named 'Nope'"
    );
    assert_eq!(
        err("let x = 1; x | take 1"),
        "Failed to resolve table or column expression named 'x'"
    );
}

// ---- robustness ---------------------------------------------------------------------------------------

/// A tiny deterministic generator for fuzz input.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn fuzz_never_panics() {
    let t = tenant();
    let valid = [
        "DeviceNetworkInfo | where Timestamp > ago(1d) | summarize arg_max(Timestamp,*) by DeviceId, MacAddress | mv-expand ip=todynamic(IPAddresses) | project DeviceId, IP=tostring(ip.IPAddress)",
        "let since = ago(7d); DeviceLogonEvents | where Timestamp between (since .. now()) and AccountName in~ ('alice') | summarize count() by bin(Timestamp, 1h) | top 3 by count_",
        "AlertInfo | join kind=leftouter (AlertEvidence | where EntityType == 'File') on AlertId | extend x = iff(isempty(FileName), 'none', FileName) | order by Timestamp desc nulls first",
        "print a = dynamic({'x': [1, {'y': 2}]}), b = datetime(2026-01-01), c = 1.5e3 | mv-expand a.x | project tostring(a_x)",
    ];
    let pieces = [
        "|",
        "where",
        "project",
        "summarize",
        "by",
        "(",
        ")",
        "[",
        "]",
        ",",
        "=",
        "==",
        "'",
        "\"",
        "ago(",
        "1d",
        "*",
        "-",
        "..",
        "between",
        "in",
        "!in",
        "has",
        "mv-expand",
        "let",
        ";",
        "datetime(",
        "dynamic(",
        "0x",
        "1e999",
        "\\",
        "@'",
        "//",
        "DeviceInfo",
        "Timestamp",
        "arg_max(",
        "count()",
        "\n",
        " ",
        "9999999999999999999999",
        "é",
        "\u{0}",
        "$left.",
    ];
    let mut rng = Lcg(42);
    let mut inputs: Vec<String> = Vec::new();
    for v in valid {
        // Every prefix and every single-character deletion of a valid query.
        let chars: Vec<char> = v.chars().collect();
        for cut in 0..chars.len() {
            inputs.push(chars[..cut].iter().collect());
            let mut deleted = chars.clone();
            deleted.remove(cut);
            inputs.push(deleted.into_iter().collect());
        }
    }
    for _ in 0..2000 {
        let n = 1 + rng.next() % 12;
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(pieces[(rng.next() % pieces.len() as u64) as usize]);
            if rng.next().is_multiple_of(2) {
                s.push(' ');
            }
        }
        inputs.push(s);
    }
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..rng.next() % 64)
            .map(|_| (rng.next() % 256) as u8)
            .collect();
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let mut ok = 0;
    for input in &inputs {
        if run(input, &t, now()).is_ok() {
            ok += 1;
        }
    }
    // Some prefixes are valid queries in their own right.
    assert!(ok > 50, "only {ok} inputs ran");
}

#[test]
fn deep_nesting_and_huge_inputs_fail_cleanly() {
    let deep_parens = format!("print x = {}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep_parens).contains("nest at most 64"));
    let long_chain = format!("print x = 1{}", " + 1".repeat(100_000));
    assert!(err(&long_chain).contains("nest at most 64"));
    let deep_calls = format!(
        "print x = {}'a'{}",
        "tostring(".repeat(5_000),
        ")".repeat(5_000)
    );
    assert!(err(&deep_calls).contains("nest at most 64"));
    let deep_member = format!("print x = dynamic({{}}){}", ".a".repeat(10_000));
    assert!(err(&deep_member).contains("nest at most 64"));
    let deep_json = format!(
        "print x = dynamic({}1{})",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(err(&deep_json).starts_with("Query could not be parsed at 'dynamic("));
    let unbalanced = format!("DeviceInfo | where {}", "(".repeat(100_000));
    assert!(err(&unbalanced).contains("nest at most 64"));

    // Just under the limit still works (in a debug build, on a test thread's stack).
    let nested = format!("print x = {}1{}", "(".repeat(60), ")".repeat(60));
    assert_eq!(print(&nested["print ".len()..]), vec!["1"]);
    let wide = format!(
        "DeviceInfo | where {} | count",
        vec!["ReportId > 0"; 5_000].join(" and ")
    );
    assert_eq!(table(&q(&wide)), vec!["15"]);
    let many_in = format!(
        "DeviceInfo | where ReportId in ({}) | count",
        (0..20_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(table(&q(&many_in)), vec!["15"]);

    let nested_sources = format!(
        "{}DeviceInfo{} | count",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    assert!(err(&nested_sources).contains("nest at most 64"));
    let mut bomb = "let t0 = AlertInfo;".to_owned();
    for i in 1..40 {
        bomb.push_str(&format!(
            " let t{i} = t{} | join kind=inner (t{}) on AlertId;",
            i - 1,
            i - 1
        ));
    }
    bomb.push_str(" t39 | count");
    assert!(err(&bomb).starts_with("The query is too complex"));
    assert!(
        err("print x = timespan(1.-9999999999999:00:00)").starts_with("Query could not be parsed")
    );

    let huge = "x".repeat(2_000_000);
    let out = q(&format!("print s = strlen('{huge}')"));
    assert_eq!(table(&out), vec!["2000000"]);
    let message = err(&format!("DeviceInfo | {huge}"));
    assert!(message.len() < 200, "{message}");
    assert!(err(&format!("'{huge}")).starts_with("Query could not be parsed"));
}

// ---- speed --------------------------------------------------------------------------------------------

/// Generates `rows` DeviceNetworkInfo-like rows on the fly, as the simulator does: 20,000
/// devices reporting every 72 minutes, newest first in `Big` and oldest first in `BigAsc` (the
/// worst case for `arg_max`, where every row is a new maximum).
struct Synthetic {
    rows: usize,
}

impl Tables for Synthetic {
    fn schema(&self, table: &str) -> Option<TableSchema> {
        use ColumnType::*;
        (table == "Big" || table == "BigAsc").then(|| {
            schema(
                table,
                &[
                    ("Timestamp", DateTime),
                    ("DeviceId", String),
                    ("MacAddress", String),
                    ("IPAddresses", String),
                ],
            )
        })
    }

    fn scan<'a>(
        &'a self,
        table: &str,
        _hint: &ScanHint,
    ) -> Box<dyn Iterator<Item = Vec<Value>> + 'a> {
        let base = now();
        let rows = self.rows;
        let ascending = table == "BigAsc";
        Box::new((0..rows).map(move |i| {
            let device = i % 20_000;
            let age = if ascending {
                (rows - 1 - i) / 20_000
            } else {
                i / 20_000
            };
            vec![
                Value::DateTime(base - TimeDelta::minutes(age as i64 * 72)),
                Value::String(format!("{device:040x}")),
                Value::String(format!(
                    "00-15-5D-{:02X}-{:02X}-01",
                    device / 256 % 256,
                    device % 256
                )),
                Value::String(format!(
                    r#"[{{"IPAddress":"10.{}.{}.1","SubnetPrefix":24,"AddressType":"Private"}}]"#,
                    device / 256 % 256,
                    device % 256
                )),
            ]
        }))
    }
}

/// Prints rows/s for a where + summarize over `KQL_BENCH_ROWS` rows (default 40,000, quick in a
/// debug build; set 1000000 with `--release` to measure).
#[test]
fn where_summarize_speed() {
    let rows: usize = std::env::var("KQL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    let t = Synthetic { rows };
    let started = Instant::now();
    let scanned = run("Big | count", &t, now()).unwrap();
    let scan_only = started.elapsed();
    assert_eq!(scanned.rows[0][0], Value::Long(rows as i64));

    let started = Instant::now();
    let out = run(
        "Big | where Timestamp > ago(1d) | summarize arg_max(Timestamp, *), n = count() by DeviceId | where n > 0",
        &t,
        now(),
    )
    .unwrap();
    let elapsed = started.elapsed();
    // 20 reports a day per device: the first 20 reports of each device are within a day.
    let expected_devices = rows.min(20_000);
    assert_eq!(out.rows.len(), expected_devices);
    let within_day: usize = (0..rows).filter(|i| (i / 20_000) * 72 < 24 * 60).count();
    let counted: i64 = out
        .rows
        .iter()
        .map(|r| match r[4] {
            Value::Long(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(counted as usize, within_day);

    let started = Instant::now();
    let expanded = run(
        "Big | where Timestamp > ago(2h) | mv-expand ip = todynamic(IPAddresses) | summarize dcount(tostring(ip.IPAddress))",
        &t,
        now(),
    )
    .unwrap();
    let mv_elapsed = started.elapsed();
    assert_eq!(expanded.rows[0][0], Value::Long(rows.min(20_000) as i64));

    let started = Instant::now();
    let all = run(
        "BigAsc | summarize arg_max(Timestamp, *), n = count(), dcount(MacAddress) by DeviceId",
        &t,
        now(),
    )
    .unwrap();
    let all_elapsed = started.elapsed();
    assert_eq!(all.rows.len(), rows.min(20_000));
    assert_eq!(all.rows[0][1], Value::DateTime(now()));

    let per_sec = |d: std::time::Duration| rows as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "{rows} rows: scan+count {:.0} rows/s; where+summarize(arg_max,count) {:.0} rows/s ({elapsed:?}); \
         where+mv-expand+dcount {:.0} rows/s ({mv_elapsed:?}); summarize over all rows, ascending {:.0} rows/s ({all_elapsed:?})",
        per_sec(scan_only),
        per_sec(elapsed),
        per_sec(mv_elapsed),
        per_sec(all_elapsed),
    );
}
