//! `POST /crm/v3/objects/{type}/search` (HubSpot's `PublicObjectSearchRequest`): filter groups
//! ORed, filters within a group ANDed, results by ascending id with a `total`. The sandbox
//! supports the equality and presence operators (`EQ`, `NEQ`, `IN`, `NOT_IN`, `HAS_PROPERTY`,
//! `NOT_HAS_PROPERTY`); the others answer 400 rather than a wrong result. Unlike HubSpot, whose
//! search index trails writes by a few seconds, the sandbox searches the records as they are.

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::kinds::Kind;
use super::store::{Store, normalise};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    properties: Vec<String>,
    limit: Option<usize>,
    after: Option<String>,
    query: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FilterGroup {
    filters: Vec<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: String,
    operator: String,
    value: Option<String>,
    values: Option<Vec<String>>,
}

/// HubSpot's limits on a search request.
const MAX_LIMIT: usize = 200;
const MAX_GROUPS: usize = 6;

pub fn parse(body: &Value) -> Result<SearchRequest, ApiError> {
    let request: SearchRequest = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::validation(format!("Invalid input JSON: {e}")))?;
    if request.filter_groups.len() > MAX_GROUPS {
        return Err(ApiError::validation(format!(
            "A search takes at most {MAX_GROUPS} filter groups, not {}",
            request.filter_groups.len()
        )));
    }
    if request.query.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::validation(
            "The sandbox does not support `query` in searches; use filters",
        ));
    }
    if let Some(l) = request.limit
        && !(1..=MAX_LIMIT).contains(&l)
    {
        return Err(ApiError::validation(format!(
            "limit must be from 1 to {MAX_LIMIT}, not {l}"
        )));
    }
    for f in request.filter_groups.iter().flat_map(|g| &g.filters) {
        let needs_value = matches!(f.operator.as_str(), "EQ" | "NEQ");
        let needs_values = matches!(f.operator.as_str(), "IN" | "NOT_IN");
        let presence = matches!(f.operator.as_str(), "HAS_PROPERTY" | "NOT_HAS_PROPERTY");
        if !(needs_value || needs_values || presence) {
            return Err(ApiError::validation(format!(
                "The sandbox does not support the search operator {} (supported: EQ, NEQ, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY)",
                f.operator
            )));
        }
        if (needs_value && f.value.is_none()) || (needs_values && f.values.is_none()) {
            return Err(ApiError::validation(format!(
                "The filter on {} with operator {} needs {}",
                f.property_name,
                f.operator,
                if needs_value { "`value`" } else { "`values`" }
            )));
        }
    }
    Ok(request)
}

impl Store {
    pub fn search(&self, kind: Kind, request: &SearchRequest) -> Value {
        let matches = |props: &std::collections::BTreeMap<String, String>, f: &Filter| {
            let held = props.get(&f.property_name);
            let same =
                |v: &String| held.is_some_and(|h| *h == normalise(kind, &f.property_name, v));
            match f.operator.as_str() {
                "EQ" => f.value.as_ref().is_some_and(same),
                "NEQ" => !f.value.as_ref().is_some_and(same),
                "IN" => f.values.iter().flatten().any(same),
                "NOT_IN" => !f.values.iter().flatten().any(same),
                "HAS_PROPERTY" => held.is_some(),
                _ => held.is_none(),
            }
        };
        let hits: Vec<_> = self
            .records(kind)
            .values()
            .filter(|r| {
                request.filter_groups.is_empty()
                    || request
                        .filter_groups
                        .iter()
                        .any(|g| g.filters.iter().all(|f| matches(&r.properties, f)))
            })
            .collect();
        let offset: usize = request
            .after
            .as_deref()
            .and_then(|a| a.parse().ok())
            .unwrap_or(0);
        let limit = request.limit.unwrap_or(10);
        let names = self.read_names(kind, &request.properties);
        let page: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| r.to_json(Some(&names)))
            .collect();
        let mut body = json!({"total": hits.len(), "results": page});
        if offset + limit < hits.len() {
            let next = (offset + limit).to_string();
            body["paging"] = json!({"next": {"after": next, "link": format!("?after={next}")}});
        }
        body
    }
}
