//! The checks over a recorded history, without the engine.
//!
//! A history holds the event stream and nothing else: no store, no engine
//! counters, no per-publisher sequence numbers. So the rules that judge
//! the stream alone (lifecycle, exclusive execution, the priority and
//! grace rules, retries, failures, the version chain) run here exactly as
//! they run online; the rest answer "not checkable from this history"
//! (⚠️, never ✅ on nothing):
//!
//! | check | offline |
//! |---|---|
//! | `accounting` | from the stream alone: every op submitted reached one final state |
//! | `retries` | needs the backoff policy (header or flags) once a retry occurs |
//! | `replay` | not checkable: the final store is not in the history |
//! | `versions` | the chain of version events; the lineage audit needs the store |
//! | `trees` | not checkable: the store's trees are not in the history |
//! | `events` | not checkable: no per-publisher sequence numbers |

use std::time::Duration;

use super::CheckConfig;
use super::Violations;
use super::online::Checker;
use super::rules::{self, Rule};
use super::state::FinalState;
use crate::ecs::{Retention, Store};
use crate::events::{Continuity, Event};
use crate::metrics::{Metrics, Tally};
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult, Coverage};

/// How the detail of a check the history cannot decide begins. The text
/// renderer shows such a check as not exercised, with this detail.
pub const NOT_CHECKABLE: &str = "not checkable from this history";

/// The rule parameters a history check needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OfflineParams {
    pub grace: Duration,
    /// Base and ceiling of the backoff; without them a history with
    /// retries cannot be judged on its backoffs.
    pub backoff: Option<(Duration, Duration)>,
    /// Whether failures may be injected on purpose.
    pub failures_injected: bool,
    /// How many ops back a parent link may reach.
    pub parent_horizon: u64,
}

/// An op still in flight at the end of the history.
#[derive(Clone, Copy, Debug)]
pub struct Unfinished {
    pub op: u64,
    pub target: u32,
    /// The line it was submitted on.
    pub line: u64,
}

/// The stream rules over a history.
pub struct OfflineChecker {
    checker: Checker,
    params: OfflineParams,
}

impl OfflineChecker {
    pub fn new(params: OfflineParams) -> OfflineChecker {
        let (backoff_base, backoff_max) = params
            .backoff
            .unwrap_or((Duration::from_millis(10), Duration::from_secs(1)));
        let config = CheckConfig {
            grace: params.grace,
            backoff_base,
            backoff_max,
            failures_injected: params.failures_injected,
            parent_horizon: params.parent_horizon,
            history_retained: 0,
            // Another engine's clock is its own: the real clock's margins.
            lateness: crate::check::Lateness::REAL,
        };
        // The registry's stream rules; the store-based ones are left out.
        let rules: Vec<Box<dyn Rule>> = vec![
            Box::new(rules::legal::Legal::default()),
            Box::new(rules::exclusive::Exclusive::default()),
            Box::new(rules::priority::PriorityRule::default()),
            Box::new(rules::grace::Grace::new(config.grace)),
            Box::new(rules::retries::Retries::new(&config)),
            Box::new(rules::failures::Failures::new(config.failures_injected)),
            Box::new(rules::versions::Versions::default()),
        ];
        OfflineChecker {
            checker: Checker::with_rules(0, config.parent_horizon, rules),
            params,
        }
    }

    /// Check one event.
    pub fn observe(&mut self, ev: &Event) {
        self.checker.observe(ev);
    }

    /// The checker underneath, with the stream rules.
    #[cfg(test)]
    pub(crate) fn into_checker(self) -> Checker {
        self.checker
    }

    /// Ops seen at once at most.
    pub fn peak_active(&self) -> usize {
        self.checker.table().peak_active
    }

    /// Entities whose fields a commit changed.
    pub fn entities_modified(&self) -> u64 {
        self.checker.entities_modified()
    }

    pub fn submitted(&self) -> u64 {
        self.checker.table().submitted
    }

    /// Every check's verdict in report order, and the coverage;
    /// `unfinished`: the ops the history never ended.
    pub fn verdicts(&self, unfinished: &[Unfinished]) -> (Vec<CheckResult>, Coverage) {
        let store = Store::new(
            Retention {
                versions: 1,
                history: 0,
            },
            0,
        );
        let metrics = Metrics::default();
        let continuity = Continuity::default();
        let s = FinalState {
            store: &store,
            checker: &self.checker,
            counters: Tally::default(),
            metrics: &metrics,
            continuity: &continuity,
            published: 0,
            num_targets: 0,
            // The engine's in-flight permits are not in a history; the
            // accounting below is recounted from the stream instead.
            permits_returned: true,
        };
        let online = self.checker.verdicts(&s);
        let results = CheckId::ALL
            .iter()
            .map(|&id| match id {
                CheckId::Accounting => self.accounting(unfinished),
                CheckId::Replay => not_checkable(
                    id,
                    "commits are replayed against the final store, which a history does not hold",
                ),
                CheckId::Trees => not_checkable(id, "the store's trees are not in a history"),
                CheckId::Events => not_checkable(
                    id,
                    "a history has no per-publisher sequence numbers, so a lost event cannot be told \
                     from one never sent (accounting still requires every op to reach a final state)",
                ),
                _ => {
                    let r = online
                        .iter()
                        .find(|r| r.id == id)
                        .cloned()
                        .unwrap_or_else(|| not_checkable(id, "no rule"));
                    self.stream_only(r)
                }
            })
            .collect();
        (results, self.checker.coverage())
    }

    /// A stream rule's verdict, with what the history cannot show said so.
    fn stream_only(&self, r: CheckResult) -> CheckResult {
        match r.id {
            CheckId::Versions if r.passed => not_checkable(
                r.id,
                "the lineage audit needs the store (every version event seen followed the one before)",
            ),
            CheckId::Retries if r.exercised && self.params.backoff.is_none() => not_checkable(
                r.id,
                "retries occurred but the backoff policy is unknown: give backoff_base_ms and \
                 backoff_max_ms in the header, or --config",
            ),
            _ => r,
        }
    }

    /// Every op submitted reached one final state: counted from the
    /// stream alone (a history holds no engine counters).
    fn accounting(&self, unfinished: &[Unfinished]) -> CheckResult {
        let table = self.checker.table();
        let t = table.terminals;
        let mut v = Violations::new(CheckId::Accounting);
        let mut sorted = unfinished.to_vec();
        sorted.sort_by_key(|u| u.op);
        for u in &sorted {
            let state = table
                .op(crate::ops::OpId(u.op))
                .map_or("unknown".to_string(), |r| format!("{:?}", r.state));
            v.record(Some(u.op), Some(u.target), "never final", || {
                format!(
                    "submitted on line {}, never reached a final state (last {state})",
                    u.line
                )
            });
        }
        v.result(
            format!(
                "{} submitted = {} succeeded + {} rejected + {} cancelled; {} in flight at the end \
                 (counted from the history; it holds no engine counters)",
                count(table.submitted),
                count(t.succeeded),
                count(t.rejected),
                count(t.cancelled),
                count(unfinished.len() as u64)
            ),
            table.submitted,
        )
    }
}

fn not_checkable(id: CheckId, why: &str) -> CheckResult {
    CheckResult {
        id,
        passed: true,
        exercised: false,
        detail: format!("{NOT_CHECKABLE}: {why}"),
        violations: 0,
        first_violations: Vec::new(),
    }
}
