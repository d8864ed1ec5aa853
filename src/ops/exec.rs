//! Executing an op: one attempt, one transaction on the store.
//!
//! [`execute`] hands the op to its type's module (`ops::kind`), which
//! stages every write of the op in a [`Txn`] and commits once at the end:
//! either all of the op's effects become visible or none do. An injected
//! fault aborts the transaction after some of its writes were staged
//! (dropping a `Txn` rolls it back); an injected panic does the same by
//! unwinding through it — the caller catches the panic. `Attempt` is what
//! every type's transaction shares: the fault to inject, the step count,
//! the history entry's tail and the commit.
//!
//! The replay that proves the store right lives in [`Shadow`], re-exported
//! here with the text helpers it shares with the executor.

use crate::ecs::{EcsError, EntityId, Entry, Store, Txn, Value, VersionCreated, What};
use crate::events::Effect;
use crate::ops::{FailReason, Op, OpId, OpKind};

#[cfg(test)]
pub(crate) use crate::ops::shadow::Shadow;

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
pub(crate) struct InjectedPanic;

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
pub(crate) fn steps(kind: &OpKind) -> u8 {
    kind.steps()
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
    let mut attempt = Attempt {
        op: op.id,
        target: EntityId(op.target),
        at_us,
        staged: 0,
        fault,
        began: false,
    };
    let result = op.kind.execute(store, &mut attempt);
    if result.is_err() && attempt.began && leak {
        let entry = format!("leaked partial write {} t={at_us}", op.id);
        let _ = store.append_history(attempt.target, &entry);
    }
    result
}

/// One execution attempt of one op: what every type's transaction needs
/// besides the op's parameters. Its methods are the only places a fault
/// can strike.
#[derive(Debug)]
pub(crate) struct Attempt {
    op: OpId,
    target: EntityId,
    /// Commit time, wall-clock microseconds.
    at_us: i64,
    /// Writes staged so far.
    staged: u8,
    fault: Option<Fault>,
    /// Whether the transaction began (the broken executor of the tests
    /// leaks only from a transaction it rolled back).
    began: bool,
}

impl Attempt {
    /// The commit time, wall-clock microseconds.
    pub(crate) fn at_us(&self) -> i64 {
        self.at_us
    }

    /// Begin the transaction on the op's target.
    pub(crate) fn begin<'s>(&mut self, store: &'s mut Store) -> Result<Txn<'s>, FailReason> {
        let txn = store.begin(self.target).map_err(store_err)?;
        self.began = true;
        Ok(txn)
    }

    /// Count one staged write; the injected fault strikes here once its
    /// step is reached.
    pub(crate) fn staged(&mut self) -> Result<(), FailReason> {
        self.staged += 1;
        match self.fault {
            Some(f) if f.step <= self.staged => {
                if f.panic {
                    std::panic::panic_any(InjectedPanic);
                }
                Err(FailReason::InjectedFault { step: self.staged })
            }
            _ => Ok(()),
        }
    }

    /// Stage a write of a target field, one step.
    pub(crate) fn set(
        &mut self,
        txn: &mut Txn<'_>,
        field: &str,
        value: Value,
    ) -> Result<(), FailReason> {
        txn.set(field, value).map_err(store_err)?;
        self.staged()
    }

    /// Stage the op's history entry, one step: `what` the op did, then the
    /// op and the commit time.
    pub(crate) fn history(&mut self, txn: &mut Txn<'_>, what: What) -> Result<(), FailReason> {
        txn.append_entry(Entry::op(what, self.op.0, self.at_us));
        self.staged()
    }

    /// Commit everything staged.
    pub(crate) fn commit(
        &self,
        txn: Txn<'_>,
        effect: Effect,
        fields: &'static [&'static str],
    ) -> Executed {
        Executed {
            effect,
            versions: txn.commit().versions,
            fields,
        }
    }
}

/// Any store error fails the attempt (the workload never provokes one).
pub(crate) fn store_err(_: EcsError) -> FailReason {
    FailReason::Store
}

/// An int field of the target as the transaction sees it.
pub(crate) fn int_field(txn: &Txn<'_>, field: &str) -> Result<i64, FailReason> {
    match txn.get(field).map_err(store_err)? {
        Value::Int(i) => Ok(i),
        _ => Err(FailReason::Store),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};
    use crate::ecs::Placement;
    use crate::harness::World;
    use crate::ops::shadow::ShadowPlacement;
    use crate::ops::{BorrowField, FieldWrite, Priority, RetryBudgets};

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
    fn a_fault_past_the_last_step_never_strikes() {
        // With the test above, pins each type's step count exactly: every
        // step up to it can fail, and no type counts a step past it.
        let mut w = world();
        for (i, kind) in all_kinds(w.first_source).into_iter().enumerate() {
            let fault = Some(Fault {
                step: steps(&kind) + 1,
                panic: true,
            });
            let result = execute(&mut w.store, &op(i as u64, kind), 1_000, fault, false);
            assert!(result.is_ok(), "{kind:?}: {result:?}");
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
        let mut shadow = Shadow::capture(&w.store, target).unwrap_or_else(|e| panic!("{e}"));
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
        let shadow = Shadow::capture(&w.store, target).unwrap_or_else(|e| panic!("{e}"));
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
