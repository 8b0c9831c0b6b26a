//! Exports over the hand-made store of `search::tests`: every page gathered up to the cap, the
//! CSV read back with a CSV reader (header, quoting, formula guard, ISO times), and the JSON
//! shapes.

use std::collections::HashMap;

use super::*;
use crate::{
    error::ErrorCode,
    search::tests::{at, dhcp_fixture, page},
};

fn now() -> Timestamp {
    at("2026-11-28T12:30:00Z")
}

/// Reads a CSV back: the header and the rows, each as column name → cell.
fn read_csv(content: &str) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(content.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

fn gather(
    f: &crate::search::tests::Fixture,
    text: &str,
    page_size: usize,
    cap: usize,
) -> SearchResults {
    let (query, notes) = Query::parse_explained(text, None).unwrap();
    f.store
        .read(|db| {
            all_results(
                db,
                &query,
                notes,
                None,
                SortKey::Name,
                false,
                &f.names,
                page_size,
                cap,
            )
        })
        .unwrap()
}

#[test]
fn every_page_is_gathered_in_order_up_to_the_cap() {
    let f = dhcp_fixture();
    let one_page = f.search_with("10.1.2.3", None, page(SortKey::Name, 0, 50));
    assert_eq!(one_page.total, 3);
    let names = |results: &SearchResults| -> Vec<Option<String>> {
        results.hits.iter().map(|h| h.name.clone()).collect()
    };

    let paged = gather(&f, "10.1.2.3", 1, MAX_EXPORT_ROWS);
    assert_eq!(names(&paged), names(&one_page), "pages of one, same order");
    assert_eq!((paged.total, paged.limit), (3, 3));
    let export = search_export(&paged, ExportFormat::Csv, now()).unwrap();
    assert!(!export.truncated);
    assert_eq!((export.items, export.total), (3, 3));
    assert_eq!(export.summary, "Exported 3 results");

    let capped = gather(&f, "10.1.2.3", 1, 2);
    assert_eq!(names(&capped), names(&one_page)[..2]);
    let export = search_export(&capped, ExportFormat::Json, now()).unwrap();
    assert!(export.truncated);
    assert_eq!((export.items, export.total), (2, 3));
    assert!(
        export.summary.contains("first 2 of 3"),
        "says what was left out: {}",
        export.summary
    );
    let parsed: serde_json::Value = serde_json::from_str(&export.content).unwrap();
    assert_eq!(parsed["total"], 3);
    assert_eq!(parsed["exported"], 2);
    assert_eq!(parsed["truncated"], true);
    assert_eq!(parsed["hits"].as_array().unwrap().len(), 2);
    assert_eq!(parsed["exportedAt"], "2026-11-28T12:30:00.000Z");
    assert_eq!(parsed["query"]["value"], "10.1.2.3");
}

#[test]
fn results_csv_has_a_header_one_row_per_asset_and_iso_times() {
    let f = dhcp_fixture();
    let results = gather(&f, "10.1.2.3", MAX_LIMIT, MAX_EXPORT_ROWS);
    let export = search_export(&results, ExportFormat::Csv, now()).unwrap();
    assert_eq!(
        export.file_name,
        "mde-car-search-10.1.2.3-20261128T1230Z.csv"
    );
    let (header, rows) = read_csv(&export.content);
    assert_eq!(header, SEARCH_COLUMNS);
    assert_eq!(rows.len(), 3);
    let b = rows
        .iter()
        .find(|row| row["device_id"] == "b")
        .expect("b is a row");
    assert_eq!(b["name"], "b.contoso.com");
    assert_eq!(b["connection"], "Contoso");
    assert_eq!(b["risk_score"], "4.0");
    assert_eq!(b["risk_level"], "medium");
    assert_eq!(b["alerts_high"], "1");
    assert_eq!(b["alerts_medium"], "0", "the resolved alert does not count");
    assert_eq!(b["relation"], "current_holder");
    assert_eq!(b["relation_value"], "10.1.2.3");
    assert_eq!(b["relation_current"], "yes");
    assert_eq!(b["last_synced"], "2026-11-28T00:00:00.000Z");
    let a = rows.iter().find(|row| row["device_id"] == "a").unwrap();
    assert_eq!(a["max_cvss"], "9.8");
    assert_eq!(a["vulnerabilities"], "2");
    assert_eq!(a["relation"], "past_holder");
    for row in &rows {
        for column in ["relation_first_seen", "relation_last_seen", "last_synced"] {
            let cell = &row[column];
            assert!(
                cell.len() == 24 && cell.ends_with('Z') && cell.as_bytes()[10] == b'T',
                "{column} is ISO 8601 UTC: {cell}"
            );
        }
    }
}

#[test]
fn csv_cells_are_quoted_and_formulas_are_defused() {
    let f = dhcp_fixture();
    let mut results = gather(&f, "10.1.2.3", MAX_LIMIT, MAX_EXPORT_ROWS);
    let tricky = "=HYPERLINK(\"http://x\",\"a, b\")\nsecond line";
    results.hits[0].name = Some(tricky.to_owned());
    results.hits[1].name = Some("-2+3".to_owned());
    results.hits[2].name = Some("plain, \"quoted\" name".to_owned());
    let export = search_export(&results, ExportFormat::Csv, now()).unwrap();
    let (_, rows) = read_csv(&export.content);
    assert_eq!(rows.len(), 3, "the newline stays inside its quoted cell");
    assert_eq!(rows[0]["name"], format!("'{tricky}"));
    assert_eq!(rows[1]["name"], "'-2+3");
    assert_eq!(rows[2]["name"], "plain, \"quoted\" name");
    assert!(export.content.contains("\"plain, \"\"quoted\"\" name\""));
    assert_eq!(text("10.1.2.3"), "10.1.2.3");
    assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
    // Spreadsheets skip leading spaces and fold fullwidth signs; tabs and line breaks start
    // formulas in some of them.
    for formula in [
        "  =1+1",
        "\u{a0}+cmd",
        "＝HYPERLINK(\"x\")",
        "＋1",
        "－1",
        "＠SUM(A1)",
        " ＝1",
        "\t=1",
        "\r=1",
        "\nline",
    ] {
        assert_eq!(text(formula), format!("'{formula}"), "{formula:?}");
    }
    for plain in ["laptop-17", "a=b", "  laptop", "", " ", "WS 01 - floor 2"] {
        assert_eq!(text(plain), plain, "{plain:?}");
    }
}

#[tokio::test]
async fn an_export_replaces_its_file_whole_and_only_its_owner_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.csv");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let export = Export {
        file_name: "results.csv".to_owned(),
        format: ExportFormat::Csv,
        content: "new,content\n".to_owned(),
        items: 0,
        total: 0,
        truncated: false,
        summary: String::new(),
    };
    export.write_to(&path).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new,content\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary is left: {left:?}");
}

