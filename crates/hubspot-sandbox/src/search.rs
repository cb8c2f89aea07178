//! `POST /crm/v3/objects/{type}/search` (HubSpot's `PublicObjectSearchRequest`): filter groups
//! ORed, filters within a group ANDed, with a `total`. The sandbox supports the equality and
//! presence operators (`EQ`, `NEQ`, `IN`, `NOT_IN`, `HAS_PROPERTY`, `NOT_HAS_PROPERTY`) and the
//! range operators (`GT`, `GTE`, `LT`, `LTE`, `BETWEEN` with `value` and `highValue`) on
//! number, date and datetime properties; the others (`CONTAINS_TOKEN`, `NOT_CONTAINS_TOKEN`,
//! and `query`) answer 400 rather than a wrong result. Unlike HubSpot, whose search index
//! trails writes by a few seconds, the sandbox searches the records as they are.
//!
//! HubSpot's limits, from its CRM search guide (developers.hubspot.com/docs/api-reference/
//! search/guide, "Limitations" and "Sort search results") and the `PublicObjectSearchRequest`
//! schema of `PublicApiSpecs/CRM/Objects/Rollouts/424/2026-09/objects.json` ("up to 200
//! objects", "Up to 6 groups of filters"):
//! - at most 200 results a page;
//! - "The search endpoints are limited to 10,000 total results for any given query.
//!   Attempting to page beyond 10,000 will result in a 400 error": a page never reaches past
//!   the 10,000th result, and `after` at or past 10,000 answers 400 (`total` still counts
//!   every match, and `paging.next` is offered as usual, so a client paging without a stop
//!   meets the 400 as it would on HubSpot);
//! - one sorting rule per search. `sorts` takes HubSpot's documented objects
//!   (`{"propertyName": "createdate", "direction": "DESCENDING"}`) and the strings the spec
//!   types its items as (`"createdate"` ascending, `"-createdate"` descending, as HubSpot's
//!   client libraries send them). Without one, results come by ascending id.
//!
//! The per-second rate limit of the search endpoints is enforced with the other limits
//! (`limits.rs`).
//!
//! Values are compared by the property's type: on number, date and datetime properties as
//! numbers and instants (a datetime filter value may be epoch milliseconds or ISO 8601, as
//! HubSpot accepts), on others as the strings they are (contacts' emails lower-cased).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::kinds::Kind;
use super::model::Record;
use super::objects::parse_datetime;
use super::store::{Store, normalise};

#[derive(Debug)]
pub struct SearchRequest {
    filter_groups: Vec<FilterGroup>,
    properties: Vec<String>,
    limit: usize,
    /// Results to skip: the `after` cursor, an offset.
    offset: usize,
    sort: Option<Sort>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    properties: Vec<String>,
    limit: Option<usize>,
    after: Option<String>,
    query: Option<String>,
    #[serde(default)]
    sorts: Vec<Value>,
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
    high_value: Option<String>,
    values: Option<Vec<String>>,
}

/// One sorting rule.
#[derive(Debug, Clone, PartialEq)]
struct Sort {
    property: String,
    descending: bool,
}

/// HubSpot's limits on a search request.
const MAX_LIMIT: usize = 200;
const MAX_GROUPS: usize = 6;
/// Results any one query can reach, paging included.
pub const MAX_RESULTS: usize = 10_000;
const DEFAULT_LIMIT: usize = 10;

const SUPPORTED: &str =
    "EQ, NEQ, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY, GT, GTE, LT, LTE, BETWEEN";

/// What an operator needs besides the property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// `value`.
    One,
    /// `value` and `highValue`.
    Range,
    /// `values`.
    Many,
    None,
}

fn operands(operator: &str) -> Option<Operands> {
    match operator {
        "EQ" | "NEQ" | "GT" | "GTE" | "LT" | "LTE" => Some(Operands::One),
        "BETWEEN" => Some(Operands::Range),
        "IN" | "NOT_IN" => Some(Operands::Many),
        "HAS_PROPERTY" | "NOT_HAS_PROPERTY" => Some(Operands::None),
        _ => None,
    }
}

fn is_range(operator: &str) -> bool {
    matches!(operator, "GT" | "GTE" | "LT" | "LTE" | "BETWEEN")
}

