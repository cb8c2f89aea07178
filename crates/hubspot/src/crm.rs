//! `Crm`, the seam the sync writes through, and its HubSpot implementation: batch calls with
//! one outcome per record, matched back to the inputs by key (HubSpot answers in any order, and
//! a 207 names the records it refused). Other implementations: the recorder (no portal
//! configured) and the sync's in-memory test double.
//!
//! HubSpot fails a whole batch when one record is invalid (an unknown property, a bad email, a
//! duplicate id); the client answers `BatchError::Rejected` for it, and the caller splits the
//! batch until the bad records stand alone, so every good record lands.

use async_trait::async_trait;
use serde::Serialize;

use super::ObjectType;
use super::api::{
    AssociationResult, Batch, BatchResponse, BatchStatus, CreateInput, DefaultAssociation, Filter,
    FilterGroup, ObjectId, ObjectResult, ReadBody, SearchBody, SearchTotal, UpdateInput,
    UpsertInput,
};
use super::client::{CallError, Client};
use super::outcome::{BatchError, Failure, Outcome, Stop};

/// Where the sync writes. Outcomes come back in input order, one per input. A write answers
/// `BatchError::Rejected` when the batch as a whole was refused for its content; it is never
/// split here, so every caller isolates bad records the same way.
#[async_trait]
pub trait Crm: Send + Sync {
    /// `POST {object}/batch/upsert`, matching on `id_property` (a unique property).
    async fn upsert(
        &self,
        object: ObjectType,
        inputs: Vec<UpsertInput>,
    ) -> Result<Vec<Outcome>, BatchError>;
    /// `POST {object}/batch/create`; results are matched by `objectWriteTraceId`.
    async fn create(
        &self,
        object: ObjectType,
        inputs: Vec<CreateInput>,
    ) -> Result<Vec<Outcome>, BatchError>;
    /// `POST {object}/batch/update` by HubSpot id.
    async fn update(
        &self,
        object: ObjectType,
        inputs: Vec<UpdateInput>,
    ) -> Result<Vec<Outcome>, BatchError>;
    /// `POST {object}/batch/archive` by HubSpot id: the records go to HubSpot's recycling bin
    /// (restorable there for 90 days). HubSpot answers 204 for the batch as a whole, ids it
    /// does not hold included, so every id shares the batch's outcome.
    async fn archive(
        &self,
        object: ObjectType,
        ids: Vec<String>,
    ) -> Result<Vec<Outcome>, BatchError>;
    /// How many records of `object` have a value for `property` (a search with
    /// `HAS_PROPERTY`), or `None` when the portal could not say.
    async fn count_with(&self, object: ObjectType, property: &str) -> Result<Option<u64>, Stop>;
    /// `POST {object}/batch/read` by `id_property` (or HubSpot id), for `properties`. A read
    /// refused as a whole fails each id: a read changes nothing, so there is no record to
    /// isolate.
    async fn read(
        &self,
        object: ObjectType,
        id_property: Option<&str>,
        ids: Vec<String>,
        properties: Vec<String>,
    ) -> Result<Vec<Outcome>, Stop>;
    /// `POST {associations from→to}/batch/associate/default`.
    async fn associate(
        &self,
        from: ObjectType,
        to: ObjectType,
        pairs: Vec<DefaultAssociation>,
    ) -> Result<Vec<Outcome>, BatchError>;
    /// The id by which a request may refer to record `key` of `object` before this CRM has
    /// confirmed it. HubSpot: none, a record must exist before anything refers to it (the sync
    /// waits for it). The recorder: a placeholder, as nothing is ever confirmed offline.
    fn unconfirmed_id(&self, object: ObjectType, key: &str) -> Option<String>;
}

fn same_key(a: &str, b: &str) -> bool {
    // Contacts' email is matched case-insensitively by HubSpot.
    a.eq_ignore_ascii_case(b)
}

