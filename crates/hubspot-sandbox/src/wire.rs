//! Request bodies, decoded by hand from JSON so that what HubSpot refuses gets HubSpot's kind
//! of answer (400 `VALIDATION_ERROR` naming the field) rather than a framework's plain-text
//! rejection. Field names and required fields follow the objects v3 specs:
//! `SimplePublicObjectBatchInputUpsert` (`id`, `properties`; `idProperty`),
//! `SimplePublicObjectBatchInputForCreate` (`properties`, `associations`),
//! `SimplePublicObjectBatchInput` (`id`, `properties`), `BatchReadInputSimplePublicObjectId`
//! (`inputs`, `properties`, `propertiesWithHistory`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::{ApiError, ErrorDetail};
use super::model::rfc3339;

/// HubSpot's limit on inputs per batch request.
pub const BATCH_LIMIT: usize = 100;

/// Which batch endpoint a body was sent to; decides the required fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Create,
    Update,
}

/// One input of an object write.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectInput {
    pub index: usize,
    pub id: Option<String>,
    pub id_property: Option<String>,
    pub properties: BTreeMap<String, String>,
    pub associations: Vec<AssociationInput>,
    pub trace: Option<String>,
}

/// `PublicAssociationsForObject`: the target id and `(category, type id)` pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationInput {
    pub to_id: String,
    pub types: Vec<(String, i64)>,
}

/// `BatchReadInputSimplePublicObjectId`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadInput {
    pub ids: Vec<String>,
    pub id_property: Option<String>,
    pub properties: Vec<String>,
    pub with_history: Vec<String>,
}

/// Parse a body as JSON, with the position of the fault like HubSpot's "Invalid input JSON".
pub fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation(
            "Invalid input JSON: the request body is empty",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(format!(
            "Invalid input JSON on line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::validation(format!("Invalid input JSON: {}", message.into()))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_field(
    obj: &serde_json::Map<String, Value>,
    field: &str,
    at: &str,
) -> Result<Option<String>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!(
            "`{field}` of {at} must be a string, got {}",
            type_name(other)
        ))),
    }
}

/// The `inputs` array of a batch body, refusing more than 100 (HubSpot's batch limit).
pub fn inputs(body: &Value) -> Result<&Vec<Value>, ApiError> {
    let obj = body.as_object().ok_or_else(|| {
        invalid(format!(
            "the body must be an object, got {}",
            type_name(body)
        ))
    })?;
    let inputs = match obj.get("inputs") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(invalid(format!(
                "`inputs` must be an array, got {}",
                type_name(other)
            )));
        }
        None => return Err(invalid("missing required field `inputs`")),
    };
    if inputs.len() > BATCH_LIMIT {
        return Err(ApiError::validation(format!(
            "Batch input contains {} inputs; the limit is {BATCH_LIMIT} inputs per request",
            inputs.len()
        ))
        .with_context("limit", [BATCH_LIMIT.to_string()])
        .with_context("size", [inputs.len().to_string()]));
    }
    Ok(inputs)
}

/// The inputs of a batch object write. A property value that is not a JSON string fails the
/// whole request: the specs type property values as strings (`additionalProperties: string`).
pub fn object_inputs(body: &Value, op: Op) -> Result<Vec<ObjectInput>, ApiError> {
    let list = inputs(body)?;
    let mut out = Vec::with_capacity(list.len());
    let mut non_strings = Vec::new();
    for (index, raw) in list.iter().enumerate() {
        let at = format!("input {index}");
        let input = object_input(raw, op, index, &at, true, &mut non_strings)?;
        out.push(input);
    }
    if !non_strings.is_empty() {
        return Err(non_string_error(non_strings));
    }
    Ok(out)
}

/// One object body (`SimplePublicObjectInputForCreate`, `SimplePublicObjectInput`) for the
/// single-record endpoints; `associations` is optional there.
pub fn single_input(body: &Value, op: Op) -> Result<ObjectInput, ApiError> {
    let mut non_strings = Vec::new();
    let mut wrapped = body.clone();
    if op == Op::Create
        && let Some(obj) = wrapped.as_object_mut()
    {
        obj.entry("associations").or_insert_with(|| json!([]));
    }
    let input = object_input(&wrapped, op, 0, "the body", false, &mut non_strings)?;
    if !non_strings.is_empty() {
        return Err(non_string_error(non_strings));
    }
    Ok(input)
}

