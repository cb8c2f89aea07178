//! The API dialects the sandbox speaks: HubSpot's legacy paths (`/crm/v3/...`,
//! `/crm/v4/...`) and its date-versioned ones (`/crm/objects/2026-03/...`,
//! `/crm/objects/2026-09/...`), with what differs between them. Every API handler is given
//! the dialect of the route it serves, and passes it on to whatever behaves differently.
//!
//! What differs, per HubSpot's specs (`PublicApiSpecs/CRM/<Object>/Rollouts/<id>/<version>/`):
//! - paths: `/crm/v3/objects/{type}` is `/crm/objects/{version}/{type}`, and likewise for
//!   properties, pipelines, owners and property validations; `/crm/v4/associations/...` is
//!   `/crm/associations/{version}/...` and `/crm/v4/objects/...` (association writes) is
//!   `/crm/objects/{version}/...`;
//! - 2026-09 declares no `207` for batch endpoints (`companies.json` and the other object
//!   specs of Rollouts/424/2026-09, `associations.json` of Rollouts/130902/2026-09): a batch
//!   with ids not found answers `200`, carrying `errors` and `numErrors` (its
//!   `BatchResponse*` schemas have both);
//! - 2026-09 applies the portal's property validation rules to API writes (HubSpot's
//!   changelog, "Breaking Change: CRM API Write Validation Enforcement Starting with the
//!   2026-09 API Version"); the legacy paths and 2026-03 store and serve the rules without
//!   enforcing them;
//! - 2026-09 dropped `GET /crm/objects/{version}/{type}/{id}/associations/{toType}`
//!   (`associations.json` of Rollouts/130902 has it in 2026-03, not in 2026-09).

/// One dialect of HubSpot's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `/crm/v3/...` and `/crm/v4/...`.
    Legacy,
    /// `/crm/.../2026-03/...`.
    V2026_03,
    /// `/crm/.../2026-09/...`.
    V2026_09,
}

/// The date versions the sandbox serves, oldest first.
pub const VERSIONS: [&str; 2] = ["2026-03", "2026-09"];

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Legacy, Dialect::V2026_03, Dialect::V2026_09];

    /// The date version in the path, `None` for the legacy paths.
    pub fn version(self) -> Option<&'static str> {
        match self {
            Dialect::Legacy => None,
            Dialect::V2026_03 => Some(VERSIONS[0]),
            Dialect::V2026_09 => Some(VERSIONS[1]),
        }
    }

    /// The path prefix of an API family: `family` is the dated name (`objects`,
    /// `properties`, `pipelines`, `owners`, `associations`, `property-validations`), `legacy`
    /// the legacy version segment of that family (`v3` or `v4`).
    fn prefix(self, family: &str, legacy: &str) -> String {
        match self.version() {
            None => format!("/crm/{legacy}/{family}"),
            Some(v) => format!("/crm/{family}/{v}"),
        }
    }

    /// `/crm/v3/objects` or `/crm/objects/{version}`.
    pub fn objects(self) -> String {
        self.prefix("objects", "v3")
    }

    /// Where association writes on one record live: `/crm/v4/objects` or
    /// `/crm/objects/{version}`.
    pub fn association_objects(self) -> String {
        self.prefix("objects", "v4")
    }

    pub fn properties(self) -> String {
        self.prefix("properties", "v3")
    }

    pub fn pipelines(self) -> String {
        self.prefix("pipelines", "v3")
    }

    pub fn owners(self) -> String {
        self.prefix("owners", "v3")
    }

    pub fn associations(self) -> String {
        self.prefix("associations", "v4")
    }

    pub fn property_validations(self) -> String {
        self.prefix("property-validations", "v3")
    }

    /// The status of a batch answer with some inputs failed (ids not found): 207 where the
    /// spec declares it, 200 on 2026-09, which declares none.
    pub fn partial_status(self) -> u16 {
        match self {
            Dialect::V2026_09 => 200,
            _ => 207,
        }
    }

    /// Whether object writes are checked against the portal's property validation rules.
    pub fn enforces_validation_rules(self) -> bool {
        self == Dialect::V2026_09
    }

    /// Whether `GET .../objects/{type}/{id}/associations/{toType}` exists.
    pub fn lists_record_associations(self) -> bool {
        self != Dialect::V2026_09
    }
}

/// `YYYY-MM`, the shape of HubSpot's date versions.
pub fn is_date_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
}

/// The date version of a path the sandbox does not serve (`/crm/objects/2025-09/...`), if it
/// names one.
pub fn unsupported_version(path: &str) -> Option<&str> {
    let mut segs = path.trim_start_matches('/').split('/');
    let (Some("crm"), Some(_family), Some(v)) = (segs.next(), segs.next(), segs.next()) else {
        return None;
    };
    (is_date_version(v) && !VERSIONS.contains(&v)).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_the_specs() {
        assert_eq!(Dialect::Legacy.objects(), "/crm/v3/objects");
        assert_eq!(Dialect::Legacy.association_objects(), "/crm/v4/objects");
        assert_eq!(Dialect::Legacy.associations(), "/crm/v4/associations");
        assert_eq!(
            Dialect::Legacy.property_validations(),
            "/crm/v3/property-validations"
        );
        assert_eq!(Dialect::V2026_09.objects(), "/crm/objects/2026-09");
        assert_eq!(
            Dialect::V2026_09.association_objects(),
            "/crm/objects/2026-09"
        );
        assert_eq!(Dialect::V2026_03.owners(), "/crm/owners/2026-03");
        assert_eq!(
            Dialect::V2026_03.associations(),
            "/crm/associations/2026-03"
        );
        assert_eq!(
            Dialect::V2026_09.property_validations(),
            "/crm/property-validations/2026-09"
        );
    }

    #[test]
    fn only_2026_09_answers_partial_batches_with_200_and_enforces_rules() {
        assert_eq!(Dialect::Legacy.partial_status(), 207);
        assert_eq!(Dialect::V2026_03.partial_status(), 207);
        assert_eq!(Dialect::V2026_09.partial_status(), 200);
        assert!(!Dialect::Legacy.enforces_validation_rules());
        assert!(!Dialect::V2026_03.enforces_validation_rules());
        assert!(Dialect::V2026_09.enforces_validation_rules());
    }

    #[test]
    fn unsupported_versions_are_recognised() {
        assert_eq!(
            unsupported_version("/crm/objects/2025-09/deals"),
            Some("2025-09")
        );
        assert_eq!(unsupported_version("/crm/owners/2027-03"), Some("2027-03"));
        assert_eq!(unsupported_version("/crm/objects/2026-09/deals"), None);
        assert_eq!(unsupported_version("/crm/v3/objects/deals"), None);
        assert_eq!(unsupported_version("/crm/objects/latest/deals"), None);
        assert!(is_date_version("2026-03"));
        assert!(!is_date_version("2026-3"));
        assert!(!is_date_version("v3"));
    }
}
