//! Partition pruning from event time. Exports are hive-partitioned by load date
//! (`day=YYYY-MM-DD/`, `dt=YYYY-MM-DD/`), but feature SQL filters on `timestamp`, so DataFusion
//! alone would open every partition. This wrapper turns a `timestamp` range in a scan's filters
//! into a range on the partition column, widened by `slack_days` because an event can land in
//! a partition a little before or after its own date (late delivery, client clocks).

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{ScalarValue, Statistics};
use datafusion::error::Result;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Between, BinaryExpr, Expr, LogicalPlan, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{col, lit};

/// A table whose hive partition column (`day`/`dt`) is the date of its time column, roughly.
#[derive(Debug)]
pub struct TimePartitioned {
    pub inner: Arc<dyn TableProvider>,
    pub time_column: String,
    pub partition_column: String,
    pub slack_days: i64,
}

/// Bounds on a time column, in microseconds since the epoch (both inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl TimeRange {
    fn tighten_min(&mut self, v: i64) {
        self.min = Some(self.min.map_or(v, |m| m.max(v)));
    }
    fn tighten_max(&mut self, v: i64) {
        self.max = Some(self.max.map_or(v, |m| m.min(v)));
    }
}

/// The range of `column` implied by a conjunction of filters. Pure.
pub fn time_range(filters: &[Expr], column: &str) -> TimeRange {
    let mut range = TimeRange::default();
    for filter in filters {
        for expr in split_conjunction(filter) {
            match expr {
                Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                    let (op, value) = match (column_name(left), micros(right)) {
                        (Some(c), Some(v)) if c == column => (*op, v),
                        _ => match (column_name(right), micros(left)) {
                            (Some(c), Some(v)) if c == column => match op.swap() {
                                Some(op) => (op, v),
                                None => continue,
                            },
                            _ => continue,
                        },
                    };
                    // Bounds are kept inclusive: a strict bound moves one microsecond in,
                    // so `< midnight` does not reach the next day's partition.
                    match op {
                        Operator::GtEq => range.tighten_min(value),
                        Operator::Gt => range.tighten_min(value.saturating_add(1)),
                        Operator::LtEq => range.tighten_max(value),
                        Operator::Lt => range.tighten_max(value.saturating_sub(1)),
                        Operator::Eq => {
                            range.tighten_min(value);
                            range.tighten_max(value);
                        }
                        _ => {}
                    }
                }
                Expr::Between(Between {
                    expr,
                    negated: false,
                    low,
                    high,
                }) if column_name(expr) == Some(column) => {
                    if let Some(v) = micros(low) {
                        range.tighten_min(v);
                    }
                    if let Some(v) = micros(high) {
                        range.tighten_max(v);
                    }
                }
                _ => {}
            }
        }
    }
    range
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(c) => Some(c.name.as_str()),
        Expr::Cast(c) => column_name(&c.expr),
        Expr::TryCast(c) => column_name(&c.expr),
        _ => None,
    }
}

fn micros(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal(v, _) => match v {
            ScalarValue::TimestampSecond(Some(s), _) => s.checked_mul(1_000_000),
            ScalarValue::TimestampMillisecond(Some(ms), _) => ms.checked_mul(1_000),
            ScalarValue::TimestampMicrosecond(Some(us), _) => Some(*us),
            ScalarValue::TimestampNanosecond(Some(ns), _) => Some(ns / 1_000),
            ScalarValue::Date32(Some(d)) => i64::from(*d).checked_mul(86_400_000_000),
            _ => None,
        },
        Expr::Cast(c) => micros(&c.expr),
        _ => None,
    }
}

fn date_of(us: i64) -> Option<NaiveDate> {
    DateTime::from_timestamp_micros(us).map(|t| t.date_naive())
}

/// Filters on the partition column that keep every partition that can hold rows in `range`.
pub fn partition_filters(range: TimeRange, partition_column: &str, slack_days: i64) -> Vec<Expr> {
    let slack = TimeDelta::days(slack_days);
    let mut out = Vec::new();
    if let Some(d) = range.min.and_then(date_of) {
        out.push(col(partition_column).gt_eq(lit((d - slack).format("%Y-%m-%d").to_string())));
    }
    if let Some(d) = range.max.and_then(date_of) {
        out.push(col(partition_column).lt_eq(lit((d + slack).format("%Y-%m-%d").to_string())));
    }
    out
}

impl TimePartitioned {
    fn with_partition_filters(&self, filters: &[Expr]) -> Vec<Expr> {
        let range = time_range(filters, &self.time_column);
        let mut all = filters.to_vec();
        all.extend(partition_filters(
            range,
            &self.partition_column,
            self.slack_days,
        ));
        all
    }
}

#[async_trait]
impl TableProvider for TimePartitioned {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters = self.with_partition_filters(filters);
        self.inner.scan(state, projection, &filters, limit).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> Result<ScanResult> {
        let filters = self.with_partition_filters(args.filters().unwrap_or(&[]));
        let args = ScanArgs::default()
            .with_projection(args.projection())
            .with_filters(Some(&filters))
            .with_limit(args.limit());
        self.inner.scan_with_args(state, args).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Expr {
        let us = DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        lit(ScalarValue::TimestampMicrosecond(
            Some(us),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn range_from_window_filters() {
        let cases = [
            (
                vec![
                    col("timestamp").gt_eq(ts("2026-11-07T00:00:00Z")),
                    col("timestamp").lt(ts("2026-11-21T00:00:00Z")),
                ],
                ("2026-11-05", "2026-11-22"),
            ),
            // Reversed operands and a conjunction in one filter.
            (
                vec![
                    ts("2026-11-07T00:00:00Z")
                        .lt_eq(col("timestamp"))
                        .and(col("timestamp").lt(ts("2026-11-21T00:00:00Z"))),
                ],
                ("2026-11-05", "2026-11-22"),
            ),
            (
                vec![
                    col("timestamp")
                        .between(ts("2026-01-01T10:00:00Z"), ts("2026-01-02T00:00:00Z")),
                ],
                ("2025-12-30", "2026-01-04"),
            ),
        ];
        for (filters, (lo, hi)) in cases {
            let range = time_range(&filters, "timestamp");
            let got = partition_filters(range, "day", 2);
            assert_eq!(
                got,
                vec![col("day").gt_eq(lit(lo)), col("day").lt_eq(lit(hi))],
                "{filters:?}"
            );
        }
    }

    #[test]
    fn unrelated_or_open_filters_prune_nothing() {
        let cases = [
            vec![col("event").eq(lit("x"))],
            vec![col("received_at").gt_eq(ts("2026-11-07T00:00:00Z"))],
            vec![
                col("timestamp")
                    .gt_eq(ts("2026-11-07T00:00:00Z"))
                    .or(col("event").eq(lit("x"))),
            ],
        ];
        for filters in cases {
            assert_eq!(
                time_range(&filters, "timestamp"),
                TimeRange::default(),
                "{filters:?}"
            );
        }
        let only_upper = vec![col("timestamp").lt(ts("2026-11-21T00:00:00Z"))];
        assert_eq!(
            partition_filters(time_range(&only_upper, "timestamp"), "dt", 0),
            vec![col("dt").lt_eq(lit("2026-11-20"))]
        );
    }
}
