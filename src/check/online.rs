//! The online checker, run by the lifecycle observer over the event
//! stream: the shared [`Table`] and the registered [`Rule`]s.
//!
//! For each event every rule that reads its kind looks at the table as it
//! was, then the table applies the event, then every rule that reads it
//! afterwards looks again. Nothing here decides anything; the rules do.

use super::CheckConfig;
use super::coverage::Tally;
use super::rules::{Kinds, Rule, registry};
use super::state::FinalState;
use super::table::Table;
use crate::ecs::Store;
use crate::events::{Event, Kind};
use crate::prefetch::Stage;
use crate::report::model::{CheckResult, Coverage};

/// The online checker.
pub struct Checker {
    table: Table,
    rules: Vec<Box<dyn Rule>>,
    /// Per event kind, the rules whose `observe` reads it, in order.
    observing: Dispatch,
    /// Per event kind, the rules whose `after` reads it, in order.
    following: Dispatch,
    /// Per event kind, the rules that prefetch for it.
    prefetching: Dispatch,
    /// Whether there are targets enough for prefetching to pay.
    prefetch: bool,
}

/// Indices into the rules, per event kind.
type Dispatch = [Box<[u8]>; Kind::COUNT];

/// For each event kind, the rules whose `reads` contains it.
fn dispatch(rules: &[Box<dyn Rule>], reads: impl Fn(&dyn Rule) -> Kinds) -> Dispatch {
    Kind::ALL.map(|kind| {
        (0..rules.len())
            .filter(|&i| reads(rules[i].as_ref()).contains(kind))
            .map(|i| u8::try_from(i).expect("fewer than 256 rules"))
            .collect()
    })
}

impl Checker {
    /// The checks of a run over `store` as it is before the run; its first
    /// `targets` entities are the targets.
    pub fn new(config: CheckConfig, store: &Store, targets: u32) -> Checker {
        Checker::with_rules(
            targets as usize,
            config.parent_horizon,
            registry(&config, store, targets),
        )
    }

    /// A checker running only `rules`, over a table of `targets` targets
    /// (grown on demand) whose parent links reach `horizon` ops back: the
    /// stream rules of a history checked offline.
    pub(crate) fn with_rules(targets: usize, horizon: u64, rules: Vec<Box<dyn Rule>>) -> Checker {
        Checker {
            table: Table::new(targets, horizon),
            observing: dispatch(&rules, |r| r.observes()),
            following: dispatch(&rules, |r| r.follows()),
            prefetching: dispatch(&rules, |r| r.prefetches()),
            prefetch: crate::prefetch::pays(targets),
            rules,
        }
    }

    /// Check a batch of events in order: [`Checker::observe`] for each,
    /// with what the events a few places ahead will read asked for in
    /// the meantime.
    pub fn observe_all(&mut self, events: &[Event]) {
        if !self.prefetch {
            for ev in events {
                self.observe(ev);
            }
            return;
        }
        crate::prefetch::ahead(
            self,
            events,
            |c, ev| c.prefetch(ev, Stage::Far),
            |c, ev| c.prefetch(ev, Stage::Near),
            Checker::observe,
        );
    }

    /// Ask for what checking `ev` will read: its target's records in the
    /// table and in the rules that keep per-target state.
    fn prefetch(&self, ev: &Event, stage: Stage) {
        self.table.prefetch(ev.target, stage);
        for &i in &self.prefetching[ev.kind.kind() as usize] {
            self.rules[usize::from(i)].prefetch(ev, stage);
        }
    }

    /// Check one event.
    pub fn observe(&mut self, ev: &Event) {
        let kind = ev.kind.kind() as usize;
        for &i in &self.observing[kind] {
            self.rules[usize::from(i)].observe(ev, &self.table);
        }
        self.table.apply(ev);
        for &i in &self.following[kind] {
            self.rules[usize::from(i)].after(ev, &self.table);
        }
    }

