//! The replay's model of one target, and what it is made of.
//!
//! A [`Model`] holds what the replay expects of a target: its fields, the
//! provenance of each borrowable field, its history (length, digest and the
//! entries the store retains), its lineage length and its place in the
//! trees. It is kept small, since a million-target run holds one for every
//! target a commit touched: history entries as their parts ([`Entry`]),
//! written out only to be digested or compared; provenances as indices
//! into the few ids borrows named ([`Origins`]); the tail's room grown by
//! doubling up to the store's window.

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use uuid::Uuid;

use crate::ecs::digest::{combine, entry_hash};
use crate::ecs::{EntityId, Placement, Store, Value};
use crate::ops::{BorrowField, FieldWrite, OpId, OpType};

/// The fields a target's model follows that can carry a provenance.
const BORROWABLE: [&str; 3] = ["counter", "data_value", "text_content"];

/// Where a target sits in the trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Root,
    Child { parent: EntityId },
    Orphan,
}

/// [`Place::pack`] of a root and of an orphan; any other value is a
/// child's parent index.
pub(super) const PACKED_ROOT: u32 = u32::MAX;
pub(super) const PACKED_ORPHAN: u32 = u32::MAX - 1;

impl Place {
    pub(super) fn of(store: &Store, e: EntityId) -> Place {
        match store.placement(e) {
            Placement::Root { .. } => Place::Root,
            Placement::Child { parent, .. } => Place::Child { parent },
            Placement::Orphan => Place::Orphan,
        }
    }

    /// The place in four bytes; `None` for a parent index that collides
    /// with the two markers.
    pub(super) fn pack(self) -> Option<u32> {
        match self {
            Place::Root => Some(PACKED_ROOT),
            Place::Orphan => Some(PACKED_ORPHAN),
            Place::Child { parent } if parent.0 < PACKED_ORPHAN => Some(parent.0),
            Place::Child { .. } => None,
        }
    }

    pub(super) fn unpack(packed: u32) -> Place {
        match packed {
            PACKED_ROOT => Place::Root,
            PACKED_ORPHAN => Place::Orphan,
            parent => Place::Child {
                parent: EntityId(parent),
            },
        }
    }
}

/// A history entry the replay expects, made of its parts and written out
/// only to be hashed: the model keeps the hash.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Modify {
        write: FieldWrite,
        op: OpId,
        at_us: i64,
    },
    Borrow {
        field: BorrowField,
        from: Uuid,
        op: OpId,
        at_us: i64,
    },
    Complex {
        counter: i64,
        op: OpId,
        at_us: i64,
    },
    Structural {
        kind: OpType,
        changed: bool,
        op: OpId,
        at_us: i64,
    },
}

impl Entry {
    /// The entry's text, as the store's history must hold it.
    #[cfg(test)]
    fn text(&self) -> String {
        let mut out = String::with_capacity(96);
        self.write_text(&mut out);
        out
    }

