//! The hostile-input table, `hostile-inputs.tsv` next to this file: every line one input
//! through a real entry point — the `mde-car` binary for form fields, flags, ids and searches;
//! a sync (`Core::sync_connection`, what the CLI and the app's Sync button call) against the
//! simulator answering a hostile body for API answers. Each case gets the outcome and the
//! specific message its line names; nothing is lost (a refused add or edit leaves the
//! connections as they were, a hostile answer leaves every device, alert and vulnerability of
//! the earlier good sync in place and found by search); nothing crashes (no exit status 101, no
//! `panicked`, no internal error, and every process or run ends within its time limit).
//! docs/hostile-inputs.md describes the format and how to add a case.

use std::{
    collections::BTreeSet,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mde_car_core::{Core, mde::Budgets, paths::DataDir, store::RunStatus, sync::Trigger};
use mde_car_tests::{Workspace, secret_service_lookup};
use mde_sim::{Answer, DEFAULT_ROLES, Endpoint, Sim, SimConfig};
use rusqlite::Connection as Db;
use serde_json::Value;

const TABLE: &str = include_str!("hostile-inputs.tsv");
/// Longest a CLI process may take; a hang fails its case.
const CLI_LIMIT: Duration = Duration::from_secs(60);
/// Longest a sync may take.
const SYNC_LIMIT: Duration = Duration::from_secs(90);
/// The categories issue 12 names; each has at least one case.
const CATEGORIES: &[&str] = &[
    "id",
    "secret",
    "url",
    "frequency",
    "search",
    "wrong-type",
    "null",
    "huge",
    "duplicate",
    "nesting",
    "enum",
    "timestamp",
    "number-as-string",
    "malformed",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Exit status 0, or a run that succeeded.
    Ok,
    /// A run that saved what it could and says what it left out.
    Partial,
    /// A failing exit status or a failed run, with a message.
    Error,
}

#[derive(Debug)]
struct Case {
    line: usize,
    category: String,
    name: String,
    entry: Vec<String>,
    input: String,
    outcome: Outcome,
    /// Texts the message must hold (case-insensitive); for an `ok` CLI case, stdout.
    texts: Vec<String>,
    /// For an `ok` or `partial` API case: a query on the database that must count at least 1.
    sql: Option<String>,
}

impl Case {
    fn is_api(&self) -> bool {
        self.entry.first().is_some_and(|word| word == "api")
    }

    fn label(&self) -> String {
        format!("line {} ({})", self.line, self.name)
    }
}

fn parse_table(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut names = BTreeSet::new();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            columns.len(),
            5,
            "line {line_no}: give 5 tab-separated columns (category, name, entry, input, expect): {line:?}"
        );
        let [category, name, entry, input, expect] = columns[..] else {
            unreachable!()
        };
        assert!(
            CATEGORIES.contains(&category),
            "line {line_no}: unknown category {category:?}; use one of {CATEGORIES:?}"
        );
        assert!(
            names.insert(name.to_owned()),
            "line {line_no}: the name {name:?} is used twice"
        );
        let (outcome, detail) = match expect.split_once(':') {
            Some((outcome, detail)) => (outcome.trim(), Some(detail.trim())),
            None => (expect.trim(), None),
        };
        let outcome = match outcome {
            "ok" => Outcome::Ok,
            "partial" => Outcome::Partial,
            "error" => Outcome::Error,
            other => panic!("line {line_no}: expect {other:?}: use ok, partial or error"),
        };
        let (sql, texts) = match detail {
            Some(detail) if detail.starts_with("sql ") => (Some(detail[4..].to_owned()), vec![]),
            Some(detail) => (
                None,
                detail
                    .split(" & ")
                    .map(|text| text.trim().to_owned())
                    .collect(),
            ),
            None => (None, vec![]),
        };
        assert!(
            outcome == Outcome::Ok || !texts.is_empty(),
            "line {line_no}: a refusal names the text its message must hold (`error: TEXT`)"
        );
        cases.push(Case {
            line: line_no,
            category: category.to_owned(),
            name: name.to_owned(),
            entry: entry.split_whitespace().map(str::to_owned).collect(),
            input: input.to_owned(),
            outcome,
            texts,
            sql,
        });
    }
    cases
}

