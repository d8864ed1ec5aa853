//! The conflict monitor, the deciding half of the engine task: resolves
//! each target as ops arrive.
//!
//! The monitor owns every Pending op, grouped by target, and knows which op
//! each target is executing. A target is resolved — by the pure rule in
//! [`crate::resolve`] — when a batch arrives for it, when a failed op comes
//! back from its backoff, when its executing op finishes, and when a grace
//! period it protected ends. Nothing else is ever scanned: the cost of a
//! resolution depends on the ops at that target only.
//!
//! The decisions live in [`state::State`], a synchronous state machine
//! tested by the scripts under `testscripts/monitor/`. This module holds
//! what the engine task (`engine.rs`) needs around it: the grace timers
//! and the feeding of messages, batch by batch, with the clock read.

#[cfg(test)]
mod scripts;
pub(crate) mod state;

use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::DriverMsg;
use state::{Outputs, State};

/// The grace timers: one per target at most, on tokio's timer wheel.
#[derive(Default)]
pub(super) struct GraceTimers {
    pub queue: DelayQueue<u32>,
    keys: FxHashMap<u32, Key>,
}

impl GraceTimers {
    /// Arm `target`'s timer, or move it if it is armed. The wheel's
    /// millisecond granularity only ever fires late, never early.
    pub fn arm(&mut self, target: u32, after: Duration) {
        match self.keys.get(&target) {
            Some(key) => self.queue.reset(key, after),
            None => {
                let key = self.queue.insert(target, after);
                self.keys.insert(target, key);
            }
        }
    }

    /// `target`'s timer fired: it is no longer armed.
    pub fn fired(&mut self, target: u32) {
        self.keys.remove(&target);
    }
}

/// Feed the driver's messages, message by message. They are answers to
/// what the engine just did, so they arrive at `now_ns`, the engine's
/// latest reading of the clock (the end of the transaction they report),
/// and are decided on then.
pub(super) fn from_the_driver(
    st: &mut State,
    msgs: impl IntoIterator<Item = DriverMsg>,
    now_ns: u64,
    out: &mut Outputs,
) {
    for msg in msgs {
        match msg {
            DriverMsg::Done { target, op } => st.done(target, op, now_ns, now_ns, out),
            DriverMsg::Requeue(op) => st.requeue(op, now_ns, now_ns, out),
        }
    }
}