    /// Write the text of an entry made of parts into `out`, in one pass
    /// and without the formatting machinery (this runs for every commit
    /// the replay sees).
    fn write_text(&self, out: &mut String) {
        let (op, at_us) = match self {
            Entry::Modify { write, op, at_us } => {
                match *write {
                    FieldWrite::Counter(v) => {
                        out.push_str("modify_field counter=");
                        decimal(out, v);
                    }
                    FieldWrite::DataValue(v) => {
                        out.push_str("modify_field data_value=");
                        out.push_str(zmij::Buffer::new().format(v));
                    }
                    FieldWrite::Text(n) => {
                        out.push_str("modify_field text_content=text_");
                        decimal(out, n);
                    }
                }
                (op, at_us)
            }
            Entry::Borrow {
                field,
                from,
                op,
                at_us,
            } => {
                let (sf, tf) = borrow_fields(*field);
                out.push_str("borrow ");
                out.push_str(tf);
                out.push_str(" <- @");
                out.push_str(from.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
                out.push('.');
                out.push_str(sf);
                (op, at_us)
            }
            Entry::Complex { counter, op, at_us } => {
                out.push_str("complex_update counter=");
                decimal(out, *counter);
                (op, at_us)
            }
            Entry::Structural {
                kind,
                changed,
                op,
                at_us,
            } => {
                out.push_str(kind.name());
                if !*changed {
                    out.push_str(" no-op");
                }
                (op, at_us)
            }
        };
        out.push_str(" op-");
        hex8(out, op.0);
        out.push_str(" t=");
        decimal(out, *at_us);
    }
}

/// A text value: `head` and the numbers, `_` between them
/// (`text_7`, `Updated_3_1700000000`), written in `scratch` first.
pub(super) fn text_value(scratch: &mut String, head: &str, numbers: &[i64]) -> Arc<str> {
    scratch.clear();
    scratch.push_str(head);
    for (i, &n) in numbers.iter().enumerate() {
        if i > 0 {
            scratch.push('_');
        }
        decimal(scratch, n);
    }
    Arc::from(scratch.as_str())
}

fn decimal(out: &mut String, v: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// `v` in lowercase hex, at least eight digits: `{:08x}`.
fn hex8(out: &mut String, v: u64) {
    let digits = (16 - v.leading_zeros() as usize / 4).max(8);
    for i in (0..digits).rev() {
        out.push(char::from_digit(((v >> (i * 4)) & 0xf) as u32, 16).unwrap_or('?'));
    }
}

/// The source field a borrow reads and the target field it writes.
pub(super) fn borrow_fields(field: BorrowField) -> (&'static str, &'static str) {
    match field {
        BorrowField::Counter => ("source_counter", "counter"),
        BorrowField::Data => ("source_data", "data_value"),
        BorrowField::Text => ("source_text", "text_content"),
    }
}

/// A provenance as a model keeps it: an index into [`Origins`], or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin(u32);

impl Origin {
    pub(super) const NONE: Origin = Origin(u32::MAX);
    /// An id [`Origins`] does not hold: no model has it.
    const UNSEEN: Origin = Origin(u32::MAX - 1);
}

/// Every version id a provenance named, once each. Sources never change,
/// so a run names a handful, and a model keeps four bytes per provenance
/// instead of seventeen.
#[derive(Debug, Default)]
pub struct Origins {
    ids: Vec<Uuid>,
    index: FxHashMap<Uuid, u32>,
}

impl Origins {
    /// The origin of `id`, added if new.
    pub(super) fn intern(&mut self, id: Option<Uuid>) -> Origin {
        let Some(id) = id else {
            return Origin::NONE;
        };
        if let Some(&i) = self.index.get(&id) {
            return Origin(i);
        }
        let i = self.ids.len() as u32;
        if i >= Origin::UNSEEN.0 {
            return Origin::UNSEEN;
        }
        self.ids.push(id);
        self.index.insert(id, i);
        Origin(i)
    }

    /// The origin of `id`, [`Origin::UNSEEN`] if it was never added.
    fn find(&self, id: Option<Uuid>) -> Origin {
        match id {
            None => Origin::NONE,
            Some(id) => self.index.get(&id).map_or(Origin::UNSEEN, |&i| Origin(i)),
        }
    }

    /// The id of an origin, as it reads in a report.
    fn show(&self, origin: Origin) -> String {
        match origin {
            Origin::NONE => format!("{:?}", None::<Uuid>),
            o => match self.ids.get(o.0 as usize) {
                Some(id) => format!("{:?}", Some(id)),
                None => "an id never borrowed from".to_string(),
            },
        }
    }
}

/// A plain model of one target, changed only by replayed effects.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub counter: i64,
    pub data_value: f64,
    pub text_content: Arc<str>,
    pub timestamp_us: i64,
    pub version_count: i64,
    pub borrow_count: i64,
    /// Provenance of `counter`, `data_value`, `text_content`.
    pub provenance: [Origin; 3],
    pub history_len: u64,
    pub history_digest: u64,
    /// The hashes of the last entries ([`entry_hash`] of their text), as
    /// many as the store retains: 8 bytes an entry instead of the entry's
    /// parts (40), and as sure a comparison.
    pub history_tail: VecDeque<u64>,
    /// Versions in the lineage (1 = only the initial version).
    pub versions: u64,
    pub place: Place,
}

pub(super) fn int(store: &Store, e: EntityId, f: &str) -> i64 {
    match store.field(e, f) {
        Ok(Value::Int(i)) => i,
        _ => 0,
    }
}

pub(super) fn float(store: &Store, e: EntityId, f: &str) -> f64 {
    match store.field(e, f) {
        Ok(Value::Float(v)) => v,
        _ => 0.0,
    }
}

pub(super) fn text(store: &Store, e: EntityId, f: &str) -> Arc<str> {
    match store.field(e, f) {
        Ok(Value::Str(s)) => s,
        _ => Arc::from(""),
    }
}

impl Model {
    /// The model of target `e` as the store holds it now; `origin` turns
    /// a provenance into an [`Origin`].
    pub fn capture(
        store: &Store,
        e: EntityId,
        mut origin: impl FnMut(Option<Uuid>) -> Origin,
    ) -> Model {
        let timestamp_us = match store.field(e, "timestamp") {
            Ok(Value::Time(t)) => t.timestamp_micros(),
            _ => 0,
        };
        Model {
            counter: int(store, e, "counter"),
            data_value: float(store, e, "data_value"),
            text_content: text(store, e, "text_content"),
            timestamp_us,
            version_count: int(store, e, "version_count"),
            borrow_count: int(store, e, "borrow_count"),
            provenance: BORROWABLE.map(|f| origin(store.provenance(e, f))),
            history_len: store.history_len(e),
            history_digest: store.history_digest(e),
            history_tail: store
                .history_retained(e)
                .iter()
                .map(|text| entry_hash(text))
                .collect(),
            versions: store.version_count(e),
            place: Place::of(store, e),
        }
    }

