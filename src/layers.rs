//! The module dependency direction, checked (`docs/architecture.md §Modules`): each top-level
//! module of the library may import only modules of a lower layer, or of its own layer without a
//! circle. The clinical core (`rules`) imports nothing of the crate; the terminology, which
//! recognises codes as the classes the rules read, sits above it so the rules cannot reach it
//! (only `fhir`, the prefetch templates and configuration use it); the wire shapes import nothing
//! but the rules and lower leaves; settings live with their owners and `config` only gathers them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first. A module may import modules of its layer or below.
const LAYERS: &[&[&str]] = &[
    &["net", "redact", "config_error"],
    &["rules"],
    &["wire", "terminology"],
    &["services", "cards", "auth", "admin"],
    &["fhir", "store", "tls"],
    &["config"],
    &["pipeline", "telemetry"],
    &["report", "simulate", "web"],
    &["startup", "check", "cli"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// `crate::name` paths in the code (comments removed), including `use crate::{a, b::c}` groups.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // Names at the first level of the group (a group spread over lines is rare here
                // and caught by rustfmt keeping `use crate::{` groups on one line when short).
                let inner: String = group.chars().take_while(|c| *c != '}').collect();
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            rest = after;
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// module → the crate modules it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.iter().next().unwrap().to_string_lossy().to_string();
        let module = top.trim_end_matches(".rs").to_owned();
        if matches!(module.as_str(), "main" | "lib" | "layers") {
            continue;
        }
        let code = std::fs::read_to_string(&file).unwrap();
        let deps = graph.entry(module.clone()).or_default();
        for name in imports(&code) {
            if name != module && layer(&name).is_some() {
                deps.insert(name);
            }
        }
    }
    graph
}

#[test]
fn every_module_has_a_layer() {
    let missing: Vec<String> = graph().into_keys().filter(|m| layer(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "give these modules a layer in src/layers.rs and docs/architecture.md: {missing:?}"
    );
}

#[test]
fn no_module_imports_a_module_above_it() {
    let mut climbing = Vec::new();
    for (module, deps) in graph() {
        let Some(own) = layer(&module) else { continue };
        for dep in deps {
            if layer(&dep).is_some_and(|l| l > own) {
                climbing.push(format!("{module} -> {dep}"));
            }
        }
    }
    assert!(
        climbing.is_empty(),
        "imports against the layering: {climbing:?}"
    );
}

#[test]
fn no_import_circle_between_modules() {
    let graph = graph();
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut circle = path[i..].to_vec();
            circle.push(m.to_owned());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for dep in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(dep, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(circle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_scanner_sees_paths_and_groups_but_not_comments() {
    let code = "use crate::rules::Code;\nuse crate::{wire, fhir::client};\n// crate::web in a comment\nlet x = crate::net::is_loopback_host(&u);";
    let found: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(found, ["fhir", "net", "rules", "wire"]);
}
