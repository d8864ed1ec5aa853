//! Task 2, the conflict monitor: resolves each target as ops arrive.
//!
//! The monitor owns every Pending op, grouped by target, and knows which op
//! each target is executing. A target is resolved — by the pure rule in
//! [`crate::resolve`] — when a batch arrives for it, when a failed op comes
//! back from its backoff, when its executing op finishes, and when a grace
//! period it protected ends. Nothing else is ever scanned: the cost of a
//! resolution depends on the ops at that target only.
//!
//! Decisions go to the lifecycle driver as commands, after the events that
//! describe them have been flushed, so observers always learn of a
//! decision before its consequences.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::{Clock, Cmd, DriverMsg, Inject, SubmitMsg};
use crate::events::{Decision, Event, EventKind, Publisher, RejectReason};
use crate::metrics::Counters;
use crate::ops::lifecycle::Transition;
use crate::ops::{Op, OpId, OpState, Priority};
use crate::resolve::{Action, Contender, Running, decide};

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
    grace_timer: Option<Key>,
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

/// What the monitor counted, returned when it stops.
pub struct MonitorResult {
    pub published: u64,
    pub illegal_transitions: u64,
}

pub struct Monitor {
    pub clock: Clock,
    pub grace: Duration,
    pub publisher: Publisher,
    pub counters: Arc<Counters>,
    pub permits: Arc<Semaphore>,
    pub from_submitter: mpsc::Receiver<SubmitMsg>,
    pub from_driver: mpsc::UnboundedReceiver<Vec<DriverMsg>>,
    pub to_driver: mpsc::Sender<Vec<Cmd>>,
    /// Receives the drain deadline: cancel what is Pending, start nothing.
    pub close: mpsc::Receiver<()>,
    pub stop: CancellationToken,
    pub inject: Option<Inject>,
    pub seed: u64,
}

struct State {
    slots: Vec<Slot>,
    grace_timers: DelayQueue<u32>,
    cmds: Vec<Cmd>,
    scratch: Vec<Contender>,
    closed: bool,
    // Per-iteration tallies, added to the shared counters at each flush.
    settled: u64,
    rejected: u64,
    cancelled: u64,
    grace_saves: u64,
    conflicts: u64,
    illegal: u64,
    rng: SmallRng,
    inject: Option<Inject>,
    dropped_one: bool,
    submitted_seen: u64,
}

impl Monitor {
    pub async fn run(self, num_targets: u32) -> MonitorResult {
        let Monitor {
            clock,
            grace,
            mut publisher,
            counters,
            permits,
            mut from_submitter,
            mut from_driver,
            to_driver,
            mut close,
            stop,
            inject,
            seed,
        } = self;
        let mut st = State {
            slots: (0..num_targets).map(|_| Slot::default()).collect(),
            grace_timers: DelayQueue::new(),
            cmds: Vec::new(),
            scratch: Vec::new(),
            closed: false,
            settled: 0,
            rejected: 0,
            cancelled: 0,
            grace_saves: 0,
            conflicts: 0,
            illegal: 0,
            rng: SmallRng::seed_from_u64(seed),
            inject,
            dropped_one: false,
            submitted_seen: 0,
        };
        let mut lose_event_armed = inject == Some(Inject::LoseEvent);
        let mut illegal_total = 0;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(msgs) = from_driver.recv() => {
                    st.on_driver(msgs, &clock, grace, &mut publisher);
                    // Take whatever else is already queued, without waiting.
                    while let Ok(more) = from_driver.try_recv() {
                        st.on_driver(more, &clock, grace, &mut publisher);
                    }
                }
                Some(msg) = from_submitter.recv() => {
                    st.on_submit(msg, &clock, grace, &mut publisher);
                    for _ in 0..8 {
                        match from_submitter.try_recv() {
                            Ok(more) => st.on_submit(more, &clock, grace, &mut publisher),
                            Err(_) => break,
                        }
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| st.grace_timers.poll_expired(cx)) => {
                    let t = expired.into_inner();
                    st.slots[t as usize].grace_timer = None;
                    let now = clock.now_ns();
                    st.resolve(t, now, &clock, grace, &mut publisher);
                }
                Some(()) = close.recv() => st.close(clock.now_ns(), &mut publisher),
                else => break,
            }
            if lose_event_armed && publisher.published() > 100 {
                publisher.lose_one_event();
                lose_event_armed = false;
            }
            // Events before commands: observers learn of a decision before
            // its consequences.
            publisher.flush().await;
            if !st.cmds.is_empty() {
                let cmds = std::mem::take(&mut st.cmds);
                let _ = to_driver.send(cmds).await;
            }
            Counters::add(&counters.rejected, std::mem::take(&mut st.rejected));
            Counters::add(&counters.cancelled, std::mem::take(&mut st.cancelled));
            Counters::add(&counters.grace_saves, std::mem::take(&mut st.grace_saves));
            Counters::add(&counters.conflicts, std::mem::take(&mut st.conflicts));
            illegal_total += std::mem::take(&mut st.illegal);
            let settled = std::mem::take(&mut st.settled);
            if settled > 0 {
                permits.add_permits(settled as usize);
            }
        }
        publisher.flush().await;
        MonitorResult {
            published: publisher.published(),
            illegal_transitions: illegal_total,
        }
    }
}

