//! Bad input: each case must fail with exit code 2, a message naming the dataset, file, column
//! or config key at fault, and nothing written — no decisions file, no temp file, no state.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;

struct Case {
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let data = demo_data(dir.path(), 40, 20, 3);
        write_config(dir.path(), &data, "");
        Case { dir, data }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Point the config's SQL at a private copy of the project, to break it.
    fn own_sql(&self) -> PathBuf {
        let sql = self.path().join("sql");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"), &sql);
        let config = self.path().join("pqlsync.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text
            .lines()
            .map(|l| {
                if l.starts_with("dir = ") && l.ends_with("/sql\"") {
                    format!("dir = \"{}\"", sql.display())
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(config, text).unwrap();
        sql
    }

    fn append_config(&self, extra: &str) {
        let config = self.path().join("pqlsync.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(extra);
        std::fs::write(config, text).unwrap();
    }

    /// Run `run`; expect exit 2, every `needles` in stderr, and nothing written.
    fn fails(&self, needles: &[&str]) {
        let o = pqlsync(self.path()).arg("run").output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "stderr: {err}");
        for n in needles {
            assert!(err.contains(n), "stderr lacks `{n}`:\n{err}");
        }
        assert!(err.starts_with("error: "), "{err}");
        let out = self.path().join("out");
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "wrote {leftovers:?} despite failing");
        assert!(
            !self.path().join("state/routing.json").exists(),
            "state advanced despite failing"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

fn write_strings(path: &Path, columns: &[(&str, &[&str])]) {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, _)| Field::new(*n, datafusion::arrow::datatypes::DataType::Utf8, true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|(_, v)| Arc::new(StringArray::from(v.to_vec())) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn missing_dataset() {
    let c = Case::new();
    std::fs::remove_dir_all(c.data.join("identifies")).unwrap();
    c.fails(&[
        "dataset `identifies`",
        "no Parquet files",
        "[sources] identifies",
    ]);
}

#[test]
fn missing_column() {
    let c = Case::new();
    write_strings(
        &c.data.join("groups.parquet"),
        &[("group_id", &["acct_1"]), ("website", &["x.com"])],
    );
    c.fails(&[
        "dataset `groups`",
        "column `timestamp` is missing",
        "expected a timestamp",
    ]);
}

#[test]
fn mistyped_column() {
    let c = Case::new();
    let ident = c.data.join("identifies");
    std::fs::remove_dir_all(&ident).unwrap();
    std::fs::create_dir(&ident).unwrap();
    write_strings(
        &ident.join("part.parquet"),
        &[
            ("user_id", &["u"]),
            ("email", &["u@x.com"]),
            ("timestamp", &["2026-11-01"]),
            ("context_group_id", &["a"]),
        ],
    );
    c.fails(&[
        "dataset `identifies`",
        "column `timestamp` has type Utf8",
        "expected a timestamp",
    ]);
}

#[test]
fn conflicting_types_across_files() {
    let c = Case::new();
    write_strings(
        &c.data.join("identifies/part-00001.parquet"),
        &[
            ("user_id", &["u"]),
            ("email", &["u@x.com"]),
            ("timestamp", &["2026-11-01"]),
            ("context_group_id", &["a"]),
        ],
    );
    c.fails(&[
        "dataset `identifies`",
        "column `timestamp`",
        "part-00001.parquet",
    ]);
}

#[test]
fn unreadable_parquet_file() {
    let c = Case::new();
    let bad = c.data.join("tracks/day=2026-11-19/corrupt.parquet");
    std::fs::write(&bad, b"PAR1 this is not parquet at all").unwrap();
    c.fails(&["dataset `tracks`", "cannot read", "corrupt.parquet"]);
}

#[test]
fn file_outside_the_partition_layout() {
    let c = Case::new();
    std::fs::copy(
        std::fs::read_dir(c.data.join("tracks/day=2026-11-19"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
        c.data.join("tracks/stray.parquet"),
    )
    .unwrap();
    c.fails(&["dataset `tracks`", "stray.parquet", "day=…/"]);
}

#[test]
fn unknown_config_key() {
    let c = Case::new();
    c.append_config("\n[engine]\nmemory_limt = \"1GB\"\n");
    c.fails(&["pqlsync.toml", "memory_limt"]);
}

#[test]
fn sql_error_names_the_file() {
    let c = Case::new();
    let sql = c.own_sql();
    std::fs::write(sql.join("features/seats.sql"), "SELECT account_id, count(DISTINCT user_idd) AS seats FROM stg_identifies GROUP BY account_id").unwrap();
    c.fails(&["features/seats.sql", "user_idd"]);
}

#[test]
fn ddl_in_analyst_sql_is_refused() {
    let c = Case::new();
    let sql = c.own_sql();
    std::fs::write(sql.join("features/evil.sql"), "DROP TABLE raw.tracks").unwrap();
    c.fails(&[
        "features/evil.sql",
        "exactly one SELECT query",
        "DDL or DML",
    ]);
}

#[test]
fn account_features_without_a_contract_column() {
    let c = Case::new();
    let sql = c.own_sql();
    let path = sql.join("features/account_features.sql");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("COALESCE(s.seats, 0)                    AS seats,", "");
    std::fs::write(&path, text).unwrap();
    c.fails(&["account_features", "column `seats` is missing"]);
}

#[test]
fn unknown_feature_in_a_signal() {
    let c = Case::new();
    c.append_config("\n[[scoring.usage]]\nfeature = \"dashboards_shared_14d\"\nop = \">=\"\nvalue = 1\npoints = 10\n");
    c.fails(&[
        "scoring.usage[0].feature",
        "dashboards_shared_14d",
        "not a column of account_features",
    ]);
}

#[test]
fn numeric_comparison_on_a_text_feature() {
    let c = Case::new();
    c.append_config(
        "\n[[scoring.fit]]\nfeature = \"industry\"\nop = \">=\"\nvalue = 3\npoints = 10\n",
    );
    c.fails(&["scoring.fit[0].op", "industry", "compares numbers"]);
}

#[test]
fn a_failure_while_streaming_leaves_nothing_behind() {
    let c = Case::new();
    let sql = c.own_sql();
    let path = sql.join("features/account_features.sql");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "-- extras",
        "-- extras\n    CAST(concat('not a number ', g.account_id) AS BIGINT) AS boom,",
    );
    std::fs::write(&path, text).unwrap();
    c.fails(&["computing account_features", "not a number"]);
}

#[test]
fn missing_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("pqlsync.toml not found"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_as_of() {
    let c = Case::new();
    let o = pqlsync(c.path())
        .args(["run", "--as-of", "11/20/2026"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--as-of"), "{}", stderr(&o));
}

/// Rows under `day=garbage/` fell outside every time range and were skipped without a word.
#[test]
fn a_date_partition_that_is_not_a_date() {
    let c = Case::new();
    let garbage = c.data.join("tracks/day=garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    let one = std::fs::read_dir(c.data.join("tracks/day=2026-11-19"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::copy(one, garbage.join("part.parquet")).unwrap();
    c.fails(&[
        "dataset `tracks`",
        "data/tracks/day=garbage",
        "day=garbage is not YYYY-MM-DD",
    ]);
}

/// A file without a required column merged with the others and read its rows as nulls.
#[test]
fn one_file_without_a_required_column() {
    let c = Case::new();
    // A timestamp column of the right type, but no `email`.
    let source = c.data.join("identifies/part-00000.parquet");
    let batches = read_dir_batches(&source).unwrap();
    let batch = &batches[0];
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|i| batch.schema().field(*i).name() != "email")
        .collect();
    let trimmed = batch.project(&keep).unwrap();
    let mut w = ArrowWriter::try_new(
        File::create(c.data.join("identifies/part-00001.parquet")).unwrap(),
        trimmed.schema(),
        None,
    )
    .unwrap();
    w.write(&trimmed).unwrap();
    w.close().unwrap();
    c.fails(&[
        "dataset `identifies`",
        "data/identifies/part-00001.parquet",
        "lacks the required column `email`",
    ]);
}

#[test]
fn a_boolean_test_on_a_number() {
    let c = Case::new();
    c.append_config("\n[[scoring.usage]]\nfeature = \"seats\"\nop = \"is_false\"\npoints = 10\n");
    c.fails(&["scoring.usage[0].op", "seats", "tests a boolean"]);
}

#[test]
fn a_negative_max_points() {
    let c = Case::new();
    c.append_config(
        "\n[[scoring.usage]]\nfeature = \"seats\"\nop = \">=\"\nvalue = 1\npoints = 5\nper = 1\nmax_points = -20\n",
    );
    c.fails(&["scoring.usage[0].max_points", "positive", "-20"]);
}

/// A file whose footer reads but whose data pages do not failed "computing account_features"
/// without a word about which dataset or file.
#[test]
fn a_corrupt_data_page_names_the_dataset_and_file() {
    let c = Case::new();
    let day = c.data.join("tracks/day=2026-11-19");
    let file = std::fs::read_dir(&day)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    // The column chunks sit between the leading magic and the footer at the end; overwrite
    // the first half of them, leaving the footer (and so the schema) intact.
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let data_end = bytes.len() - 8 - footer_len as usize;
    for b in &mut bytes[4..4 + (data_end - 4) / 2] {
        *b = 0xAB;
    }
    std::fs::write(&file, bytes).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    c.fails(&[
        "dataset `tracks`",
        "cannot be decoded",
        &format!("day=2026-11-19/{name}"),
    ]);
}
