//! The analyst-owned SQL project on disk: `staging/*.sql`, `incremental/*.sql` and
//! `features/*.sql` (one view per file, named after the file) and `seeds/*.csv` (small
//! reference tables, named after the file).
//!
//! A folder's `<format>/` subfolder (`staging/posthog/`) holds the files for one source format
//! (`[sources] format`): there, a file replaces the folder's file of the same name and adds
//! the others, so a format changes only the staging that maps its shape.
//!
//! Views are planned in dependency order, found by parsing each file's table references (the
//! way dbt orders models by `ref()`), so analysts never number files. Staging views come before
//! incremental views, which come before feature views; no layer reads a later one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;

use super::FeatureError;

/// Which folder a view comes from. Staging sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    Staging,
    /// `incremental/`: aggregates over all history that pqlsync rolls up day by day
    /// (see `features::incremental`).
    Incremental,
    Features,
    /// `outputs/`: the other views the job reads besides `account_features`: who the sync
    /// writes as contacts (`account_contacts`) and data-quality counts for the run summary
    /// (`data_quality`). They may read everything a feature view may, and feature views.
    Outputs,
    /// `reports/`: report tables, planned only by `pqlsync report`, over the feature views and
    /// the score history.
    Reports,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Staging => "staging",
            Layer::Incremental => "incremental",
            Layer::Features => "features",
            Layer::Outputs => "outputs",
            Layer::Reports => "reports",
        })
    }
}

/// One view file, parsed.
#[derive(Debug, Clone)]
pub struct View {
    pub name: String,
    pub layer: Layer,
    pub path: PathBuf,
    pub sql: String,
    pub statement: Statement,
    /// Names of other project views this one reads.
    pub depends_on: BTreeSet<String>,
    /// Datasets it reads directly as `raw.<name>`.
    pub raw_reads: BTreeSet<String>,
}

/// A CSV reference table.
#[derive(Debug, Clone)]
pub struct Seed {
    pub name: String,
    pub path: PathBuf,
}

/// The SQL project, views in planning order.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub views: Vec<View>,
    pub seeds: Vec<Seed>,
}

/// The view every project must define.
pub const FINAL_VIEW: &str = "account_features";

impl Project {
    /// Read and order the project under `dir`, with the files of the `format` subfolders
    /// (`staging/posthog/`) in place of the folders' own files of the same name.
    pub fn load(dir: &Path, format: &str) -> Result<Project, FeatureError> {
        if !dir.is_dir() {
            return Err(FeatureError::NoSqlDir {
                dir: dir.to_path_buf(),
            });
        }
        let mut views = Vec::new();
        for layer in [
            Layer::Staging,
            Layer::Incremental,
            Layer::Features,
            Layer::Outputs,
        ] {
            for path in list_for(&dir.join(layer.to_string()), format, "sql")? {
                views.push(parse_view(&path, layer)?);
            }
        }
        let seeds = list_for(&dir.join("seeds"), format, "csv")?
            .into_iter()
            .map(|path| Seed {
                name: stem(&path),
                path,
            })
            .collect();
        let views = order(views)?;
        if !views.iter().any(|v| v.name == FINAL_VIEW) {
            return Err(FeatureError::NoFinalView {
                dir: dir.join("features"),
            });
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            views,
            seeds,
        })
    }

    /// Only the views `view` reads, directly or through others, and `view` itself, in the
    /// same order; the seeds stay. A session that plans one view day after day (`backfill`,
    /// `calibrate`) then neither plans nor rolls up what no query of it reads: outputs such
    /// as `data_quality` and the rollups only they read.
    pub fn reading_into(&self, view: &str) -> Project {
        let mut wanted = BTreeSet::from([view.to_string()]);
        // Planning order puts a view after what it reads, so one pass from the end finds them all.
        for v in self.views.iter().rev() {
            if wanted.contains(&v.name) {
                wanted.extend(v.depends_on.iter().cloned());
            }
        }
        Project {
            dir: self.dir.clone(),
            views: self
                .views
                .iter()
                .filter(|v| wanted.contains(&v.name))
                .cloned()
                .collect(),
            seeds: self.seeds.clone(),
        }
    }
}

/// The report views under `dir/reports/`, in planning order (a report may read another).
pub fn load_reports(dir: &Path) -> Result<Vec<View>, FeatureError> {
    let mut views = Vec::new();
    for path in list(&dir.join(Layer::Reports.to_string()), "sql")? {
        views.push(parse_view(&path, Layer::Reports)?);
    }
    order(views)
}

/// The `ext` files of `dir`, with those of `dir/<format>/` replacing same-named ones.
fn list_for(dir: &Path, format: &str, ext: &str) -> Result<Vec<PathBuf>, FeatureError> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in list(dir, ext)?
        .into_iter()
        .chain(list(&dir.join(format), ext)?)
    {
        by_name.insert(stem(&path), path);
    }
    Ok(by_name.into_values().collect())
}