/// Values the table can name: `{device.name}` and the like.
struct Context {
    values: Vec<(&'static str, String)>,
    files: tempfile::TempDir,
    file_count: std::cell::Cell<usize>,
}

impl Context {
    /// Expands the input's generators; `escapes` also turns `\n`, `\r`, `\t`, `\0`, `\e`,
    /// `\\` and `\u{HEX}` into their characters (API answers keep JSON's own escapes).
    fn expand(&self, text: &str, escapes: bool) -> String {
        let text = if escapes {
            unescape(text)
        } else {
            text.to_owned()
        };
        self.generate(&text)
    }

    fn generate(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let Some(end) = matching_brace(tail) else {
                out.push_str(tail);
                return out;
            };
            let inner = &tail[1..end];
            match self.generator(inner) {
                Some(value) => out.push_str(&value),
                None => {
                    // Not a generator (JSON, a cron list): kept, its inside expanded.
                    out.push('{');
                    out.push_str(&self.generate(inner));
                    out.push('}');
                }
            }
            rest = &tail[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn generator(&self, inner: &str) -> Option<String> {
        if let Some(spec) = inner.strip_prefix("repeat:") {
            let (count, text) = spec.split_once(':')?;
            let count = match count.strip_suffix('M') {
                Some(mib) => mib.parse::<usize>().ok()? << 20,
                None => match count.strip_suffix('k') {
                    Some(kib) => kib.parse::<usize>().ok()? << 10,
                    None => count.parse().ok()?,
                },
            };
            return Some(self.generate(text).repeat(count));
        }
        match inner {
            "lbrace" => return Some("{".to_owned()),
            "rbrace" => return Some("}".to_owned()),
            _ => {}
        }
        if let Some(content) = inner.strip_prefix("file:") {
            let n = self.file_count.get() + 1;
            self.file_count.set(n);
            let path = self.files.path().join(format!("file-{n}.pem"));
            std::fs::write(&path, self.generate(content)).unwrap();
            return Some(path.display().to_string());
        }
        self.values
            .iter()
            .find(|(name, _)| *name == inner)
            .map(|(_, value)| value.clone())
    }
}

/// The index of the `}` closing the `{` at 0.
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (idx, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(idx);
                }
            }
            _ => {}
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('e') => out.push('\u{1b}'),
            Some('\\') => out.push('\\'),
            Some('u') if chars.peek() == Some(&'{') => {
                chars.next();
                let hex: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let code = u32::from_str_radix(&hex, 16).expect("\\u{HEX}");
                out.push(char::from_u32(code).expect("a Unicode scalar value"));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The first characters of a text, for a failure message.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        format!("{cut}… ({} bytes)", text.len())
    } else {
        cut
    }
}

fn check_message(context: &Context, case: &Case, message: &str) -> Result<(), String> {
    let lower = message.to_lowercase();
    let missing: Vec<String> = case
        .texts
        .iter()
        .map(|text| context.expand(text, false).to_lowercase())
        .filter(|text| !lower.contains(text.as_str()))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("the message lacks {missing:?}: {}", shown(message)))
    }
}

