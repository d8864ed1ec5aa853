//! The lifecycle driver's decisions as a synchronous state machine.
//!
//! [`State`] holds what the driver decides with: the started ops that stall
//! before executing, the failed ops waiting out a backoff, whether the
//! drain deadline has passed, and the [`Chance`] that draws stalls, faults
//! and backoff delays. It owns neither the store nor a clock nor a timer.
//! Each input is a method taking the time it happens at:
//!
//! | input                          | method                |
//! |--------------------------------|-----------------------|
//! | monitor: start the winner      | [`State::start`]      |
//! | monitor: abort, start winner   | [`State::preempt`]    |
//! | monitor: the drain deadline    | [`State::close`]      |
//! | a stall timer expired          | [`State::stall_end`]  |
//! | a backoff timer expired        | [`State::backoff_end`]|
//! | an execution attempt's outcome | [`State::executed`]   |
//!
//! The outputs go to [`Outputs`]: events, messages for the monitor, timers
//! to arm or disarm, counts, and at most one [`Execution`] — the op to run
//! as a store transaction now. The task in `driver.rs` runs it at once and
//! feeds the [`Outcome`] back through [`State::executed`] before the next
//! input, so an execution is never interleaved with anything else.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rustc_hash::FxHashMap;

use crate::ecs::mix64;
use crate::events::{Event, EventKind, RejectReason};
use crate::harness::{DriverMsg, Inject};
use crate::ops::backoff::Backoff;
use crate::ops::exec::{self, Executed, Fault};
use crate::ops::lifecycle::Transition;
use crate::ops::{FailReason, Op, OpId, OpState};

/// Probability that an injected failure is a panic rather than an error.
const PANIC_SHARE: f64 = 0.2;

/// The random draws of the driver. A run uses [`Seeded`]; a test script
/// says what each draw comes out as.
pub(crate) trait Chance {
    /// Whether `op`'s current attempt stalls before it executes.
    fn stalls(&mut self, op: &Op) -> bool;
    /// The fault `op`'s current execution attempt suffers, if any.
    fn fault(&mut self, op: &Op) -> Option<Fault>;
    /// How long `op` backs off after its failed attempt number
    /// `op.retries` (0-based), before that retry.
    fn backoff(&mut self, op: &Op) -> Duration;
}

/// The run's draws. Each decision is a pure function of the seed, the op,
/// its attempt and what is decided: a fresh rng is seeded from the four
/// for every draw. So the fault pattern does not depend on the order in
/// which ops happen to arrive — two runs of a seed fail, panic, stall and
/// back off the same ops the same way on either clock, however their
/// tasks interleave.
pub(crate) struct Seeded {
    seed: u64,
    backoff: Backoff,
    failure_probability: f64,
    stall_probability: f64,
}

/// What a draw decides; part of its rng's seed.
#[derive(Clone, Copy)]
enum Draw {
    Stall = 1,
    Fault = 2,
    Backoff = 3,
}

impl Seeded {
    pub(crate) fn new(
        seed: u64,
        backoff: Backoff,
        failure_probability: f64,
        stall_probability: f64,
    ) -> Seeded {
        Seeded {
            seed,
            backoff,
            failure_probability,
            stall_probability,
        }
    }

    /// The rng of one decision about `op`'s current attempt.
    fn rng(&self, op: &Op, draw: Draw) -> SmallRng {
        let key =
            mix64(mix64(self.seed ^ mix64(op.id.0)) ^ (u64::from(op.retries) << 8 | draw as u64));
        SmallRng::seed_from_u64(key)
    }
}

impl Chance for Seeded {
    fn stalls(&mut self, op: &Op) -> bool {
        self.stall_probability > 0.0
            && self
                .rng(op, Draw::Stall)
                .random_bool(self.stall_probability)
    }

    fn fault(&mut self, op: &Op) -> Option<Fault> {
        if self.failure_probability <= 0.0 {
            return None;
        }
        let mut rng = self.rng(op, Draw::Fault);
        rng.random_bool(self.failure_probability).then(|| Fault {
            step: rng.random_range(1..=exec::steps(&op.kind)),
            panic: rng.random_bool(PANIC_SHARE),
        })
    }

