//! Operations: what the workload asks the engine to do, and the rules of
//! their lives.
//!
//! An [`Op`] is one request to do one real thing to one target entity. Its
//! [`OpId`] is assigned at submission, never changes, and doubles as the
//! submission sequence number (ids are handed out in submission order, so
//! "earliest submission" is "smallest id"). Every random value the op needs
//! is drawn at submission and carried in its [`OpKind`], so the effect of a
//! committed op is known exactly and can be replayed (see `check`).
//!
//! * [`lifecycle`] — an op's life as a state machine with checked
//!   transitions.
//! * [`priority`] — effective priority through parent chains.
//! * [`backoff`] — retry delays: `base × 2^retry`, capped, seeded jitter.
//! * [`OpType`] / [`OpKind`] — the operation types, one module each under
//!   `kind/`, listed once in its registry (which says what adding a type
//!   takes).
//! * [`exec`] — one execution attempt: an op run as a store transaction.
//! * `shadow` (tests only) — a plain replay of committed effects that the
//!   executor's tests compare with the store; the run's own replay is the
//!   `replay` check, written again in `check`.
//! * [`text`] — the text they write, built without the formatting machinery.

pub mod backoff;
pub mod exec;
mod kind;
pub mod lifecycle;
pub(crate) mod priority;
#[cfg(test)]
mod shadow;
pub(crate) mod text;

use std::fmt;

use serde::Serialize;

pub use kind::{BorrowField, DrawContext, FieldWrite, OpKind, OpType};
pub use lifecycle::{OpState, TransitionError};

/// Stable operation id; also the submission sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OpId(pub u64);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op-{:08x}", self.0)
    }
}

/// Operation priority, 1 (lowest) to 10 (highest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Priority(u8);

impl Priority {
    pub(crate) const BACKGROUND: Priority = Priority(1);
    pub const LOW: Priority = Priority(2);
    pub const NORMAL: Priority = Priority(5);
    pub(crate) const HIGH: Priority = Priority(8);
    pub(crate) const CRITICAL: Priority = Priority(10);

    /// The named levels, lowest first, with their config/report names.
    pub(crate) const NAMED: [(&'static str, Priority); 5] = [
        ("BACKGROUND", Priority::BACKGROUND),
        ("LOW", Priority::LOW),
        ("NORMAL", Priority::NORMAL),
        ("HIGH", Priority::HIGH),
        ("CRITICAL", Priority::CRITICAL),
    ];

    /// A priority from its numeric value; `None` outside 1–10.
    pub fn new(value: u8) -> Option<Priority> {
        (1..=10).contains(&value).then_some(Priority(value))
    }

    pub(crate) fn get(self) -> u8 {
        self.0
    }

    /// The named level this priority is, if it is one.
    pub(crate) fn name(self) -> Option<&'static str> {
        Priority::NAMED
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Operation class: sets the retry budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum OpClass {
    /// promote_to_root and detach_entity.
    Structural,
    /// Everything else above LOW priority.
    Normal,
    /// Own priority ≤ LOW.
    LowPriority,
}

impl OpClass {
    /// The class of an op of `op_type` with own priority `priority`.
    /// Structural wins over LowPriority: a structural op keeps its larger
    /// budget whatever its priority.
    pub(crate) fn of(op_type: OpType, priority: Priority) -> OpClass {
        if op_type.is_structural() {
            OpClass::Structural
        } else if priority <= Priority::LOW {
            OpClass::LowPriority
        } else {
            OpClass::Normal
        }
    }
}

/// Retry budgets per class (from config `[retries]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RetryBudgets {
    pub structural: u32,
    pub normal: u32,
    pub low_priority: u32,
}

impl RetryBudgets {
    pub(crate) fn for_class(&self, class: OpClass) -> u32 {
        match class {
            OpClass::Structural => self.structural,
            OpClass::Normal => self.normal,
            OpClass::LowPriority => self.low_priority,
        }
    }
}

/// One operation record. Owned by exactly one harness task at a time
/// (monitor while Pending, driver while Executing or backing off), so it
/// needs no locks.
#[derive(Clone, Debug)]
pub struct Op {
    pub id: OpId,
    pub(crate) kind: OpKind,
    pub priority: Priority,
    /// max(own priority, every ancestor's), fixed at submission.
    pub effective: Priority,
    pub class: OpClass,
    pub(crate) parent: Option<OpId>,
    /// Store entity index of the target (its lineage).
    pub target: u32,
    pub(crate) state: OpState,
    /// Retries used so far.
    pub(crate) retries: u32,
    /// Retries allowed by the class.
    pub(crate) budget: u32,
    /// Run-relative nanoseconds.
    pub(crate) submitted_ns: u64,
    pub(crate) started_ns: Option<u64>,
    pub(crate) finished_ns: Option<u64>,
    pub(crate) last_error: Option<FailReason>,
}

impl Op {
    /// A freshly submitted op: Pending, no retries used, effective
    /// priority = its own (no parent), budget from its class.
    pub fn new(
        id: OpId,
        kind: OpKind,
        priority: Priority,
        target: u32,
        budgets: &RetryBudgets,
        submitted_ns: u64,
    ) -> Op {
        let class = OpClass::of(kind.op_type(), priority);
        Op {
            id,
            kind,
            priority,
            effective: priority,
            class,
            parent: None,
            target,
            state: OpState::Pending,
            retries: 0,
            budget: budgets.for_class(class),
            submitted_ns,
            started_ns: None,
            finished_ns: None,
            last_error: None,
        }
    }

    pub fn op_type(&self) -> OpType {
        self.kind.op_type()
    }

    /// Move along `transition` (the only way the harness changes an op's
    /// state). An illegal step leaves the state as it was and is returned,
    /// for the caller to count: it is an engine bug, never ignored.
    pub(crate) fn transition(
        &mut self,
        transition: lifecycle::Transition,
    ) -> Result<(), TransitionError> {
        self.state = self.state.apply(transition)?;
        Ok(())
    }
}

/// Why an execution attempt failed (the op goes to Failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// Injected failure (`faults.failure_probability`), at the given step.
    InjectedFault { step: u8 },
    /// The execution panicked; the panic was caught.
    Panic,
    /// The store refused a write (should not happen in the workload).
    Store,
    /// Preempted by a higher effective priority op after its grace period.
    Preempted { by: OpId },
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::InjectedFault { step } => write!(f, "injected fault at step {step}"),
            FailReason::Panic => f.write_str("panic in execution (caught)"),
            FailReason::Store => f.write_str("store refused a write"),
            FailReason::Preempted { by } => write!(f, "preempted by {by}"),
        }
    }
}
