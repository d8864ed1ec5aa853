//! The checks, one per file, and their registry.
//!
//! A [`Rule`] watches the event stream over the shared [`Table`] and gives
//! its verdict over the final state. To add a check: a new file here, a
//! line in [`registry`], and its [`CheckId`](crate::report::model::CheckId).

pub mod accounting;
pub mod events;
pub mod exclusive;
pub mod failures;
pub mod grace;
pub mod legal;
pub mod priority;
pub mod replay;
pub mod retries;
pub mod trees;
pub mod versions;

use super::CheckConfig;
use super::coverage::Tally;
use super::state::FinalState;
use super::table::Table;
use crate::ecs::Store;
use crate::events::Event;
use crate::report::model::CheckResult;

/// One integrity check.
pub trait Rule: Send {
    /// See one event, with the table as it was before the event.
    fn observe(&mut self, _ev: &Event, _table: &Table) {}
    /// See one event again, with the table after it.
    fn after(&mut self, _ev: &Event, _table: &Table) {}
    /// The verdict, over what was seen and the final state.
    fn verdict(&self, s: &FinalState<'_>) -> CheckResult;
    /// Add the cases this rule examined to the coverage tally.
    fn cover(&self, _tally: &mut Tally) {}
    /// Violations found online so far (before the verdict).
    fn found(&self) -> u64 {
        0
    }
}

/// Every check, in report order ([`CheckId::ALL`](crate::report::model::CheckId::ALL)).
pub fn registry(config: &CheckConfig, store: &Store, targets: u32) -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(accounting::Accounting::default()),
        Box::new(legal::Legal::default()),
        Box::new(exclusive::Exclusive::default()),
        Box::new(priority::PriorityRule::default()),
        Box::new(grace::Grace::new(config.grace)),
        Box::new(retries::Retries::new(config)),
        Box::new(failures::Failures::new(config.failures_injected)),
        Box::new(replay::Replay::new(store, targets, config.history_retained)),
        Box::new(versions::Versions::with_entities(store.len())),
        Box::new(trees::Trees),
        Box::new(events::Events),
    ]
}
