//! Which of HubSpot's API versions the client speaks, and every path it calls in each. HubSpot
//! moved to date-based versions on 2026-03-30: the version is a path segment after the API's
//! family (`/crm/objects/2026-09/{objectType}/batch/upsert`), where the legacy APIs put a
//! semantic version before it (`/crm/v3/objects/...`, `/crm/v4/associations/...`). HubSpot ends
//! support for the v4 associations APIs on 2027-03-30 and for every v1–v4 API in September
//! 2027; `legacy` stays only for portals or proxies that cannot take the dated paths yet.
//!
//! Paths follow HubSpot's published specs (HubSpot/HubSpot-public-api-spec-collection,
//! `PublicApiSpecs/CRM/...`):
//! - objects: `Companies|Contacts|Deals|Leads|Tasks/Rollouts/424/{2026-09,2026-03,v3}/*.json`.
//!   2026-09 writes one generic `/crm/objects/2026-09/{objectType}`; 2026-03 and v3 write one
//!   path per object, the deals spec by its type id (`0-3`);
//! - `Associations/Rollouts/130902/{2026-09,2026-03,v4}/associations.json` and
//!   `Associations Schema/Rollouts/130902/.../associationsSchema.json` (labels);
//! - `Properties/Rollouts/145899/...`, `Pipelines/Rollouts/145896/...`,
//!   `Crm Owners/Rollouts/146888/.../crmOwners.json`;
//! - `Property Validations/Rollouts/215885/{2026-09,2026-03,v3}/propertyValidations.json`,
//!   which takes an object *type id* (`0-1`, …) rather than a name.

use std::fmt;

use super::ObjectType;

/// The API version every request of a run targets (`[hubspot] api_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    /// `2026-09`: the current version, and the first that enforces the portal admins'
    /// validation rules on API writes.
    #[default]
    V2026_09,
    /// `2026-03`: the first date-based version.
    V2026_03,
    /// `/crm/v3` and `/crm/v4`: deprecated; HubSpot ends v4 support on 2027-03-30 and v3 in
    /// September 2027.
    Legacy,
}

impl ApiVersion {
    /// The values `[hubspot] api_version` accepts, newest first.
    pub const NAMES: [&'static str; 3] = ["2026-09", "2026-03", "legacy"];

    pub fn parse(s: &str) -> Option<ApiVersion> {
        match s {
            "2026-09" => Some(ApiVersion::V2026_09),
            "2026-03" => Some(ApiVersion::V2026_03),
            "legacy" => Some(ApiVersion::Legacy),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ApiVersion::V2026_09 => "2026-09",
            ApiVersion::V2026_03 => "2026-03",
            ApiVersion::Legacy => "legacy",
        }
    }

    /// The path segment of a dated version; `None` for legacy.
    fn date(self) -> Option<&'static str> {
        match self {
            ApiVersion::Legacy => None,
            v => Some(v.name()),
        }
    }

    /// Whether HubSpot applies the portal's validation rules to this version's API writes
    /// (changelog, "CRM API Write Validation Enforcement Starting with the 2026-09 API
    /// Version"). A write they refuse is a per-record failure like any invalid value.
    pub fn enforces_validation_rules(self) -> bool {
        self == ApiVersion::V2026_09
    }

    /// `/crm/…/objects/…/{objectType}`: batch upsert, create, update and read, and search
    /// hang off it.
    pub fn objects(self, object: ObjectType) -> String {
        match self {
            ApiVersion::V2026_09 => format!("/crm/objects/2026-09/{}", object.name()),
            ApiVersion::V2026_03 => format!("/crm/objects/2026-03/{}", object.spec_segment()),
            ApiVersion::Legacy => format!("/crm/v3/objects/{}", object.spec_segment()),
        }
    }

    /// A family's root: `/crm/{family}/{date}` or `/crm/{legacy}/{family}`.
    fn family(self, family: &str, legacy: &str) -> String {
        match self.date() {
            Some(date) => format!("/crm/{family}/{date}"),
            None => format!("/crm/{legacy}/{family}"),
        }
    }

    /// `GET` the object's property definitions, `POST` one.
    pub fn properties(self, object: ObjectType) -> String {
        format!("{}/{}", self.family("properties", "v3"), object.name())
    }