fn sort_rule(raw: &Value) -> Result<Sort, ApiError> {
    let shape = || {
        ApiError::validation(format!(
            "A sort is {{\"propertyName\": NAME, \"direction\": \"ASCENDING\" | \"DESCENDING\"}} or a property name (\"-NAME\" for descending), not {raw}"
        ))
    };
    match raw {
        Value::String(s) => {
            let (property, descending) = match s.strip_prefix('-') {
                Some(p) => (p, true),
                None => (s.as_str(), false),
            };
            if property.is_empty() {
                return Err(shape());
            }
            Ok(Sort {
                property: property.to_string(),
                descending,
            })
        }
        Value::Object(map) => {
            let property = match map.get("propertyName") {
                Some(Value::String(p)) if !p.is_empty() => p.clone(),
                _ => return Err(shape()),
            };
            let descending = match map.get("direction") {
                None | Some(Value::Null) => false,
                Some(Value::String(d)) if d == "ASCENDING" => false,
                Some(Value::String(d)) if d == "DESCENDING" => true,
                Some(_) => return Err(shape()),
            };
            if map.keys().any(|k| k != "propertyName" && k != "direction") {
                return Err(shape());
            }
            Ok(Sort {
                property,
                descending,
            })
        }
        _ => Err(shape()),
    }
}

pub fn parse(body: &Value) -> Result<SearchRequest, ApiError> {
    let raw: RawRequest = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::validation(format!("Invalid input JSON: {e}")))?;
    if raw.filter_groups.len() > MAX_GROUPS {
        return Err(ApiError::validation(format!(
            "A search takes at most {MAX_GROUPS} filter groups, not {}",
            raw.filter_groups.len()
        )));
    }
    if raw.query.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::validation(
            "The sandbox does not support `query` in searches; use filters",
        ));
    }
    let limit = raw.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation(format!(
            "limit must be from 1 to {MAX_LIMIT}, not {limit}"
        )));
    }
    let offset = match raw.after.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(a) => a.parse::<usize>().map_err(|_| {
            ApiError::validation(format!(
                "after must be the paging cursor of a previous page (a non-negative integer), not {a:?}"
            ))
            .with_context("after", [a.to_string()])
        })?,
    };
    if offset >= MAX_RESULTS {
        return Err(ApiError::validation(format!(
            "The search endpoints are limited to {MAX_RESULTS} total results for any given query: after {offset} pages beyond the {MAX_RESULTS}th result. Narrow the query with filters (for example a range on hs_object_id or hs_lastmodifieddate) instead of paging further"
        ))
        .with_context("after", [offset.to_string()])
        .with_context("maxResults", [MAX_RESULTS.to_string()]));
    }
    if raw.sorts.len() > 1 {
        return Err(ApiError::validation(format!(
            "A search takes one sorting rule, not {}",
            raw.sorts.len()
        )));
    }
    let sort = raw.sorts.first().map(sort_rule).transpose()?;
    for f in raw.filter_groups.iter().flat_map(|g| &g.filters) {
        let Some(needs) = operands(&f.operator) else {
            return Err(ApiError::validation(format!(
                "The sandbox does not support the search operator {} (supported: {SUPPORTED})",
                f.operator
            )));
        };
        let missing = match needs {
            Operands::One => f.value.is_none().then_some("`value`"),
            Operands::Range => {
                (f.value.is_none() || f.high_value.is_none()).then_some("`value` and `highValue`")
            }
            Operands::Many => f.values.is_none().then_some("`values`"),
            Operands::None => None,
        };
        if let Some(what) = missing {
            return Err(ApiError::validation(format!(
                "The filter on {} with operator {} needs {what}",
                f.property_name, f.operator
            )));
        }
    }
    Ok(SearchRequest {
        filter_groups: raw.filter_groups,
        properties: raw.properties,
        limit,
        offset,
        sort,
    })
}

/// A property value as its type orders it.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Typed {
    Number(f64),
    /// Epoch milliseconds.
    Instant(i64),
    Text(String),
}

/// Whether a property type orders its values as numbers or instants.
fn ordered(property_type: &str) -> bool {
    matches!(property_type, "number" | "date" | "datetime")
}

/// `value` read as a value of `property_type`; `None` when it is not one.
fn typed(property_type: &str, value: &str) -> Option<Typed> {
    match property_type {
        "number" => value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Typed::Number),
        "date" | "datetime" => {
            parse_datetime(value.trim()).map(|t| Typed::Instant(t.timestamp_millis()))
        }
        _ => Some(Typed::Text(value.to_string())),
    }
}

