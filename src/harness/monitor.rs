//! Task 2, the conflict monitor: resolves each target as ops arrive.
//!
//! The monitor owns every Pending op, grouped by target, and knows which op
//! each target is executing. A target is resolved — by the pure rule in
//! [`crate::resolve`] — when a batch arrives for it, when a failed op comes
//! back from its backoff, when its executing op finishes, and when a grace
//! period it protected ends. Nothing else is ever scanned: the cost of a
//! resolution depends on the ops at that target only.
//!
//! The decisions live in [`state::State`], a synchronous state machine
//! tested by the scripts under `testscripts/monitor/`. This task is the
//! loop around it: it reads the clock, feeds each message in, and carries
//! out what comes back — events to the bus, then commands to the driver
//! (observers always learn of a decision before its consequences), grace
//! timers to the timer wheel, counts to the shared counters.

#[cfg(test)]
mod scripts;
pub(crate) mod state;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::{Clock, Cmd, DriverMsg, Inject, SubmitMsg};
use crate::events::Publisher;
use crate::metrics::Counters;
use state::{Outputs, State};

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

/// The grace timers: one per target at most, on tokio's timer wheel.
struct GraceTimers {
    queue: DelayQueue<u32>,
    keys: Vec<Option<Key>>,
}

impl GraceTimers {
    /// Arm `target`'s timer, or move it if it is armed. The wheel's
    /// millisecond granularity only ever fires late, never early.
    fn arm(&mut self, target: u32, after: Duration) {
        match self.keys[target as usize] {
            Some(ref key) => self.queue.reset(key, after),
            None => self.keys[target as usize] = Some(self.queue.insert(target, after)),
        }
    }
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
        let mut st = State::new(num_targets, grace, inject, seed);
        let mut out = Outputs::default();
        let mut timers = GraceTimers {
            queue: DelayQueue::new(),
            keys: vec![None; num_targets as usize],
        };
        let mut lose_event_armed = inject == Some(Inject::LoseEvent);
        let mut illegal_total = 0;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(msgs) = from_driver.recv() => {
                    from_the_driver(&mut st, msgs, &clock, &mut out);
                    // Take whatever else is already queued, without waiting.
                    while let Ok(more) = from_driver.try_recv() {
                        from_the_driver(&mut st, more, &clock, &mut out);
                    }
                }
                Some(msg) = from_submitter.recv() => {
                    from_the_submitter(&mut st, msg, &clock, &mut out);
                    for _ in 0..8 {
                        match from_submitter.try_recv() {
                            Ok(more) => from_the_submitter(&mut st, more, &clock, &mut out),
                            Err(_) => break,
                        }
                    }
                }
                Some(expired) = std::future::poll_fn(|cx| timers.queue.poll_expired(cx)) => {
                    let t = expired.into_inner();
                    timers.keys[t as usize] = None;
                    st.grace_end(t, clock.now_ns(), &mut out);
                }
                Some(()) = close.recv() => st.close(clock.now_ns(), &mut out),
                else => break,
            }
            for event in out.events.drain(..) {
                publisher.push(event);
            }
            for (t, after) in out.timers.drain(..) {
                timers.arm(t, after);
            }
            if lose_event_armed && publisher.published() > 100 {
                publisher.lose_one_event();
                lose_event_armed = false;
            }
            // Events before commands: observers learn of a decision before
            // its consequences.
            publisher.flush().await;
            if !out.cmds.is_empty() {
                let cmds = std::mem::take(&mut out.cmds);
                let _ = to_driver.send(cmds).await;
            }
            let tally = std::mem::take(&mut out.tally);
            Counters::add(&counters.rejected, tally.rejected);
            Counters::add(&counters.cancelled, tally.cancelled);
            Counters::add(&counters.grace_saves, tally.grace_saves);
            Counters::add(&counters.conflicts, tally.conflicts);
            illegal_total += tally.illegal;
            if tally.settled > 0 {
                permits.add_permits(tally.settled as usize);
            }
        }
        publisher.flush().await;
        MonitorResult {
            published: publisher.published(),
            illegal_transitions: illegal_total,
        }
    }
}

/// Feed one submitter message, batch by batch. A batch's resolution
/// latency counts from the message's arrival.
fn from_the_submitter(st: &mut State, msg: SubmitMsg, clock: &Clock, out: &mut Outputs) {
    let arrived = clock.now_ns();
    let mut ops = msg.ops.into_iter();
    let mut start = 0u32;
    for end in msg.ends {
        let len = (end - start) as usize;
        st.batch(ops.by_ref().take(len), arrived, clock.now_ns(), out);
        start = end;
    }
}

/// Feed one message of the driver, message by message.
fn from_the_driver(st: &mut State, msgs: Vec<DriverMsg>, clock: &Clock, out: &mut Outputs) {
    let arrived = clock.now_ns();
    for msg in msgs {
        match msg {
            DriverMsg::Done { target, op } => st.done(target, op, arrived, clock.now_ns(), out),
            DriverMsg::Requeue(op) => st.requeue(op, arrived, clock.now_ns(), out),
        }
    }
}