    /// `GET` the object's property groups, `POST` one.
    pub fn property_groups(self, object: ObjectType) -> String {
        format!("{}/groups", self.properties(object))
    }

    /// `GET` the object's pipelines, `POST` one.
    pub fn pipelines(self, object: ObjectType) -> String {
        format!("{}/{}", self.family("pipelines", "v3"), object.name())
    }

    /// `POST` a stage to a pipeline.
    pub fn pipeline_stages(self, object: ObjectType, pipeline_id: &str) -> String {
        format!("{}/{pipeline_id}/stages", self.pipelines(object))
    }

    /// `GET` the portal's owners (paged).
    pub fn owners(self) -> String {
        self.family("owners", "v3")
    }

    /// `/crm/associations/{date}/{from}/{to}` (legacy: `/crm/v4/associations/...`):
    /// `batch/associate/default` and `labels` hang off it.
    pub fn associations(self, from: ObjectType, to: ObjectType) -> String {
        format!(
            "{}/{}/{}",
            self.family("associations", "v4"),
            from.name(),
            to.name()
        )
    }

    /// `GET` the validation rules of every property of `object` that has any.
    pub fn property_validations(self, object: ObjectType) -> String {
        format!(
            "{}/{}",
            self.family("property-validations", "v3"),
            object.type_id()
        )
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectType::*;

    #[test]
    fn every_path_in_every_version_follows_its_spec() {
        let v9 = ApiVersion::V2026_09;
        let v3 = ApiVersion::V2026_03;
        let old = ApiVersion::Legacy;
        let table: [(String, &str); 21] = [
            (v9.objects(Deals), "/crm/objects/2026-09/deals"),
            (v3.objects(Deals), "/crm/objects/2026-03/0-3"),
            (old.objects(Deals), "/crm/v3/objects/0-3"),
            (v9.objects(Leads), "/crm/objects/2026-09/leads"),
            (v3.objects(Contacts), "/crm/objects/2026-03/contacts"),
            (
                v9.properties(Companies),
                "/crm/properties/2026-09/companies",
            ),
            (old.properties(Companies), "/crm/v3/properties/companies"),
            (
                v9.property_groups(Tasks),
                "/crm/properties/2026-09/tasks/groups",
            ),
            (v9.pipelines(Deals), "/crm/pipelines/2026-09/deals"),
            (
                v9.pipeline_stages(Leads, "p1"),
                "/crm/pipelines/2026-09/leads/p1/stages",
            ),
            (
                old.pipeline_stages(Deals, "p1"),
                "/crm/v3/pipelines/deals/p1/stages",
            ),
            (v9.owners(), "/crm/owners/2026-09"),
            (v3.owners(), "/crm/owners/2026-03"),
            (old.owners(), "/crm/v3/owners"),
            (
                v9.associations(Contacts, Companies),
                "/crm/associations/2026-09/contacts/companies",
            ),
            (
                v3.associations(Leads, Contacts),
                "/crm/associations/2026-03/leads/contacts",
            ),
            (
                old.associations(Contacts, Companies),
                "/crm/v4/associations/contacts/companies",
            ),
            (
                v9.property_validations(Contacts),
                "/crm/property-validations/2026-09/0-1",
            ),
            (
                v9.property_validations(Leads),
                "/crm/property-validations/2026-09/0-136",
            ),
            (
                old.property_validations(Companies),
                "/crm/v3/property-validations/0-2",
            ),
            (
                v3.property_validations(Tasks),
                "/crm/property-validations/2026-03/0-27",
            ),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn versions_parse_by_their_names_only() {
        for name in ApiVersion::NAMES {
            assert_eq!(ApiVersion::parse(name).unwrap().name(), name);
        }
        assert_eq!(ApiVersion::default(), ApiVersion::V2026_09);
        for bad in ["v3", "2025-09", "2026-9", "LEGACY", ""] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
        assert!(ApiVersion::V2026_09.enforces_validation_rules());
        assert!(!ApiVersion::V2026_03.enforces_validation_rules());
        assert!(!ApiVersion::Legacy.enforces_validation_rules());
    }
}
