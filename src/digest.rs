//! Digests of a run: one 64-bit fingerprint of its event stream and one of
//! its final store, so two runs can be compared without keeping either.
//!
//! The event digest feeds each event's fields — names and values, in
//! serialisation order — straight into a 64-bit hash through a serde
//! serializer ([`Hasher`]), without formatting text, so it costs a few tens
//! of nanoseconds per event and leaves capacity runs as fast as before; the
//! events are then folded in order with the store's history digest
//! ([`crate::ecs::history_digest_step`]). The store digest hashes each
//! entity's identity, versions, history and placement, then each field
//! with its provenance, and folds the entities in order.
//!
//! What the event digest leaves out depends on the clock. The wall time a
//! transaction took (`execution_ns`) is a measurement and never the same
//! twice, so it is always left out. On the real clock, every time (`t_ns`,
//! resolution, elapsed and end-to-end times, and the dates commits
//! recorded) is left out too, so the digest says whether two runs took the
//! same decisions, not when; on the virtual clock times are a function of
//! the seed and are part of the digest. The events file of a virtual-clock
//! run is written from [`canonical_line`], which leaves out the measured
//! time the same way: that is what makes it identical, byte for byte, from
//! one run of a seed to the next.

use std::hash::{Hash, Hasher as _};

use rustc_hash::FxHasher;
use uuid::Uuid;

use crate::ecs::{EntityId, HISTORY_DIGEST_SEED, Placement, Store, combine, hash_value, mix64};
use crate::events::{Effect, Event, EventKind};

/// A running digest of an event stream.
#[derive(Clone, Debug)]
pub(crate) struct EventDigest {
    acc: u64,
    /// Whether times are part of the digest (the virtual clock).
    timing: bool,
}

impl EventDigest {
    pub(crate) fn new(timing: bool) -> EventDigest {
        EventDigest {
            acc: HISTORY_DIGEST_SEED,
            timing,
        }
    }

    /// Fold `ev` in.
    pub(crate) fn fold(&mut self, ev: &Event) {
        let mut h = Hasher {
            h: HISTORY_DIGEST_SEED,
            timing: self.timing,
        };
        h.event(ev);
        self.acc = mix64(self.acc.rotate_left(23) ^ mix64(h.h));
    }

    pub(crate) fn value(&self) -> u64 {
        self.acc
    }
}

/// `ev` as a line of the events file of a virtual-clock run: its JSON
/// object with the measured execution time written as 0.
pub(crate) fn canonical_line(ev: &Event, line: &mut Vec<u8>) {
    let mut canonical = ev.clone();
    mask(&mut canonical, true);
    line.clear();
    // Serialising plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *line, &canonical);
}

/// Whether the value under field `key` is left out of the digest.
fn masked(key: &str, timing: bool) -> bool {
    match key {
        "execution_ns" => true,
        "t_ns" | "resolution_ns" | "elapsed_ns" | "end_to_end_ns" | "at_us" => !timing,
        _ => false,
    }
}

/// Zero what differs between two runs of a seed: the measured execution
/// time always, and every time and date unless `timing`.
fn mask(ev: &mut Event, timing: bool) {
    if let EventKind::OperationCompleted { execution_ns, .. } = &mut ev.kind {
        *execution_ns = 0;
    }
    if timing {
        return;
    }
    ev.t_ns = 0;
    match &mut ev.kind {
        EventKind::OperationConflict { resolution_ns, .. } => *resolution_ns = 0,
        EventKind::GraceProtected { elapsed_ns, .. }
        | EventKind::OperationPreempted { elapsed_ns, .. } => *elapsed_ns = 0,
        EventKind::OperationCompleted {
            end_to_end_ns,
            effect,
            ..
        } => {
            *end_to_end_ns = 0;
            match effect {
                Effect::Modified { at_us, .. }
                | Effect::Borrowed { at_us, .. }
                | Effect::ComplexUpdate { at_us, .. }
                | Effect::Structural { at_us, .. } => *at_us = 0,
                Effect::Versioned => {}
            }
        }
        _ => {}
    }
}

/// FxHash's multiplier.
const K: u64 = 0x517c_c1b7_2722_0a95;

