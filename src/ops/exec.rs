//! The six operation types, executed as transactions on the store.
//!
//! [`execute`] stages every write of an op in a [`Txn`] and commits once at
//! the end: either all of the op's effects become visible or none do. An
//! injected fault aborts the transaction after some of its writes were
//! staged (dropping a `Txn` rolls it back); an injected panic does the same
//! by unwinding through it — the caller catches the panic.
//!
//! [`Shadow`] is the other half of the proof: a plain copy of a target's
//! fields to which the recorded [`Effect`] of every committed op is applied
//! in commit order, without the store. If the store lost an update, leaked
//! a partial write or versioned wrongly, the two disagree at the end.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::ecs::{EcsError, EntityId, Placement, Store, Txn, Value, VersionCreated};
use crate::events::Effect;
use crate::ops::text::Line;
use crate::ops::{BorrowField, FailReason, FieldWrite, Op, OpId, OpKind, OpType};

/// A fault to inject into one execution attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Abort after this many writes were staged (1-based; clamped to the
    /// op's number of steps).
    pub step: u8,
    /// Abort by panicking instead of returning an error.
    pub panic: bool,
}

/// Payload of an injected panic, so the harness's panic hook can keep
/// quiet about panics it caused on purpose.
#[derive(Debug)]
pub struct InjectedPanic;

/// What a committed execution did.
#[derive(Debug)]
pub struct Executed {
    pub effect: Effect,
    /// Versions created by the commit, in order.
    pub versions: Vec<VersionCreated>,
    /// Target fields the commit changed, in write order.
    pub fields: &'static [&'static str],
}

/// Number of write steps an op stages before its commit (faults pick one).
pub fn steps(kind: &OpKind) -> u8 {
    match kind {
        OpKind::VersionEntity => 1,
        OpKind::ModifyField(_) => 2,
        OpKind::BorrowAttribute { .. } => 3,
        OpKind::ComplexUpdate { .. } => 7,
        OpKind::PromoteToRoot | OpKind::DetachEntity => 2,
    }
}

/// Fields each op type changes on its target.
fn changed_fields(kind: &OpKind) -> &'static [&'static str] {
    match kind {
        OpKind::VersionEntity => &[],
        OpKind::ModifyField(FieldWrite::Counter(_)) => &["counter", "modification_history"],
        OpKind::ModifyField(FieldWrite::DataValue(_)) => &["data_value", "modification_history"],
        OpKind::ModifyField(FieldWrite::Text(_)) => &["text_content", "modification_history"],
        OpKind::BorrowAttribute { field, .. } => match field {
            BorrowField::Counter => &["counter", "borrow_count", "modification_history"],
            BorrowField::Data => &["data_value", "borrow_count", "modification_history"],
            BorrowField::Text => &["text_content", "borrow_count", "modification_history"],
        },
        OpKind::ComplexUpdate { .. } => &[
            "counter",
            "data_value",
            "text_content",
            "timestamp",
            "version_count",
            "modification_history",
        ],
        OpKind::PromoteToRoot | OpKind::DetachEntity => &["modification_history"],
    }
}

/// The text a `modify_field` op writes into `text_content`.
pub fn text_value(n: u32) -> String {
    Line::new().str("text_").uint(u64::from(n)).finish()
}

/// The text a `complex_update` writes into `text_content`.
pub fn complex_text(counter: i64, at_us: i64) -> String {
    Line::new()
        .str("Updated_")
        .int(counter)
        .str("_")
        .int(at_us)
        .finish()
}

/// The history entry a committed op appends to its target. Shared by the
/// executor and the replay, so both describe a commit identically.
pub fn history_entry(op: OpId, effect: &Effect, counter_after: i64) -> Option<String> {
    let mut line = Line::new();
    let at_us = match effect {
        Effect::Versioned => return None,
        Effect::Modified { write, at_us } => {
            line.str("modify_field ");
            match write {
                FieldWrite::Counter(v) => line.str("counter=").int(*v),
                FieldWrite::DataValue(v) => line.str("data_value=").float(*v),
                FieldWrite::Text(n) => line.str("text_content=text_").uint(u64::from(*n)),
            };
            at_us
        }
        Effect::Borrowed {
            field, from, at_us, ..
        } => {
            let (sf, tf) = field.fields();
            line.str("borrow ")
                .str(tf)
                .str(" <- @")
                .uuid(*from)
                .str(".")
                .str(sf);
            at_us
        }
        Effect::ComplexUpdate { at_us, .. } => {
            line.str("complex_update counter=").int(counter_after);
            at_us
        }
        Effect::Structural {
            op: kind,
            changed,
            at_us,
        } => {
            line.str(kind.name())
                .str(if *changed { "" } else { " no-op" });
            at_us
        }
    };
    Some(line.str(" ").op(op).str(" t=").int(*at_us).finish())
}

