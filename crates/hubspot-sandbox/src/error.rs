//! HubSpot's error bodies. Every non-2xx response follows the specs' `Error` schema
//! (`status`, `message`, `correlationId`, `category`, optional `subCategory`, `context`,
//! `errors`); record-level errors inside a batch answer (a 207, or a 200 on 2026-09) follow
//! `StandardError`. `context` values are always arrays of strings, as both schemas require
//! (clients decode them as such).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// `ErrorDetail`: one cause inside an `Error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
}

impl ErrorDetail {
    pub fn new(code: &str, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            message: message.into(),
            code: Some(code.to_string()),
            context: BTreeMap::new(),
        }
    }

    /// A cause without a code, as HubSpot sends some (a 403's required scopes).
    pub fn uncoded(message: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            message: message.into(),
            code: None,
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> ErrorDetail {
        self.context
            .entry(key.to_string())
            .or_default()
            .push(value.into());
        self
    }
}

/// A request HubSpot would refuse: a status, a category and HubSpot's wording.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("HTTP {status} {category}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub category: String,
    pub message: String,
    pub context: BTreeMap<String, Vec<String>>,
    pub errors: Vec<ErrorDetail>,
}

impl ApiError {
    pub fn new(status: u16, category: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            category: category.to_string(),
            message: message.into(),
            context: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// 400 `VALIDATION_ERROR`, HubSpot's category for any refused request content.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "VALIDATION_ERROR", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "OBJECT_NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "CONFLICT", message)
    }

    pub fn with_context(mut self, key: &str, values: impl IntoIterator<Item = String>) -> ApiError {
        self.context
            .entry(key.to_string())
            .or_default()
            .extend(values);
        self
    }

    pub fn with_errors(mut self, errors: Vec<ErrorDetail>) -> ApiError {
        self.errors = errors;
        self
    }

    /// The `Error` body, with a fresh correlation id.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
        });
        let map = body.as_object_mut().expect("an object literal");
        if !self.context.is_empty() {
            map.insert("context".into(), json!(self.context));
        }
        if !self.errors.is_empty() {
            map.insert("errors".into(), json!(self.errors));
        }
        body
    }

    /// The same error as a batch answer's `StandardError` entry (all of its required fields present).
    pub fn standard(&self) -> Value {
        json!({
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context,
            "errors": self.errors,
            "links": {},
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body())).into_response()
    }
}

/// A UUID-shaped correlation id (HubSpot's are v4 UUIDs). Made from a process-wide counter
/// and the clock, mixed: unique per response, and drawn from nothing the fault RNG uses, so
/// error bodies never shift the seeded fault sequence.
pub fn correlation_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let a = splitmix(n ^ nanos.rotate_left(17));
    let b = splitmix(a ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0x0fff) as u16,
        (((b >> 48) as u16) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_look_like_uuids_and_differ() {
        let a = correlation_id();
        let b = correlation_id();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn error_body_follows_the_spec() {
        let e = ApiError::validation("bad")
            .with_context("ids", ["1".to_string()])
            .with_errors(vec![
                ErrorDetail::new("PROPERTY_DOESNT_EXIST", "no").with("propertyName", "x"),
            ]);
        let b = e.body();
        assert_eq!(b["status"], "error");
        assert_eq!(b["category"], "VALIDATION_ERROR");
        assert_eq!(b["context"]["ids"][0], "1");
        assert_eq!(b["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
        assert!(b["correlationId"].is_string());
        let s = e.standard();
        assert_eq!(s["links"], json!({}));
    }
}
