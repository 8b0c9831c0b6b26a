//! The core's layer order, checked: a module may use only modules of lower layers, so the
//! dependencies inside the crate point one way and no import cycle can come back. The order is
//! the one ARCHITECTURE.md describes; a new module must be placed in it (the check fails on a
//! module it does not know).
//!
//! The check reads the `crate::…` paths of every source file (`use crate::{a, b::c}` and
//! `crate::a::f()` alike), ignoring comments and unit-test files, which may use anything.

use std::{collections::BTreeSet, path::Path};

/// Lowest first. Modules of one layer do not use each other.
const LAYERS: &[&[&str]] = &[
    // Plain data and plumbing: Defender data as the core sees it, the data folder, the HTTP
    // client builder, the risk formula.
    &["model", "paths", "http", "risk"],
    // What a connection is; log files; the keyring.
    &["config", "logging", "secrets"],
    // Settings file, sign-in, the database, the event set, the demo tenant, the attempt
    // backoff the processes share.
    &[
        "settings",
        "auth",
        "store",
        "events",
        "demo",
        "shared_backoff",
    ],
    // The Defender client and the connection test.
    &["mde", "probe"],
    // Use cases over those: a sync run, search, the scheduler's loop, the run registry, the
    // watcher of other processes.
    &["sync", "search", "scheduler", "registry", "watch"],
    // The crate error, composed from every module's own.
    &["error"],
    // The facade the shells call.
    &["api"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every way `source` (the text of one file of `module`) breaks the layer order.
fn violations(module: &str, source: &str) -> Vec<String> {
    let Some(own) = layer_of(module) else {
        return vec![format!(
            "module `{module}` is in no layer: add it to LAYERS (and ARCHITECTURE.md)"
        )];
    };
    used_modules(source)
        .into_iter()
        .filter(|used| used != module)
        .filter_map(|used| match layer_of(&used) {
            Some(layer) if layer < own => None,
            Some(layer) => Some(format!(
                "`{module}` (layer {own}) uses `{used}` (layer {layer}): only lower layers may be used"
            )),
            // `crate::Error`, `crate::Result`: re-exports of lib.rs, which is not a layer.
            None if used.starts_with(|c: char| c.is_ascii_uppercase()) => None,
            None => Some(format!("`{module}` uses `{used}`, which is in no layer")),
        })
        .collect()
}

/// The top-level modules a file names through `crate::`.
fn used_modules(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut used = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => item_start = true,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && item_start {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                    } else if !name.is_empty() {
                        used.insert(std::mem::take(&mut name));
                        item_start = false;
                    }
                }
            }
            if !name.is_empty() {
                used.insert(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                used.insert(name);
            }
        }
    }
    used
}

/// Each source file of the crate with its top-level module, unit-test files left out.
fn sources(src: &Path) -> Vec<(String, String, String)> {
    let mut files = Vec::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(src).unwrap();
            let is_rust = path.extension().is_some_and(|e| e == "rs");
            if !is_rust || path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Inline unit tests come last in a file and may use anything.
            let code = match text.find("#[cfg(test)]\nmod tests {") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            files.push((module, relative.display().to_string(), code));
        }
    }
    files
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&src);
    assert!(files.len() > 30, "the sources were found");
    let problems: Vec<String> = files
        .iter()
        .flat_map(|(module, file, code)| {
            violations(module, code)
                .into_iter()
                .map(move |problem| format!("{file}: {problem}"))
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_sees_a_back_edge_in_either_form_of_use() {
    // The four back-edges that once made every module one cycle.
    assert_eq!(
        violations("store", "use crate::search::store_risk;").len(),
        1
    );
    assert_eq!(
        violations("config", "use crate::error::FieldError;"),
        vec!["`config` (layer 1) uses `error` (layer 5): only lower layers may be used"]
    );
    assert!(
        violations(
            "error",
            "use crate::{config::FieldError, search::SearchError};"
        )
        .is_empty(),
        "the crate error is above the modules whose errors it gathers"
    );
    let back = violations(
        "scheduler",
        "use crate::{\n    api::Core,\n    config::Connection,\n};",
    );
    assert_eq!(back.len(), 1, "{back:?}");
    assert!(back[0].contains("`api`"), "{back:?}");
    assert_eq!(
        violations(
            "events",
            "fn f() { let _ = crate::store::RunStatus::Failed; }"
        )
        .len(),
        1
    );
    // Comments and the module itself are not uses; nested groups count once.
    assert!(
        violations(
            "store",
            "// crate::search is mentioned\nuse crate::store::x;"
        )
        .is_empty()
    );
    assert!(violations("api", "use crate::{search::{self, Query}, store::{A, B}};").is_empty());
    assert_eq!(
        used_modules("use crate::{search::{self, Query}, store::{A, B}, model};"),
        ["model", "search", "store"].map(str::to_owned).into()
    );
    // A module nobody placed is a failure, not a pass.
    assert_eq!(violations("newcomer", "").len(), 1);
}