/// Map a batch response back onto its inputs with `key_of(result)` → input index. Only an
/// `OBJECT_NOT_FOUND` error naming an input makes it `NotFound`: HubSpot documents missing
/// records so (a 207), and a read that decides between create and update may conclude
/// "absent" from nothing less. An input with neither a result nor an error naming it failed,
/// for a read (`reading`) as for a write, and so does every input of a batch that is not
/// `COMPLETE`.
fn match_results(
    n: usize,
    status: u16,
    response: BatchResponse<ObjectResult>,
    input_keys: &[String],
    reading: bool,
    key_of: impl Fn(&ObjectResult) -> Option<String>,
) -> Vec<Outcome> {
    if response.status != BatchStatus::Complete {
        let f = Failure::local(format!(
            "HubSpot answered the batch with status {:?}, not COMPLETE (HTTP {status})",
            response.status
        ));
        return vec![Outcome::Failed(f); n];
    }
    let mut out: Vec<Option<Outcome>> = vec![None; n];
    for result in response.results {
        if let Some(key) = key_of(&result)
            && let Some(i) = input_keys
                .iter()
                .position(|k| same_key(k, &key))
                .filter(|i| out[*i].is_none())
        {
            out[i] = Some(Outcome::Done(Some(result)));
        }
    }
    let mut general: Option<Failure> = None;
    for e in &response.errors {
        let ids: Vec<&String> = e.context.values().flatten().collect();
        let mut matched = false;
        for id in ids {
            if let Some(i) = input_keys.iter().position(|k| same_key(k, id))
                && out[i].is_none()
            {
                out[i] = Some(if e.category == "OBJECT_NOT_FOUND" {
                    Outcome::NotFound
                } else {
                    Outcome::Failed(Failure::from_standard(status, e, None))
                });
                matched = true;
            }
        }
        if !matched && general.is_none() {
            general = Some(Failure::from_standard(status, e, None));
        }
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Outcome::Failed(general.clone().unwrap_or_else(|| {
                    let what = if reading {
                        "HubSpot's answer neither returned this record nor said it does not exist"
                    } else {
                        "HubSpot returned no result for this record"
                    };
                    Failure::local(format!("{what} (HTTP {status})"))
                }))
            })
        })
        .collect()
}

impl Client {
    /// Send `inputs` as one batch request to `path` and match HubSpot's results to them with
    /// `key_of(result, first input)`.
    async fn batch<T: Serialize + Clone + Send + Sync>(
        &self,
        path: String,
        inputs: Vec<T>,
        keys: Vec<String>,
        key_of: fn(&ObjectResult, &T) -> Option<String>,
    ) -> Result<Vec<Outcome>, BatchError> {
        debug_assert!(inputs.len() <= super::BATCH_LIMIT);
        let n = inputs.len();
        let Some(sample) = inputs.first().cloned() else {
            return Ok(Vec::new());
        };
        let sent = self
            .post::<_, BatchResponse<ObjectResult>>(&path, &Batch { inputs }, n)
            .await;
        match sent {
            Ok((status, response)) => Ok(match_results(n, status, response, &keys, false, |r| {
                key_of(r, &sample)
            })),
            Err(e) => write_error(e, n),
        }
    }
}

/// A write request that did not succeed, as the caller sees it: a stop, a rejection to split,
/// or (retries having run out) a failure of each of its `n` records.
fn write_error(e: CallError, n: usize) -> Result<Vec<Outcome>, BatchError> {
    match e {
        CallError::Stop(stop) => Err(BatchError::Stop(stop)),
        CallError::GaveUp(failure) => Ok(vec![Outcome::Failed(failure); n]),
        CallError::Rejected(r) => Err(BatchError::Rejected(Box::new(Failure::from_body(
            Some(r.status),
            &r.body,
        )))),
    }
}

