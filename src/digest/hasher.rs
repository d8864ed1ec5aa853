//! The event digest's hasher: a serde serializer that feeds every value
//! it is given into a 64-bit hash, and the direct walk of an event's
//! fields that [`Hasher::event`] does without serde's flattening.

use super::masked;
use crate::events::{Event, EventKind};

/// FxHash's multiplier.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// What a value's kind adds to its word: the kind's number spread over
/// the word's bits, so that equal values of different kinds differ.
const fn tag_constant(tag: u8) -> u64 {
    (tag as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A serde serializer that hashes what it is given: every name and value,
/// tagged by kind, in order; the value of a [`masked`] field is skipped.
pub(super) struct Hasher {
    pub(super) h: u64,
    pub(super) timing: bool,
}

/// Never produced: hashing cannot fail.
#[derive(Debug)]
pub(super) struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hashing failed")
    }
}

impl std::error::Error for NoError {}

impl serde::ser::Error for NoError {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NoError
    }
}

impl Hasher {
    /// One multiply per word (FxHash's step), with a constant of the
    /// value's kind folded into the same step: the event digest is a
    /// chain of dependent multiplies, and its length is the digest
    /// thread's cost. The event's digest is finished with a full mix in
    /// [`EventDigest::fold`].
    fn word(&mut self, tag: u8, x: u64) {
        self.h = (self.h.rotate_left(5) ^ x ^ tag_constant(tag)).wrapping_mul(K);
    }

    fn text(&mut self, tag: u8, s: &str) {
        self.serialize_bytes_tagged(tag, s.as_bytes());
    }

