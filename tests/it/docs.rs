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
    // Each component owns its section: the file's struct and every `config.rs` beside the
    // code that validates it.
    let file: String = [
        "src/config/file.rs",
        "crates/sql/src/source/config.rs",
        "crates/sql/src/engine/config.rs",
        "crates/sql/src/features/config.rs",
        "crates/rules/src/score/config.rs",
        "crates/rules/src/route/config.rs",
        "crates/sync/src/config.rs",
        "crates/sql/src/report/config.rs",
        "crates/sql/src/changes.rs",
    ]
    .iter()
    .map(|f| read(f))
    .collect::<Vec<_>>()
    .join("\n");
    // Keys are the fields of the `…File` structs, which mirror the file; the validated
    // `…Config` structs beside them are not keys.
    let mut keys: Vec<&str> = Vec::new();
    let mut in_file_struct = false;
    for line in file.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            in_file_struct = rest
                .split_whitespace()
                .next()
                .is_some_and(|n| n.ends_with("File"));
            continue;
        }
        let Some(field) = line.strip_prefix("pub ") else {
            continue;
        };
        if let Some((name, _)) = field.split_once(':') {
            let name = name.trim();
            if in_file_struct && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                keys.push(name);
            }
        }
    }
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
    // And the cluster tests, which need the feature, as README says.
    let cluster = "cargo test --release --locked --features ballista -p pqlsync -p pqlsync-sql --lib --test cluster";
    assert!(ci.lines().any(|l| l.trim() == cluster), "{ci}");
    assert!(readme.contains(cluster));
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
        "cluster scheduler",
        "cluster executor",
    ] {
        assert!(
            cli.contains(&format!("| `{cmd}")),
            "README's CLI table lacks {cmd}"
        );
    }
}

#[test]
fn every_run_summary_field_is_in_the_readme_schema() {
    let readme = read("README.md");
    let schema = section(&readme, "### Run summary (JSON)");
    let summary = pqlsync::summary::Summary {
        interrupted: Some("stopped by SIGTERM".into()),
        ..Default::default()
    };
    let json = serde_json::to_value(&summary).unwrap();
    let fields = json.as_object().unwrap();
    assert_eq!(fields["schema_version"], pqlsync::summary::SCHEMA_VERSION);
    assert!(
        schema.contains(&format!("| `{}` |", pqlsync::summary::SCHEMA_VERSION)),
        "README gives another schema_version"
    );
    for (field, _) in fields {
        assert!(
            schema.contains(&format!("`{field}`")),
            "README's run summary table lacks `{field}`"
        );
    }
    for (field, _) in json["engine"].as_object().unwrap() {
        assert!(
            schema.contains(&format!("`{field}`")),
            "lacks engine.{field}"
        );
    }
    let sync = serde_json::to_value(pqlsync_sync::SyncReport::default()).unwrap();
    for (field, _) in sync.as_object().unwrap() {
        assert!(schema.contains(&format!("`{field}`")), "lacks sync.{field}");
    }
}