#[test]
fn the_timeline_exports_one_row_per_interval() {
    let f = dhcp_fixture();
    let timeline = f
        .store
        .read(|db| crate::search::timeline_in(db, "10.1.2.3".parse().unwrap(), None, &f.names))
        .unwrap();
    let export = timeline_export(&timeline, ExportFormat::Csv, now()).unwrap();
    assert_eq!(export.file_name, "mde-car-ip-10.1.2.3-20261128T1230Z.csv");
    let (header, rows) = read_csv(&export.content);
    assert_eq!(header, TIMELINE_COLUMNS);
    assert_eq!(rows.len(), timeline.spans.len());
    assert!(rows.len() >= 3, "a, b and x held it: {rows:?}");
    let a_history = rows
        .iter()
        .find(|row| row["device_id"] == "a" && row["source"] == "ip_history")
        .expect("a's lease");
    assert_eq!(a_history["from"], "2026-11-20T08:00:00.000Z");
    assert_eq!(a_history["until"], "2026-11-22T08:00:00.000Z");
    assert_eq!(a_history["current"], "no");
    assert_eq!(a_history["address_class"], "private");
    assert_eq!(a_history["name"], "a.contoso.com");
    assert!(rows.iter().all(|row| row["address"] == "10.1.2.3"));

    let export = timeline_export(&timeline, ExportFormat::Json, now()).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&export.content).unwrap();
    assert_eq!(parsed["address"], "10.1.2.3");
    assert_eq!(parsed["exportedAt"], "2026-11-28T12:30:00.000Z");
    assert_eq!(
        parsed["spans"].as_array().unwrap().len(),
        timeline.spans.len()
    );
}

