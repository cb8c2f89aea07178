//! The scopes each API operation accepts, and HubSpot's 403 for a token that has none of them
//! (`POST /_sandbox/scopes` takes scopes from the token). An operation's OpenAPI spec lists
//! them under `security`, one scope an entry, any one being enough. The table below holds
//! the private-app entries (`private_apps`; the `private_apps_legacy` entry `contacts` some
//! specs add is not a granular scope) of HubSpot's 2026-09 specs, in
//! HubSpot/HubSpot-public-api-spec-collection under `PublicApiSpecs/CRM/`:
//! - records: each type's own spec, `Companies/Rollouts/424/2026-09/companies.json` and
//!   likewise `contacts.json`, `deals.json`, `leads.json` and `tasks.json`:
//!   `crm.objects.<type>.read` for list, get, batch read and search, `.write` for the writes.
//!   Tasks take the contacts scopes, as `tasks.json` has it in every version. The generic
//!   `Objects/Rollouts/424/2026-09/objects.json` lists every type's scopes for every
//!   operation, reads and writes alike, and is not used;
//! - schema: `Properties/Rollouts/145899/2026-09/properties.json`,
//!   `Pipelines/Rollouts/145896/2026-09/pipelines.json` and
//!   `Property Validations/Rollouts/215885/2026-09/propertyValidations.json`, which list the
//!   same scopes: reads accept any `crm.objects.<type>.*` scope (sensitive ones included) or
//!   `crm.schemas.<type>.read`, writes `crm.schemas.<type>.write`;
//! - associations: `Associations/Rollouts/130902/2026-09/associations.json` and
//!   `Associations Schema/Rollouts/130902/2026-09/associationsSchema.json` (labels): any
//!   `crm.objects.<type>.*` scope of either type, reads and writes alike;
//! - owners: `Crm Owners/Rollouts/146888/2026-09/crmOwners.json`: `crm.objects.owners.read`.
//!
//! The shared specs (schema, associations) serve every object type with one operation, so
//! each lists the union of every type's scopes, over ninety. The sandbox keeps those naming
//! the type or types in the path: a token without a type's scopes is refused that type's
//! schema and associations, not another's. Where the 2026-09 specs name no scope of a type
//! (leads' and tasks' schema writes; tasks in the shared specs), the table uses HubSpot's
//! naming, `crm.objects.<type>.read|write`, and says so. The legacy and 2026-03 paths need
//! what the same operation needs on 2026-09.

use std::sync::LazyLock;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::dialect::Dialect;
use super::error::{ApiError, ErrorDetail};
use super::kinds::Kind;

/// Reading or writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What an operation needs, by the object types its path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The records of `{type}`.
    Records(Access),
    /// The schema of `{type}`: properties, groups, pipelines and validation rules.
    Schema(Access),
    /// The associations between `{from}` (or `{type}`) and `{to}`.
    Associations,
    Owners,
}

/// A family of endpoints, with its path prefix in each dialect (`dialect.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Objects,
    Properties,
    Pipelines,
    Owners,
    Associations,
    /// One record's associations (`/crm/v4/objects`, `/crm/objects/{version}`).
    RecordAssociations,
    Validations,
}

impl Family {
    fn prefix(self, api: Dialect) -> String {
        match self {
            Family::Objects => api.objects(),
            Family::Properties => api.properties(),
            Family::Pipelines => api.pipelines(),
            Family::Owners => api.owners(),
            Family::Associations => api.associations(),
            Family::RecordAssociations => api.association_objects(),
            Family::Validations => api.property_validations(),
        }
    }
}

use Access::{Read, Write};
use Family as F;

