//! How the tables pqlsync registers cross to the cluster. Ballista ships a query as a
//! DataFusion logical plan (datafusion-proto), and its codec knows listing tables and views but
//! not the two providers the feature pipeline adds: in-memory tables (seeds, incremental
//! rollups, report results, empty stand-ins for unconfigured datasets) and the time-partition
//! pruning wrapper around hive-partitioned exports. [`Codec`] encodes those and hands
//! everything else to Ballista's own codec. The client encodes with it; the scheduler, which
//! plans the physical query, decodes with it. Executors only see physical plans, where both
//! have become ordinary Parquet and memory scans.

use std::io::Cursor;
use std::sync::Arc;

use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::provider_as_source;
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{
    AggregateUDF, Extension, LogicalPlan, ScalarUDF, TableScanBuilder, WindowUDF,
};
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use serde::{Deserialize, Serialize};

use crate::source::TimePartitioned;

/// Table provider encodings: a tag byte, then the body.
const BALLISTA: u8 = 0;
const MEMORY: u8 = 1;
const TIME_PARTITIONED: u8 = 2;

/// pqlsync's logical codec: in-memory tables as Arrow IPC, the partition-pruning wrapper as
/// its settings plus the listing table it wraps, the rest as Ballista encodes it.
#[derive(Debug, Default)]
pub struct Codec {
    inner: BallistaLogicalExtensionCodec,
}

/// The wrapper's settings, beside the encoded scan of the table it wraps.
#[derive(Serialize, Deserialize)]
struct Pruning {
    time_column: String,
    partition_column: String,
    slack_days: i64,
}

fn internal(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("pqlsync cluster codec: {what}: {e}"))
}

impl Codec {
    fn encode_memory(table: &MemTable, buf: &mut Vec<u8>) -> Result<()> {
        let schema = table.schema();
        let mut writer = StreamWriter::try_new(&mut *buf, &schema)?;
        for partition in &table.batches {
            let batches = partition
                .try_read()
                .map_err(|e| internal("an in-memory table is being written", e))?;
            for batch in batches.iter() {
                writer.write(batch)?;
            }
        }
        writer.finish()?;
        Ok(())
    }

