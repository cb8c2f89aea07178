//! Request and response bodies, as HubSpot's published OpenAPI specs define them
//! (HubSpot/HubSpot-public-api-spec-collection, `PublicApiSpecs/CRM/...`):
//! - objects: `Companies/Rollouts/424/2026-09/companies.json` (and `2026-03`, `v3`; and
//!   Contacts, Deals, Leads, Tasks):
//!   `BatchInputSimplePublicObjectBatchInputUpsert`, `BatchInputSimplePublicObjectBatchInputForCreate`,
//!   `BatchInputSimplePublicObjectBatchInput`, `BatchReadInputSimplePublicObjectId`,
//!   `BatchResponseSimplePublicUpsertObject(WithErrors)`, `StandardError`, `Error`;
//! - associations: `Associations/Rollouts/130902/2026-09/associations.json`
//!   (`BatchInputPublicDefaultAssociationMultiPost`) and
//!   `Associations Schema/Rollouts/130902/2026-09/associationsSchema.json` (labels);
//! - `Properties/Rollouts/145899/2026-09/properties.json` (`PropertyCreate`,
//!   `PropertyGroupCreate`);
//! - `Pipelines/Rollouts/145896/2026-09/pipelines.json` (`PipelineInput`, `PipelineStageInput`);
//! - `Crm Owners/Rollouts/146888/2026-09/crmOwners.json` (`PublicOwner`);
//! - `Property Validations/Rollouts/215885/2026-09/propertyValidations.json`.
//!
//! The 2026-09 specs (`.../Rollouts/<id>/2026-09/...`) keep these shapes; what changed and is
//! followed here: the batch responses' `errors` and `numErrors` moved into the one
//! `BatchResponse*` schema (a partial result may come as 200 or 207, and is read the same),
//! property values in answers are nullable, `OptionInput.displayOrder` is required (always
//! sent), and `PipelineStage` gained `writePermissions` (not read).
//!
//! Property values always travel as strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `PublicObjectId` / `SimplePublicObjectId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectId {
    pub id: String,
}

/// `SimplePublicObjectBatchInputUpsert`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertInput {
    pub id: String,
    pub id_property: String,
    pub properties: BTreeMap<String, String>,
}

/// `AssociationSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationSpec {
    pub association_category: String,
    pub association_type_id: i64,
}

/// `PublicAssociationsForObject`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssociationInput {
    pub to: ObjectId,
    pub types: Vec<AssociationSpec>,
}

/// `SimplePublicObjectBatchInputForCreate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    pub properties: BTreeMap<String, String>,
    pub associations: Vec<AssociationInput>,
    /// Echoed in the result, so results can be matched to inputs.
    pub object_write_trace_id: String,
}

/// `SimplePublicObjectBatchInput`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateInput {
    pub id: String,
    pub properties: BTreeMap<String, String>,
}

/// `BatchInput*`: the envelope of every batch write.
#[derive(Debug, Clone, Serialize)]
pub struct Batch<T> {
    pub inputs: Vec<T>,
}

/// `BatchReadInputSimplePublicObjectId`; all three arrays are required by the spec.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadBody {
    pub inputs: Vec<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_property: Option<String>,
    pub properties: Vec<String>,
    pub properties_with_history: Vec<String>,
}

/// `PublicObjectSearchRequest` (`POST /crm/objects/2026-09/{objectType}/search`, spec
/// `CRM/Companies/Rollouts/424/2026-09/companies.json`); every field the spec marks required
/// is sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchBody {
    pub filter_groups: Vec<FilterGroup>,
    pub properties: Vec<String>,
    pub sorts: Vec<String>,
    pub limit: u32,
    pub after: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterGroup {
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub property_name: String,
    pub operator: String,
}

/// `CollectionResponseWithTotalSimplePublicObject`; only the total is used.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchTotal {
    pub total: u64,
}

/// `PublicDefaultAssociationMultiPost`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultAssociation {
    pub from: ObjectId,
    pub to: ObjectId,
}

/// One record in a batch response (`SimplePublicObject` / `SimplePublicUpsertObject`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectResult {
    pub id: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub new: Option<bool>,
    #[serde(default)]
    pub object_write_trace_id: Option<String>,
    /// When HubSpot created and last changed the record (`SimplePublicObject`'s `createdAt`
    /// and `updatedAt`, RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// `StandardError`: one record-level error inside a 207.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct StandardError {
    /// "The HTTP status code associated with the error", as a string; HubSpot's examples
    /// also write `"error"` here.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
}