    /// Append `entry` to the history; its text is written in `scratch`.
    pub(super) fn append(&mut self, entry: Entry, keep: usize, scratch: &mut String) {
        self.history_len += 1;
        scratch.clear();
        entry.write_text(scratch);
        let hash = entry_hash(scratch);
        self.history_digest = combine(self.history_digest, hash);
        // Make room first, so the tail never holds more than `keep`.
        while !self.history_tail.is_empty() && self.history_tail.len() >= keep {
            self.history_tail.pop_front();
        }
        if keep > 0 {
            // Room doubles up to the window: most targets of a large run
            // see one or two commits.
            let len = self.history_tail.len();
            if len == self.history_tail.capacity() {
                let room = (len * 2).clamp(1, keep);
                self.history_tail.reserve_exact(room - len);
            }
            self.history_tail.push_back(hash);
        }
    }

    /// Whether every field is the same, floats bit for bit: then every
    /// comparison of [`Model::diff`] agrees too.
    pub(super) fn same(&self, other: &Model) -> bool {
        self.counter == other.counter
            && self.data_value.to_bits() == other.data_value.to_bits()
            && self.text_content == other.text_content
            && self.timestamp_us == other.timestamp_us
            && self.version_count == other.version_count
            && self.borrow_count == other.borrow_count
            && self.provenance == other.provenance
            && self.history_len == other.history_len
            && self.history_digest == other.history_digest
            && self.history_tail == other.history_tail
            && self.versions == other.versions
            && self.place == other.place
    }