/// A fault check between staged steps.
struct Steps {
    done: u8,
    fault: Option<Fault>,
}

impl Steps {
    fn staged(&mut self) -> Result<(), FailReason> {
        self.done += 1;
        match self.fault {
            Some(f) if f.step <= self.done => {
                if f.panic {
                    std::panic::panic_any(InjectedPanic);
                }
                Err(FailReason::InjectedFault { step: self.done })
            }
            _ => Ok(()),
        }
    }
}

fn store_err(_: EcsError) -> FailReason {
    FailReason::Store
}

fn int_field(txn: &Txn<'_>, field: &str) -> Result<i64, FailReason> {
    match txn.get(field).map_err(store_err)? {
        Value::Int(i) => Ok(i),
        _ => Err(FailReason::Store),
    }
}

/// Execute `op` on its target as one transaction, committing at `at_us`
/// (wall-clock microseconds). With `fault`, the attempt aborts after
/// `fault.step` staged writes; with `leak` as well, the aborted attempt's
/// history entry is written to the store outside the transaction — a
/// deliberately broken executor for the tests that prove replay catches it.
pub fn execute(
    store: &mut Store,
    op: &Op,
    at_us: i64,
    fault: Option<Fault>,
    leak: bool,
) -> Result<Executed, FailReason> {
    let target = EntityId(op.target);
    let source_id = match op.kind {
        OpKind::BorrowAttribute { source, .. } => {
            Some(store.current_id(EntityId(source)).map_err(store_err)?)
        }
        _ => None,
    };
    let mut txn = store.begin(target).map_err(store_err)?;
    let mut steps = Steps { done: 0, fault };
    let effect = match stage(&mut txn, op, at_us, &mut steps, source_id) {
        Ok(effect) => effect,
        Err(reason) => {
            drop(txn);
            if leak {
                let entry = format!("leaked partial write {} t={at_us}", op.id);
                let _ = store.append_history(target, &entry);
            }
            return Err(reason);
        }
    };
    let commit = txn.commit();
    Ok(Executed {
        effect,
        versions: commit.versions,
        fields: changed_fields(&op.kind),
    })
}

fn stage(
    txn: &mut Txn<'_>,
    op: &Op,
    at_us: i64,
    steps: &mut Steps,
    source_id: Option<uuid::Uuid>,
) -> Result<Effect, FailReason> {
    let effect = match op.kind {
        OpKind::VersionEntity => {
            txn.force_version();
            steps.staged()?;
            Effect::Versioned
        }
        OpKind::ModifyField(write) => {
            let (field, value) = match write {
                FieldWrite::Counter(v) => ("counter", Value::Int(v)),
                FieldWrite::DataValue(v) => ("data_value", Value::Float(v)),
                FieldWrite::Text(n) => ("text_content", Value::Str(Arc::from(text_value(n)))),
            };
            let address = crate::ecs::address(txn.current_id(), field);
            txn.put(&address, value).map_err(store_err)?;
            steps.staged()?;
            Effect::Modified { write, at_us }
        }
        OpKind::BorrowAttribute { source, field } => {
            let (sf, tf) = field.fields();
            let value = txn
                .borrow_attribute_from(EntityId(source), sf, tf)
                .map_err(store_err)?;
            steps.staged()?;
            let borrows = int_field(txn, "borrow_count")?;
            txn.set("borrow_count", Value::Int(borrows + 1))
                .map_err(store_err)?;
            steps.staged()?;
            Effect::Borrowed {
                field,
                value,
                from: source_id.unwrap_or_default(),
                at_us,
            }
        }
        OpKind::ComplexUpdate { data_value } => {
            let counter = int_field(txn, "counter")? + 1;
            txn.set("counter", Value::Int(counter)).map_err(store_err)?;
            steps.staged()?;
            txn.set("data_value", Value::Float(data_value))
                .map_err(store_err)?;
            steps.staged()?;
            let text = complex_text(counter, at_us);
            txn.set("text_content", Value::Str(Arc::from(text)))
                .map_err(store_err)?;
            steps.staged()?;
            txn.set("timestamp", Value::Time(time_from_us(at_us)))
                .map_err(store_err)?;
            steps.staged()?;
            let versions = int_field(txn, "version_count")?;
            txn.set("version_count", Value::Int(versions + 1))
                .map_err(store_err)?;
            steps.staged()?;
            Effect::ComplexUpdate { data_value, at_us }
        }
        OpKind::PromoteToRoot | OpKind::DetachEntity => {
            let kind = op.kind.op_type();
            let changed = if kind == OpType::PromoteToRoot {
                txn.promote_to_root().map_err(store_err)?
            } else {
                txn.detach().map_err(store_err)?
            };
            steps.staged()?;
            Effect::Structural {
                op: kind,
                changed,
                at_us,
            }
        }
    };
    let counter_after = match effect {
        Effect::ComplexUpdate { .. } => int_field(txn, "counter")?,
        _ => 0,
    };
    if let Some(entry) = history_entry(op.id, &effect, counter_after) {
        txn.append_history(&entry);
        steps.staged()?;
    }
    if matches!(effect, Effect::ComplexUpdate { .. }) {
        txn.force_version();
        steps.staged()?;
    }
    Ok(effect)
}