/// `BatchResponse*` (200 and 207). `status`, `results`, `startedAt` and `completedAt` are
/// required by the spec, and required here: a 2xx without them (a proxy's HTML page, an empty
/// body, `{}`) is not an answer about any record, and must never read as "none found".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse<T> {
    pub status: BatchStatus,
    pub results: Vec<T>,
    #[serde(default)]
    pub errors: Vec<StandardError>,
    pub started_at: String,
    pub completed_at: String,
}

/// The `status` of a batch response. The batch APIs pqlsync calls are synchronous and answer
/// `COMPLETE`; the others are documented, and are errors here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BatchStatus {
    Pending,
    Processing,
    Canceled,
    Complete,
}

/// `PublicDefaultAssociation`: a created association.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AssociationResult {
    pub from: ObjectId,
    pub to: ObjectId,
}

/// `Error` (any non-2xx), plus the rate-limit fields of a 429 body.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub policy_name: Option<String>,
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

impl ErrorBody {
    /// The scopes a 403 says the call needs (any one is enough), as HubSpot lists them:
    /// `requiredGranularScopes` (or the older `requiredScopes`) in the body's `context` or in
    /// an error's.
    pub fn required_scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let contexts = std::iter::once(&self.context).chain(self.errors.iter().map(|e| &e.context));
        for context in contexts {
            for key in ["requiredGranularScopes", "requiredScopes"] {
                for scope in context.get(key).into_iter().flatten() {
                    if !out.contains(scope) {
                        out.push(scope.clone());
                    }
                }
            }
        }
        out
    }
}

/// `ErrorDetail`.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<String>,
    /// Details by name: a 403 MISSING_SCOPES lists `requiredGranularScopes` here.
    #[serde(default)]
    pub context: BTreeMap<String, Vec<String>>,
}

/// `Property` (the fields pqlsync reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub group_name: String,
    #[serde(default)]
    pub has_unique_value: bool,
    #[serde(default)]
    pub options: Vec<OptionValue>,
}

/// `Option` / `OptionInput`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionValue {
    pub label: String,
    pub value: String,
    #[serde(default)]
    pub display_order: i32,
    #[serde(default)]
    pub hidden: bool,
}

/// `PropertyCreate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyCreate {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    pub group_name: String,
    pub description: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub has_unique_value: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionValue>,
}

/// `PropertyGroupCreate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyGroupCreate {
    pub name: String,
    pub label: String,
    pub display_order: i32,
}

/// `PropertyGroup` (the fields pqlsync reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PropertyGroup {
    pub name: String,
}

/// `Pipeline`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub stages: Vec<PipelineStage>,
    #[serde(default)]
    pub archived: bool,
}

/// `PipelineStage`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PipelineStage {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub archived: bool,
}

/// `PipelineInput`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineInput {
    pub label: String,
    pub display_order: i32,
    pub stages: Vec<StageInput>,
}

/// `PipelineStageInput`; deal stages carry `probability` ("0.0" to "1.0") in `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInput {
    pub label: String,
    pub display_order: i32,
    pub metadata: BTreeMap<String, String>,
}

/// `PublicOwner` (the fields pqlsync reads).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// `CollectionResponse*`: a list, with forward paging where the endpoint pages. `results` is
/// required by every spec, and here: `{}` is not an empty portal.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Collection<T> {
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub next: Option<NextPage>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NextPage {
    pub after: String,
}

/// `PublicPropertyValidationRuleMap`: one property's validation rules
/// (`Property Validations/Rollouts/215885/2026-09/propertyValidations.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyRules {
    pub property_name: String,
    pub property_validation_rules: Vec<ValidationRule>,
}

/// `PublicPropertyValidationRule`: `MAX_LENGTH ["10"]`, `ALPHANUMERIC ["NUMERIC_ONLY"]`, ...
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationRule {
    pub rule_type: String,
    pub rule_arguments: Vec<String>,
}

/// `AssociationSpecWithLabel`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationLabel {
    pub category: String,
    pub type_id: i64,
    #[serde(default)]
    pub label: Option<String>,
}
