//! Bad input: each case must fail with exit code 2, a message naming the dataset, file, column
//! or config key at fault, and nothing written — no decisions file, no temp file, no state.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::*;
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
    // Each of these signals replaces its whole list, so it is worth 100 points: the tiers and
    // the hot-PQL threshold stay within reach, and the error is the one under test.
    let c = Case::new();
    c.append_config("\n[[scoring.usage]]\nfeature = \"dashboards_shared_14d\"\nop = \">=\"\nvalue = 1\npoints = 100\n");
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
        "\n[[scoring.fit]]\nfeature = \"industry\"\nop = \">=\"\nvalue = 3\npoints = 100\n",
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
    c.append_config("\n[[scoring.usage]]\nfeature = \"seats\"\nop = \"is_false\"\npoints = 100\n");
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
    let file = corrupt_data_pages(&c.data.join("tracks/day=2026-11-19"));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    c.fails(&[
        "dataset `tracks`",
        "cannot be decoded",
        &format!("day=2026-11-19/{name}"),
    ]);
}

/// The one Parquet file at `path` with column `name` replaced by `f(row, old)`.
fn rewrite(path: &Path, name: &str, f: impl Fn(usize, ArrayRef) -> ArrayRef) {
    let batches = read_dir_batches(path).unwrap();
    let batch = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let i = batch.schema().index_of(name).unwrap();
    let mut columns = batch.columns().to_vec();
    columns[i] = f(batch.num_rows(), columns[i].clone());
    let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn texts(a: &ArrayRef) -> Vec<Option<String>> {
    let a = a.as_any().downcast_ref::<StringArray>().unwrap();
    a.iter().map(|v| v.map(str::to_string)).collect()
}

/// A subscription status outside Stripe's list (`paused_by_gremlin`) was read as `active`,
/// making its account a paying customer; a negative price gave negative MRR; a subscription of
/// a customer mapped to no account vanished uncounted. Each is set aside, counted, and warned
/// about with its value and file.
#[test]
fn billing_values_stripe_never_produces_were_trusted() {
    use datafusion::arrow::array::{Array, Int64Array};
    let c = Case::new();
    let stripe = c.data.join("stripe");
    let subscriptions = stripe.join("subscriptions.parquet");
    let batches = read_dir_batches(&subscriptions).unwrap();
    let (ids, customers, statuses): (Vec<String>, Vec<String>, Vec<String>) = {
        let b = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let col = |n: &str| -> Vec<String> {
            texts(b.column(b.schema().index_of(n).unwrap()))
                .into_iter()
                .map(Option::unwrap)
                .collect()
        };
        (col("id"), col("customer_id"), col("status"))
    };
    let active: Vec<usize> = (0..ids.len())
        .filter(|&i| statuses[i] == "active")
        .collect();
    assert!(active.len() >= 3, "the demo has {} active", active.len());
    let (gremlin, negative) = (active[0], active[1]);
    let orphan = (0..ids.len()).find(|&i| statuses[i] == "canceled").unwrap();
    rewrite(&subscriptions, "status", |_, old| {
        let mut v = texts(&old);
        v[gremlin] = Some("paused_by_gremlin".into());
        Arc::new(StringArray::from(v))
    });
    rewrite(&subscriptions, "customer_id", |_, old| {
        let mut v = texts(&old);
        v[orphan] = Some("cus_nobody_knows".into());
        Arc::new(StringArray::from(v))
    });
    let items = stripe.join("subscription_items.parquet");
    let item_subs = texts(&read_dir_batches(&items).unwrap()[0].column(0).clone());
    let negative_items = item_subs
        .iter()
        .filter(|s| s.as_deref() == Some(&ids[negative]))
        .count();
    assert!(negative_items > 0);
    rewrite(&items, "price_unit_amount", |_, old| {
        let old = old.as_any().downcast_ref::<Int64Array>().unwrap();
        let v: Int64Array = (0..old.len())
            .map(|i| {
                let price = (!old.is_null(i)).then(|| old.value(i));
                if item_subs[i].as_deref() == Some(&ids[negative]) {
                    price.map(|p| -p.abs() - 1)
                } else {
                    price
                }
            })
            .collect();
        Arc::new(v)
    });

    let o = pqlsync(c.path())
        .args(["run", "--dry-run", "--summary-json", "s.json"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        stdout(&o).contains("subscriptions_unknown_status"),
        "{}",
        stdout(&o)
    );
    for needle in [
        "subscriptions_unknown_status",
        "\"paused_by_gremlin\"",
        "subscriptions_without_account",
        "\"cus_nobody_knows\"",
        "subscription_items_negative_price",
        "stripe/subscriptions.parquet",
        "stripe/subscription_items.parquet",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle}:\n{err}");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.path().join("s.json")).unwrap()).unwrap();
    let dq = &s["data_quality"];
    assert_eq!(dq["subscriptions_unknown_status"], 1, "{dq}");
    assert_eq!(dq["subscriptions_without_account"], 1, "{dq}");
    assert_eq!(
        dq["subscription_items_negative_price"], negative_items,
        "{dq}"
    );
    assert_eq!(
        s["set_aside"][0]["check"],
        "subscription_items_negative_price"
    );

    // Neither account is turned into something Stripe never said: the unknown status is no
    // subscription (not a customer), the negative line adds no MRR (never below zero).
    let metadata = read_rows(&stripe.join("customers_metadata.parquet"));
    let account_of = |customer: &str| -> String {
        let row = metadata
            .iter()
            .find(|r| get(r, "customer_id").as_str() == Some(customer))
            .unwrap();
        get(row, "value").as_str().unwrap().to_string()
    };
    let scored = c.path().join("scored.parquet");
    let o = pqlsync(c.path())
        .arg("score")
        .arg("--out")
        .arg(&scored)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let decisions = read_rows(&scored);
    let decision = |account: &str| {
        decisions
            .iter()
            .find(|r| get(r, "account_id").as_str() == Some(account))
            .unwrap()
    };
    // (The demo gives an account one subscription at a time.)
    let g = decision(&account_of(&customers[gremlin]));
    assert_ne!(get(g, "subscription_status").as_str(), Some("active"));
    assert_ne!(get(g, "motion").as_str(), Some("customer"));
    let n = decision(&account_of(&customers[negative]));
    assert!(get(n, "mrr").as_i64().unwrap_or(0) >= 0, "{n:?}");
}
