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

/// Every top-level module a file names through `crate::`, with the line it does so on.
/// Comment lines are blanked first (keeping line numbers), so prose about a module is not an
/// import; `use crate::{a, b::c}` lists may span lines.
fn imports(text: &str) -> Vec<(String, usize)> {
    let code: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |i: usize| code[..i].matches('\n').count() + 1;
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            for item in list.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.push((name.to_string(), line_of(i)));
                }
            }
        } else {
            out.push((ident(rest).to_string(), line_of(i)));
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
