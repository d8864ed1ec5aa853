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
//!
//! The decisions live in [`state::State`], a synchronous state machine
//! tested by the scripts under `testscripts/driver/`. This task is the loop
//! around it: it reads the clocks, runs each requested execution against
//! the store (catching panics), keeps the stall and backoff timers, and
//! sends the events, then the messages for the monitor.

#[cfg(test)]
mod scripts;
pub(crate) mod state;

use crate::ops::FailReason;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::{Clock, Cmd, DriverMsg, Inject};
use crate::ecs::Store;
use crate::events::Publisher;
use crate::metrics::Counters;
use crate::ops::OpId;
use crate::ops::backoff::Backoff;
use crate::ops::exec;
use state::{Chance, Outcome, Outputs, Seeded, State, Timer};

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

/// Per-op timers on tokio's timer wheel.
#[derive(Default)]
struct Timers {
    queue: DelayQueue<OpId>,
    keys: FxHashMap<OpId, Key>,
}

impl Timers {
    fn arm(&mut self, id: OpId, after: Duration) {
        let key = self.queue.insert(id, after);
        self.keys.insert(id, key);
    }

    fn disarm(&mut self, id: OpId) {
        if let Some(key) = self.keys.remove(&id) {
            self.queue.remove(&key);
        }
    }
}

/// The store and the clock: carries out the state machine's executions.
struct Executor {
    store: Store,
    clock: Clock,
    /// [`Inject::WallClock`]: date commits by the wall clock.
    wall_clock: bool,
}

impl Executor {
    /// Run every execution the last input asked for, feeding each outcome
    /// back before anything else happens.
    fn run<C: Chance>(&mut self, st: &mut State<C>, out: &mut Outputs) {
        while let Some(x) = out.execute.take() {
            let at_us = if self.wall_clock {
                chrono::Utc::now().timestamp_micros()
            } else {
                self.clock.date_us()
            };
            // The transaction's wall time: a measurement for the report,
            // never an input to a decision.
            let began = Instant::now();
            let store = &mut self.store;
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                exec::execute(store, &x.op, at_us, x.fault, x.leak)
            }));
            let execution_ns = began.elapsed().as_nanos() as u64;
            let outcome = match result {
                Ok(Ok(executed)) => Outcome::Committed(executed),
                Ok(Err(reason)) => Outcome::Failed {
                    injected: x.fault.is_some()
                        && matches!(reason, FailReason::InjectedFault { .. }),
                    reason,
                },
                Err(payload) => Outcome::Panicked {
                    injected: payload.downcast_ref::<exec::InjectedPanic>().is_some(),
                },
            };
            st.executed(x.op, outcome, execution_ns, self.clock.now_ns(), out);
        }
    }
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
        let chance = Seeded::new(
            config.seed,
            config.backoff,
            config.failure_probability,
            config.stall_probability,
        );
        let mut st = State::new(chance, config.stall, config.inject);
        let mut exec = Executor {
            store,
            clock,
            wall_clock: config.inject == Some(Inject::WallClock),
        };
        let mut out = Outputs::default();
        let mut stalls = Timers::default();
        let mut backoffs = Timers::default();
        let mut illegal_total = 0;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(cmds) = from_monitor.recv() => {
                    from_the_monitor(&mut st, &mut exec, cmds, &mut out);
                    while let Ok(more) = from_monitor.try_recv() {
                        from_the_monitor(&mut st, &mut exec, more, &mut out);
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| stalls.queue.poll_expired(cx)) => {
                    let id = expired.into_inner();
                    stalls.keys.remove(&id);
                    st.stall_end(id, &mut out);
                    exec.run(&mut st, &mut out);
                }
                Some(expired) = std::future::poll_fn(|cx| backoffs.queue.poll_expired(cx)) => {
                    let id = expired.into_inner();
                    backoffs.keys.remove(&id);
                    st.backoff_end(id, clock.now_ns(), &mut out);
                }
                else => break,
            }
            for timer in out.timers.drain(..) {
                match timer {
                    Timer::Stall(id, after) => stalls.arm(id, after),
                    Timer::Backoff(id, after) => backoffs.arm(id, after),
                    Timer::CancelStall(id) => stalls.disarm(id),
                    Timer::CancelBackoff(id) => backoffs.disarm(id),
                }
            }
            for event in out.events.drain(..) {
                publisher.push(event);
            }
            publisher.flush().await;
            if !out.msgs.is_empty() {
                let _ = to_monitor.send(std::mem::take(&mut out.msgs));
            }
            let tally = std::mem::take(&mut out.tally);
            Counters::add(&counters.started, tally.started);
            Counters::add(&counters.succeeded, tally.succeeded);
            Counters::add(&counters.rejected, tally.rejected);
            Counters::add(&counters.cancelled, tally.cancelled);
            Counters::add(&counters.failed_attempts, tally.failed);
            Counters::add(&counters.retried, tally.retried);
            Counters::add(&counters.preempted, tally.preempted);
            Counters::add(&counters.panics, tally.panics);
            illegal_total += tally.illegal;
            if tally.settled > 0 {
                permits.add_permits(tally.settled as usize);
            }
        }
        publisher.flush().await;
        DriverResult {
            store: exec.store,
            published: publisher.published(),
            illegal_transitions: illegal_total,
        }
    }
}

/// Feed the monitor's commands one by one, each execution they ask for
/// carried out before the next command.
fn from_the_monitor<C: Chance>(
    st: &mut State<C>,
    exec: &mut Executor,
    cmds: Vec<Cmd>,
    out: &mut Outputs,
) {
    for cmd in cmds {
        match cmd {
            Cmd::Start { op, started_ns } => st.start(op, started_ns, out),
            Cmd::Preempt {
                victim,
                winner,
                decided_ns,
            } => st.preempt(victim, winner, decided_ns, out),
            Cmd::Close => st.close(exec.clock.now_ns(), out),
        }
        exec.run(st, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};
    use crate::ecs::EntityId;
    use crate::events::{Bus, EventKind, RejectReason};
    use crate::harness::World;
    use crate::ops::{Op, OpKind, OpState, Priority, RetryBudgets};

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
                clock: Clock::new(crate::config::ClockMode::Real),
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
