//! Task 3, the lifecycle driver: executes winners, commits, fails, backs
//! off, retries and preempts.
//!
//! The driver owns the store: every write of the run happens here, in one
//! task, so the store needs no lock. A started op either executes at once
//! (one transaction, microseconds) or — with the stall fault — holds its
//! target for `stall_ms` first, which is when grace periods and preemption
//! come into play. A failed attempt waits out its backoff in a timer queue
//! and then goes back to the monitor as Pending; one that has spent its
//! retry budget is rejected.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rustc_hash::FxHashMap;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::{Clock, Cmd, DriverMsg, Inject};
use crate::ecs::Store;
use crate::events::{Event, EventKind, Publisher, RejectReason};
use crate::metrics::Counters;
use crate::ops::backoff::Backoff;
use crate::ops::exec::{self, Fault};
use crate::ops::lifecycle::Transition;
use crate::ops::{FailReason, Op, OpId, OpState};

/// Probability that an injected failure is a panic rather than an error.
const PANIC_SHARE: f64 = 0.2;

pub struct DriverConfig {
    pub backoff: Backoff,
    pub failure_probability: f64,
    pub stall_probability: f64,
    pub stall: Duration,
    pub inject: Option<Inject>,
    pub seed: u64,
}

pub struct Driver {
    pub store: Store,
    pub config: DriverConfig,
    pub clock: Clock,
    pub publisher: Publisher,
    pub counters: Arc<Counters>,
    pub permits: Arc<Semaphore>,
    pub from_monitor: mpsc::Receiver<Vec<Cmd>>,
    pub to_monitor: mpsc::UnboundedSender<Vec<DriverMsg>>,
    pub stop: CancellationToken,
}

/// What the driver hands back when it stops.
pub struct DriverResult {
    pub store: Store,
    pub published: u64,
    pub illegal_transitions: u64,
}

struct State {
    store: Store,
    cfg: DriverConfig,
    rng: SmallRng,
    stalled: DelayQueue<Op>,
    stalled_keys: FxHashMap<OpId, Key>,
    backoff: DelayQueue<(Op, u64)>,
    backoff_keys: FxHashMap<OpId, Key>,
    out: Vec<DriverMsg>,
    closed: bool,
    // Per-iteration tallies.
    started: u64,
    succeeded: u64,
    rejected: u64,
    cancelled: u64,
    failed: u64,
    retried: u64,
    preempted: u64,
    panics: u64,
    illegal: u64,
    /// Ops that reached a final state since the last flush.
    settled_pending: u64,
}

impl Driver {
    pub async fn run(self) -> DriverResult {
        let Driver {
            store,
            config,
            clock,
            mut publisher,
            counters,
            permits,
            mut from_monitor,
            to_monitor,
            stop,
        } = self;
        let mut st = State {
            store,
            rng: SmallRng::seed_from_u64(config.seed),
            cfg: config,
            stalled: DelayQueue::new(),
            stalled_keys: FxHashMap::default(),
            backoff: DelayQueue::new(),
            backoff_keys: FxHashMap::default(),
            out: Vec::new(),
            closed: false,
            started: 0,
            succeeded: 0,
            rejected: 0,
            cancelled: 0,
            failed: 0,
            retried: 0,
            preempted: 0,
            panics: 0,
            illegal: 0,
            settled_pending: 0,
        };
        let mut illegal_total = 0;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(cmds) = from_monitor.recv() => {
                    st.on_cmds(cmds, &clock, &mut publisher);
                    while let Ok(more) = from_monitor.try_recv() {
                        st.on_cmds(more, &clock, &mut publisher);
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| st.stalled.poll_expired(cx)) => {
                    let op = expired.into_inner();
                    st.stalled_keys.remove(&op.id);
                    st.execute(op, &clock, &mut publisher);
                }
                Some(expired) = std::future::poll_fn(|cx| st.backoff.poll_expired(cx)) => {
                    let (op, backoff_ns) = expired.into_inner();
                    st.backoff_keys.remove(&op.id);
                    st.retry(op, backoff_ns, &clock, &mut publisher);
                }
                else => break,
            }
            publisher.flush().await;
            if !st.out.is_empty() {
                let _ = to_monitor.send(std::mem::take(&mut st.out));
            }
            Counters::add(&counters.started, std::mem::take(&mut st.started));
            Counters::add(&counters.succeeded, std::mem::take(&mut st.succeeded));
            Counters::add(&counters.rejected, std::mem::take(&mut st.rejected));
            Counters::add(&counters.cancelled, std::mem::take(&mut st.cancelled));
            Counters::add(&counters.failed_attempts, std::mem::take(&mut st.failed));
            Counters::add(&counters.retried, std::mem::take(&mut st.retried));
            Counters::add(&counters.preempted, std::mem::take(&mut st.preempted));
            Counters::add(&counters.panics, std::mem::take(&mut st.panics));
            illegal_total += std::mem::take(&mut st.illegal);
            let settled = st.take_settled();
            if settled > 0 {
                permits.add_permits(settled as usize);
            }
        }
        publisher.flush().await;
        DriverResult {
            store: st.store,
            published: publisher.published(),
            illegal_transitions: illegal_total,
        }
    }
}

