//! The HTTP surface: HubSpot's paths (objects v3, properties v3, pipelines v3, owners v3,
//! associations v4) and the sandbox's own `/_sandbox/*` admin routes. Handlers decode, take
//! the state lock for one synchronous store call (no await while it is held), and answer.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::error::ApiError;
use super::guard::guard;
use super::kinds::Kind;
use super::store::now;
use super::wire::{
    Op, batch_response, id_inputs, json_body, object_inputs, pair_inputs, read_input, single_input,
};
use super::{Shared, lock};

type St = State<Arc<Shared>>;

fn reply(result: Result<(u16, Value), ApiError>) -> Response {
    match result {
        Ok((status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            (status, axum::Json(body)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The 207 error for ids a batch did not find.
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

// ---- objects v3 ----

async fn batch_upsert(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let inputs = object_inputs(&json_body(&body)?, Op::Upsert)?;
        let started = now();
        let results = lock(&s.store).upsert(kind, inputs)?;
        Ok((200, batch_response(started, results, Vec::new())))
    })())
}

async fn batch_create(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let inputs = object_inputs(&json_body(&body)?, Op::Create)?;
        let started = now();
        let results = lock(&s.store).create(kind, inputs)?;
        Ok((201, batch_response(started, results, Vec::new())))
    })())
}

async fn batch_update(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let inputs = object_inputs(&json_body(&body)?, Op::Update)?;
        let started = now();
        let (results, missing) = lock(&s.store).update(kind, inputs)?;
        Ok(if missing.is_empty() {
            (200, batch_response(started, results, Vec::new()))
        } else {
            (
                207,
                batch_response(started, results, vec![not_found_error(kind, missing)]),
            )
        })
    })())
}

async fn batch_read(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let input = read_input(&json_body(&body)?)?;
        let started = now();
        let (results, missing) = lock(&s.store).read(kind, &input)?;
        Ok(if missing.is_empty() {
            (200, batch_response(started, results, Vec::new()))
        } else {
            (
                207,
                batch_response(started, results, vec![not_found_error(kind, missing)]),
            )
        })
    })())
}

async fn search(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let request = super::search::parse(&json_body(&body)?)?;
        Ok((200, lock(&s.store).search(kind, &request)))
    })())
}

async fn create_one(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let input = single_input(&json_body(&body)?, Op::Create)?;
        let mut results = lock(&s.store).create(kind, vec![input])?;
        Ok((201, results.remove(0)))
    })())
}

async fn list_objects(State(s): St, Path(ty): Path<String>, RawQuery(q): RawQuery) -> Response {
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
        let body = lock(&s.store).list(
            kind,
            limit,
            param(&q, "after"),
            &list_param(&q, "properties"),
        );
        Ok((200, body))
    })())
}

async fn get_one(
    State(s): St,
    Path((ty, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let q = query_pairs(q.as_deref());
        let body = lock(&s.store).get(
            kind,
            &id,
            param(&q, "idProperty"),
            &list_param(&q, "properties"),
            &list_param(&q, "propertiesWithHistory"),
        )?;
        Ok((200, body))
    })())
}

async fn update_one(
    State(s): St,
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
        let (mut results, missing) = lock(&s.store).update(kind, vec![input])?;
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

// ---- properties v3 ----

async fn list_properties(State(s): St, Path(ty): Path<String>) -> Response {
    reply(Kind::from_path(&ty).map(|k| (200, lock(&s.store).list_properties(k))))
}

async fn create_property(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&s.store).create_property(kind, &body)?))
    })())
}

async fn get_property(State(s): St, Path((ty, name)): Path<(String, String)>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&s.store).get_property(kind, &name)?))
    })())
}

async fn list_groups(State(s): St, Path(ty): Path<String>) -> Response {
    reply(Kind::from_path(&ty).map(|k| (200, lock(&s.store).list_groups(k))))
}

async fn create_group(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&s.store).create_group(kind, &body)?))
    })())
}

// ---- pipelines v3 ----

