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
//!
//! A run may hold a million targets, most of them never committed to, so a
//! model is materialised only when needed: every target's state before the
//! run is captured once, but what is kept is one shared default model, each
//! target's initial place packed in a `u32`, and a full model for each
//! target that started unlike the default. A target's first commit
//! materialises its model from those; the verdict compares every target,
//! committed to or not, with the store. What a model holds, and how it is
//! kept small, is `replay/model.rs`.

mod model;

use std::sync::Arc;

use rustc_hash::FxHashMap;
use uuid::Uuid;

pub use model::{Entry, Model, Origin, Origins, Place};
use model::{PACKED_ORPHAN, borrow_fields, float, int, text};

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::coverage::Tally;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::ecs::{EntityId, Schema, Store, Value};
use crate::events::{BorrowEffect, Effect, Event, EventKind, Kind};
use crate::ops::{BorrowField, FieldWrite, OpId, OpType};
use crate::prefetch::Stage;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// `Replay::model_of` of a target still at its initial state.
const NOT_MATERIALISED: u32 = u32::MAX;

/// A source's values, by the version id a borrow names.
#[derive(Clone, Debug)]
struct SourceValues {
    counter: i64,
    data: f64,
    text: Arc<str>,
}

#[derive(Debug)]
pub struct Replay {
    keep: usize,
    targets: u32,
    /// What every target starts as, apart from its place.
    default: Model,
    /// Target `i`'s place before the run, packed.
    initial_place: Vec<u32>,
    /// Target `i`'s index in `models`, or [`NOT_MATERIALISED`].
    model_of: Vec<u32>,
    /// The targets a commit touched, and those that started unlike the
    /// default (or in a place that does not pack). A vector rather than a
    /// map: it grows without a second copy of itself.
    models: Vec<Model>,
    sources: FxHashMap<Uuid, SourceValues>,
    /// The ids the models' provenances name.
    origins: Origins,
    v: Violations,
    commits: u64,
    borrows: u64,
    tree_moves: u64,
    /// Versions of every entity that is not a target, before the run: a
    /// tree's root, from which targets leave.
    others_initial: Vec<u64>,
    /// Per entity that is not a target, the children whose committed
    /// moves left it: each versioned it once.
    left: FxHashMap<u32, u64>,
    /// Where the texts of a commit are written (its history entry, a text
    /// value), kept between commits: the replay sees every commit, and
    /// a string allocated for each cost as much as the rest of its work.
    scratch: String,
}