    /// Differences between this model and the store's target `e`, as
    /// (field, "replay X, store Y").
    pub fn diff(&self, store: &Store, e: EntityId, origins: &Origins) -> Vec<(String, String)> {
        let live = Model::capture(store, e, |id| origins.find(id));
        let mut out = Vec::new();
        if self.same(&live) {
            return out;
        }
        let mut cmp = |name: &str, want: String, got: String| {
            if want != got {
                out.push((name.to_string(), format!("replay {want}, store {got}")));
            }
        };
        cmp(
            "counter",
            self.counter.to_string(),
            live.counter.to_string(),
        );
        cmp(
            "data_value",
            self.data_value.to_string(),
            live.data_value.to_string(),
        );
        cmp(
            "text_content",
            self.text_content.to_string(),
            live.text_content.to_string(),
        );
        cmp(
            "timestamp",
            self.timestamp_us.to_string(),
            live.timestamp_us.to_string(),
        );
        cmp(
            "version_count",
            self.version_count.to_string(),
            live.version_count.to_string(),
        );
        cmp(
            "borrow_count",
            self.borrow_count.to_string(),
            live.borrow_count.to_string(),
        );
        for (i, f) in BORROWABLE.iter().enumerate() {
            cmp(
                &format!("provenance of {f}"),
                origins.show(self.provenance[i]),
                format!("{:?}", store.provenance(e, f)),
            );
        }
        cmp(
            "history length",
            self.history_len.to_string(),
            live.history_len.to_string(),
        );
        cmp(
            "history digest",
            format!("{:016x}", self.history_digest),
            format!("{:016x}", live.history_digest),
        );
        if self.history_tail != live.history_tail {
            // The first retained entry that differs, with the store's text.
            let (want, got) = (&self.history_tail, &live.history_tail);
            let at = want
                .iter()
                .zip(got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            let texts = store.history_retained(e);
            let show = |tail: &VecDeque<u64>| {
                tail.get(at)
                    .map_or_else(|| "nothing".to_string(), |h| format!("hash {h:016x}"))
            };
            cmp(
                "history entries",
                format!("{} retained, entry {at}: {}", want.len(), show(want)),
                format!(
                    "{} retained, entry {at}: {} {:?}",
                    got.len(),
                    show(got),
                    texts.get(at).map(|t| &**t).unwrap_or("")
                ),
            );
        }
        cmp(
            "versions",
            self.versions.to_string(),
            live.versions.to_string(),
        );
        cmp(
            "placement",
            format!("{:?}", self.place),
            format!("{:?}", live.place),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_text_is_what_the_formatting_machinery_writes() {
        let from = Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8);
        for (op, at_us) in [
            (0, 0),
            (0xabc, -5),
            (u64::MAX, i64::MAX),
            (1 << 32, i64::MIN),
        ] {
            let op = OpId(op);
            let cases = [
                (
                    Entry::Modify {
                        write: FieldWrite::Counter(-42),
                        op,
                        at_us,
                    },
                    "modify_field counter=-42".to_string(),
                ),
                (
                    Entry::Modify {
                        write: FieldWrite::Text(7),
                        op,
                        at_us,
                    },
                    "modify_field text_content=text_7".to_string(),
                ),
                (
                    Entry::Borrow {
                        field: BorrowField::Data,
                        from,
                        op,
                        at_us,
                    },
                    format!("borrow data_value <- @{}.source_data", from.hyphenated()),
                ),
                (
                    Entry::Complex {
                        counter: 9,
                        op,
                        at_us,
                    },
                    "complex_update counter=9".to_string(),
                ),
            ];
            for (entry, head) in cases {
                let want = format!("{head} op-{:08x} t={at_us}", op.0);
                assert_eq!(entry.text(), want);
            }
        }
    }

    #[test]
    fn text_values_written_in_a_used_scratch_are_the_formatted_ones() {
        let mut scratch = String::from("left over from the commit before");
        assert_eq!(&*text_value(&mut scratch, "text_", &[7]), "text_7");
        for (counter, at_us) in [(3, 1_700_000_000_000_000), (i64::MIN, i64::MAX), (0, -1)] {
            assert_eq!(
                &*text_value(&mut scratch, "Updated_", &[counter, at_us]),
                format!("Updated_{counter}_{at_us}")
            );
        }
    }

    #[test]
    fn places_pack_into_four_bytes_and_back() {
        for place in [
            Place::Root,
            Place::Orphan,
            Place::Child {
                parent: EntityId(0),
            },
            Place::Child {
                parent: EntityId(PACKED_ORPHAN - 1),
            },
        ] {
            assert_eq!(place.pack().map(Place::unpack), Some(place));
        }
        for parent in [PACKED_ORPHAN, PACKED_ROOT] {
            let place = Place::Child {
                parent: EntityId(parent),
            };
            assert_eq!(place.pack(), None);
        }
    }
}
