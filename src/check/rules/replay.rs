//! `replay`: everything a commit wrote, replayed on a model of its target
//! and compared with the store.
//!
//! Each target starts as a [`Model`] read from the store before the run.
//! The recorded [`Effect`] of every commit is applied to it in commit
//! order, by this file's own statement of what each operation does — not by
//! the executor's code:
//!
//! | op | writes |
//! |---|---|
//! | `version_entity` | a new version |
//! | `modify_field` | the field (`text_content` gets `text_<n>`), provenance cleared; a history entry |
//! | `borrow_attribute` | the target field ← the source's value, provenance = the source's version id; `borrow_count + 1`; a history entry |
//! | `complex_update` | `counter + 1`, `data_value`, `text_content = Updated_<counter>_<t>`, `timestamp`, `version_count + 1`, provenances cleared; a history entry; a new version |
//! | `promote_to_root` / `detach_entity` | the tree move (no-op when already there); a history entry; a version when it moved |
//!
//! A borrow's value must be the source's value (sources never change). At
//! the end every field, every provenance, the history (length, digest and
//! the retained entries, text for text), the lineage length and the
//! target's place in the trees must equal the store's.

use std::collections::VecDeque;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use uuid::Uuid;

use super::Rule;
use crate::check::Violations;
use crate::check::coverage::Tally;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::ecs::{EntityId, Placement, Schema, Store, Value, history_digest_step};
use crate::events::{Effect, Event, EventKind};
use crate::ops::{BorrowField, FieldWrite, OpId, OpType};
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// The fields a target's model follows that can carry a provenance.
const BORROWABLE: [&str; 3] = ["counter", "data_value", "text_content"];

/// Where a target sits in the trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Root,
    Child { parent: EntityId },
    Orphan,
}

