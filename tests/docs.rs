//! README must stay true: every config key documented, and the two commands it promises are
//! the ones the project and CI use.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README lacks {heading}"));
    let rest = &text[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[test]
fn every_config_key_is_in_the_readme_reference() {
    let readme = read("README.md");
    let reference = section(&readme, "## Configuration reference");
    let file = read("src/config/file.rs");
    let keys: Vec<&str> = file
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim()))
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(keys.len() > 30, "parsed only {keys:?}");
    let missing: Vec<&&str> = keys.iter().filter(|k| !has_word(reference, k)).collect();
    assert!(
        missing.is_empty(),
        "README's configuration reference lacks {missing:?}"
    );
}

#[test]
fn readme_commands_are_the_ones_ci_runs() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    assert!(readme.contains("cargo run --release -- run"));
    assert!(readme.contains("cargo test --release --locked"));
    assert!(
        ci.lines()
            .any(|l| l.trim() == "cargo test --release --locked"),
        "{ci}"
    );
}

#[test]
fn every_subcommand_is_in_the_readme() {
    let readme = read("README.md");
    let cli = section(&readme, "## CLI");
    for cmd in [
        "run",
        "features",
        "score",
        "explain",
        "validate",
        "demo-data",
        "plan",
        "hubspot setup",
        "hubspot check",
        "sandbox",
    ] {
        assert!(
            cli.contains(&format!("| `{cmd}")),
            "README's CLI table lacks {cmd}"
        );
    }
}