fn non_string_error(details: Vec<ErrorDetail>) -> ApiError {
    let first = details[0].message.clone();
    ApiError::validation(format!(
        "Invalid input JSON: property values must be JSON strings ({first}). HubSpot's API takes \
         every property value as a string: send \"42\", not 42, and \"true\", not true"
    ))
    .with_errors(details)
}

fn object_input(
    raw: &Value,
    op: Op,
    index: usize,
    at: &str,
    needs_id: bool,
    non_strings: &mut Vec<ErrorDetail>,
) -> Result<ObjectInput, ApiError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| invalid(format!("{at} must be an object, got {}", type_name(raw))))?;
    let id = string_field(obj, "id", at)?;
    if needs_id && matches!(op, Op::Upsert | Op::Update) && id.is_none() {
        return Err(invalid(format!("missing required field `id` in {at}")));
    }
    let id_property = string_field(obj, "idProperty", at)?;
    let trace = string_field(obj, "objectWriteTraceId", at)?;
    let mut properties = BTreeMap::new();
    match obj.get("properties") {
        Some(Value::Object(map)) => {
            for (name, value) in map {
                match value {
                    Value::String(s) => {
                        properties.insert(name.clone(), s.clone());
                    }
                    other => non_strings.push(
                        ErrorDetail::new(
                            "INVALID_PROPERTY_VALUE_TYPE",
                            format!(
                                "property \"{name}\" of {at} is {} ({other}), not a string",
                                type_name(other)
                            ),
                        )
                        .with("propertyName", name.clone())
                        .with("index", index.to_string()),
                    ),
                }
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "`properties` of {at} must be an object, got {}",
                type_name(other)
            )));
        }
        None => {
            return Err(invalid(format!(
                "missing required field `properties` in {at}"
            )));
        }
    }
    let mut associations = Vec::new();
    if op == Op::Create {
        match obj.get("associations") {
            Some(Value::Array(list)) => {
                for (j, a) in list.iter().enumerate() {
                    associations.push(association_input(a, &format!("associations[{j}] of {at}"))?);
                }
            }
            Some(other) => {
                return Err(invalid(format!(
                    "`associations` of {at} must be an array, got {}",
                    type_name(other)
                )));
            }
            None => {
                return Err(invalid(format!(
                    "missing required field `associations` in {at}"
                )));
            }
        }
    }
    Ok(ObjectInput {
        index,
        id,
        id_property,
        properties,
        associations,
        trace,
    })
}

fn association_input(raw: &Value, at: &str) -> Result<AssociationInput, ApiError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| invalid(format!("{at} must be an object")))?;
    let to_id = match obj.get("to") {
        Some(Value::Object(to)) => match to.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(invalid(format!("missing required field `to.id` in {at}"))),
        },
        _ => return Err(invalid(format!("missing required field `to` in {at}"))),
    };
    let mut types = Vec::new();
    match obj.get("types") {
        Some(Value::Array(list)) => {
            for t in list {
                let category = t.get("associationCategory").and_then(Value::as_str);
                let type_id = t.get("associationTypeId").and_then(Value::as_i64);
                match (category, type_id) {
                    (Some(c), Some(id)) => types.push((c.to_string(), id)),
                    _ => {
                        return Err(invalid(format!(
                            "each of `types` in {at} needs `associationCategory` (string) and `associationTypeId` (integer)"
                        )));
                    }
                }
            }
        }
        _ => return Err(invalid(format!("missing required field `types` in {at}"))),
    }
    Ok(AssociationInput { to_id, types })
}

fn string_list(
    obj: &serde_json::Map<String, Value>,
    field: &str,
    required: bool,
) -> Result<Vec<String>, ApiError> {
    match obj.get(field) {
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(format!("`{field}` must be an array of strings")))
            })
            .collect(),
        Some(other) => Err(invalid(format!(
            "`{field}` must be an array, got {}",
            type_name(other)
        ))),
        None if required => Err(invalid(format!("missing required field `{field}`"))),
        None => Ok(Vec::new()),
    }
}

