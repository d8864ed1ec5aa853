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

mod hasher;
mod store;

use self::hasher::Hasher;
pub(crate) use self::store::store_digest;
use crate::ecs::{HISTORY_DIGEST_SEED, mix64};
use crate::events::{Effect, Event, EventKind};

/// A running digest of an event stream.
#[derive(Clone, Debug)]
pub struct EventDigest {
    acc: u64,
    /// Whether times are part of the digest (the virtual clock).
    timing: bool,
}

impl EventDigest {
    /// A digest of no events yet; `timing`: times are part of it (the
    /// virtual clock).
    pub fn new(timing: bool) -> EventDigest {
        EventDigest {
            acc: HISTORY_DIGEST_SEED,
            timing,
        }
    }

    /// Fold `ev` in.
    pub fn fold(&mut self, ev: &Event) {
        let mut h = Hasher {
            h: HISTORY_DIGEST_SEED,
            timing: self.timing,
        };
        h.event(ev);
        self.acc = mix64(self.acc.rotate_left(23) ^ mix64(h.h));
    }

    pub fn value(&self) -> u64 {
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
                Effect::Borrowed(b) => b.at_us = 0,
                Effect::Modified { at_us, .. }
                | Effect::ComplexUpdate { at_us, .. }
                | Effect::Structural { at_us, .. } => *at_us = 0,
                Effect::Versioned => {}
            }
        }
        _ => {}
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
    use crate::ecs::EntityId;
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
    fn a_boxed_borrow_digests_as_the_struct_variant_it_was() {
        // `Effect` as it was before a borrow's effect was boxed: boxing
        // must not change what the digest hashes.
        #[derive(serde::Serialize)]
        #[serde(tag = "type", rename_all = "snake_case", rename = "Effect")]
        enum Unboxed {
            Borrowed {
                field: crate::ops::BorrowField,
                #[serde(serialize_with = "crate::events::serialize_value")]
                value: crate::ecs::Value,
                from: uuid::Uuid,
                at_us: i64,
            },
        }
        fn hashed(value: &impl serde::Serialize) -> u64 {
            let mut h = Hasher {
                h: HISTORY_DIGEST_SEED,
                timing: true,
            };
            let _ = value.serialize(&mut h);
            h.h
        }
        let (field, value, from) = (
            crate::ops::BorrowField::Counter,
            crate::ecs::Value::Int(7),
            uuid::Uuid::from_u128(9),
        );
        let boxed = Effect::borrowed(field, value.clone(), from, 3);
        let unboxed = Unboxed::Borrowed {
            field,
            value,
            from,
            at_us: 3,
        };
        assert_eq!(hashed(&boxed), hashed(&unboxed));
        let other = Effect::borrowed(field, crate::ecs::Value::Int(8), from, 3);
        assert_ne!(hashed(&boxed), hashed(&other), "the value is hashed");
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
