//! What the compiler cannot see of the layering. Between crates it needs no help: a crate
//! cannot import one it does not depend on, and cargo refuses a cycle. So this checks the rest:
//! that the plain crates (rules, HubSpot client, sync, calibration) never come to depend on
//! DataFusion, Arrow or an object-store SDK, not even through a dependency of a dependency
//! (`cargo tree`); and
//! inside the binary crate, where modules are listed bottom-up in `lib.rs`, that no module
//! imports one listed after it (this reads every source file's `crate::…` paths, so an import
//! that runs back up, and with it any cycle between modules, fails here naming the file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The source folders whose `lib.rs` lists its modules bottom-up, with the fewest modules
/// each must list (so a lib.rs the reader cannot parse fails rather than passes).
const ORDERED: &[(&str, usize)] = &[("src", 6), ("crates/sql/src", 12), ("crates/rules/src", 4)];

/// Every crate's source folder (the sandbox, an independent oracle, aside).
const CRATES: &[&str] = &[
    "src",
    "crates/sql/src",
    "crates/rules/src",
    "crates/sync/src",
    "crates/hubspot/src",
    "crates/calibrate/src",
    "crates/core/src",
];

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `pub mod NAME;` lines of `src`'s lib.rs, in order.
fn layers(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
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
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
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
    let mut upward = Vec::new();
    for (rel, fewest) in ORDERED {
        upward.extend(upward_imports(&repo(rel), *fewest));
    }
    assert!(
        upward.is_empty(),
        "imports that run back up the module order:\n{}",
        upward.join("\n")
    );
}

/// The imports in `src` of a module listed after the importing one in its lib.rs.
fn upward_imports(src: &Path, fewest: usize) -> Vec<String> {
    let order = layers(src);
    assert!(
        order.len() >= fewest,
        "{}: lib.rs lists only {order:?}",
        src.display()
    );
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut upward = Vec::new();
    for file in files {
        let module = module_of(src, &file);
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
    upward
}

/// Within a folder module, which sibling files each file reads (`super::sibling`, or
/// `crate::module::sibling`), keyed by file stem. `mod.rs` is the folder's face, not a sibling.
/// With `module` empty, `dir` is a crate root and its files are the crate's modules.
fn sibling_graph(dir: &Path, module: &str) -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let stem = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    let siblings: Vec<String> = files
        .iter()
        .filter(|p| p.parent() == Some(dir) && !["mod", "lib", "main"].contains(&stem(p).as_str()))
        .map(|p| stem(p))
        .collect();
    let mut graph = BTreeMap::new();
    for file in files.iter().filter(|p| p.parent() == Some(dir)) {
        let name = stem(file);
        if ["mod", "lib", "main"].contains(&name.as_str()) {
            continue;
        }
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        let mut reads = Vec::new();
        let own = if module.is_empty() {
            "crate::".to_string()
        } else {
            format!("crate::{module}::")
        };
        for prefix in ["super::".to_string(), own] {
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
    for rel in CRATES {
        let src = repo(rel);
        // The crate root's own files (a plain crate's modules), then each folder module.
        let mut folders = vec![(src.clone(), String::new())];
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                let module = path.file_name().unwrap().to_string_lossy().into_owned();
                folders.push((path, module));
            }
        }
        for (dir, module) in folders {
            if let Some(cycle) = find_cycle(&sibling_graph(&dir, &module)) {
                cycles.push(format!("{}: {}", dir.display(), cycle.join(" → ")));
            }
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

/// The crates below the SQL layer, which must build and test without it.
const PLAIN_CRATES: &[&str] = &[
    "pqlsync-core",
    "pqlsync-rules",
    "pqlsync-hubspot",
    "pqlsync-sync",
    "pqlsync-calibrate",
];

/// Packages only the SQL layer may link.
fn is_sql_stack(name: &str) -> bool {
    ["datafusion", "arrow", "parquet", "object_store", "ballista"]
        .iter()
        .any(|p| name == *p || name.starts_with(&format!("{p}-")))
}

/// Every package `krate` links through normal (not dev or build) dependencies, as `cargo tree`
/// resolves it from Cargo.lock for this machine, each with the path that first reaches it.
fn linked(krate: &str) -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "depth",
        ])
        .args(["--format", "{p}", "-p", krate])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut path: Vec<String> = Vec::new();
    let mut seen = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let digits = line.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
        let (Ok(depth), Some(name)) = (
            line[..digits].parse::<usize>(),
            line[digits..].split(' ').next(),
        ) else {
            continue;
        };
        path.truncate(depth);
        path.push(name.to_string());
        seen.entry(name.to_string()).or_insert_with(|| path.clone());
    }
    seen
}

#[test]
fn the_plain_crates_link_no_datafusion_arrow_or_object_store() {
    let mut found = Vec::new();
    for krate in PLAIN_CRATES {
        let links = linked(krate);
        assert!(links.contains_key("serde"), "{krate}: {links:?}");
        for (name, path) in links.iter().filter(|(n, _)| is_sql_stack(n)) {
            found.push(format!("{krate} links {name}: {}", path.join(" → ")));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    // And the SQL crate does link them, or the check above would be vacuous.
    let sql = linked("pqlsync-sql");
    assert!(sql.contains_key("datafusion") && sql.contains_key("object_store"));
}
