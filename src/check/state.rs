//! The checks that run after the drain, over the final state.
//!
//! They combine three independent sources: the engine's counters, what the
//! online [`Checker`] saw in the event stream (per-op final states, the
//! replayed shadows, the version chains), and the store itself. Each check
//! returns a [`CheckResult`] with its figures, or the first violations.

use super::Violations;
use super::online::Checker;
use crate::ecs::{EntityId, Store};
use crate::events::Continuity;
use crate::metrics::{CounterSnapshot, Metrics};
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// Everything the final checks look at.
pub struct FinalState<'a> {
    pub store: &'a Store,
    pub checker: &'a Checker,
    pub counters: CounterSnapshot,
    pub metrics: &'a Metrics,
    pub continuity: &'a Continuity,
    /// Events the publishers numbered in total.
    pub published: u64,
    pub num_targets: u32,
}

/// Run all nine checks; results in [`CheckId::ALL`] order.
pub fn run_all(s: &FinalState<'_>) -> Vec<CheckResult> {
    let c = s.checker;
    let results = vec![
        accounting(s),
        c.legal.result(format!(
            "{} ops followed the lifecycle through {} events",
            count(s.counters.submitted),
            count(s.continuity.received)
        )),
        c.exclusive.result(format!(
            "{} starts, never two executing on one target",
            count(s.counters.started)
        )),
        c.priority.result(format!(
            "{} conflicts and {} rejections checked",
            count(c.resolutions_checked),
            count(c.rejections_checked)
        )),
        c.grace_rule.result(format!(
            "{} grace saves and {} preemptions checked",
            count(c.grace_saves_checked),
            count(c.preemptions_checked)
        )),
        replay(s),
        versions(s),
        trees(s),
        events(s),
    ];
    debug_assert!(results.iter().map(|r| r.id).eq(CheckId::ALL));
    results
}

fn accounting(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::new(CheckId::Accounting);
    let c = s.counters;
    let t = s.checker.terminals;
    let settled = c.settled();
    if c.submitted != settled {
        v.push(|| {
            format!(
                "submitted {} != succeeded {} + rejected {} + cancelled {} ({} unaccounted)",
                c.submitted,
                c.succeeded,
                c.rejected,
                c.cancelled,
                c.submitted as i128 - settled as i128
            )
        });
    }
    if s.checker.submitted != c.submitted {
        v.push(|| {
            format!(
                "the engine counted {} submissions, the observer saw {}",
                c.submitted, s.checker.submitted
            )
        });
    }
    for (name, engine, seen) in [
        ("succeeded", c.succeeded, t.succeeded),
        ("rejected", c.rejected, t.rejected),
        ("cancelled", c.cancelled, t.cancelled),
    ] {
        if engine != seen {
            v.push(|| format!("the engine counted {engine} {name}, the per-op records say {seen}"));
        }
    }
    let m = s.metrics;
    // The engine's transient counters against the same figures rebuilt
    // from the event stream: a counter never incremented cannot hide.
    for (name, engine, seen) in [
        ("starts", c.started, m.started),
        ("retries", c.retried, m.retries),
        ("preemptions", c.preempted, m.preemptions),
        ("grace saves", c.grace_saves, m.grace_saves),
        ("conflicts", c.conflicts, m.conflicts),
    ] {
        if engine != seen {
            v.push(|| format!("the engine counted {engine} {name}, the event stream shows {seen}"));
        }
    }
    let by_type: u64 = m.by_type.iter().map(|t| t.succeeded).sum();
    if by_type != t.succeeded {
        v.push(|| {
            format!(
                "per-type succeeded counts sum to {by_type}, the per-op records say {}",
                t.succeeded
            )
        });
    }
    for (id, target, state) in s.checker.active_sample(super::MAX_DESCRIBED) {
        v.push(|| {
            format!("{id} on target {target} never reached a final state (last seen {state:?})")
        });
    }
    // Described above up to the limit; count the rest.
    v.count += (s.checker.active() as u64).saturating_sub(super::MAX_DESCRIBED as u64);
    v.result(
        format!(
            "{} submitted = {} succeeded + {} rejected + {} cancelled; 0 in flight; engine, per-op records and metrics agree",
            count(c.submitted),
            count(t.succeeded),
            count(t.rejected),
            count(t.cancelled)
        ),
    )
}

