//! What a CRM call answers, record by record: written or read (`Outcome::Done`), not there
//! (`NotFound`) or refused (`Failed`, with HubSpot's own explanation); or the end of the run
//! (`Stop`: daily limit, token, scopes).
//!
//! A leaf: the client, the `Crm` implementations and the sync all speak these types, and none
//! of them is needed to define them.

use serde::Serialize;

use super::api::{ErrorBody, ObjectResult, StandardError};

/// A record HubSpot did not accept, as HubSpot explained it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub status: Option<u16>,
    pub category: Option<String>,
    pub message: String,
    pub correlation_id: Option<String>,
    #[serde(skip)]
    pub body: Option<ErrorBody>,
}

impl Failure {
    /// A failure that never reached HubSpot (transport, encoding).
    pub fn local(message: String) -> Failure {
        Failure {
            status: None,
            category: None,
            message,
            correlation_id: None,
            body: None,
        }
    }

    pub fn from_body(status: Option<u16>, body: &ErrorBody) -> Failure {
        let mut message = body.message.clone();
        for detail in &body.errors {
            if !detail.message.is_empty() && !message.contains(&detail.message) {
                message.push_str("; ");
                message.push_str(&detail.message);
            }
        }
        Failure {
            status,
            category: body.category.clone(),
            message,
            correlation_id: body.correlation_id.clone(),
            body: Some(body.clone()),
        }
    }

    /// One record's error inside a 207 multi-status answer.
    pub(super) fn from_standard(
        status: u16,
        e: &StandardError,
        correlation_id: Option<String>,
    ) -> Failure {
        Failure {
            status: Some(status),
            category: Some(e.category.clone()),
            message: e.message.clone(),
            correlation_id,
            body: None,
        }
    }
}

/// Why a run stops early (daily limit, token, scopes). Records not yet written stay pending.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    pub message: String,
    pub correlation_id: Option<String>,
}

/// What happened to one input of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Written (or read); the record as the CRM returned it, when it returns one.
    Done(Option<ObjectResult>),
    /// Read: no such record.
    NotFound,
    /// Refused, or retries ran out.
    Failed(Failure),
}