fn list(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, FeatureError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| FeatureError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| FeatureError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.extension().is_some_and(|e| e == ext) && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

fn parse_view(path: &Path, layer: Layer) -> Result<View, FeatureError> {
    let sql = std::fs::read_to_string(path).map_err(|source| FeatureError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = stem(path);
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(FeatureError::BadViewName {
            file: path.to_path_buf(),
        });
    }
    let sql_error = |message: String| FeatureError::Sql {
        file: path.to_path_buf(),
        message,
    };
    let mut statements = DFParser::parse_sql_with_dialect(&sql, &GenericDialect {})
        .map_err(|e| sql_error(e.to_string()))?;
    if statements.len() != 1 {
        return Err(FeatureError::NotAQuery {
            file: path.to_path_buf(),
            found: format!("{} statements", statements.len()),
        });
    }
    let statement = statements.pop_front().expect("one statement");
    let (refs, _ctes) =
        resolve_table_references(&statement, true).map_err(|e| sql_error(e.to_string()))?;
    // Only plain queries: analyst SQL may read, never write or change the catalog.
    let statement = match statement {
        DFStatement::Statement(s) if matches!(*s, Statement::Query(_)) => *s,
        DFStatement::Statement(s) => {
            return Err(FeatureError::NotAQuery {
                file: path.to_path_buf(),
                found: first_words(&s.to_string()),
            });
        }
        other => {
            return Err(FeatureError::NotAQuery {
                file: path.to_path_buf(),
                found: first_words(&other.to_string()),
            });
        }
    };
    let depends_on = refs
        .iter()
        .filter(|r| r.schema().is_none())
        .map(|r| r.table().to_string())
        .collect();
    let raw_reads = refs
        .iter()
        .filter(|r| r.schema() == Some(crate::source::RAW_SCHEMA))
        .map(|r| r.table().to_string())
        .collect();
    Ok(View {
        name,
        layer,
        path: path.to_path_buf(),
        sql,
        statement,
        depends_on,
        raw_reads,
    })
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Topological order: a view after everything it reads; among ready views staging first,
/// then by name, so the order is deterministic.
fn order(views: Vec<View>) -> Result<Vec<View>, FeatureError> {
    let mut by_name: BTreeMap<String, View> = BTreeMap::new();
    for view in views {
        if let Some(first) = by_name.get(&view.name) {
            return Err(FeatureError::DuplicateView {
                name: view.name.clone(),
                first: first.path.clone(),
                second: view.path,
            });
        }
        by_name.insert(view.name.clone(), view);
    }
    for view in by_name.values() {
        for dep in &view.depends_on {
            if let Some(target) = by_name.get(dep)
                && (target.layer > view.layer
                    || (view.layer == Layer::Incremental && target.layer == Layer::Incremental))
            {
                return Err(FeatureError::ReadsLaterLayer {
                    file: view.path.clone(),
                    layer: view.layer,
                    target: target.path.clone(),
                });
            }
        }
    }
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(by_name.len());
    while ordered.len() < by_name.len() {
        let next = by_name
            .values()
            .filter(|v| !done.contains(&v.name))
            .filter(|v| {
                v.depends_on
                    .iter()
                    .all(|d| d == &v.name || done.contains(d) || !by_name.contains_key(d))
            })
            .min_by(|a, b| (a.layer, &a.name).cmp(&(b.layer, &b.name)));
        match next {
            Some(v) => {
                if v.depends_on.contains(&v.name) {
                    return Err(FeatureError::Cycle {
                        files: vec![v.path.clone()],
                    });
                }
                done.insert(v.name.clone());
                ordered.push(v.clone());
            }
            None => {
                let files = by_name
                    .values()
                    .filter(|v| !done.contains(&v.name))
                    .map(|v| v.path.clone())
                    .collect();
                return Err(FeatureError::Cycle { files });
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, body: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }

    #[test]
    fn orders_views_by_reference_not_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "staging/stg_b.sql", "SELECT * FROM raw.tracks");
        write(dir.path(), "staging/stg_a.sql", "SELECT * FROM stg_b");
        write(
            dir.path(),
            "features/account_features.sql",
            "WITH x AS (SELECT * FROM aaa) SELECT * FROM x JOIN stg_a USING (id)",
        );
        write(dir.path(), "features/aaa.sql", "SELECT * FROM zzz");
        write(dir.path(), "features/zzz.sql", "SELECT * FROM stg_a");
        let project = Project::load(dir.path(), "segment").unwrap();
        let names: Vec<_> = project.views.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["stg_b", "stg_a", "zzz", "aaa", "account_features"]);
    }

    #[test]
    fn reading_into_keeps_what_a_view_reads_through_others_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "staging/stg_b.sql", "SELECT * FROM raw.tracks");
        write(dir.path(), "staging/stg_a.sql", "SELECT * FROM stg_b");
        write(
            dir.path(),
            "staging/stg_unread.sql",
            "SELECT * FROM raw.tracks",
        );
        write(dir.path(), "features/zzz.sql", "SELECT * FROM stg_a");
        write(
            dir.path(),
            "features/account_features.sql",
            "SELECT * FROM zzz",
        );
        write(
            dir.path(),
            "outputs/quality.sql",
            "SELECT * FROM stg_unread JOIN zzz USING (id)",
        );
        let project = Project::load(dir.path(), "segment").unwrap();
        assert_eq!(project.views.len(), 6);
        let trimmed = project.reading_into(FINAL_VIEW);
        let names: Vec<_> = trimmed.views.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["stg_b", "stg_a", "zzz", "account_features"]);
        let names: Vec<_> = project
            .reading_into("quality")
            .views
            .iter()
            .map(|v| v.name.clone())
            .collect();
        assert_eq!(names, ["stg_b", "stg_a", "stg_unread", "zzz", "quality"]);
    }

    #[test]
    fn a_format_folder_replaces_same_named_files_and_adds_its_own() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "staging/stg_a.sql", "SELECT 1 AS segment");
        write(dir.path(), "staging/stg_b.sql", "SELECT 1 AS shared");
        write(
            dir.path(),
            "staging/posthog/stg_a.sql",
            "SELECT * FROM stg_c",
        );
        write(
            dir.path(),
            "staging/posthog/stg_c.sql",
            "SELECT 1 AS posthog",
        );
        write(dir.path(), "seeds/s.csv", "a\n1\n");
        write(dir.path(), "seeds/posthog/aliases.csv", "a\n1\n");
        write(
            dir.path(),
            "features/account_features.sql",
            "SELECT * FROM stg_a, stg_b",
        );
        let names = |format: &str| {
            let p = Project::load(dir.path(), format).unwrap();
            let views: Vec<String> = p
                .views
                .iter()
                .map(|v| format!("{}:{}", v.name, v.sql))
                .collect();
            let seeds: Vec<String> = p.seeds.iter().map(|s| s.name.clone()).collect();
            (views, seeds)
        };
        let (views, seeds) = names("segment");
        assert_eq!(
            views,
            [
                "stg_a:SELECT 1 AS segment",
                "stg_b:SELECT 1 AS shared",
                "account_features:SELECT * FROM stg_a, stg_b"
            ]
        );
        assert_eq!(seeds, ["s"]);
        let (views, seeds) = names("posthog");
        assert_eq!(
            views,
            [
                "stg_b:SELECT 1 AS shared",
                "stg_c:SELECT 1 AS posthog",
                "stg_a:SELECT * FROM stg_c",
                "account_features:SELECT * FROM stg_a, stg_b"
            ]
        );
        assert_eq!(seeds, ["aliases", "s"]);
    }

    #[test]
    fn rejects_ddl_dml_and_multiple_statements() {
        let cases = [
            "CREATE TABLE t AS SELECT 1",
            "INSERT INTO t VALUES (1)",
            "DROP TABLE raw.tracks",
            "COPY (SELECT 1) TO '/tmp/x.parquet'",
            "SELECT 1; SELECT 2",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/tmp'",
        ];
        for sql in cases {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "features/account_features.sql", sql);
            let err = Project::load(dir.path(), "segment").unwrap_err();
            assert!(
                matches!(err, FeatureError::NotAQuery { .. }),
                "{sql}: {err}"
            );
            assert!(err.to_string().contains("account_features.sql"), "{err}");
        }
    }

    #[test]
    fn cycles_name_the_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "features/a.sql", "SELECT * FROM b");
        write(dir.path(), "features/b.sql", "SELECT * FROM a");
        write(
            dir.path(),
            "features/account_features.sql",
            "SELECT * FROM a",
        );
        let err = Project::load(dir.path(), "segment")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.sql") && err.contains("b.sql"), "{err}");
    }

    #[test]
    fn staging_may_not_read_features() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "staging/stg.sql",
            "SELECT * FROM account_features",
        );
        write(
            dir.path(),
            "features/account_features.sql",
            "SELECT 1 AS account_id",
        );
        let err = Project::load(dir.path(), "segment").unwrap_err();
        assert!(matches!(err, FeatureError::ReadsLaterLayer { .. }), "{err}");
    }

    #[test]
    fn parse_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "features/account_features.sql", "SELEC 1");
        let err = Project::load(dir.path(), "segment")
            .unwrap_err()
            .to_string();
        assert!(err.contains("account_features.sql"), "{err}");
    }

    #[test]
    fn a_project_without_account_features_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "features/other.sql", "SELECT 1");
        let err = Project::load(dir.path(), "segment").unwrap_err();
        assert!(matches!(err, FeatureError::NoFinalView { .. }), "{err}");
    }
}
