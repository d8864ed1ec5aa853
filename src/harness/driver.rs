//! The lifecycle driver, the executing half of the engine task: executes
//! winners, commits, fails, backs off, retries and preempts.
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
//! tested by the scripts under `testscripts/driver/`. This module holds
//! what the engine task (`engine.rs`) needs around it: the executor that
//! runs each requested execution against the store (catching panics and
//! reading the clocks), the stall and backoff timers, and the feeding of
//! the monitor's commands.

#[cfg(test)]
mod scripts;
pub(crate) mod state;

use crate::ops::FailReason;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::{Clock, Cmd, Inject};
use crate::ecs::Store;
use crate::ops::OpId;
use crate::ops::backoff::Backoff;
use crate::ops::exec;
use state::{Chance, Outcome, Outputs, State};

pub struct DriverConfig {
    pub backoff: Backoff,
    pub failure_probability: f64,
    pub stall_probability: f64,
    pub stall: Duration,
    pub inject: Option<Inject>,
    pub seed: u64,
}

/// Per-op timers on tokio's timer wheel.
#[derive(Default)]
pub(super) struct Timers {
    pub queue: DelayQueue<OpId>,
    keys: FxHashMap<OpId, Key>,
}

impl Timers {
    pub fn arm(&mut self, id: OpId, after: Duration) {
        let key = self.queue.insert(id, after);
        self.keys.insert(id, key);
    }

    /// `id`'s timer fired: it is no longer armed.
    pub fn fired(&mut self, id: OpId) {
        self.keys.remove(&id);
    }

    pub fn disarm(&mut self, id: OpId) {
        if let Some(key) = self.keys.remove(&id) {
            self.queue.remove(&key);
        }
    }
}

/// The store and the clock: carries out the state machine's executions.
pub(super) struct Executor {
    pub store: Store,
    pub clock: Clock,
    /// [`Inject::WallClock`]: date commits by the wall clock.
    pub wall_clock: bool,
    /// The engine's latest reading of the run clock: the arrival of its
    /// last input, or the end of its last transaction, whichever came
    /// later. What the engine decides next is dated by it rather than by
    /// a reading of its own (one costs about 45 ns in a VM, and at
    /// capacity a batch took five): the engine does nothing but compute
    /// between the two, so the reading is late by that computation only,
    /// and the times it dates keep their order.
    pub latest_ns: u64,
}

impl Executor {
    /// Read the clock as an input arrives; the reading becomes
    /// [`Executor::latest_ns`].
    pub fn read(&mut self) -> u64 {
        self.latest_ns = self.clock.now_ns();
        self.latest_ns
    }

    /// Run every execution the last input asked for, feeding each outcome
    /// back before anything else happens.
    pub fn run<C: Chance>(&mut self, st: &mut State<C>, out: &mut Outputs) {
        while let Some(x) = out.execute.take() {
            // The transaction's wall time: a measurement for the report,
            // never an input to a decision. The two readings of the real
            // clock also date the commit and the outcome.
            let began = Instant::now();
            let at_us = if self.wall_clock {
                chrono::Utc::now().timestamp_micros()
            } else {
                self.clock.date_us_at(began)
            };
            let store = &mut self.store;
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                exec::execute(store, &x.op, at_us, x.fault, x.leak)
            }));
            let ended = Instant::now();
            let execution_ns = ended.saturating_duration_since(began).as_nanos() as u64;
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
            self.latest_ns = self.clock.ns_at(ended);
            st.executed(x.op, outcome, execution_ns, self.latest_ns, out);
        }
    }
}

/// Feed the monitor's commands one by one, each execution they ask for
/// carried out before the next command.
pub(super) fn from_the_monitor<C: Chance>(
    st: &mut State<C>,
    exec: &mut Executor,
    cmds: impl IntoIterator<Item = Cmd>,
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
            Cmd::Close => st.close(exec.latest_ns, out),
        }
        exec.run(st, out);
    }
}
