//! `accounting`: every op reaches exactly one final state, and every
//! figure the report prints agrees with the event stream.
//!
//! The rule counts the events itself and compares three sources: its own
//! counts, the engine's counters (kept by the tasks as they act) and the
//! metrics (rebuilt by the collector from the same stream). A counter
//! incremented twice, or never, cannot hide. The in-flight permits are a
//! fourth ledger: once every op is final, every permit must be back.

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::events::{Event, EventKind, Kind};
use crate::ops::FailReason;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// Figures counted from the event stream.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    submitted: u64,
    started: u64,
    succeeded: u64,
    rejected: u64,
    cancelled: u64,
    failed: u64,
    preempted: u64,
    retried: u64,
    grace_saves: u64,
    conflicts: u64,
    panics: u64,
    versions: u64,
}

#[derive(Debug, Default)]
pub struct Accounting {
    seen: Seen,
}

impl Rule for Accounting {
    fn observes(&self) -> Kinds {
        Kinds::all_but(&[Kind::Modified])
    }

    fn observe(&mut self, ev: &Event, _table: &Table) {
        let s = &mut self.seen;
        match ev.kind {
            EventKind::OperationSubmitted { .. } => s.submitted += 1,
            EventKind::OperationStarted { .. } => s.started += 1,
            EventKind::OperationCompleted { .. } => s.succeeded += 1,
            EventKind::OperationRejected { .. } => s.rejected += 1,
            EventKind::OperationCancelled { .. } => s.cancelled += 1,
            EventKind::OperationFailed { reason, .. } => {
                s.failed += 1;
                if reason == FailReason::Panic {
                    s.panics += 1;
                }
            }
            EventKind::OperationPreempted { .. } => s.preempted += 1,
            EventKind::OperationRetry { .. } => s.retried += 1,
            EventKind::GraceProtected { .. } => s.grace_saves += 1,
            EventKind::OperationConflict { .. } => s.conflicts += 1,
            EventKind::EntityVersioned { .. } => s.versions += 1,
            EventKind::EntityModified { .. } => {}
        }
    }

    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        let mut v = Violations::new(CheckId::Accounting);
        let c = s.counters;
        let e = self.seen;
        let table = s.checker.table();
        let t = table.terminals;
        let settled = c.settled();
        if c.submitted != settled {
            v.record(None, None, "unaccounted ops", || {
                format!(
                    "submitted {} != succeeded {} + rejected {} + cancelled {} ({} unaccounted)",
                    c.submitted,
                    c.succeeded,
                    c.rejected,
                    c.cancelled,
                    c.submitted as i128 - settled as i128
                )
            });
        }
        // The engine's counters (what the report prints) against the
        // events. Failed attempts are failures and preemptions alike.
        for (name, engine, seen) in [
            ("submissions", c.submitted, e.submitted),
            ("starts", c.started, e.started),
            ("succeeded", c.succeeded, e.succeeded),
            ("rejected", c.rejected, e.rejected),
            ("cancelled", c.cancelled, e.cancelled),
            ("failed attempts", c.failed_attempts, e.failed + e.preempted),
            ("retries", c.retried, e.retried),
            ("preemptions", c.preempted, e.preempted),
            ("grace saves", c.grace_saves, e.grace_saves),
            ("conflicts", c.conflicts, e.conflicts),
            ("caught panics", c.panics, e.panics),
        ] {
            if engine != seen {
                v.record(None, None, "counter disagrees", || {
                    format!("the engine counted {engine} {name}, the event stream shows {seen}")
                });
            }
        }
        // The per-op records: one final state each.
        for (name, seen, records) in [
            ("succeeded", e.succeeded, t.succeeded),
            ("rejected", e.rejected, t.rejected),
            ("cancelled", e.cancelled, t.cancelled),
        ] {
            if seen != records {
                v.record(None, None, "final states disagree", || {
                    format!("{seen} {name} events, but the per-op records say {records}")
                });
            }
        }
        // The metrics (the report's tables and conflict figures).
        let m = s.metrics;
        let by_type = |f: fn(&crate::report::model::TypeCounts) -> u64| -> u64 {
            m.by_type.iter().map(f).sum()
        };
        let by_prio = |f: fn(&crate::report::model::PriorityCounts) -> u64| -> u64 {
            m.by_priority.iter().map(f).sum()
        };
        for (name, metric, seen) in [
            ("starts", m.started, e.started),
            ("retries", m.retries, e.retried),
            ("preemptions", m.preemptions, e.preempted),
            ("grace saves", m.grace_saves, e.grace_saves),
            ("conflicts", m.conflicts, e.conflicts),
            ("versions created", m.versions_created, e.versions),
            ("per-type submitted", by_type(|t| t.submitted), e.submitted),
            ("per-type succeeded", by_type(|t| t.succeeded), e.succeeded),
            ("per-type rejected", by_type(|t| t.rejected), e.rejected),
            ("per-type cancelled", by_type(|t| t.cancelled), e.cancelled),
            (
                "per-type failed attempts",
                by_type(|t| t.failed_attempts),
                e.failed + e.preempted,
            ),
            (
                "per-priority submitted",
                by_prio(|p| p.submitted),
                e.submitted,
            ),
            (
                "per-priority succeeded",
                by_prio(|p| p.succeeded),
                e.succeeded,
            ),
            ("per-priority rejected", by_prio(|p| p.rejected), e.rejected),
            (
                "per-priority cancelled",
                by_prio(|p| p.cancelled),
                e.cancelled,
            ),
        ] {
            if metric != seen {
                v.record(None, None, "metric disagrees", || {
                    format!("the metrics show {metric} {name}, the event stream shows {seen}")
                });
            }
        }
        // Every op is final, so every permit should be back: a permit
        // that never came back is a settled op the engine forgot to count
        // as settled, and a capacity run would slowly starve.
        if table.active() == 0 && !s.permits_returned {
            v.record(None, None, "permits not returned", || {
                "every op reached a final state, but the in-flight permits did not all come back before the drain ended".to_string()
            });
        }
        for (id, target, state) in table.active_sample(crate::check::MAX_DESCRIBED) {
            v.record(Some(id.0), Some(target), "never final", || {
                format!("never reached a final state (last seen {state:?})")
            });
        }
        v.count += (table.active() as u64).saturating_sub(crate::check::MAX_DESCRIBED as u64);
        v.result(
            format!(
                "{} submitted = {} succeeded + {} rejected + {} cancelled; {} in flight; counters, metrics and per-op records agree with {} events",
                count(c.submitted),
                count(t.succeeded),
                count(t.rejected),
                count(t.cancelled),
                count(table.active() as u64),
                count(table.events)
            ),
            e.submitted,
        )
    }
}
