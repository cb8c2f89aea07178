//! Request counters for `GET /_sandbox/stats`, so tests can assert how many calls (and
//! writes) a client made. Route keys are normalised: object types by their name (`0-3` counts
//! as `deals`), record, pipeline, stage, owner and property ids as placeholders.

use std::collections::BTreeMap;

use axum::http::Method;
use serde::Serialize;

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
    pub unauthorized: u64,
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

fn kind_name(s: &str) -> String {
    Kind::parse(s).map_or_else(|| s.to_string(), |k| k.name().to_string())
}

/// `METHOD /path` with types named and ids replaced.
pub fn route_key(method: &Method, path: &str) -> String {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut out: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
    let set = |out: &mut Vec<String>, i: usize, v: String| {
        if i < out.len() {
            out[i] = v;
        }
    };
    match segs.as_slice() {
        ["crm", "v3", "objects", ty, rest @ ..] => {
            set(&mut out, 3, kind_name(ty));
            if let Some(first) = rest.first()
                && !matches!(*first, "batch" | "search" | "merge")
            {
                set(&mut out, 4, "{id}".into());
            }
        }
        ["crm", "v3", "properties", ty, rest @ ..] => {
            set(&mut out, 3, kind_name(ty));
            match rest {
                ["groups", _, ..] => set(&mut out, 5, "{groupName}".into()),
                [first, ..] if !matches!(*first, "groups" | "batch") => {
                    set(&mut out, 4, "{propertyName}".into())
                }
                _ => {}
            }
        }
        ["crm", "v3", "pipelines", ty, rest @ ..] => {
            set(&mut out, 3, kind_name(ty));
            if !rest.is_empty() {
                set(&mut out, 4, "{pipelineId}".into());
            }
            if rest.len() >= 3 && rest[1] == "stages" {
                set(&mut out, 6, "{stageId}".into());
            }
        }
        ["crm", "v3", "owners", _, ..] => set(&mut out, 3, "{ownerId}".into()),
        ["crm", "v4", "associations", from, to, ..] => {
            set(&mut out, 3, kind_name(from));
            set(&mut out, 4, kind_name(to));
        }
        ["crm", "v4", "objects", ty, _, "associations", rest @ ..] => {
            set(&mut out, 3, kind_name(ty));
            set(&mut out, 4, "{id}".into());
            match rest {
                ["default", to, _] => {
                    set(&mut out, 7, kind_name(to));
                    set(&mut out, 8, "{toId}".into());
                }
                [to, ..] => {
                    set(&mut out, 6, kind_name(to));
                    if rest.len() > 1 {
                        set(&mut out, 7, "{toId}".into());
                    }
                }
                [] => {}
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
}
