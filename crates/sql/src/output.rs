//! Output files: Parquet or CSV by extension, written batch by batch to a temporary file in the
//! destination directory and renamed into place only when complete, so a failed run never
//! leaves a half-written file where a reader (or the next pipeline step) would pick it up.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use datafusion::arrow::csv;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use pqlsync_core::atomic::AtomicFile;

/// `batches` as one in-memory Parquet file (zstd level 3, Parquet's default row groups of up
/// to 1,048,576 rows), for stores that take whole objects (score history, incremental rollups).
pub fn parquet_bytes(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> datafusion::parquet::errors::Result<Vec<u8>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .build();
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, std::sync::Arc::clone(schema), Some(props))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(buffer)
}

/// Errors writing an output file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: output files must end in .parquet or .csv")]
    UnknownFormat { path: PathBuf },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// File formats pqlsync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Format, OutputError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            _ => Err(OutputError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

enum Sink {
    Parquet(ArrowWriter<BufWriter<File>>),
    Csv(csv::Writer<BufWriter<File>>),
}

/// A file being written. Call [`AtomicWriter::finish`] to publish it; dropping it unfinished
/// deletes the temporary file.
pub struct AtomicWriter {
    path: PathBuf,
    file: AtomicFile,
    sink: Sink,
    rows: usize,
}

impl AtomicWriter {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<AtomicWriter, OutputError> {
        let format = Format::from_path(path)?;
        let err = |message: String| OutputError::Write {
            path: path.to_path_buf(),
            message,
        };
        let file = AtomicFile::create(path).map_err(|e| err(e.to_string()))?;
        let sink_file = BufWriter::new(file.reopen().map_err(|e| err(e.to_string()))?);
        let sink = match format {
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .build();
                Sink::Parquet(
                    ArrowWriter::try_new(sink_file, schema, Some(props))
                        .map_err(|e| err(e.to_string()))?,
                )
            }
            Format::Csv => Sink::Csv(csv::WriterBuilder::new().with_header(true).build(sink_file)),
        };
        Ok(AtomicWriter {
            path: path.to_path_buf(),
            file,
            sink,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), OutputError> {
        let result = match &mut self.sink {
            Sink::Parquet(w) => w.write(batch).map_err(|e| e.to_string()),
            Sink::Csv(w) => w.write(batch).map_err(|e| e.to_string()),
        };
        result.map_err(|message| OutputError::Write {
            path: self.path.clone(),
            message,
        })?;
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Flush, then atomically rename into place. Returns the rows written.
    pub fn finish(self) -> Result<usize, OutputError> {
        let err = |message: String| OutputError::Write {
            path: self.path.clone(),
            message,
        };
        match self.sink {
            Sink::Parquet(w) => {
                let mut file = w.into_inner().map_err(|e| err(e.to_string()))?;
                std::io::Write::flush(&mut file).map_err(|e| err(e.to_string()))?;
            }
            Sink::Csv(w) => {
                let mut file = w.into_inner();
                std::io::Write::flush(&mut file).map_err(|e| err(e.to_string()))?;
            }
        }
        self.file.commit().map_err(|e| err(e.to_string()))?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap()
    }

    #[test]
    fn nothing_appears_until_finish() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["x.parquet", "x.csv"] {
            let path = dir.path().join(name);
            let mut w = AtomicWriter::create(&path, batch().schema()).unwrap();
            w.write(&batch()).unwrap();
            assert!(!path.exists());
            assert_eq!(w.finish().unwrap(), 3);
            assert!(path.exists());
        }
        let csv = std::fs::read_to_string(dir.path().join("x.csv")).unwrap();
        assert_eq!(csv, "n\n1\n2\n3\n");
    }

    #[test]
    fn an_abandoned_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.parquet");
        {
            let mut w = AtomicWriter::create(&path, batch().schema()).unwrap();
            w.write(&batch()).unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn unknown_extensions_are_refused() {
        let err = AtomicWriter::create(Path::new("out/x.json"), batch().schema())
            .err()
            .unwrap();
        assert!(err.to_string().contains(".parquet or .csv"), "{err}");
    }
}
