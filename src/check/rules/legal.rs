//! `legal_transitions`: every event moves its op along an edge of the
//! lifecycle, stated here again from its definition:
//!
//! ```text
//! Pending → Executing → Succeeded        Pending → Rejected (outranked)
//! Executing → Failed → Pending (retry)   Failed → Rejected (budget spent)
//! Pending → Cancelled, Failed → Cancelled (drain deadline)
//! ```
//!
//! Events about an op that was never submitted or is already final, and a
//! second submission of one id, are illegal too.

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::events::{Event, EventKind, RejectReason};
use crate::ops::OpState;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// The state an op reaches through the event `kind` from `from`; `None`
/// when the lifecycle has no such edge. Only events that move an op are
/// asked about.
pub fn next_state(from: OpState, kind: &EventKind) -> Option<OpState> {
    use OpState::*;
    match (from, kind) {
        (Pending, EventKind::OperationStarted { .. }) => Some(Executing),
        (Executing, EventKind::OperationCompleted { .. }) => Some(Succeeded),
        (Executing, EventKind::OperationFailed { .. } | EventKind::OperationPreempted { .. }) => {
            Some(Failed)
        }
        (Failed, EventKind::OperationRetry { .. }) => Some(Pending),
        (
            Pending,
            EventKind::OperationRejected {
                reason: RejectReason::Outranked { .. },
                ..
            },
        ) => Some(Rejected),
        (
            Failed,
            EventKind::OperationRejected {
                reason: RejectReason::BudgetSpent,
                ..
            },
        ) => Some(Rejected),
        (Pending | Failed, EventKind::OperationCancelled { .. }) => Some(Cancelled),
        _ => None,
    }
}

/// Whether `kind` is an event that moves its op.
fn moves_op(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::OperationSubmitted { .. }
            | EventKind::OperationConflict { .. }
            | EventKind::GraceProtected { .. }
            | EventKind::EntityVersioned { .. }
            | EventKind::EntityModified { .. }
    )
}

#[derive(Debug)]
pub struct Legal {
    v: Violations,
    events: u64,
}

impl Default for Legal {
    fn default() -> Self {
        Legal {
            v: Violations::new(CheckId::LegalTransitions),
            events: 0,
        }
    }
}

impl Rule for Legal {
    fn observes(&self) -> Kinds {
        Kinds::ALL
    }

    fn observe(&mut self, ev: &Event, table: &Table) {
        self.events += 1;
        if let EventKind::OperationSubmitted { .. } = ev.kind {
            if table.op(ev.op).is_some() {
                self.v.at(ev, "submitted twice", || {
                    "a second submission of an active id".to_string()
                });
            }
            return;
        }
        if !moves_op(&ev.kind) {
            return;
        }
        let Some(rec) = table.op(ev.op) else {
            self.v.at(ev, "op not active", || {
                format!(
                    "{} for an op that is not active (never submitted, or already final)",
                    ev.kind.kind().name()
                )
            });
            return;
        };
        let from = rec.state;
        if next_state(from, &ev.kind).is_none() {
            self.v.at(ev, "illegal transition", || {
                format!("{} from {from:?}", ev.kind.kind().name())
            });
        }
        let said = match ev.kind {
            EventKind::OperationRejected { from, .. } | EventKind::OperationCancelled { from } => {
                Some(from)
            }
            _ => None,
        };
        if let Some(said) = said
            && said != from
        {
            self.v.at(ev, "wrong from-state", || {
                format!("the event says from {said:?}, the op was {from:?}")
            });
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        self.v.result(
            format!(
                "{} ops followed the lifecycle through {} events",
                count(s.checker.table().submitted),
                count(self.events)
            ),
            self.events,
        )
    }
}
