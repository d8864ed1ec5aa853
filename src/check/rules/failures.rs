//! `failures`: a failed execution is an injected fault or an engine bug.
//!
//! With faults off (`faults.failure_probability = 0`) no execution may
//! fail at all. With faults on, every failure must be one the harness
//! injected: an injected error or an injected panic, and the event must
//! say so. A store error, or a panic nobody injected, is an engine error
//! whatever the fault settings. Preemptions are not failures here (the
//! grace rule checks them).

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::events::{Event, EventKind, Kind};
use crate::ops::FailReason;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

#[derive(Debug)]
pub struct Failures {
    injected_on: bool,
    v: Violations,
    executions: u64,
    failures: u64,
}

impl Failures {
    pub fn new(injected_on: bool) -> Failures {
        Failures {
            injected_on,
            v: Violations::new(CheckId::Failures),
            executions: 0,
            failures: 0,
        }
    }
}

impl Rule for Failures {
    fn observes(&self) -> Kinds {
        Kinds::of(&[Kind::Completed, Kind::Failed])
    }

    fn observe(&mut self, ev: &Event, _table: &Table) {
        match ev.kind {
            EventKind::OperationCompleted { .. } => self.executions += 1,
            EventKind::OperationFailed {
                reason, injected, ..
            } => {
                self.executions += 1;
                self.failures += 1;
                let could_be_injected =
                    matches!(reason, FailReason::InjectedFault { .. } | FailReason::Panic);
                if !self.injected_on {
                    self.v.at(ev, "failure with faults off", || {
                        format!("execution failed ({reason}) although no faults are injected")
                    });
                } else if !injected || !could_be_injected {
                    self.v.at(ev, "engine error", || {
                        format!("execution failed ({reason}), not an injected fault")
                    });
                }
            }
            _ => {}
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, _s: &FinalState<'_>) -> CheckResult {
        let what = if self.injected_on {
            "every failure was an injected fault"
        } else {
            "faults off, none failed"
        };
        self.v.result(
            format!(
                "{} executions, {} failed; {what}",
                count(self.executions),
                count(self.failures)
            ),
            self.executions,
        )
    }
}