/// A batch read body; `properties` and `propertiesWithHistory` are required by the spec.
pub fn read_input(body: &Value) -> Result<ReadInput, ApiError> {
    let list = inputs(body)?;
    let obj = body
        .as_object()
        .expect("inputs() checked the body is an object");
    let mut ids = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        match raw.get("id") {
            Some(Value::String(s)) => ids.push(s.clone()),
            Some(Value::Number(n)) => ids.push(n.to_string()),
            _ => return Err(invalid(format!("missing required field `id` in input {i}"))),
        }
    }
    Ok(ReadInput {
        ids,
        id_property: string_field(obj, "idProperty", "the body")?,
        properties: string_list(obj, "properties", true)?,
        with_history: string_list(obj, "propertiesWithHistory", true)?,
    })
}

/// Ids of a `{inputs:[{id}]}` body (v4 association reads, `batch/archive`).
pub fn id_inputs(body: &Value) -> Result<Vec<String>, ApiError> {
    let list = inputs(body)?;
    list.iter()
        .enumerate()
        .map(|(i, raw)| match raw.get("id") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(invalid(format!("missing required field `id` in input {i}"))),
        })
        .collect()
}

/// `(from id, to id)` pairs of a `PublicDefaultAssociationMultiPost` batch.
pub fn pair_inputs(body: &Value) -> Result<Vec<(String, String)>, ApiError> {
    let list = inputs(body)?;
    let id_of = |raw: &Value, side: &str, i: usize| -> Result<String, ApiError> {
        match raw.get(side).and_then(|s| s.get("id")) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(invalid(format!(
                "missing required field `{side}.id` in input {i}"
            ))),
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, raw)| Ok((id_of(raw, "from", i)?, id_of(raw, "to", i)?)))
        .collect()
}

/// HubSpot's refusal of repeated ids in one batch.
pub fn duplicates_error(duplicates: Vec<String>) -> ApiError {
    ApiError::validation(format!(
        "Duplicate IDs found in batch input: [{}]. IDs must be unique",
        duplicates.join(", ")
    ))
    .with_context("ids", duplicates)
}

/// The ids that occur more than once, each once, in first-seen order; `key` normalises.
pub fn duplicates<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    key: impl Fn(&str) -> String,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut dup_keys = std::collections::HashSet::new();
    let mut out = Vec::new();
    for id in ids {
        let k = key(id);
        if !seen.insert(k.clone()) && dup_keys.insert(k) {
            out.push(id.to_string());
        }
    }
    out
}

/// A batch response envelope (`BatchResponse*`): `status`, `results`, `startedAt`,
/// `completedAt`, and with errors `errors` and `numErrors` (a 207, or a 200 on 2026-09: the
/// v3 `BatchResponse*WithErrors` schemas and the 2026-09 `BatchResponse*` ones carry both).
pub fn batch_response(started: DateTime<Utc>, results: Vec<Value>, errors: Vec<Value>) -> Value {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": rfc3339(started),
        "completedAt": rfc3339(Utc::now()),
    });
    if !errors.is_empty() {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_reported_once_in_order() {
        let d = duplicates(["a", "b", "A", "a", "c", "b"], |s| s.to_ascii_lowercase());
        assert_eq!(d, vec!["A", "b"]);
    }

    #[test]
    fn non_string_values_fail_with_a_clear_message() {
        let body =
            json!({"inputs": [{"id": "x", "idProperty": "p", "properties": {"amount": 42}}]});
        let e = object_inputs(&body, Op::Upsert).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("string"), "{}", e.message);
        assert!(e.errors[0].message.contains("amount"));
    }

    #[test]
    fn create_requires_associations_and_read_requires_property_lists() {
        let e = object_inputs(&json!({"inputs": [{"properties": {}}]}), Op::Create).unwrap_err();
        assert!(e.message.contains("associations"), "{}", e.message);
        let e = read_input(&json!({"inputs": [{"id": "1"}], "properties": []})).unwrap_err();
        assert!(e.message.contains("propertiesWithHistory"), "{}", e.message);
        let r = read_input(
            &json!({"inputs": [{"id": "1"}], "properties": ["a"], "propertiesWithHistory": []}),
        )
        .unwrap();
        assert_eq!(r.ids, vec!["1"]);
    }

    #[test]
    fn more_than_a_hundred_inputs_fail() {
        let list: Vec<Value> = (0..101)
            .map(|i| json!({"id": i.to_string(), "properties": {}}))
            .collect();
        let e = object_inputs(&json!({"inputs": list}), Op::Update).unwrap_err();
        assert!(e.message.contains("100"));
    }
}