    /// Check one event with every rule, whatever kinds it names: what
    /// [`Checker::observe`] must be equivalent to.
    #[cfg(test)]
    pub(crate) fn observe_with_every_rule(&mut self, ev: &Event) {
        for rule in &mut self.rules {
            rule.observe(ev, &self.table);
        }
        self.table.apply(ev);
        for rule in &mut self.rules {
            rule.after(ev, &self.table);
        }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Ops submitted and not yet seen in a final state.
    pub fn active(&self) -> usize {
        self.table.active()
    }

    pub fn entities_modified(&self) -> u64 {
        self.table.entities_modified()
    }

    pub fn unresolved_conflicts(&self) -> u64 {
        self.table.unresolved_conflicts
    }

    /// Violations the rules found online so far.
    pub fn violations_so_far(&self) -> u64 {
        self.rules.iter().map(|r| r.found()).sum()
    }

    /// Every rule's verdict, in registry order.
    pub fn verdicts(&self, s: &FinalState<'_>) -> Vec<CheckResult> {
        self.rules.iter().map(|r| r.verdict(s)).collect()
    }

    /// How many cases of each rule path were examined.
    pub fn coverage(&self) -> Coverage {
        let mut tally = Tally {
            drain_cancellations: self.table.terminals.cancelled,
            ..Tally::default()
        };
        for rule in &self.rules {
            rule.cover(&mut tally);
        }
        tally.report()
    }
}

#[cfg(test)]
mod dispatch_tests;

#[cfg(test)]
mod tests {
    //! The checker fed scripted event streams: each blind spot a rule
    //! exists for, injected as the engine would show it, and caught.

    use super::*;
    use crate::check::CheckConfig;
    use crate::config::{Overrides, parse_str};
    use crate::events::{Decision, Effect, EventKind, RejectReason};
    use crate::harness::World;
    use crate::metrics::{Metrics, Tally};
    use crate::ops::{FailReason, FieldWrite, OpClass, OpId, OpState, OpType, Priority};
    use crate::report::model::CheckId;

    const MS: u64 = 1_000_000;

    /// A checker over a two-target world with chaos-like settings: grace
    /// 200 ms, backoff 10 ms doubling to 100 ms, faults on.
    struct Script {
        world: World,
        checker: Checker,
    }

    impl Script {
        fn new(extra: &str) -> Script {
            Script::with_top("", extra)
        }

        /// `top`: top-level keys; `extra`: tables after `[retries]`.
        fn with_top(top: &str, extra: &str) -> Script {
            let text = format!(
                "{top}num_targets = 2\ngrace_period_seconds = 0.2\n[retries]\nbackoff_base_ms = 10\nbackoff_max_ms = 100\nnormal = 2\n{extra}"
            );
            let config = parse_str(&text, "test", &Overrides::default()).unwrap();
            let world = World::build(&config, 7).unwrap();
            let checker = Checker::new(CheckConfig::of(&config), &world.store, 2);
            Script { world, checker }
        }

        fn chaos() -> Script {
            Script::new("[faults]\nfailure_probability = 0.2\n")
        }

        /// [`Script::chaos`] on the virtual clock, where timers are late
        /// by the timer wheel's millisecond at most.
        fn chaos_virtual() -> Script {
            Script::with_top(
                "clock = \"virtual\"\n",
                "[faults]\nfailure_probability = 0.2\n",
            )
        }

        fn ev(&mut self, t_ms: f64, op: u64, kind: EventKind) {
            self.ev_on(t_ms, op, 0, kind);
        }

        fn ev_on(&mut self, t_ms: f64, op: u64, target: u32, kind: EventKind) {
            let ev = Event {
                t_ns: (t_ms * MS as f64) as u64,
                op: OpId(op),
                target,
                op_type: OpType::ModifyField,
                priority: Priority::NORMAL,
                kind,
            };
            self.checker.observe(&ev);
        }

        fn submit_as(&mut self, t_ms: f64, op: u64, own: u8, parent: Option<u64>, effective: u8) {
            let ev = Event {
                t_ns: (t_ms * MS as f64) as u64,
                op: OpId(op),
                target: 0,
                op_type: OpType::ModifyField,
                priority: Priority::new(own).unwrap(),
                kind: EventKind::OperationSubmitted {
                    effective: Priority::new(effective).unwrap(),
                    class: OpClass::Normal,
                    parent: parent.map(OpId),
                    budget: 2,
                    batch_size: 1,
                },
            };
            self.checker.observe(&ev);
        }

