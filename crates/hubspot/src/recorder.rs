//! The recorder: the `Crm` used when no portal is configured. It writes each request the sync
//! would send to `DIR/hubspot/<object>.jsonl` (one JSON line per request: method, path, body)
//! instead of calling HubSpot, so the demo works offline and a new user can read exactly what a
//! sync would do. Every write "succeeds", and the records it writes get placeholder ids such as
//! `{{contacts:ana@acme.io}}`, by which later requests refer to them, as they would to the ids
//! HubSpot assigns. Files are written to temporary names and renamed into place by `finish`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use pqlsync_core::atomic::AtomicFile;
use serde::Serialize;
use tokio::sync::Mutex;

use super::api::{
    Batch, CreateInput, DefaultAssociation, ObjectId, ObjectResult, UpdateInput, UpsertInput,
};
use super::crm::Crm;
use super::outcome::{BatchError, Outcome, Stop};
use super::{ApiVersion, ObjectType};

/// The id a recorded record goes by: HubSpot would assign one once it is written.
fn placeholder(object: ObjectType, key: &str) -> String {
    format!("{{{{{object}:{key}}}}}")
}

/// A write the recorder accepted: the record under id `id`. Whether it is new is unknown
/// offline (`new: None`): the caller decides from what it knows.
fn recorded(id: String, trace: Option<String>) -> Outcome {
    Outcome::Done(Some(ObjectResult {
        id,
        properties: BTreeMap::new(),
        new: None,
        object_write_trace_id: trace,
        created_at: None,
        updated_at: None,
    }))
}

#[derive(Serialize)]
struct Line<'a, B: Serialize> {
    method: &'a str,
    path: String,
    body: B,
}

/// Writes would-be requests to files.
pub struct Recorder {
    dir: PathBuf,
    api: ApiVersion,
    files: Mutex<BTreeMap<String, AtomicFile>>,
    requests: Mutex<u64>,
}

impl Recorder {
    /// Record into `dir` the requests a client speaking `api` would send.
    pub fn new(dir: &Path, api: ApiVersion) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(dir)?;
        Ok(Recorder {
            dir: dir.to_path_buf(),
            api,
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
            let path = self.dir.join(format!("{file}.jsonl"));
            let temp = AtomicFile::create(&path).map_err(|e| self.stop(e))?;
            files.insert(file.to_string(), temp);
        }
        let f = files.get_mut(file).expect("inserted above");
        writeln!(f.file(), "{line}").map_err(|e| self.stop(e))?;
        *self.requests.lock().await += 1;
        Ok(())
    }

    fn stop(&self, e: std::io::Error) -> Stop {
        Stop {
            message: format!("cannot write {}: {e}", self.dir.display()),
            correlation_id: None,
            credentials: false,
        }
    }

    /// Publish the files; returns their paths and the number of requests recorded.
    pub async fn finish(&self) -> std::io::Result<(Vec<PathBuf>, u64)> {
        let mut files = self.files.lock().await;
        let mut written = Vec::new();
        for temp in std::mem::take(&mut *files).into_values() {
            written.push(temp.path().to_path_buf());
            temp.commit()?;
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
    ) -> Result<Vec<Outcome>, BatchError> {
        let outcomes = inputs
            .iter()
            .map(|i| recorded(placeholder(object, &i.id), None))
            .collect();
        self.write(
            object.name(),
            format!("{}/batch/upsert", self.api.objects(object)),
            &Batch { inputs },
        )
        .await?;
        Ok(outcomes)
    }

    async fn create(
        &self,
        object: ObjectType,
        inputs: Vec<CreateInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let outcomes = inputs
            .iter()
            .map(|i| {
                let trace = &i.object_write_trace_id;
                recorded(placeholder(object, trace), Some(trace.clone()))
            })
            .collect();
        self.write(
            object.name(),
            format!("{}/batch/create", self.api.objects(object)),
            &Batch { inputs },
        )
        .await?;
        Ok(outcomes)
    }

    async fn update(
        &self,
        object: ObjectType,
        inputs: Vec<UpdateInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let outcomes = inputs
            .iter()
            .map(|i| recorded(i.id.clone(), None))
            .collect();
        self.write(
            object.name(),
            format!("{}/batch/update", self.api.objects(object)),
            &Batch { inputs },
        )
        .await?;
        Ok(outcomes)
    }

    async fn archive(
        &self,
        object: ObjectType,
        ids: Vec<String>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let n = ids.len();
        let inputs: Vec<ObjectId> = ids.into_iter().map(|id| ObjectId { id }).collect();
        self.write(
            object.name(),
            format!("{}/batch/archive", self.api.objects(object)),
            &Batch { inputs },
        )
        .await?;
        Ok(vec![Outcome::Done(None); n])
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
    ) -> Result<Vec<Outcome>, BatchError> {
        let n = pairs.len();
        self.write(
            "associations",
            format!(
                "{}/batch/associate/default",
                self.api.associations(from, to)
            ),
            &Batch { inputs: pairs },
        )
        .await?;
        Ok(vec![Outcome::Done(None); n])
    }

    /// Offline nothing is ever confirmed, so a request may refer to any record by its
    /// placeholder — also to one this run does not write (an object type left out of
    /// `[hubspot] objects`), as the recorded file has always shown it.
    fn unconfirmed_id(&self, object: ObjectType, key: &str) -> Option<String> {
        Some(placeholder(object, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recorded files' placeholders are what users read and what the demo shows: the
    /// format must not drift.
    #[test]
    fn placeholders_keep_their_format() {
        assert_eq!(
            placeholder(ObjectType::Contacts, "ana@acme.io"),
            "{{contacts:ana@acme.io}}"
        );
        assert_eq!(
            placeholder(ObjectType::Companies, "acct_000001"),
            "{{companies:acct_000001}}"
        );
    }

    #[tokio::test]
    async fn recorded_writes_answer_their_placeholder_ids() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(dir.path(), ApiVersion::default()).unwrap();
        let input = UpsertInput {
            id: "ana@acme.io".into(),
            id_property: "email".into(),
            properties: BTreeMap::new(),
        };
        let out = recorder
            .upsert(ObjectType::Contacts, vec![input])
            .await
            .unwrap();
        assert!(
            matches!(&out[0], Outcome::Done(Some(r)) if r.id == "{{contacts:ana@acme.io}}" && r.new.is_none())
        );
        assert_eq!(
            recorder.unconfirmed_id(ObjectType::Companies, "acct_1"),
            Some("{{companies:acct_1}}".to_string())
        );
        let (files, requests) = recorder.finish().await.unwrap();
        assert_eq!((files.len(), requests), (1, 1));
        // Offline runs show the requests of the version a live run would speak.
        let line = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            line.contains(r#""path":"/crm/objects/2026-09/contacts/batch/upsert""#),
            "{line}"
        );
    }
}
