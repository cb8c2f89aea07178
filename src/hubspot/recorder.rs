//! The recorder: with no portal configured, `run` writes each request it would send to
//! `DIR/hubspot/<object>.jsonl` (one JSON line per request: method, path, body) instead of
//! calling HubSpot, so the demo works offline and a new user can read exactly what a sync would
//! do. Records that would only get a HubSpot id once written are referred to by placeholders
//! such as `{{contacts:ana@acme.io}}` in later requests. Files are written to temporary names
//! and renamed into place by `finish`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::Mutex;

use super::ObjectType;
use super::api::{Batch, CreateInput, DefaultAssociation, UpdateInput, UpsertInput};
use super::crm::Crm;
use super::outcome::{Outcome, Stop};

#[derive(Serialize)]
struct Line<'a, B: Serialize> {
    method: &'a str,
    path: String,
    body: B,
}

/// Writes would-be requests to files.
pub struct Recorder {
    dir: PathBuf,
    files: Mutex<BTreeMap<String, tempfile::NamedTempFile>>,
    requests: Mutex<u64>,
}

impl Recorder {
    pub fn new(dir: &Path) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        Ok(Recorder {
            dir: dir.to_path_buf(),
            files: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(0),
        })
    }

    async fn write<B: Serialize>(&self, file: &str, path: String, body: &B) -> Result<(), Stop> {
        let line = serde_json::to_string(&Line {
            method: "POST",
            path,
            body,
        })
        .expect("requests serialise");
        let mut files = self.files.lock().await;
        if !files.contains_key(file) {
            let temp = tempfile::Builder::new()
                .prefix(".pqlsync-")
                .suffix(".tmp")
                .tempfile_in(&self.dir)
                .map_err(|e| self.stop(e))?;
            files.insert(file.to_string(), temp);
        }
        let f = files.get_mut(file).expect("inserted above");
        writeln!(f, "{line}").map_err(|e| self.stop(e))?;
        *self.requests.lock().await += 1;
        Ok(())
    }

    fn stop(&self, e: std::io::Error) -> Stop {
        Stop {
            message: format!("cannot write {}: {e}", self.dir.display()),
            correlation_id: None,
        }
    }

    /// Publish the files; returns their paths and the number of requests recorded.
    pub async fn finish(&self) -> std::io::Result<(Vec<PathBuf>, u64)> {
        let mut files = self.files.lock().await;
        let mut written = Vec::new();
        for (name, temp) in std::mem::take(&mut *files) {
            let path = self.dir.join(format!("{name}.jsonl"));
            temp.as_file().sync_all()?;
            crate::output::publishable(temp.as_file())?;
            temp.persist(&path).map_err(|e| e.error)?;
            written.push(path);
        }
        Ok((written, *self.requests.lock().await))
    }
}

#[async_trait]
impl Crm for Recorder {
    async fn upsert(
        &self,
        object: ObjectType,
        inputs: Vec<UpsertInput>,
    ) -> Result<Vec<Outcome>, Stop> {
        let n = inputs.len();
        self.write(
            object.name(),
            format!("{}/batch/upsert", object.objects_path()),
            &Batch { inputs },
        )
        .await?;
        Ok(vec![Outcome::Recorded; n])
    }

    async fn create(
        &self,
        object: ObjectType,
        inputs: Vec<CreateInput>,
    ) -> Result<Vec<Outcome>, Stop> {
        let n = inputs.len();
        self.write(
            object.name(),
            format!("{}/batch/create", object.objects_path()),
            &Batch { inputs },
        )
        .await?;
        Ok(vec![Outcome::Recorded; n])
    }

    async fn update(
        &self,
        object: ObjectType,
        inputs: Vec<UpdateInput>,
    ) -> Result<Vec<Outcome>, Stop> {
        let n = inputs.len();
        self.write(
            object.name(),
            format!("{}/batch/update", object.objects_path()),
            &Batch { inputs },
        )
        .await?;
        Ok(vec![Outcome::Recorded; n])
    }

    async fn count_with(&self, _object: ObjectType, _property: &str) -> Result<Option<u64>, Stop> {
        Ok(None)
    }

    async fn read(
        &self,
        _object: ObjectType,
        _id_property: Option<&str>,
        ids: Vec<String>,
        _properties: Vec<String>,
    ) -> Result<Vec<Outcome>, Stop> {
        // Nothing can be read back without a portal, so reads are not recorded.
        Ok(vec![Outcome::NotFound; ids.len()])
    }

    async fn associate(
        &self,
        from: ObjectType,
        to: ObjectType,
        pairs: Vec<DefaultAssociation>,
    ) -> Result<Vec<Outcome>, Stop> {
        let n = pairs.len();
        self.write(
            "associations",
            format!(
                "/crm/v4/associations/{}/{}/batch/associate/default",
                from.name(),
                to.name()
            ),
            &Batch { inputs: pairs },
        )
        .await?;
        Ok(vec![Outcome::Recorded; n])
    }
}
