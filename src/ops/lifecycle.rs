//! The operation lifecycle (SPEC §3) as a checked state machine.
//! (skeleton: to be implemented)

use serde::Serialize;

/// Where an op is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    Pending,
    Executing,
    Succeeded,
    Failed,
    Rejected,
    Cancelled,
}

/// A step in an op's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// Pending → Executing.
    Start,
    /// Executing → Succeeded.
    Commit,
    /// Pending → Rejected (outranked by a winner).
    Lose,
    /// Executing → Failed (error, injected fault, panic, preemption).
    Fail,
    /// Failed → Pending (after backoff).
    Retry,
    /// Failed → Rejected (retry budget spent).
    SpendBudget,
    /// Pending → Cancelled, or Failed (waiting out a backoff) → Cancelled,
    /// at the drain deadline.
    Cancel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition {transition:?} from {from:?}")]
pub struct TransitionError {
    pub from: OpState,
    pub transition: Transition,
}
