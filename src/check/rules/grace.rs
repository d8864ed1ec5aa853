//! `grace_rule`: grace periods hold from both sides.
//!
//! * A preemption happens only past the grace period and only for a
//!   strictly higher effective priority; a grace save only inside it.
//! * Promptness: once an executing op is both past its grace period and
//!   outranked (strictly) by an op waiting on its target, it must be
//!   preempted within [`PROMPTNESS_BOUND`]. A preemption later than that,
//!   or an op left to run to its end, is a violation; the lateness of every
//!   preemption is recorded for the report.
//!
//! The obligation starts at `max(start + grace, the moment an outranking
//! op began to wait)` and holds while some outranking op keeps waiting (a
//! newer winner that rejects the first one outranks it too, so the chain is
//! unbroken); it ends with the executing op or when no outranking op waits
//! any more (the drain cancels them).

use std::time::Duration;

use rustc_hash::FxHashMap;

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::coverage::Tally;
use crate::check::oracle;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::events::{Decision, Event, EventKind, Kind};
use crate::metrics::Latency;
use crate::ops::OpId;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// How late a due preemption may come. The monitor decides at the moment
/// an outranking op arrives past the grace period, or when the grace timer
/// of a grace save fires; its timer wheel has millisecond granularity and
/// only ever fires late. The rest is scheduling delay, which on a loaded
/// two-core machine running the test suite beside the run stays well under
/// this bound (a tokio task is rarely kept from running for tens of
/// milliseconds). A timer armed for the full grace period instead of its
/// remainder is late by the time already executed: up to the whole period.
pub const PROMPTNESS_BOUND: Duration = Duration::from_millis(50);

/// An executing op that is due to be preempted.
#[derive(Clone, Copy, Debug)]
struct Due {
    victim: OpId,
    /// When preemption became due (past grace and outranked).
    at_ns: u64,
    /// The monitor decided the preemption (its lateness is recorded); the
    /// victim's end only closes the record.
    decided: bool,
}

#[derive(Debug)]
pub struct Grace {
    grace: Duration,
    bound_ns: u64,
    /// How long an op may wait on a target where nothing executes before
    /// it is decided (`None`: not checked).
    idle_bound_ns: Option<u64>,
    /// Targets where ops wait and nothing executes, with the time the
    /// first began to wait there: a handful at most, each for an instant.
    idle_waiting: Vec<(u32, u64)>,
    /// The time `idle_waiting` was last looked at: it is looked at again
    /// only once time has moved on, not at every event of an instant.
    idle_checked_ns: u64,
    /// Grace-save decisions whose `GraceProtected` has not come yet
    /// (target, winner): owed before the target's next decision.
    unannounced: Vec<(u32, OpId)>,
    v: Violations,
    /// Per target, the executing op that is outranked by a waiting op.
    due: FxHashMap<u32, Due>,
    /// Grace saves whose protected op's start has not arrived yet:
    /// protected op → (winner, target, time of the save).
    deferred: FxHashMap<OpId, Vec<(OpId, u32, u64)>>,
    grace_saves: u64,
    preemptions: u64,
    obligations: u64,
    stalls: u64,
    lateness: Latency,
}

impl Grace {
    /// The rule with the real clock's margins.
    pub fn new(grace: Duration) -> Grace {
        Grace::with_lateness(grace, crate::check::Lateness::REAL)
    }

    pub fn with_lateness(grace: Duration, lateness: crate::check::Lateness) -> Grace {
        Grace {
            grace,
            bound_ns: lateness.preemption.as_nanos() as u64,
            idle_bound_ns: lateness.idle_decision.map(|d| d.as_nanos() as u64),
            idle_waiting: Vec::new(),
            idle_checked_ns: 0,
            unannounced: Vec::new(),
            v: Violations::new(CheckId::GraceRule),
            due: FxHashMap::default(),
            deferred: FxHashMap::default(),
            grace_saves: 0,
            preemptions: 0,
            obligations: 0,
            stalls: 0,
            lateness: Latency::new(),
        }
    }

    fn grace_ns(&self) -> u64 {
        self.grace.as_nanos() as u64
    }

