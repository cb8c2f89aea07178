//! Compacting string views on the build side of joins.
//!
//! A hash join concatenates its build side into one batch, and arrow concatenates `Utf8View`
//! columns by appending the handles of every input's data buffers, not by copying the strings
//! it references. Each output batch then takes from that batch and keeps all its buffer
//! handles. When that output is the build side of the next join, the handles multiply: in
//! `account_features`, eight joins deep, a column of 8,192 account names carried six million
//! buffer handles (145 MB of handles per column per batch, outside the memory pool, and most
//! of a 50M-row run's time spent cloning them; apache/datafusion#16206). The session's last
//! optimizer rule puts a [`CompactViewsExec`] under every join's build side: it copies the
//! strings a batch references into fresh buffers when the batch carries many handles or mostly
//! unreferenced bytes, so a build side holds what it uses and the chain stays flat.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, GenericByteViewArray};
use datafusion::arrow::datatypes::{ByteViewType, DataType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{CrossJoinExec, HashJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
    replace_children_if_necessary,
};
use futures::StreamExt;

/// More buffer handles than this in one column of one batch is never worth keeping: a batch
/// DataFusion builds itself has a handful, growing to 2 MiB each.
const MAX_BUFFERS: usize = 32;

/// Below this many unreferenced bytes a column is left alone, whatever the ratio.
const MIN_WASTE: usize = 1 << 20;

/// Whether a view column is worth copying: it holds `buffers` handles totalling `held` bytes,
/// of which its views reference `used`.
pub fn worth_compacting(buffers: usize, held: usize, used: usize) -> bool {
    buffers > MAX_BUFFERS || (held > used.saturating_mul(2) && held - used > MIN_WASTE)
}

/// The view array compacted, if it is worth it.
fn compact_views<T: ByteViewType + ?Sized>(array: &GenericByteViewArray<T>) -> Option<ArrayRef> {
    let held = array.data_buffers().iter().map(|b| b.len()).sum();
    // The low 32 bits of a view are the value's length; longer than 12 bytes, it lives in a
    // data buffer rather than in the view.
    let used = array
        .views()
        .iter()
        .map(|v| *v as u32 as usize)
        .filter(|len| *len > 12)
        .sum();
    worth_compacting(array.data_buffers().len(), held, used)
        .then(|| Arc::new(array.gc()) as ArrayRef)
}

/// The column, compacted if it is a view column worth compacting.
fn compact_column(column: &ArrayRef) -> Option<ArrayRef> {
    match column.data_type() {
        DataType::Utf8View => compact_views(column.as_string_view()),
        DataType::BinaryView => compact_views(column.as_binary_view()),
        _ => None,
    }
}

/// The batch with its wasteful view columns compacted, and how many columns were.
pub fn compact_batch(batch: RecordBatch) -> Result<(RecordBatch, usize)> {
    let mut compacted = 0;
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| {
            compact_column(c).map_or_else(
                || Arc::clone(c),
                |c| {
                    compacted += 1;
                    c
                },
            )
        })
        .collect();
    if compacted == 0 {
        return Ok((batch, 0));
    }
    Ok((RecordBatch::try_new(batch.schema(), columns)?, compacted))
}

/// Passes its input through, compacting view columns (see the module docs).
#[derive(Debug, Clone)]
pub struct CompactViewsExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl CompactViewsExec {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            properties: Arc::clone(input.properties()),
            input,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for CompactViewsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactViewsExec")
    }
}

