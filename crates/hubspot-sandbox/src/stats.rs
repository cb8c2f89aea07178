//! Request counters for `GET /_sandbox/stats`, so tests can assert how many calls (and
//! writes) a client made. Route keys are normalised: object types by their name (`0-3` counts
//! as `deals`), record, pipeline, stage, owner and property ids as placeholders, on legacy
//! and dated paths alike (each keeps its version segment). `POST /_sandbox/garble` matches
//! requests by these keys too.

use std::collections::BTreeMap;

use axum::http::Method;
use serde::Serialize;

use super::dialect::is_date_version;
use super::kinds::Kind;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub requests: u64,
    /// Requests with a write method, except reads sent as POST (`batch/read`, `search`),
    /// whether or not they succeeded.
    pub writes: u64,
    pub by_route: BTreeMap<String, u64>,
    pub rate_limited: u64,
    pub injected_faults: u64,
    /// 401s: no token, a wrong one, or one revoked (`POST /_sandbox/revoke`).
    pub unauthorized: u64,
    /// 403s for a token without the scopes of the operation (`POST /_sandbox/scopes`).
    pub missing_scopes: u64,
}

impl Stats {
    pub fn record(&mut self, method: &Method, path: &str) {
        self.requests += 1;
        if is_write(method, path) {
            self.writes += 1;
        }
        *self.by_route.entry(route_key(method, path)).or_default() += 1;
    }
}

pub fn is_write(method: &Method, path: &str) -> bool {
    let write_method = matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    write_method
        && !path.trim_end_matches('/').ends_with("/batch/read")
        && !path.trim_end_matches('/').ends_with("/search")
}

/// A CRM object search (`POST /crm/v3/objects/{type}/search`, or its dated path), which
/// HubSpot rate limits on its own.
pub fn is_search(method: &Method, path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    *method == Method::POST
        && match segs.as_slice() {
            ["crm", "v3", "objects", _, "search"] => true,
            ["crm", "objects", version, _, "search"] => is_date_version(version),
            _ => false,
        }
}

fn kind_name(s: &str) -> String {
    Kind::parse(s).map_or_else(|| s.to_string(), |k| k.name().to_string())
}

