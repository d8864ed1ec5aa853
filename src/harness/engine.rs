//! Task 2, the engine: the conflict monitor and the lifecycle driver in one
//! task, deciding and executing each target in one place.
//!
//! The two halves keep their own synchronous state machines — the
//! monitor's [`monitor::state::State`] decides, the driver's
//! [`driver::state::State`] executes against the store it owns — and
//! speak the same messages as ever ([`Cmd`] one way, [`DriverMsg`] the
//! other). What changed is the wire between them: the messages go through
//! two in-memory vectors, handed over in a loop until neither half has
//! anything left to say, instead of through two channels and two task
//! wake-ups. With one winner per batch, a target commits once per
//! monitor → driver → monitor round trip; in one task that round trip
//! costs a function call, not a pair of wake-ups.
//!
//! The store stays single-writer (only this task touches it), every
//! decision and execution runs exactly as the golden scripts of both
//! machines pin it, and the order of the events is the causal one: a
//! decision's events are buffered before those of the execution it led
//! to, on one publisher, so observers learn of a decision before its
//! consequences.
//!
//! Every select is biased and the hand-over loop is deterministic, so on
//! the virtual clock the interleaving is a function of the run's inputs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::driver::{self, DriverConfig, Executor, Timers};
use super::monitor::{self, GraceTimers};
use super::{Clock, Cmd, DriverMsg, Inject, SubmitMsg};
use crate::ecs::{EntityId, Store};
use crate::events::Publisher;
use crate::metrics::{Counters, Tally};
use crate::prefetch;

/// Submitter messages taken in one go after the first, before the engine
/// flushes its events and listens to its timers again.
const SUBMIT_BURST: usize = 8;

/// Inputs the engine may take at one instant of the virtual clock before
/// the run is declared stuck (at least; see [`Standstill::new`]).
/// The virtual clock moves only when every task waits, so an engine that
/// keeps giving itself work at one instant (a timer re-armed for no time,
/// say) would otherwise hold the run there forever. A healthy instant
/// takes a handful of inputs: a submitter's message, and the timers of
/// ops that happen to end together.
const STUCK_AFTER: u64 = 100_000;

pub struct Engine {
    pub store: Store,
    pub num_targets: u32,
    pub grace: Duration,
    pub driver: DriverConfig,
    pub clock: Clock,
    pub publisher: Publisher,
    pub counters: Arc<Counters>,
    pub permits: Arc<Semaphore>,
    pub from_submitter: mpsc::Receiver<SubmitMsg>,
    /// Receives the drain deadline: cancel what is Pending, start nothing.
    pub close: mpsc::Receiver<()>,
    pub stop: CancellationToken,
    pub inject: Option<Inject>,
    /// The monitor's seed (injected faults); the driver's is in `driver`.
    pub seed: u64,
    /// The run's limit of ops in flight (see [`Standstill::new`]).
    pub max_in_flight: u64,
}

/// The engine took too many inputs at one instant of the virtual clock and
/// was stopped there (see [`STUCK_AFTER`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// The instant, in ns of run time.
    pub at_ns: u64,
    /// Inputs taken at that instant.
    pub inputs: u64,
}

/// What the engine hands back when it stops.
pub struct EngineResult {
    pub store: Store,
    pub published: u64,
    pub illegal_transitions: u64,
    /// Set if the engine stopped because the virtual clock stood still.
    pub stuck: Option<Stuck>,
}

/// Counts the engine's inputs at one instant of the virtual clock.
struct Standstill {
    at_ns: u64,
    inputs: u64,
    limit: u64,
}

impl Standstill {
    /// At one instant each op in flight may end two timers (a stall or a
    /// backoff, then the grace protection of its target), and the
    /// submitter may send one message: a healthy instant takes at most
    /// about twice as many inputs as ops may be in flight.
    fn new(max_in_flight: u64) -> Standstill {
        Standstill {
            at_ns: 0,
            inputs: 0,
            limit: STUCK_AFTER.max(max_in_flight.saturating_mul(2)),
        }
    }

    /// One more input at `now_ns`; `Some` once the instant has taken more
    /// than its limit.
    fn input(&mut self, now_ns: u64) -> Option<Stuck> {
        if now_ns != self.at_ns {
            self.at_ns = now_ns;
            self.inputs = 0;
        }
        self.inputs += 1;
        (self.inputs > self.limit).then_some(Stuck {
            at_ns: now_ns,
            inputs: self.inputs,
        })
    }
}

