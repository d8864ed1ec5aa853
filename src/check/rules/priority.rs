//! `priority_rule`: every resolution follows the rule as [`oracle`] states
//! it. The winner beats every other Pending participant (highest effective
//! priority, earliest submission on ties); every other participant is
//! rejected naming that winner; the decision against the executing op is
//! Start when nothing executes, Wait when the winner does not outrank it,
//! and a grace save or a preemption when it does. Effective priorities are
//! checked at submission against the parent chain.

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::coverage::Tally;
use crate::check::oracle;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::events::{Decision, Event, EventKind, Kind, RejectReason};
use crate::ops::{OpId, OpState, Priority};
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

#[derive(Debug)]
pub struct PriorityRule {
    v: Violations,
    conflicts: u64,
    rejections: u64,
    submissions: u64,
    ties: u64,
    inherited_wins: u64,
    waits: u64,
    live_cross_batch_parents: u64,
    /// A conflict's losers, kept between conflicts (one allocation for
    /// the run instead of one per conflict).
    losers: Vec<(OpId, Priority, Priority)>,
    /// The rejections a resolution owes: each loser of a target's latest
    /// resolution (target, loser, winner) until it is rejected naming that
    /// winner. Owed at the target's next resolution, or at the end, is a
    /// loser the engine kept. Only the latest resolutions' losers wait
    /// here, so it stays a handful long.
    owed: Vec<(u32, OpId, OpId)>,
}

impl Default for PriorityRule {
    fn default() -> Self {
        PriorityRule {
            v: Violations::new(CheckId::PriorityRule),
            conflicts: 0,
            rejections: 0,
            submissions: 0,
            ties: 0,
            inherited_wins: 0,
            waits: 0,
            live_cross_batch_parents: 0,
            losers: Vec::new(),
            owed: Vec::new(),
        }
    }
}

impl PriorityRule {
    fn submitted(&mut self, ev: &Event, effective: Priority, parent: Option<OpId>, table: &Table) {
        self.submissions += 1;
        let parent_effective = match parent {
            None => None,
            Some(p) => match table.known_effective(p) {
                Some(pe) => {
                    if let Some(rec) = table.op(p)
                        && rec.submitted_ns < ev.t_ns
                    {
                        self.live_cross_batch_parents += 1;
                    }
                    Some(pe)
                }
                None => {
                    let why = if p >= ev.op {
                        "a later op"
                    } else if table.within_reach(p) {
                        "an op never submitted"
                    } else {
                        "an op beyond a parent link's reach"
                    };
                    self.v
                        .at(ev, "unknown parent", || format!("names parent {p}, {why}"));
                    return;
                }
            },
        };
        let expected = oracle::effective(ev.priority, parent_effective);
        if effective != expected {
            self.v.at(ev, "wrong effective priority", || {
                format!(
                    "effective priority {effective}, but its own is {} and its parent chain gives {expected}",
                    ev.priority
                )
            });
        }
    }

    /// `others` gathers the losers (empty on entry).
    fn conflict(
        &mut self,
        ev: &Event,
        pending: &[OpId],
        executing: Option<OpId>,
        decision: Decision,
        table: &Table,
        others: &mut Vec<(OpId, Priority, Priority)>,
    ) {
        self.conflicts += 1;
        let mut winner = None;
        for &id in pending {
            match table.op(id) {
                Some(r) if r.state == OpState::Pending && r.target == ev.target => {
                    if id == ev.op {
                        winner = Some((r.effective, r.own));
                    } else {
                        others.push((id, r.effective, r.own));
                    }
                }
                other => {
                    let state = other.map(|r| (r.state, r.target));
                    self.v.at(ev, "participant not pending", || {
                        format!("the conflict lists {id}, which is not Pending there ({state:?})")
                    });
                }
            }
        }
        let Some((we, wown)) = winner else {
            self.v.at(ev, "winner not pending", || {
                "the winner is not among the Pending participants".to_string()
            });
            return;
        };
        self.settle_owed(ev);
        self.owed
            .extend(others.iter().map(|&(id, _, _)| (ev.target, id, ev.op)));
        for &(id, e, _) in others.iter() {
            if !oracle::must_beat(ev.op, we, id, e) {
                self.v.at(ev, "winner outranked", || {
                    format!("won at priority {we} against {id} (priority {e}), which must win")
                });
            }
        }
        // Coverage: a tie decided by submission order, and a decision that
        // inherited priority changed (by own priorities another op wins).
        if others.iter().any(|&(_, e, _)| e == we) {
            self.ties += 1;
        }
        if others
            .iter()
            .any(|&(id, _, own)| oracle::must_beat(id, own, ev.op, wown))
        {
            self.inherited_wins += 1;
        }
        let expected = match executing.and_then(|e| table.op(e)) {
            None if executing.is_none() => Some(&[Decision::Start][..]),
            // The executing op is not known: nothing to compare against.
            None => None,
            Some(r) if oracle::may_displace(we, r.effective) => {
                Some(&[Decision::GraceSave, Decision::Preempt][..])
            }
            Some(_) => Some(&[Decision::Wait][..]),
        };
        if decision == Decision::Wait {
            self.waits += 1;
        }
        if let Some(allowed) = expected
            && !allowed.contains(&decision)
        {
            let against = executing.and_then(|e| table.op(e)).map(|r| r.effective);
            self.v.at(ev, "wrong decision", || {
                format!(
                    "decision {decision:?} at priority {we} against executing {executing:?} (priority {against:?}); allowed {allowed:?}"
                )
            });
        }
    }

