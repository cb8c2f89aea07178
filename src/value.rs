//! Feature values as plain data, and the kinds a contract column may have. A leaf: sources
//! check their contracts with [`Kind`], scoring and routing read [`Value`]s so they never touch
//! Arrow, and nothing here knows about either.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{self as dt, DataType, TimeUnit};

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

    /// Read row `row` of `array`. Types a feature column cannot sensibly have are an error
    /// naming the type, so the caller can name the column.
    pub fn from_array(array: &ArrayRef, row: usize) -> Result<Value, DataType> {
        if array.is_null(row) {
            return Ok(Value::Null);
        }
        let v = match array.data_type() {
            DataType::Int8 => Value::Int(array.as_primitive::<dt::Int8Type>().value(row).into()),
            DataType::Int16 => Value::Int(array.as_primitive::<dt::Int16Type>().value(row).into()),
            DataType::Int32 => Value::Int(array.as_primitive::<dt::Int32Type>().value(row).into()),
            DataType::Int64 => Value::Int(array.as_primitive::<dt::Int64Type>().value(row)),
            DataType::UInt8 => Value::Int(array.as_primitive::<dt::UInt8Type>().value(row).into()),
            DataType::UInt16 => {
                Value::Int(array.as_primitive::<dt::UInt16Type>().value(row).into())
            }
            DataType::UInt32 => {
                Value::Int(array.as_primitive::<dt::UInt32Type>().value(row).into())
            }
            DataType::UInt64 => {
                Value::Int(array.as_primitive::<dt::UInt64Type>().value(row) as i64)
            }
            DataType::Float32 => {
                Value::Float(array.as_primitive::<dt::Float32Type>().value(row).into())
            }
            DataType::Float64 => Value::Float(array.as_primitive::<dt::Float64Type>().value(row)),
            DataType::Decimal128(_, scale) => {
                let raw = array.as_primitive::<dt::Decimal128Type>().value(row);
                Value::Float(raw as f64 / 10f64.powi(i32::from(*scale)))
            }
            DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
            DataType::Utf8 => Value::Str(array.as_string::<i32>().value(row).to_string()),
            DataType::LargeUtf8 => Value::Str(array.as_string::<i64>().value(row).to_string()),
            DataType::Utf8View => Value::Str(array.as_string_view().value(row).to_string()),
            DataType::Date32 => {
                let days = array.as_primitive::<dt::Date32Type>().value(row);
                Value::Date(
                    NaiveDate::from_num_days_from_ce_opt(days + 719_163).ok_or(DataType::Date32)?,
                )
            }
            DataType::Timestamp(unit, _) => {
                let micros = match unit {
                    TimeUnit::Second => {
                        array.as_primitive::<dt::TimestampSecondType>().value(row) * 1_000_000
                    }
                    TimeUnit::Millisecond => {
                        array
                            .as_primitive::<dt::TimestampMillisecondType>()
                            .value(row)
                            * 1_000
                    }
                    TimeUnit::Microsecond => array
                        .as_primitive::<dt::TimestampMicrosecondType>()
                        .value(row),
                    TimeUnit::Nanosecond => {
                        array
                            .as_primitive::<dt::TimestampNanosecondType>()
                            .value(row)
                            / 1_000
                    }
                };
                Value::Timestamp(micros)
            }
            DataType::Dictionary(_, _) => {
                let dict = array.as_any_dictionary();
                let key = dict.normalized_keys()[row];
                return Value::from_array(dict.values(), key);
            }
            other => return Err(other.clone()),
        };
        Ok(v)
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

    pub fn accepts(self, t: &DataType) -> bool {
        use DataType::*;
        match (self, t) {
            (_, Dictionary(_, v)) => self.accepts(v),
            (_, Null) => true,
            (Kind::Text, Utf8 | LargeUtf8 | Utf8View) => true,
            (Kind::Integer, Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64) => {
                true
            }
            (Kind::Number, _) => {
                Kind::Integer.accepts(t) || matches!(t, Float32 | Float64 | Decimal128(..))
            }
            (Kind::Boolean, Boolean) => true,
            (Kind::Timestamp, Timestamp(..) | Date32) => true,
            _ => false,
        }
    }
}

/// The timestamp type sources are normalised to, and the type of `$as_of`.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        BooleanArray, Date32Array, Int32Array, StringArray, StringViewArray,
        TimestampMillisecondArray, TimestampNanosecondArray,
    };

    use super::*;

    #[test]
    fn reads_every_supported_type() {
        let cases: Vec<(ArrayRef, Value)> = vec![
            (Arc::new(Int32Array::from(vec![7])), Value::Int(7)),
            (
                Arc::new(StringArray::from(vec!["a"])),
                Value::Str("a".into()),
            ),
            (
                Arc::new(StringViewArray::from(vec!["v"])),
                Value::Str("v".into()),
            ),
            (Arc::new(BooleanArray::from(vec![true])), Value::Bool(true)),
            (
                Arc::new(TimestampMillisecondArray::from(vec![1_000])),
                Value::Timestamp(1_000_000),
            ),
            (
                Arc::new(TimestampNanosecondArray::from(vec![5_000])),
                Value::Timestamp(5),
            ),
            (
                Arc::new(Date32Array::from(vec![1])),
                Value::Date(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            ),
            (Arc::new(Int32Array::from(vec![None])), Value::Null),
        ];
        for (array, want) in cases {
            assert_eq!(
                Value::from_array(&array, 0).unwrap(),
                want,
                "{:?}",
                array.data_type()
            );
        }
    }

    #[test]
    fn timestamps_display_as_utc() {
        let t = Value::Timestamp(1_763_856_000_000_000);
        assert_eq!(t.to_string(), "2025-11-23T00:00:00Z");
        assert_eq!(t.as_date(), NaiveDate::from_ymd_opt(2025, 11, 23));
    }
}
