//! A deadline on cluster jobs. Ballista's client waits for a job by polling the scheduler
//! until it reports the job finished or failed; a job the scheduler loses track of (a stage
//! it cannot finish, executors that stopped answering without being declared dead) is polled
//! forever, and a scheduled run that hangs holds the state's lock and tells nobody.
//! [`DeadlinePlanner`] wraps the client's query planner so the root of every query fails once
//! no batch has come for `[engine] job_timeout_secs`, naming the key; the run then ends with
//! exit 2 like any failed query. The scheduler's own liveness is the heartbeat's
//! (`[engine] heartbeat_secs`, HTTP/2 pings on the status stream); when it breaks the
//! connection, the error Ballista passes up is a transport error, which this module turns into
//! one that names the scheduler and the key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;

/// The client's planner, with a [`DeadlineExec`] over every plan it makes.
pub struct DeadlinePlanner {
    pub inner: Arc<dyn QueryPlanner + Send + Sync>,
    pub watch: Watch,
}

/// What a query's stream is watched with.
#[derive(Debug, Clone)]
pub struct Watch {
    /// `[engine] job_timeout_secs`.
    pub limit: Duration,
    /// `[engine] heartbeat_secs`.
    pub heartbeat: Duration,
    /// The scheduler's `df://` address, for the message when it is lost.
    pub scheduler: String,
}

impl fmt::Debug for DeadlinePlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeadlinePlanner({:?})", self.watch)
    }
}

#[async_trait]
impl QueryPlanner for DeadlinePlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self
            .inner
            .create_physical_plan(logical_plan, session_state)
            .await?;
        Ok(Arc::new(DeadlineExec::new(plan, self.watch.clone())))
    }
}

/// Passes its input through, failing when no batch (and no end) has come for `limit`.
#[derive(Debug, Clone)]
pub struct DeadlineExec {
    input: Arc<dyn ExecutionPlan>,
    watch: Watch,
}

impl DeadlineExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, watch: Watch) -> Self {
        Self { input, watch }
    }
}

impl DisplayAs for DeadlineExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeadlineExec: {}s", self.watch.limit.as_secs())
    }
}

/// What the run says when the deadline passes.
pub fn stalled(limit: Duration) -> DataFusionError {
    DataFusionError::Execution(format!(
        "the Ballista cluster answered nothing for {} s ([engine] job_timeout_secs): the job \
         failed or stalled there (the scheduler's log says which stage). Check that the \
         executors are alive and can read the data; raise job_timeout_secs only if the job is \
         merely slow",
        limit.as_secs()
    ))
}

impl ExecutionPlan for DeadlineExec {
    fn name(&self) -> &str {
        "DeadlineExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
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
        Ok(Arc::new(Self::new(
            children.swap_remove(0),
            self.watch.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            within(input, self.watch.clone()),
        )))
    }
}

/// Whether `e` says the job process's connection to the scheduler broke: a transport error
/// on the status stream, not a failure the scheduler reported ("Job … failed: …") nor a
/// result fetched from an executor (`FetchFailed`). A killed scheduler surfaces as a broken
/// pipe, a frozen one as an unanswered heartbeat ping; hyper words both as "h2 protocol
/// error".
fn lost_scheduler(e: &DataFusionError) -> bool {
    let text = e.to_string();
    const TRANSPORT: [&str; 5] = [
        "h2 protocol error",
        "transport error",
        "keep-alive timed out",
        "broken pipe",
        "Stream closed without job completing",
    ];
    !text.contains("FetchFailed") && TRANSPORT.iter().any(|t| text.contains(t))
}

/// What the run says when the scheduler is lost mid-job.
fn lost(watch: &Watch, e: &DataFusionError) -> DataFusionError {
    DataFusionError::Execution(format!(
        "lost the Ballista scheduler at {} mid-job: it was killed, or stopped answering the \
         pings sent every {} s ([engine] heartbeat_secs). Check the scheduler process and \
         rerun once it is back. (Ballista: {e})",
        watch.scheduler,
        watch.heartbeat.as_secs()
    ))
}

/// `input`, failing once a wait for its next item passes `watch.limit`, and naming the
/// scheduler when the connection to it broke. Each wait has the whole limit (a job that
/// answers in parts is making progress); after an error the stream ends, which drops (and so
/// cancels) the job.
fn within(
    input: SendableRecordBatchStream,
    watch: Watch,
) -> impl futures::Stream<Item = Result<datafusion::arrow::record_batch::RecordBatch>> {
    futures::stream::unfold(Some(input), move |input| {
        let watch = watch.clone();
        async move {
            let mut input = input?;
            match tokio::time::timeout(watch.limit, input.next()).await {
                Ok(Some(Err(e))) if lost_scheduler(&e) => Some((Err(lost(&watch, &e)), None)),
                Ok(Some(item)) => Some((item, Some(input))),
                Ok(None) => None,
                Err(_) => Some((Err(stalled(watch.limit)), None)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter as Adapter;

    fn batch(schema: &Arc<Schema>) -> RecordBatch {
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap()
    }

    /// A stream that yields one batch, then waits `then` before the next.
    fn slow(then: Duration) -> SendableRecordBatchStream {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let first = batch(&schema);
        let second = batch(&schema);
        let stream = futures::stream::once(async move { Ok(first) }).chain(futures::stream::once(
            async move {
                tokio::time::sleep(then).await;
                Ok(second)
            },
        ));
        Box::pin(Adapter::new(schema, stream))
    }

    fn watch(limit: Duration) -> Watch {
        Watch {
            limit,
            heartbeat: Duration::from_secs(15),
            scheduler: "df://10.0.0.7:50050".into(),
        }
    }

    async fn drain(limit: Duration, then: Duration) -> Vec<Result<usize>> {
        within(slow(then), watch(limit))
            .map(|r| r.map(|b| b.num_rows()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_job_that_answers_within_the_limit_between_batches_passes() {
        let out = drain(Duration::from_millis(2000), Duration::from_millis(100)).await;
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn a_job_silent_past_the_limit_fails_naming_the_key() {
        let started = std::time::Instant::now();
        let out = drain(Duration::from_millis(200), Duration::from_secs(3600)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(out.len(), 2, "one batch, then the error, then the end");
        let e = out[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("[engine] job_timeout_secs"), "{e}");
    }

    #[test]
    fn a_broken_connection_to_the_scheduler_is_told_apart_from_job_failures() {
        let cases = [
            // A killed scheduler, as Ballista 55 passed it up (a_scheduler_killed_mid_job…).
            (
                "code: 'Unknown error', message: \"h2 protocol error: error reading a body from \
                 connection\", source: hyper::Error(Body, Error { kind: Io(Custom { kind: \
                 BrokenPipe, error: \"stream closed because of a broken pipe\" }) })",
                true,
            ),
            ("status: Unavailable, message: \"transport error\"", true),
            ("Stream closed without job completing", true),
            ("Job 038JD5 failed: Error in stage 3: file not found", false),
            ("FetchFailed(\"exec-1\", 2, 0, \"transport error\")", false),
            ("Arrow error: divide by zero", false),
        ];
        for (text, lost) in cases {
            let e = DataFusionError::Execution(text.into());
            assert_eq!(lost_scheduler(&e), lost, "{text}");
        }
        let e = super::lost(
            &watch(Duration::from_secs(60)),
            &DataFusionError::Execution("transport error".into()),
        )
        .to_string();
        assert!(
            e.contains("df://10.0.0.7:50050") && e.contains("every 15 s ([engine] heartbeat_secs)"),
            "{e}"
        );
    }
}