impl Replay {
    /// Models of the first `targets` entities of `store` (the targets), and
    /// the values of every source.
    pub fn new(store: &Store, targets: u32, keep: usize) -> Replay {
        let mut default = None;
        let mut origins = Origins::default();
        let mut initial_place = Vec::with_capacity(targets as usize);
        let mut model_of = vec![NOT_MATERIALISED; targets as usize];
        let mut models = Vec::new();
        for i in 0..targets {
            let mut m = Model::capture(store, EntityId(i), |id| origins.intern(id));
            let place = m.place;
            let packed = place.pack();
            initial_place.push(packed.unwrap_or(PACKED_ORPHAN));
            let default = default.get_or_insert_with(|| m.clone());
            m.place = default.place;
            if packed.is_none() || !m.same(default) {
                m.place = place;
                model_of[i as usize] = models.len() as u32;
                models.push(m);
            }
        }
        let default =
            default.unwrap_or_else(|| Model::capture(store, EntityId(0), |id| origins.intern(id)));
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
            targets,
            default,
            initial_place,
            model_of,
            models,
            sources,
            origins,
            v: Violations::new(CheckId::Replay),
            commits: 0,
            borrows: 0,
            tree_moves: 0,
            others_initial: (targets..store.len() as u32)
                .map(|e| store.version_count(EntityId(e)))
                .collect(),
            left: FxHashMap::default(),
            scratch: String::with_capacity(128),
        }
    }

    /// Target `i`'s model: the materialised one, or the default in the
    /// target's initial place.
    fn model(&self, i: u32) -> std::borrow::Cow<'_, Model> {
        match self.model_of[i as usize] {
            NOT_MATERIALISED => std::borrow::Cow::Owned(Model {
                place: Place::unpack(self.initial_place[i as usize]),
                ..self.default.clone()
            }),
            m => std::borrow::Cow::Borrowed(&self.models[m as usize]),
        }
    }

    /// Replay one commit of `op` on `m`; a mismatch between what the effect
    /// claims and what the model and the sources say is returned.
    fn apply(&mut self, i: usize, op: OpId, effect: &Effect) -> Result<(), String> {
        let keep = self.keep;
        let sources = &self.sources;
        let scratch = &mut self.scratch;
        let m = Replay::model_mut(
            &mut self.models,
            &mut self.model_of,
            &self.default,
            &self.initial_place,
            i,
        );
        let mut result = Ok(());
        let mut left_parent = None;
        match effect {
            Effect::Versioned => m.versions += 1,
            Effect::Modified { write, at_us } => {
                match *write {
                    FieldWrite::Counter(v) => {
                        m.counter = v;
                        m.provenance[0] = Origin::NONE;
                    }
                    FieldWrite::DataValue(v) => {
                        m.data_value = v;
                        m.provenance[1] = Origin::NONE;
                    }
                    FieldWrite::Text(n) => {
                        m.text_content = model::text_value(scratch, "text_", &[i64::from(n)]);
                        m.provenance[2] = Origin::NONE;
                    }
                }
                let entry = Entry::Modify {
                    write: *write,
                    op,
                    at_us: *at_us,
                };
                m.append(entry, keep, scratch);
            }
            Effect::Borrowed(b) => {
                let BorrowEffect {
                    field,
                    value,
                    from,
                    at_us,
                } = &**b;
                self.borrows += 1;
                let source = sources.get(from);
                let (sf, tf) = borrow_fields(*field);
                let slot = match field {
                    BorrowField::Counter => 0,
                    BorrowField::Data => 1,
                    BorrowField::Text => 2,
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
                m.provenance[slot] = self.origins.intern(Some(*from));
                m.borrow_count += 1;
                let entry = Entry::Borrow {
                    field: *field,
                    from: *from,
                    op,
                    at_us: *at_us,
                };
                m.append(entry, keep, scratch);
            }
            Effect::ComplexUpdate { data_value, at_us } => {
                m.counter += 1;
                m.data_value = *data_value;
                m.text_content = model::text_value(scratch, "Updated_", &[m.counter, *at_us]);
                m.timestamp_us = *at_us;
                m.version_count += 1;
                m.provenance = [Origin::NONE; 3];
                let entry = Entry::Complex {
                    counter: m.counter,
                    op,
                    at_us: *at_us,
                };
                m.append(entry, keep, scratch);
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
                if *changed {
                    m.versions += 1;
                    self.tree_moves += 1;
                    // The parent it left is versioned by the same commit.
                    if let Place::Child { parent } = m.place {
                        left_parent = Some(parent);
                    }
                }
                m.place = next;
                let entry = Entry::Structural {
                    kind: *kind,
                    changed: *changed,
                    op,
                    at_us: *at_us,
                };
                m.append(entry, keep, scratch);
            }
        }
        if let Some(parent) = left_parent {
            self.left_from(parent);
        }
        result
    }

    /// Target `i`'s model, materialised from the default at its first
    /// use (by fields, so that the caller may keep borrowing the others).
    fn model_mut<'a>(
        models: &'a mut Vec<Model>,
        model_of: &mut [u32],
        default: &Model,
        initial_place: &[u32],
        i: usize,
    ) -> &'a mut Model {
        if model_of[i] == NOT_MATERIALISED {
            model_of[i] = models.len() as u32;
            models.push(Model {
                place: Place::unpack(initial_place[i]),
                ..default.clone()
            });
        }
        &mut models[model_of[i] as usize]
    }

    /// A child's committed move left `parent`, which that commit versions:
    /// a target's model counts it, any other entity's tally does.
    fn left_from(&mut self, parent: EntityId) {
        let p = parent.0 as usize;
        if p < self.targets as usize {
            Replay::model_mut(
                &mut self.models,
                &mut self.model_of,
                &self.default,
                &self.initial_place,
                p,
            )
            .versions += 1;
        } else {
            *self.left.entry(parent.0).or_default() += 1;
        }
    }
}

impl Rule for Replay {
    fn observes(&self) -> Kinds {
        Kinds::of(&[Kind::Completed])
    }

