//! The handlers of HubSpot's API, one per endpoint, shared by every dialect: each is given
//! the dialect of its route (`Ctx::api`) and answers as that dialect does. They decode, take
//! the store lock for one synchronous store call (no await while it is held), and answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::dialect::Dialect;
use super::error::ApiError;
use super::kinds::Kind;
use super::store::now;
use super::wire::{
    Op, batch_response, id_inputs, json_body, object_inputs, pair_inputs, read_input, single_input,
};
use super::{Shared, lock};

/// What an API handler is given: the portal, and the dialect of the route it serves.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub shared: Arc<Shared>,
    pub api: Dialect,
}

type St = State<Ctx>;

fn reply(result: Result<(u16, Value), ApiError>) -> Response {
    match result {
        Ok((status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, axum::Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The error entry for ids a batch did not find (in a 207, or a 200 on 2026-09).
fn not_found_error(kind: Kind, ids: Vec<String>) -> Value {
    ApiError::new(
        404,
        "OBJECT_NOT_FOUND",
        format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            kind.singular()
        ),
    )
    .with_context("ids", ids)
    .standard()
}

/// A batch answer's status: 200, or the dialect's status for partial results when some
/// inputs failed.
fn status(api: Dialect, errors: &[Value]) -> u16 {
    if errors.is_empty() {
        200
    } else {
        api.partial_status()
    }
}

/// A batch answer for `results`, with an error for the ids not found when there are any.
fn partial(
    api: Dialect,
    started: chrono::DateTime<chrono::Utc>,
    results: Vec<Value>,
    kind: Kind,
    missing: Vec<String>,
) -> (u16, Value) {
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![not_found_error(kind, missing)]
    };
    (
        status(api, &errors),
        batch_response(started, results, errors),
    )
}

/// Decoded query pairs, `+` and `%XX` decoded.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A list parameter, given comma-separated and/or repeated (`properties=a,b&properties=c`).
fn list_param(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

// ---- objects ----

pub async fn batch_upsert(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let inputs = object_inputs(&json_body(&body)?, Op::Upsert)?;
        let started = now();
        let results = lock(&c.shared.store).upsert(kind, inputs, c.api)?;
        Ok((200, batch_response(started, results, Vec::new())))
    })())
}

pub async fn batch_create(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let inputs = object_inputs(&json_body(&body)?, Op::Create)?;
        let started = now();
        let results = lock(&c.shared.store).create(kind, inputs, c.api)?;
        Ok((201, batch_response(started, results, Vec::new())))
    })())
}

pub async fn batch_update(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let inputs = object_inputs(&json_body(&body)?, Op::Update)?;
        let started = now();
        let (results, missing) = lock(&c.shared.store).update(kind, inputs, c.api)?;
        Ok(partial(c.api, started, results, kind, missing))
    })())
}

/// `batch/archive` (`BatchInputSimplePublicObjectId`): 204 with no body, also for ids not
/// found.
pub async fn batch_archive(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    let result = (|| {
        let kind = Kind::from_path(&ty)?;
        let ids = id_inputs(&json_body(&body)?)?;
        lock(&c.shared.store).archive(kind, &ids);
        Ok::<_, ApiError>(())
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn batch_read(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let input = read_input(&json_body(&body)?)?;
        let started = now();
        let (results, missing) = lock(&c.shared.store).read(kind, &input)?;
        Ok(partial(c.api, started, results, kind, missing))
    })())
}

pub async fn search(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let request = super::search::parse(&json_body(&body)?)?;
        Ok((200, lock(&c.shared.store).search(kind, &request)?))
    })())
}

pub async fn create_one(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let input = single_input(&json_body(&body)?, Op::Create)?;
        let mut results = lock(&c.shared.store).create(kind, vec![input], c.api)?;
        Ok((201, results.remove(0)))
    })())
}

pub async fn list_objects(State(c): St, Path(ty): Path<String>, RawQuery(q): RawQuery) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let q = query_pairs(q.as_deref());
        let limit = match param(&q, "limit") {
            None => 10,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(format!("limit must be from 1 to 100, not {l}"))
                })?,
        };
        let body = lock(&c.shared.store).list(
            kind,
            limit,
            param(&q, "after"),
            &list_param(&q, "properties"),
        );
        Ok((200, body))
    })())
}

pub async fn get_one(
    State(c): St,
    Path((ty, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let q = query_pairs(q.as_deref());
        let body = lock(&c.shared.store).get(
            kind,
            &id,
            param(&q, "idProperty"),
            &list_param(&q, "properties"),
            &list_param(&q, "propertiesWithHistory"),
        )?;
        Ok((200, body))
    })())
}

pub async fn update_one(
    State(c): St,
    Path((ty, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let q = query_pairs(q.as_deref());
        let mut input = single_input(&json_body(&body)?, Op::Update)?;
        input.id = Some(id.clone());
        input.id_property = param(&q, "idProperty").map(str::to_string);
        let (mut results, missing) = lock(&c.shared.store).update(kind, vec![input], c.api)?;
        if !missing.is_empty() {
            return Err(ApiError::not_found(format!(
                "Object not found. objectId are usually numeric. ({} {id})",
                kind.singular()
            ))
            .with_context("ids", missing));
        }
        Ok((200, results.remove(0)))
    })())
}