#[test]
fn the_asset_exports_every_section() {
    let f = dhcp_fixture();
    let id = f
        .store
        .read(|db| {
            crate::search::resolve_asset(
                db,
                "b",
                Some(&("c1".to_owned(), "b".to_owned())),
                &f.names,
            )
        })
        .unwrap()
        .unwrap();
    let detail = f
        .store
        .read(|db| crate::search::detail_in(db, id, &f.names))
        .unwrap()
        .unwrap();
    let export = asset_export(&detail, ExportFormat::Csv, now()).unwrap();
    assert_eq!(
        export.file_name,
        "mde-car-asset-b.contoso.com-20261128T1230Z.csv"
    );
    let (header, rows) = read_csv(&export.content);
    assert_eq!(header, ASSET_COLUMNS);
    let value = |section: &str, key: &str| -> String {
        rows.iter()
            .find(|row| row["section"] == section && row["key"] == key)
            .map(|row| row["value"].clone())
            .unwrap_or_else(|| panic!("no {section}/{key} row"))
    };
    assert_eq!(value("identity", "device_id"), "b");
    assert_eq!(value("identity", "connection"), "Contoso");
    assert_eq!(value("identity", "tags"), "finance");
    assert_eq!(value("identity", "device_group"), "Finance");
    assert_eq!(value("risk", "score"), "4.0");
    assert_eq!(value("risk", "alerts"), "4.0");
    assert_eq!(value("ip_address", "10.1.2.3"), "private");
    assert_eq!(value("alert", "al1"), "High");
    assert_eq!(
        value("sync_run", "last_run"),
        detail.last_run.as_ref().unwrap().id.to_string()
    );
    let alert = rows
        .iter()
        .find(|row| row["section"] == "alert" && row["key"] == "al2")
        .unwrap();
    assert_eq!(alert["active"], "no", "the resolved alert");
    let sections: std::collections::BTreeSet<&str> =
        rows.iter().map(|row| row["section"].as_str()).collect();
    for section in [
        "identity",
        "risk",
        "host_name",
        "ip_address",
        "ip_history",
        "mac_address",
        "alert",
        "sync_run",
    ] {
        assert!(
            sections.contains(section),
            "a {section} section: {sections:?}"
        );
    }

    let export = asset_export(&detail, ExportFormat::Json, now()).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&export.content).unwrap();
    assert_eq!(parsed["deviceId"], "b");
    assert_eq!(parsed["risk"]["score"], 4.0);
    assert_eq!(parsed["exportedAt"], "2026-11-28T12:30:00.000Z");
}

#[test]
fn file_names_are_safe_and_formats_parse() {
    assert_eq!(
        slug("10.1.2.0/24 @ 2026-11-20 14:00:00 UTC"),
        "10.1.2.0_24___2026-11-20_14_00_00_UTC"
    );
    assert_eq!(slug("../../etc/passwd"), "etc_passwd");
    assert_eq!(slug("   "), "export");
    assert_eq!(slug(&"x".repeat(500)).len(), 60);
    assert_eq!(ExportFormat::parse(" CSV "), Some(ExportFormat::Csv));
    assert_eq!(ExportFormat::parse("json"), Some(ExportFormat::Json));
    assert_eq!(ExportFormat::parse("xlsx"), None);
}

#[tokio::test]
async fn writing_replaces_the_file_or_says_where_it_failed() {
    let f = dhcp_fixture();
    let results = gather(&f, "10.1.2.3", MAX_LIMIT, MAX_EXPORT_ROWS);
    let export = search_export(&results, ExportFormat::Csv, now()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(&export.file_name);
    std::fs::write(&path, "old").unwrap();
    export.write_to(&path).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), export.content);

    let missing = dir.path().join("no-such-folder").join("x.csv");
    let error = crate::Error::from(export.write_to(&missing).await.unwrap_err());
    assert_eq!(error.code(), ErrorCode::Storage);
    assert!(error.to_string().contains("no-such-folder"), "{error}");
}
