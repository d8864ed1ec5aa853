//! Each check shown to catch the fault it exists for, in a run in
//! miniature.
//!
//! The store is built by the run's own setup, ops are executed by the real
//! executor, and the events the harness publishes for them are fed to the
//! same observers (online checker, metrics, continuity). The honest run
//! passes every check; each test then injects one fault and asserts that
//! its check — and, where the fault is not visible to them, only its
//! check — fails.

use dynstress::check::CheckConfig;
use dynstress::check::online::Checker;
use dynstress::check::state::{FinalState, run_all};
use dynstress::config::parse_str;
use dynstress::ecs::Value;
use dynstress::ecs::{EntityId, Store};
use dynstress::events::Continuity;
use dynstress::events::{Decision, Event, EventBatch, EventKind, RejectReason};
use dynstress::harness::World;
use dynstress::metrics::{Metrics, Tally};
use dynstress::ops::exec::{Fault, execute};
use dynstress::ops::{
    BorrowField, FailReason, FieldWrite, Op, OpId, OpKind, OpState, RetryBudgets,
};
use dynstress::ops::{OpType, Priority};
use dynstress::report::model::{CheckId, CheckResult};

/// Publisher id of the events this miniature run emits.
const PUBLISHER: u16 = 0;

struct Run {
    store: Store,
    checker: Checker,
    metrics: Metrics,
    counters: Tally,
    continuity: Continuity,
    published: u64,
    num_targets: u32,
    /// Whether every in-flight permit came back (the drain's ledger).
    permits_returned: bool,
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
        let config = parse_str(
            "num_targets = 3\n[faults]\nfailure_probability = 0.1",
            "test",
            &Default::default(),
        )
        .unwrap();
        let world = World::build(&config, 7).unwrap();
        let checker = Checker::new(CheckConfig::of(&config), &world.store, config.num_targets);
        Run {
            store: world.store,
            checker,
            metrics: Metrics::default(),
            counters: Tally::default(),
            continuity: Continuity::default(),
            published: 0,
            num_targets: config.num_targets,
            permits_returned: true,
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
            permits_returned: self.permits_returned,
        }
    }

    fn results(&self) -> Vec<CheckResult> {
        run_all(&self.state())
    }

    /// The current ecs_id of entity `e`, as an address prefix.
    fn address(&self, e: u32, field: &str) -> String {
        dynstress::ecs::address(self.store.current_id(EntityId(e)).unwrap(), field)
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
    assert!(
        check(&results, "replay")
            .detail
            .starts_with("9 commits replayed")
    );
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
            "the engine counted 10 succeeded, the event stream shows 9",
            "submitted 12 != succeeded 10 + rejected 3 + cancelled 0 (-1 unaccounted)",
        ],
        &[],
    );
}

#[test]
fn a_settled_op_whose_permit_never_came_back_fails_accounting() {
    // Every op is final in the events and the counters, but the engine
    // did not give a rejected op's permit back: the drain never saw all
    // permits return.
    let mut r = honest();
    r.permits_returned = false;
    assert_caught(&r.results(), "accounting", &["permits not returned"], &[]);
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
        &["the metrics show 10 per-type succeeded, the event stream shows 9"],
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
            &format!("{} on target 1: never final", stuck.id),
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
    r.emit(
        &op,
        EventKind::OperationFailed {
            reason,
            attempt: 1,
            injected: true,
        },
    );
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
    r.emit(
        &op,
        EventKind::OperationFailed {
            reason,
            attempt: 1,
            injected: true,
        },
    );
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
            "target 0: lineage length: entity 0: lineage has 3 versions",
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
fn an_unrecorded_version_of_a_group_root_fails_versions_and_replay() {
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
        &["replay"],
    );
}

/// A root's versions that its leaving children do not explain, with the
/// events to match (so `versions` holds): the replay predicts a root's
/// versions from the moves that left it. The same comparison catches a
/// detach that never versions the root it left.
#[test]
fn a_root_versioned_beyond_what_its_leaving_children_explain_fails_replay() {
    let mut r = honest();
    let root = r.first_group + 1;
    assert_eq!(r.store.version_count(EntityId(root)), 2);
    let op = r.submit(1, OpKind::VersionEntity, 5, 0);
    r.start(&op);
    r.commit(&op);
    let v = r
        .store
        .version_entity(EntityId(root), true)
        .unwrap()
        .unwrap();
    r.emit_on(
        &op,
        root,
        EventKind::EntityVersioned {
            ecs_id: v.ecs_id,
            previous: v.previous,
            number: v.number,
        },
    );
    r.flush();
    assert_caught(
        &r.results(),
        "replay",
        &[&format!(
            "entity {root}: replay 2 (1 + 1 children left), store 3"
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

/// Blind spot: the store recorded the wrong provenance for a value (here:
/// none, for a value that was borrowed), while every value is right.
#[test]
fn a_provenance_the_commits_do_not_explain_fails_replay() {
    let mut r = honest();
    let address = r.address(2, "counter");
    let value = r.store.get(&address).unwrap();
    assert!(r.store.provenance(EntityId(2), "counter").is_some());
    // The same value, written plainly: only the provenance changes.
    r.store.put(&address, value).unwrap();
    assert_caught(
        &r.results(),
        "replay",
        &["target 2: provenance of counter: replay Some("],
        &[],
    );
}

/// A history entry rewritten in place: the length and digest the store
/// keeps are unchanged, the retained entries are not.
#[test]
fn a_rewritten_history_entry_fails_replay() {
    let mut r = honest();
    r.store.debug_corrupt_history(EntityId(0));
    let results = r.results();
    let replay = check(&results, "replay");
    assert!(!replay.passed, "{}", replay.detail);
    assert!(
        replay.describe().contains("history entries"),
        "{}",
        replay.describe()
    );
}

/// Blind spot: a counter incremented twice for one event.
#[test]
fn a_failed_attempt_counted_twice_fails_accounting() {
    let mut r = honest();
    let op = r.submit(0, OpKind::ModifyField(FieldWrite::Counter(5)), 5, 0);
    r.start(&op);
    let reason = FailReason::InjectedFault { step: 1 };
    r.counters.failed_attempts += 2;
    r.emit(
        &op,
        EventKind::OperationFailed {
            reason,
            attempt: 1,
            injected: true,
        },
    );
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
    assert_caught(
        &r.results(),
        "accounting",
        &["the engine counted 2 failed attempts, the event stream shows 1"],
        &[],
    );
}

/// The executor's own failure path, reported as an engine error: a
/// `modify_field` whose write the store refuses fails every time, and
/// `failures` says so although faults are on.
#[test]
fn a_store_refusal_reported_as_a_failure_fails_the_failures_check() {
    let mut r = honest();
    let op = r.submit(0, OpKind::ModifyField(FieldWrite::Counter(5)), 5, 0);
    r.start(&op);
    r.counters.failed_attempts += 1;
    r.emit(
        &op,
        EventKind::OperationFailed {
            reason: FailReason::Store,
            attempt: 1,
            injected: false,
        },
    );
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
    assert_caught(&r.results(), "failures", &["engine error"], &[]);
}