/// A serde serializer that hashes what it is given: every name and value,
/// tagged by kind, in order; the value of a [`masked`] field is skipped.
struct Hasher {
    h: u64,
    timing: bool,
}

/// Never produced: hashing cannot fail.
#[derive(Debug)]
struct NoError;

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
    /// One multiply per word (FxHash's step), the kind tag folded in
    /// first; the event's digest is finished with a full mix in
    /// [`EventDigest::fold`].
    fn word(&mut self, tag: u8, x: u64) {
        self.h = (self.h.rotate_left(5) ^ u64::from(tag)).wrapping_mul(K);
        self.h = (self.h.rotate_left(5) ^ x).wrapping_mul(K);
    }

    fn text(&mut self, tag: u8, s: &str) {
        self.serialize_bytes_tagged(tag, s.as_bytes());
    }

    fn serialize_bytes_tagged(&mut self, tag: u8, v: &[u8]) {
        self.word(tag, v.len() as u64);
        let mut chunks = v.chunks_exact(8);
        for chunk in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.h = (self.h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            self.h = (self.h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
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
    fn event(&mut self, ev: &Event) {
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
        _: u32,
        v: &'static str,
    ) -> Result<(), NoError> {
        self.text(10, v);
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
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), NoError> {
        self.text(10, variant);
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
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, NoError> {
        self.text(10, variant);
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
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self, NoError> {
        self.text(10, variant);
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
struct MapHasher<'a> {
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

/// The digest of everything the store holds: per entity its schema,
/// lineage, current version, lineage length, history (length and digest),
/// placement in its tree, and every field with its provenance.
pub(crate) fn store_digest(store: &Store) -> u64 {
    let mut acc = HISTORY_DIGEST_SEED;
    for i in 0..store.len() {
        let e = EntityId(i as u32);
        let Ok(ent) = store.entity(e) else {
            continue;
        };
        // Hashed field by field, not formatted: at 100,000 targets the
        // text lines this once wrote cost more than the run's checks.
        let mut h = FxHasher::default();
        h.write_usize(i);
        ent.schema.hash(&mut h);
        for id in [store.lineage_id(e).ok(), store.current_id(e).ok()] {
            hash_id(&mut h, id);
        }
        h.write_u64(store.version_count(e));
        h.write_u64(store.history_len(e));
        h.write_u64(store.history_digest(e));
        match store.placement(e) {
            Placement::Root { children } => {
                h.write_u8(0);
                h.write_usize(children);
            }
            Placement::Child { parent, root } => {
                h.write_u8(1);
                h.write_u32(parent.0);
                h.write_u32(root.0);
            }
            Placement::Orphan => h.write_u8(2),
        }
        let history = ent.schema.history_index();
        for (index, provenance) in ent.provenance.iter().enumerate() {
            if Some(index) == history {
                // The history field reads the retained entries.
                for entry in ent.history.retained() {
                    h.write_usize(entry.len());
                    h.write(entry.as_bytes());
                }
            } else {
                hash_value(&mut h, &ent.fields[index]);
            }
            hash_id(&mut h, *provenance);
        }
        acc = combine(acc, mix64(h.finish()));
    }
    acc
}

fn hash_id(h: &mut FxHasher, id: Option<Uuid>) {
    match id {
        Some(id) => {
            h.write_u8(1);
            h.write_u128(id.as_u128());
        }
        None => h.write_u8(0),
    }
}

/// A digest as the report shows it: 16 hex digits.
pub(crate) fn hex(digest: u64) -> String {
    format!("{digest:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};
    use crate::harness::World;
    use crate::ops::{OpId, OpType, Priority};

    fn completed(t_ns: u64, execution_ns: u64, at_us: i64) -> Event {
        Event {
            t_ns,
            op: OpId(4),
            target: 1,
            op_type: OpType::ComplexUpdate,
            priority: Priority::HIGH,
            kind: EventKind::OperationCompleted {
                execution_ns,
                end_to_end_ns: t_ns,
                effect: Effect::ComplexUpdate {
                    data_value: 1.5,
                    at_us,
                },
            },
        }
    }

    fn digest(timing: bool, events: &[Event]) -> u64 {
        let mut d = EventDigest::new(timing);
        for ev in events {
            d.fold(ev);
        }
        d.value()
    }

    /// The fold through the derived `Serialize`, which the direct fold
    /// must equal.
    fn through_serde(timing: bool, ev: &Event) -> u64 {
        let mut h = Hasher {
            h: HISTORY_DIGEST_SEED,
            timing,
        };
        let _ = serde::Serialize::serialize(ev, &mut h);
        h.h
    }

    #[test]
    fn the_direct_fold_hashes_every_event_as_its_serialize_does() {
        let events = crate::events::samples::every_kind();
        for timing in [false, true] {
            for ev in &events {
                let mut h = Hasher {
                    h: HISTORY_DIGEST_SEED,
                    timing,
                };
                h.event(ev);
                assert_eq!(h.h, through_serde(timing, ev), "{ev:?}");
            }
        }
    }

    #[test]
    fn the_measured_execution_time_is_never_part_of_the_digest() {
        for timing in [false, true] {
            assert_eq!(
                digest(timing, &[completed(10, 1, 5)]),
                digest(timing, &[completed(10, 999, 5)])
            );
        }
    }

    #[test]
    fn times_and_dates_count_on_the_virtual_clock_only() {
        let a = [completed(10, 1, 5)];
        let later = [completed(20, 1, 5)];
        let redated = [completed(10, 1, 6)];
        assert_eq!(digest(false, &a), digest(false, &later));
        assert_eq!(digest(false, &a), digest(false, &redated));
        assert_ne!(digest(true, &a), digest(true, &later));
        assert_ne!(digest(true, &a), digest(true, &redated));
    }

    #[test]
    fn every_decided_field_is_part_of_the_digest() {
        let base = completed(10, 1, 5);
        let mut other_op = base.clone();
        other_op.op = OpId(5);
        let mut other_value = base.clone();
        other_value.kind = EventKind::OperationCompleted {
            execution_ns: 1,
            end_to_end_ns: 10,
            effect: Effect::ComplexUpdate {
                data_value: 1.25,
                at_us: 5,
            },
        };
        let mut other_kind = base.clone();
        other_kind.kind = EventKind::OperationStarted { attempt: 1 };
        for timing in [false, true] {
            let d = digest(timing, std::slice::from_ref(&base));
            for changed in [&other_op, &other_value, &other_kind] {
                assert_ne!(
                    d,
                    digest(timing, std::slice::from_ref(changed)),
                    "{changed:?}"
                );
            }
        }
    }

    #[test]
    fn the_event_digest_is_order_sensitive() {
        let (a, b) = (completed(1, 0, 1), completed(2, 0, 2));
        assert_ne!(digest(true, &[a.clone(), b.clone()]), digest(true, &[b, a]));
    }

    #[test]
    fn the_canonical_line_of_the_virtual_clock_keeps_times() {
        let mut line = Vec::new();
        canonical_line(&completed(10, 77, 5), &mut line);
        let line = String::from_utf8(line).unwrap();
        assert!(line.contains("\"t_ns\":10"), "{line}");
        assert!(line.contains("\"execution_ns\":0"), "{line}");
    }

    #[test]
    fn the_store_digest_sees_a_single_write() {
        let mut config = parse_str("clock = \"virtual\"", "test", &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}"));
        config.num_targets = 3;
        let build = |seed| World::build(&config, seed).unwrap_or_else(|e| panic!("{e}"));
        let (mut a, b) = (build(1), build(1));
        assert_eq!(store_digest(&a.store), store_digest(&b.store));
        assert_ne!(store_digest(&a.store), store_digest(&build(2).store));
        a.store
            .append_history(EntityId(2), "one more entry")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(store_digest(&a.store), store_digest(&b.store));

        let (mut c, d) = (build(1), build(1));
        let mut txn = c.store.begin(EntityId(2)).unwrap_or_else(|e| panic!("{e}"));
        txn.set("counter", crate::ecs::Value::Int(99))
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = txn.commit();
        assert_ne!(store_digest(&c.store), store_digest(&d.store));
    }
}