/// Wall-clock microseconds as the store's time type. Out-of-range values
/// (not reachable from a real clock) fall back to the epoch.
pub fn time_from_us(at_us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at_us).unwrap_or_default()
}

/// Where a target sits in the trees, as the replay models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShadowPlacement {
    Root,
    Child,
    Orphan,
}

/// A plain copy of a target's fields, changed only by replaying recorded
/// effects. Compared with the store at the end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Shadow {
    pub counter: i64,
    pub data_value: f64,
    pub text_content: Arc<str>,
    /// `timestamp`, in microseconds.
    pub timestamp_us: i64,
    pub version_count: i64,
    pub borrow_count: i64,
    pub history_len: u64,
    pub history_digest: u64,
    /// Versions in the lineage (1 = only the initial version).
    pub versions: u64,
    pub placement: ShadowPlacement,
}

impl Shadow {
    /// The shadow of a target as the store holds it now.
    pub fn capture(store: &Store, target: EntityId) -> Result<Shadow, EcsError> {
        let int = |name: &str| -> Result<i64, EcsError> {
            match store.field(target, name)? {
                Value::Int(i) => Ok(i),
                _ => Ok(0),
            }
        };
        let data_value = match store.field(target, "data_value")? {
            Value::Float(f) => f,
            _ => 0.0,
        };
        let timestamp_us = match store.field(target, "timestamp")? {
            Value::Time(t) => t.timestamp_micros(),
            _ => 0,
        };
        let text_content = match store.field(target, "text_content")? {
            Value::Str(s) => s,
            _ => Arc::from(""),
        };
        let placement = match store.placement(target) {
            Placement::Root { .. } => ShadowPlacement::Root,
            Placement::Child { .. } => ShadowPlacement::Child,
            Placement::Orphan => ShadowPlacement::Orphan,
        };
        Ok(Shadow {
            counter: int("counter")?,
            data_value,
            text_content,
            timestamp_us,
            version_count: int("version_count")?,
            borrow_count: int("borrow_count")?,
            history_len: store.history_len(target),
            history_digest: store.history_digest(target),
            versions: store.version_count(target),
            placement,
        })
    }

    /// Replay one committed effect. Returns a description of a mismatch
    /// between what the effect claims and what the shadow predicts (only
    /// structural ops can disagree: whether the change was a no-op).
    pub fn apply(&mut self, op: OpId, effect: &Effect) -> Result<(), String> {
        let mut result = Ok(());
        match effect {
            Effect::Versioned => self.versions += 1,
            Effect::Modified { write, .. } => match *write {
                FieldWrite::Counter(v) => self.counter = v,
                FieldWrite::DataValue(v) => self.data_value = v,
                FieldWrite::Text(n) => self.text_content = Arc::from(text_value(n)),
            },
            Effect::Borrowed { field, value, .. } => {
                match (field, value) {
                    (BorrowField::Counter, Value::Int(v)) => self.counter = *v,
                    (BorrowField::Data, Value::Float(v)) => self.data_value = *v,
                    (BorrowField::Text, Value::Str(v)) => self.text_content = Arc::clone(v),
                    (f, v) => {
                        result = Err(format!(
                            "borrow into {f:?} recorded a value of another type: {v:?}"
                        ));
                    }
                }
                self.borrow_count += 1;
            }
            Effect::ComplexUpdate { data_value, at_us } => {
                self.counter += 1;
                self.data_value = *data_value;
                self.text_content = Arc::from(complex_text(self.counter, *at_us));
                self.timestamp_us = *at_us;
                self.version_count += 1;
                self.versions += 1;
            }
            Effect::Structural {
                op: kind, changed, ..
            } => {
                let (next, expect_change) = match (kind, self.placement) {
                    (OpType::PromoteToRoot, ShadowPlacement::Root) => {
                        (ShadowPlacement::Root, false)
                    }
                    (OpType::PromoteToRoot, _) => (ShadowPlacement::Root, true),
                    (_, ShadowPlacement::Orphan) => (ShadowPlacement::Orphan, false),
                    (_, _) => (ShadowPlacement::Orphan, true),
                };
                if expect_change != *changed {
                    result = Err(format!(
                        "{kind} on a {:?} target should {}be a no-op, the commit says changed={changed}",
                        self.placement,
                        if expect_change { "not " } else { "" }
                    ));
                }
                self.placement = next;
                if *changed {
                    self.versions += 1;
                }
            }
        }
        if let Some(entry) = history_entry(op, effect, self.counter) {
            self.history_len += 1;
            self.history_digest = crate::ecs::history_digest_step(self.history_digest, &entry);
        }
        result
    }