// ---- properties ----

pub async fn list_properties(State(c): St, Path(ty): Path<String>) -> Response {
    reply(Kind::from_path(&ty).map(|k| (200, lock(&c.shared.store).list_properties(k))))
}

pub async fn create_property(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&c.shared.store).create_property(kind, &body)?))
    })())
}

pub async fn get_property(State(c): St, Path((ty, name)): Path<(String, String)>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&c.shared.store).get_property(kind, &name)?))
    })())
}

pub async fn list_groups(State(c): St, Path(ty): Path<String>) -> Response {
    reply(Kind::from_path(&ty).map(|k| (200, lock(&c.shared.store).list_groups(k))))
}

pub async fn create_group(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&c.shared.store).create_group(kind, &body)?))
    })())
}

// ---- pipelines ----

pub async fn list_pipelines(State(c): St, Path(ty): Path<String>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&c.shared.store).list_pipelines(kind)?))
    })())
}

pub async fn create_pipeline(State(c): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&c.shared.store).create_pipeline(kind, &body)?))
    })())
}

pub async fn get_pipeline(State(c): St, Path((ty, id)): Path<(String, String)>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&c.shared.store).get_pipeline(kind, &id)?))
    })())
}

pub async fn list_stages(State(c): St, Path((ty, id)): Path<(String, String)>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&c.shared.store).list_stages(kind, &id)?))
    })())
}

pub async fn create_stage(
    State(c): St,
    Path((ty, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&c.shared.store).create_stage(kind, &id, &body)?))
    })())
}

// ---- owners ----

pub async fn list_owners(State(c): St, RawQuery(q): RawQuery) -> Response {
    let q = query_pairs(q.as_deref());
    reply(
        lock(&c.shared.store)
            .list_owners(param(&q, "email"), param(&q, "limit"), param(&q, "after"))
            .map(|b| (200, b)),
    )
}

pub async fn get_owner(State(c): St, Path(id): Path<String>) -> Response {
    reply(lock(&c.shared.store).get_owner(&id).map(|b| (200, b)))
}

// ---- associations ----

pub async fn labels(State(c): St, Path((from, to)): Path<(String, String)>) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        Ok((200, lock(&c.shared.store).labels(from, to)))
    })())
}

pub async fn associate_default(
    State(c): St,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        let pairs = pair_inputs(&json_body(&body)?)?;
        let started = now();
        let (results, errors) = lock(&c.shared.store).associate_default(from, to, &pairs)?;
        Ok((
            status(c.api, &errors),
            batch_response(started, results, errors),
        ))
    })())
}

pub async fn read_associations(
    State(c): St,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        let ids = id_inputs(&json_body(&body)?)?;
        let started = now();
        let (results, errors) = lock(&c.shared.store).read_associations(from, to, &ids);
        Ok((
            status(c.api, &errors),
            batch_response(started, results, errors),
        ))
    })())
}

pub async fn object_associations(
    State(c): St,
    Path((ty, id, to)): Path<(String, String, String)>,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&ty)?, Kind::from_path(&to)?);
        Ok((200, lock(&c.shared.store).list_associations(from, &id, to)?))
    })())
}

pub async fn associate_one_default(
    State(c): St,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        let started = now();
        let (results, errors) = lock(&c.shared.store).associate_default(
            from,
            to,
            &[(from_id.clone(), to_id.clone())],
        )?;
        if !errors.is_empty() {
            return Err(ApiError::not_found(format!(
                "Cannot associate {} {from_id} with {} {to_id}: not found",
                from.singular(),
                to.singular()
            ))
            .with_context("ids", [from_id, to_id]));
        }
        Ok((200, batch_response(started, results, Vec::new())))
    })())
}

// ---- property validations ----

pub async fn list_validation_rules(State(c): St, Path(ty): Path<String>) -> Response {
    reply(Kind::from_path(&ty).map(|k| (200, lock(&c.shared.store).list_validation_rules(k))))
}

pub async fn property_validation_rules(
    State(c): St,
    Path((ty, name)): Path<(String, String)>,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((
            200,
            lock(&c.shared.store).property_validation_rules(kind, &name)?,
        ))
    })())
}

pub async fn get_validation_rule(
    State(c): St,
    Path((ty, name, rule)): Path<(String, String, String)>,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((
            200,
            lock(&c.shared.store).validation_rule(kind, &name, &rule)?,
        ))
    })())
}

/// `PUT .../rule-type/{ruleType}`: 204 with no body.
pub async fn put_validation_rule(
    State(c): St,
    Path((ty, name, rule)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        lock(&c.shared.store).put_validation_rule(kind, &name, &rule, &body)
    })();
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_lists_split() {
        let q = query_pairs(Some(
            "properties=a,b&properties=c&email=j%40x.com&x=a+b&bad=%zz&end=%4",
        ));
        assert_eq!(list_param(&q, "properties"), vec!["a", "b", "c"]);
        assert_eq!(param(&q, "email"), Some("j@x.com"));
        assert_eq!(param(&q, "x"), Some("a b"));
        assert_eq!(param(&q, "bad"), Some("%zz"));
        assert_eq!(param(&q, "end"), Some("%4"));
        assert!(query_pairs(None).is_empty());
    }
}