    /// The bytes are hashed in a chain of their own, seeded by their
    /// length, and only its result joins the digest's chain as one word:
    /// the core works on the bytes while the digest's chain is still busy
    /// with the words before them.
    fn serialize_bytes_tagged(&mut self, tag: u8, v: &[u8]) {
        let mut s = (v.len() as u64).wrapping_mul(K);
        let mut chunks = v.chunks_exact(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            s = (s.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            s = (s.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        self.word(tag, s);
    }

    /// An enum's variant: its number within the enum, one word (the field
    /// it fills, in a fixed order, says which enum).
    fn variant(&mut self, index: u32) {
        self.word(10, u64::from(index));
    }

    /// Hash a field's value unless it is masked. Names are not hashed: a
    /// type's fields come in a fixed order, and the type is named.
    fn field<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), NoError> {
        if masked(key, self.timing) {
            return Ok(());
        }
        value.serialize(&mut *self)
    }
}

impl Hasher {
    /// Hash `ev` as its derived `Serialize` would feed this serializer —
    /// the event's fields and its kind's flattened into one map — without
    /// going through serde's flattening, which buffers and re-dispatches
    /// every field and cost most of the fold. Nested values (enums,
    /// options, the effect) still go through their `Serialize`. A test pins
    /// the two paths to the same value for every kind of event.
    pub(super) fn event(&mut self, ev: &Event) {
        self.word(12, 0);
        self.timed(&ev.t_ns);
        self.entry(&ev.op);
        self.entry(&ev.target);
        self.entry(&ev.op_type);
        self.entry(&ev.priority);
        match &ev.kind {
            EventKind::OperationSubmitted {
                effective,
                class,
                parent,
                budget,
                batch_size,
            } => {
                self.tag("OperationSubmitted");
                self.entry(effective);
                self.entry(class);
                self.entry(parent);
                self.entry(budget);
                self.entry(batch_size);
            }
            EventKind::OperationConflict {
                pending,
                executing,
                decision,
                resolution_ns,
            } => {
                self.tag("OperationConflict");
                self.entry(pending);
                self.entry(executing);
                self.entry(decision);
                self.timed(resolution_ns);
            }
            EventKind::OperationRejected {
                from,
                reason,
                retries,
            } => {
                self.tag("OperationRejected");
                self.entry(from);
                self.entry(reason);
                self.entry(retries);
            }
            EventKind::OperationStarted { attempt } => {
                self.tag("OperationStarted");
                self.entry(attempt);
            }
            EventKind::GraceProtected {
                executing,
                elapsed_ns,
            } => {
                self.tag("GraceProtected");
                self.entry(executing);
                self.timed(elapsed_ns);
            }
            EventKind::OperationPreempted { by, elapsed_ns } => {
                self.tag("OperationPreempted");
                self.entry(by);
                self.timed(elapsed_ns);
            }
            EventKind::OperationFailed {
                reason,
                attempt,
                injected,
            } => {
                self.tag("OperationFailed");
                self.entry(reason);
                self.entry(attempt);
                self.entry(injected);
            }
            EventKind::OperationRetry {
                retry,
                max,
                backoff_ns,
            } => {
                self.tag("OperationRetry");
                self.entry(retry);
                self.entry(max);
                self.entry(backoff_ns);
            }
            EventKind::OperationCompleted {
                // A measurement: never part of the digest.
                execution_ns: _,
                end_to_end_ns,
                effect,
            } => {
                self.tag("OperationCompleted");
                self.timed(end_to_end_ns);
                self.entry(effect);
            }
            EventKind::OperationCancelled { from } => {
                self.tag("OperationCancelled");
                self.entry(from);
            }
            EventKind::EntityVersioned {
                ecs_id,
                previous,
                number,
            } => {
                self.tag("EntityVersioned");
                self.entry(ecs_id);
                self.entry(previous);
                self.entry(number);
            }
            EventKind::EntityModified { fields } => {
                self.tag("EntityModified");
                self.entry(fields);
            }
        }
        self.word(14, 0);
    }

    /// The kind's tag, the first entry of its flattened fields.
    fn tag(&mut self, name: &str) {
        self.text(6, name);
    }

    /// A field that is always part of the digest.
    #[inline]
    fn entry<T: serde::Serialize + ?Sized>(&mut self, value: &T) {
        // The hasher never fails.
        let _ = value.serialize(&mut *self);
    }

    /// A time, part of the digest on the virtual clock only (see
    /// [`masked`]).
    #[inline]
    fn timed(&mut self, ns: &u64) {
        if self.timing {
            self.word(3, *ns);
        }
    }
}

macro_rules! hash_ints {
    ($($method:ident: $ty:ty => $tag:expr),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<(), NoError> {
            self.word($tag, v as u64);
            Ok(())
        })*
    };
}

impl<'a> serde::Serializer for &'a mut Hasher {
    type Ok = ();
    type Error = NoError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = MapHasher<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    hash_ints! {
        serialize_bool: bool => 1,
        serialize_i8: i8 => 2,
        serialize_i16: i16 => 2,
        serialize_i32: i32 => 2,
        serialize_i64: i64 => 2,
        serialize_u8: u8 => 3,
        serialize_u16: u16 => 3,
        serialize_u32: u32 => 3,
        serialize_u64: u64 => 3,
        serialize_char: char => 4,
    }

