//! Typed values and the two schemas the workload uses.
//!
//! A schema is a fixed, ordered list of `(name, type)` pairs, so a field is
//! known by its position; a field name is resolved to its index once per
//! call and everything after that is indexing (how an entity stores its
//! values is `fields.rs`). Values are cheap to clone: strings, lists and
//! maps are behind `Arc`, so reading a field never copies its contents.
//!
//! Type checking lives here too, because it is a property of a schema and a
//! value alone: a write of the wrong type is refused, never coerced (an int
//! written into a float field is a mismatch like any other). Equality for
//! change detection (`same_value`) and the content hash of a snapshot
//! (`hash_value`) are also defined here, beside the type they inspect, and
//! both treat floats by their bits so that a NaN equals itself and a stored
//! hash is reproducible.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::error::EcsError;

/// A typed field value. Cloning is cheap (strings and collections are shared).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Time(DateTime<Utc>),
    /// A list; the schema fixes the element type (int or str).
    List(Arc<[Value]>),
    /// A map of str → str.
    Map(Arc<BTreeMap<String, String>>),
}

/// The type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Int,
    Float,
    Str,
    Time,
    IntList,
    StrList,
    StrMap,
}

/// The two schemas the workload uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schema {
    /// name, counter, data_value, text_content, timestamp, version_count,
    /// borrow_count, modification_history
    TestDataEntity,
    /// source_name, source_counter, source_data, source_text, source_values,
    /// source_metadata
    TestDataSource,
}

/// The most fields any schema has; transactions stage writes in an array of
/// this size instead of allocating.
pub const MAX_FIELDS: usize = 8;

/// The append-only history field of `TestDataEntity`.
pub const HISTORY_FIELD: &str = "modification_history";

const ENTITY_FIELDS: [(&str, ValueType); 8] = [
    ("name", ValueType::Str),
    ("counter", ValueType::Int),
    ("data_value", ValueType::Float),
    ("text_content", ValueType::Str),
    ("timestamp", ValueType::Time),
    ("version_count", ValueType::Int),
    ("borrow_count", ValueType::Int),
    (HISTORY_FIELD, ValueType::StrList),
];

const SOURCE_FIELDS: [(&str, ValueType); 6] = [
    ("source_name", ValueType::Str),
    ("source_counter", ValueType::Int),
    ("source_data", ValueType::Float),
    ("source_text", ValueType::Str),
    ("source_values", ValueType::IntList),
    ("source_metadata", ValueType::StrMap),
];

impl Value {
    /// The type of this value. A list is an `IntList` when it is empty or
    /// starts with an int, a `StrList` when it starts with a str; whether
    /// every element agrees is checked when the value is written.
    pub(crate) fn value_type(&self) -> ValueType {
        match self {
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Str(_) => ValueType::Str,
            Value::Time(_) => ValueType::Time,
            Value::List(items) => match items.first() {
                Some(Value::Str(_)) => ValueType::StrList,
                _ => ValueType::IntList,
            },
            Value::Map(_) => ValueType::StrMap,
        }
    }

    /// A str value.
    pub fn str(text: &str) -> Value {
        Value::Str(Arc::from(text))
    }

    /// A list of ints.
    pub(crate) fn int_list(items: &[i64]) -> Value {
        Value::List(items.iter().map(|&i| Value::Int(i)).collect())
    }

    /// A list of strs.
    pub fn str_list<S: AsRef<str>>(items: &[S]) -> Value {
        Value::List(items.iter().map(|s| Value::str(s.as_ref())).collect())
    }

    /// A str → str map.
    pub(crate) fn str_map<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Value {
        Value::Map(Arc::new(
            pairs
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
                .collect(),
        ))
    }

    /// The int, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    #[cfg(test)]
    /// The list elements, if this is a list.
    pub(crate) fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Value {
        Value::Time(t)
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Str => "str",
            ValueType::Time => "time",
            ValueType::IntList => "list of int",
            ValueType::StrList => "list of str",
            ValueType::StrMap => "map of str to str",
        })
    }
}