/// The two state machines, their outputs and their timers.
struct Halves {
    mon: monitor::state::State,
    mon_out: monitor::state::Outputs,
    drv: driver::state::State<driver::state::Seeded>,
    drv_out: driver::state::Outputs,
    exec: Executor,
    grace: GraceTimers,
    stalls: Timers,
    backoffs: Timers,
    /// Reused buffers for the hand-over.
    cmds: Vec<Cmd>,
    /// Whether there are targets enough for prefetching to pay.
    prefetch: bool,
    /// The targets of a message's batches, in order (reused), when
    /// prefetching.
    targets: Vec<EntityId>,
    msgs: Vec<DriverMsg>,
    illegal: u64,
    /// Counts and permits of settled ops not yet handed to the shared
    /// counters and the in-flight semaphore: [`Halves::release`] does that
    /// once per loop of the engine, not once per batch, so the submitter's
    /// core sees one atomic update of each instead of hundreds.
    owed: Tally,
    owed_permits: u64,
}

impl Halves {
    /// A message of the submitter, batch by batch: each batch is decided
    /// and whatever it started is executed before the next batch is seen,
    /// as if the batches had arrived one after another (they were built
    /// one after another). Deciding a whole message first would let every
    /// batch of a target meet the winner of the first one still waiting,
    /// and commit once per target per message.
    fn submitted(&mut self, msg: SubmitMsg, publisher: &mut Publisher) {
        let arrived = self.exec.read();
        // With many targets, no cache holds a batch's target: each is
        // asked for a few batches ahead (see `crate::prefetch::ahead`),
        // its entity record and monitor slot first, then what the record
        // points to, and one batch ahead the oldest snapshot's fields.
        self.targets.clear();
        if self.prefetch {
            let mut start = 0u32;
            for &end in &msg.ends {
                if let Some(op) = msg.ops.get(start as usize) {
                    self.targets.push(EntityId(op.target));
                }
                start = end;
            }
        }
        let (far, near) = (2 * prefetch::DISTANCE, prefetch::DISTANCE);
        for &t in self.targets.iter().take(far) {
            self.far(t);
        }
        for &t in self.targets.iter().take(near) {
            self.exec.store.prefetch_blocks(t);
        }
        let mut ops = msg.ops.into_iter();
        let mut start = 0u32;
        for (i, end) in msg.ends.into_iter().enumerate() {
            if let Some(&t) = self.targets.get(i + far) {
                self.far(t);
            }
            if let Some(&t) = self.targets.get(i + near) {
                self.exec.store.prefetch_blocks(t);
            }
            if let Some(&t) = self.targets.get(i + 1) {
                self.exec.store.prefetch_oldest(t);
            }
            let len = (end - start) as usize;
            // The arrival of the message, or the end of the previous
            // batch's transaction.
            let now = self.exec.latest_ns;
            self.mon
                .batch(ops.by_ref().take(len), arrived, now, &mut self.mon_out);
            self.settle(publisher);
            start = end;
        }
    }

    /// The first stage of a target's prefetch.
    fn far(&self, t: EntityId) {
        self.exec.store.prefetch(t);
        self.mon.prefetch(t.0);
    }

    /// Carry out what the last input decided, handing commands to the
    /// driver and its messages back to the monitor until both are quiet.
    /// Events go to `publisher` in causal order; timers are armed; counts
    /// and the permits of settled ops are owed until [`Halves::release`].
    fn settle(&mut self, publisher: &mut Publisher) {
        loop {
            for event in self.mon_out.events.drain(..) {
                publisher.push(event);
            }
            for (t, after) in self.mon_out.timers.drain(..) {
                self.grace.arm(t, after);
            }
            if !self.mon_out.cmds.is_empty() {
                std::mem::swap(&mut self.cmds, &mut self.mon_out.cmds);
                driver::from_the_monitor(
                    &mut self.drv,
                    &mut self.exec,
                    self.cmds.drain(..),
                    &mut self.drv_out,
                );
            }
            for event in self.drv_out.events.drain(..) {
                publisher.push(event);
            }
            for timer in self.drv_out.timers.drain(..) {
                use driver::state::Timer;
                match timer {
                    Timer::Stall(id, after) => self.stalls.arm(id, after),
                    Timer::Backoff(id, after) => self.backoffs.arm(id, after),
                    Timer::CancelStall(id) => self.stalls.disarm(id),
                    Timer::CancelBackoff(id) => self.backoffs.disarm(id),
                }
            }
            if self.drv_out.msgs.is_empty() {
                break;
            }
            std::mem::swap(&mut self.msgs, &mut self.drv_out.msgs);
            monitor::from_the_driver(
                &mut self.mon,
                self.msgs.drain(..),
                self.exec.latest_ns,
                &mut self.mon_out,
            );
        }
        let m = std::mem::take(&mut self.mon_out.tally);
        let d = std::mem::take(&mut self.drv_out.tally);
        let owed = &mut self.owed;
        owed.rejected += m.rejected + d.rejected;
        owed.cancelled += m.cancelled + d.cancelled;
        owed.grace_saves += m.grace_saves;
        owed.conflicts += m.conflicts;
        owed.started += d.started;
        owed.succeeded += d.succeeded;
        owed.failed_attempts += d.failed;
        owed.retried += d.retried;
        owed.preempted += d.preempted;
        owed.panics += d.panics;
        self.illegal += m.illegal + d.illegal;
        self.owed_permits += m.settled + d.settled;
    }