/// Map an associations response back onto its pairs: a result names both ends (in either
/// direction); an error names object ids, and goes to the pairs it mentions, else to all
/// unmatched pairs.
fn match_associations(
    pairs: &[DefaultAssociation],
    status: u16,
    response: &BatchResponse<AssociationResult>,
) -> Vec<Outcome> {
    let mut out: Vec<Option<Outcome>> = vec![None; pairs.len()];
    for r in &response.results {
        for (i, p) in pairs.iter().enumerate() {
            if out[i].is_none()
                && ((p.from.id == r.from.id && p.to.id == r.to.id)
                    || (p.from.id == r.to.id && p.to.id == r.from.id))
            {
                out[i] = Some(Outcome::Done(None));
            }
        }
    }
    let failure = response
        .errors
        .first()
        .map(|e| Failure::from_standard(status, e, None))
        .unwrap_or_else(|| {
            Failure::local(format!(
                "HubSpot returned no result for this association (HTTP {status})"
            ))
        });
    pairs
        .iter()
        .zip(out)
        .map(|(p, o)| {
            o.unwrap_or_else(|| {
                let specific = response.errors.iter().find(|e| {
                    e.context
                        .values()
                        .flatten()
                        .any(|id| *id == p.from.id || *id == p.to.id)
                });
                Outcome::Failed(specific.map_or_else(
                    || failure.clone(),
                    |e| Failure::from_standard(status, e, None),
                ))
            })
        })
        .collect()
}

#[async_trait]
impl Crm for Client {
    async fn upsert(
        &self,
        object: ObjectType,
        inputs: Vec<UpsertInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let keys = inputs.iter().map(|i| i.id.clone()).collect();
        let path = format!("{}/batch/upsert", self.api().objects(object));
        self.batch(path, inputs, keys, |r, sample| {
            r.properties.get(&sample.id_property).cloned().flatten()
        })
        .await
    }

    async fn create(
        &self,
        object: ObjectType,
        inputs: Vec<CreateInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let keys = inputs
            .iter()
            .map(|i| i.object_write_trace_id.clone())
            .collect();
        let path = format!("{}/batch/create", self.api().objects(object));
        self.batch(path, inputs, keys, |r, _| r.object_write_trace_id.clone())
            .await
    }

    async fn update(
        &self,
        object: ObjectType,
        inputs: Vec<UpdateInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let keys = inputs.iter().map(|i| i.id.clone()).collect();
        let path = format!("{}/batch/update", self.api().objects(object));
        self.batch(path, inputs, keys, |r, _| Some(r.id.clone()))
            .await
    }

    async fn archive(
        &self,
        object: ObjectType,
        ids: Vec<String>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let n = ids.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let path = format!("{}/batch/archive", self.api().objects(object));
        let inputs: Vec<ObjectId> = ids.into_iter().map(|id| ObjectId { id }).collect();
        match self.post_no_content(&path, &Batch { inputs }, n).await {
            Ok(()) => Ok(vec![Outcome::Done(None); n]),
            Err(e) => write_error(e, n),
        }
    }

    async fn count_with(&self, object: ObjectType, property: &str) -> Result<Option<u64>, Stop> {
        let body = SearchBody {
            filter_groups: vec![FilterGroup {
                filters: vec![Filter {
                    property_name: property.to_string(),
                    operator: "HAS_PROPERTY".into(),
                }],
            }],
            properties: vec![property.to_string()],
            sorts: Vec::new(),
            limit: 1,
            after: "0".into(),
        };
        let path = format!("{}/search", self.api().objects(object));
        match self.post::<_, SearchTotal>(&path, &body, 1).await {
            Ok((_, r)) => Ok(Some(r.total)),
            Err(CallError::Stop(stop)) => Err(stop),
            Err(_) => Ok(None),
        }
    }

