//! The sandbox's own routes, outside HubSpot's API (`/_sandbox/*`): no token, no limits,
//! no faults, not counted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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

/// `POST /_sandbox/limits {"requests_per_10s": N?, "daily_limit": N | null}`: change the rate
/// limits from now on, with every counter cleared.
pub async fn set_limits(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
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