impl State {
    /// Ops settled since the last call (their permits go back).
    fn take_settled(&mut self) -> u64 {
        std::mem::take(&mut self.settled_pending)
    }

    fn transition(&mut self, op: &mut Op, t: Transition) {
        if op.transition(t).is_err() {
            self.illegal += 1;
        }
    }

    fn on_cmds(&mut self, cmds: Vec<Cmd>, clock: &Clock, publisher: &mut Publisher) {
        for cmd in cmds {
            match cmd {
                Cmd::Start { op, started_ns } => self.start(op, started_ns, clock, publisher),
                Cmd::Preempt {
                    victim,
                    winner,
                    decided_ns,
                } => {
                    if let Some(key) = self.stalled_keys.remove(&victim) {
                        let mut op = self.stalled.remove(&key).into_inner();
                        let elapsed_ns =
                            decided_ns.saturating_sub(op.started_ns.unwrap_or(decided_ns));
                        self.preempted += 1;
                        publisher.push(Event::of(
                            &op,
                            decided_ns,
                            EventKind::OperationPreempted {
                                by: winner.id,
                                elapsed_ns,
                            },
                        ));
                        self.transition(&mut op, Transition::Fail);
                        self.after_failure(
                            op,
                            FailReason::Preempted { by: winner.id },
                            decided_ns,
                            publisher,
                        );
                    }
                    // The victim may have finished on its own meanwhile;
                    // either way the target is the winner's now.
                    self.start(winner, decided_ns, clock, publisher);
                }
                Cmd::Close => self.close(clock, publisher),
            }
        }
    }

    fn start(&mut self, mut op: Op, started_ns: u64, clock: &Clock, publisher: &mut Publisher) {
        self.transition(&mut op, Transition::Start);
        op.started_ns = Some(started_ns);
        self.started += 1;
        publisher.push(Event::of(
            &op,
            started_ns,
            EventKind::OperationStarted {
                attempt: op.retries + 1,
            },
        ));
        if self.cfg.stall_probability > 0.0 && self.rng.random_bool(self.cfg.stall_probability) {
            let id = op.id;
            let key = self.stalled.insert(op, self.cfg.stall);
            self.stalled_keys.insert(id, key);
        } else {
            self.execute(op, clock, publisher);
        }
    }