fn replay(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::new(CheckId::Replay);
    for (i, shadow) in s.checker.shadows().iter().enumerate() {
        for diff in shadow.diff(s.store, EntityId(i as u32)) {
            v.push(|| format!("target {i}: {diff}"));
        }
    }
    // Violations found online (effects that contradict the shadow).
    let online = &s.checker.replay;
    v.count += online.count;
    for d in &online.first {
        if v.first.len() < super::MAX_DESCRIBED {
            v.first.push(d.clone());
        }
    }
    v.result(format!(
        "{} commits replayed on shadow copies of {} targets reproduce the store exactly",
        count(s.checker.commits_replayed),
        count(u64::from(s.num_targets))
    ))
}

fn versions(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::new(CheckId::Versions);
    let online = &s.checker.versions;
    v.count += online.count;
    v.first.extend(online.first.iter().cloned());
    let mut created_total = 0u64;
    // Every entity that was versioned during the run: the store's lineage
    // length must be its initial version plus every version seen.
    for (entity, created, last_number) in s.checker.chains() {
        created_total += created;
        let e = EntityId(entity);
        let have = s.store.version_count(e);
        if have != last_number || have != 1 + created {
            v.push(|| {
                format!(
                    "entity {entity}: lineage has {have} versions, events show 1 + {created} created (last number {last_number})"
                )
            });
        }
    }
    // Targets: the replayed count of version-creating commits.
    for (i, shadow) in s.checker.shadows().iter().enumerate() {
        let e = EntityId(i as u32);
        let have = s.store.version_count(e);
        if have != shadow.versions {
            v.push(|| {
                format!(
                    "target {i}: lineage has {have} versions, committed version-creating ops imply {}",
                    shadow.versions
                )
            });
        }
    }
    // Every other entity (sources, group roots no commit moved) was never
    // versioned during the run: its lineage is still the initial version.
    let versioned: rustc_hash::FxHashSet<u32> = s.checker.chains().map(|(e, _, _)| e).collect();
    for i in s.num_targets as usize..s.store.len() {
        let e = EntityId(i as u32);
        let have = s.store.version_count(e);
        if have != 1 && !versioned.contains(&(i as u32)) {
            v.push(|| {
                format!("entity {i}: lineage has {have} versions, but no commit versioned it")
            });
        }
    }
    // Chains and immutability of every retained old version.
    let mut audited = 0u64;
    for i in 0..s.store.len() {
        let e = EntityId(i as u32);
        audited += 1;
        if let Err(problems) = s.store.audit_lineage(e) {
            for p in problems {
                v.push(|| format!("entity {i}: {p}"));
            }
        }
    }
    v.result(
        format!(
            "{} versions created; lineage lengths match the commits; previous_ecs_id chains and old versions of {} entities intact",
            count(created_total),
            count(audited)
        ),
    )
}

fn trees(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::new(CheckId::Trees);
    let figures = match s.store.check_trees() {
        Ok(stats) => format!(
            "{} trees, {} children, {} orphans; one root each, no cycles, index agrees",
            count(stats.trees as u64),
            count(stats.children as u64),
            count(stats.orphans as u64)
        ),
        Err(problems) => {
            let n = problems.len();
            for p in problems {
                v.push(|| p);
            }
            format!("{} tree invariant problems", count(n as u64))
        }
    };
    v.result(figures)
}

fn events(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::new(CheckId::Events);
    let k = s.continuity;
    if k.lost > 0 || k.gaps > 0 {
        v.push(|| {
            format!(
                "{} events lost between the engine and the observer ({} gaps)",
                k.lost, k.gaps
            )
        });
    }
    if k.received + k.lost != s.published {
        v.push(|| {
            format!(
                "publishers numbered {} events, the observer received {}",
                s.published, k.received
            )
        });
    }
    if s.checker.active() > 0 {
        let n = s.checker.active();
        v.push(|| format!("the observer did not see the whole life of {n} ops"));
    }
    v.result(
        format!(
            "{} events received in order from every publisher, none lost; every op seen from submission to its final state",
            count(k.received)
        ),
    )
}

#[cfg(test)]
mod tests {
    //! Each final-state check is shown to catch the fault it exists for.
    //!
    //! A run in miniature: the store built by the run's own setup, ops
    //! executed by the real executor, and the events the harness publishes
    //! for them fed to the same observers (online checker, metrics,
    //! continuity). The honest run passes all nine checks; each test then
    //! injects one fault and asserts that its check — and, where the fault
    //! is not visible to them, only its check — fails.

