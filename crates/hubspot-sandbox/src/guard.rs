//! What every API request passes through before its handler, in HubSpot's order: counted,
//! delayed by the configured latency, authenticated (401: no token, a wrong one, or one
//! revoked by `POST /_sandbox/revoke`), checked for the scopes its operation needs (403
//! `MISSING_SCOPES`, `scopes.rs`), rate limited (429), and perhaps failed by an injected
//! fault (5xx) before or after processing. `/_sandbox/*` bypasses all of it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::error::{ApiError, correlation_id};
use super::limits::{Policy, Request as Limited};
use super::scopes;
use super::stats::{is_search, route_key};
use super::{Shared, lock};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// HubSpot's 401 (same body whether the token is missing or wrong).
fn unauthorized() -> Response {
    ApiError::new(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more \
         details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
    .into_response()
}

/// HubSpot's 429 body. It carries `errorType`, `policyName` and `groupName` and, unlike other
/// errors, no `category`. A search over its limit per second gets the body HubSpot gives a
/// secondly limit (`"You have reached your secondly limit."`, `policyName: SECONDLY`, as
/// HubSpot's 429s are quoted in client issues, e.g. HGData/mk-node-hubspot#84 and #89; HubSpot's
/// usage guide: "The message and policyName will indicate which limit you hit (either daily or
/// secondly)") and `Retry-After: 1`: the search window is a second long. The `groupName`s are
/// the sandbox's own.
fn rate_limited(policy: Policy) -> Response {
    let (message, name, group) = match policy {
        Policy::TenSecondly => (
            "You have reached your ten_secondly_rolling limit.",
            "TEN_SECONDLY_ROLLING",
            "publicapi:private-app:sandbox",
        ),
        Policy::Daily => (
            "You have reached your daily limit.",
            "DAILY",
            "publicapi:private-app:sandbox",
        ),
        Policy::SearchSecondly => (
            "You have reached your secondly limit.",
            "SECONDLY",
            "publicapi:crm-search:sandbox",
        ),
    };
    let body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": name,
        "groupName": group,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if policy == Policy::SearchSecondly {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

pub async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    // A server finishes what it started when the client hangs up (a killed sync): run the
    // request in a task of its own, which a dropped connection does not cancel.
    match tokio::spawn(process(shared, request, next)).await {
        Ok(response) => response,
        Err(e) => {
            ApiError::new(500, "INTERNAL_ERROR", format!("the sandbox failed: {e}")).into_response()
        }
    }
}

/// Why the token may not make this request, if it may not: HubSpot's 401 for no token, a
/// wrong one or one revoked (each request with the token uses one of those a revocation left
/// it), then its 403 for a token without any scope the operation accepts. Both come before
/// the rate limits, which are per token and count what a token is let do: a request refused
/// for its token or its scopes is not counted against them and carries no rate-limit
/// headers, as the 401 never has. A request matching no route is checked for its token
/// only, and gets its 404 or 405.
fn refusal(shared: &Shared, request: &Request) -> Option<Response> {
    let token = bearer(request.headers()).filter(|t| *t == shared.config.token);
    if token.is_none() || !lock(&shared.credentials).admit() {
        lock(&shared.stats).unauthorized += 1;
        return Some(unauthorized());
    }
    let route = request.extensions().get::<MatchedPath>()?;
    let accepted = scopes::accepted(request.method(), route.as_str(), request.uri().path())?;
    if !lock(&shared.credentials).lacks_all(&accepted) {
        return None;
    }
    lock(&shared.stats).missing_scopes += 1;
    Some(scopes::missing_scopes(&accepted))
}

/// Whether this request is due to be garbled (`POST /_sandbox/garble`), using one of its
/// times. Matched by the path as requested, else by its route key.
fn take_garble(shared: &Shared, method: &Method, path: &str) -> bool {
    let mut garble = lock(&shared.garble);
    let due = [format!("{method} {path}"), route_key(method, path)]
        .into_iter()
        .find(|route| garble.get(route).is_some_and(|n| *n > 0));
    match due.and_then(|route| garble.get_mut(&route)) {
        Some(n) => {
            *n -= 1;
            true
        }
        None => false,
    }
}

async fn process(shared: Arc<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    lock(&shared.stats).record(&method, &path);
    // Drawn for every request, refused or not, so the fault sequence depends on arrival order
    // alone.
    let draw = lock(&shared.faults).draw();
    if !draw.delay.is_zero() {
        // Latency is spent before processing, like time on the wire.
        tokio::time::sleep(draw.delay).await;
    }
    if let Some(refused) = refusal(&shared, &request) {
        return refused;
    }
    let limited = if is_search(&method, &path) {
        Limited::Search
    } else {
        Limited::Other
    };
    let admitted = lock(&shared.limits).admit(
        &shared.config.token,
        Instant::now(),
        Utc::now().date_naive(),
        limited,
    );
    let usage = match admitted {
        Ok(usage) => usage,
        Err((policy, usage)) => {
            lock(&shared.stats).rate_limited += 1;
            let mut response = rate_limited(policy);
            usage.apply(response.headers_mut());
            return response;
        }
    };
    // A proxy or gateway in the way answers 200 with a page of its own; the request may
    // still have reached HubSpot, so it is processed, and its answer replaced.
    if take_garble(&shared, &method, &path) {
        drop(next.run(request).await);
        let page = "<html><head><title>200 OK</title></head><body>Gateway</body></html>";
        let mut r = (StatusCode::OK, page).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        usage.apply(r.headers_mut());
        return r;
    }
    // Faults strike every admitted API request, reads included: real outages do not spare
    // GETs, and a client's discovery calls need retries as much as its writes.
    let mut response = match draw.fault {
        None => next.run(request).await,
        Some(fault) => {
            if fault.after_commit {
                // Process fully (a write is applied), then lose the answer.
                drop(next.run(request).await);
            }
            lock(&shared.stats).injected_faults += 1;
            let mut r = fault.error().into_response();
            r.headers_mut().insert(
                "x-sandbox-fault",
                HeaderValue::from_static(fault.header_value()),
            );
            r
        }
    };
    usage.apply(response.headers_mut());
    response
}
