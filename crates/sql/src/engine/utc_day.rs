//! The UTC day of a timestamp, by arithmetic: the plan rule that computes
//! `CAST(ts AS DATE)` of a UTC (or zoneless) timestamp as `ts` divided by the length of a day,
//! and the function `utc_day` it calls.
//!
//! Arrow casts every timestamp with a time zone to a date through chrono-tz, looking up the
//! zone's offset value by value, even for UTC. pqlsync's day-grained rollups cast every event
//! they group (`CAST(event_at AS DATE) AS day`), and on 10M events that lookup was a sixth of
//! a `--full-refresh` (perf: `offset_from_utc_datetime`, `from_num_days_from_ce_opt`). A UTC
//! day is a floor division, so the rule rewrites the cast wherever analyst SQL writes it;
//! other time zones keep Arrow's cast.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array};
use datafusion::arrow::datatypes::{
    DataType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The function's name, for a plan read with `-vv` and for a cluster's function registry.
pub const NAME: &str = "utc_day";

/// `utc_day(ts)`: the UTC calendar day of the instant `ts` (of a zoneless timestamp, the day
/// of its wall-clock time), as `CAST(ts AS DATE)` gives for those two.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UtcDay {
    signature: Signature,
}

impl Default for UtcDay {
    fn default() -> Self {
        UtcDay {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// The function as a UDF, for registries and the rule.
pub fn udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(UtcDay::default()))
}

/// Whether `CAST(x AS DATE)` of type `from` is the UTC day of `x`: a zoneless timestamp, or
/// one in UTC by any of the names Arrow accepts for it.
fn is_utc_timestamp(from: &DataType) -> bool {
    match from {
        DataType::Timestamp(_, None) => true,
        DataType::Timestamp(_, Some(tz)) => {
            matches!(tz.as_ref(), "+00:00" | "Z" | "+0000" | "+00")
                || tz.eq_ignore_ascii_case("UTC")
                || tz.eq_ignore_ascii_case("Etc/UTC")
        }
        _ => false,
    }
}

/// Units of `unit` in a day.
fn per_day(unit: TimeUnit) -> i64 {
    const SECONDS: i64 = 86_400;
    match unit {
        TimeUnit::Second => SECONDS,
        TimeUnit::Millisecond => SECONDS * 1_000,
        TimeUnit::Microsecond => SECONDS * 1_000_000,
        TimeUnit::Nanosecond => SECONDS * 1_000_000_000,
    }
}

/// Days since 1970-01-01 of `value` units since then, as a Date32; an error (as Arrow's cast
/// gives) past the range of a Date32.
fn day_of(value: i64, unit: TimeUnit) -> Result<i32, ArrowError> {
    i32::try_from(value.div_euclid(per_day(unit))).map_err(|_| {
        ArrowError::ComputeError(format!(
            "{NAME}: timestamp {value} ({unit:?}) is outside the range of a date"
        ))
    })
}

fn days(array: &ArrayRef) -> Result<Date32Array> {
    let DataType::Timestamp(unit, _) = array.data_type() else {
        return exec_err!("{NAME} takes a timestamp, not {}", array.data_type());
    };
    let unit = *unit;
    let out = match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .try_unary(|v| day_of(v, unit)),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .try_unary(|v| day_of(v, unit)),
        TimeUnit::Microsecond => array
            .as_primitive::<TimestampMicrosecondType>()
            .try_unary(|v| day_of(v, unit)),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .try_unary(|v| day_of(v, unit)),
    };
    Ok(out?)
}

impl ScalarUDFImpl for UtcDay {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::Timestamp(..)] => Ok(DataType::Date32),
            [other] => exec_err!("{NAME} takes a timestamp, not {other}"),
            _ => exec_err!("{NAME} takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{NAME} takes one argument");
        };
        match arg {
            ColumnarValue::Array(array) => Ok(ColumnarValue::Array(Arc::new(days(array)?))),
            ColumnarValue::Scalar(scalar) => {
                let array = scalar.to_array()?;
                let day = days(&array)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&day, 0)?))
            }
        }
    }
}

/// The plan rule: `CAST(ts AS DATE)` of a UTC or zoneless timestamp becomes `utc_day(ts)`,
/// keeping the expression's name so that no schema changes.
#[derive(Debug)]
pub struct UtcDays {
    udf: Arc<ScalarUDF>,
}

impl Default for UtcDays {
    fn default() -> Self {
        UtcDays { udf: udf() }
    }
}