impl ExecutionPlan for CompactViewsExec {
    fn name(&self) -> &str {
        "CompactViewsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(children.swap_remove(0))))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let columns: Count =
            MetricBuilder::new(&self.metrics).counter("compacted_columns", partition);
        let stream = input.map(move |batch| {
            let _timer = baseline.elapsed_compute().timer();
            let (batch, n) = compact_batch(batch?)?;
            columns.add(n);
            baseline.record_output(batch.num_rows());
            Ok(batch)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The optimizer rule: a [`CompactViewsExec`] under the build side of every join that
/// concatenates it, when that side has view columns.
#[derive(Debug, Default)]
pub struct CompactBuildSides;

fn builds_left(plan: &dyn ExecutionPlan) -> bool {
    plan.is::<HashJoinExec>() || plan.is::<NestedLoopJoinExec>() || plan.is::<CrossJoinExec>()
}

fn has_views(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView))
}

impl PhysicalOptimizerRule for CompactBuildSides {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if !builds_left(node.as_ref()) {
                return Ok(Transformed::no(node));
            }
            let mut children: Vec<_> = node.children().into_iter().cloned().collect();
            let build = &children[0];
            if !has_views(build) || build.is::<CompactViewsExec>() {
                return Ok(Transformed::no(node));
            }
            children[0] = Arc::new(CompactViewsExec::new(Arc::clone(build)));
            replace_children_if_necessary(node, children).map(Transformed::yes)
        })
        .data()
    }

    fn name(&self) -> &str {
        "compact_build_sides"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringViewBuilder;
    use datafusion::arrow::compute::concat;
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn worth_compacting_table() {
        let mb = 1 << 20;
        // (buffers, held, used, compact?)
        let cases = [
            (0, 0, 0, false),
            (1, 2 * mb, 2 * mb, false),
            (32, 64 * mb, 64 * mb, false),
            (33, 1000, 1000, true),
            (2, 4 * mb, 2 * mb, false),    // exactly twice: keep
            (2, 4 * mb + 1, 2 * mb, true), // more than twice and over 1 MiB of waste
            (1, 100_000, 1_000, false),    // wasteful but small
            (1, 3 * mb, mb / 2, true),
        ];
        for (buffers, held, used, want) in cases {
            assert_eq!(
                worth_compacting(buffers, held, used),
                want,
                "buffers {buffers}, held {held}, used {used}"
            );
        }
    }

    fn names(n: usize) -> ArrayRef {
        let mut b = StringViewBuilder::new();
        for i in 0..n {
            b.append_value(format!("account name number {i:06}"));
        }
        Arc::new(b.finish())
    }

    #[test]
    fn concatenated_views_are_compacted_to_what_they_reference() {
        // What a join's build side sees after a few levels: the same buffers appended many
        // times over.
        let one = names(100);
        let many: Vec<&dyn Array> = std::iter::repeat_n(one.as_ref(), 40).collect();
        let wide = concat(&many).unwrap();
        assert!(wide.as_string_view().data_buffers().len() > MAX_BUFFERS);
        let schema = Arc::new(Schema::new(vec![Field::new(
            "name",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![Arc::clone(&wide)]).unwrap();
        let (out, n) = compact_batch(batch).unwrap();
        assert_eq!(n, 1);
        let col = out.column(0).as_string_view();
        assert!(
            col.data_buffers().len() <= 2,
            "{}",
            col.data_buffers().len()
        );
        assert_eq!(col.len(), 4000);
        for i in [0, 99, 100, 3999] {
            assert_eq!(col.value(i), wide.as_string_view().value(i));
        }
    }

    #[test]
    fn compact_columns_pass_through() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "name",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema, vec![names(100)]).unwrap();
        let (out, n) = compact_batch(batch.clone()).unwrap();
        assert_eq!(n, 0);
        assert!(Arc::ptr_eq(out.column(0), batch.column(0)));
    }

    /// The largest number of buffer handles any view column of the query's output carries.
    async fn most_handles(ctx: &datafusion::prelude::SessionContext) -> usize {
        use datafusion::arrow::array::Int64Array;
        let batches = |range: std::ops::Range<usize>, named: bool| -> Vec<RecordBatch> {
            let schema = Arc::new(Schema::new(if named {
                vec![
                    Field::new("account_id", DataType::Utf8View, false),
                    Field::new("name", DataType::Utf8View, false),
                ]
            } else {
                vec![
                    Field::new("account_id", DataType::Utf8View, false),
                    Field::new("n", DataType::Int64, false),
                ]
            }));
            range
                .collect::<Vec<_>>()
                .chunks(100)
                .map(|ids| {
                    let mut accounts = StringViewBuilder::new();
                    let mut names = StringViewBuilder::new();
                    for i in ids {
                        accounts.append_value(format!("account {i:08} with a long id"));
                        names.append_value(format!("the company that account {i} belongs to"));
                    }
                    let second: ArrayRef = if named {
                        Arc::new(names.finish())
                    } else {
                        Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| *i as i64)))
                    };
                    RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![Arc::new(accounts.finish()), second],
                    )
                    .unwrap()
                })
                .collect()
        };
        let table = |b: Vec<RecordBatch>| {
            let schema = b[0].schema();
            Arc::new(datafusion::datasource::MemTable::try_new(schema, vec![b]).unwrap())
        };
        // A small table of names left-joined to bigger ones, as account_features joins
        // stg_groups to its features: every join builds on the previous join's output.
        ctx.register_table("g", table(batches(0..500, true)))
            .unwrap();
        for t in ["a", "b", "c", "d"] {
            ctx.register_table(t, table(batches(0..3000, false)))
                .unwrap();
        }
        let sql = "SELECT g.account_id, g.name, a.n AS a, b.n AS b, c.n AS c, d.n AS d FROM g \
                   LEFT JOIN a ON a.account_id = g.account_id \
                   LEFT JOIN b ON b.account_id = g.account_id \
                   LEFT JOIN c ON c.account_id = g.account_id \
                   LEFT JOIN d ON d.account_id = g.account_id";
        let out = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 500);
        out.iter()
            .flat_map(|b| b.columns())
            .filter_map(|c| c.as_string_view_opt())
            .map(|c| c.data_buffers().len())
            .max()
            .unwrap()
    }

    #[tokio::test]
    async fn join_chains_do_not_multiply_view_buffers() {
        let engine = crate::engine::EngineConfig {
            target_partitions: 1,
            batch_size: 100,
            ..Default::default()
        };
        // DataFusion alone: the handles multiply at every join (apache/datafusion#16206).
        let plain = datafusion::prelude::SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new()
                .with_target_partitions(1)
                .with_batch_size(100),
        );
        let without = most_handles(&plain).await;
        assert!(
            without > 100,
            "the chain should show the bug: {without} handles"
        );
        let (ctx, _) = crate::engine::session(&engine).unwrap();
        let with = most_handles(&ctx).await;
        assert!(
            with <= MAX_BUFFERS,
            "{with} handles (DataFusion alone: {without})"
        );
    }
}
