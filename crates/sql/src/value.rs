//! Feature values read out of Arrow arrays, and the Arrow types a contract [`Kind`] accepts.
//! The values and kinds themselves are plain data in `pqlsync_core::value`, so the rules never
//! see Arrow; this is the one place that turns a cell into a [`Value`]. The traits carry the
//! methods, so `Value::from_array(..)` and `kind.accepts(..)` read as before wherever they are
//! in scope.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{self as dt, DataType, TimeUnit};

pub use pqlsync_core::value::{Kind, Value};

/// Reading a [`Value`] out of an Arrow array.
pub trait FromArray: Sized {
    /// Read row `row` of `array`. Types a feature column cannot sensibly have are an error
    /// naming the type, so the caller can name the column.
    fn from_array(array: &ArrayRef, row: usize) -> Result<Self, DataType>;
}

impl FromArray for Value {
    fn from_array(array: &ArrayRef, row: usize) -> Result<Value, DataType> {
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

/// The Arrow types a contract [`Kind`] accepts.
pub trait ArrowKind {
    fn accepts(self, t: &DataType) -> bool;
}

impl ArrowKind for Kind {
    fn accepts(self, t: &DataType) -> bool {
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

/// One row's values of the named columns of a batch, read cell by cell: what scoring sees of a
/// row (`get` returns [`Value::Null`] for a column it was not given). The decider and the
/// user reader share it; the buffer is reused from row to row.
pub struct Row<'a> {
    columns: Vec<(&'a str, &'a ArrayRef)>,
    values: Vec<(&'a str, Value)>,
}

impl<'a> Row<'a> {
    pub fn new(columns: Vec<(&'a str, &'a ArrayRef)>) -> Self {
        let values = columns.iter().map(|(n, _)| (*n, Value::Null)).collect();
        Row { columns, values }
    }

    /// Read row `row`; a cell of a type scoring cannot read is an error naming its column.
    pub fn read(&mut self, row: usize) -> Result<(), (&'a str, DataType)> {
        for (slot, (name, array)) in self.values.iter_mut().zip(&self.columns) {
            slot.1 = Value::from_array(array, row).map_err(|found| (*name, found))?;
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> &Value {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&Value::Null, |(_, v)| v)
    }
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
}