    /// Hand what [`Halves::settle`] owes to the shared counters, and the
    /// permits of the ops it settled back to the submitter.
    fn release(&mut self, counters: &Counters, permits: &Semaphore) {
        counters.add_all(&std::mem::take(&mut self.owed));
        let settled = std::mem::take(&mut self.owed_permits);
        if settled > 0 {
            permits.add_permits(settled as usize);
        }
    }
}

impl Engine {
    pub async fn run(self) -> EngineResult {
        let Engine {
            store,
            num_targets,
            grace,
            driver: config,
            clock,
            mut publisher,
            counters,
            permits,
            mut from_submitter,
            mut close,
            stop,
            inject,
            seed,
            max_in_flight,
        } = self;
        let chance = driver::state::Seeded::new(
            config.seed,
            config.backoff,
            config.failure_probability,
            config.stall_probability,
        );
        let mut h = Halves {
            mon: monitor::state::State::new(num_targets, grace, inject, seed),
            mon_out: Default::default(),
            drv: driver::state::State::new(chance, config.stall, config.inject),
            drv_out: Default::default(),
            exec: Executor {
                store,
                clock,
                wall_clock: config.inject == Some(Inject::WallClock),
                latest_ns: 0,
            },
            grace: GraceTimers::default(),
            stalls: Timers::default(),
            backoffs: Timers::default(),
            cmds: Vec::new(),
            prefetch: prefetch::pays(num_targets as usize),
            targets: Vec::new(),
            msgs: Vec::new(),
            illegal: 0,
            owed: Tally::default(),
            owed_permits: 0,
        };
        let mut lose_event_armed = inject == Some(Inject::LoseEvent);
        // Only the virtual clock can stand still; the real one is not read
        // for this.
        let mut standstill = clock.is_virtual().then(|| Standstill::new(max_in_flight));
        let mut stuck = None;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(expired) = std::future::poll_fn(|cx| h.stalls.queue.poll_expired(cx)) => {
                    let id = expired.into_inner();
                    h.stalls.fired(id);
                    h.exec.read();
                    h.drv.stall_end(id, &mut h.drv_out);
                    h.exec.run(&mut h.drv, &mut h.drv_out);
                }
                Some(expired) = std::future::poll_fn(|cx| h.backoffs.queue.poll_expired(cx)) => {
                    let id = expired.into_inner();
                    h.backoffs.fired(id);
                    h.drv.backoff_end(id, h.exec.read(), &mut h.drv_out);
                }
                Some(msg) = from_submitter.recv() => {
                    h.submitted(msg, &mut publisher);
                    for _ in 0..SUBMIT_BURST {
                        match from_submitter.try_recv() {
                            Ok(more) => h.submitted(more, &mut publisher),
                            Err(_) => break,
                        }
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| h.grace.queue.poll_expired(cx)) => {
                    let t = expired.into_inner();
                    h.grace.fired(t);
                    h.mon.grace_end(t, h.exec.read(), &mut h.mon_out);
                }
                Some(()) = close.recv() => h.mon.close(h.exec.read(), &mut h.mon_out),
                else => break,
            }
            h.settle(&mut publisher);
            h.release(&counters, &permits);
            if lose_event_armed && publisher.published() > 100 {
                publisher.lose_one_event();
                lose_event_armed = false;
            }
            publisher.flush().await;
            stuck = standstill.as_mut().and_then(|s| s.input(clock.now_ns()));
            if stuck.is_some() {
                // What is in flight stays there: the drain finds it
                // unsettled, and the verdict says why.
                break;
            }
        }
        publisher.flush().await;
        EngineResult {
            store: h.exec.store,
            published: publisher.published(),
            illegal_transitions: h.illegal,
            stuck,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClockMode, Overrides, parse_str};
    use crate::ecs::EntityId;
    use crate::events::{Bus, EventKind, RejectReason};
    use crate::harness::World;
    use crate::ops::OpId;
    use crate::ops::backoff::Backoff;
    use crate::ops::{Op, OpKind, OpState, Priority, RetryBudgets};