    fn serialize_f32(self, v: f32) -> Result<(), NoError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), NoError> {
        self.word(5, v.to_bits());
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), NoError> {
        self.text(6, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), NoError> {
        self.serialize_bytes_tagged(7, v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), NoError> {
        self.word(8, 0);
        Ok(())
    }

    fn serialize_some<T: serde::Serialize + ?Sized>(self, v: &T) -> Result<(), NoError> {
        self.word(8, 1);
        v.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), NoError> {
        self.word(9, 0);
        Ok(())
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<(), NoError> {
        self.text(9, name);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
    ) -> Result<(), NoError> {
        self.variant(index);
        Ok(())
    }

    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), NoError> {
        v.serialize(self)
    }

    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        v: &T,
    ) -> Result<(), NoError> {
        self.variant(index);
        v.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self, NoError> {
        self.word(11, len.unwrap_or(usize::MAX) as u64);
        Ok(self)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self, NoError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, NoError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        len: usize,
    ) -> Result<Self, NoError> {
        self.variant(index);
        self.serialize_seq(Some(len))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<MapHasher<'a>, NoError> {
        self.word(12, 0);
        Ok(MapHasher {
            h: self,
            skip_value: false,
        })
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Self, NoError> {
        self.text(13, name);
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, NoError> {
        self.variant(index);
        Ok(self)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

macro_rules! hash_elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl serde::ser::$trait for &mut Hasher {
            type Ok = ();
            type Error = NoError;

            fn $method<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), NoError> {
                v.serialize(&mut **self)
            }

            fn end(self) -> Result<(), NoError> {
                self.word(14, 0);
                Ok(())
            }
        })*
    };
}

hash_elements! {
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
}

macro_rules! hash_fields {
    ($($trait:ident),* $(,)?) => {
        $(impl serde::ser::$trait for &mut Hasher {
            type Ok = ();
            type Error = NoError;

            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                v: &T,
            ) -> Result<(), NoError> {
                self.field(key, v)
            }

            fn end(self) -> Result<(), NoError> {
                self.word(14, 0);
                Ok(())
            }
        })*
    };
}

hash_fields!(SerializeStruct, SerializeStructVariant);

/// A map being hashed; a key naming a masked field skips its value (the
/// event's flattened fields arrive as a map).
pub(super) struct MapHasher<'a> {
    h: &'a mut Hasher,
    skip_value: bool,
}

impl serde::ser::SerializeMap for MapHasher<'_> {
    type Ok = ();
    type Error = NoError;

    /// Keys are not hashed: an event's fields come in the fixed order of
    /// its type, which its tag (a value) names.
    fn serialize_key<T: serde::Serialize + ?Sized>(&mut self, key: &T) -> Result<(), NoError> {
        let mut name = KeyMask {
            timing: self.h.timing,
            masked: false,
        };
        let _ = key.serialize(&mut name);
        self.skip_value = name.masked;
        Ok(())
    }

    fn serialize_value<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), NoError> {
        if std::mem::take(&mut self.skip_value) {
            return Ok(());
        }
        v.serialize(&mut *self.h)
    }

    fn end(self) -> Result<(), NoError> {
        self.h.word(14, 0);
        Ok(())
    }
}

/// Reads whether a map key names a masked field (only strings can).
struct KeyMask {
    timing: bool,
    masked: bool,
}

impl serde::Serializer for &mut KeyMask {
    type Ok = ();
    type Error = NoError;
    type SerializeSeq = serde::ser::Impossible<(), NoError>;
    type SerializeTuple = serde::ser::Impossible<(), NoError>;
    type SerializeTupleStruct = serde::ser::Impossible<(), NoError>;
    type SerializeTupleVariant = serde::ser::Impossible<(), NoError>;
    type SerializeMap = serde::ser::Impossible<(), NoError>;
    type SerializeStruct = serde::ser::Impossible<(), NoError>;
    type SerializeStructVariant = serde::ser::Impossible<(), NoError>;

    fn serialize_str(self, v: &str) -> Result<(), NoError> {
        self.masked = masked(v, self.timing);
        Ok(())
    }

    fn serialize_bool(self, _: bool) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_i8(self, _: i8) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_i16(self, _: i16) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_i32(self, _: i32) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_i64(self, _: i64) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_u8(self, _: u8) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_u16(self, _: u16) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_u32(self, _: u32) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_u64(self, _: u64) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_f32(self, _: f32) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_f64(self, _: f64) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_char(self, _: char) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_none(self) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_some<T: serde::Serialize + ?Sized>(self, _: &T) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_unit(self) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), NoError> {
        Err(NoError)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NoError> {
        Err(NoError)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NoError> {
        Err(NoError)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NoError> {
        Err(NoError)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NoError> {
        Err(NoError)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NoError> {
        Err(NoError)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NoError> {
        Err(NoError)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NoError> {
        Err(NoError)
    }
}