    use super::*;
    use crate::config::parse_str;
    use crate::ecs::Value;
    use crate::events::{Decision, Event, EventBatch, EventKind, RejectReason};
    use crate::harness::World;
    use crate::ops::exec::{Fault, execute};
    use crate::ops::{
        BorrowField, FailReason, FieldWrite, Op, OpId, OpKind, OpState, RetryBudgets,
    };
    use crate::ops::{OpType, Priority};

    /// Publisher id of the events this miniature run emits.
    const PUBLISHER: u16 = 0;

    struct Run {
        store: Store,
        checker: Checker,
        metrics: Metrics,
        counters: CounterSnapshot,
        continuity: Continuity,
        published: u64,
        num_targets: u32,
        first_source: u32,
        /// Store index of the first group root.
        first_group: u32,
        next_op: u64,
        t_ns: u64,
        /// Emitted, not yet flushed to the continuity check.
        buffered: Vec<Event>,
    }

    impl Run {
        fn new() -> Run {
            let config = parse_str("num_targets = 3", "test", &Default::default()).unwrap();
            let world = World::build(&config, 7).unwrap();
            Run {
                store: world.store,
                checker: Checker::new(config.grace_period, world.shadows),
                metrics: Metrics::default(),
                counters: CounterSnapshot::default(),
                continuity: Continuity::default(),
                published: 0,
                num_targets: config.num_targets,
                first_source: world.first_source,
                first_group: config.num_targets,
                next_op: 1,
                t_ns: 1_000,
                buffered: Vec::new(),
            }
        }

        /// Publish one event about `op` (or, for versions, about
        /// `entity`) to the observers.
        fn emit_on(&mut self, op: &Op, entity: u32, kind: EventKind) {
            self.t_ns += 1_000;
            let ev = Event {
                t_ns: self.t_ns,
                op: op.id,
                target: entity,
                op_type: op.op_type(),
                priority: op.priority,
                kind,
            };
            self.checker.observe(&ev);
            self.metrics.observe(&ev);
            self.buffered.push(ev);
        }

        fn emit(&mut self, op: &Op, kind: EventKind) {
            self.emit_on(op, op.target, kind);
        }

        /// Deliver the buffered events as one complete batch.
        fn flush(&mut self) {
            let events = std::mem::take(&mut self.buffered);
            let numbered = events.len() as u64;
            self.continuity.observe(&EventBatch {
                publisher: PUBLISHER,
                first_seq: self.published,
                numbered,
                events,
            });
            self.published += numbered;
        }

        fn submit(&mut self, target: u32, kind: OpKind, priority: u8, budget: u32) -> Op {
            let priority = Priority::new(priority).unwrap();
            let budgets = RetryBudgets {
                structural: budget,
                normal: budget,
                low_priority: budget,
            };
            let op = Op::new(
                OpId(self.next_op),
                kind,
                priority,
                target,
                &budgets,
                self.t_ns,
            );
            let class = op.class;
            self.next_op += 1;
            self.counters.submitted += 1;
            self.emit(
                &op,
                EventKind::OperationSubmitted {
                    effective: priority,
                    class,
                    parent: None,
                    budget,
                    batch_size: 1,
                },
            );
            op
        }

        fn start(&mut self, op: &Op) {
            self.counters.started += 1;
            self.emit(op, EventKind::OperationStarted { attempt: 1 });
        }

        /// Execute a started op for real and publish what the driver
        /// publishes for a commit.
        fn commit(&mut self, op: &Op) {
            let at_us = 1_700_000_000_000_000 + self.t_ns as i64;
            let executed = execute(&mut self.store, op, at_us, None, false).unwrap();
            self.counters.succeeded += 1;
            self.emit(
                op,
                EventKind::OperationCompleted {
                    execution_ns: 2_000,
                    end_to_end_ns: 5_000,
                    effect: executed.effect,
                },
            );
            if !executed.fields.is_empty() {
                self.emit(
                    op,
                    EventKind::EntityModified {
                        fields: executed.fields,
                    },
                );
            }
            for v in executed.versions {
                self.emit_on(
                    op,
                    v.entity.0,
                    EventKind::EntityVersioned {
                        ecs_id: v.ecs_id,
                        previous: v.previous,
                        number: v.number,
                    },
                );
            }
        }

        /// Submit, start and commit one uncontested op.
        fn run(&mut self, target: u32, kind: OpKind) {
            let op = self.submit(target, kind, 5, 5);
            self.start(&op);
            self.commit(&op);
        }