    /// A grace save is a decision and an announcement: `GraceProtected`
    /// names the protected op and how long it had run. A decision to save
    /// must be announced before the target is decided again (or by the
    /// end); an announcement lost on the way, or never made, leaves the
    /// save unchecked.
    fn announcements(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::OperationConflict { decision, .. } => {
                if !self.unannounced.is_empty() {
                    let v = &mut self.v;
                    self.unannounced.retain(|&(t, winner)| {
                        if t != ev.target {
                            return true;
                        }
                        v.record(Some(winner.0), Some(t), "grace save not announced", || {
                            format!("decided a grace save and no GraceProtected followed before {} decided the target again", ev.op)
                        });
                        false
                    });
                }
                if *decision == Decision::GraceSave {
                    self.unannounced.push((ev.target, ev.op));
                }
            }
            EventKind::GraceProtected { .. } => {
                if let Some(i) = self
                    .unannounced
                    .iter()
                    .position(|&(t, w)| t == ev.target && w == ev.op)
                {
                    self.unannounced.swap_remove(i);
                }
            }
            _ => {}
        }
    }

    /// `ev`'s target executes nothing: if ops wait there, their decision
    /// is owed from now (or from when the first began to wait).
    fn idle_target(&mut self, ev: &Event, table: &Table) {
        if self.idle_bound_ns.is_none() {
            return;
        }
        let waiting = table
            .target(ev.target)
            .is_some_and(|tr| !tr.pending.is_empty());
        match self.idle_waiting.iter().position(|&(t, _)| t == ev.target) {
            Some(i) if !waiting => {
                self.idle_waiting.swap_remove(i);
            }
            None if waiting => self.idle_waiting.push((ev.target, ev.t_ns)),
            _ => {}
        }
    }

    /// `t` executes an op: nothing waits there undecided.
    fn busy_target(&mut self, t: u32) {
        if let Some(i) = self.idle_waiting.iter().position(|&(x, _)| x == t) {
            self.idle_waiting.swap_remove(i);
        }
    }

    /// Time has moved on to `ev`'s: an op still waiting on an idle target
    /// since longer than the bound was left undecided.
    fn overdue_on_idle(&mut self, ev: &Event) {
        let Some(bound) = self.idle_bound_ns else {
            return;
        };
        if ev.t_ns <= self.idle_checked_ns || self.idle_waiting.is_empty() {
            return;
        }
        self.idle_checked_ns = ev.t_ns;
        let v = &mut self.v;
        self.idle_waiting.retain(|&(t, since)| {
            let waited = ev.t_ns.saturating_sub(since);
            if waited <= bound {
                return true;
            }
            v.record(None, Some(t), "left waiting", || {
                format!(
                    "ops waited {:?} on a target where nothing executed, without a decision",
                    Duration::from_nanos(waited)
                )
            });
            false
        });
    }

    fn check_save(&mut self, winner: OpId, target: u32, executing: OpId, t_ns: u64, started: u64) {
        let elapsed = Duration::from_nanos(t_ns.saturating_sub(started));
        if oracle::past_grace(elapsed, self.grace) {
            let grace = self.grace;
            self.v
                .record(Some(winner.0), Some(target), "grace save past grace", || {
                    format!(
                        "protected {executing} after {elapsed:?}, past the {grace:?} grace period (it should have been preempted)"
                    )
                });
        }
    }

    /// The executing op of `ev.target` ends (commit, failure, preemption)
    /// at `ev.t_ns`: settle its obligation.
    fn execution_ends(&mut self, ev: &Event, started_ns: u64, preempted: bool) {
        if ev.t_ns.saturating_sub(started_ns) >= self.grace_ns() {
            self.stalls += 1;
        }
        let Some(due) = self.due.get(&ev.target).copied() else {
            return;
        };
        if due.victim == ev.op {
            self.settle(ev, due, preempted);
            self.due.remove(&ev.target);
        }
    }

    /// The due preemption of `due.victim` happened (or the victim ended)
    /// at `ev.t_ns`.
    fn settle(&mut self, ev: &Event, due: Due, preempted: bool) {
        if due.decided {
            self.due.remove(&ev.target);
            return;
        }
        if preempted {
            // Decided now; the record stays until the victim's execution
            // ends, so the obligation is not opened a second time.
            self.due.insert(
                ev.target,
                Due {
                    decided: true,
                    ..due
                },
            );
        } else {
            self.due.remove(&ev.target);
        }
        let late = ev.t_ns.saturating_sub(due.at_ns);
        if preempted {
            self.lateness.record(late);
        }
        if late > self.bound_ns {
            let bound = Duration::from_nanos(self.bound_ns);
            let late = Duration::from_nanos(late);
            self.v.record(Some(due.victim.0), Some(ev.target), "late preemption", || {
                if preempted {
                    format!("preempted {late:?} after it was due (bound {bound:?})")
                } else {
                    format!("ran {late:?} past the moment it was due to be preempted (bound {bound:?})")
                }
            });
        }
    }
}

impl Rule for Grace {
    fn observes(&self) -> Kinds {
        Kinds::of(&[
            Kind::GraceProtected,
            Kind::Conflict,
            Kind::Started,
            Kind::Preempted,
            Kind::Completed,
            Kind::Failed,
        ])
    }

    fn follows(&self) -> Kinds {
        Kinds::all_but(&[Kind::Versioned, Kind::Modified])
    }

