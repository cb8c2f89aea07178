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
use axum::http::{Method, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::Shared;
use super::admin;
use super::dialect::{Dialect, VERSIONS, unsupported_version};
use super::error::ApiError;
use super::guard::guard;
use super::handlers::{self as h, Ctx};

/// HubSpot's endpoints in one dialect.
fn api_routes(shared: Arc<Shared>, api: Dialect) -> Router {
    let objects = api.objects();
    let properties = api.properties();
    let pipelines = api.pipelines();
    let owners = api.owners();
    let associations = api.associations();
    let record_associations = api.association_objects();
    let validations = api.property_validations();
    let mut router = Router::new()
        .route(
            &format!("{objects}/{{type}}"),
            get(h::list_objects).post(h::create_one),
        )
        .route(
            &format!("{objects}/{{type}}/batch/upsert"),
            post(h::batch_upsert),
        )
        .route(
            &format!("{objects}/{{type}}/batch/create"),
            post(h::batch_create),
        )
        .route(
            &format!("{objects}/{{type}}/batch/update"),
            post(h::batch_update),
        )
        .route(
            &format!("{objects}/{{type}}/batch/read"),
            post(h::batch_read),
        )
        .route(&format!("{objects}/{{type}}/search"), post(h::search))
        .route(
            &format!("{objects}/{{type}}/{{id}}"),
            get(h::get_one).patch(h::update_one),
        )
        .route(
            &format!("{properties}/{{type}}"),
            get(h::list_properties).post(h::create_property),
        )
        .route(
            &format!("{properties}/{{type}}/groups"),
            get(h::list_groups).post(h::create_group),
        )
        .route(
            &format!("{properties}/{{type}}/{{name}}"),
            get(h::get_property),
        )
        .route(
            &format!("{pipelines}/{{type}}"),
            get(h::list_pipelines).post(h::create_pipeline),
        )
        .route(
            &format!("{pipelines}/{{type}}/{{id}}"),
            get(h::get_pipeline),
        )
        .route(
            &format!("{pipelines}/{{type}}/{{id}}/stages"),
            get(h::list_stages).post(h::create_stage),
        )
        .route(&owners, get(h::list_owners))
        .route(&format!("{owners}/{{id}}"), get(h::get_owner))
        .route(
            &format!("{associations}/{{from}}/{{to}}/labels"),
            get(h::labels),
        )
        .route(
            &format!("{associations}/{{from}}/{{to}}/batch/associate/default"),
            post(h::associate_default),
        )
        .route(
            &format!("{associations}/{{from}}/{{to}}/batch/read"),
            post(h::read_associations),
        )
        .route(
            &format!("{record_associations}/{{type}}/{{id}}/associations/default/{{to}}/{{to_id}}"),
            put(h::associate_one_default),
        )
        .route(
            &format!("{validations}/{{type}}"),
            get(h::list_validation_rules),
        )
        .route(
            &format!("{validations}/{{type}}/{{name}}"),
            get(h::property_validation_rules),
        )
        .route(
            &format!("{validations}/{{type}}/{{name}}/rule-type/{{rule}}"),
            get(h::get_validation_rule).put(h::put_validation_rule),
        );
    if api.lists_record_associations() {
        router = router.route(
            &format!("{record_associations}/{{type}}/{{id}}/associations/{{to}}"),
            get(h::object_associations),
        );
    }
    router.with_state(Ctx { shared, api })
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
        .with_state(shared);
    admin.merge(api)
}
