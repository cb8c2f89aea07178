//! What a CRM call answers, record by record: written or read (`Outcome::Done`), not there
//! (`NotFound`) or refused (`Failed`, with HubSpot's own explanation); or, for a whole batch,
//! refused for what some of its records hold (`BatchError::Rejected`, the caller splits it) or
//! the end of the run (`Stop`: daily limit, token, scopes).
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

    /// Whether the write certainly did not happen: HubSpot refused it (a 4xx other than a
    /// timeout or a rate limit). Otherwise (a 5xx, retries run out, no answer) it may have been
    /// applied and its answer lost.
    pub fn certainly_not_applied(&self) -> bool {
        self.status
            .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
    }

    /// One record's error inside a 207 multi-status answer.
    pub(super) fn from_standard(
        status: u16,
        e: &StandardError,
        correlation_id: Option<String>,
    ) -> Failure {
        Failure {
            // The error's own status where it gives a number (a record's 404 inside a 200 or
            // 207 batch answer), else the answer's.
            status: Some(e.status.parse().unwrap_or(status)),
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
    /// HubSpot refused the token (401) or its scopes (403): no later run will do better
    /// until a person fixes them, so the run fails (exit 2) rather than reporting failures.
    pub credentials: bool,
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

/// Why a batch write has no outcome per record.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchError {
    /// The whole batch was refused for what one or more of its records hold: HubSpot fails a
    /// batch for a single invalid record, so the caller splits it to find the records at fault
    /// and lets the others land. For a batch of one, this is that record's failure.
    Rejected(Box<Failure>),
    /// Nothing more will succeed this run.
    Stop(Stop),
}

impl From<Stop> for BatchError {
    fn from(stop: Stop) -> BatchError {
        BatchError::Stop(stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_certainly_applied_nothing() {
        let cases = [
            (Some(400), true),
            (Some(409), true),
            (Some(404), true),
            (Some(408), false),
            (Some(429), false),
            (Some(500), false),
            (Some(503), false),
            (None, false),
        ];
        for (status, want) in cases {
            let f = Failure {
                status,
                ..Failure::local("x".into())
            };
            assert_eq!(f.certainly_not_applied(), want, "{status:?}");
        }
    }
}
