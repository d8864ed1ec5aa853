//! The monitor's decisions as a synchronous state machine.
//!
//! [`State`] holds everything the conflict monitor decides with: the
//! Pending ops of each target, the op each target is executing (as far as
//! the monitor knows), whether the drain deadline has passed, and the
//! seeded rng of the injected faults. It never reads a clock, sends on a
//! channel or arms a timer. Each input is a method:
//!
//! | input                        | method              |
//! |------------------------------|---------------------|
//! | a batch from the submitter   | [`State::batch`]    |
//! | driver: the op finished      | [`State::done`]     |
//! | driver: retry after backoff  | [`State::requeue`]  |
//! | a grace timer expired        | [`State::grace_end`]|
//! | the drain deadline           | [`State::close`]    |
//!
//! Each takes the current time (and, for arrivals, the time the message
//! arrived, so the resolution latency is measured as before) and appends
//! what it decided to [`Outputs`]: events for the bus, commands for the
//! driver, grace timers to (re)arm and the counters to add. The async task
//! in `monitor.rs` only feeds inputs and carries out outputs, so the same
//! rules run unchanged under a test script or a virtual clock.
//!
//! Only a busy target (an op Pending or executing) has a [`Slot`]; an idle
//! one costs the four bytes of its entry in the slot index, so a million
//! targets cost 4 MB rather than a slot each. Slots of targets that became
//! idle are reused.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::events::{Event, EventKind, RejectReason};
use crate::harness::{Cmd, Inject};
use crate::ops::lifecycle::Transition;
use crate::ops::{Op, OpId, OpState, Priority};
use crate::resolve::{Action, Contender, Running, decide};

/// What the inputs since the outputs were last taken decided.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    /// For the bus, in order; flushed before `cmds` are sent.
    pub events: Vec<Event>,
    /// For the driver, in order.
    pub cmds: Vec<Cmd>,
    /// Grace timers: resolve `target` again after the duration. A timer
    /// already armed for the target is moved, not doubled.
    pub timers: Vec<(u32, Duration)>,
    pub tally: Tally,
}

/// Counts for the shared counters; `settled` ops give their permit back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub settled: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub grace_saves: u64,
    pub conflicts: u64,
    /// Transitions the lifecycle refused (engine bugs).
    pub illegal: u64,
}

/// The op a target is executing, as the monitor knows it.
#[derive(Clone, Copy, Debug)]
struct Executing {
    id: OpId,
    effective: Priority,
    started_ns: u64,
}

#[derive(Default)]
struct Slot {
    pending: Vec<Op>,
    executing: Option<Executing>,
}

impl Slot {
    /// The target is `winner`'s from `now`: it starts (or preempts).
    fn occupy(&mut self, winner: &mut Op, now: u64) {
        self.executing = Some(Executing {
            id: winner.id,
            effective: winner.effective,
            started_ns: now,
        });
        winner.started_ns = Some(now);
    }
}

/// `State::slot_of` of an idle target.
const IDLE: u32 = u32::MAX;

/// The monitor's decision state; see the module docs.
pub(crate) struct State {
    /// Target → its slot in `slots`, or [`IDLE`].
    slot_of: Vec<u32>,
    /// Slots of the busy targets, and free ones (listed in `free`).
    slots: Vec<Slot>,
    free: Vec<u32>,
    grace: Duration,
    scratch: Vec<Contender>,
    /// The last losers' buffer, emptied: the next batch on a target
    /// without a buffer takes it instead of allocating one.
    spare: Vec<Op>,
    closed: bool,
    rng: SmallRng,
    inject: Option<Inject>,
    dropped_one: bool,
    submitted_seen: u64,
}

impl State {
    pub(crate) fn new(
        num_targets: u32,
        grace: Duration,
        inject: Option<Inject>,
        seed: u64,
    ) -> State {
        State {
            slot_of: vec![IDLE; num_targets as usize],
            slots: Vec::new(),
            free: Vec::new(),
            grace,
            scratch: Vec::new(),
            spare: Vec::new(),
            closed: false,
            rng: SmallRng::seed_from_u64(seed),
            inject,
            dropped_one: false,
            submitted_seen: 0,
        }
    }

    /// One batch of the submitter: ops for one target, resolved together.
    pub(crate) fn batch(
        &mut self,
        ops: impl ExactSizeIterator<Item = Op>,
        arrived_ns: u64,
        now_ns: u64,
        out: &mut Outputs,
    ) {
        let len = ops.len();
        let mut target = None;
        for op in ops {
            self.submitted_seen += 1;
            if self.inject == Some(Inject::NeverTerminate)
                && !self.dropped_one
                && self.submitted_seen > 20
            {
                // Deliberately lose an op: it never reaches a final state.
                self.dropped_one = true;
                continue;
            }
            if target.is_none() {
                // Room for the batch (and a waiting winner).
                self.make_room(op.target, len + 1);
            }
            target = Some(op.target);
            self.slot_mut(op.target).pending.push(op);
        }
        if let Some(t) = target {
            self.resolve(t, arrived_ns, now_ns, out);
        }
    }