impl Schema {
    /// The schema's name: `"TestDataEntity"` or `"TestDataSource"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Schema::TestDataEntity => "TestDataEntity",
            Schema::TestDataSource => "TestDataSource",
        }
    }

    /// The fields, in their fixed order.
    pub fn fields(self) -> &'static [(&'static str, ValueType)] {
        match self {
            Schema::TestDataEntity => &ENTITY_FIELDS,
            Schema::TestDataSource => &SOURCE_FIELDS,
        }
    }

    /// Position of `name` in [`Schema::fields`].
    pub(crate) fn field_index(self, name: &str) -> Option<usize> {
        self.fields().iter().position(|(n, _)| *n == name)
    }

    /// Position of the append-only history field, if the schema has one.
    pub(crate) fn history_index(self) -> Option<usize> {
        match self {
            Schema::TestDataEntity => Some(ENTITY_FIELDS.len() - 1),
            Schema::TestDataSource => None,
        }
    }

    /// Comma-separated field names, for error messages.
    pub(crate) fn field_names(self) -> String {
        let names: Vec<&str> = self.fields().iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }

    /// Resolve a field name or say which fields exist.
    pub(crate) fn require_field(self, name: &str) -> Result<usize, EcsError> {
        self.field_index(name)
            .ok_or_else(|| EcsError::UnknownField {
                field: name.to_owned(),
                schema: self,
            })
    }

    /// The default live values (the history slot holds an empty list; the
    /// history itself lives in the entity's log).
    pub(crate) fn defaults(self, now: DateTime<Utc>) -> Vec<Value> {
        match self {
            Schema::TestDataEntity => vec![
                Value::str("test_entity"),
                Value::Int(0),
                Value::Float(0.0),
                Value::str(""),
                Value::Time(now),
                Value::Int(0),
                Value::Int(0),
                Value::List(Arc::from([])),
            ],
            Schema::TestDataSource => vec![
                Value::str("data_source"),
                Value::Int(100),
                Value::Float(99.99),
                Value::str("borrowed_content"),
                Value::int_list(&[1, 2, 3, 4, 5]),
                Value::str_map(&[("type", "source"), ("quality", "high")]),
            ],
        }
    }

    /// Check that `value` may be stored in field `index` (which must be a
    /// valid index of this schema).
    pub(crate) fn check_type(self, index: usize, value: &Value) -> Result<(), EcsError> {
        let (field, expected) = self.fields()[index];
        let element = match (expected, value) {
            (ValueType::Int, Value::Int(_))
            | (ValueType::Float, Value::Float(_))
            | (ValueType::Str, Value::Str(_))
            | (ValueType::Time, Value::Time(_))
            | (ValueType::StrMap, Value::Map(_)) => return Ok(()),
            (ValueType::IntList, Value::List(_)) => ValueType::Int,
            (ValueType::StrList, Value::List(_)) => ValueType::Str,
            _ => {
                return Err(EcsError::TypeMismatch {
                    schema: self,
                    field,
                    expected,
                    got: value.value_type(),
                });
            }
        };
        let Value::List(items) = value else {
            return Ok(());
        };
        match items.iter().position(|v| v.value_type() != element) {
            None => Ok(()),
            Some(index) => Err(EcsError::ListElementMismatch {
                schema: self,
                field,
                expected,
                index,
                got: items[index].value_type(),
            }),
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Identity for change detection: like `==`, but floats compare by bits (a
/// NaN equals itself) and shared allocations short-circuit.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => Arc::ptr_eq(x, y) || x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            Arc::ptr_eq(x, y)
                || (x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same_value(a, b)))
        }
        (Value::Map(x), Value::Map(y)) => Arc::ptr_eq(x, y) || x == y,
        _ => false,
    }
}

/// The tag [`hash_value`] writes first, one per variant.
pub(crate) struct HashTag;

impl HashTag {
    const INT: u8 = 0;
    const FLOAT: u8 = 1;
    const STR: u8 = 2;
    const TIME: u8 = 3;
    pub(crate) const LIST: u8 = 4;
    const MAP: u8 = 5;
}

/// Feed a value into a hasher, unambiguously (tag, lengths, float bits).
pub(crate) fn hash_value<H: Hasher>(h: &mut H, value: &Value) {
    match value {
        Value::Int(i) => hash_int(h, *i),
        Value::Float(f) => hash_float(h, *f),
        Value::Str(s) => hash_str(h, s),
        Value::Time(t) => hash_time(h, t),
        Value::List(items) => {
            h.write_u8(HashTag::LIST);
            h.write_usize(items.len());
            for item in items.iter() {
                hash_value(h, item);
            }
        }
        Value::Map(map) => {
            h.write_u8(HashTag::MAP);
            h.write_usize(map.len());
            for (k, v) in map.iter() {
                h.write_usize(k.len());
                h.write(k.as_bytes());
                h.write_usize(v.len());
                h.write(v.as_bytes());
            }
        }
    }
}