        /// Submit ops to one target at once: the first highest priority
        /// wins and commits, the others are rejected for it.
        fn contest(&mut self, target: u32, ops: &[(OpKind, u8)]) {
            let ops: Vec<Op> = ops
                .iter()
                .map(|&(kind, p)| self.submit(target, kind, p, 5))
                .collect();
            let Some(winner) = ops
                .iter()
                .min_by_key(|o| (std::cmp::Reverse(o.effective), o.id))
            else {
                return;
            };
            let winner = winner.clone();
            self.emit(
                &winner,
                EventKind::OperationConflict {
                    pending: ops.iter().map(|o| o.id).collect(),
                    executing: None,
                    decision: Decision::Start,
                    resolution_ns: 800,
                },
            );
            self.counters.conflicts += 1;
            for loser in ops.iter().filter(|o| o.id != winner.id) {
                self.counters.rejected += 1;
                self.emit(
                    loser,
                    EventKind::OperationRejected {
                        from: OpState::Pending,
                        reason: RejectReason::Outranked { winner: winner.id },
                        retries: 0,
                    },
                );
            }
            self.start(&winner);
            self.commit(&winner);
        }

        fn state(&self) -> FinalState<'_> {
            FinalState {
                store: &self.store,
                checker: &self.checker,
                counters: self.counters,
                metrics: &self.metrics,
                continuity: &self.continuity,
                published: self.published,
                num_targets: self.num_targets,
            }
        }

        fn results(&self) -> Vec<CheckResult> {
            run_all(&self.state())
        }