/// Every API route: its method, its family, its path after the family's prefix (as
/// `routes.rs` registers it in each dialect), and what it needs.
const ROUTES: &[(&str, Family, &str, Need)] = &[
    // Each type's own spec (`companies.json`, ..., Rollouts/424/2026-09).
    ("GET", F::Objects, "/{type}", Need::Records(Read)),
    ("POST", F::Objects, "/{type}", Need::Records(Write)),
    (
        "POST",
        F::Objects,
        "/{type}/batch/upsert",
        Need::Records(Write),
    ),
    (
        "POST",
        F::Objects,
        "/{type}/batch/create",
        Need::Records(Write),
    ),
    (
        "POST",
        F::Objects,
        "/{type}/batch/update",
        Need::Records(Write),
    ),
    (
        "POST",
        F::Objects,
        "/{type}/batch/read",
        Need::Records(Read),
    ),
    (
        "POST",
        F::Objects,
        "/{type}/batch/archive",
        Need::Records(Write),
    ),
    ("POST", F::Objects, "/{type}/search", Need::Records(Read)),
    ("GET", F::Objects, "/{type}/{id}", Need::Records(Read)),
    ("PATCH", F::Objects, "/{type}/{id}", Need::Records(Write)),
    // `properties.json`.
    ("GET", F::Properties, "/{type}", Need::Schema(Read)),
    ("POST", F::Properties, "/{type}", Need::Schema(Write)),
    ("GET", F::Properties, "/{type}/groups", Need::Schema(Read)),
    ("POST", F::Properties, "/{type}/groups", Need::Schema(Write)),
    ("GET", F::Properties, "/{type}/{name}", Need::Schema(Read)),
    // `pipelines.json`.
    ("GET", F::Pipelines, "/{type}", Need::Schema(Read)),
    ("POST", F::Pipelines, "/{type}", Need::Schema(Write)),
    ("GET", F::Pipelines, "/{type}/{id}", Need::Schema(Read)),
    (
        "GET",
        F::Pipelines,
        "/{type}/{id}/stages",
        Need::Schema(Read),
    ),
    (
        "POST",
        F::Pipelines,
        "/{type}/{id}/stages",
        Need::Schema(Write),
    ),
    // `crmOwners.json`.
    ("GET", F::Owners, "", Need::Owners),
    ("GET", F::Owners, "/{id}", Need::Owners),
    // `associationsSchema.json` (labels) and `associations.json`.
    (
        "GET",
        F::Associations,
        "/{from}/{to}/labels",
        Need::Associations,
    ),
    (
        "POST",
        F::Associations,
        "/{from}/{to}/batch/associate/default",
        Need::Associations,
    ),
    (
        "POST",
        F::Associations,
        "/{from}/{to}/batch/read",
        Need::Associations,
    ),
    (
        "PUT",
        F::RecordAssociations,
        "/{type}/{id}/associations/default/{to}/{to_id}",
        Need::Associations,
    ),
    // Served on legacy and 2026-03 paths only: 2026-09 dropped it. As the family's others.
    (
        "GET",
        F::RecordAssociations,
        "/{type}/{id}/associations/{to}",
        Need::Associations,
    ),
    // `propertyValidations.json`.
    ("GET", F::Validations, "/{type}", Need::Schema(Read)),
    ("GET", F::Validations, "/{type}/{name}", Need::Schema(Read)),
    (
        "GET",
        F::Validations,
        "/{type}/{name}/rule-type/{rule}",
        Need::Schema(Read),
    ),
    (
        "PUT",
        F::Validations,
        "/{type}/{name}/rule-type/{rule}",
        Need::Schema(Write),
    ),
];

/// One object type's scopes in the 2026-09 specs.
struct TypeScopes {
    /// Reading its records, in its own spec.
    read: &'static [&'static str],
    /// Writing its records, in its own spec.
    write: &'static [&'static str],
    /// Its `crm.objects.<type>.*` scopes in the shared specs: any one reads its schema, or
    /// reads and writes its associations.
    any: &'static [&'static str],
    /// Its `crm.schemas.<type>.read`, which reads its schema too, where the specs list one.
    schema_read: &'static [&'static str],
    /// What writes its schema.
    schema_write: &'static [&'static str],
}

const COMPANIES: TypeScopes = TypeScopes {
    read: &["crm.objects.companies.read"],
    write: &["crm.objects.companies.write"],
    any: &[
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.objects.companies.sensitive.read",
        "crm.objects.companies.sensitive.read.v2",
        "crm.objects.companies.sensitive.write",
        "crm.objects.companies.sensitive.write.v2",
        "crm.objects.companies.highly_sensitive.read",
        "crm.objects.companies.highly_sensitive.read.v2",
        "crm.objects.companies.highly_sensitive.write",
        "crm.objects.companies.highly_sensitive.write.v2",
    ],
    schema_read: &["crm.schemas.companies.read"],
    schema_write: &["crm.schemas.companies.write"],
};

const CONTACTS: TypeScopes = TypeScopes {
    read: &["crm.objects.contacts.read"],
    write: &["crm.objects.contacts.write"],
    any: &[
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.contacts.sensitive.read",
        "crm.objects.contacts.sensitive.read.v2",
        "crm.objects.contacts.sensitive.write",
        "crm.objects.contacts.sensitive.write.v2",
        "crm.objects.contacts.highly_sensitive.read",
        "crm.objects.contacts.highly_sensitive.read.v2",
        "crm.objects.contacts.highly_sensitive.write",
        "crm.objects.contacts.highly_sensitive.write.v2",
    ],
    schema_read: &["crm.schemas.contacts.read"],
    schema_write: &["crm.schemas.contacts.write"],
};

