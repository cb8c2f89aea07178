//! The CRM object types the sandbox holds, and the names HubSpot accepts for them in paths:
//! the plural name (`deals`), the singular (`deal`) and the object type id (`0-3`; the deals
//! spec writes its paths with it).

use std::fmt;

use serde::Serialize;

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Companies,
    Contacts,
    Deals,
    Leads,
    Tasks,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Companies,
        Kind::Contacts,
        Kind::Deals,
        Kind::Leads,
        Kind::Tasks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Companies => "companies",
            Kind::Contacts => "contacts",
            Kind::Deals => "deals",
            Kind::Leads => "leads",
            Kind::Tasks => "tasks",
        }
    }

    /// HubSpot's object type id.
    pub fn type_id(self) -> &'static str {
        match self {
            Kind::Contacts => "0-1",
            Kind::Companies => "0-2",
            Kind::Deals => "0-3",
            Kind::Tasks => "0-27",
            Kind::Leads => "0-136",
        }
    }

    /// The singular, for messages ("company", "lead").
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Companies => "company",
            Kind::Contacts => "contact",
            Kind::Deals => "deal",
            Kind::Leads => "lead",
            Kind::Tasks => "task",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        let s = s.trim().to_ascii_lowercase();
        Kind::ALL
            .into_iter()
            .find(|k| s == k.name() || s == k.singular() || s == k.type_id())
    }

    /// The kind named in a path, or HubSpot's 400 for an object type it cannot resolve.
    pub fn from_path(s: &str) -> Result<Kind, ApiError> {
        Kind::parse(s).ok_or_else(|| {
            ApiError::validation(format!("Unable to infer object type from: {s}"))
                .with_context("objectType", [s.to_string()])
        })
    }

    /// The property HubSpot maintains as the last-modified date (contacts keep the legacy name).
    pub fn modified_property(self) -> &'static str {
        match self {
            Kind::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The pipeline and stage properties of pipelined objects.
    pub fn pipeline_properties(self) -> Option<(&'static str, &'static str)> {
        match self {
            Kind::Deals => Some(("pipeline", "dealstage")),
            Kind::Leads => Some(("hs_pipeline", "hs_pipeline_stage")),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_type_ids_resolve() {
        assert_eq!(Kind::parse("0-3"), Some(Kind::Deals));
        assert_eq!(Kind::parse("deals"), Some(Kind::Deals));
        assert_eq!(Kind::parse("0-136"), Some(Kind::Leads));
        assert_eq!(Kind::parse("0-27"), Some(Kind::Tasks));
        assert_eq!(Kind::parse("Contact"), Some(Kind::Contacts));
        assert_eq!(Kind::parse("tickets"), None);
        assert_eq!(Kind::from_path("tickets").unwrap_err().status, 400);
    }
}