    fn observe(&mut self, ev: &Event, _table: &Table) {
        if let EventKind::OperationCompleted { effect, .. } = &ev.kind {
            self.commits += 1;
            let i = ev.target as usize;
            if i >= self.targets as usize {
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

    fn prefetches(&self) -> Kinds {
        Kinds::of(&[Kind::Completed])
    }

    fn prefetch(&self, ev: &Event, stage: Stage) {
        let Some(index) = self.model_of.get(ev.target as usize) else {
            return;
        };
        match stage {
            Stage::Far => crate::prefetch::read(index),
            Stage::Near => {
                if let Some(model) = self.models.get(*index as usize) {
                    crate::prefetch::read(model);
                }
            }
        }
    }

    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        let mut v = Violations::new(CheckId::Replay);
        for i in 0..self.targets {
            for (field, diff) in self.model(i).diff(s.store, EntityId(i), &self.origins) {
                v.record(None, Some(i), &field, || diff);
            }
        }
        // The roots the targets left: their versions are the ones they
        // had plus one per child that left.
        let mut roots: Vec<(&u32, &u64)> = self.left.iter().collect();
        roots.sort_unstable();
        for (&e, &n) in roots {
            let initial = self
                .others_initial
                .get((e - self.targets) as usize)
                .copied()
                .unwrap_or_default();
            let (want, got) = (initial + n, s.store.version_count(EntityId(e)));
            if want != got {
                v.record(None, None, "versions of a root its children left", || {
                    format!(
                        "entity {e}: replay {want} ({initial} + {n} children left), store {got}"
                    )
                });
            }
        }
        v.extend(&self.v);
        v.result(
            format!(
                "{} commits replayed on models of {} targets and the roots they left reproduce the store exactly (values, provenance, history, versions, trees)",
                count(self.commits),
                count(u64::from(self.targets))
            ),
            self.commits,
        )
    }

    fn cover(&self, tally: &mut Tally) {
        tally.borrows += self.borrows;
        tally.tree_moves += self.tree_moves;
    }
}

#[cfg(test)]
mod tests {
    //! The lazy models: a target that started unlike the others, or that no
    //! commit touched, is still compared with the store as it really was.

    use super::*;
    use crate::ecs::{Retention, address};

    /// Three targets: 0 and 2 children of root 3, 1 a child of root 4;
    /// target 2 with counter 5 written before the check starts.
    fn store() -> Store {
        let mut s = Store::new(
            Retention {
                versions: 2,
                history: 4,
            },
            1,
        );
        let created = Value::Time(chrono::DateTime::from_timestamp_micros(0).unwrap_or_default());
        let named = |n: &str| {
            [
                ("name", Value::Str(Arc::from(n))),
                ("timestamp", created.clone()),
            ]
        };
        for i in 0..3 {
            s.create(Schema::TestDataEntity, &named(&format!("t{i}")))
                .unwrap();
        }
        for (i, root) in [(3, "a"), (4, "b")] {
            assert_eq!(
                s.create(Schema::TestDataEntity, &named(root)),
                Ok(EntityId(i))
            );
        }
        for (child, root) in [(0, 3), (1, 4), (2, 3)] {
            s.add_child(EntityId(root), EntityId(child)).unwrap();
        }
        put_counter(&mut s, 2, 5);
        s
    }

    fn put_counter(s: &mut Store, e: u32, v: i64) {
        let at = address(s.current_id(EntityId(e)).unwrap(), "counter");
        s.put(&at, Value::Int(v)).unwrap();
    }

    fn diffs(r: &Replay, s: &Store) -> Vec<(u32, String)> {
        (0..r.targets)
            .flat_map(|i| {
                r.model(i)
                    .diff(s, EntityId(i), &r.origins)
                    .into_iter()
                    .map(move |(f, _)| (i, f))
            })
            .collect()
    }

    #[test]
    fn a_retained_entry_changed_behind_the_digest_is_caught_by_its_hash() {
        let mut s = store();
        s.append_history(EntityId(2), "a note")
            .unwrap_or_else(|e| panic!("{e}"));
        let r = Replay::new(&s, 3, 4);
        assert!(diffs(&r, &s).is_empty());
        // Target 2's last entry, altered in place: the length and the
        // running digest still agree.
        let entity = s.entity_mut(EntityId(2)).unwrap_or_else(|e| panic!("{e}"));
        assert!(entity.history.corrupt());
        assert_eq!(diffs(&r, &s), vec![(2, "history entries".to_string())]);
        let said = r.model(2).diff(&s, EntityId(2), &r.origins);
        assert!(said[0].1.contains("~"), "names the store's text: {said:?}");
    }

    #[test]
    fn only_targets_unlike_the_default_are_kept_whole() {
        let s = store();
        let r = Replay::new(&s, 3, 4);
        let kept: Vec<u32> = (0..3)
            .filter(|&i| r.model_of[i as usize] != NOT_MATERIALISED)
            .collect();
        // Target 1 differs in its place only, which the packed places hold.
        assert_eq!(kept, vec![2]);
        assert_eq!(
            r.model(1).place,
            Place::Child {
                parent: EntityId(4)
            }
        );
        assert_eq!(
            r.model(0).place,
            Place::Child {
                parent: EntityId(3)
            }
        );
        assert!(diffs(&r, &s).is_empty());
    }

    #[test]
    fn a_first_commit_starts_from_the_targets_own_initial_state() {
        let mut s = store();
        let mut r = Replay::new(&s, 3, 4);
        let before = r.model(2).into_owned();
        let effect = Effect::Structural {
            op: OpType::PromoteToRoot,
            changed: true,
            at_us: 9,
        };
        assert_eq!(r.apply(2, OpId(1), &effect), Ok(()));
        let after = r.model(2);
        assert_eq!((after.place, after.counter), (Place::Root, 5));
        assert_eq!(after.versions, before.versions + 1);
        assert_eq!(after.history_len, before.history_len + 1);
        // The store did not move target 2: the replay says it did.
        let found = diffs(&r, &s);
        assert!(found.contains(&(2, "placement".to_string())), "{found:?}");
        assert!(found.iter().all(|(t, _)| *t == 2), "{found:?}");
        s.promote_to_root(EntityId(2)).unwrap();
        let found = diffs(&r, &s);
        assert!(!found.iter().any(|(_, f)| f == "placement"), "{found:?}");
    }

    #[test]
    fn a_write_to_a_target_no_commit_touched_is_caught() {
        let mut s = store();
        let r = Replay::new(&s, 3, 4);
        put_counter(&mut s, 0, 777);
        assert_eq!(diffs(&r, &s), vec![(0, "counter".to_string())]);
    }

    #[test]
    fn the_tail_keeps_the_hashes_of_as_many_entries_as_the_store_keeps() {
        assert!(std::mem::size_of::<Entry>() <= 40);
        let s = store();
        let mut r = Replay::new(&s, 3, 2);
        for n in 0..5 {
            let effect = Effect::Modified {
                write: FieldWrite::Text(n),
                at_us: 1,
            };
            assert_eq!(r.apply(0, OpId(u64::from(n)), &effect), Ok(()));
        }
        let m = r.model(0);
        let hashes: Vec<_> = m.history_tail.iter().copied().collect();
        assert_eq!(
            hashes,
            [
                "modify_field text_content=text_3 op-00000003 t=1",
                "modify_field text_content=text_4 op-00000004 t=1"
            ]
            .map(crate::ecs::digest::entry_hash)
        );
        assert_eq!(m.history_tail.capacity(), 2, "exactly the window");
        let mut r = Replay::new(&s, 3, 4);
        let mut rooms = Vec::new();
        for n in 0..6 {
            let effect = Effect::Modified {
                write: FieldWrite::Text(n),
                at_us: 1,
            };
            assert_eq!(r.apply(1, OpId(u64::from(n)), &effect), Ok(()));
            rooms.push(r.model(1).history_tail.capacity());
        }
        assert_eq!(rooms, [1, 2, 4, 4, 4, 4], "doubling up to the window");
    }

    #[test]
    fn a_model_is_small_and_names_each_provenance_in_its_diff() {
        assert!(std::mem::size_of::<Model>() <= 136);
        let mut s = store();
        let source = s
            .create(Schema::TestDataSource, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let from = s.current_id(source).unwrap_or_default();
        let mut r = Replay::new(&s, 3, 4);
        let effect = Effect::borrowed(BorrowField::Counter, Value::Int(100), from, 1);
        assert_eq!(r.apply(0, OpId(1), &effect), Ok(()));
        // The store took the same borrow, but from another entity.
        let other = EntityId(3);
        s.borrow_attribute_from(EntityId(0), other, "counter", "counter")
            .unwrap_or_else(|e| panic!("{e}"));
        let diff = r.model(0).diff(&s, EntityId(0), &r.origins);
        let provenance: Vec<&String> = diff
            .iter()
            .filter(|(f, _)| f == "provenance of counter")
            .map(|(_, d)| d)
            .collect();
        let other_id = s.current_id(other).unwrap_or_default();
        assert_eq!(
            provenance,
            [&format!("replay Some({from:?}), store Some({other_id:?})")],
            "{diff:?}"
        );
    }
}
