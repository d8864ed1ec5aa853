//! Integrity: prove, don't count.
//!
//! Eleven checks decide whether the engine did its job. Each is one
//! [`Rule`] in its own file under [`rules`]: it watches the event stream
//! online (in the lifecycle observer) over a shared [`table::Table`] of the
//! ops still active, and gives its verdict after the drain, over the final
//! state of the store ([`state`]). Memory is bounded by the ops in flight.
//!
//! The oracle is written again, from the rule's statement, and shares no
//! decision code with the engine: the conflict rule ([`oracle`]), the
//! lifecycle edges ([`rules::legal`]), the backoff policy
//! ([`rules::retries`]) and the replay of every commit ([`rules::replay`])
//! are restated here plainly. A helper shared with the engine would make
//! the check blind to that helper's bugs.
//!
//! | check | catches |
//! |---|---|
//! | `accounting` | an op that never reached exactly one final state; a reported figure that disagrees with the event stream |
//! | `legal_transitions` | an event sequence the op lifecycle does not allow |
//! | `exclusive_execution` | two ops executing on one target at once |
//! | `priority_rule` | a winner that was not the highest effective priority (earliest submission on ties); a rejection without an outranking winner; a wrong effective priority |
//! | `grace_rule` | a preemption inside the grace period, by a priority that is not strictly higher, or later than the promptness bound; a grace save outside the period |
//! | `retries` | a retry beyond the budget; a backoff shorter than reported or outside the policy; a budget rejection too early |
//! | `failures` | a failed execution no fault was injected for (with faults off: any) |
//! | `replay` | a commit whose effect, replayed on a model of the target, does not reproduce the store: values, provenance, history, versions, tree placement |
//! | `versions` | a lineage whose length or `previous_ecs_id` chain disagrees with the versions reported, or an old version that changed |
//! | `trees` | a broken tree invariant |
//! | `events` | an event lost between the engine and the observers |
//!
//! Adding a check is one file in [`rules`] and one line in
//! [`rules::registry`] (and its [`CheckId`]).

pub mod coverage;
pub mod offline;
pub mod online;
pub mod oracle;
pub mod rules;
pub mod state;
pub mod table;

use std::time::Duration;

use crate::config::Config;
use crate::events::Event;
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

    /// Count a violation of `rule` by `op` on `target`; describe it (only
    /// the first few descriptions are built).
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

    /// Count a violation about one event's op on its target.
    pub fn at(&mut self, ev: &Event, rule: &str, detail: impl FnOnce() -> String) {
        self.record(Some(ev.op.0), Some(ev.target), rule, detail);
    }

    /// Add every violation of `other` (same check).
    pub fn extend(&mut self, other: &Violations) {
        self.count += other.count;
        for v in &other.first {
            if self.first.len() < MAX_DESCRIBED {
                self.first.push(v.clone());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The report entry: `figures` says what the check covered and `cases`
    /// how many it examined; on failure the first violations and their
    /// count go with it.
    pub fn result(&self, figures: String, cases: u64) -> CheckResult {
        CheckResult {
            id: self.check,
            passed: self.count == 0,
            exercised: cases > 0,
            detail: figures,
            violations: self.count,
            first_violations: self.first.clone(),
        }
    }
}

/// What the checks need to know of the run's configuration: the rule's
/// parameters, stated once and handed to the oracle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckConfig {
    pub grace: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Whether executions may fail on purpose (`faults.failure_probability`
    /// above 0). Without it, any failed execution is an engine error.
    pub failures_injected: bool,
    /// How many ops back a parent link may reach (same batch and the
    /// batches `batch.parent_reach` before it).
    pub parent_horizon: u64,
    /// History entries the store retains per entity.
    pub history_retained: usize,
    /// How late the engine's timers may act.
    pub lateness: Lateness,
}

/// How late a timer-driven action may come and still count as on time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lateness {
    /// A due preemption ([`rules::grace::PROMPTNESS_BOUND`] on the real
    /// clock).
    pub preemption: Duration,
    /// A retry after its backoff ([`rules::retries::LATE_RETRY_BOUND`] on
    /// the real clock).
    pub retry: Duration,
    /// A decision for an op waiting on a target where nothing executes.
    /// Unbounded on the real clock, where a submitted op may queue behind
    /// thousands before the engine reads it.
    pub idle_decision: Option<Duration>,
}

impl Lateness {
    /// On the real clock: scheduling delay on a loaded machine, with margin.
    pub const REAL: Lateness = Lateness {
        preemption: rules::grace::PROMPTNESS_BOUND,
        retry: rules::retries::LATE_RETRY_BOUND,
        idle_decision: None,
    };
    /// On the virtual clock no task is ever kept from running while time
    /// moves, so what is left is the timer wheel's millisecond: an action
    /// later than that came from a timer armed for the wrong time. An op
    /// waiting on an idle target needs no timer: it is decided at the
    /// instant it starts to wait.
    pub const VIRTUAL: Lateness = Lateness {
        preemption: Duration::from_millis(1),
        retry: Duration::from_millis(1),
        idle_decision: Some(Duration::ZERO),
    };
}

impl CheckConfig {
    pub fn of(config: &Config) -> CheckConfig {
        CheckConfig {
            grace: config.grace_period,
            backoff_base: config.backoff_base,
            backoff_max: config.backoff_max,
            failures_injected: config.failure_probability > 0.0,
            parent_horizon: u64::from(config.batch_max) * (u64::from(config.parent_reach) + 1),
            history_retained: config.retention.history,
            lateness: match config.clock {
                crate::config::ClockMode::Real => Lateness::REAL,
                crate::config::ClockMode::Virtual => Lateness::VIRTUAL,
            },
        }
    }
}