/// `METHOD /path` with types named and ids replaced. Legacy and dated paths are keyed alike,
/// each keeping its version: `POST /crm/v3/objects/0-3/batch/upsert` counts as `POST
/// /crm/v3/objects/deals/batch/upsert`, `PATCH /crm/objects/2026-09/0-2/123` as `PATCH
/// /crm/objects/2026-09/companies/{id}`. Both shapes put the family's own segments (type,
/// id, ...) from the fourth segment on.
pub fn route_key(method: &Method, path: &str) -> String {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut out: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
    let set = |out: &mut Vec<String>, i: usize, v: String| {
        if i < out.len() {
            out[i] = v;
        }
    };
    let family = match segs.as_slice() {
        ["crm", "v3" | "v4", family, _, ..] => Some(*family),
        ["crm", family, version, _, ..] if is_date_version(version) => Some(*family),
        _ => None,
    };
    let rest = segs.get(3..).unwrap_or_default();
    match (family, rest) {
        (Some("objects"), [ty, rest @ ..]) => {
            set(&mut out, 3, kind_name(ty));
            match rest {
                [] => {}
                [first, ..] if matches!(*first, "batch" | "search" | "merge") => {}
                [_, "associations", tail @ ..] => {
                    set(&mut out, 4, "{id}".into());
                    match tail {
                        ["default", to, _] => {
                            set(&mut out, 7, kind_name(to));
                            set(&mut out, 8, "{toId}".into());
                        }
                        [to, more @ ..] => {
                            set(&mut out, 6, kind_name(to));
                            if !more.is_empty() {
                                set(&mut out, 7, "{toId}".into());
                            }
                        }
                        [] => {}
                    }
                }
                [_, ..] => set(&mut out, 4, "{id}".into()),
            }
        }
        (Some("properties"), [ty, rest @ ..]) => {
            set(&mut out, 3, kind_name(ty));
            match rest {
                ["groups", _, ..] => set(&mut out, 5, "{groupName}".into()),
                [first, ..] if !matches!(*first, "groups" | "batch") => {
                    set(&mut out, 4, "{propertyName}".into())
                }
                _ => {}
            }
        }
        (Some("pipelines"), [ty, rest @ ..]) => {
            set(&mut out, 3, kind_name(ty));
            if !rest.is_empty() {
                set(&mut out, 4, "{pipelineId}".into());
            }
            if rest.len() >= 3 && rest[1] == "stages" {
                set(&mut out, 6, "{stageId}".into());
            }
        }
        (Some("owners"), [_, ..]) => set(&mut out, 3, "{ownerId}".into()),
        (Some("associations"), [from, to, ..]) => {
            set(&mut out, 3, kind_name(from));
            set(&mut out, 4, kind_name(to));
        }
        // The rule type stays: it is one of a fixed set, like an endpoint name.
        (Some("property-validations"), [ty, rest @ ..]) => {
            set(&mut out, 3, kind_name(ty));
            if !rest.is_empty() {
                set(&mut out, 4, "{propertyName}".into());
            }
        }
        _ => {}
    }
    format!("{method} /{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_keyed_by_type_not_id() {
        let k = |m: Method, p: &str| route_key(&m, p);
        assert_eq!(
            k(Method::POST, "/crm/v3/objects/0-3/batch/upsert"),
            "POST /crm/v3/objects/deals/batch/upsert"
        );
        assert_eq!(
            k(Method::GET, "/crm/v3/objects/contacts/123"),
            "GET /crm/v3/objects/contacts/{id}"
        );
        assert_eq!(
            k(Method::GET, "/crm/v3/properties/companies"),
            "GET /crm/v3/properties/companies"
        );
        assert_eq!(
            k(Method::POST, "/crm/v3/properties/companies/groups"),
            "POST /crm/v3/properties/companies/groups"
        );
        assert_eq!(
            k(Method::GET, "/crm/v3/properties/companies/pql_score"),
            "GET /crm/v3/properties/companies/{propertyName}"
        );
        assert_eq!(
            k(Method::POST, "/crm/v3/pipelines/0-136/99/stages"),
            "POST /crm/v3/pipelines/leads/{pipelineId}/stages"
        );
        assert_eq!(k(Method::GET, "/crm/v3/owners"), "GET /crm/v3/owners");
        assert_eq!(
            k(
                Method::POST,
                "/crm/v4/associations/0-1/0-2/batch/associate/default"
            ),
            "POST /crm/v4/associations/contacts/companies/batch/associate/default"
        );
        assert_eq!(
            k(Method::GET, "/crm/v4/objects/deals/5/associations/contacts"),
            "GET /crm/v4/objects/deals/{id}/associations/contacts"
        );
        assert_eq!(
            k(
                Method::PUT,
                "/crm/v4/objects/deals/5/associations/default/contacts/6"
            ),
            "PUT /crm/v4/objects/deals/{id}/associations/default/contacts/{toId}"
        );
    }

    #[test]
    fn reads_sent_as_post_are_not_writes() {
        assert!(is_write(
            &Method::POST,
            "/crm/v3/objects/companies/batch/upsert"
        ));
        assert!(!is_write(
            &Method::POST,
            "/crm/v3/objects/companies/batch/read"
        ));
        assert!(!is_write(
            &Method::POST,
            "/crm/v4/associations/deals/contacts/batch/read"
        ));
        assert!(!is_write(&Method::POST, "/crm/v3/objects/companies/search"));
        assert!(!is_write(&Method::GET, "/crm/v3/owners"));
        assert!(is_write(&Method::PATCH, "/crm/v3/objects/companies/1"));
    }

    #[test]
    fn dated_routes_are_keyed_like_legacy_ones() {
        let k = |m: Method, p: &str| route_key(&m, p);
        assert_eq!(
            k(Method::POST, "/crm/objects/2026-09/0-3/batch/upsert"),
            "POST /crm/objects/2026-09/deals/batch/upsert"
        );
        assert_eq!(
            k(Method::PATCH, "/crm/objects/2026-03/0-2/123"),
            "PATCH /crm/objects/2026-03/companies/{id}"
        );
        assert_eq!(
            k(Method::POST, "/crm/objects/2026-09/companies/search"),
            "POST /crm/objects/2026-09/companies/search"
        );
        assert_eq!(
            k(Method::GET, "/crm/pipelines/2026-09/0-3"),
            "GET /crm/pipelines/2026-09/deals"
        );
        assert_eq!(
            k(Method::POST, "/crm/pipelines/2026-09/leads/77/stages"),
            "POST /crm/pipelines/2026-09/leads/{pipelineId}/stages"
        );
        assert_eq!(
            k(Method::GET, "/crm/owners/2026-09"),
            "GET /crm/owners/2026-09"
        );
        assert_eq!(
            k(Method::GET, "/crm/owners/2026-09/70000001"),
            "GET /crm/owners/2026-09/{ownerId}"
        );
        assert_eq!(
            k(Method::GET, "/crm/properties/2026-09/0-2/name"),
            "GET /crm/properties/2026-09/companies/{propertyName}"
        );
        assert_eq!(
            k(
                Method::POST,
                "/crm/associations/2026-09/0-1/0-2/batch/associate/default"
            ),
            "POST /crm/associations/2026-09/contacts/companies/batch/associate/default"
        );
        assert_eq!(
            k(
                Method::PUT,
                "/crm/objects/2026-09/deals/5/associations/default/0-1/6"
            ),
            "PUT /crm/objects/2026-09/deals/{id}/associations/default/contacts/{toId}"
        );
        assert_eq!(
            k(Method::GET, "/crm/objects/2026-03/deals/5/associations/0-1"),
            "GET /crm/objects/2026-03/deals/{id}/associations/contacts"
        );
        assert_eq!(
            k(Method::GET, "/crm/property-validations/2026-09/0-1"),
            "GET /crm/property-validations/2026-09/contacts"
        );
        assert_eq!(
            k(
                Method::PUT,
                "/crm/property-validations/2026-09/0-2/name/rule-type/MAX_LENGTH"
            ),
            "PUT /crm/property-validations/2026-09/companies/{propertyName}/rule-type/MAX_LENGTH"
        );
        assert_eq!(
            k(Method::GET, "/crm/v3/property-validations/0-1/email"),
            "GET /crm/v3/property-validations/contacts/{propertyName}"
        );
        // Unknown shapes are kept as they are.
        assert_eq!(k(Method::GET, "/crm/v9/nothing"), "GET /crm/v9/nothing");
    }

    #[test]
    fn searches_are_posts_to_an_object_search_path() {
        for path in [
            "/crm/v3/objects/companies/search",
            "/crm/objects/2026-09/0-3/search",
            "/crm/objects/2026-03/tasks/search/",
        ] {
            assert!(is_search(&Method::POST, path), "{path}");
        }
        assert!(!is_search(&Method::GET, "/crm/v3/objects/companies/search"));
        assert!(!is_search(
            &Method::POST,
            "/crm/v3/objects/companies/batch/read"
        ));
        assert!(!is_search(
            &Method::POST,
            "/crm/v3/properties/companies/search"
        ));
        assert!(!is_search(
            &Method::POST,
            "/crm/objects/latest/deals/search"
        ));
    }

    #[test]
    fn dated_reads_sent_as_post_are_not_writes() {
        assert!(!is_write(
            &Method::POST,
            "/crm/objects/2026-09/companies/batch/read"
        ));
        assert!(!is_write(&Method::POST, "/crm/objects/2026-09/0-3/search"));
        assert!(!is_write(
            &Method::POST,
            "/crm/associations/2026-09/deals/contacts/batch/read"
        ));
        assert!(is_write(
            &Method::POST,
            "/crm/objects/2026-09/companies/batch/upsert"
        ));
        assert!(is_write(
            &Method::PUT,
            "/crm/property-validations/2026-09/0-2/name/rule-type/MAX_LENGTH"
        ));
    }
}