        fn submit(&mut self, t_ms: f64, op: u64, priority: u8) {
            self.submit_as(t_ms, op, priority, None, priority);
        }

        fn conflict(
            &mut self,
            t_ms: f64,
            winner: u64,
            pending: &[u64],
            executing: Option<u64>,
            d: Decision,
        ) {
            self.ev(
                t_ms,
                winner,
                EventKind::OperationConflict {
                    pending: pending.iter().map(|&i| OpId(i)).collect(),
                    executing: executing.map(OpId),
                    decision: d,
                    resolution_ns: 10,
                },
            );
        }

        fn reject(&mut self, t_ms: f64, op: u64, winner: u64) {
            self.ev(
                t_ms,
                op,
                EventKind::OperationRejected {
                    from: OpState::Pending,
                    reason: RejectReason::Outranked {
                        winner: OpId(winner),
                    },
                    retries: 0,
                },
            );
        }

        fn start(&mut self, t_ms: f64, op: u64) {
            self.ev(t_ms, op, EventKind::OperationStarted { attempt: 1 });
        }

        fn commit(&mut self, t_ms: f64, op: u64) {
            self.ev(
                t_ms,
                op,
                EventKind::OperationCompleted {
                    execution_ns: 1,
                    end_to_end_ns: 1,
                    effect: Effect::Versioned,
                },
            );
        }

        fn fail(&mut self, t_ms: f64, op: u64, reason: FailReason, injected: bool) {
            self.ev(
                t_ms,
                op,
                EventKind::OperationFailed {
                    reason,
                    attempt: 1,
                    injected,
                },
            );
        }

        fn retry(&mut self, t_ms: f64, op: u64, retry: u32, backoff_ms: f64) {
            self.ev(
                t_ms,
                op,
                EventKind::OperationRetry {
                    retry,
                    max: 2,
                    backoff_ns: (backoff_ms * MS as f64) as u64,
                },
            );
        }

        fn preempt(&mut self, t_ms: f64, victim: u64, by: u64) {
            self.ev(
                t_ms,
                victim,
                EventKind::OperationPreempted {
                    by: OpId(by),
                    elapsed_ns: 0,
                },
            );
        }

        fn result(&self, id: CheckId) -> CheckResult {
            let counters = Tally::default();
            let metrics = Metrics::default();
            let continuity = crate::events::Continuity::default();
            let s = FinalState {
                store: &self.world.store,
                checker: &self.checker,
                counters,
                metrics: &metrics,
                continuity: &continuity,
                published: 0,
                num_targets: 2,
                permits_returned: true,
            };
            self.checker
                .verdicts(&s)
                .into_iter()
                .find(|r| r.id == id)
                .unwrap()
        }

        /// Violations of `id` found online, with their descriptions.
        fn caught(&self, id: CheckId) -> (u64, String) {
            let r = self.result(id);
            (r.violations, r.describe())
        }
    }

    #[test]
    fn a_correct_conflict_passes_and_counts_a_tie() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.submit(0.0, 2, 10);
        s.submit(0.0, 3, 10);
        s.conflict(0.0, 2, &[2, 1, 3], None, Decision::Start);
        s.reject(0.0, 1, 2);
        s.reject(0.0, 3, 2);
        s.start(0.0, 2);
        s.commit(0.1, 2);
        assert_eq!(s.checker.violations_so_far(), 0);
        assert_eq!(s.checker.active(), 0);
        let ties = s
            .checker
            .coverage()
            .paths
            .iter()
            .find(|p| p.name == "ties")
            .unwrap()
            .cases;
        assert_eq!(ties, 1);
    }

