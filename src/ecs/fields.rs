//! An entity's field values: a typed record for `TestDataEntity`, a slice
//! of [`Value`]s for any other schema; and their provenance.
//!
//! A million targets each hold a field array, and every version that a
//! write follows copies one (copy on write, see `store.rs`). As eight
//! `Value`s, a `TestDataEntity`'s array took 192 bytes plus its `Arc`
//! header; as a record of its seven stored fields (the history field lives
//! in the entity's log) it takes 80. Readers still see `Value`s: the
//! record builds one on request, and hashes and compares its fields exactly
//! as the `Value`s they stand for (the content hash of a snapshot and the
//! store digest are the same numbers either way).

use std::hash::Hasher;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::value::{
    HashTag, Schema, Value, hash_float, hash_int, hash_str, hash_time, hash_value, same_value,
};

/// A `TestDataEntity`'s stored fields (every field but
/// `modification_history`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EntityRecord {
    name: Arc<str>,
    text_content: Arc<str>,
    counter: i64,
    data_value: f64,
    version_count: i64,
    borrow_count: i64,
    timestamp: DateTime<Utc>,
}

/// Field positions of `TestDataEntity` (its order in `value.rs`).
const NAME: usize = 0;
const COUNTER: usize = 1;
const DATA_VALUE: usize = 2;
const TEXT_CONTENT: usize = 3;
const TIMESTAMP: usize = 4;
const VERSION_COUNT: usize = 5;
const BORROW_COUNT: usize = 6;
/// `modification_history`: not stored here; reads as the empty list.
const ENTITY_FIELD_COUNT: usize = 8;

/// An entity's field values, shared by reference between the live state
/// and the snapshots until a write copies them. One thin pointer: the
/// live state and the latest snapshot of every entity hold one.
#[derive(Clone, Debug)]
pub(crate) struct Fields(Arc<Block>);

#[derive(Clone, Debug)]
enum Block {
    Entity(EntityRecord),
    Values(Vec<Value>),
}

impl Fields {
    /// Ask for the shared block (see [`crate::prefetch`]).
    pub(crate) fn prefetch(&self) {
        crate::prefetch::read(&*self.0);
    }

    /// Fields from a schema's values in field order, which must type-check
    /// (the history slot of a `TestDataEntity` is ignored).
    pub(crate) fn from_values(schema: Schema, values: Vec<Value>) -> Fields {
        match schema {
            Schema::TestDataEntity => {
                let text = |i: usize| match values.get(i) {
                    Some(Value::Str(s)) => Arc::clone(s),
                    _ => Arc::from(""),
                };
                let int = |i: usize| values.get(i).and_then(Value::as_int).unwrap_or(0);
                Fields(Arc::new(Block::Entity(EntityRecord {
                    name: text(NAME),
                    text_content: text(TEXT_CONTENT),
                    counter: int(COUNTER),
                    data_value: match values.get(DATA_VALUE) {
                        Some(Value::Float(f)) => *f,
                        _ => 0.0,
                    },
                    version_count: int(VERSION_COUNT),
                    borrow_count: int(BORROW_COUNT),
                    timestamp: match values.get(TIMESTAMP) {
                        Some(Value::Time(t)) => *t,
                        _ => DateTime::UNIX_EPOCH,
                    },
                })))
            }
            Schema::TestDataSource => Fields(Arc::new(Block::Values(values))),
        }
    }

    /// A copy in a new allocation of its own, every time field set to
    /// `now` (a new entity's fields, from its schema's defaults).
    pub(crate) fn dated(&self, now: DateTime<Utc>) -> Fields {
        Fields(Arc::new(match &*self.0 {
            Block::Entity(r) => Block::Entity(EntityRecord {
                timestamp: now,
                ..r.clone()
            }),
            Block::Values(v) => Block::Values(
                v.iter()
                    .map(|v| match v {
                        Value::Time(_) => Value::Time(now),
                        other => other.clone(),
                    })
                    .collect(),
            ),
        }))
    }