impl Place {
    fn of(store: &Store, e: EntityId) -> Place {
        match store.placement(e) {
            Placement::Root { .. } => Place::Root,
            Placement::Child { parent, .. } => Place::Child { parent },
            Placement::Orphan => Place::Orphan,
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
    pub provenance: [Option<Uuid>; 3],
    pub history_len: u64,
    pub history_digest: u64,
    /// The last entries, as many as the store retains.
    pub history_tail: VecDeque<Arc<str>>,
    /// Versions in the lineage (1 = only the initial version).
    pub versions: u64,
    pub place: Place,
}

fn int(store: &Store, e: EntityId, f: &str) -> i64 {
    match store.field(e, f) {
        Ok(Value::Int(i)) => i,
        _ => 0,
    }
}

fn float(store: &Store, e: EntityId, f: &str) -> f64 {
    match store.field(e, f) {
        Ok(Value::Float(v)) => v,
        _ => 0.0,
    }
}

fn text(store: &Store, e: EntityId, f: &str) -> Arc<str> {
    match store.field(e, f) {
        Ok(Value::Str(s)) => s,
        _ => Arc::from(""),
    }
}

impl Model {
    /// The model of target `e` as the store holds it now.
    pub fn capture(store: &Store, e: EntityId) -> Model {
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
            provenance: BORROWABLE.map(|f| store.provenance(e, f)),
            history_len: store.history_len(e),
            history_digest: store.history_digest(e),
            history_tail: store.history_retained(e).into(),
            versions: store.version_count(e),
            place: Place::of(store, e),
        }
    }

    fn append(&mut self, entry: String, keep: usize) {
        self.history_len += 1;
        self.history_digest = history_digest_step(self.history_digest, &entry);
        self.history_tail.push_back(Arc::from(entry));
        while self.history_tail.len() > keep {
            self.history_tail.pop_front();
        }
    }

    /// Differences between this model and the store's target `e`, as
    /// (field, "replay X, store Y").
    pub fn diff(&self, store: &Store, e: EntityId) -> Vec<(String, String)> {
        let live = Model::capture(store, e);
        let mut out = Vec::new();
        // Compared as values; only a disagreement is put into words (this
        // runs once per target at the end of every run).
        let mut differ = |name: &str, want: &dyn std::fmt::Display, got: &dyn std::fmt::Display| {
            out.push((name.to_string(), format!("replay {want}, store {got}")));
        };
        macro_rules! compare {
            ($name:expr, $want:expr, $got:expr) => {
                if $want != $got {
                    differ($name, &$want, &$got);
                }
            };
        }
        compare!("counter", self.counter, live.counter);
        // Floats by their bits, as their text would compare: -0 is not 0,
        // and any NaN is the same as any other.
        let (want, got) = (self.data_value, live.data_value);
        if want.to_bits() != got.to_bits() && !(want.is_nan() && got.is_nan()) {
            differ("data_value", &want, &got);
        }
        compare!("text_content", self.text_content, live.text_content);
        compare!("timestamp", self.timestamp_us, live.timestamp_us);
        compare!("version_count", self.version_count, live.version_count);
        compare!("borrow_count", self.borrow_count, live.borrow_count);
        for (i, f) in BORROWABLE.iter().enumerate() {
            if self.provenance[i] != live.provenance[i] {
                differ(
                    &format!("provenance of {f}"),
                    &format_args!("{:?}", self.provenance[i]),
                    &format_args!("{:?}", live.provenance[i]),
                );
            }
        }
        compare!("history length", self.history_len, live.history_len);
        if self.history_digest != live.history_digest {
            differ(
                "history digest",
                &format_args!("{:016x}", self.history_digest),
                &format_args!("{:016x}", live.history_digest),
            );
        }
        if self.history_tail != live.history_tail {
            let first = self
                .history_tail
                .iter()
                .zip(live.history_tail.iter())
                .find(|(a, b)| a != b);
            differ(
                "history entries",
                &format_args!("{first:?}"),
                &format_args!("{} retained entries differ", live.history_tail.len()),
            );
        }
        compare!("versions", self.versions, live.versions);
        if self.place != live.place {
            differ(
                "placement",
                &format_args!("{:?}", self.place),
                &format_args!("{:?}", live.place),
            );
        }
        out
    }
}

/// A float as the history writes it: shortest text that reads back exactly.
fn float_text(v: f64) -> String {
    zmij::Buffer::new().format(v).to_string()
}

/// A source's values, by the version id a borrow names.
#[derive(Clone, Debug)]
struct SourceValues {
    counter: i64,
    data: f64,
    text: Arc<str>,
}

pub struct Replay {
    keep: usize,
    models: Vec<Model>,
    sources: FxHashMap<Uuid, SourceValues>,
    v: Violations,
    commits: u64,
    borrows: u64,
    tree_moves: u64,
}

impl Replay {
    /// Models of the first `targets` entities of `store` (the targets), and
    /// the values of every source.
    pub fn new(store: &Store, targets: u32, keep: usize) -> Replay {
        let models = (0..targets)
            .map(|i| Model::capture(store, EntityId(i)))
            .collect();
        let mut sources = FxHashMap::default();
        for i in 0..store.len() {
            let e = EntityId(i as u32);
            if store.schema(e).ok() == Some(Schema::TestDataSource)
                && let Ok(id) = store.current_id(e)
            {
                sources.insert(
                    id,
                    SourceValues {
                        counter: int(store, e, "source_counter"),
                        data: float(store, e, "source_data"),
                        text: text(store, e, "source_text"),
                    },
                );
            }
        }
        Replay {
            keep,
            models,
            sources,
            v: Violations::new(CheckId::Replay),
            commits: 0,
            borrows: 0,
            tree_moves: 0,
        }
    }

    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// Replay one commit of `op` on `m`; a mismatch between what the effect
    /// claims and what the model and the sources say is returned.
    fn apply(&mut self, i: usize, op: OpId, effect: &Effect) -> Result<(), String> {
        let keep = self.keep;
        let sources = &self.sources;
        let m = &mut self.models[i];
        let mut result = Ok(());
        let suffix = |at_us: i64| format!(" {op} t={at_us}");
        match effect {
            Effect::Versioned => m.versions += 1,
            Effect::Modified { write, at_us } => {
                let entry = match *write {
                    FieldWrite::Counter(v) => {
                        m.counter = v;
                        m.provenance[0] = None;
                        format!("modify_field counter={v}")
                    }
                    FieldWrite::DataValue(v) => {
                        m.data_value = v;
                        m.provenance[1] = None;
                        format!("modify_field data_value={}", float_text(v))
                    }
                    FieldWrite::Text(n) => {
                        m.text_content = Arc::from(format!("text_{n}"));
                        m.provenance[2] = None;
                        format!("modify_field text_content=text_{n}")
                    }
                };
                m.append(entry + &suffix(*at_us), keep);
            }
            Effect::Borrowed {
                field,
                value,
                from,
                at_us,
            } => {
                self.borrows += 1;
                let source = sources.get(from);
                let (sf, tf, slot) = match field {
                    BorrowField::Counter => ("source_counter", "counter", 0),
                    BorrowField::Data => ("source_data", "data_value", 1),
                    BorrowField::Text => ("source_text", "text_content", 2),
                };
                let expected = source.map(|s| match field {
                    BorrowField::Counter => Value::Int(s.counter),
                    BorrowField::Data => Value::Float(s.data),
                    BorrowField::Text => Value::Str(Arc::clone(&s.text)),
                });
                match expected {
                    None => result = Err(format!("borrowed from {from}, which is no source")),
                    Some(e) if e != *value => {
                        result = Err(format!(
                            "borrowed {value:?} from {from}.{sf}, which holds {e:?}"
                        ))
                    }
                    Some(_) => {}
                }
                match value {
                    Value::Int(v) if slot == 0 => m.counter = *v,
                    Value::Float(v) if slot == 1 => m.data_value = *v,
                    Value::Str(v) if slot == 2 => m.text_content = Arc::clone(v),
                    other => {
                        result = Err(format!(
                            "borrow into {tf} recorded a value of another type: {other:?}"
                        ))
                    }
                }
                m.provenance[slot] = Some(*from);
                m.borrow_count += 1;
                let entry = format!("borrow {tf} <- @{}.{sf}", from.hyphenated());
                m.append(entry + &suffix(*at_us), keep);
            }
            Effect::ComplexUpdate { data_value, at_us } => {
                m.counter += 1;
                m.data_value = *data_value;
                m.text_content = Arc::from(format!("Updated_{}_{at_us}", m.counter));
                m.timestamp_us = *at_us;
                m.version_count += 1;
                m.provenance = [None; 3];
                let entry = format!("complex_update counter={}", m.counter);
                m.append(entry + &suffix(*at_us), keep);
                m.versions += 1;
            }
            Effect::Structural {
                op: kind,
                changed,
                at_us,
            } => {
                let (next, moves) = match (kind, m.place) {
                    (OpType::PromoteToRoot, Place::Root) => (Place::Root, false),
                    (OpType::PromoteToRoot, _) => (Place::Root, true),
                    (_, Place::Orphan) => (Place::Orphan, false),
                    _ => (Place::Orphan, true),
                };
                if moves != *changed {
                    result = Err(format!(
                        "{kind} on a target placed {:?} {} the trees, the commit says changed={changed}",
                        m.place,
                        if moves { "changes" } else { "does not change" }
                    ));
                }
                m.place = next;
                if *changed {
                    m.versions += 1;
                    self.tree_moves += 1;
                }
                let entry = format!("{}{}", kind.name(), if *changed { "" } else { " no-op" });
                m.append(entry + &suffix(*at_us), keep);
            }
        }
        result
    }
}

impl Rule for Replay {
    fn observe(&mut self, ev: &Event, _table: &Table) {
        if let EventKind::OperationCompleted { effect, .. } = &ev.kind {
            self.commits += 1;
            let i = ev.target as usize;
            if i >= self.models.len() {
                self.v.at(ev, "commit on a non-target", || {
                    format!("committed on entity {}, which is not a target", ev.target)
                });
                return;
            }
            if let Err(e) = self.apply(i, ev.op, effect) {
                self.v.at(ev, "effect contradicts the replay", || e);
            }
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        let mut v = Violations::new(CheckId::Replay);
        for (i, m) in self.models.iter().enumerate() {
            for (field, diff) in m.diff(s.store, EntityId(i as u32)) {
                v.record(None, Some(i as u32), &field, || diff);
            }
        }
        v.extend(&self.v);
        v.result(
            format!(
                "{} commits replayed on models of {} targets reproduce the store exactly (values, provenance, history, versions, trees)",
                count(self.commits),
                count(self.models.len() as u64)
            ),
            self.commits,
        )
    }

    fn cover(&self, tally: &mut Tally) {
        tally.borrows += self.borrows;
        tally.tree_moves += self.tree_moves;
    }
}