/// Signs of a crash in a message.
fn check_no_crash(text: &str) -> Result<(), String> {
    for sign in [
        "panicked",
        "internal error",
        "stack overflow",
        "RUST_BACKTRACE",
    ] {
        if text.contains(sign) {
            return Err(format!("it crashed ({sign:?}): {}", shown(text)));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tenant every case starts from.

struct Tenant {
    sim: Sim,
    /// A workspace with the connection `Contoso` after one good full sync.
    synced: Workspace,
    context: Context,
}

async fn tenant() -> Tenant {
    let sim = Sim::start(SimConfig {
        devices: 30,
        seed: 12,
        rate_scale: 600.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let synced = Workspace::new();
    synced
        .add_simulated(&sim, "Contoso", None)
        .assert()
        .success();
    synced
        .cli()
        .args(["sync", "Contoso", "--full"])
        .timeout(CLI_LIMIT)
        .assert()
        .success();
    let db = Db::open(synced.data_dir().join("mde-car.sqlite3")).unwrap();
    let (device_id, device_name): (String, String) = db
        .query_row(
            "SELECT device_id, name FROM assets WHERE active = 1 AND name IS NOT NULL ORDER BY device_id LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let device_ip: String = db
        .query_row(
            "SELECT i.text FROM asset_ip_addresses l JOIN assets a ON a.id = l.asset_id JOIN ip_addresses i ON i.id = l.ip_id WHERE a.device_id = ?1 AND l.active = 1 AND i.text LIKE '%.%' LIMIT 1",
            [&device_id],
            |row| row.get(0),
        )
        .unwrap();
    drop(db);
    let context = Context {
        values: vec![
            ("tenant", sim.tenant_id()),
            ("client", sim.client_id()),
            ("api", sim.api_base()),
            (
                "port",
                sim.api_base().rsplit(':').next().unwrap().to_owned(),
            ),
            ("device.id", device_id),
            ("device.name", device_name),
            ("device.ip", device_ip),
        ],
        files: tempfile::tempdir().unwrap(),
        file_count: std::cell::Cell::new(0),
    };
    Tenant {
        sim,
        synced,
        context,
    }
}

impl Tenant {
    fn value(&self, name: &str) -> &str {
        &self
            .context
            .values
            .iter()
            .find(|(known, _)| *known == name)
            .unwrap()
            .1
    }
}

fn connections(workspace: &Workspace) -> Vec<Value> {
    let output = workspace
        .cli()
        .args(["connection", "list", "--json"])
        .timeout(CLI_LIMIT)
        .output()
        .unwrap();
    assert!(output.status.success(), "connection list fails");
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// A connection as stored, without what changes by itself (status, last run).
fn settings_of(connection: &Value) -> Value {
    let mut kept = connection.clone();
    if let Some(object) = kept.as_object_mut() {
        object.retain(|key, _| {
            !matches!(
                key.as_str(),
                "status" | "statusText" | "lastTest" | "problems"
            )
        });
    }
    kept
}

// ---------------------------------------------------------------------------------------------
// CLI cases.

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_cli(workspace: &Workspace, args: &[String], stdin: Option<&str>) -> Result<Ran, String> {
    let mut command = workspace.cli();
    command.args(args).timeout(CLI_LIMIT);
    if let Some(stdin) = stdin {
        command.write_stdin(stdin.as_bytes().to_vec());
    }
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|error| format!("mde-car did not run: {error}"))?;
    let ran = Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    if ran.code.is_none() {
        return Err(format!(
            "mde-car did not end by itself within {CLI_LIMIT:?} (killed after {:?}): {}",
            started.elapsed(),
            shown(&ran.stderr)
        ));
    }
    if ran.code == Some(101) {
        return Err(format!("mde-car panicked: {}", shown(&ran.stderr)));
    }
    check_no_crash(&ran.stderr)?;
    Ok(ran)
}

fn judge_cli(context: &Context, case: &Case, ran: &Ran) -> Result<(), String> {
    match case.outcome {
        Outcome::Ok if ran.code == Some(0) => {
            if case.texts.is_empty() {
                Ok(())
            } else {
                check_message(context, case, &ran.stdout)
            }
        }
        Outcome::Ok => Err(format!(
            "expected success, got exit status {:?}: {}",
            ran.code,
            shown(&ran.stderr)
        )),
        Outcome::Error if ran.code == Some(0) => Err(format!(
            "expected a refusal, but it succeeded: {}",
            shown(&ran.stdout)
        )),
        Outcome::Error => check_message(context, case, &ran.stderr),
        Outcome::Partial => Err("partial is for API answers".to_owned()),
    }
}

/// The flags of a valid `connection add` for the simulated tenant.
fn add_defaults(tenant: &Tenant, name: &str) -> Vec<(String, String)> {
    [
        ("--name", name.to_owned()),
        ("--tenant", tenant.sim.tenant_id()),
        ("--client-id", tenant.sim.client_id()),
        ("--api-base", tenant.sim.api_base()),
        ("--authority", tenant.sim.authority()),
    ]
    .into_iter()
    .map(|(flag, value)| (flag.to_owned(), value))
    .collect()
}

fn add_args(flags: &[(String, String)]) -> Vec<String> {
    let mut args = vec!["connection".to_owned(), "add".to_owned()];
    for (flag, value) in flags {
        args.push(flag.clone());
        args.push(value.clone());
    }
    args.push("--secret-stdin".to_owned());
    args
}

fn secret_line(stdin: &str) -> &str {
    stdin
        .split_once('\n')
        .map_or(stdin, |(line, _)| line)
        .trim_end_matches('\r')
}

/// `connection add FLAG`: a valid add with FLAG given the input (`--secret-stdin`: the input
/// is stdin). Refused: the connections are as before. Added: it is listed, its secret is in the
/// keyring as given, and it is removed again.
fn add_case(tenant: &Tenant, case: &Case, input: &str) -> Result<(), String> {
    let workspace = &tenant.synced;
    let flag = case
        .entry
        .get(2)
        .ok_or("give the flag: connection add --FLAG")?;
    let mut flags = add_defaults(tenant, "Hostile");
    let mut stdin = format!("{}\n", tenant.sim.client_secret());
    if flag == "--secret-stdin" {
        stdin = input.to_owned();
    } else if let Some(slot) = flags.iter_mut().find(|(known, _)| known == flag) {
        slot.1 = input.to_owned();
    } else {
        flags.push((flag.clone(), input.to_owned()));
    }
    let before = connections(workspace);
    let ran = run_cli(workspace, &add_args(&flags), Some(&stdin))?;
    let after = connections(workspace);
    let known: BTreeSet<&str> = before.iter().filter_map(|c| c["id"].as_str()).collect();
    let added: Vec<String> = after
        .iter()
        .filter_map(|c| c["id"].as_str())
        .filter(|id| !known.contains(id))
        .map(str::to_owned)
        .collect();
    // What the keyring holds for the added connection, read before it is removed again (the
    // next case starts from the same connections).
    let stored = added.first().map(|id| secret_service_lookup(id));
    for id in &added {
        let removed = run_cli(
            workspace,
            &["connection".into(), "remove".into(), id.clone()],
            None,
        )?;
        if removed.code != Some(0) {
            return Err(format!(
                "the added connection could not be removed: {}",
                removed.stderr
            ));
        }
    }
    judge_cli(&tenant.context, case, &ran)?;
    if ran.code != Some(0) {
        if !added.is_empty() || before.len() != after.len() {
            return Err(format!("a refused add changed the connections: {after:?}"));
        }
        return Ok(());
    }
    if added.len() != 1 {
        return Err(format!(
            "an add that succeeded added {} connections",
            added.len()
        ));
    }
    let expected = if flag == "--secret-stdin" {
        secret_line(input).to_owned()
    } else {
        tenant.sim.client_secret()
    };
    match stored.flatten() {
        Some(stored) if stored == expected => Ok(()),
        stored => Err(format!(
            "the keyring holds {:?}, not the secret given ({})",
            stored.as_deref().map(shown),
            shown(&expected)
        )),
    }
}

/// `connection edit Target FLAG`: on a fresh connection `Target`, with the right secret on
/// stdin (needed when an edit moves the hosts) unless FLAG is `--secret-stdin`. Refused: the
/// connection and its secret are as before. Then it is removed.
fn edit_case(tenant: &Tenant, case: &Case, input: &str) -> Result<(), String> {
    let workspace = &tenant.synced;
    let flag = case
        .entry
        .get(3)
        .ok_or("give the flag: connection edit Target --FLAG")?;
    let secret = tenant.sim.client_secret();
    let ran = run_cli(
        workspace,
        &add_args(&add_defaults(tenant, "Target")),
        Some(&format!("{secret}\n")),
    )?;
    if ran.code != Some(0) {
        return Err(format!(
            "the connection to edit could not be added: {}",
            ran.stderr
        ));
    }
    let target =
        |list: &[Value]| -> Option<Value> { list.iter().find(|c| c["name"] == "Target").cloned() };
    let before = target(&connections(workspace)).ok_or("Target is not listed")?;
    let id = before["id"].as_str().unwrap().to_owned();
    let mut args: Vec<String> = case.entry.clone();
    let stdin = if flag == "--secret-stdin" {
        input.to_owned()
    } else {
        args.push(input.to_owned());
        args.push("--secret-stdin".to_owned());
        format!("{secret}\n")
    };
    let result = run_cli(workspace, &args, Some(&stdin)).and_then(|ran| {
        judge_cli(&tenant.context, case, &ran)?;
        if ran.code == Some(0) {
            return Ok(());
        }
        let after = connections(workspace)
            .into_iter()
            .find(|c| c["id"] == id.as_str())
            .ok_or("a refused edit removed the connection")?;
        if settings_of(&after) != settings_of(&before) {
            return Err(format!(
                "a refused edit changed the connection: {before} became {after}"
            ));
        }
        if secret_service_lookup(&id).as_deref() != Some(secret.as_str()) {
            return Err("a refused edit changed the secret".to_owned());
        }
        Ok(())
    });
    let removed = run_cli(workspace, &["connection".into(), "remove".into(), id], None)?;
    if removed.code != Some(0) {
        return Err(format!("Target could not be removed: {}", removed.stderr));
    }
    result
}

/// Any other command: the entry's words (`{input}` where the input goes, else last).
fn command_case(tenant: &Tenant, case: &Case, input: &str) -> Result<(), String> {
    let mut placed = false;
    let mut args: Vec<String> = case
        .entry
        .iter()
        .map(|word| {
            if word == "{input}" {
                placed = true;
                input.to_owned()
            } else {
                tenant.context.expand(word, false)
            }
        })
        .collect();
    if !placed {
        args.push(input.to_owned());
    }
    let ran = run_cli(&tenant.synced, &args, None)?;
    judge_cli(&tenant.context, case, &ran)
}

fn run_cli_case(tenant: &Tenant, case: &Case) -> Result<(), String> {
    let input = tenant.context.expand(&case.input, true);
    match case.entry.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["connection", "add", ..] => add_case(tenant, case, &input),
        ["connection", "edit", "Target", ..] => edit_case(tenant, case, &input),
        _ => command_case(tenant, case, &input),
    }
}

/// Every device of the good sync is still there and found by search, after the CLI cases.
fn check_still_found(tenant: &Tenant, data_dir: &Path) -> Result<(), String> {
    let output = std::process::Command::new(mde_car_tests::mde_car_binary())
        .env("MDE_CAR_DATA_DIR", data_dir)
        .env_remove("MDE_CAR_LOG")
        .args(["search", tenant.value("device.ip"), "--json"])
        .output()
        .map_err(|error| error.to_string())?;
    let results: Value = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "search gave no JSON ({error}): {}",
            shown(&String::from_utf8_lossy(&output.stderr))
        )
    })?;
    let found = results["hits"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|hit| hit["deviceId"] == tenant.value("device.id"));
    if found {
        Ok(())
    } else {
        Err(format!(
            "search {} no longer finds device {}",
            tenant.value("device.ip"),
            tenant.value("device.id")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// API cases.

/// What a good sync stored that a hostile answer must not take away.
#[derive(Debug, PartialEq)]
struct Stored {
    active_devices: BTreeSet<String>,
    alerts: BTreeSet<String>,
    active_vulnerabilities: BTreeSet<String>,
    leases: i64,
    accounts: i64,
}

fn stored(data_dir: &Path) -> Stored {
    let db = Db::open(data_dir.join("mde-car.sqlite3")).unwrap();
    let strings = |sql: &str| -> BTreeSet<String> {
        let mut statement = db.prepare(sql).unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |row| row.get(0)).unwrap() };
    Stored {
        active_devices: strings("SELECT device_id FROM assets WHERE active = 1"),
        alerts: strings("SELECT alert_id FROM alerts"),
        active_vulnerabilities: strings(
            "SELECT a.device_id || ' ' || v.cve FROM asset_vulnerabilities l JOIN assets a ON a.id = l.asset_id JOIN vulnerabilities v ON v.id = l.vulnerability_id WHERE l.active = 1",
        ),
        leases: count("SELECT count(*) FROM ip_leases"),
        accounts: count("SELECT count(*) FROM asset_accounts"),
    }
}

fn check_nothing_lost(before: &Stored, after: &Stored) -> Result<(), String> {
    let mut lost = String::new();
    for (what, old, new) in [
        (
            "active devices",
            &before.active_devices,
            &after.active_devices,
        ),
        ("alerts", &before.alerts, &after.alerts),
        (
            "active vulnerabilities",
            &before.active_vulnerabilities,
            &after.active_vulnerabilities,
        ),
    ] {
        let gone: Vec<&String> = old.difference(new).take(3).collect();
        if !gone.is_empty() {
            let _ = write!(
                lost,
                "{what} lost: {gone:?} ({} in all); ",
                old.difference(new).count()
            );
        }
    }
    if after.leases < before.leases {
        let _ = write!(lost, "ip leases {} → {}; ", before.leases, after.leases);
    }
    if after.accounts < before.accounts {
        let _ = write!(lost, "accounts {} → {}; ", before.accounts, after.accounts);
    }
    if lost.is_empty() { Ok(()) } else { Err(lost) }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn fast_options() -> mde_car_core::mde::ClientOptions {
    mde_car_core::mde::ClientOptions {
        budgets: Budgets::default().scaled(600.0),
        retry: mde_car_core::mde::RetryPolicy {
            max_retries: 1,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// `api ENDPOINT`: a full sync of a copy of the synced workspace while ENDPOINT answers the
/// input (an [`Answer`] in its text form).
async fn run_api_case(tenant: &Tenant, baseline: &Stored, case: &Case) -> Result<(), String> {
    let name = case.entry.get(1).ok_or("give the endpoint: api ENDPOINT")?;
    let endpoint = Endpoint::parse(name).ok_or_else(|| format!("unknown endpoint {name:?}"))?;
    let answer = Answer::parse(&tenant.context.expand(&case.input, false))?;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(tenant.synced.data_dir(), dir.path());
    // Hunting goes to Graph while the app holds ThreatHunting.Read.All; the legacy API's cases
    // take the role away, as a tenant that has not granted it does.
    let roles: Vec<&str> = DEFAULT_ROLES
        .iter()
        .copied()
        .filter(|role| endpoint != Endpoint::AdvancedQueries || *role != "ThreatHunting.Read.All")
        .collect();
    tenant.sim.set_roles(&tenant.sim.client_id(), &roles);
    let faults = tenant.sim.faults();
    faults.clear_answers();
    faults.answer(endpoint, answer);
    let core = Core::open(DataDir::new(dir.path())).map_err(|error| error.to_string())?;
    core.set_client_options(fast_options());
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        SYNC_LIMIT,
        core.sync_connection("Contoso", true, Trigger::Cli),
    )
    .await;
    let answered = faults.answered(endpoint);
    faults.clear_answers();
    drop(core);
    let outcome = outcome.map_err(|_| {
        format!(
            "the sync did not end within {SYNC_LIMIT:?} ({:?})",
            started.elapsed()
        )
    })?;
    if answered == 0 {
        return Err(format!(
            "the hostile answer never reached the client (no {name} call was answered with it)"
        ));
    }
    let (status, message) = match outcome {
        Ok(outcome) => {
            let mut message = outcome.error.clone().unwrap_or_default();
            for note in &outcome.notes {
                message.push_str("; ");
                message.push_str(note);
            }
            (Some(outcome.status), message)
        }
        Err(error) => (None, error.to_string()),
    };
    check_no_crash(&message)?;
    let got = match status {
        Some(RunStatus::Succeeded) => Outcome::Ok,
        Some(RunStatus::Partial) => Outcome::Partial,
        _ => Outcome::Error,
    };
    if got != case.outcome {
        return Err(format!(
            "expected {:?}, the run ended {status:?}: {}",
            case.outcome,
            shown(&message)
        ));
    }
    if got != Outcome::Ok {
        check_message(&tenant.context, case, &message)?;
    }
    if let Some(sql) = &case.sql {
        let db = Db::open(dir.path().join("mde-car.sqlite3")).unwrap();
        let count: i64 = db
            .query_row(sql, [], |row| row.get(0))
            .map_err(|error| format!("the check query fails: {error}"))?;
        if count < 1 {
            return Err(format!("the check query counts {count}: {sql}"));
        }
    }
    check_nothing_lost(baseline, &stored(dir.path()))?;
    check_still_found(tenant, dir.path())
}

// ---------------------------------------------------------------------------------------------

fn report(kind: &str, failures: &[String], ran: usize, started: Instant) {
    eprintln!(
        "hostile table, {kind}: {ran} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} {kind} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_has_at_least_100_cases_covering_every_category() {
    let cases = parse_table(TABLE);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    for category in CATEGORIES {
        assert!(
            cases.iter().any(|case| case.category == *category),
            "no case of category {category}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_form_fields_flags_and_searches_get_a_specific_message_or_are_handled() {
    let cases: Vec<Case> = parse_table(TABLE)
        .into_iter()
        .filter(|case| !case.is_api())
        .collect();
    let tenant = tenant().await;
    let started = Instant::now();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(error) = run_cli_case(&tenant, case) {
            failures.push(format!("{}: {error}", case.label()));
        }
    }
    if let Err(error) = check_still_found(&tenant, tenant.synced.data_dir()) {
        failures.push(format!("after every CLI case: {error}"));
    }
    if connections(&tenant.synced).len() != 1 {
        failures.push("after every CLI case: connections other than Contoso are left".to_owned());
    }
    report("CLI", &failures, cases.len(), started);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_api_answers_get_a_specific_message_or_are_handled_and_lose_nothing() {
    let cases: Vec<Case> = parse_table(TABLE)
        .into_iter()
        .filter(Case::is_api)
        .collect();
    let tenant = tenant().await;
    let baseline = stored(tenant.synced.data_dir());
    assert!(
        !baseline.active_devices.is_empty()
            && !baseline.alerts.is_empty()
            && !baseline.active_vulnerabilities.is_empty()
            && baseline.leases > 0
            && baseline.accounts > 0,
        "the good sync stored every kind of data: {baseline:?}"
    );
    let started = Instant::now();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(error) = run_api_case(&tenant, &baseline, case).await {
            failures.push(format!("{}: {error}", case.label()));
        }
    }
    report("API", &failures, cases.len(), started);
}

#[test]
fn the_generators_expand_as_documented() {
    let context = Context {
        values: vec![("device.id", "abc".to_owned())],
        files: tempfile::tempdir().unwrap(),
        file_count: std::cell::Cell::new(0),
    };
    assert_eq!(context.expand(r"a\nb\tc\\d\u{e9}", true), "a\nb\tc\\dé");
    assert_eq!(context.expand(r"x\ny", false), r"x\ny");
    assert_eq!(context.expand("{repeat:3:ab}", true), "ababab");
    assert_eq!(context.expand("{repeat:2k:a}", true).len(), 2048);
    assert_eq!(context.expand("{repeat:3:[}", true), "[[[");
    assert_eq!(context.expand("{repeat:2:{lbrace}a}", true), "{a{a");
    assert_eq!(
        context.expand(r#"{"id": "{device.id}"}"#, false),
        r#"{"id": "abc"}"#
    );
    let path = PathBuf::from(context.expand("{file:hello}", true));
    assert_eq!(std::fs::read_to_string(path).unwrap(), "hello");
}