    /// Whether these are the fields of `schema`.
    pub(crate) fn fits(&self, schema: Schema) -> bool {
        match &*self.0 {
            Block::Entity(_) => schema == Schema::TestDataEntity,
            Block::Values(v) => {
                schema != Schema::TestDataEntity && v.len() == schema.fields().len()
            }
        }
    }

    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        match &*self.0 {
            Block::Entity(_) => ENTITY_FIELD_COUNT,
            Block::Values(v) => v.len(),
        }
    }

    /// The value of field `index` (a cheap clone).
    pub(crate) fn get(&self, index: usize) -> Value {
        match &*self.0 {
            Block::Entity(r) => match index {
                NAME => Value::Str(Arc::clone(&r.name)),
                COUNTER => Value::Int(r.counter),
                DATA_VALUE => Value::Float(r.data_value),
                TEXT_CONTENT => Value::Str(Arc::clone(&r.text_content)),
                TIMESTAMP => Value::Time(r.timestamp),
                VERSION_COUNT => Value::Int(r.version_count),
                BORROW_COUNT => Value::Int(r.borrow_count),
                _ => Value::List(Arc::from([])),
            },
            Block::Values(v) => v[index].clone(),
        }
    }

    /// Write field `index`, copying the fields first if they are shared.
    /// The value must have been checked against the schema; one of another
    /// type (or for the history slot) is refused with `false`.
    #[must_use]
    pub(crate) fn set(&mut self, index: usize, value: Value) -> bool {
        let fits = match &*self.0 {
            Block::Entity(_) => matches!(
                (index, &value),
                (NAME | TEXT_CONTENT, Value::Str(_))
                    | (COUNTER | VERSION_COUNT | BORROW_COUNT, Value::Int(_))
                    | (DATA_VALUE, Value::Float(_))
                    | (TIMESTAMP, Value::Time(_))
            ),
            Block::Values(v) => index < v.len(),
        };
        if !fits {
            return false;
        }
        match Arc::make_mut(&mut self.0) {
            Block::Entity(r) => match value {
                Value::Str(s) if index == NAME => r.name = s,
                Value::Str(s) => r.text_content = s,
                Value::Int(i) if index == COUNTER => r.counter = i,
                Value::Int(i) if index == VERSION_COUNT => r.version_count = i,
                Value::Int(i) => r.borrow_count = i,
                Value::Float(f) => r.data_value = f,
                Value::Time(t) => r.timestamp = t,
                Value::List(_) | Value::Map(_) => return false,
            },
            Block::Values(v) => v[index] = value,
        }
        true
    }

    /// Whether both hold the same values (floats by their bits); shared
    /// fields are equal without a look.
    pub(crate) fn same(&self, other: &Fields) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        match (&*self.0, &*other.0) {
            (Block::Entity(a), Block::Entity(b)) => {
                a.name == b.name
                    && a.text_content == b.text_content
                    && a.counter == b.counter
                    && a.data_value.to_bits() == b.data_value.to_bits()
                    && a.version_count == b.version_count
                    && a.borrow_count == b.borrow_count
                    && a.timestamp == b.timestamp
            }
            (Block::Values(a), Block::Values(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_value(x, y))
            }
            _ => false,
        }
    }

    /// Feed field `index` into a hasher, as [`hash_value`] feeds its value.
    pub(crate) fn hash_field<H: Hasher>(&self, h: &mut H, index: usize) {
        match &*self.0 {
            Block::Entity(r) => match index {
                NAME => hash_str(h, &r.name),
                COUNTER => hash_int(h, r.counter),
                DATA_VALUE => hash_float(h, r.data_value),
                TEXT_CONTENT => hash_str(h, &r.text_content),
                TIMESTAMP => hash_time(h, &r.timestamp),
                VERSION_COUNT => hash_int(h, r.version_count),
                BORROW_COUNT => hash_int(h, r.borrow_count),
                _ => {
                    // The empty list the history slot reads as.
                    h.write_u8(HashTag::LIST);
                    h.write_usize(0);
                }
            },
            Block::Values(v) => hash_value(h, &v[index]),
        }
    }

    /// Feed every field into a hasher: the count, then each field.
    pub(crate) fn hash_all<H: Hasher>(&self, h: &mut H) {
        h.write_usize(self.len());
        for index in 0..self.len() {
            self.hash_field(h, index);
        }
    }

    /// The values of a schema without a record (the audit checks their
    /// types; a record's are typed already).
    pub(crate) fn values(&self) -> Option<&[Value]> {
        match &*self.0 {
            Block::Entity(_) => None,
            Block::Values(v) => Some(v),
        }
    }
}

/// Which fields hold a borrowed value, and the version each was borrowed
/// from. Only borrowed fields are kept, by position, in one block shared
/// like the fields (most entities borrow nothing, and a borrow writes one
/// field: 48 bytes where a slot per field took 160).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Provenance(Option<Arc<[(u8, Uuid)]>>);

impl Provenance {
    /// The version field `index` was borrowed from, if it was.
    pub(crate) fn get(&self, index: usize) -> Option<Uuid> {
        let block = self.0.as_deref()?;
        block
            .iter()
            .find(|(i, _)| usize::from(*i) == index)
            .map(|(_, id)| *id)
    }

    /// Record (or clear) where field `index` came from; a block shared with a snapshot is replaced, never changed.
    pub(crate) fn set(&mut self, index: usize, from: Option<Uuid>) {
        if self.get(index) == from {
            return;
        }
        let Ok(position) = u8::try_from(index) else {
            return;
        };
        let others = self
            .0
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|(i, _)| *i != position)
            .copied();
        let mut block: Vec<(u8, Uuid)> = others.chain(from.map(|id| (position, id))).collect();
        // One order for one content, so that equal provenances compare equal.
        block.sort_unstable_by_key(|(i, _)| *i);
        self.0 = (!block.is_empty()).then(|| Arc::from(block));
    }

    /// Whether both are the same block (then they are equal).
    pub(crate) fn ptr_eq(&self, other: &Provenance) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// The provenance of each of the first `len` fields, in field order.
    pub(crate) fn all(&self, len: usize) -> impl Iterator<Item = Option<Uuid>> + '_ {
        (0..len).map(|index| self.get(index))
    }
}