    fn backoff(&mut self, op: &Op) -> Duration {
        self.backoff
            .delay(op.retries, &mut self.rng(op, Draw::Backoff))
    }
}

/// An op to execute now, as one store transaction.
#[derive(Debug)]
pub(crate) struct Execution {
    pub op: Op,
    pub fault: Option<Fault>,
    /// The injected partial write: leak a staged write of a failed attempt.
    pub leak: bool,
}

/// How an execution attempt ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Committed(Executed),
    /// The transaction failed; `injected` when the failure is the fault
    /// the driver asked for, not the engine's own error.
    Failed {
        reason: FailReason,
        injected: bool,
    },
    /// The execution panicked; the panic was caught. `injected` when it
    /// was the injected panic.
    Panicked {
        injected: bool,
    },
}

/// Timer requests; the task keeps the timers, keyed by op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Execute the stalled op after the duration.
    Stall(OpId, Duration),
    /// Retry the failed op after the duration.
    Backoff(OpId, Duration),
    /// The stalled op was preempted: its stall timer is void.
    CancelStall(OpId),
    /// The backing-off op was cancelled: its backoff timer is void.
    CancelBackoff(OpId),
}

/// What the inputs since the outputs were last taken decided.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub events: Vec<Event>,
    /// For the monitor, in order; sent after the events are flushed.
    pub msgs: Vec<DriverMsg>,
    pub timers: Vec<Timer>,
    /// The op to execute before the next input.
    pub execute: Option<Execution>,
    pub tally: Tally,
}

/// Counts for the shared counters; `settled` ops give their permit back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub started: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub failed: u64,
    pub retried: u64,
    pub preempted: u64,
    pub panics: u64,
    /// Transitions the lifecycle refused (engine bugs).
    pub illegal: u64,
    pub settled: u64,
}

/// The driver's decision state; see the module docs.
pub(crate) struct State<C> {
    chance: C,
    stall: Duration,
    inject: Option<Inject>,
    stalled: FxHashMap<OpId, Op>,
    /// Failed ops waiting to retry, with the backoff they wait.
    backing_off: FxHashMap<OpId, (Op, u64)>,
    closed: bool,
}

