//! The sandbox's own routes, outside HubSpot's API (`/_sandbox/*`): no token, no limits,
//! no faults, not counted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::dialect::Dialect;
use super::error::ApiError;
use super::kinds::Kind;
use super::scopes;
use super::wire::{Op, single_input};
use super::{Shared, lock};

pub async fn dump(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&s.store).dump()).into_response()
}

pub async fn stats(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(json!(*lock(&s.stats))).into_response()
}

pub async fn reset_stats(State(s): State<Arc<Shared>>) -> Response {
    let mut st = lock(&s.stats);
    *st = Default::default();
    axum::Json(json!(*st)).into_response()
}

/// `POST /_sandbox/limits {"requests_per_10s": N?, "daily_limit": N | null, "search_per_second":
/// N | null?}`: change the rate limits from now on, with every counter cleared.
/// `requests_per_10s` and `search_per_second` change only when given (`"search_per_second":
/// null` turns the search limit off); `daily_limit` is set either way (absent means none).
pub async fn set_limits(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Limits {
        requests_per_10s: Option<u32>,
        daily_limit: Option<u64>,
        /// Absent: unchanged; `null`: off; a number: the new limit.
        #[serde(default, deserialize_with = "present")]
        search_per_second: Option<Option<u32>>,
    }
    match serde_json::from_slice::<Limits>(&body) {
        Ok(l) if l.requests_per_10s == Some(0) => {
            admin_error("requests_per_10s must be at least 1".into())
        }
        Ok(l) if l.search_per_second == Some(Some(0)) => admin_error(
            "search_per_second must be at least 1; null turns the search limit off".into(),
        ),
        Ok(l) => {
            let mut limits = lock(&s.limits);
            limits.reset(l.requests_per_10s, l.daily_limit, l.search_per_second);
            axum::Json(json!({
                "requests_per_10s": l.requests_per_10s,
                "daily_limit": l.daily_limit,
                "search_per_second": limits.search_per_second(),
            }))
            .into_response()
        }
        Err(e) => admin_error(e.to_string()),
    }
}