    fn decode_memory(body: &[u8], schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
        let reader = StreamReader::try_new(Cursor::new(body), None)?;
        let batches = reader
            .map(|batch| {
                // The plan's schema is the one the query was planned with (field metadata
                // included), so the rows take it.
                let batch = batch?;
                Ok(RecordBatch::try_new(
                    Arc::clone(&schema),
                    batch.columns().to_vec(),
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }

    fn encode_partitioned(
        &self,
        table_ref: &TableReference,
        table: &TimePartitioned,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let header = serde_json::to_vec(&Pruning {
            time_column: table.time_column.clone(),
            partition_column: table.partition_column.clone(),
            slack_days: table.slack_days,
        })
        .map_err(|e| internal("encoding a partitioned table", e))?;
        // The wrapped listing table goes as a scan of it, the form datafusion-proto encodes.
        let scan = LogicalPlan::TableScan(
            TableScanBuilder::new(
                table_ref.clone(),
                provider_as_source(Arc::clone(&table.inner)),
            )
            .build()?,
        );
        let inner = logical_plan_to_bytes_with_extension_codec(&scan, self)?;
        buf.extend_from_slice(&(header.len() as u32).to_le_bytes());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(&inner);
        Ok(())
    }

    fn decode_partitioned(&self, body: &[u8], ctx: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        let short = || internal("a partitioned table", "truncated");
        let len = u32::from_le_bytes(
            body.get(..4)
                .ok_or_else(short)?
                .try_into()
                .map_err(|_| short())?,
        ) as usize;
        let header = body.get(4..4 + len).ok_or_else(short)?;
        let pruning: Pruning =
            serde_json::from_slice(header).map_err(|e| internal("a partitioned table", e))?;
        let plan = logical_plan_from_bytes_with_extension_codec(&body[4 + len..], ctx, self)?;
        let LogicalPlan::TableScan(scan) = plan else {
            return Err(internal(
                "a partitioned table",
                "the wrapped table is not a scan",
            ));
        };
        Ok(Arc::new(TimePartitioned {
            inner: source_as_provider(&scan.source)?,
            time_column: pruning.time_column,
            partition_column: pruning.partition_column,
            slack_days: pruning.slack_days,
        }))
    }
}

impl LogicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&MEMORY, body)) => Codec::decode_memory(body, schema),
            Some((&TIME_PARTITIONED, body)) => self.decode_partitioned(body, ctx),
            Some((&BALLISTA, body)) => self
                .inner
                .try_decode_table_provider(body, table_ref, schema, ctx),
            _ => Err(internal(
                "table provider",
                format!("`{table_ref}` was encoded by another version of pqlsync"),
            )),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = node.downcast_ref::<MemTable>() {
            buf.push(MEMORY);
            Codec::encode_memory(table, buf)
        } else if let Some(table) = node.downcast_ref::<TimePartitioned>() {
            buf.push(TIME_PARTITIONED);
            self.encode_partitioned(table_ref, table, buf)
        } else {
            buf.push(BALLISTA);
            self.inner.try_encode_table_provider(table_ref, node, buf)
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };

    use super::*;

    fn roundtrip(table: Arc<dyn TableProvider>) -> Arc<dyn TableProvider> {
        let codec = Codec::default();
        let name = TableReference::partial("raw", "t");
        let mut buf = vec![];
        codec
            .try_encode_table_provider(&name, Arc::clone(&table), &mut buf)
            .unwrap();
        codec
            .try_decode_table_provider(&buf, &name, table.schema(), &TaskContext::default())
            .unwrap()
    }

    #[test]
    fn in_memory_tables_cross_with_their_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("domain", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = |d: &[&str], n: &[i64]| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from(d.to_vec())),
                    Arc::new(Int64Array::from(n.to_vec())),
                ],
            )
            .unwrap()
        };
        let rows = vec![batch(&["a.io", "b.io"], &[1, 2]), batch(&["c.io"], &[3])];
        // Two partitions, and an empty table (the stand-in for an unconfigured dataset).
        let table = MemTable::try_new(
            Arc::clone(&schema),
            vec![rows[..1].to_vec(), rows[1..].to_vec()],
        )
        .unwrap();
        let back = roundtrip(Arc::new(table));
        let back = back.downcast_ref::<MemTable>().unwrap();
        let got: Vec<RecordBatch> = back.batches[0].try_read().unwrap().clone();
        assert_eq!(got, rows);

        let empty = MemTable::try_new(Arc::clone(&schema), vec![vec![]]).unwrap();
        let back = roundtrip(Arc::new(empty));
        let back = back.downcast_ref::<MemTable>().unwrap();
        assert!(back.batches[0].try_read().unwrap().is_empty());
        assert_eq!(back.schema(), schema);
    }

    #[test]
    fn the_pruning_wrapper_crosses_with_its_settings_and_listing_table() {
        let schema = Arc::new(Schema::new(vec![Field::new("event", DataType::Utf8, true)]));
        let url = ListingTableUrl::parse("file:///exports/tracks/").unwrap();
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet.zst")
            .with_table_partition_cols(vec![("day".into(), DataType::Utf8)]);
        let listing = ListingTable::try_new(
            ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(schema),
        )
        .unwrap();
        let table = TimePartitioned {
            inner: Arc::new(listing),
            time_column: "timestamp".into(),
            partition_column: "day".into(),
            slack_days: 3,
        };
        let back = roundtrip(Arc::new(table));
        let back = back.downcast_ref::<TimePartitioned>().unwrap();
        assert_eq!(
            (
                back.time_column.as_str(),
                back.partition_column.as_str(),
                back.slack_days
            ),
            ("timestamp", "day", 3)
        );
        let inner = back.inner.downcast_ref::<ListingTable>().unwrap();
        assert_eq!(inner.table_paths()[0].as_str(), "file:///exports/tracks/");
        assert_eq!(inner.options().file_extension, ".parquet.zst");
        assert_eq!(inner.options().table_partition_cols[0].0, "day");
    }

    #[test]
    fn a_provider_from_elsewhere_is_refused_by_name() {
        let codec = Codec::default();
        let name = TableReference::bare("mystery");
        let schema = Arc::new(Schema::empty());
        let err = codec
            .try_decode_table_provider(&[9, 1, 2], &name, schema, &TaskContext::default())
            .unwrap_err();
        assert!(err.to_string().contains("`mystery`"), "{err}");
    }
}