async fn list_pipelines(State(s): St, Path(ty): Path<String>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&s.store).list_pipelines(kind)?))
    })())
}

async fn create_pipeline(State(s): St, Path(ty): Path<String>, body: Bytes) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&s.store).create_pipeline(kind, &body)?))
    })())
}

async fn get_pipeline(State(s): St, Path((ty, id)): Path<(String, String)>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&s.store).get_pipeline(kind, &id)?))
    })())
}

async fn list_stages(State(s): St, Path((ty, id)): Path<(String, String)>) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        Ok((200, lock(&s.store).list_stages(kind, &id)?))
    })())
}

async fn create_stage(
    State(s): St,
    Path((ty, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let kind = Kind::from_path(&ty)?;
        let body = json_body(&body)?;
        Ok((201, lock(&s.store).create_stage(kind, &id, &body)?))
    })())
}

// ---- owners v3 ----

async fn list_owners(State(s): St, RawQuery(q): RawQuery) -> Response {
    let q = query_pairs(q.as_deref());
    reply(
        lock(&s.store)
            .list_owners(param(&q, "email"), param(&q, "limit"), param(&q, "after"))
            .map(|b| (200, b)),
    )
}

async fn get_owner(State(s): St, Path(id): Path<String>) -> Response {
    reply(lock(&s.store).get_owner(&id).map(|b| (200, b)))
}

// ---- associations v4 ----

async fn labels(State(s): St, Path((from, to)): Path<(String, String)>) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        Ok((200, lock(&s.store).labels(from, to)))
    })())
}

async fn associate_default(
    State(s): St,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        let pairs = pair_inputs(&json_body(&body)?)?;
        let started = now();
        let (results, errors) = lock(&s.store).associate_default(from, to, &pairs)?;
        let status = if errors.is_empty() { 200 } else { 207 };
        Ok((status, batch_response(started, results, errors)))
    })())
}

async fn read_associations(
    State(s): St,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        let ids = id_inputs(&json_body(&body)?)?;
        let started = now();
        let (results, errors) = lock(&s.store).read_associations(from, to, &ids);
        let status = if errors.is_empty() { 200 } else { 207 };
        Ok((status, batch_response(started, results, errors)))
    })())
}

async fn object_associations(
    State(s): St,
    Path((ty, id, to)): Path<(String, String, String)>,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&ty)?, Kind::from_path(&to)?);
        Ok((200, lock(&s.store).list_associations(from, &id, to)?))
    })())
}