    async fn read(
        &self,
        object: ObjectType,
        id_property: Option<&str>,
        ids: Vec<String>,
        properties: Vec<String>,
    ) -> Result<Vec<Outcome>, Stop> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // HubSpot returns only the properties asked for: results are matched to inputs by the
        // id property, so it must be among them.
        let mut properties = properties;
        if let Some(p) = id_property
            && !properties.iter().any(|q| q == p)
        {
            properties.push(p.to_string());
        }
        let body = ReadBody {
            inputs: ids.iter().map(|id| ObjectId { id: id.clone() }).collect(),
            id_property: id_property.map(str::to_string),
            properties,
            properties_with_history: Vec::new(),
        };
        let path = format!("{}/batch/read", self.api().objects(object));
        match self
            .post::<_, BatchResponse<ObjectResult>>(&path, &body, ids.len())
            .await
        {
            Ok((status, response)) => Ok(match_results(
                ids.len(),
                status,
                response,
                &ids,
                true,
                |r| match id_property {
                    Some(p) => r.properties.get(p).cloned().flatten(),
                    None => Some(r.id.clone()),
                },
            )),
            Err(CallError::Stop(stop)) => Err(stop),
            Err(CallError::GaveUp(f)) => Ok(vec![Outcome::Failed(f); ids.len()]),
            Err(CallError::Rejected(r)) => Ok(vec![
                Outcome::Failed(Failure::from_body(
                    Some(r.status),
                    &r.body
                ));
                ids.len()
            ]),
        }
    }

    async fn associate(
        &self,
        from: ObjectType,
        to: ObjectType,
        pairs: Vec<DefaultAssociation>,
    ) -> Result<Vec<Outcome>, BatchError> {
        let n = pairs.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let path = format!(
            "{}/batch/associate/default",
            self.api().associations(from, to)
        );
        let body = Batch {
            inputs: pairs.clone(),
        };
        match self
            .post::<_, BatchResponse<AssociationResult>>(&path, &body, n)
            .await
        {
            Ok((status, response)) => Ok(match_associations(&pairs, status, &response)),
            Err(e) => write_error(e, n),
        }
    }

    fn unconfirmed_id(&self, _object: ObjectType, _key: &str) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::StandardError;

    fn result(id: &str, email: &str) -> ObjectResult {
        ObjectResult {
            id: id.into(),
            properties: BTreeMap::from([("email".to_string(), Some(email.to_string()))]),
            new: Some(true),
            object_write_trace_id: None,
            created_at: None,
            updated_at: None,
        }
    }

    #[test]
    fn results_match_inputs_by_key_not_position() {
        let keys = vec![
            "a@x.com".to_string(),
            "B@x.com".to_string(),
            "c@x.com".to_string(),
        ];
        let response = BatchResponse {
            status: BatchStatus::Complete,
            started_at: String::new(),
            completed_at: String::new(),
            results: vec![result("2", "b@x.com"), result("1", "a@x.com")],
            errors: vec![StandardError {
                category: "VALIDATION_ERROR".into(),
                message: "bad c".into(),
                context: BTreeMap::from([("ids".to_string(), vec!["c@x.com".to_string()])]),
                ..StandardError::default()
            }],
        };
        for status in [207, 200] {
            let out = match_results(3, status, response.clone(), &keys, false, |r| {
                r.properties["email"].clone()
            });
            assert!(matches!(&out[0], Outcome::Done(Some(r)) if r.id == "1"));
            assert!(matches!(&out[1], Outcome::Done(Some(r)) if r.id == "2"));
            assert!(
                matches!(&out[2], Outcome::Failed(f) if f.message == "bad c" && f.status == Some(status))
            );
        }
    }

    #[test]
    fn unmatched_records_get_the_general_error_or_a_clear_one() {
        let keys = vec!["k1".to_string(), "k2".to_string()];
        let response = BatchResponse {
            status: BatchStatus::Complete,
            started_at: String::new(),
            completed_at: String::new(),
            results: vec![],
            errors: vec![StandardError {
                category: "OBJECT_NOT_FOUND".into(),
                message: "missing".into(),
                context: BTreeMap::from([("ids".to_string(), vec!["k1".to_string()])]),
                status: "404".into(),
            }],
        };
        // 2026-09 answers a partial batch 200, with the errors in the body: read the same.
        let out = match_results(2, 200, response.clone(), &keys, false, |r| {
            Some(r.id.clone())
        });
        assert_eq!(out[0], Outcome::NotFound);
        assert!(matches!(&out[1], Outcome::Failed(f) if f.message.contains("no result")));
        // A read concludes "absent" only where HubSpot said so.
        let read = match_results(2, 207, response, &keys, true, |r| Some(r.id.clone()));
        assert_eq!(read[0], Outcome::NotFound);
        assert!(matches!(&read[1], Outcome::Failed(f) if f.message.contains("neither returned")));
    }
}
