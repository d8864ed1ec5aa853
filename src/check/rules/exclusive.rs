//! `exclusive_execution`: a target never has two ops executing. A start
//! on a busy target is a violation, and so is an end of execution (commit,
//! failure, preemption) by an op that was not the target's executing op.

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::events::{Event, EventKind, Kind};
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

#[derive(Debug)]
pub struct Exclusive {
    v: Violations,
    starts: u64,
}

impl Default for Exclusive {
    fn default() -> Self {
        Exclusive {
            v: Violations::new(CheckId::ExclusiveExecution),
            starts: 0,
        }
    }
}

impl Rule for Exclusive {
    fn observes(&self) -> Kinds {
        Kinds::of(&[
            Kind::Started,
            Kind::Completed,
            Kind::Failed,
            Kind::Preempted,
        ])
    }

    fn observe(&mut self, ev: &Event, table: &Table) {
        let executing = table.target(ev.target).and_then(|t| t.executing);
        match ev.kind {
            EventKind::OperationStarted { .. } => {
                self.starts += 1;
                if let Some(other) = executing {
                    self.v.at(ev, "two executing", || {
                        format!("started while {other} was still executing")
                    });
                }
            }
            EventKind::OperationCompleted { .. }
            | EventKind::OperationFailed { .. }
            | EventKind::OperationPreempted { .. }
                if executing != Some(ev.op) =>
            {
                self.v.at(ev, "not the executing op", || {
                    format!("finished executing, but the target's executing op was {executing:?}")
                });
            }
            _ => {}
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, _s: &FinalState<'_>) -> CheckResult {
        self.v.result(
            format!(
                "{} starts, never two executing on one target",
                count(self.starts)
            ),
            self.starts,
        )
    }
}