impl State {
    fn transition(&mut self, op: &mut Op, t: Transition) {
        if op.transition(t).is_err() {
            self.illegal += 1;
        }
    }

    fn on_submit(
        &mut self,
        msg: SubmitMsg,
        clock: &Clock,
        grace: Duration,
        publisher: &mut Publisher,
    ) {
        let arrived = clock.now_ns();
        let mut ops = msg.ops.into_iter();
        let mut start = 0u32;
        for end in msg.ends {
            let mut target = None;
            let len = (end - start) as usize;
            if let Some(first) = ops.as_slice().first() {
                // One allocation for the batch (and a waiting winner).
                self.slots[first.target as usize].pending.reserve(len + 1);
            }
            for op in ops.by_ref().take(len) {
                self.submitted_seen += 1;
                if self.inject == Some(Inject::NeverTerminate)
                    && !self.dropped_one
                    && self.submitted_seen > 20
                {
                    // Deliberately lose an op: it never reaches a final state.
                    self.dropped_one = true;
                    continue;
                }
                target = Some(op.target);
                self.slots[op.target as usize].pending.push(op);
            }
            start = end;
            if let Some(t) = target {
                self.resolve(t, arrived, clock, grace, publisher);
            }
        }
    }

    fn on_driver(
        &mut self,
        msgs: Vec<DriverMsg>,
        clock: &Clock,
        grace: Duration,
        publisher: &mut Publisher,
    ) {
        let arrived = clock.now_ns();
        for msg in msgs {
            match msg {
                DriverMsg::Done { target, op } => {
                    let slot = &mut self.slots[target as usize];
                    // A preempted victim's slot was already handed to its
                    // preemptor; only the current op frees the target.
                    if slot.executing.is_some_and(|e| e.id == op) {
                        slot.executing = None;
                        self.resolve(target, arrived, clock, grace, publisher);
                    }
                }
                DriverMsg::Requeue(op) => {
                    let t = op.target;
                    self.slots[t as usize].pending.push(op);
                    self.resolve(t, arrived, clock, grace, publisher);
                }
            }
        }
    }

    /// The drain deadline: cancel every Pending op and start nothing more.
    fn close(&mut self, now_ns: u64, publisher: &mut Publisher) {
        self.closed = true;
        for t in 0..self.slots.len() {
            self.cancel_pending(t as u32, now_ns, publisher);
        }
        self.cmds.push(Cmd::Close);
    }

    fn cancel_pending(&mut self, t: u32, now_ns: u64, publisher: &mut Publisher) {
        let mut pending = std::mem::take(&mut self.slots[t as usize].pending);
        if pending.is_empty() {
            return;
        }
        self.cancelled += self.settle(&mut pending, Transition::Cancel, now_ns, publisher, |_| {
            EventKind::OperationCancelled {
                from: OpState::Pending,
            }
        });
    }