    /// Blind spot: a tie broken the wrong way (the later op wins).
    #[test]
    fn a_tie_won_by_the_later_op_is_caught() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 8);
        s.submit(0.0, 2, 8);
        s.conflict(0.0, 2, &[1, 2], None, Decision::Start);
        s.reject(0.0, 1, 2);
        let (n, d) = s.caught(CheckId::PriorityRule);
        // The rejection itself names a winner that did not outrank it.
        assert_eq!(n, 2, "{d}");
        assert!(d.contains("winner outranked"), "{d}");
    }

    #[test]
    fn a_lower_priority_winner_and_a_wrong_rejection_are_caught() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.submit(0.0, 2, 10);
        s.submit(0.0, 3, 5);
        s.conflict(0.0, 1, &[1, 2, 3], None, Decision::Start);
        s.reject(0.0, 2, 3);
        let (n, d) = s.caught(CheckId::PriorityRule);
        // Two outranking rivals, one rejection naming a non-winner, and
        // neither loser rejected naming the winner.
        assert_eq!(n, 5, "{d}");
        assert!(d.contains("rejected for a non-winner"), "{d}");
        assert!(d.contains("loser not rejected"), "{d}");
    }

    /// Blind spot: a loser the engine keeps Pending instead of rejecting
    /// it. It takes part in the target's next resolution as if new, so
    /// every single decision looks right; the rejection it was owed does
    /// not come.
    #[test]
    fn a_loser_kept_pending_is_caught_at_the_next_resolution_or_the_end() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.submit(0.0, 2, 10);
        s.submit(0.0, 3, 5);
        s.conflict(0.0, 2, &[1, 2, 3], None, Decision::Start);
        s.reject(0.0, 1, 2);
        s.start(0.0, 2);
        s.commit(0.1, 2);
        assert_eq!(s.checker.violations_so_far(), 0);
        s.conflict(0.1, 3, &[3], None, Decision::Start);
        let (n, d) = s.caught(CheckId::PriorityRule);
        assert_eq!(n, 1, "{d}");
        assert!(
            d.contains("op-00000003") && d.contains("loser not rejected"),
            "{d}"
        );

        // Kept and never resolved again: owed at the end.
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.submit(0.0, 2, 10);
        s.conflict(0.0, 2, &[1, 2], None, Decision::Start);
        s.start(0.0, 2);
        s.commit(0.1, 2);
        let (n, d) = s.caught(CheckId::PriorityRule);
        assert_eq!(n, 1, "{d}");
        assert!(
            d.contains("lost to op-00000002 and was never rejected"),
            "{d}"
        );
    }

    #[test]
    fn effective_priority_must_follow_the_parent_and_inherited_wins_are_counted() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 10);
        s.submit_as(5.0, 2, 2, Some(1), 10);
        assert_eq!(s.checker.violations_so_far(), 0);
        // A child that did not inherit, and a parent nobody submitted.
        s.submit_as(5.0, 3, 2, Some(1), 2);
        s.submit_as(5.0, 4, 5, Some(99), 5);
        let (n, d) = s.caught(CheckId::PriorityRule);
        assert_eq!(n, 2, "{d}");
        assert!(
            d.contains("wrong effective priority") && d.contains("unknown parent"),
            "{d}"
        );
        // The LOW child of a CRITICAL parent beats a HIGH op: inherited
        // priority decided the conflict, from an earlier batch, while the
        // parent was still active.
        s.submit(6.0, 5, 8);
        s.conflict(6.0, 2, &[2, 5], None, Decision::Start);
        s.reject(6.0, 5, 2);
        assert_eq!(s.caught(CheckId::PriorityRule).0, 2);
        let cov = s.checker.coverage();
        let cases = |name: &str| cov.paths.iter().find(|p| p.name == name).unwrap().cases;
        assert_eq!(cases("inherited_wins"), 1);
        assert_eq!(cases("cross_batch_parents"), 2);
    }

    #[test]
    fn the_decision_against_the_executing_op_must_follow_the_rule() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 8);
        s.start(0.0, 1);
        s.submit(1.0, 2, 5);
        // A lower winner must wait; preempting is wrong.
        s.conflict(1.0, 2, &[2], Some(1), Decision::Preempt);
        let (n, d) = s.caught(CheckId::PriorityRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("wrong decision"), "{d}");
    }

    #[test]
    fn two_starts_on_one_target_break_exclusive_execution() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.submit(0.0, 2, 5);
        s.start(0.0, 1);
        s.start(0.0, 2);
        assert_eq!(s.caught(CheckId::ExclusiveExecution).0, 1);
    }

    #[test]
    fn illegal_transitions_are_caught() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.commit(0.0, 1);
        s.start(0.0, 99);
        s.submit(0.0, 1, 5);
        let (n, d) = s.caught(CheckId::LegalTransitions);
        assert_eq!(n, 3, "{d}");
        assert!(d.contains("OperationCompleted from Pending"), "{d}");
    }

    #[test]
    fn preemption_inside_grace_or_by_an_equal_priority_is_caught() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.submit(0.0, 2, 10);
        s.start(10.0, 1);
        s.preempt(60.0, 1, 2);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("inside grace"), "{d}");

        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.submit(0.0, 2, 5);
        s.start(0.0, 1);
        s.preempt(300.0, 1, 2);
        assert!(s.caught(CheckId::GraceRule).1.contains("non-higher"));
    }

    /// A grace save, then the timer: an op started at 0 is outranked at
    /// 100 ms (inside grace), so its preemption is due at 200 ms.
    fn grace_save_then_preempt_at(preempt_ms: f64) -> Script {
        grace_save_then_preempt(Script::chaos(), preempt_ms)
    }

    fn grace_save_then_preempt(mut s: Script, preempt_ms: f64) -> Script {
        s.submit(0.0, 1, 2);
        s.start(0.0, 1);
        s.submit(100.0, 2, 10);
        s.conflict(100.0, 2, &[2], Some(1), Decision::GraceSave);
        s.ev(
            100.0,
            2,
            EventKind::GraceProtected {
                executing: OpId(1),
                elapsed_ns: 100 * MS,
            },
        );
        s.conflict(preempt_ms, 2, &[2], Some(1), Decision::Preempt);
        s.preempt(preempt_ms, 1, 2);
        s.start(preempt_ms, 2);
        s
    }

    /// Blind spot: a grace save decided but never announced (its
    /// `GraceProtected` lost, or not written by another engine): the save
    /// itself then goes unchecked.
    #[test]
    fn a_grace_save_without_its_announcement_is_caught() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.start(0.0, 1);
        s.submit(100.0, 2, 10);
        s.conflict(100.0, 2, &[2], Some(1), Decision::GraceSave);
        s.conflict(200.0, 2, &[2], Some(1), Decision::Preempt);
        s.preempt(200.0, 1, 2);
        s.start(200.0, 2);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("grace save not announced"), "{d}");
        // Never decided again: owed at the end.
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.start(0.0, 1);
        s.submit(100.0, 2, 10);
        s.conflict(100.0, 2, &[2], Some(1), Decision::GraceSave);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert!(n >= 1 && d.contains("grace save not announced"), "{d}");
        // Announced: nothing owed.
        let s = grace_save_then_preempt_at(200.0);
        assert_eq!(s.caught(CheckId::GraceRule).0, 0);
    }

    #[test]
    fn a_prompt_preemption_passes_and_its_lateness_is_reported() {
        let s = grace_save_then_preempt_at(203.0);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 0, "{d}");
        let late = s.checker.coverage().preemption_lateness_us;
        assert_eq!((late.count, late.max), (1, 3000));
    }

    /// Blind spot: a grace timer re-armed for the full period instead of
    /// the remainder preempts 100 ms late.
    #[test]
    fn a_late_preemption_is_caught() {
        let s = grace_save_then_preempt_at(300.0);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("late preemption") && d.contains("100ms"), "{d}");
    }

    /// Blind spot: a grace timer rounded up to the next 10 ms. A few
    /// milliseconds late is scheduling on the real clock, but on the
    /// virtual clock nothing but the timer wheel's millisecond delays it.
    #[test]
    fn a_few_milliseconds_late_is_caught_on_the_virtual_clock() {
        let s = grace_save_then_preempt(Script::chaos_virtual(), 200.5);
        assert_eq!(s.caught(CheckId::GraceRule).0, 0);
        let s = grace_save_then_preempt(Script::chaos_virtual(), 203.0);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("late preemption") && d.contains("3ms"), "{d}");
    }

    /// Blind spot: an op left waiting on a target where nothing executes
    /// (a resolution the engine forgot to run when an op arrived or one
    /// finished). On the virtual clock it is decided at the instant it
    /// starts to wait; a later event finds it undecided.
    #[test]
    fn an_op_left_waiting_on_an_idle_target_is_caught_on_the_virtual_clock() {
        // Decided at once: nothing owed.
        let mut s = Script::chaos_virtual();
        s.submit(0.0, 1, 5);
        s.conflict(0.0, 1, &[1], None, Decision::Start);
        s.start(0.0, 1);
        s.submit(0.0, 2, 5);
        s.conflict(0.0, 2, &[2], Some(1), Decision::Wait);
        s.commit(5.0, 1);
        s.conflict(5.0, 2, &[2], None, Decision::Start);
        s.start(5.0, 2);
        s.commit(9.0, 2);
        assert_eq!(s.caught(CheckId::GraceRule), (0, String::new()));

        // Submitted to an idle target, decided only 3 ms later.
        let mut s = Script::chaos_virtual();
        s.submit(0.0, 1, 5);
        s.submit(3.0, 2, 5);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("left waiting") && d.contains("3ms"), "{d}");

        // Waiting behind an op that finished, and not decided then.
        let mut s = Script::chaos_virtual();
        s.submit(0.0, 1, 5);
        s.conflict(0.0, 1, &[1], None, Decision::Start);
        s.start(0.0, 1);
        s.submit(1.0, 2, 5);
        s.conflict(1.0, 2, &[2], Some(1), Decision::Wait);
        s.commit(5.0, 1);
        s.submit(8.0, 3, 5);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("left waiting"), "{d}");

        // The real clock allows any queueing before the engine reads an op.
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.submit(3.0, 2, 5);
        assert_eq!(s.caught(CheckId::GraceRule).0, 0);
    }

    #[test]
    fn an_outranked_op_left_to_run_to_its_end_is_caught() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.start(0.0, 1);
        s.submit(100.0, 2, 10);
        s.ev(
            100.0,
            2,
            EventKind::GraceProtected {
                executing: OpId(1),
                elapsed_ns: 100 * MS,
            },
        );
        // Never preempted: the stall runs out at 400 ms.
        s.commit(400.0, 1);
        let (n, d) = s.caught(CheckId::GraceRule);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("ran 200ms past"), "{d}");
        // An op that finishes before its preemption is due owes nothing.
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.start(0.0, 1);
        s.submit(100.0, 2, 10);
        s.commit(240.0, 1);
        assert_eq!(s.caught(CheckId::GraceRule).0, 0);
    }

    #[test]
    fn a_grace_save_past_the_period_is_caught_even_before_the_start_arrives() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 2);
        s.submit(0.0, 2, 10);
        s.ev(
            500.0,
            2,
            EventKind::GraceProtected {
                executing: OpId(1),
                elapsed_ns: 0,
            },
        );
        assert_eq!(s.caught(CheckId::GraceRule).0, 0);
        s.start(100.0, 1);
        assert_eq!(s.caught(CheckId::GraceRule).0, 1);
    }

    /// Fail at 10 ms, retry at `retry_ms` reporting `backoff_ms`.
    fn retry_after(retry_ms: f64, backoff_ms: f64) -> Script {
        retry_after_on(Script::chaos(), retry_ms, backoff_ms)
    }

    fn retry_after_on(mut s: Script, retry_ms: f64, backoff_ms: f64) -> Script {
        s.submit(0.0, 1, 5);
        s.start(0.0, 1);
        s.fail(10.0, 1, FailReason::InjectedFault { step: 1 }, true);
        s.retry(retry_ms, 1, 1, backoff_ms);
        s
    }

    #[test]
    fn a_retry_that_waited_its_backoff_passes() {
        let s = retry_after(18.5, 8.0);
        assert_eq!(s.caught(CheckId::Retries), (0, String::new()));
    }

    /// Blind spot: a retry that skipped its backoff (1 ms real gap, 8 ms
    /// reported).
    #[test]
    fn a_retry_that_skipped_its_backoff_is_caught() {
        let (n, d) = retry_after(11.0, 8.0).caught(CheckId::Retries);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("backoff not waited"), "{d}");
    }

    /// Blind spot: a backoff timer armed for the next retry's delay (16 ms
    /// waited, 8 ms reported). The real clock allows scheduling delay; the
    /// virtual clock only the timer wheel's millisecond.
    #[test]
    fn a_retry_later_than_its_backoff_is_caught_on_the_virtual_clock() {
        assert_eq!(retry_after(26.0, 8.0).caught(CheckId::Retries).0, 0);
        let on_time = retry_after_on(Script::chaos_virtual(), 18.5, 8.0);
        assert_eq!(on_time.caught(CheckId::Retries).0, 0);
        let (n, d) = retry_after_on(Script::chaos_virtual(), 26.0, 8.0).caught(CheckId::Retries);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("backoff overrun"), "{d}");
    }

    #[test]
    fn a_backoff_outside_the_policy_is_caught() {
        // Retry 0 waits 5..=10 ms with base 10 ms.
        let (n, d) = retry_after(100.0, 40.0).caught(CheckId::Retries);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("backoff outside policy"), "{d}");
        let (n, _) = retry_after(14.0, 4.0).caught(CheckId::Retries);
        assert_eq!(n, 1);
    }

    #[test]
    fn retries_beyond_the_budget_and_early_or_late_exhaustion_are_caught() {
        // Budget 2: a third retry.
        let mut s = retry_after(20.0, 8.0);
        s.start(20.0, 1);
        s.fail(30.0, 1, FailReason::Panic, true);
        s.retry(50.0, 1, 2, 15.0);
        s.start(50.0, 1);
        s.fail(60.0, 1, FailReason::Panic, true);
        assert_eq!(s.caught(CheckId::Retries).0, 0);
        s.retry(100.0, 1, 3, 30.0);
        let (n, d) = s.caught(CheckId::Retries);
        assert!(n >= 1 && d.contains("retry beyond budget"), "{d}");

        // One retry used of two: rejecting now is too early.
        let mut s = retry_after(20.0, 8.0);
        s.start(20.0, 1);
        s.fail(30.0, 1, FailReason::Panic, true);
        s.ev(
            30.0,
            1,
            EventKind::OperationRejected {
                from: OpState::Failed,
                reason: RejectReason::BudgetSpent,
                retries: 1,
            },
        );
        let (n, d) = s.caught(CheckId::Retries);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("budget not spent"), "{d}");
    }

    /// Blind spot: an engine error passed as a failure.
    #[test]
    fn a_store_error_is_an_engine_error_whatever_the_faults() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.start(0.0, 1);
        s.fail(1.0, 1, FailReason::Store, false);
        let (n, d) = s.caught(CheckId::Failures);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("engine error"), "{d}");
        // An injected fault is fine with faults on...
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.start(0.0, 1);
        s.fail(1.0, 1, FailReason::InjectedFault { step: 1 }, true);
        assert_eq!(s.caught(CheckId::Failures).0, 0);
        // ... and a violation with faults off.
        let mut s = Script::new("");
        s.submit(0.0, 1, 5);
        s.start(0.0, 1);
        s.fail(1.0, 1, FailReason::InjectedFault { step: 1 }, true);
        let (n, d) = s.caught(CheckId::Failures);
        assert_eq!(n, 1, "{d}");
        assert!(d.contains("faults off"), "{d}");
    }

    #[test]
    fn a_check_that_examined_nothing_is_not_exercised() {
        let s = Script::new("");
        let r = s.result(CheckId::GraceRule);
        assert!(r.passed && !r.exercised);
        let cov = s.checker.coverage();
        assert!(cov.paths.iter().all(|p| !p.exercised));
    }

    #[test]
    fn a_modify_commit_is_replayed_with_its_history_entry() {
        let mut s = Script::chaos();
        s.submit(0.0, 1, 5);
        s.start(0.0, 1);
        s.ev(
            1.0,
            1,
            EventKind::OperationCompleted {
                execution_ns: 1,
                end_to_end_ns: 1,
                effect: Effect::Modified {
                    write: FieldWrite::Counter(9),
                    at_us: 7,
                },
            },
        );
        // The store was not written: replay must disagree on the counter
        // and on the history.
        let (n, d) = s.caught(CheckId::Replay);
        assert!(n >= 3, "{d}");
        assert!(d.contains("counter: replay 9, store 0"), "{d}");
        assert!(d.contains("history length: replay 1, store 0"), "{d}");
    }
}
