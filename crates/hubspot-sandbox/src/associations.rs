//! Associations v4 and their dated successors (`/crm/associations/{version}/...`): labels
//! (`associationsSchema.json`), default associations and reads (`associations.json`).
//! Associations are stored in the direction written and read in both:
//! `A → B` of type `t` shows from `B` as `B → A` of `t`'s inverse, as in HubSpot.

use serde_json::{Value, json};

use super::defaults::association_types;
use super::error::ApiError;
use super::kinds::Kind;
use super::store::Store;

fn spec_with_label(from: Kind, to: Kind, type_id: i64) -> Value {
    let label = association_types(from, to)
        .into_iter()
        .find(|(t, _, _)| *t == type_id)
        .and_then(|(_, _, l)| l);
    labelled(type_id, label)
}

/// `AssociationSpecWithLabel`. The spec types `label` as a string, so an unlabelled type has
/// none (HubSpot's live API sends `null`; clients must take both).
fn labelled(type_id: i64, label: Option<&str>) -> Value {
    let mut v = json!({"category": "HUBSPOT_DEFINED", "typeId": type_id});
    if let Some(l) = label {
        v["label"] = json!(l);
    }
    v
}

fn not_found(kind: Kind, ids: Vec<String>) -> Value {
    ApiError::new(
        404,
        "OBJECT_NOT_FOUND",
        format!("No {} with id {} exists", kind.singular(), ids.join(", ")),
    )
    .with_context("ids", ids)
    .standard()
}

impl Store {
    fn exists(&self, kind: Kind, id: &str) -> Option<u64> {
        id.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| self.records(kind).contains_key(n))
    }

    /// `GET /crm/v4/associations/{from}/{to}/labels` (`CollectionResponseAssociationSpecWithLabelNoPaging`).
    pub fn labels(&self, from: Kind, to: Kind) -> Value {
        let results: Vec<Value> = association_types(from, to)
            .into_iter()
            .map(|(type_id, _, label)| labelled(type_id, label))
            .collect();
        json!({ "results": results })
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/associate/default`: associate each pair with
    /// the unlabelled default type. Pairs naming a missing record fail alone (a `StandardError`
    /// with its missing ids); the others are applied. Associating twice keeps one association.
    pub fn associate_default(
        &mut self,
        from: Kind,
        to: Kind,
        pairs: &[(String, String)],
    ) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
        let Some((type_id, _, _)) = association_types(from, to)
            .into_iter()
            .find(|(_, _, l)| l.is_none())
        else {
            return Err(ApiError::validation(format!(
                "There is no default association type from {from} to {to}"
            )));
        };
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for (f, t) in pairs {
            match (self.exists(from, f), self.exists(to, t)) {
                (Some(fid), Some(tid)) => {
                    self.associate(from, fid, to, tid, type_id);
                    results.push(json!({
                        "from": {"id": f},
                        "to": {"id": t},
                        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
                    }));
                }
                (None, _) => errors.push(not_found(from, vec![f.clone()])),
                (_, None) => errors.push(not_found(to, vec![t.clone()])),
            }
        }
        Ok((results, errors))
    }

    fn associated(&self, from: Kind, id: u64, to: Kind) -> Vec<Value> {
        self.associations_of(from, id, to)
            .into_iter()
            .map(|(target, types)| {
                let types: Vec<Value> = types
                    .into_iter()
                    .map(|t| spec_with_label(from, to, t))
                    .collect();
                // The spec types toObjectId as a string.
                json!({"toObjectId": target.to_string(), "associationTypes": types})
            })
            .collect()
    }

    /// `POST /crm/v4/associations/{from}/{to}/batch/read`: each found record's associations
    /// (possibly none); missing records as `OBJECT_NOT_FOUND` errors.
    pub fn read_associations(
        &self,
        from: Kind,
        to: Kind,
        ids: &[String],
    ) -> (Vec<Value>, Vec<Value>) {
        let mut results = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match self.exists(from, id) {
                Some(n) => {
                    results.push(json!({"from": {"id": id}, "to": self.associated(from, n, to)}))
                }
                None => missing.push(id.clone()),
            }
        }
        let errors = if missing.is_empty() {
            Vec::new()
        } else {
            vec![not_found(from, missing)]
        };
        (results, errors)
    }

    /// `GET /crm/v4/objects/{type}/{id}/associations/{toType}`.
    pub fn list_associations(&self, from: Kind, id: &str, to: Kind) -> Result<Value, ApiError> {
        let n = self.exists(from, id).ok_or_else(|| {
            ApiError::not_found(format!("No {} with id {id} exists", from.singular()))
                .with_context("ids", [id.to_string()])
        })?;
        Ok(json!({ "results": self.associated(from, n, to) }))
    }
}