        /// The current ecs_id of entity `e`, as an address prefix.
        fn address(&self, e: u32, field: &str) -> String {
            crate::ecs::address(self.store.current_id(EntityId(e)).unwrap(), field)
        }
    }

    /// Every op type, a conflict, a structural change of each kind and a
    /// structural no-op, on three targets in two group trees.
    fn honest() -> Run {
        let mut r = Run::new();
        r.contest(
            0,
            &[
                (OpKind::ModifyField(FieldWrite::Counter(41)), 2),
                (OpKind::ModifyField(FieldWrite::Counter(42)), 10),
                (OpKind::VersionEntity, 5),
                (OpKind::ModifyField(FieldWrite::Counter(43)), 10),
            ],
        );
        r.run(1, OpKind::ComplexUpdate { data_value: 12.5 });
        let source = r.first_source;
        r.run(
            2,
            OpKind::BorrowAttribute {
                source,
                field: BorrowField::Counter,
            },
        );
        r.run(0, OpKind::VersionEntity);
        r.run(1, OpKind::PromoteToRoot);
        r.run(2, OpKind::DetachEntity);
        r.run(0, OpKind::ModifyField(FieldWrite::Text(7)));
        r.run(2, OpKind::DetachEntity);
        r.run(1, OpKind::ComplexUpdate { data_value: 3.0 });
        r.flush();
        r
    }

    fn check<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
        results.iter().find(|c| c.id.name() == name).unwrap()
    }

    /// `failing` failed (with a detail containing every one of `says`)
    /// and every check not in `also` passed.
    fn assert_caught(results: &[CheckResult], failing: &str, says: &[&str], also: &[&str]) {
        let c = check(results, failing);
        assert!(!c.passed, "{failing} passed: {}", c.detail);
        assert!(c.violations > 0, "{failing} failed without a violation");
        let described = c.describe();
        for s in says {
            assert!(
                described.contains(s),
                "{failing} violations {described:?} lack {s:?}"
            );
        }
        for r in results {
            if r.id.name() != failing && !also.contains(&r.id.name()) {
                assert!(r.passed, "{} failed too: {}", r.id.name(), r.describe());
            }
        }
    }

    #[test]
    fn the_honest_run_passes_all_nine_checks() {
        let r = honest();
        let results = r.results();
        let ids: Vec<CheckId> = results.iter().map(|c| c.id).collect();
        assert_eq!(ids, CheckId::ALL);
        for c in &results {
            assert!(c.passed, "{}: {}", c.id.name(), c.describe());
            assert_eq!(c.violations, 0, "{}", c.id.name());
        }
        // The run did what it claims: every type committed, versions and
        // structure really changed.
        assert_eq!(r.counters.submitted, 12);
        assert_eq!(r.counters.succeeded, 9);
        assert_eq!(r.counters.rejected, 3);
        assert!(r.metrics.by_type.iter().all(|t| t.succeeded > 0));
        assert_eq!(r.metrics.structural_changes, 2);
        assert_eq!(r.metrics.structural_noops, 1);
        assert_eq!(r.checker.commits_replayed, 9);
        assert!(
            check(&results, "versions")
                .detail
                .contains("versions created")
        );
        assert!(
            check(&results, "accounting")
                .detail
                .contains("12 submitted = 9 succeeded + 3 rejected + 0 cancelled")
        );
    }

    #[test]
    fn counters_that_disagree_with_the_per_op_records_fail_accounting() {
        let mut r = honest();
        r.counters.succeeded += 1;
        let results = r.results();
        assert_caught(
            &results,
            "accounting",
            &[
                "the engine counted 10 succeeded, the per-op records say 9",
                "submitted 12 != succeeded 10 + rejected 3 + cancelled 0 (-1 unaccounted)",
            ],
            &[],
        );
    }

    #[test]
    fn a_transient_counter_never_incremented_fails_accounting() {
        // The original never incremented its grace-save, protected and
        // failed counters; here the engine forgets to count its conflicts.
        let mut r = honest();
        assert!(r.counters.conflicts > 0);
        r.counters.conflicts = 0;
        let results = r.results();
        assert_caught(
            &results,
            "accounting",
            &["the engine counted 0 conflicts, the event stream shows 1"],
            &[],
        );
    }

    #[test]
    fn per_type_counts_that_disagree_with_the_per_op_records_fail_accounting() {
        let mut r = honest();
        r.metrics.by_type[OpType::DetachEntity.index()].succeeded += 1;
        assert_caught(
            &r.results(),
            "accounting",
            &["per-type succeeded counts sum to 10, the per-op records say 9"],
            &[],
        );
    }

    #[test]
    fn an_op_that_never_reached_a_final_state_fails_accounting_and_events() {
        let mut r = honest();
        let stuck = r.submit(1, OpKind::VersionEntity, 8, 5);
        r.start(&stuck);
        r.flush();
        let results = r.results();
        assert_caught(
            &results,
            "accounting",
            &[
                &format!("{} on target 1 never reached a final state", stuck.id),
                "Executing",
                "(1 unaccounted)",
            ],
            &["events"],
        );
        assert_caught(
            &results,
            "events",
            &["did not see the whole life of 1 ops"],
            &["accounting"],
        );
    }

    #[test]
    fn a_write_no_committed_op_recorded_fails_replay() {
        let mut r = honest();
        let address = r.address(0, "counter");
        r.store.put(&address, Value::Int(777)).unwrap();
        assert_caught(
            &r.results(),
            "replay",
            &["target 0: counter: replay 42, store 777"],
            &[],
        );
    }

    #[test]
    fn a_leaked_history_entry_fails_replay() {
        let mut r = honest();
        r.store
            .append_history(EntityId(2), "leaked partial write")
            .unwrap();
        assert_caught(
            &r.results(),
            "replay",
            &[
                "target 2: history length: replay 3, store 4",
                "history digest",
            ],
            &[],
        );
    }

    #[test]
    fn a_non_atomic_executor_is_caught_by_replay() {
        // The executor's own broken mode: an attempt that fails part-way
        // leaves its history entry behind.
        let mut r = honest();
        let op = r.submit(0, OpKind::ModifyField(FieldWrite::Counter(5)), 5, 0);
        r.start(&op);
        let fault = Fault {
            step: 1,
            panic: false,
        };
        let reason = execute(&mut r.store, &op, 1, Some(fault), true).unwrap_err();
        assert_eq!(reason, FailReason::InjectedFault { step: 1 });
        r.counters.failed_attempts += 1;
        r.emit(&op, EventKind::OperationFailed { reason, attempt: 1 });
        r.counters.rejected += 1;
        r.emit(
            &op,
            EventKind::OperationRejected {
                from: OpState::Failed,
                reason: RejectReason::BudgetSpent,
                retries: 0,
            },
        );
        r.flush();
        assert_caught(&r.results(), "replay", &["target 0: history length"], &[]);
    }

    #[test]
    fn the_same_failed_attempt_without_the_leak_passes_replay() {
        let mut r = honest();
        let op = r.submit(0, OpKind::ComplexUpdate { data_value: 1.0 }, 5, 0);
        r.start(&op);
        let fault = Fault {
            step: 4,
            panic: false,
        };
        let reason = execute(&mut r.store, &op, 1, Some(fault), false).unwrap_err();
        r.counters.failed_attempts += 1;
        r.emit(&op, EventKind::OperationFailed { reason, attempt: 1 });
        r.counters.rejected += 1;
        r.emit(
            &op,
            EventKind::OperationRejected {
                from: OpState::Failed,
                reason: RejectReason::BudgetSpent,
                retries: 0,
            },
        );
        r.flush();
        for c in r.results() {
            assert!(c.passed, "{}: {}", c.id.name(), c.describe());
        }
    }

    #[test]
    fn an_unrecorded_version_of_a_target_fails_versions_and_replay() {
        let mut r = honest();
        r.store.version_entity(EntityId(0), true).unwrap();
        let results = r.results();
        assert_caught(
            &results,
            "versions",
            &[
                "entity 0: lineage has 3 versions, events show 1 + 1 created",
                "target 0: lineage has 3 versions, committed version-creating ops imply 2",
            ],
            &["replay"],
        );
        // The replay models the lineage length too.
        assert_caught(
            &results,
            "replay",
            &["target 0: versions: replay 2, store 3"],
            &["versions"],
        );
    }

    #[test]
    fn an_unrecorded_version_of_a_group_root_fails_versions_alone() {
        let mut r = honest();
        // Target 1 left the group tree of root `first_group + 1` when it
        // was promoted, which versioned that root once.
        let root = r.first_group + 1;
        assert_eq!(r.store.version_count(EntityId(root)), 2);
        r.store.version_entity(EntityId(root), true).unwrap();
        assert_caught(
            &r.results(),
            "versions",
            &[&format!(
                "entity {root}: lineage has 3 versions, events show 1 + 1 created"
            )],
            &[],
        );
    }

    #[test]

    fn an_unrecorded_version_of_an_entity_no_commit_touched_fails_versions() {
        let mut r = honest();
        let source = r.first_source;
        assert_eq!(r.store.version_count(EntityId(source)), 1);
        r.store.version_entity(EntityId(source), true).unwrap();
        assert_caught(
            &r.results(),
            "versions",
            &[&format!("entity {source}: lineage has 2 versions")],
            &[],
        );
    }

    #[test]
    fn an_old_version_that_changed_fails_versions() {
        let mut r = honest();
        r.store.debug_corrupt_version(EntityId(1));
        assert_caught(
            &r.results(),
            "versions",
            &["entity 1:", "changed after it was created"],
            &[],
        );
    }

    #[test]
    fn a_tree_index_that_disagrees_with_the_links_fails_trees() {
        let mut r = honest();
        r.store.debug_corrupt_tree_index(EntityId(0));
        assert_caught(&r.results(), "trees", &["tree index says entity #0"], &[]);
    }

    #[test]
    fn a_batch_that_lost_an_event_fails_events() {
        let mut r = honest();
        // One more batch in which the publisher numbered two events but
        // only one arrived.
        let op = r.submit(2, OpKind::VersionEntity, 5, 5);
        r.start(&op);
        r.commit(&op);
        let mut events = std::mem::take(&mut r.buffered);
        let numbered = events.len() as u64;
        events.truncate(1);
        r.continuity.observe(&EventBatch {
            publisher: PUBLISHER,
            first_seq: r.published,
            numbered,
            events,
        });
        r.published += numbered;
        assert_caught(
            &r.results(),
            "events",
            &[&format!("{} events lost", numbered - 1), "(0 gaps)"],
            &[],
        );
    }

    #[test]
    fn a_batch_that_skipped_sequence_numbers_fails_events() {
        let mut r = honest();
        let op = r.submit(2, OpKind::VersionEntity, 5, 5);
        r.start(&op);
        r.commit(&op);
        let events = std::mem::take(&mut r.buffered);
        let numbered = events.len() as u64;
        // A whole batch of 3 events vanished before this one.
        r.published += 3;
        r.continuity.observe(&EventBatch {
            publisher: PUBLISHER,
            first_seq: r.published,
            numbered,
            events,
        });
        r.published += numbered;
        assert_caught(
            &r.results(),
            "events",
            &["3 events lost between the engine and the observer (1 gaps)"],
            &[],
        );
    }

    #[test]
    fn more_events_published_than_received_fails_events() {
        let mut r = honest();
        let received = r.continuity.received;
        r.published += 1;
        assert_caught(
            &r.results(),
            "events",
            &[&format!(
                "publishers numbered {} events, the observer received {received}",
                received + 1
            )],
            &[],
        );
    }
}
