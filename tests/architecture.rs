//! The crate reads in one direction: `lib.rs` lists the modules bottom-up, and no module may
//! import one listed after it. This test reads every source file's `crate::…` paths and holds
//! them against that list, so an import that runs back up (and with it any cycle between
//! modules) fails here, naming the file and the import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `pub mod NAME;` lines of lib.rs, in order.
fn layers() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').trim().to_string())
        .collect()
}

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

/// The top-level module a file belongs to: `src/sync/plan.rs` → `sync`, `src/fmt.rs` → `fmt`.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// `text` with its comment lines blanked (line numbers kept), so prose about a module is not
/// an import.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names a path prefix is followed by: `a` in `prefix a::b`, or `a` and `b` in
/// `prefix {a, b::c}` (a list that may span lines).
fn names_after(rest: &str) -> Vec<&str> {
    match rest.strip_prefix('{') {
        Some(list) => list[..list.find('}').unwrap_or(list.len())]
            .split(',')
            .map(|item| ident(item.trim()))
            .filter(|name| !name.is_empty())
            .collect(),
        None => vec![ident(rest)],
    }
}

/// Every top-level module a file names through `crate::`, with the line it does so on.
fn imports(text: &str) -> Vec<(String, usize)> {
    let code = without_comments(text);
    let line_of = |i: usize| code[..i].matches('\n').count() + 1;
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        for name in names_after(&code[i + "crate::".len()..]) {
            out.push((name.to_string(), line_of(i)));
        }
    }
    out
}

#[test]
fn no_module_imports_one_listed_after_it_in_lib_rs() {
    let order = layers();
    assert!(order.len() > 15, "lib.rs lists only {order:?}");
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut upward = Vec::new();
    for file in files {
        let module = module_of(&file);
        let Some(&own) = rank.get(module.as_str()) else {
            continue; // lib.rs and main.rs sit above everything.
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (target, line) in imports(&text) {
            match rank.get(target.as_str()) {
                Some(&r) if r > own => upward.push(format!(
                    "{}:{line}: `{module}` imports `{target}`, which lib.rs lists above it",
                    file.display()
                )),
                _ => {}
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run back up the module order:\n{}",
        upward.join("\n")
    );
}

/// Within a folder module, which sibling files each file reads (`super::sibling`, or
/// `crate::module::sibling`), keyed by file stem. `mod.rs` is the folder's face, not a sibling.
fn sibling_graph(dir: &Path, module: &str) -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    let siblings: Vec<String> = files
        .iter()
        .filter(|p| p.parent() == Some(dir) && stem(p) != "mod")
        .map(|p| stem(p))
        .collect();
    let mut graph = BTreeMap::new();
    for file in files.iter().filter(|p| p.parent() == Some(dir)) {
        let name = stem(file);
        if name == "mod" {
            continue;
        }
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        let mut reads = Vec::new();
        for prefix in ["super::".to_string(), format!("crate::{module}::")] {
            for (i, _) in code.match_indices(prefix.as_str()) {
                for n in names_after(&code[i + prefix.len()..]) {
                    if n != name && siblings.iter().any(|s| s == n) && !reads.iter().any(|r| r == n)
                    {
                        reads.push(n.to_string());
                    }
                }
            }
        }
        graph.insert(name, reads);
    }
    graph
}

/// A cycle in `graph`, as the names around it, if there is one.
fn find_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.iter().any(|d| d == node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(node.to_string());
        None
    }
    let mut done = Vec::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn files_inside_a_module_do_not_import_each_other_in_a_cycle() {
    let mut cycles = Vec::new();
    for module in layers() {
        let dir = src().join(&module);
        if !dir.is_dir() {
            continue;
        }
        if let Some(cycle) = find_cycle(&sibling_graph(&dir, &module)) {
            cycles.push(format!("src/{module}/: {}", cycle.join(" → ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle_and_only_a_cycle() {
    let graph = |edges: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(n, to)| (n.to_string(), to.iter().map(|t| t.to_string()).collect()))
            .collect()
    };
    let acyclic = graph(&[
        ("client", &["outcome"]),
        ("crm", &["client", "outcome"]),
        ("outcome", &[]),
    ]);
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic = graph(&[("client", &["crm"]), ("crm", &["client"])]);
    assert_eq!(
        find_cycle(&cyclic),
        Some(vec!["client".into(), "crm".into(), "client".into()])
    );
}

#[test]
fn the_import_reader_sees_every_form_rustfmt_writes() {
    let text = "use crate::store::Store;\nuse crate::{route, score};\n// crate::commands\nuse crate::{\n    engine,\n    sync::config,\n};\nlet x = crate::fmt::thousands(1);";
    let got: Vec<(String, usize)> = imports(text);
    let want = [
        ("store", 1),
        ("route", 2),
        ("score", 2),
        ("engine", 4),
        ("sync", 4),
        ("fmt", 8),
    ];
    assert_eq!(
        got,
        want.map(|(m, l)| (m.to_string(), l)).to_vec(),
        "{text}"
    );
}