    fn observe(&mut self, ev: &Event, table: &Table) {
        self.announcements(ev);
        match &ev.kind {
            EventKind::GraceProtected { executing, .. } => {
                self.grace_saves += 1;
                let winner = table.op(ev.op).map(|r| r.effective);
                let running = table.op(*executing).copied();
                if let (Some(w), Some(r)) = (winner, running)
                    && !oracle::may_displace(w, r.effective)
                {
                    self.v.at(ev, "grace save without outranking", || {
                        format!(
                            "protected {executing} (priority {}) at priority {w}",
                            r.effective
                        )
                    });
                }
                match running {
                    Some(r)
                        if table.target(ev.target).and_then(|t| t.executing)
                            == Some(*executing) =>
                    {
                        self.check_save(ev.op, ev.target, *executing, ev.t_ns, r.started_ns)
                    }
                    // The protected op's start is still on its way (the
                    // driver reports starts): check when it arrives.
                    Some(_) => self
                        .deferred
                        .entry(*executing)
                        .or_default()
                        .push((ev.op, ev.target, ev.t_ns)),
                    None => {}
                }
            }
            EventKind::OperationConflict {
                executing: Some(victim),
                decision: Decision::Preempt,
                ..
            } => {
                // The decision is the preemption; the victim may finish on
                // its own before the driver acts on it.
                if let Some(due) = self.due.get(&ev.target).copied()
                    && due.victim == *victim
                {
                    self.settle(ev, due, true);
                }
            }
            EventKind::OperationStarted { .. } => {
                if let Some(saves) = self.deferred.remove(&ev.op) {
                    for (winner, target, t_ns) in saves {
                        self.check_save(winner, target, ev.op, t_ns, ev.t_ns);
                    }
                }
            }
            EventKind::OperationPreempted { by, .. } => {
                self.preemptions += 1;
                if let Some(victim) = table.op(ev.op).copied() {
                    let elapsed = Duration::from_nanos(ev.t_ns.saturating_sub(victim.started_ns));
                    if !oracle::past_grace(elapsed, self.grace) {
                        let grace = self.grace;
                        self.v.at(ev, "preempted inside grace", || {
                            format!("preempted by {by} after {elapsed:?}, inside the {grace:?} grace period")
                        });
                    }
                    match table.op(*by).map(|r| r.effective) {
                        Some(p) if oracle::may_displace(p, victim.effective) => {}
                        p => self.v.at(ev, "preempted by a non-higher priority", || {
                            format!(
                                "preempted at priority {} by {by} (priority {p:?}), which is not strictly higher",
                                victim.effective
                            )
                        }),
                    }
                    self.execution_ends(ev, victim.started_ns, true);
                }
                self.deferred.remove(&ev.op);
            }
            EventKind::OperationCompleted { .. } | EventKind::OperationFailed { .. } => {
                if let Some(r) = table.op(ev.op).copied() {
                    self.execution_ends(ev, r.started_ns, false);
                }
                self.deferred.remove(&ev.op);
            }
            _ => {}
        }
    }

    fn after(&mut self, ev: &Event, table: &Table) {
        if matches!(
            ev.kind,
            EventKind::EntityVersioned { .. } | EventKind::EntityModified { .. }
        ) {
            return;
        }
        let t = ev.target;
        let executing = table
            .target(t)
            .and_then(|tr| tr.executing)
            .and_then(|id| table.op(id).map(|r| (id, *r)));
        self.overdue_on_idle(ev);
        let Some((victim, rec)) = executing else {
            // Usually nothing is due anywhere: skip the hashing.
            if !self.due.is_empty() {
                self.due.remove(&t);
            }
            self.idle_target(ev, table);
            return;
        };
        self.busy_target(t);
        match table.outranking_pending(t, rec.effective) {
            Some(since) => {
                let at_ns = since.max(rec.started_ns + self.grace_ns());
                match self.due.get(&t) {
                    Some(d) if d.victim == victim => {}
                    _ => {
                        self.obligations += 1;
                        self.due.insert(
                            t,
                            Due {
                                victim,
                                at_ns,
                                decided: false,
                            },
                        );
                    }
                }
            }
            None => {
                // No outranking op waits any more (the drain cancelled it):
                // the obligation ends, kept or missed.
                if let Some(d) = self.due.remove(&t)
                    && !d.decided
                    && ev.t_ns.saturating_sub(d.at_ns) > self.bound_ns
                {
                    let late = Duration::from_nanos(ev.t_ns - d.at_ns);
                    self.v.record(Some(d.victim.0), Some(t), "late preemption", || {
                        format!("still executing {late:?} after it was due to be preempted, when the op outranking it stopped waiting")
                    });
                }
            }
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, _s: &FinalState<'_>) -> CheckResult {
        let l = self.lateness.summary();
        let mut v = self.v.clone();
        for &(t, winner) in &self.unannounced {
            v.record(Some(winner.0), Some(t), "grace save not announced", || {
                "decided a grace save and no GraceProtected followed".to_string()
            });
        }
        v.result(
            format!(
                "{} grace saves and {} preemptions checked; {} executing ops outranked by a waiting op, preemption lateness p50 {} µs, max {} µs (bound {} µs)",
                count(self.grace_saves),
                count(self.preemptions),
                count(self.obligations),
                count(l.p50),
                count(l.max),
                count(self.bound_ns / 1000)
            ),
            self.grace_saves + self.preemptions + self.obligations,
        )
    }

    fn cover(&self, tally: &mut Tally) {
        tally.grace_saves += self.grace_saves;
        tally.preemptions += self.preemptions;
        tally.stalls += self.stalls;
        tally.lateness = Some(self.lateness.summary());
        tally.bound_us = self.bound_ns / 1000;
    }
}