    /// Differences between this shadow and the store's live target.
    pub fn diff(&self, store: &Store, target: EntityId) -> Vec<String> {
        let mut out = Vec::new();
        let live = match Shadow::capture(store, target) {
            Ok(live) => live,
            Err(e) => return vec![format!("cannot read target: {e}")],
        };
        let mut cmp = |name: &str, want: String, got: String| {
            if want != got {
                out.push(format!("{name}: replay {want}, store {got}"));
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
        cmp(
            "versions",
            self.versions.to_string(),
            live.versions.to_string(),
        );
        cmp(
            "placement",
            format!("{:?}", self.placement),
            format!("{:?}", live.placement),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};
    use crate::harness::World;
    use crate::ops::{Priority, RetryBudgets};

    fn world() -> World {
        let config = parse_str(
            "num_targets = 2\nnum_sources = 2",
            "test",
            &Overrides::default(),
        )
        .unwrap_or_else(|e| panic!("test config: {e}"));
        World::build(&config, 7).unwrap_or_else(|e| panic!("world: {e}"))
    }

    fn op(id: u64, kind: OpKind) -> Op {
        let budgets = RetryBudgets {
            structural: 5,
            normal: 5,
            low_priority: 5,
        };
        Op::new(OpId(id), kind, Priority::HIGH, 0, &budgets, 0)
    }

    /// Everything observable about a target, for before/after comparisons.
    fn whole_state(store: &Store, e: EntityId) -> String {
        let schema = store.schema(e).unwrap_or_else(|err| panic!("{err}"));
        let mut s = String::new();
        for (name, _) in schema.fields() {
            s.push_str(&format!("{name}={:?};", store.field(e, name)));
        }
        s.push_str(&format!(
            "current={:?};versions={};lineage={:?};history={}/{:x};placement={:?};retained={:?}",
            store.current_id(e),
            store.version_count(e),
            store.lineage(e),
            store.history_len(e),
            store.history_digest(e),
            store.placement(e),
            store.history_retained(e),
        ));
        s
    }

    fn all_kinds(source: u32) -> Vec<OpKind> {
        vec![
            OpKind::VersionEntity,
            OpKind::ModifyField(FieldWrite::Counter(42)),
            OpKind::ModifyField(FieldWrite::DataValue(2.5)),
            OpKind::ModifyField(FieldWrite::Text(9)),
            OpKind::BorrowAttribute {
                source,
                field: BorrowField::Counter,
            },
            OpKind::BorrowAttribute {
                source,
                field: BorrowField::Data,
            },
            OpKind::BorrowAttribute {
                source,
                field: BorrowField::Text,
            },
            OpKind::ComplexUpdate { data_value: 12.5 },
            OpKind::PromoteToRoot,
            OpKind::PromoteToRoot,
            OpKind::DetachEntity,
            OpKind::DetachEntity,
        ]
    }

    #[test]
    fn an_injected_failure_at_any_step_leaves_the_target_exactly_as_before() {
        let mut w = world();
        let target = EntityId(0);
        for kind in all_kinds(w.first_source) {
            for step in 1..=steps(&kind) {
                let before = whole_state(&w.store, target);
                let fault = Some(Fault { step, panic: false });
                let result = execute(&mut w.store, &op(1, kind), 1_000, fault, false);
                assert_eq!(
                    result.err(),
                    Some(FailReason::InjectedFault { step }),
                    "{kind:?} at step {step}"
                );
                assert_eq!(
                    whole_state(&w.store, target),
                    before,
                    "{kind:?} failed at step {step}"
                );
            }
        }
    }

    #[test]
    fn a_panic_inside_complex_update_is_contained_and_leaves_no_trace() {
        let mut w = world();
        let target = EntityId(0);
        let before = whole_state(&w.store, target);
        let kind = OpKind::ComplexUpdate { data_value: 3.0 };
        for step in 1..=steps(&kind) {
            let store = &mut w.store;
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                execute(
                    store,
                    &op(2, kind),
                    5,
                    Some(Fault { step, panic: true }),
                    false,
                )
            }));
            let payload = caught
                .err()
                .unwrap_or_else(|| panic!("step {step} did not panic"));
            assert!(payload.downcast_ref::<InjectedPanic>().is_some());
            assert_eq!(
                whole_state(&w.store, target),
                before,
                "panic at step {step}"
            );
        }
    }