    /// Move every op of `ops` to a final state along `transition`, with
    /// the event `kind` describes; returns how many.
    fn settle(
        &mut self,
        ops: &mut [Op],
        transition: Transition,
        now_ns: u64,
        publisher: &mut Publisher,
        kind: impl Fn(&Op) -> EventKind,
    ) -> u64 {
        for op in ops.iter_mut() {
            self.transition(op, transition);
            publisher.push(Event::of(op, now_ns, kind(op)));
        }
        let n = ops.len() as u64;
        self.settled += n;
        n
    }

    /// One resolution point of target `t`.
    fn resolve(
        &mut self,
        t: u32,
        arrived_ns: u64,
        clock: &Clock,
        grace: Duration,
        publisher: &mut Publisher,
    ) {
        if self.closed {
            self.cancel_pending(t, clock.now_ns(), publisher);
            return;
        }
        let slot = &mut self.slots[t as usize];
        if slot.pending.is_empty() {
            return;
        }
        self.scratch.clear();
        self.scratch.extend(slot.pending.iter().map(|op| Contender {
            id: op.id,
            effective: op.effective,
        }));
        let now = clock.now_ns();
        let running = slot.executing.map(|e| Running {
            id: e.id,
            effective: e.effective,
            elapsed: Duration::from_nanos(now.saturating_sub(e.started_ns)),
        });
        let Some(mut decision) = decide(&self.scratch, running, grace) else {
            return;
        };
        let mut pending = std::mem::take(&mut slot.pending);
        self.apply_injected_fault(&mut decision.winner, &mut decision.action, running);
        let conflict = pending.len() + usize::from(running.is_some()) >= 2;
        let mut winner = pending.swap_remove(decision.winner);
        if conflict {
            self.conflicts += 1;
            let mut ids: Vec<OpId> = Vec::with_capacity(pending.len() + 1);
            ids.push(winner.id);
            ids.extend(pending.iter().map(|o| o.id));
            publisher.push(Event::of(
                &winner,
                now,
                EventKind::OperationConflict {
                    pending: ids.into_boxed_slice(),
                    executing: running.map(|r| r.id),
                    decision: match decision.action {
                        Action::Start => Decision::Start,
                        Action::Wait => Decision::Wait,
                        Action::GraceSave { .. } => Decision::GraceSave,
                        Action::Preempt { .. } => Decision::Preempt,
                    },
                    resolution_ns: now.saturating_sub(arrived_ns),
                },
            ));
        }
        let winner_id = winner.id;
        self.rejected += self.settle(&mut pending, Transition::Lose, now, publisher, |loser| {
            EventKind::OperationRejected {
                from: OpState::Pending,
                reason: RejectReason::Outranked { winner: winner_id },
                retries: loser.retries,
            }
        });
        // The losers' buffer is dropped rather than kept: an idle target
        // holds no allocation, so memory (and the cache footprint) does not
        // grow with the number of targets.
        drop(pending);
        let slot = &mut self.slots[t as usize];
        match decision.action {
            Action::Start => {
                slot.occupy(&mut winner, now);
                self.cmds.push(Cmd::Start {
                    op: winner,
                    started_ns: now,
                });
            }
            Action::Wait => slot.pending.push(winner),
            Action::GraceSave { remaining } => {
                self.grace_saves += 1;
                if let Some(run) = running {
                    publisher.push(Event::of(
                        &winner,
                        now,
                        EventKind::GraceProtected {
                            executing: run.id,
                            elapsed_ns: run.elapsed.as_nanos() as u64,
                        },
                    ));
                }
                slot.pending.push(winner);
                // Resolve again when the protection ends. The timer wheel's
                // millisecond granularity only ever fires late, never early.
                match slot.grace_timer {
                    Some(ref key) => self.grace_timers.reset(key, remaining),
                    None => slot.grace_timer = Some(self.grace_timers.insert(t, remaining)),
                }
            }
            Action::Preempt { victim } => {
                slot.occupy(&mut winner, now);
                self.cmds.push(Cmd::Preempt {
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
            _ => {}
        }
    }
}