async fn associate_one_default(
    State(s): St,
    Path((from, from_id, to, to_id)): Path<(String, String, String, String)>,
) -> Response {
    reply((|| {
        let (from, to) = (Kind::from_path(&from)?, Kind::from_path(&to)?);
        let started = now();
        let (results, errors) =
            lock(&s.store).associate_default(from, to, &[(from_id.clone(), to_id.clone())])?;
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

// ---- fallbacks ----

async fn no_route(method: Method, uri: Uri) -> Response {
    ApiError::new(
        404,
        "RESOURCE_NOT_FOUND",
        format!("The sandbox has no endpoint {method} {}", uri.path()),
    )
    .into_response()
}

async fn wrong_method(method: Method, uri: Uri) -> Response {
    ApiError::new(
        405,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not supported on {}", uri.path()),
    )
    .into_response()
}

// ---- admin ----

async fn dump(State(s): St) -> Response {
    axum::Json(lock(&s.store).dump()).into_response()
}

async fn stats(State(s): St) -> Response {
    axum::Json(json!(*lock(&s.stats))).into_response()
}

async fn reset_stats(State(s): St) -> Response {
    let mut st = lock(&s.stats);
    *st = Default::default();
    axum::Json(json!(*st)).into_response()
}

/// `POST /_sandbox/limits {"requests_per_10s": N?, "daily_limit": N | null}`: change the rate
/// limits from now on, with every counter cleared.
async fn set_limits(State(s): St, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        requests_per_10s: Option<u32>,
        daily_limit: Option<u64>,
    }
    match serde_json::from_slice::<Limits>(&body) {
        Ok(l) if l.requests_per_10s != Some(0) => {
            lock(&s.limits).reset(l.requests_per_10s, l.daily_limit);
            axum::Json(
                json!({"requests_per_10s": l.requests_per_10s, "daily_limit": l.daily_limit}),
            )
            .into_response()
        }
        Ok(_) => admin_error("requests_per_10s must be at least 1".into()),
        Err(e) => admin_error(e.to_string()),
    }
}

/// Refuse every write of `value` to `property`, as HubSpot refuses values a client cannot
/// foresee: `{"property": "email", "value": "x@example.com"}`.
async fn set_refused(State(s): St, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Refuse {
        property: String,
        value: String,
    }
    match serde_json::from_slice::<Refuse>(&body) {
        Ok(r) => {
            lock(&s.store)
                .refused
                .insert((r.property.clone(), r.value.clone()));
            axum::Json(json!({"property": r.property, "value": r.value})).into_response()
        }
        Err(e) => admin_error(e.to_string()),
    }
}

/// Answer the next `times` requests of `route` (`"POST /crm/v3/objects/leads/batch/read"`)
/// with a 200 HTML page instead of their JSON, after processing them: a proxy in the way.
async fn set_garbled(State(s): St, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Garble {
        route: String,
        times: u32,
    }
    match serde_json::from_slice::<Garble>(&body) {
        Ok(g) => {
            lock(&s.garble).insert(g.route.clone(), g.times);
            axum::Json(json!({"route": g.route, "times": g.times})).into_response()
        }
        Err(e) => admin_error(e.to_string()),
    }
}

fn admin_error(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"status": "error", "message": message})),
    )
        .into_response()
}

/// Every route: HubSpot's behind the guard, the admin ones beside it.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/crm/v3/objects/{type}", get(list_objects).post(create_one))
        .route("/crm/v3/objects/{type}/batch/upsert", post(batch_upsert))
        .route("/crm/v3/objects/{type}/batch/create", post(batch_create))
        .route("/crm/v3/objects/{type}/batch/update", post(batch_update))
        .route("/crm/v3/objects/{type}/batch/read", post(batch_read))
        .route("/crm/v3/objects/{type}/search", post(search))
        .route(
            "/crm/v3/objects/{type}/{id}",
            get(get_one).patch(update_one),
        )
        .route(
            "/crm/v3/properties/{type}",
            get(list_properties).post(create_property),
        )
        .route(
            "/crm/v3/properties/{type}/groups",
            get(list_groups).post(create_group),
        )
        .route("/crm/v3/properties/{type}/{name}", get(get_property))
        .route(
            "/crm/v3/pipelines/{type}",
            get(list_pipelines).post(create_pipeline),
        )
        .route("/crm/v3/pipelines/{type}/{id}", get(get_pipeline))
        .route(
            "/crm/v3/pipelines/{type}/{id}/stages",
            get(list_stages).post(create_stage),
        )
        .route("/crm/v3/owners", get(list_owners))
        .route("/crm/v3/owners/{id}", get(get_owner))
        .route("/crm/v4/associations/{from}/{to}/labels", get(labels))
        .route(
            "/crm/v4/associations/{from}/{to}/batch/associate/default",
            post(associate_default),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/read",
            post(read_associations),
        )
        .route(
            "/crm/v4/objects/{type}/{id}/associations/{to}",
            get(object_associations),
        )
        .route(
            "/crm/v4/objects/{from}/{from_id}/associations/default/{to}/{to_id}",
            put(associate_one_default),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(from_fn_with_state(shared.clone(), guard))
        .with_state(shared.clone());
    let admin = Router::new()
        .route("/_sandbox/dump", get(dump))
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route("/_sandbox/limits", post(set_limits))
        .route("/_sandbox/refuse", post(set_refused))
        .route("/_sandbox/garble", post(set_garbled))
        .with_state(shared);
    admin.merge(api)
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