impl OptimizerRule for UtcDays {
    fn name(&self) -> &str {
        "pqlsync_utc_days"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        // Expressions are typed against the node's inputs (a scan's, its table).
        let schema = match (&plan, plan.inputs().first()) {
            (_, Some(input)) => Arc::clone(input.schema()),
            (LogicalPlan::TableScan(scan), None) => {
                Arc::new(datafusion::common::DFSchema::try_from_qualified_schema(
                    scan.table_name.clone(),
                    &scan.source.schema(),
                )?)
            }
            _ => return Ok(Transformed::no(plan)),
        };
        // A join's expressions read both sides: type them against both.
        let schema = match &plan {
            LogicalPlan::Join(join) => {
                let mut both = join.left.schema().as_ref().clone();
                both.merge(join.right.schema());
                Arc::new(both)
            }
            _ => schema,
        };
        let names = NamePreserver::new(&plan);
        plan.map_expressions(|expr| {
            let name = names.save(&expr);
            let rewritten = expr.transform_up(|e| match e {
                Expr::Cast(Cast { expr, field })
                    if field.data_type() == &DataType::Date32
                        && expr
                            .get_type(schema.as_ref())
                            .is_ok_and(|t| is_utc_timestamp(&t)) =>
                {
                    Ok(Transformed::yes(self.udf.call(vec![*expr])))
                }
                e => Ok(Transformed::no(e)),
            })?;
            Ok(rewritten.update_data(|e| name.restore(e)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    fn day(d: &str) -> i32 {
        let d = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
    }

    #[test]
    fn days_at_the_boundaries_of_a_utc_day() {
        // (microseconds since the epoch, the UTC day)
        let table: &[(i64, &str)] = &[
            (0, "1970-01-01"),
            (86_400_000_000 - 1, "1970-01-01"),
            (86_400_000_000, "1970-01-02"),
            (-1, "1969-12-31"),
            (-86_400_000_000, "1969-12-31"),
            (-86_400_000_000 - 1, "1969-12-30"),
            (1_795_219_200_000_000 - 1, "2026-11-20"),
            (1_795_219_200_000_000, "2026-11-21"),
        ];
        for (us, expected) in table {
            assert_eq!(
                day_of(*us, TimeUnit::Microsecond).unwrap(),
                day(expected),
                "{us} µs"
            );
        }
        assert_eq!(day_of(86_399, TimeUnit::Second).unwrap(), 0);
        assert_eq!(day_of(86_400_000, TimeUnit::Millisecond).unwrap(), 1);
        assert_eq!(day_of(-1, TimeUnit::Nanosecond).unwrap(), -1);
        assert!(day_of(i64::MAX, TimeUnit::Second).is_err());
    }

    #[test]
    fn only_utc_and_zoneless_timestamps_are_rewritten() {
        let ts = |tz: Option<&str>| DataType::Timestamp(TimeUnit::Microsecond, tz.map(Into::into));
        assert!(is_utc_timestamp(&ts(None)));
        for tz in ["UTC", "utc", "+00:00", "Z", "Etc/UTC"] {
            assert!(is_utc_timestamp(&ts(Some(tz))), "{tz}");
        }
        for tz in ["Europe/Paris", "+01:00", "America/New_York"] {
            assert!(!is_utc_timestamp(&ts(Some(tz))), "{tz}");
        }
        assert!(!is_utc_timestamp(&DataType::Date64));
    }

    /// The rewritten plan gives what Arrow's cast gives, NULLs and names included, and leaves
    /// other zones to the cast.
    #[tokio::test]
    async fn the_rule_gives_what_the_cast_gives() {
        let sql = "SELECT CAST(t AS DATE), CAST(t AS DATE) AS d, \
                   CAST(arrow_cast(t, 'Timestamp(Microsecond, Some(\"Asia/Tokyo\"))') AS DATE) AS tokyo, \
                   count(*) AS n \
                   FROM (VALUES (TIMESTAMP '2026-11-20T23:59:59Z'), (TIMESTAMP '1969-12-31T23:00:00Z'), \
                   (NULL)) AS v(t) WHERE CAST(t AS DATE) IS NULL OR CAST(t AS DATE) > DATE '1960-01-01' \
                   GROUP BY 1, 2, 3 ORDER BY 2";
        let plain = SessionContext::new();
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_default_features()
            .with_optimizer_rule(Arc::new(UtcDays::default()))
            .build();
        let fast = SessionContext::new_with_state(state);
        let expected = plain.sql(sql).await.unwrap().collect().await.unwrap();
        let df = fast.sql(sql).await.unwrap();
        let plan = format!(
            "{}",
            df.clone().into_optimized_plan().unwrap().display_indent()
        );
        assert!(plan.contains("utc_day("), "{plan}");
        assert!(plan.contains("CAST("), "Tokyo keeps the cast: {plan}");
        let got = df.collect().await.unwrap();
        assert_eq!(
            datafusion::arrow::util::pretty::pretty_format_batches(&got)
                .unwrap()
                .to_string(),
            datafusion::arrow::util::pretty::pretty_format_batches(&expected)
                .unwrap()
                .to_string()
        );
        assert_eq!(got[0].schema(), expected[0].schema());
    }
}