    #[test]
    fn a_standstill_is_declared_only_past_its_limit_at_one_instant() {
        let mut s = Standstill::new(8);
        assert_eq!(s.limit, STUCK_AFTER, "never below the fixed limit");
        for _ in 0..STUCK_AFTER {
            assert_eq!(s.input(5), None);
        }
        // Time moving on starts the count again.
        assert_eq!(s.input(6), None);
        for _ in 1..STUCK_AFTER {
            assert_eq!(s.input(6), None);
        }
        assert_eq!(
            s.input(6),
            Some(Stuck {
                at_ns: 6,
                inputs: STUCK_AFTER + 1
            })
        );
        // Many ops in flight may all end a timer at one instant.
        assert_eq!(Standstill::new(1_000_000).limit, 2_000_000);
    }

    /// A one-target world on a bus, the channels that feed an engine, and
    /// the engine over it (nothing injected), for a test to adjust.
    struct Rig {
        engine: Engine,
        sub: crate::events::Subscription,
        submit: mpsc::Sender<SubmitMsg>,
        /// The drain's signal, never sent: held so its channel stays open.
        _close: mpsc::Sender<()>,
        stop: CancellationToken,
        /// The target before the run.
        shadow: crate::ops::exec::Shadow,
    }

    fn rig(clock: ClockMode) -> Rig {
        let config = parse_str(
            "num_targets = 1\nnum_sources = 1",
            "test",
            &Overrides::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let world = World::build(&config, 3).unwrap_or_else(|e| panic!("{e}"));
        let shadow = crate::ops::exec::Shadow::capture(&world.store, EntityId(0))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut bus = Bus::new(64);
        let sub = bus.subscribe();
        let publisher = bus.publisher();
        drop(bus);
        let (submit, from_submitter) = mpsc::channel(8);
        let (close_tx, close) = mpsc::channel(1);
        let stop = CancellationToken::new();
        let engine = Engine {
            store: world.store,
            num_targets: 1,
            grace: Duration::from_millis(500),
            driver: DriverConfig {
                backoff: Backoff {
                    base: Duration::from_millis(10),
                    max: Duration::from_millis(40),
                },
                failure_probability: 0.0,
                stall_probability: 0.0,
                stall: Duration::ZERO,
                inject: None,
                seed: 11,
            },
            clock: Clock::new(clock),
            publisher,
            counters: Arc::new(Counters::default()),
            permits: Arc::new(Semaphore::new(0)),
            from_submitter,
            close,
            stop: stop.clone(),
            inject: None,
            seed: 7,
            max_in_flight: 8,
        };
        Rig {
            engine,
            sub,
            submit,
            _close: close_tx,
            stop,
            shadow,
        }
    }

    const BUDGETS: RetryBudgets = RetryBudgets {
        structural: 3,
        normal: 3,
        low_priority: 3,
    };

    /// The engine dates its decisions by its latest reading of the clock
    /// (a batch's arrival, or the end of the transaction before) instead
    /// of reading it again. On the real clock that must keep every time in
    /// order: a decision no earlier than the commit it follows, a start no
    /// later than its transaction began, a commit at its transaction's
    /// end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn decisions_on_the_real_clock_are_dated_in_order() {
        let Rig {
            engine,
            mut sub,
            submit: submit_tx,
            _close,
            stop,
            ..
        } = rig(ClockMode::Real);
        let engine = tokio::spawn(engine.run());
        // Three messages of eight batches of three ops, all on target 0:
        // every batch is decided after the commit of the batch before.
        let (messages, batches, size) = (3u64, 8u64, 3u64);
        let mut id = 0;
        for _ in 0..messages {
            let mut msg = SubmitMsg::default();
            for _ in 0..batches {
                for _ in 0..size {
                    id += 1;
                    let kind = OpKind::ComplexUpdate {
                        data_value: id as f64,
                    };
                    msg.ops
                        .push(Op::new(OpId(id), kind, Priority::HIGH, 0, &BUDGETS, 0));
                }
                msg.ends.push(msg.ops.len() as u32);
            }
            submit_tx.send(msg).await.unwrap_or_else(|e| panic!("{e}"));
        }

        let mut last_commit_ns = 0;
        let mut started_ns = std::collections::HashMap::new();
        let mut commits = 0;
        while commits < messages * batches {
            let Some(batch) = sub.recv().await else { break };
            for ev in &batch.events {
                match &ev.kind {
                    EventKind::OperationConflict { .. } => assert!(
                        ev.t_ns >= last_commit_ns,
                        "op {}: decided at {} ns, before the commit at {last_commit_ns} ns",
                        ev.op,
                        ev.t_ns
                    ),
                    EventKind::OperationStarted { .. } => {
                        assert!(ev.t_ns >= last_commit_ns, "op {} started early", ev.op);
                        started_ns.insert(ev.op, ev.t_ns);
                    }
                    EventKind::OperationCompleted { execution_ns, .. } => {
                        let began = ev.t_ns - execution_ns;
                        let started = started_ns[&ev.op];
                        assert!(
                            started <= began,
                            "op {}: started at {started} ns, after its transaction began at {began} ns",
                            ev.op
                        );
                        last_commit_ns = ev.t_ns;
                        commits += 1;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(commits, messages * batches, "one winner per batch");
        stop.cancel();
        engine.await.unwrap_or_else(|e| panic!("{e}"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_op_backs_off_for_real_and_stops_at_its_budget() {
        let Rig {
            mut engine,
            mut sub,
            submit: submit_tx,
            _close,
            stop,
            shadow,
        } = rig(ClockMode::Virtual);
        engine.driver.failure_probability = 1.0;
        let base = engine.driver.backoff.base;
        let counters = Arc::clone(&engine.counters);
        let engine = tokio::spawn(engine.run());
        let op = Op::new(
            OpId(1),
            OpKind::ComplexUpdate { data_value: 1.0 },
            Priority::HIGH,
            0,
            &BUDGETS,
            0,
        );
        let began = tokio::time::Instant::now();
        submit_tx
            .send(SubmitMsg {
                ops: vec![op],
                ends: vec![1],
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));

        let mut starts = 0;
        let mut backoffs = Vec::new();
        let mut rejected = None;
        while rejected.is_none() {
            let Some(batch) = sub.recv().await else { break };
            for ev in &batch.events {
                match &ev.kind {
                    EventKind::OperationStarted { .. } => starts += 1,
                    EventKind::OperationRetry {
                        retry,
                        max,
                        backoff_ns,
                    } => {
                        assert_eq!((*retry, *max), (backoffs.len() as u32 + 1, 3));
                        backoffs.push(*backoff_ns);
                    }
                    EventKind::OperationRejected {
                        from,
                        reason,
                        retries,
                    } => {
                        rejected = Some((*from, *reason, *retries));
                    }
                    EventKind::OperationCompleted { .. } => panic!("every attempt was set to fail"),
                    _ => {}
                }
            }
        }
        let waited = began.elapsed();
        assert_eq!(starts, 4, "the first attempt and 3 retries");
        assert_eq!(
            rejected,
            Some((OpState::Failed, RejectReason::BudgetSpent, 3))
        );
        // Each backoff within [ceiling/2, ceiling] of 10, 20, 40 ms.
        for (i, b) in backoffs.iter().enumerate() {
            let ceiling = (base * 2u32.pow(i as u32)).as_nanos() as u64;
            assert!((ceiling / 2..=ceiling).contains(b), "backoff {i}: {b} ns");
        }
        // The waits were real: the clock moved by at least their sum.
        let total: u64 = backoffs.iter().sum();
        assert!(waited.as_nanos() as u64 >= total, "{waited:?} < {total} ns");
        let c = counters.snapshot();
        assert_eq!((c.failed_attempts, c.retried, c.rejected), (4, 3, 1));

        stop.cancel();
        let result = engine.await.unwrap_or_else(|e| panic!("{e}"));
        // Four failed attempts, no trace in the store.
        assert_eq!(
            shadow.diff(&result.store, EntityId(0)),
            Vec::<String>::new()
        );
    }
}