    /// Room for `room` more Pending ops on target `t`: the spare buffer if
    /// the target has none and the spare is large enough, else one
    /// allocation.
    fn make_room(&mut self, t: u32, room: usize) {
        let mut spare = std::mem::take(&mut self.spare);
        let pending = &mut self.slot_mut(t).pending;
        if pending.capacity() == 0 && spare.capacity() >= room {
            std::mem::swap(pending, &mut spare);
        }
        pending.reserve(room);
        self.spare = spare;
    }

    /// The driver reports that `op`, executing on `target`, finished.
    pub(crate) fn done(
        &mut self,
        target: u32,
        op: OpId,
        arrived_ns: u64,
        now_ns: u64,
        out: &mut Outputs,
    ) {
        let Some(slot) = self.slot(target) else {
            return;
        };
        // A preempted victim's slot was already handed to its preemptor;
        // only the current op frees the target.
        if slot.executing.is_some_and(|e| e.id == op) {
            self.slot_mut(target).executing = None;
            self.resolve(target, arrived_ns, now_ns, out);
            self.release_if_idle(target);
        }
    }

    /// A failed op waited out its backoff and competes again.
    pub(crate) fn requeue(&mut self, op: Op, arrived_ns: u64, now_ns: u64, out: &mut Outputs) {
        let t = op.target;
        self.slot_mut(t).pending.push(op);
        self.resolve(t, arrived_ns, now_ns, out);
    }

    /// The grace period that protected `target`'s executing op has ended.
    pub(crate) fn grace_end(&mut self, target: u32, now_ns: u64, out: &mut Outputs) {
        self.resolve(target, now_ns, now_ns, out);
    }

    /// The drain deadline: cancel every Pending op and start nothing more.
    pub(crate) fn close(&mut self, now_ns: u64, out: &mut Outputs) {
        self.closed = true;
        // In target order, as the events of a virtual-clock run must not
        // depend on which slot a target was given.
        for t in 0..self.slot_of.len() as u32 {
            if self.slot_of[t as usize] != IDLE {
                self.cancel_pending(t, now_ns, out);
            }
        }
        out.cmds.push(Cmd::Close);
    }

    /// Target `t`: the executing op (id, effective priority, start) and
    /// the Pending ones.
    #[cfg(test)]
    pub(crate) fn describe(&self, t: u32) -> (Option<(OpId, Priority, u64)>, Vec<OpId>) {
        match self.slot(t) {
            Some(slot) => (
                slot.executing.map(|e| (e.id, e.effective, e.started_ns)),
                slot.pending.iter().map(|o| o.id).collect(),
            ),
            None => (None, Vec::new()),
        }
    }

    #[cfg(test)]
    pub(crate) fn targets(&self) -> u32 {
        self.slot_of.len() as u32
    }

    /// Slots held: the targets busy now, and free slots for reuse.
    #[cfg(test)]
    pub(crate) fn slots_held(&self) -> (usize, usize) {
        (self.slots.len() - self.free.len(), self.free.len())
    }

    /// Ask for where target `t`'s slot is noted (see [`crate::prefetch`]);
    /// the slots themselves are few and cached.
    pub(crate) fn prefetch(&self, t: u32) {
        if let Some(i) = self.slot_of.get(t as usize) {
            crate::prefetch::read(i);
        }
    }

    /// Target `t`'s slot, if it is busy.
    fn slot(&self, t: u32) -> Option<&Slot> {
        match self.slot_of[t as usize] {
            IDLE => None,
            i => Some(&self.slots[i as usize]),
        }
    }

    /// Target `t`'s slot, given one if it was idle.
    fn slot_mut(&mut self, t: u32) -> &mut Slot {
        let mut i = self.slot_of[t as usize];
        if i == IDLE {
            i = match self.free.pop() {
                Some(free) => free,
                None => {
                    self.slots.push(Slot::default());
                    (self.slots.len() - 1) as u32
                }
            };
            self.slot_of[t as usize] = i;
        }
        &mut self.slots[i as usize]
    }

    /// Give target `t`'s slot back if nothing is Pending or executing.
    fn release_if_idle(&mut self, t: u32) {
        let i = self.slot_of[t as usize];
        if i == IDLE {
            return;
        }
        let slot = &self.slots[i as usize];
        if slot.pending.is_empty() && slot.executing.is_none() {
            self.slot_of[t as usize] = IDLE;
            self.free.push(i);
        }
    }

    fn cancel_pending(&mut self, t: u32, now_ns: u64, out: &mut Outputs) {
        if self.slot(t).is_none() {
            return;
        }
        let mut pending = std::mem::take(&mut self.slot_mut(t).pending);
        self.release_if_idle(t);
        if pending.is_empty() {
            return;
        }
        out.tally.cancelled += settle(&mut pending, Transition::Cancel, now_ns, out, |_| {
            EventKind::OperationCancelled {
                from: OpState::Pending,
            }
        });
    }