/// A field that may be `null`: `Some(None)` when it is, `Some(Some(v))` when it has a value
/// (with `#[serde(default)]`, `None` when it is absent).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Refuse every write of `value` to `property`, as HubSpot refuses values a client cannot
/// foresee: `{"property": "email", "value": "x@example.com"}`.
pub async fn set_refused(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
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

/// `POST /_sandbox/queues {"id": "1001", "name": "Trial rescue"?}`: add a task queue to the
/// portal, as someone creating one in HubSpot's UI would, so tasks' `hs_queue_membership_ids`
/// takes its id from now on. Adding a queue that exists changes nothing. Queue ids are
/// numeric in HubSpot; anything else is refused, so a test cannot rely on an id no portal has.
pub async fn add_queue(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Queue {
        id: String,
        name: Option<String>,
    }
    match serde_json::from_slice::<Queue>(&body) {
        Ok(q) if !q.id.is_empty() && q.id.bytes().all(|b| b.is_ascii_digit()) => {
            let mut store = lock(&s.store);
            let queue = store.add_queue(&q.id, q.name.as_deref());
            axum::Json(json!({"id": queue.value, "name": queue.label})).into_response()
        }
        Ok(q) => admin_error(format!(
            "id must be a task queue id of digits only (e.g. \"1001\"), not {:?}",
            q.id
        )),
        Err(e) => admin_error(e.to_string()),
    }
}

/// `POST /_sandbox/edit {"object": "deals", "id": "123", "idProperty": "plg_trial_id"?,
/// "properties": {"dealstage": "closedlost"}}`: change a record as a person would in HubSpot's
/// UI, so a test can play the sales team between two syncs. `object` takes the names and type
/// ids the object paths take (`deals`, `deal`, `0-3`); `id` is the record id, or the value of
/// the unique property `idProperty`.
///
/// The change is validated and applied as an API update (`PATCH` on 2026-09) would be:
/// unknown and read-only properties, options, pipeline stages, owners, task queues and the
/// portal's validation rules (HubSpot enforces those in its UI too) refuse it with HubSpot's
/// 400 `Property values were not valid`, a unique value held elsewhere with 409, and nothing
/// changes. Applied, it sets the last-modified date, and a task's completion date as its
/// status requires. Answers the record as `GET .../{type}/{id}` with every property it holds
/// (`id`, `properties`, `createdAt`, `updatedAt`, `archived`); 404 when no record matches.
pub async fn edit(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Edit {
        object: String,
        id: String,
        id_property: Option<String>,
        properties: serde_json::Map<String, serde_json::Value>,
    }
    let edit = match serde_json::from_slice::<Edit>(&body) {
        Ok(e) => e,
        Err(e) => return admin_error(e.to_string()),
    };
    let Some(kind) = Kind::parse(&edit.object) else {
        let known: Vec<String> = Kind::ALL
            .iter()
            .map(|k| format!("{} ({})", k.name(), k.type_id()))
            .collect();
        return admin_error(format!(
            "object {:?} is not an object type the sandbox holds: {}",
            edit.object,
            known.join(", ")
        ));
    };
    if edit.properties.is_empty() {
        return admin_error("properties must name at least one property to change".into());
    }
    // The values as an API update takes them (JSON strings, refused otherwise).
    let mut input = match single_input(&json!({ "properties": edit.properties }), Op::Update) {
        Ok(input) => input,
        Err(e) => return e.into_response(),
    };
    input.id = Some(edit.id.clone());
    input.id_property = edit.id_property.clone();
    let mut store = lock(&s.store);
    match store.update(kind, vec![input], Dialect::V2026_09) {
        Err(e) => e.into_response(),
        Ok((_, missing)) if !missing.is_empty() => {
            let by = edit.id_property.as_deref().unwrap_or("id");
            ApiError::not_found(format!(
                "The sandbox has no {} with {by} {:?} to edit",
                kind.singular(),
                edit.id
            ))
            .with_context("ids", missing)
            .into_response()
        }
        Ok((results, _)) => {
            let record = results
                .first()
                .and_then(|r| r["id"].as_str())
                .and_then(|id| id.parse::<u64>().ok())
                .and_then(|id| store.records(kind).get(&id));
            match record {
                Some(r) => axum::Json(r.to_json(None)).into_response(),
                None => ApiError::new(500, "INTERNAL_ERROR", "the edited record went missing")
                    .into_response(),
            }
        }
    }
}

/// Answer the next `times` requests of `route` with a 200 HTML page instead of their JSON,
/// after processing them: a proxy in the way. `route` is `METHOD /path` (no query string):
/// either a path exactly as requested (`"POST /crm/v3/objects/leads/batch/read"`), or a route
/// key as `/_sandbox/stats` counts it (`"POST /crm/objects/2026-09/deals/batch/upsert"`
/// also matches requests to `/crm/objects/2026-09/0-3/batch/upsert`, and `"PATCH
/// /crm/objects/2026-09/companies/{id}"` matches every company id).
pub async fn set_garbled(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Garble {
        route: String,
        times: u32,
    }
    match serde_json::from_slice::<Garble>(&body) {
        Ok(g) => match garble_route(&g.route) {
            Ok(route) => {
                lock(&s.garble).insert(route.clone(), g.times);
                axum::Json(json!({"route": route, "times": g.times})).into_response()
            }
            Err(message) => admin_error(message),
        },
        Err(e) => admin_error(e.to_string()),
    }
}

/// A garble route checked for its shape, `METHOD /path`, so a typo is refused rather than
/// never matched.
fn garble_route(route: &str) -> Result<String, String> {
    let shape = || {
        format!(
            "route must be \"METHOD /path\" (e.g. \"POST /crm/objects/2026-09/deals/batch/upsert\"), not {route:?}"
        )
    };
    let (method, path) = route.trim().split_once(' ').ok_or_else(shape)?;
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    if !known.iter().any(|m| m.as_str() == method)
        || !path.starts_with('/')
        || path.contains(['?', ' '])
    {
        return Err(shape());
    }
    Ok(format!("{method} {path}"))
}

/// `POST /_sandbox/wipe`: the portal loses every record and association and keeps its schema
/// (properties, pipelines, owners), as after a reset or a restore from before a sync wrote.
/// Answers how many records it lost.
pub async fn wipe(State(s): State<Arc<Shared>>) -> Response {
    let records = lock(&s.store).wipe();
    axum::Json(json!({"records": records})).into_response()
}

/// `POST /_sandbox/revoke {"after": N | null}`: the token stops working after N more API
/// requests (0: at once), as when someone revokes a private app's token while a client runs;
/// from then on every API request gets HubSpot's 401 `INVALID_AUTHENTICATION`, the answer to
/// a wrong token. Each API request carrying the token uses one of the N, whatever it is
/// answered. `null` restores the token; `after` must be given, so a typo does not restore it.
/// Answers `{"after": N | null}`.
pub async fn revoke(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Revoke {
        /// Absent: refused; `null`: restore; a number: requests left.
        #[serde(default, deserialize_with = "present")]
        after: Option<Option<u64>>,
    }
    match serde_json::from_slice::<Revoke>(&body) {
        Ok(Revoke { after: Some(after) }) => {
            lock(&s.credentials).revoke_after(after);
            axum::Json(json!({ "after": after })).into_response()
        }
        Ok(Revoke { after: None }) => admin_error(
            "after is required: the API requests the token still works for, or null to restore it"
                .into(),
        ),
        Err(e) => admin_error(e.to_string()),
    }
}

/// `POST /_sandbox/scopes {"missing": ["crm.objects.leads.write", ...]}`: the token lacks
/// these scopes from now on, as when someone unticks them on the private app, and has every
/// other; `[]` restores them all. An API request whose operation accepts none of the scopes
/// the token has left gets HubSpot's 403 `MISSING_SCOPES`, naming the scopes it accepts
/// (`scopes.rs` lists them, from HubSpot's specs). A scope no operation of the sandbox
/// accepts is refused, so a typo is not silently without effect. Answers `{"missing": [...]}`,
/// sorted.
pub async fn set_scopes(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Scopes {
        missing: Vec<String>,
    }
    match serde_json::from_slice::<Scopes>(&body) {
        Ok(sc) => match sc.missing.iter().find(|scope| !scopes::is_known(scope)) {
            Some(unknown) => admin_error(format!(
                "{unknown:?} is not a scope any operation of the sandbox accepts (e.g. \"crm.objects.leads.write\")"
            )),
            None => {
                let mut credentials = lock(&s.credentials);
                let missing = credentials.set_missing(sc.missing);
                axum::Json(json!({ "missing": missing })).into_response()
            }
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garble_routes_are_method_and_path() {
        assert_eq!(
            garble_route("POST /crm/objects/2026-09/deals/batch/upsert").unwrap(),
            "POST /crm/objects/2026-09/deals/batch/upsert"
        );
        assert_eq!(
            garble_route(" GET /crm/v3/pipelines/deals ").unwrap(),
            "GET /crm/v3/pipelines/deals"
        );
        for bad in [
            "/crm/v3/owners",
            "get /crm/v3/owners",
            "GET crm/v3/owners",
            "GET /crm/v3/owners?limit=1",
            "FETCH /crm/v3/owners",
        ] {
            assert!(garble_route(bad).is_err(), "{bad}");
        }
    }
}
