//! Feature values as plain data, and the kinds a contract column may have. A leaf: sources
//! check their contracts with [`Kind`], scoring and routing read [`Value`]s so they never touch
//! Arrow, and nothing here knows about either.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

/// A feature value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    Date(NaiveDate),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_timestamp(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::Timestamp(us) => DateTime::from_timestamp_micros(*us),
            Value::Date(d) => Some(d.and_hms_opt(0, 0, 0)?.and_utc()),
            _ => None,
        }
    }

    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Value::Date(d) => Some(*d),
            Value::Timestamp(_) => self.as_timestamp().map(|t| t.date_naive()),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", crate::fmt::trim_float(*x)),
            Value::Str(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Timestamp(_) => match self.as_timestamp() {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
                None => f.write_str("invalid timestamp"),
            },
            Value::Date(d) => write!(f, "{d}"),
        }
    }
}

/// The kind of value a contract column must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    Timestamp,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Integer => "an integer",
            Kind::Number => "a number",
            Kind::Boolean => "a boolean",
            Kind::Timestamp => "a timestamp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_display_as_utc() {
        let t = Value::Timestamp(1_763_856_000_000_000);
        assert_eq!(t.to_string(), "2025-11-23T00:00:00Z");
        assert_eq!(t.as_date(), NaiveDate::from_ymd_opt(2025, 11, 23));
    }
}
