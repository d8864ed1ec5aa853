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
use crate::events::{Event, Kind};
use crate::prefetch::Stage;
use crate::report::model::CheckResult;

/// A set of event kinds: the events a rule's `observe` or `after` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds(u16);

impl Kinds {
    pub const NONE: Kinds = Kinds(0);
    pub const ALL: Kinds = Kinds((1 << Kind::COUNT) - 1);

    /// The set of `kinds`.
    pub const fn of(kinds: &[Kind]) -> Kinds {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= 1 << kinds[i] as u16;
            i += 1;
        }
        Kinds(bits)
    }

    /// Every kind but `kinds`.
    pub const fn all_but(kinds: &[Kind]) -> Kinds {
        Kinds(Kinds::ALL.0 & !Kinds::of(kinds).0)
    }

    pub const fn contains(self, kind: Kind) -> bool {
        self.0 & (1 << kind as u16) != 0
    }
}

/// One integrity check.
///
/// The checker calls `observe` and `after` only for the kinds of event
/// the rule names in `observes` and `follows`, so an event a rule has no
/// use for costs it nothing. A rule must name every kind its methods read:
/// a test feeds real and faulty histories through every rule both ways
/// and requires the same findings.
pub trait Rule: Send + std::fmt::Debug {
    /// The kinds of event `observe` reads.
    fn observes(&self) -> Kinds {
        Kinds::NONE
    }
    /// See one event, with the table as it was before the event.
    fn observe(&mut self, _ev: &Event, _table: &Table) {}
    /// The kinds of event `after` reads.
    fn follows(&self) -> Kinds {
        Kinds::NONE
    }
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
    /// The kinds of event `prefetch` looks at.
    fn prefetches(&self) -> Kinds {
        Kinds::NONE
    }
    /// Ask for what `observe` or `after` will read of `ev`, a few events
    /// before they see it: at [`Stage::Far`] what can be found without
    /// reading memory, at [`Stage::Near`] what that points to (see
    /// [`crate::prefetch::ahead`]). A hint: it must not change the rule's
    /// state.
    fn prefetch(&self, _ev: &Event, _stage: Stage) {}
}

/// Every check, in report order ([`CheckId::ALL`](crate::report::model::CheckId::ALL)).
pub fn registry(config: &CheckConfig, store: &Store, targets: u32) -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(accounting::Accounting::default()),
        Box::new(legal::Legal::default()),
        Box::new(exclusive::Exclusive::default()),
        Box::new(priority::PriorityRule::default()),
        Box::new(grace::Grace::with_lateness(config.grace, config.lateness)),
        Box::new(retries::Retries::new(config)),
        Box::new(failures::Failures::new(config.failures_injected)),
        Box::new(replay::Replay::new(store, targets, config.history_retained)),
        Box::new(versions::Versions::with_entities(store.len())),
        Box::new(trees::Trees),
        Box::new(events::Events),
    ]
}