const DEALS: TypeScopes = TypeScopes {
    read: &["crm.objects.deals.read"],
    write: &["crm.objects.deals.write"],
    any: &[
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.objects.deals.sensitive.read",
        "crm.objects.deals.sensitive.read.v2",
        "crm.objects.deals.sensitive.write",
        "crm.objects.deals.sensitive.write.v2",
        "crm.objects.deals.highly_sensitive.read",
        "crm.objects.deals.highly_sensitive.read.v2",
        "crm.objects.deals.highly_sensitive.write",
        "crm.objects.deals.highly_sensitive.write.v2",
    ],
    schema_read: &["crm.schemas.deals.read"],
    schema_write: &["crm.schemas.deals.write"],
};

const LEADS: TypeScopes = TypeScopes {
    read: &["crm.objects.leads.read"],
    write: &["crm.objects.leads.write"],
    any: &["crm.objects.leads.read", "crm.objects.leads.write"],
    // The specs list no `crm.schemas.leads.*`.
    schema_read: &[],
    // Not in the specs: HubSpot's naming.
    schema_write: &["crm.objects.leads.write"],
};

const TASKS: TypeScopes = TypeScopes {
    // `tasks.json`: the contacts scopes.
    read: &["crm.objects.contacts.read"],
    write: &["crm.objects.contacts.write"],
    // Not in the 2026-09 shared specs: HubSpot's naming (their 2026-03 versions list
    // `crm.objects.tasks.read`).
    any: &["crm.objects.tasks.read", "crm.objects.tasks.write"],
    schema_read: &[],
    // Not in the specs: HubSpot's naming.
    schema_write: &["crm.objects.tasks.write"],
};

/// `crmOwners.json`.
const OWNERS: &[&str] = &["crm.objects.owners.read"];

fn of(kind: Kind) -> &'static TypeScopes {
    match kind {
        Kind::Companies => &COMPANIES,
        Kind::Contacts => &CONTACTS,
        Kind::Deals => &DEALS,
        Kind::Leads => &LEADS,
        Kind::Tasks => &TASKS,
    }
}

/// `ROUTES` in every dialect, as `(method, path pattern, need)`.
static EXPANDED: LazyLock<Vec<(&str, String, Need)>> = LazyLock::new(|| {
    Dialect::ALL
        .into_iter()
        .flat_map(|api| {
            ROUTES.iter().map(move |&(method, family, rest, need)| {
                (method, format!("{}{rest}", family.prefix(api)), need)
            })
        })
        .collect()
});

/// What the route `pattern` (a path as `routes.rs` registers it) needs for `method`.
fn need(method: &Method, pattern: &str) -> Option<Need> {
    EXPANDED
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && p == pattern)
        .map(|(_, _, need)| *need)
}

/// The value of `{name}` in `path`, which the route `pattern` matched.
fn param<'a>(pattern: &str, path: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("{{{name}}}");
    pattern
        .split('/')
        .zip(path.split('/'))
        .find(|(p, _)| *p == wanted)
        .map(|(_, value)| value)
}

/// The scopes `method` on `path` accepts, any one being enough, given the route `pattern` it
/// matched. `None` when nothing is checked: a route not in the table, or an object type the
/// sandbox does not hold (its handler answers HubSpot's 400 for it).
pub fn accepted(method: &Method, pattern: &str, path: &str) -> Option<Vec<&'static str>> {
    let kind = |name: &str| param(pattern, path, name).and_then(Kind::parse);
    let scopes = match need(method, pattern)? {
        Need::Records(Read) => of(kind("type")?).read.to_vec(),
        Need::Records(Write) => of(kind("type")?).write.to_vec(),
        Need::Schema(Read) => {
            let t = of(kind("type")?);
            [t.any, t.schema_read].concat()
        }
        Need::Schema(Write) => of(kind("type")?).schema_write.to_vec(),
        Need::Associations => {
            let from = of(kind("from").or_else(|| kind("type"))?);
            let to = of(kind("to")?);
            let mut scopes = from.any.to_vec();
            scopes.extend(to.any.iter().filter(|s| !from.any.contains(s)));
            scopes
        }
        Need::Owners => OWNERS.to_vec(),
    };
    Some(scopes)
}

/// Whether some operation accepts `scope`, so that `POST /_sandbox/scopes` refuses a typo
/// rather than let it never match.
pub fn is_known(scope: &str) -> bool {
    OWNERS.contains(&scope)
        || Kind::ALL.into_iter().map(of).any(|t| {
            [t.read, t.write, t.any, t.schema_read, t.schema_write]
                .iter()
                .any(|list| list.contains(&scope))
        })
}

/// HubSpot's 403 for a token without any of `accepted`, the scopes the operation takes.
pub fn missing_scopes(accepted: &[&str]) -> Response {
    (StatusCode::FORBIDDEN, axum::Json(forbidden_body(accepted))).into_response()
}