    fn execute(&mut self, mut op: Op, clock: &Clock, publisher: &mut Publisher) {
        let fault = if self.cfg.failure_probability > 0.0
            && self.rng.random_bool(self.cfg.failure_probability)
        {
            Some(Fault {
                step: self.rng.random_range(1..=exec::steps(&op.kind)),
                panic: self.rng.random_bool(PANIC_SHARE),
            })
        } else {
            None
        };
        let leak = self.cfg.inject == Some(Inject::PartialWrite) && fault.is_some_and(|f| !f.panic);
        let at_us = chrono::Utc::now().timestamp_micros();
        let began = Instant::now();
        let store = &mut self.store;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            exec::execute(store, &op, at_us, fault, leak)
        }));
        let execution_ns = began.elapsed().as_nanos() as u64;
        let now = clock.now_ns();
        let done = DriverMsg::Done {
            target: op.target,
            op: op.id,
        };
        match result {
            Ok(Ok(executed)) => {
                self.transition(&mut op, Transition::Commit);
                op.finished_ns = Some(now);
                self.succeeded += 1;
                self.settled_pending += 1;
                publisher.push(Event::of(
                    &op,
                    now,
                    EventKind::OperationCompleted {
                        execution_ns,
                        end_to_end_ns: now.saturating_sub(op.submitted_ns),
                        effect: executed.effect,
                    },
                ));
                if !executed.fields.is_empty() {
                    publisher.push(Event::of(
                        &op,
                        now,
                        EventKind::EntityModified {
                            fields: executed.fields,
                        },
                    ));
                }
                for v in executed.versions {
                    let mut ev = Event::of(
                        &op,
                        now,
                        EventKind::EntityVersioned {
                            ecs_id: v.ecs_id,
                            previous: v.previous,
                            number: v.number,
                        },
                    );
                    ev.target = v.entity.0;
                    publisher.push(ev);
                }
            }
            Ok(Err(reason)) => {
                let injected =
                    fault.is_some() && matches!(reason, FailReason::InjectedFault { .. });
                self.fail(op, reason, injected, now, publisher);
            }
            Err(payload) => {
                self.panics += 1;
                let injected = payload.downcast_ref::<exec::InjectedPanic>().is_some();
                self.fail(op, FailReason::Panic, injected, now, publisher);
            }
        }
        self.out.push(done);
    }

    /// Executing → Failed, reported as `OperationFailed`.
    fn fail(
        &mut self,
        mut op: Op,
        reason: FailReason,
        injected: bool,
        now: u64,
        publisher: &mut Publisher,
    ) {
        self.transition(&mut op, Transition::Fail);
        publisher.push(Event::of(
            &op,
            now,
            EventKind::OperationFailed {
                reason,
                attempt: op.retries + 1,
                injected,
            },
        ));
        self.after_failure(op, reason, now, publisher);
    }

    /// A Failed op: back off and retry, or reject for a spent budget, or
    /// cancel if the drain deadline has passed.
    fn after_failure(
        &mut self,
        mut op: Op,
        reason: FailReason,
        now: u64,
        publisher: &mut Publisher,
    ) {
        self.failed += 1;
        op.last_error = Some(reason);
        if self.closed {
            self.cancel(op, now, publisher);
        } else if op.retries < op.budget {
            let delay = self.cfg.backoff.delay(op.retries, &mut self.rng);
            let id = op.id;
            let key = self.backoff.insert((op, delay.as_nanos() as u64), delay);
            self.backoff_keys.insert(id, key);
        } else {
            self.transition(&mut op, Transition::SpendBudget);
            self.rejected += 1;
            self.settled_pending += 1;
            publisher.push(Event::of(
                &op,
                now,
                EventKind::OperationRejected {
                    from: OpState::Failed,
                    reason: RejectReason::BudgetSpent,
                    retries: op.retries,
                },
            ));
        }
    }

    fn cancel(&mut self, mut op: Op, now: u64, publisher: &mut Publisher) {
        self.transition(&mut op, Transition::Cancel);
        self.cancelled += 1;
        self.settled_pending += 1;
        publisher.push(Event::of(
            &op,
            now,
            EventKind::OperationCancelled {
                from: OpState::Failed,
            },
        ));
    }

    /// The backoff is over: Failed → Pending, back to the monitor.
    fn retry(&mut self, mut op: Op, backoff_ns: u64, clock: &Clock, publisher: &mut Publisher) {
        op.retries += 1;
        self.transition(&mut op, Transition::Retry);
        self.retried += 1;
        publisher.push(Event::of(
            &op,
            clock.now_ns(),
            EventKind::OperationRetry {
                retry: op.retries,
                max: op.budget,
                backoff_ns,
            },
        ));
        self.out.push(DriverMsg::Requeue(op));
    }

    /// The drain deadline: ops waiting out a backoff are cancelled, and so
    /// is every op that fails from now on.
    fn close(&mut self, clock: &Clock, publisher: &mut Publisher) {
        self.closed = true;
        let now = clock.now_ns();
        let keys: Vec<Key> = self.backoff_keys.drain().map(|(_, k)| k).collect();
        for key in keys {
            let (op, _) = self.backoff.remove(&key).into_inner();
            self.cancel(op, now, publisher);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};
    use crate::ecs::EntityId;
    use crate::events::Bus;
    use crate::harness::World;
    use crate::ops::{OpKind, Priority, RetryBudgets};

    /// The monitor's side of the protocol, reduced to what the test needs:
    /// every op that comes back from its backoff is started again.
    async fn restart_requeued(
        mut from_driver: mpsc::UnboundedReceiver<Vec<DriverMsg>>,
        to_driver: mpsc::Sender<Vec<Cmd>>,
    ) {
        while let Some(msgs) = from_driver.recv().await {
            for msg in msgs {
                if let DriverMsg::Requeue(op) = msg {
                    let _ = to_driver.send(vec![Cmd::Start { op, started_ns: 0 }]).await;
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_op_backs_off_for_real_and_stops_at_its_budget() {
        let config = parse_str(
            "num_targets = 1\nnum_sources = 1",
            "test",
            &Overrides::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let world = World::build(&config, 3).unwrap_or_else(|e| panic!("{e}"));
        let shadow = world.shadows[0].clone();
        let mut bus = Bus::new(64);
        let mut sub = bus.subscribe();
        let publisher = bus.publisher();
        drop(bus);
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let (msg_tx, msg_rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let counters = Arc::new(Counters::default());
        let base = Duration::from_millis(10);
        let driver = tokio::spawn(
            Driver {
                store: world.store,
                config: DriverConfig {
                    backoff: Backoff {
                        base,
                        max: Duration::from_millis(40),
                    },
                    failure_probability: 1.0,
                    stall_probability: 0.0,
                    stall: Duration::ZERO,
                    inject: None,
                    seed: 11,
                },
                clock: Clock::new(),
                publisher,
                counters: Arc::clone(&counters),
                permits: Arc::new(Semaphore::new(0)),
                from_monitor: cmd_rx,
                to_monitor: msg_tx,
                stop: stop.clone(),
            }
            .run(),
        );
        tokio::spawn(restart_requeued(msg_rx, cmd_tx.clone()));
        let budgets = RetryBudgets {
            structural: 3,
            normal: 3,
            low_priority: 3,
        };
        let op = Op::new(
            OpId(1),
            OpKind::ComplexUpdate { data_value: 1.0 },
            Priority::HIGH,
            0,
            &budgets,
            0,
        );
        let began = tokio::time::Instant::now();
        cmd_tx
            .send(vec![Cmd::Start { op, started_ns: 0 }])
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
        let result = driver.await.unwrap_or_else(|e| panic!("{e}"));
        // Four failed attempts, no trace in the store.
        assert_eq!(
            shadow.diff(&result.store, EntityId(0)),
            Vec::<String>::new()
        );
    }
}
