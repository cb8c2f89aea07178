//! The HTTP surface: HubSpot's paths in each dialect (`dialect.rs`) and the sandbox's own
//! `/_sandbox/*` admin routes (`admin.rs`). One function lists HubSpot's endpoints; it is
//! called once per dialect with that dialect's path prefixes, and every handler
//! (`handlers.rs`) is given the dialect of its route.
//!
//! The endpoints, per HubSpot's specs (`PublicApiSpecs/CRM/<Object>/Rollouts/<id>/<version>/`):
//! objects (`companies.json`, `contacts.json`, `deals.json`, `leads.json`, `tasks.json`,
//! Rollouts/424), properties (`properties.json`, Rollouts/145899), pipelines
//! (`pipelines.json`, Rollouts/145896), owners (`crmOwners.json`, Rollouts/146888),
//! associations (`associations.json` and `associationsSchema.json`, Rollouts/130902 for the
//! dated versions) and property validations (`propertyValidations.json`, Rollouts/215885),
//! each in `v3` (associations `v4`), `2026-03` and `2026-09`.

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on, post};

use super::Shared;
use super::admin;
use super::dialect::{Dialect, VERSIONS, unsupported_version};
use super::error::ApiError;
use super::guard::guard;
use super::handlers::{self as h, Ctx};

/// One of HubSpot's endpoints: a method on a path pattern, and the handler that serves it.
type Endpoint = (Method, String, MethodRouter<Ctx>);

/// `method` on the path `rest` after the family's `prefix`, served by `handler`.
fn endpoint<H, T>(method: Method, prefix: &str, rest: &str, handler: H) -> Endpoint
where
    H: Handler<T, Ctx>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
    (method, format!("{prefix}{rest}"), on(filter, handler))
}

/// HubSpot's endpoints in one dialect, one method on one path each. They are listed as data
/// so that `scopes.rs` can be checked against them: every endpoint needs a row in its table.
fn endpoints(api: Dialect) -> Vec<Endpoint> {
    use Method as M;
    let objects = &api.objects();
    let properties = &api.properties();
    let pipelines = &api.pipelines();
    let owners = &api.owners();
    let associations = &api.associations();
    let record_associations = &api.association_objects();
    let validations = &api.property_validations();
    let rule = "/{type}/{name}/rule-type/{rule}";
    let mut list = vec![
        endpoint(M::GET, objects, "/{type}", h::list_objects),
        endpoint(M::POST, objects, "/{type}", h::create_one),
        endpoint(M::POST, objects, "/{type}/batch/upsert", h::batch_upsert),
        endpoint(M::POST, objects, "/{type}/batch/create", h::batch_create),
        endpoint(M::POST, objects, "/{type}/batch/update", h::batch_update),
        endpoint(M::POST, objects, "/{type}/batch/read", h::batch_read),
        endpoint(M::POST, objects, "/{type}/batch/archive", h::batch_archive),
        endpoint(M::POST, objects, "/{type}/search", h::search),
        endpoint(M::GET, objects, "/{type}/{id}", h::get_one),
        endpoint(M::PATCH, objects, "/{type}/{id}", h::update_one),
        endpoint(M::GET, properties, "/{type}", h::list_properties),
        endpoint(M::POST, properties, "/{type}", h::create_property),
        endpoint(M::GET, properties, "/{type}/groups", h::list_groups),
        endpoint(M::POST, properties, "/{type}/groups", h::create_group),
        endpoint(M::GET, properties, "/{type}/{name}", h::get_property),
        endpoint(M::GET, pipelines, "/{type}", h::list_pipelines),
        endpoint(M::POST, pipelines, "/{type}", h::create_pipeline),
        endpoint(M::GET, pipelines, "/{type}/{id}", h::get_pipeline),
        endpoint(M::GET, pipelines, "/{type}/{id}/stages", h::list_stages),
        endpoint(M::POST, pipelines, "/{type}/{id}/stages", h::create_stage),
        endpoint(M::GET, owners, "", h::list_owners),
        endpoint(M::GET, owners, "/{id}", h::get_owner),
        endpoint(M::GET, associations, "/{from}/{to}/labels", h::labels),
        endpoint(
            M::POST,
            associations,
            "/{from}/{to}/batch/associate/default",
            h::associate_default,
        ),
        endpoint(
            M::POST,
            associations,
            "/{from}/{to}/batch/read",
            h::read_associations,
        ),
        endpoint(
            M::PUT,
            record_associations,
            "/{type}/{id}/associations/default/{to}/{to_id}",
            h::associate_one_default,
        ),
        endpoint(M::GET, validations, "/{type}", h::list_validation_rules),
        endpoint(
            M::GET,
            validations,
            "/{type}/{name}",
            h::property_validation_rules,
        ),
        endpoint(M::GET, validations, rule, h::get_validation_rule),
        endpoint(M::PUT, validations, rule, h::put_validation_rule),
    ];
    if api.lists_record_associations() {
        list.push(endpoint(
            M::GET,
            record_associations,
            "/{type}/{id}/associations/{to}",
            h::object_associations,
        ));
    }
    list
}

/// HubSpot's endpoints in one dialect. Methods on one path merge into one route.
fn api_routes(shared: Arc<Shared>, api: Dialect) -> Router {
    endpoints(api)
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(&path, handler)
        })
        .with_state(Ctx { shared, api })
}

/// Every API endpoint in every dialect, as `(method, path pattern)`: what the guard sees as a
/// request's matched path.
#[cfg(test)]
pub fn registered() -> Vec<(Method, String)> {
    Dialect::ALL
        .into_iter()
        .flat_map(endpoints)
        .map(|(method, path, _)| (method, path))
        .collect()
}

// ---- fallbacks ----

/// 404 for a path no dialect serves; for a date version the sandbox does not serve, naming
/// the ones it does.
async fn no_route(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if let Some(version) = unsupported_version(path) {
        return ApiError::new(
            404,
            "RESOURCE_NOT_FOUND",
            format!(
                "API version {version} is not supported by the sandbox ({method} {path}); it serves {} and the legacy /crm/v3 and /crm/v4 paths",
                VERSIONS.join(" and ")
            ),
        )
        .with_context("version", [version.to_string()])
        .with_context("supportedVersions", VERSIONS.map(str::to_string))
        .into_response();
    }
    ApiError::new(
        404,
        "RESOURCE_NOT_FOUND",
        format!("The sandbox has no endpoint {method} {path}"),
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

/// Every route: HubSpot's in every dialect behind the guard, the admin ones beside it.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Dialect::ALL
        .into_iter()
        .fold(Router::new(), |router, api| {
            router.merge(api_routes(shared.clone(), api))
        })
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(from_fn_with_state(shared.clone(), guard));
    let admin = Router::new()
        .route("/_sandbox/dump", get(admin::dump))
        .route("/_sandbox/stats", get(admin::stats))
        .route("/_sandbox/stats/reset", post(admin::reset_stats))
        .route("/_sandbox/limits", post(admin::set_limits))
        .route("/_sandbox/refuse", post(admin::set_refused))
        .route("/_sandbox/garble", post(admin::set_garbled))
        .route("/_sandbox/queues", post(admin::add_queue))
        .route("/_sandbox/edit", post(admin::edit))
        .route("/_sandbox/wipe", post(admin::wipe))
        .route("/_sandbox/revoke", post(admin::revoke))
        .route("/_sandbox/scopes", post(admin::set_scopes))
        .with_state(shared);
    admin.merge(api)
}