/// The 403's body: an `Error` with the scopes in its one cause, and `links` to HubSpot's page
/// on scopes (`ApiError` has no links of its own).
fn forbidden_body(accepted: &[&str]) -> Value {
    let detail = accepted.iter().fold(
        ErrorDetail::uncoded("One or more of the following scopes are required."),
        |detail, scope| detail.with("requiredGranularScopes", *scope),
    );
    let mut body = ApiError::new(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about \
         required scopes here: https://developers.hubspot.com/scopes.",
    )
    .with_errors(vec![detail])
    .body();
    body["links"] = json!({ "scopes": "https://developers.hubspot.com/scopes" });
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_scopes() {
        let routes = super::super::routes::registered();
        assert!(routes.len() > 80, "{} routes", routes.len());
        for (method, pattern) in &routes {
            assert!(
                need(method, pattern).is_some(),
                "{method} {pattern} has no row in scopes.rs"
            );
        }
        // And no row names a route that does not exist, but for the one 2026-09 dropped.
        for (method, pattern, _) in EXPANDED.iter() {
            let served = routes.iter().any(|(m, p)| m == method && p == pattern);
            let dropped = pattern == "/crm/objects/2026-09/{type}/{id}/associations/{to}";
            assert!(served || dropped, "{method} {pattern} is not a route");
        }
    }

    #[test]
    fn every_route_names_scopes_for_every_type() {
        for (method, pattern) in super::super::routes::registered() {
            for from in Kind::ALL {
                for to in Kind::ALL {
                    let path = pattern
                        .replace("{type}", from.name())
                        .replace("{from}", from.type_id())
                        .replace("{to}", to.name());
                    let scopes = accepted(&method, &pattern, &path).unwrap();
                    assert!(!scopes.is_empty(), "{method} {path}");
                    assert!(scopes.iter().all(|s| is_known(s)), "{method} {path}");
                }
            }
        }
    }

    #[test]
    fn operations_take_the_scopes_of_their_types() {
        let get =
            |method: Method, pattern: &str, path: &str| accepted(&method, pattern, path).unwrap();
        assert_eq!(
            get(
                Method::POST,
                "/crm/objects/2026-09/{type}/batch/create",
                "/crm/objects/2026-09/0-136/batch/create"
            ),
            ["crm.objects.leads.write"]
        );
        assert_eq!(
            get(
                Method::POST,
                "/crm/v3/objects/{type}/search",
                "/crm/v3/objects/tasks/search"
            ),
            ["crm.objects.contacts.read"]
        );
        assert_eq!(
            get(
                Method::GET,
                "/crm/v3/owners/{id}",
                "/crm/v3/owners/70000001"
            ),
            ["crm.objects.owners.read"]
        );
        let schema = get(
            Method::GET,
            "/crm/properties/2026-03/{type}",
            "/crm/properties/2026-03/deals",
        );
        assert_eq!(schema.len(), 11);
        assert!(
            schema.contains(&"crm.schemas.deals.read")
                && schema.contains(&"crm.objects.deals.read")
        );
        assert_eq!(
            get(
                Method::POST,
                "/crm/v3/pipelines/{type}/{id}/stages",
                "/crm/v3/pipelines/deals/default/stages"
            ),
            ["crm.schemas.deals.write"]
        );
        let associations = get(
            Method::PUT,
            "/crm/v4/objects/{type}/{id}/associations/default/{to}/{to_id}",
            "/crm/v4/objects/leads/1/associations/default/contacts/2",
        );
        assert_eq!(associations.len(), 12);
        assert_eq!(
            associations[..2],
            ["crm.objects.leads.read", "crm.objects.leads.write"]
        );
        // An unknown type, or a route outside the table, is not checked here.
        assert_eq!(
            accepted(
                &Method::GET,
                "/crm/v3/objects/{type}",
                "/crm/v3/objects/tickets"
            ),
            None
        );
        assert_eq!(
            accepted(&Method::DELETE, "/crm/v3/objects/{type}/{id}", "/x"),
            None
        );
    }

    #[test]
    fn the_403_is_hubspots() {
        let b = forbidden_body(&["crm.objects.leads.write"]);
        assert_eq!(b["status"], "error");
        assert_eq!(b["category"], "MISSING_SCOPES");
        assert_eq!(
            b["message"],
            "This app hasn't been granted all required scopes to make this call. Read more \
             about required scopes here: https://developers.hubspot.com/scopes."
        );
        assert_eq!(
            b["errors"],
            json!([{
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.leads.write"]},
            }])
        );
        assert_eq!(
            b["links"]["scopes"],
            "https://developers.hubspot.com/scopes"
        );
        assert!(b["correlationId"].is_string());
        assert!(is_known("crm.objects.leads.write") && !is_known("crm.object.leads.write"));
    }
}