impl<C: Chance> State<C> {
    pub(crate) fn new(chance: C, stall: Duration, inject: Option<Inject>) -> State<C> {
        State {
            chance,
            stall,
            inject,
            stalled: FxHashMap::default(),
            backing_off: FxHashMap::default(),
            closed: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn chance_mut(&mut self) -> &mut C {
        &mut self.chance
    }

    /// Start the monitor's winner: it stalls (a stall timer) or executes.
    pub(crate) fn start(&mut self, mut op: Op, started_ns: u64, out: &mut Outputs) {
        transition(&mut op, Transition::Start, out);
        op.started_ns = Some(started_ns);
        out.tally.started += 1;
        out.events.push(Event::of(
            &op,
            started_ns,
            EventKind::OperationStarted {
                attempt: op.retries + 1,
            },
        ));
        if self.chance.stalls(&op) {
            out.timers.push(Timer::Stall(op.id, self.stall));
            self.stalled.insert(op.id, op);
        } else {
            self.execute(op, out);
        }
    }

    /// Abort `victim` if it is still stalled, and start `winner`. A victim
    /// that already executed (its Done crossed this command) is left be.
    pub(crate) fn preempt(&mut self, victim: OpId, winner: Op, decided_ns: u64, out: &mut Outputs) {
        if let Some(mut op) = self.stalled.remove(&victim) {
            out.timers.push(Timer::CancelStall(victim));
            let elapsed_ns = decided_ns.saturating_sub(op.started_ns.unwrap_or(decided_ns));
            out.tally.preempted += 1;
            out.events.push(Event::of(
                &op,
                decided_ns,
                EventKind::OperationPreempted {
                    by: winner.id,
                    elapsed_ns,
                },
            ));
            transition(&mut op, Transition::Fail, out);
            self.after_failure(op, FailReason::Preempted { by: winner.id }, decided_ns, out);
        }
        // Either way the target is the winner's now.
        self.start(winner, decided_ns, out);
    }

    /// The stall of `id` is over: it executes now.
    pub(crate) fn stall_end(&mut self, id: OpId, out: &mut Outputs) {
        if let Some(op) = self.stalled.remove(&id) {
            self.execute(op, out);
        }
    }

    /// The backoff of `id` is over: Failed → Pending, back to the monitor.
    pub(crate) fn backoff_end(&mut self, id: OpId, now_ns: u64, out: &mut Outputs) {
        let Some((mut op, backoff_ns)) = self.backing_off.remove(&id) else {
            return;
        };
        op.retries += 1;
        transition(&mut op, Transition::Retry, out);
        out.tally.retried += 1;
        out.events.push(Event::of(
            &op,
            now_ns,
            EventKind::OperationRetry {
                retry: op.retries,
                max: op.budget,
                backoff_ns,
            },
        ));
        out.msgs.push(DriverMsg::Requeue(op));
    }

    /// The attempt of [`Outputs::execute`] ended at `now_ns`, after
    /// `execution_ns` in the store.
    pub(crate) fn executed(
        &mut self,
        mut op: Op,
        outcome: Outcome,
        execution_ns: u64,
        now_ns: u64,
        out: &mut Outputs,
    ) {
        let done = DriverMsg::Done {
            target: op.target,
            op: op.id,
        };
        match outcome {
            Outcome::Committed(executed) => {
                transition(&mut op, Transition::Commit, out);
                op.finished_ns = Some(now_ns);
                out.tally.succeeded += 1;
                out.tally.settled += 1;
                out.events.push(Event::of(
                    &op,
                    now_ns,
                    EventKind::OperationCompleted {
                        execution_ns,
                        end_to_end_ns: now_ns.saturating_sub(op.submitted_ns),
                        effect: executed.effect,
                    },
                ));
                if !executed.fields.is_empty() {
                    out.events.push(Event::of(
                        &op,
                        now_ns,
                        EventKind::EntityModified {
                            fields: executed.fields,
                        },
                    ));
                }
                for v in executed.versions {
                    let mut ev = Event::of(
                        &op,
                        now_ns,
                        EventKind::EntityVersioned {
                            ecs_id: v.ecs_id,
                            previous: v.previous,
                            number: v.number,
                        },
                    );
                    ev.target = v.entity.0;
                    out.events.push(ev);
                }
            }
            Outcome::Failed { reason, injected } => self.fail(op, reason, injected, now_ns, out),
            Outcome::Panicked { injected } => {
                out.tally.panics += 1;
                self.fail(op, FailReason::Panic, injected, now_ns, out);
            }
        }
        out.msgs.push(done);
    }

    /// The drain deadline: ops waiting out a backoff are cancelled, and so
    /// is every op that fails from now on.
    pub(crate) fn close(&mut self, now_ns: u64, out: &mut Outputs) {
        self.closed = true;
        let mut waiting: Vec<Op> = self.backing_off.drain().map(|(_, (op, _))| op).collect();
        // In submission order, so the events do not depend on hashing.
        waiting.sort_unstable_by_key(|op| op.id);
        for op in waiting {
            out.timers.push(Timer::CancelBackoff(op.id));
            cancel(op, now_ns, out);
        }
    }

    /// The stalled and backing-off ops, and whether the deadline passed.
    #[cfg(test)]
    pub(crate) fn describe(&self) -> String {
        let ids = |mut v: Vec<u64>| {
            v.sort_unstable();
            v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
        };
        format!(
            "stalled=[{}] backing-off=[{}] closed={}",
            ids(self.stalled.keys().map(|id| id.0).collect()),
            ids(self.backing_off.keys().map(|id| id.0).collect()),
            self.closed
        )
    }

    fn execute(&mut self, op: Op, out: &mut Outputs) {
        let fault = self.chance.fault(&op);
        let leak = self.inject == Some(Inject::PartialWrite) && fault.is_some_and(|f| !f.panic);
        debug_assert!(out.execute.is_none(), "one execution per input");
        out.execute = Some(Execution { op, fault, leak });
    }

    /// Executing → Failed, reported as `OperationFailed`.
    fn fail(
        &mut self,
        mut op: Op,
        reason: FailReason,
        injected: bool,
        now_ns: u64,
        out: &mut Outputs,
    ) {
        transition(&mut op, Transition::Fail, out);
        out.events.push(Event::of(
            &op,
            now_ns,
            EventKind::OperationFailed {
                reason,
                attempt: op.retries + 1,
                injected,
            },
        ));
        self.after_failure(op, reason, now_ns, out);
    }

    /// A Failed op: back off and retry, or reject for a spent budget, or
    /// cancel if the drain deadline has passed.
    fn after_failure(&mut self, mut op: Op, reason: FailReason, now_ns: u64, out: &mut Outputs) {
        out.tally.failed += 1;
        op.last_error = Some(reason);
        if self.closed {
            cancel(op, now_ns, out);
        } else if op.retries < op.budget {
            let delay = self.chance.backoff(&op);
            out.timers.push(Timer::Backoff(op.id, delay));
            self.backing_off
                .insert(op.id, (op, delay.as_nanos() as u64));
        } else {
            transition(&mut op, Transition::SpendBudget, out);
            out.tally.rejected += 1;
            out.tally.settled += 1;
            out.events.push(Event::of(
                &op,
                now_ns,
                EventKind::OperationRejected {
                    from: OpState::Failed,
                    reason: RejectReason::BudgetSpent,
                    retries: op.retries,
                },
            ));
        }
    }
}

fn transition(op: &mut Op, t: Transition, out: &mut Outputs) {
    if op.transition(t).is_err() {
        out.tally.illegal += 1;
    }
}

/// Failed → Cancelled at the drain deadline.
fn cancel(mut op: Op, now_ns: u64, out: &mut Outputs) {
    transition(&mut op, Transition::Cancel, out);
    out.tally.cancelled += 1;
    out.tally.settled += 1;
    out.events.push(Event::of(
        &op,
        now_ns,
        EventKind::OperationCancelled {
            from: OpState::Failed,
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{OpKind, Priority, RetryBudgets};

    fn op(id: u64, retries: u32) -> Op {
        let budgets = RetryBudgets {
            structural: 9,
            normal: 9,
            low_priority: 9,
        };
        let mut op = Op::new(
            OpId(id),
            OpKind::VersionEntity,
            Priority::HIGH,
            0,
            &budgets,
            0,
        );
        op.retries = retries;
        op
    }

    fn seeded(seed: u64) -> Seeded {
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_secs(1),
        };
        Seeded::new(seed, backoff, 0.5, 0.5)
    }

    /// Every draw about an op's attempt, as one comparable value.
    fn draws(s: &mut Seeded, op: &Op) -> (bool, Option<(u8, bool)>, Duration) {
        let fault = s.fault(op).map(|f| (f.step, f.panic));
        (s.stalls(op), fault, s.backoff(op))
    }

    #[test]
    fn a_draw_depends_on_the_seed_op_and_attempt_not_on_the_order_of_draws() {
        let ops: Vec<Op> = (0..64).map(|i| op(i, (i % 3) as u32)).collect();
        let mut forward = seeded(7);
        let mut backward = seeded(7);
        let a: Vec<_> = ops.iter().map(|o| draws(&mut forward, o)).collect();
        let mut b: Vec<_> = ops.iter().rev().map(|o| draws(&mut backward, o)).collect();
        b.reverse();
        assert_eq!(a, b);
        // The same op draws again the same; another attempt, op or seed
        // draws differently somewhere.
        assert_eq!(draws(&mut seeded(7), &ops[5]), a[5]);
        let retried: Vec<_> = (0..64).map(|i| draws(&mut seeded(7), &op(i, 4))).collect();
        assert_ne!(a, retried);
        let other: Vec<_> = ops.iter().map(|o| draws(&mut seeded(8), o)).collect();
        assert_ne!(a, other);
        // Both outcomes of each coin occur.
        assert!(a.iter().any(|d| d.0) && a.iter().any(|d| !d.0));
        assert!(a.iter().any(|d| d.1.is_some()) && a.iter().any(|d| d.1.is_none()));
    }
}