#[cfg(test)]
mod tests {
    use rustc_hash::FxHasher;

    use super::*;

    fn hashed(f: impl FnOnce(&mut FxHasher)) -> u64 {
        let mut h = FxHasher::default();
        f(&mut h);
        h.finish()
    }

    fn record(f: &Fields) -> &EntityRecord {
        match &*f.0 {
            Block::Entity(r) => r,
            Block::Values(_) => panic!("not a record"),
        }
    }

    fn timestamp(f: &Fields) -> DateTime<Utc> {
        record(f).timestamp
    }

    fn entity_values() -> Vec<Value> {
        let mut values = Schema::TestDataEntity.defaults(Utc::now());
        values[NAME] = Value::str("target_7");
        values[COUNTER] = Value::Int(-3);
        values[DATA_VALUE] = Value::Float(f64::NAN);
        values[TEXT_CONTENT] = Value::str("text_9");
        values[VERSION_COUNT] = Value::Int(4);
        values[BORROW_COUNT] = Value::Int(5);
        values
    }

    #[test]
    fn a_record_reads_hashes_and_compares_as_its_values() {
        let values = entity_values();
        let fields = Fields::from_values(Schema::TestDataEntity, values.clone());
        assert!(fields.fits(Schema::TestDataEntity));
        assert!(!fields.fits(Schema::TestDataSource));
        assert_eq!(fields.len(), values.len());
        for (i, v) in values.iter().enumerate() {
            assert!(same_value(&fields.get(i), v), "field {i}");
            assert_eq!(
                hashed(|h| fields.hash_field(h, i)),
                hashed(|h| hash_value(h, v)),
                "field {i}"
            );
        }
        let whole = hashed(|h| {
            h.write_usize(values.len());
            values.iter().for_each(|v| hash_value(h, v));
        });
        assert_eq!(hashed(|h| fields.hash_all(h)), whole);
        let copy = fields.dated(DateTime::UNIX_EPOCH);
        assert!(!Arc::ptr_eq(&fields.0, &copy.0));
        assert_eq!(copy.get(TIMESTAMP), Value::Time(DateTime::UNIX_EPOCH));
        assert!(
            fields.dated(timestamp(&fields)).same(&fields),
            "NaN equals itself"
        );
    }

    #[test]
    fn a_write_copies_shared_fields_and_refuses_a_wrong_type() {
        let fields = Fields::from_values(Schema::TestDataEntity, entity_values());
        let mut copy = fields.clone();
        assert!(copy.same(&fields));
        for (i, v) in [
            (NAME, Value::str("n")),
            (COUNTER, Value::Int(1)),
            (DATA_VALUE, Value::Float(0.5)),
            (TEXT_CONTENT, Value::str("t")),
            (TIMESTAMP, Value::Time(DateTime::UNIX_EPOCH)),
            (VERSION_COUNT, Value::Int(2)),
            (BORROW_COUNT, Value::Int(3)),
        ] {
            assert!(copy.set(i, v.clone()), "field {i}");
            assert_eq!(copy.get(i), v, "field {i}");
            assert!(!copy.same(&fields), "field {i}");
            copy = fields.clone();
        }
        assert!(!copy.set(COUNTER, Value::Float(1.0)));
        assert!(!copy.set(7, Value::str_list(&["x"])));
        assert!(copy.same(&fields));

        let mut source = Fields::from_values(
            Schema::TestDataSource,
            Schema::TestDataSource.defaults(Utc::now()),
        );
        assert!(source.fits(Schema::TestDataSource));
        let shared = source.clone();
        assert!(source.set(1, Value::Int(7)));
        assert_eq!(source.get(1), Value::Int(7));
        assert_eq!(shared.get(1), Value::Int(100));
        assert!(!source.set(9, Value::Int(7)));
    }

    #[test]
    fn provenance_keeps_the_borrowed_fields_only_and_one_order() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        let mut p = Provenance::default();
        assert_eq!(p.all(3).collect::<Vec<_>>(), [None, None, None]);
        p.set(0, None);
        assert_eq!(
            p,
            Provenance::default(),
            "clearing nothing allocates nothing"
        );
        p.set(2, Some(a));
        let shared = p.clone();
        p.set(0, Some(b));
        assert_eq!(p.all(3).collect::<Vec<_>>(), [Some(b), None, Some(a)]);
        assert_eq!(shared.all(3).collect::<Vec<_>>(), [None, None, Some(a)]);
        let mut q = Provenance::default();
        q.set(0, Some(b));
        q.set(2, Some(a));
        assert_eq!(p, q, "the order of the borrows does not matter");
        assert!(!p.ptr_eq(&q));
        assert!(p.ptr_eq(&p.clone()));
        p.set(0, None);
        p.set(2, None);
        assert_eq!(p, Provenance::default());
        assert!(p.ptr_eq(&Provenance::default()));
    }

    #[test]
    fn a_record_is_smaller_than_its_values() {
        assert!(std::mem::size_of::<EntityRecord>() <= 80);
        assert!(std::mem::size_of::<Block>() <= 80, "the tag fits a niche");
        assert_eq!(std::mem::size_of::<Fields>(), 8);
    }
}
