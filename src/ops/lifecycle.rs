//! The operation lifecycle as a checked state machine.
//!
//! An op lives through six states. [`OpState::apply`] is the only place a
//! transition is defined: every state change in the engine goes through it,
//! and a step that the lifecycle does not allow comes back as a
//! [`TransitionError`] value. The harness turns that value into an integrity
//! violation; it is never ignored and never a panic.
//!
//! ```text
//!              start             commit
//!   Pending ─────────▶ Executing ────────▶ Succeeded
//!    │ │  ▲                │
//!    │ │  │ retry          │ fail (error, fault, panic, preemption)
//!    │ │  │                ▼
//!    │ │  └───────────── Failed ─── spend budget ──▶ Rejected
//!    │ │                   │ cancel                   ▲
//!    │ │      cancel       ▼                          │
//!    │ └─────────────▶ Cancelled                      │
//!    └────────────────────── lose ────────────────────┘
//! ```
//!
//! Failed is transient: an op there is waiting out its backoff and will
//! either compete again (retry), run out of budget (rejected) or be
//! cancelled at the drain deadline. Succeeded, Rejected and Cancelled accept
//! nothing.

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
    pub(crate) from: OpState,
    pub(crate) transition: Transition,
}

impl OpState {
    #[cfg(test)]
    /// Every state, in declaration order.
    pub(crate) const ALL: [OpState; 6] = [
        OpState::Pending,
        OpState::Executing,
        OpState::Succeeded,
        OpState::Failed,
        OpState::Rejected,
        OpState::Cancelled,
    ];

    /// The state reached by taking `t` from `self`, or the error naming
    /// both when the lifecycle does not allow that step.
    pub fn apply(self, t: Transition) -> Result<OpState, TransitionError> {
        use OpState::*;
        use Transition::*;
        match (self, t) {
            (Pending, Start) => Ok(Executing),
            (Executing, Commit) => Ok(Succeeded),
            (Pending, Lose) => Ok(Rejected),
            (Executing, Fail) => Ok(Failed),
            (Failed, Retry) => Ok(Pending),
            (Failed, SpendBudget) => Ok(Rejected),
            (Pending, Cancel) | (Failed, Cancel) => Ok(Cancelled),
            (from, transition) => Err(TransitionError { from, transition }),
        }
    }

    /// Succeeded, Rejected and Cancelled: the op's life is over.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(
            self,
            OpState::Succeeded | OpState::Rejected | OpState::Cancelled
        )
    }

    #[cfg(test)]
    /// Pending and Executing: the op takes part in its target's conflicts.
    pub(crate) fn is_active(self) -> bool {
        matches!(self, OpState::Pending | OpState::Executing)
    }

    #[cfg(test)]
    /// The report / event name, e.g. `"pending"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            OpState::Pending => "pending",
            OpState::Executing => "executing",
            OpState::Succeeded => "succeeded",
            OpState::Failed => "failed",
            OpState::Rejected => "rejected",
            OpState::Cancelled => "cancelled",
        }
    }
}

impl Transition {
    #[cfg(test)]
    /// Every transition, in declaration order.
    pub(crate) const ALL: [Transition; 7] = [
        Transition::Start,
        Transition::Commit,
        Transition::Lose,
        Transition::Fail,
        Transition::Retry,
        Transition::SpendBudget,
        Transition::Cancel,
    ];
}

#[cfg(test)]
mod tests {
    use super::OpState::{self, *};
    use super::Transition::{self, *};
    use super::TransitionError;

    /// The lifecycle, written out independently of `apply`.
    const LEGAL: [(OpState, Transition, OpState); 8] = [
        (Pending, Start, Executing),
        (Executing, Commit, Succeeded),
        (Pending, Lose, Rejected),
        (Executing, Fail, Failed),
        (Failed, Retry, Pending),
        (Failed, SpendBudget, Rejected),
        (Pending, Cancel, Cancelled),
        (Failed, Cancel, Cancelled),
    ];

    fn legal_target(from: OpState, t: Transition) -> Option<OpState> {
        LEGAL
            .iter()
            .find(|(f, tr, _)| *f == from && *tr == t)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_legal_transition_reaches_its_state() {
        for (from, t, to) in LEGAL {
            assert_eq!(from.apply(t), Ok(to), "{from:?} --{t:?}-->");
        }
    }

    #[test]
    fn every_pair_outside_the_table_is_refused() {
        let mut refused = 0;
        for from in OpState::ALL {
            for t in Transition::ALL {
                match legal_target(from, t) {
                    Some(to) => assert_eq!(from.apply(t), Ok(to)),
                    None => {
                        assert_eq!(
                            from.apply(t),
                            Err(TransitionError {
                                from,
                                transition: t
                            }),
                            "{from:?} --{t:?}--> must be illegal"
                        );
                        refused += 1;
                    }
                }
            }
        }
        assert_eq!(refused, 6 * 7 - LEGAL.len());
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for from in [Succeeded, Rejected, Cancelled] {
            assert!(from.is_terminal());
            for t in Transition::ALL {
                assert!(from.apply(t).is_err(), "{from:?} accepted {t:?}");
            }
        }
        for from in [Pending, Executing, Failed] {
            assert!(!from.is_terminal(), "{from:?}");
        }
    }

    #[test]
    fn active_means_pending_or_executing() {
        let active: Vec<_> = OpState::ALL.into_iter().filter(|s| s.is_active()).collect();
        assert_eq!(active, [Pending, Executing]);
        assert!(
            OpState::ALL
                .iter()
                .all(|s| !(s.is_active() && s.is_terminal()))
        );
    }

    #[test]
    fn names_match_the_serialized_form() {
        for s in OpState::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.name()));
        }
        assert_eq!(Cancelled.name(), "cancelled");
    }

    #[test]
    fn a_full_life_with_one_retry() {
        let path = [Start, Fail, Retry, Start, Commit];
        let end = path.iter().try_fold(Pending, |s, t| s.apply(*t));
        assert_eq!(end, Ok(Succeeded));
    }

    #[test]
    fn error_names_the_state_and_the_transition() {
        let err = Succeeded.apply(Retry).unwrap_err();
        assert_eq!(err.to_string(), "illegal transition Retry from Succeeded");
    }
}