    /// One resolution point of target `t`.
    fn resolve(&mut self, t: u32, arrived_ns: u64, now: u64, out: &mut Outputs) {
        if self.closed {
            self.cancel_pending(t, now, out);
            return;
        }
        if self.slot(t).is_none_or(|s| s.pending.is_empty()) {
            return;
        }
        let slot = &mut self.slots[self.slot_of[t as usize] as usize];
        self.scratch.clear();
        self.scratch.extend(slot.pending.iter().map(|op| Contender {
            id: op.id,
            effective: op.effective,
        }));
        let running = slot.executing.map(|e| Running {
            id: e.id,
            effective: e.effective,
            elapsed: Duration::from_nanos(now.saturating_sub(e.started_ns)),
        });
        let Some(mut decision) = decide(&self.scratch, running, self.grace) else {
            return;
        };
        let mut pending = std::mem::take(&mut slot.pending);
        self.apply_injected_fault(&mut decision.winner, &mut decision.action, running);
        let conflict = pending.len() + usize::from(running.is_some()) >= 2;
        let mut winner = pending.swap_remove(decision.winner);
        if conflict {
            out.tally.conflicts += 1;
            let mut ids: Vec<OpId> = Vec::with_capacity(pending.len() + 1);
            ids.push(winner.id);
            ids.extend(pending.iter().map(|o| o.id));
            out.events.push(Event::of(
                &winner,
                now,
                EventKind::OperationConflict {
                    pending: ids.into_boxed_slice(),
                    executing: running.map(|r| r.id),
                    decision: decision.action.into(),
                    resolution_ns: now.saturating_sub(arrived_ns),
                },
            ));
        }
        let winner_id = winner.id;
        out.tally.rejected += settle(&mut pending, Transition::Lose, now, out, |loser| {
            EventKind::OperationRejected {
                from: OpState::Pending,
                reason: RejectReason::Outranked { winner: winner_id },
                retries: loser.retries,
            }
        });
        // The losers' buffer is not kept by the target: an idle target
        // holds no allocation, so memory (and the cache footprint) does not
        // grow with the number of targets. It becomes the one spare.
        pending.clear();
        if pending.capacity() > self.spare.capacity() {
            self.spare = pending;
        }
        let slot = self.slot_mut(t);
        match decision.action {
            Action::Start => {
                slot.occupy(&mut winner, now);
                out.cmds.push(Cmd::Start {
                    op: winner,
                    started_ns: now,
                });
            }
            Action::Wait => slot.pending.push(winner),
            Action::GraceSave { remaining } => {
                out.tally.grace_saves += 1;
                if let Some(run) = running {
                    out.events.push(Event::of(
                        &winner,
                        now,
                        EventKind::GraceProtected {
                            executing: run.id,
                            elapsed_ns: run.elapsed.as_nanos() as u64,
                        },
                    ));
                }
                slot.pending.push(winner);
                // Resolve again when the protection ends.
                out.timers.push((t, remaining));
            }
            Action::Preempt { victim } => {
                slot.occupy(&mut winner, now);
                out.cmds.push(Cmd::Preempt {
                    victim,
                    winner,
                    decided_ns: now,
                });
            }
        }
    }

    /// The deliberately broken resolver of `--inject`: tests use it to prove
    /// the priority, exclusivity and grace checks catch a wrong decision.
    fn apply_injected_fault(
        &mut self,
        winner: &mut usize,
        action: &mut Action,
        running: Option<Running>,
    ) {
        match self.inject {
            Some(Inject::WrongWinner) if self.scratch.len() >= 2 && self.rng.random_bool(0.2) => {
                // Pick the lowest-ranked contender instead of the highest.
                let worst = (0..self.scratch.len()).min_by_key(|&i| {
                    (
                        self.scratch[i].effective,
                        std::cmp::Reverse(self.scratch[i].id),
                    )
                });
                if let Some(w) = worst {
                    *winner = w;
                }
            }
            Some(Inject::DoubleStart) if running.is_some() => {
                *action = Action::Start;
            }
            Some(Inject::IgnoreGrace) => {
                if let (Action::GraceSave { .. }, Some(run)) = (*action, running) {
                    *action = Action::Preempt { victim: run.id };
                }
            }
            Some(Inject::GraceLoop) => {
                if let (Action::Preempt { .. }, Some(run)) = (*action, running)
                    && run.elapsed == self.grace
                {
                    *action = Action::GraceSave {
                        remaining: Duration::ZERO,
                    };
                }
            }
            _ => {}
        }
    }
}

/// Move every op of `ops` to a final state along `transition`, with the
/// event `kind` describes; returns how many.
fn settle(
    ops: &mut [Op],
    transition: Transition,
    now_ns: u64,
    out: &mut Outputs,
    kind: impl Fn(&Op) -> EventKind,
) -> u64 {
    for op in ops.iter_mut() {
        if op.transition(transition).is_err() {
            out.tally.illegal += 1;
        }
        out.events.push(Event::of(op, now_ns, kind(op)));
    }
    let n = ops.len() as u64;
    out.tally.settled += n;
    n
}
