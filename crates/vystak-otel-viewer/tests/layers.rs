//! The crate's layering (issue 26), checked on its source: every `crate::…` and `super::…` path
//! in code resolves to a module, and a layer may only use the layers below it:
//!
//! `model` → `storage` → `otlp` → `query` → `http` → `app` (`error` is a leaf any layer uses;
//! `lib.rs` and `main.rs` wire everything). Besides: `storage` imports neither the query engine
//! nor the OTLP protobuf types, `model` no other crate module, and the pages (`http/ui`) do not
//! reach into the API (`http/api`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each layer and the layers it may use.
const LAYERS: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("model", &[]),
    ("storage", &["model", "error"]),
    ("otlp", &["model", "storage", "error"]),
    ("query", &["model", "storage", "otlp", "error"]),
    ("http", &["model", "storage", "otlp", "query", "error"]),
    (
        "app",
        &["model", "storage", "otlp", "query", "http", "error"],
    ),
];

/// External crates a layer must not name.
const FORBIDDEN_CRATES: &[(&str, &[&str])] = &[
    (
        "model",
        &["opentelemetry_proto", "axum", "rusqlite", "tonic"],
    ),
    ("storage", &["opentelemetry_proto", "axum", "tonic"]),
    ("otlp", &["axum"]),
    (
        "query",
        &["opentelemetry_proto", "axum", "rusqlite", "tonic"],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `http/ui/trace.rs` → `[http, ui, trace]`,
/// `http/ui/mod.rs` → `[http, ui]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// Code without comments (line comments and doc comments: an intra-doc link is not a use).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let code = match line.find("//") {
            // `//` inside a string (a URL) is rare in this crate's code; the paths we look
            // for never follow one.
            Some(at) => &line[..at],
            None => line,
        };
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// The first segments of every `crate::a::b` and `super::…::a` path in `code`, resolved
/// against `module` (the file's module path): the module path each one names.
fn referenced_modules(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        if starts_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let segments: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Vec<String> = Vec::new();
            let mut k = 0;
            if segments[0] == "super" {
                base = module.to_vec();
                while k < segments.len() && segments[k] == "super" {
                    base.pop();
                    k += 1;
                }
            } else {
                k = 1;
            }
            base.extend(segments[k..].iter().map(|s| s.to_string()));
            found.push(base);
            i += end;
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let layer_names: BTreeSet<&str> = LAYERS.iter().map(|(l, _)| *l).collect();
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = module_path(rel);
        let Some(layer) = module.first().map(String::as_str) else {
            continue; // lib.rs: the wiring
        };
        if layer == "main" || layer == "lib" {
            continue;
        }
        if !layer_names.contains(layer) {
            violations.push(format!(
                "{}: top-level module `{layer}` belongs to no layer",
                rel.display()
            ));
            continue;
        }
        let allowed: &[&str] = LAYERS.iter().find(|(l, _)| *l == layer).unwrap().1;
        let forbidden: &[&str] = FORBIDDEN_CRATES
            .iter()
            .find(|(l, _)| *l == layer)
            .map_or(&[], |(_, c)| c);
        let text = std::fs::read_to_string(file).unwrap();
        for (line_no, code) in code_lines(&text) {
            for target in referenced_modules(code, &module) {
                checked += 1;
                let Some(to) = target.first().map(String::as_str) else {
                    continue;
                };
                if to == layer || !layer_names.contains(to) {
                    // Within the layer, or a root item (a re-export at the crate root is the
                    // public surface, not a layer: using one from inside is flagged below).
                    if !layer_names.contains(to) && to != layer {
                        violations.push(format!(
                            "{}:{line_no}: `{}` is not a layer path (use the module, not a \
                             crate-root re-export)",
                            rel.display(),
                            target.join("::")
                        ));
                    }
                    if layer == "http"
                        && module.get(1).map(String::as_str) == Some("ui")
                        && target.get(1).map(String::as_str) == Some("api")
                    {
                        violations.push(format!(
                            "{}:{line_no}: the pages reach into the API: `{}`",
                            rel.display(),
                            target.join("::")
                        ));
                    }
                    continue;
                }
                if !allowed.contains(&to) {
                    violations.push(format!(
                        "{}:{line_no}: layer `{layer}` uses `{}` (allowed: {allowed:?})",
                        rel.display(),
                        target.join("::")
                    ));
                }
            }
            for krate in forbidden {
                let named = code.contains(&format!("{krate}::"));
                if named {
                    violations.push(format!(
                        "{}:{line_no}: layer `{layer}` names the crate `{krate}`",
                        rel.display()
                    ));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} paths found: is the scan broken?"
    );
    assert!(
        violations.is_empty(),
        "{} layering violations:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn the_scan_sees_a_violation() {
    // The checker itself: a `super::super::api` from a page resolves to `http::api`.
    let module: Vec<String> = ["http", "ui", "trace"].map(String::from).to_vec();
    assert_eq!(
        referenced_modules("use super::super::api::router;", &module),
        vec![vec!["http".to_string(), "api".into(), "router".into()]]
    );
    assert_eq!(
        referenced_modules(
            "let x = crate::storage::Store::new(); // crate::app",
            &module
        )[0],
        vec!["storage".to_string(), "Store".into(), "new".into()]
    );
    // `mycrate::x` is not `crate::x`.
    assert!(referenced_modules("mycrate::storage::x", &module).is_empty());
}
