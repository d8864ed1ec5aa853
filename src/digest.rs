//! Digests of a run: one 64-bit fingerprint of its event stream and one of
//! its final store, so two runs can be compared without keeping either.
//!
//! Both are order-sensitive folds with the store's history digest
//! ([`history_digest_step`]) over canonical text lines: an event's line is
//! its JSON object, a store's lines name each entity's identity, versions,
//! history and placement, then each field with its provenance.
//!
//! What an event's line leaves out depends on the clock. The wall time a
//! transaction took (`execution_ns`) is a measurement and never the same
//! twice, so it is always left out. On the real clock, every time (`t_ns`,
//! resolution, elapsed and end-to-end times, and the dates commits
//! recorded) is left out too, so the digest says whether two runs took the
//! same decisions, not when; on the virtual clock times are a function of
//! the seed and are part of the digest. The events file of a virtual-clock
//! run is written from the same canonical lines, which is what makes it
//! identical, byte for byte, from one run of a seed to the next.

use std::fmt::Write as _;

use crate::ecs::{EntityId, HISTORY_DIGEST_SEED, Store, history_digest_step};
use crate::events::{Effect, Event, EventKind};

/// A running digest of an event stream.
#[derive(Debug)]
pub(crate) struct EventDigest {
    acc: u64,
    /// Whether times are part of the digest (the virtual clock).
    timing: bool,
    line: Vec<u8>,
}

impl EventDigest {
    pub(crate) fn new(timing: bool) -> EventDigest {
        EventDigest {
            acc: HISTORY_DIGEST_SEED,
            timing,
            line: Vec::with_capacity(512),
        }
    }

    /// Fold `ev` in; returns its canonical line (JSON, no newline).
    pub(crate) fn fold(&mut self, ev: &Event) -> &[u8] {
        let mut canonical = ev.clone();
        mask(&mut canonical, self.timing);
        self.line.clear();
        // Serialising plain data into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.line, &canonical);
        // serde_json writes UTF-8.
        let text = std::str::from_utf8(&self.line).unwrap_or_default();
        self.acc = history_digest_step(self.acc, text);
        &self.line
    }

    pub(crate) fn value(&self) -> u64 {
        self.acc
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

/// The digest of everything the store holds: per entity its schema,
/// lineage, current version, lineage length, history (length and digest),
/// placement in its tree, and every field with its provenance.
pub(crate) fn store_digest(store: &Store) -> u64 {
    let mut acc = HISTORY_DIGEST_SEED;
    let mut line = String::new();
    for i in 0..store.len() {
        let e = EntityId(i as u32);
        let Ok(schema) = store.schema(e) else {
            continue;
        };
        line.clear();
        let _ = write!(
            line,
            "{i} {schema} {:?} {:?} v{} h{}:{:016x} {}",
            store.lineage_id(e).ok(),
            store.current_id(e).ok(),
            store.version_count(e),
            store.history_len(e),
            store.history_digest(e),
            store.placement(e),
        );
        acc = history_digest_step(acc, &line);
        for (name, _) in schema.fields() {
            line.clear();
            let _ = write!(
                line,
                "{name}={:?} from {:?}",
                store.field(e, name).ok(),
                store.provenance(e, name)
            );
            acc = history_digest_step(acc, &line);
        }
    }
    acc
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
    fn the_event_digest_is_order_sensitive() {
        let (a, b) = (completed(1, 0, 1), completed(2, 0, 2));
        assert_ne!(digest(true, &[a.clone(), b.clone()]), digest(true, &[b, a]));
    }

    #[test]
    fn the_canonical_line_of_the_virtual_clock_keeps_times() {
        let mut d = EventDigest::new(true);
        let line = String::from_utf8(d.fold(&completed(10, 77, 5)).to_vec()).unwrap();
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
    }
}