/// [`hash_value`] of `Value::Int(i)`.
pub(crate) fn hash_int<H: Hasher>(h: &mut H, i: i64) {
    h.write_u8(HashTag::INT);
    h.write_i64(i);
}

/// [`hash_value`] of `Value::Float(f)`.
pub(crate) fn hash_float<H: Hasher>(h: &mut H, f: f64) {
    h.write_u8(HashTag::FLOAT);
    h.write_u64(f.to_bits());
}

/// [`hash_value`] of a `Value::Str` holding `s`.
pub(crate) fn hash_str<H: Hasher>(h: &mut H, s: &str) {
    h.write_u8(HashTag::STR);
    h.write_usize(s.len());
    h.write(s.as_bytes());
}

/// [`hash_value`] of `Value::Time(t)`.
pub(crate) fn hash_time<H: Hasher>(h: &mut H, t: &DateTime<Utc>) {
    h.write_u8(HashTag::TIME);
    h.write_i64(t.timestamp());
    h.write_u32(t.timestamp_subsec_nanos());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_of_each_variant_and_list_shapes() {
        let now = Utc::now();
        let cases = [
            (Value::Int(1), ValueType::Int),
            (Value::Float(1.0), ValueType::Float),
            (Value::str("x"), ValueType::Str),
            (Value::Time(now), ValueType::Time),
            (Value::int_list(&[]), ValueType::IntList),
            (Value::int_list(&[1, 2]), ValueType::IntList),
            (Value::str_list(&["a"]), ValueType::StrList),
            (Value::str_map(&[("k", "v")]), ValueType::StrMap),
        ];
        for (value, ty) in cases {
            assert_eq!(value.value_type(), ty, "{value:?}");
        }
    }

    #[test]
    fn schemas_list_fields_in_declared_order_and_resolve_names() {
        let names: Vec<&str> = Schema::TestDataEntity
            .fields()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            names,
            [
                "name",
                "counter",
                "data_value",
                "text_content",
                "timestamp",
                "version_count",
                "borrow_count",
                "modification_history"
            ]
        );
        assert_eq!(Schema::TestDataSource.fields().len(), 6);
        assert_eq!(Schema::TestDataSource.field_index("source_values"), Some(4));
        assert_eq!(Schema::TestDataSource.field_index("counter"), None);
        assert_eq!(Schema::TestDataEntity.name(), "TestDataEntity");
        assert_eq!(Schema::TestDataSource.to_string(), "TestDataSource");
        for schema in [Schema::TestDataEntity, Schema::TestDataSource] {
            assert!(schema.fields().len() <= MAX_FIELDS);
            let defaults = schema.defaults(Utc::now());
            assert_eq!(defaults.len(), schema.fields().len());
            for (i, v) in defaults.iter().enumerate() {
                assert_eq!(schema.check_type(i, v), Ok(()), "{schema} default {i}");
            }
        }
    }

    #[test]
    fn check_type_never_coerces_and_checks_every_list_element() {
        let s = Schema::TestDataEntity;
        let data_value = s.field_index("data_value").unwrap();
        assert_eq!(
            s.check_type(data_value, &Value::Int(3)),
            Err(EcsError::TypeMismatch {
                schema: s,
                field: "data_value",
                expected: ValueType::Float,
                got: ValueType::Int,
            })
        );
        let src = Schema::TestDataSource;
        let values = src.field_index("source_values").unwrap();
        let mixed = Value::List(Arc::from([Value::Int(1), Value::Float(2.0)]));
        let err = src.check_type(values, &mixed).unwrap_err();
        assert_eq!(
            err,
            EcsError::ListElementMismatch {
                schema: src,
                field: "source_values",
                expected: ValueType::IntList,
                index: 1,
                got: ValueType::Float,
            }
        );
        assert!(err.to_string().contains("element 1"), "{err}");
        assert!(
            src.check_type(values, &Value::str_list(&["a"])).is_err(),
            "a str list is not an int list"
        );
    }

    #[test]
    fn same_value_treats_nan_as_itself_and_distinguishes_types() {
        assert!(same_value(&Value::Float(f64::NAN), &Value::Float(f64::NAN)));
        assert!(!same_value(&Value::Float(0.0), &Value::Float(-0.0)));
        assert!(!same_value(&Value::Int(1), &Value::Float(1.0)));
        assert!(same_value(&Value::str("a"), &Value::str("a")));
        assert!(!same_value(
            &Value::int_list(&[1, 2]),
            &Value::int_list(&[1, 3])
        ));
    }
}
