//! The verdicts after the drain, over the final state.
//!
//! They combine three independent sources: the engine's counters, what the
//! online [`Checker`] saw in the event stream, and the store itself. Each
//! rule gives a [`CheckResult`] with its figures, or the first violations.

use super::online::Checker;
use crate::ecs::Store;
use crate::events::Continuity;
use crate::metrics::{Metrics, Tally};
use crate::report::model::{CheckId, CheckResult};

/// Everything the final checks look at.
pub struct FinalState<'a> {
    pub store: &'a Store,
    pub checker: &'a Checker,
    pub counters: Tally,
    pub metrics: &'a Metrics,
    pub continuity: &'a Continuity,
    /// Events the publishers numbered in total.
    pub published: u64,
    pub num_targets: u32,
    /// Every in-flight permit came back before the tasks stopped: each op
    /// that settled gave its permit back to the submitter exactly once.
    pub permits_returned: bool,
}

/// Run every check; results in [`CheckId::ALL`] order.
pub fn run_all(s: &FinalState<'_>) -> Vec<CheckResult> {
    let results = s.checker.verdicts(s);
    debug_assert!(results.iter().map(|r| r.id).eq(CheckId::ALL));
    results
}
