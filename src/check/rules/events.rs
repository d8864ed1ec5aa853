//! `events`: no event was lost between the engine and the observers, and
//! the observers saw the whole life of every op.

use super::Rule;
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

#[derive(Debug)]
pub struct Events;

impl Rule for Events {
    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        let mut v = Violations::new(CheckId::Events);
        let k = s.continuity;
        if k.lost > 0 || k.gaps > 0 {
            v.record(None, None, "events lost", || {
                format!(
                    "{} events lost between the engine and the observer ({} gaps)",
                    k.lost, k.gaps
                )
            });
        }
        if k.received + k.lost != s.published {
            v.record(None, None, "events missing", || {
                format!(
                    "publishers numbered {} events, the observer received {}",
                    s.published, k.received
                )
            });
        }
        let active = s.checker.table().active();
        if active > 0 {
            v.record(None, None, "incomplete lives", || {
                format!("the observer did not see the whole life of {active} ops")
            });
        }
        v.result(
            format!(
                "{} events received in order from every publisher, none lost; every op seen from submission to its final state",
                count(k.received)
            ),
            k.received,
        )
    }
}