    #[test]
    fn the_leaking_executor_of_the_tests_really_leaks() {
        // The deliberately broken executor must change the store, or the
        // test proving replay catches it would prove nothing.
        let mut w = world();
        let target = EntityId(0);
        let before = whole_state(&w.store, target);
        let fault = Some(Fault {
            step: 1,
            panic: false,
        });
        let result = execute(&mut w.store, &op(3, OpKind::VersionEntity), 1, fault, true);
        assert!(result.is_err());
        assert_ne!(whole_state(&w.store, target), before);
    }

    #[test]
    fn committed_effects_replayed_on_a_shadow_reproduce_the_store() {
        let mut w = world();
        let target = EntityId(0);
        let mut shadow = w.shadows[0].clone();
        for (i, kind) in all_kinds(w.first_source).into_iter().enumerate() {
            let done = execute(
                &mut w.store,
                &op(10 + i as u64, kind),
                100 + i as i64,
                None,
                false,
            )
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            shadow
                .apply(OpId(10 + i as u64), &done.effect)
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(
                shadow.diff(&w.store, target),
                Vec::<String>::new(),
                "after {kind:?}"
            );
        }
        // Real work happened: fields, versions, structure and history.
        // counter: 42, then borrowed from the source, then +1 by the
        // complex update.
        let borrowed = w
            .store
            .field(EntityId(w.first_source), "source_counter")
            .ok();
        let expected = match borrowed {
            Some(Value::Int(c)) => Value::Int(c + 1),
            other => panic!("source_counter: {other:?}"),
        };
        assert_eq!(w.store.field(target, "counter").ok(), Some(expected));
        assert!(w.store.version_count(target) >= 4);
        assert_eq!(shadow.placement, ShadowPlacement::Orphan);
        assert_eq!(w.store.history_len(target), 11);
    }

    #[test]
    fn the_shadow_notices_a_write_nobody_committed() {
        let mut w = world();
        let target = EntityId(0);
        let shadow = w.shadows[0].clone();
        let addr = format!(
            "@{}.counter",
            w.store.current_id(target).unwrap_or_default()
        );
        w.store
            .put(&addr, Value::Int(777))
            .unwrap_or_else(|e| panic!("{e}"));
        let diff = shadow.diff(&w.store, target);
        assert_eq!(diff.len(), 1, "{diff:?}");
        assert!(
            diff[0].starts_with("counter: replay 0, store 777"),
            "{diff:?}"
        );
    }

    #[test]
    fn structural_ops_change_structure_and_version_the_parent_they_leave() {
        let mut w = world();
        let target = EntityId(0);
        let parent = match w.store.placement(target) {
            Placement::Child { parent, .. } => parent,
            other => panic!("targets start as children, got {other:?}"),
        };
        let parent_versions = w.store.version_count(parent);
        let done = execute(&mut w.store, &op(1, OpKind::PromoteToRoot), 1, None, false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(w.store.placement(target), Placement::Root { .. }));
        let entities: Vec<EntityId> = done.versions.iter().map(|v| v.entity).collect();
        assert_eq!(entities, vec![target, parent]);
        assert_eq!(w.store.version_count(parent), parent_versions + 1);
        // Again: already a root, a no-op that creates no version.
        let again = execute(&mut w.store, &op(2, OpKind::PromoteToRoot), 2, None, false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(again.versions.is_empty());
        assert!(matches!(
            again.effect,
            Effect::Structural { changed: false, .. }
        ));
    }
}