fn compare(a: &Typed, b: &Typed) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

impl Store {
    /// The type of `kind`'s property `name`, or HubSpot's 400 for a property it does not have.
    fn search_type(&self, kind: Kind, name: &str, what: &str) -> Result<String, ApiError> {
        self.property(kind, name)
            .map(|p| p.kind.clone())
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "Cannot {what} by {name}: {kind} have no property {name}"
                ))
                .with_context("propertyName", [name.to_string()])
            })
    }

    /// Check what the request asks of `kind`'s properties: range filters on number, date and
    /// datetime properties with values of that type, sorts on properties that exist.
    fn check_search(&self, kind: Kind, request: &SearchRequest) -> Result<(), ApiError> {
        for f in request.filter_groups.iter().flat_map(|g| &g.filters) {
            if !is_range(&f.operator) {
                continue;
            }
            let ty = self.search_type(kind, &f.property_name, "filter")?;
            if !ordered(&ty) {
                return Err(ApiError::validation(format!(
                    "The sandbox supports {} only on number, date and datetime properties; {} is of type {ty}",
                    f.operator, f.property_name
                ))
                .with_context("propertyName", [f.property_name.clone()]));
            }
            for v in [&f.value, &f.high_value].into_iter().flatten() {
                if typed(&ty, v).is_none() {
                    let expected = if ty == "number" {
                        "a number"
                    } else {
                        "epoch milliseconds or ISO 8601"
                    };
                    return Err(ApiError::validation(format!(
                        "The {} filter on {} takes {expected}, not {v:?}",
                        f.operator, f.property_name
                    ))
                    .with_context("propertyName", [f.property_name.clone()]));
                }
            }
        }
        if let Some(sort) = &request.sort {
            self.search_type(kind, &sort.property, "sort")?;
        }
        Ok(())
    }

    fn filter_matches(&self, kind: Kind, props: &BTreeMap<String, String>, f: &Filter) -> bool {
        let held = props.get(&f.property_name);
        let ty = self
            .property(kind, &f.property_name)
            .map_or("string", |p| p.kind.as_str());
        // Equal by type where the type orders values (`"10"` is `"10.0"`, epoch milliseconds
        // are the same instant in ISO 8601), else as stored.
        let same = |v: &String| {
            held.is_some_and(|h| match (ordered(ty), typed(ty, h), typed(ty, v)) {
                (true, Some(a), Some(b)) => compare(&a, &b) == Ordering::Equal,
                _ => *h == normalise(kind, &f.property_name, v),
            })
        };
        // Range filters: checked to be on ordered types with values of that type.
        let cmp = |v: &Option<String>| -> Option<Ordering> {
            let h = typed(ty, held?)?;
            let v = typed(ty, v.as_deref()?)?;
            Some(compare(&h, &v))
        };
        match f.operator.as_str() {
            "EQ" => f.value.as_ref().is_some_and(same),
            "NEQ" => !f.value.as_ref().is_some_and(same),
            "IN" => f.values.iter().flatten().any(same),
            "NOT_IN" => !f.values.iter().flatten().any(same),
            "HAS_PROPERTY" => held.is_some(),
            "NOT_HAS_PROPERTY" => held.is_none(),
            "GT" => cmp(&f.value) == Some(Ordering::Greater),
            "GTE" => matches!(cmp(&f.value), Some(Ordering::Greater | Ordering::Equal)),
            "LT" => cmp(&f.value) == Some(Ordering::Less),
            "LTE" => matches!(cmp(&f.value), Some(Ordering::Less | Ordering::Equal)),
            "BETWEEN" => {
                matches!(cmp(&f.value), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(&f.high_value), Some(Ordering::Less | Ordering::Equal))
            }
            _ => false,
        }
    }

    /// Order `hits` by `sort`: by the property's type, records without a value last in
    /// either direction, ties by ascending id.
    fn sort_hits(&self, kind: Kind, hits: &mut [&Record], sort: &Sort) {
        let ty = self
            .property(kind, &sort.property)
            .map_or("string", |p| p.kind.as_str());
        let key = |r: &Record| r.properties.get(&sort.property).and_then(|v| typed(ty, v));
        hits.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => {
                let o = compare(&x, &y);
                (if sort.descending { o.reverse() } else { o }).then(a.id.cmp(&b.id))
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        });
    }

    pub fn search(&self, kind: Kind, request: &SearchRequest) -> Result<Value, ApiError> {
        self.check_search(kind, request)?;
        let mut hits: Vec<&Record> = self
            .records(kind)
            .values()
            .filter(|r| {
                request.filter_groups.is_empty()
                    || request.filter_groups.iter().any(|g| {
                        g.filters
                            .iter()
                            .all(|f| self.filter_matches(kind, &r.properties, f))
                    })
            })
            .collect();
        if let Some(sort) = &request.sort {
            self.sort_hits(kind, &mut hits, sort);
        }
        let offset = request.offset;
        // No page reaches past the 10,000th result (`parse` refused an offset at or past it).
        let take = request.limit.min(MAX_RESULTS - offset);
        let names = self.read_names(kind, &request.properties);
        let page: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(take)
            .map(|r| r.to_json(Some(&names)))
            .collect();
        let mut body = json!({"total": hits.len(), "results": page});
        let next = offset + page.len();
        if next < hits.len() && !page.is_empty() {
            let next = next.to_string();
            body["paging"] = json!({"next": {"after": next, "link": format!("?after={next}")}});
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> Result<SearchRequest, ApiError> {
        parse(&body)
    }

    #[test]
    fn limits_and_paging_are_checked() {
        assert!(request(json!({"limit": 200})).is_ok());
        assert_eq!(request(json!({"limit": 201})).unwrap_err().status, 400);
        assert_eq!(request(json!({"limit": 0})).unwrap_err().status, 400);
        assert_eq!(request(json!({"after": "9999"})).unwrap().offset, 9999);
        assert_eq!(request(json!({"after": ""})).unwrap().offset, 0);
        let e = request(json!({"after": "10000"})).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("10000 total results"), "{}", e.message);
        assert_eq!(request(json!({"after": "next"})).unwrap_err().status, 400);
    }

    #[test]
    fn operators_need_their_operands() {
        let filter = |f: Value| json!({"filterGroups": [{"filters": [f]}]});
        assert!(
            request(filter(
                json!({"propertyName": "amount", "operator": "BETWEEN", "value": "1", "highValue": "2"})
            ))
            .is_ok()
        );
        for bad in [
            json!({"propertyName": "amount", "operator": "BETWEEN", "value": "1"}),
            json!({"propertyName": "amount", "operator": "GTE"}),
            json!({"propertyName": "amount", "operator": "IN", "value": "1"}),
            json!({"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "x"}),
        ] {
            assert_eq!(
                request(filter(bad.clone())).unwrap_err().status,
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn sorts_take_objects_and_strings_one_at_a_time() {
        let sort = |s: Value| request(json!({ "sorts": s })).map(|r| r.sort);
        let rule = |p: &str, descending| {
            Some(Sort {
                property: p.into(),
                descending,
            })
        };
        assert_eq!(sort(json!([])).unwrap(), None);
        assert_eq!(
            sort(json!([{"propertyName": "createdate", "direction": "DESCENDING"}])).unwrap(),
            rule("createdate", true)
        );
        assert_eq!(
            sort(json!([{"propertyName": "createdate"}])).unwrap(),
            rule("createdate", false)
        );
        assert_eq!(
            sort(json!(["-createdate"])).unwrap(),
            rule("createdate", true)
        );
        assert_eq!(sort(json!(["amount"])).unwrap(), rule("amount", false));
        for bad in [
            json!(["a", "b"]),
            json!([{"propertyName": "a", "direction": "UP"}]),
            json!([{"direction": "ASCENDING"}]),
            json!(["-"]),
            json!([3]),
        ] {
            assert_eq!(sort(bad.clone()).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn typed_values_compare_as_numbers_and_instants() {
        assert_eq!(typed("number", "10"), typed("number", "10.0"));
        assert!(typed("number", "9").unwrap() < typed("number", "10").unwrap());
        assert_eq!(
            typed("datetime", "1700000000000"),
            typed("datetime", "2023-11-14T22:13:20.000Z")
        );
        assert_eq!(typed("datetime", "soon"), None);
        assert_eq!(typed("number", "NaN"), None);
    }
}
