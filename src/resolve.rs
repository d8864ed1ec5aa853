//! The conflict rule (policy `priority-grace`), as one small pure function.
//!
//! The harness keeps, per target, the ops that arrived since the last
//! resolution (plus a winner still waiting) and the op executing, if any.
//! At each resolution point it calls [`decide`] with that state and the
//! grace period and carries out the [`Decision`]:
//!
//! 1. among the Pending ops the winner has the highest effective priority,
//!    ties to the earliest submission (smallest [`OpId`]);
//! 2. every other Pending op is rejected, outranked by the winner;
//! 3. nothing executing: the winner starts;
//! 4. something executing with equal or higher effective priority: the
//!    winner waits;
//! 5. something executing with lower effective priority: inside the grace
//!    period it is protected (a grace save; resolve again when the period
//!    ends), past it it is preempted and the winner starts.
//!
//! No clock, no I/O, no other target: the function sees one target's state
//! and nothing else, which is what makes it table-testable.

use std::time::Duration;

use crate::ops::{OpId, Priority};

/// A Pending op as the rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contender {
    pub id: OpId,
    pub effective: Priority,
}

/// The op executing on the target and how long it has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    pub id: OpId,
    pub effective: Priority,
    pub elapsed: Duration,
}

/// What to do with the winner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing executing: the winner starts now.
    Start,
    /// The executing op has equal or higher priority: the winner stays
    /// Pending until the target frees.
    Wait,
    /// The winner outranks the executing op, which is inside its grace
    /// period: protected; resolve again after `remaining`.
    GraceSave { remaining: Duration },
    /// The executing op is past its grace period and outranked: abort it
    /// (no effects) and start the winner.
    Preempt { victim: OpId },
}

/// The outcome of one resolution point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Index of the winner in the `pending` slice. Every other pending op
    /// is rejected, outranked by it.
    pub winner: usize,
    pub action: Action,
}

/// Whether `a` beats `b`: higher effective priority, or equal priority and
/// earlier submission.
pub fn outranks(a: Contender, b: Contender) -> bool {
    (a.effective, std::cmp::Reverse(a.id)) > (b.effective, std::cmp::Reverse(b.id))
}

/// Decide one resolution point. `None` when nothing is pending.
pub fn decide(
    pending: &[Contender],
    running: Option<Running>,
    grace: Duration,
) -> Option<Decision> {
    let (winner, best) = pending
        .iter()
        .copied()
        .enumerate()
        .reduce(|best, cur| if outranks(cur.1, best.1) { cur } else { best })?;
    let action = match running {
        None => Action::Start,
        Some(run) if best.effective <= run.effective => Action::Wait,
        Some(run) if run.elapsed < grace => Action::GraceSave {
            remaining: grace - run.elapsed,
        },
        Some(run) => Action::Preempt { victim: run.id },
    };
    Some(Decision { winner, action })
}