    /// A resolution on `ev`'s target: the losers of the target's previous
    /// one must all have been rejected by now.
    fn settle_owed(&mut self, ev: &Event) {
        // A healthy engine has paid before the next resolution comes.
        if self.owed.is_empty() {
            return;
        }
        let v = &mut self.v;
        self.owed.retain(|&(target, loser, winner)| {
            if target != ev.target {
                return true;
            }
            v.record(Some(loser.0), Some(target), "loser not rejected", || {
                format!(
                    "lost to {winner} and was never rejected; {} resolved the target again at t={} ns",
                    ev.op, ev.t_ns
                )
            });
            false
        });
    }

    /// A rejection naming `winner` pays what `ev.op` owed.
    fn pay(&mut self, ev: &Event, winner: OpId) {
        if let Some(i) = self
            .owed
            .iter()
            .position(|&(t, loser, w)| t == ev.target && loser == ev.op && w == winner)
        {
            self.owed.swap_remove(i);
        }
    }
}

impl Rule for PriorityRule {
    fn observes(&self) -> Kinds {
        Kinds::of(&[Kind::Submitted, Kind::Conflict, Kind::Rejected])
    }

    fn observe(&mut self, ev: &Event, table: &Table) {
        match &ev.kind {
            EventKind::OperationSubmitted {
                effective, parent, ..
            } => self.submitted(ev, *effective, *parent, table),
            EventKind::OperationConflict {
                pending,
                executing,
                decision,
                ..
            } => {
                let mut losers = std::mem::take(&mut self.losers);
                losers.clear();
                self.conflict(ev, pending, *executing, *decision, table, &mut losers);
                self.losers = losers;
            }
            EventKind::OperationRejected {
                reason: RejectReason::Outranked { winner },
                ..
            } => {
                self.rejections += 1;
                self.pay(ev, *winner);
                let last = table.target(ev.target).and_then(|t| t.last_winner);
                if last != Some(*winner) {
                    self.v.at(ev, "rejected for a non-winner", || {
                        format!("rejected for {winner}, which is not the winner of the target's latest resolution ({last:?})")
                    });
                    return;
                }
                let mine = table.op(ev.op).map(|r| r.effective);
                if let (Some(mine), Some(wp)) = (mine, table.known_effective(*winner))
                    && !oracle::must_beat(*winner, wp, ev.op, mine)
                {
                    self.v.at(ev, "rejected for a non-winner", || {
                        format!("rejected at priority {mine} for {winner} (priority {wp}), which does not outrank it")
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
        let mut v = self.v.clone();
        for &(target, loser, winner) in &self.owed {
            v.record(Some(loser.0), Some(target), "loser not rejected", || {
                format!("lost to {winner} and was never rejected")
            });
        }
        v.result(
            format!(
                "{} conflicts, {} rejections and {} effective priorities checked",
                count(self.conflicts),
                count(self.rejections),
                count(self.submissions)
            ),
            self.conflicts + self.rejections,
        )
    }

    fn cover(&self, tally: &mut Tally) {
        tally.ties += self.ties;
        tally.inherited_wins += self.inherited_wins;
        tally.waits += self.waits;
        tally.cross_batch_parents += self.live_cross_batch_parents;
    }
}
