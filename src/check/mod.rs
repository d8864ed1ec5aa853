//! Integrity: prove, don't count.
//!
//! Nine checks decide whether the engine did its job. Five run online in
//! the lifecycle observer, over the event stream, with memory bounded by
//! the ops still active ([`online::Checker`]); the rest run after the drain
//! over the final state of the store and what the observer learned
//! ([`state`]). Every check can fail: the tests in this module and the CLI
//! tests inject the fault each one exists for and watch it get caught.
//!
//! | check | catches |
//! |---|---|
//! | `accounting` | an op that never reached exactly one final state; counters that disagree with the per-op records |
//! | `legal_transitions` | an event sequence the op lifecycle does not allow |
//! | `exclusive_execution` | two ops executing on one target at once |
//! | `priority_rule` | a winner that was not the highest effective priority (FIFO on ties); a rejection without an outranking winner or a spent budget |
//! | `grace_rule` | a preemption inside the grace period or by a priority that is not strictly higher; a grace save outside it |
//! | `replay` | a lost update or a partial write: replaying the committed effects on a shadow copy does not reproduce the store |
//! | `versions` | a lineage whose length or `previous_ecs_id` chain disagrees with the committed version-creating ops, or an old version that changed |
//! | `trees` | a broken tree invariant |
//! | `events` | an event lost between the engine and the observers |

pub mod online;
pub mod state;

use crate::report::model::{CheckId, CheckResult, Violation};

/// How many violations of one check are described in full.
pub const MAX_DESCRIBED: usize = 5;

/// The violations found by one check: a count and the first few, each
/// naming the op, the target and the rule.
#[derive(Clone, Debug)]
pub struct Violations {
    pub check: CheckId,
    pub count: u64,
    pub first: Vec<Violation>,
}

impl Violations {
    pub fn new(check: CheckId) -> Violations {
        Violations {
            check,
            count: 0,
            first: Vec::new(),
        }
    }

    /// Count a violation; describe it (only the first few are built).
    pub fn record(
        &mut self,
        op: Option<u64>,
        target: Option<u32>,
        rule: &str,
        detail: impl FnOnce() -> String,
    ) {
        self.count += 1;
        if self.first.len() < MAX_DESCRIBED {
            self.first.push(Violation {
                check: self.check,
                op,
                target,
                rule: rule.to_string(),
                detail: detail(),
            });
        }
    }

    /// Count a violation described by one sentence.
    pub fn push(&mut self, describe: impl FnOnce() -> String) {
        self.record(None, None, "", describe);
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The report entry: `figures` says what the check covered; on
    /// failure the first violations and their count go with it.
    pub fn result(&self, figures: String) -> CheckResult {
        CheckResult {
            id: self.check,
            passed: self.count == 0,
            detail: figures,
            violations: self.count,
            first_violations: self.first.clone(),
        }
    }
}
