//! The online checks, run by the lifecycle observer over the event stream.
//!
//! The checker keeps one small record per *active* op (submitted, not yet
//! final) and one per entity; a record is dropped when its op reaches a
//! final state, so memory is bounded by the ops in flight, not by the
//! length of the run. From those records it re-derives, independently of
//! the engine, what each event is allowed to say:
//!
//! * every event moves its op along a legal edge of the lifecycle;
//! * a target never has two ops executing;
//! * a conflict's winner outranks every other Pending participant, and
//!   every rejection names that winner (or a spent retry budget);
//! * a preemption happens only past the grace period and only for a
//!   strictly higher effective priority; a grace save only inside it;
//! * each commit's recorded effect is replayed on a [`Shadow`] of its
//!   target, and each new version must follow the previous one.

use std::time::Duration;

use rustc_hash::FxHashMap;
use uuid::Uuid;

use super::Violations;
use crate::events::{Decision, Event, EventKind, RejectReason};
use crate::ops::exec::Shadow;
use crate::ops::lifecycle::Transition;
use crate::ops::{OpId, OpState, Priority};
use crate::report::model::CheckId;
use crate::resolve::{Contender, outranks};

/// What the checker remembers of an active op.
#[derive(Clone, Copy, Debug)]
struct Track {
    state: OpState,
    target: u32,
    effective: Priority,
    retries: u32,
    budget: u32,
    started_ns: u64,
}

/// What the checker remembers of a target.
#[derive(Debug, Default)]
struct TargetTrack {
    executing: Option<OpId>,
    /// Winner of the latest resolution with its effective priority.
    last_winner: Option<(OpId, Priority)>,
    /// Non-winner participants of the latest conflict still owed a
    /// rejection.
    owed_rejections: u64,
}

/// Version chain of one entity as seen in `EntityVersioned` events.
#[derive(Clone, Copy, Debug, Default)]
struct Chain {
    last: Option<Uuid>,
    number: u64,
    created: u64,
}

/// Terminal outcomes counted from the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terminals {
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
}

/// The online checker.
pub struct Checker {
    grace: Duration,
    ops: FxHashMap<OpId, Track>,
    targets: Vec<TargetTrack>,
    shadows: Vec<Shadow>,
    /// By entity index (entities are dense; grown on demand).
    chains: Vec<Chain>,
    /// Grace saves whose protected op's start has not arrived yet:
    /// protected op → (winner, time of the save).
    deferred_grace: FxHashMap<OpId, Vec<(OpId, u64)>>,
    modified: Vec<bool>,
    pub submitted: u64,
    pub terminals: Terminals,
    pub legal: Violations,
    pub exclusive: Violations,
    pub priority: Violations,
    pub grace_rule: Violations,
    pub replay: Violations,
    pub versions: Violations,
    /// Most ops active at once (the checker's memory bound).
    pub peak_active: usize,
    pub resolutions_checked: u64,
    pub rejections_checked: u64,
    pub preemptions_checked: u64,
    pub grace_saves_checked: u64,
    pub commits_replayed: u64,
    pub unresolved_conflicts: u64,
}

impl Checker {
    /// `shadows[i]` is target `i`'s state before the run (entity index
    /// `i`; targets are the first entities of the store).
    pub fn new(grace: Duration, shadows: Vec<Shadow>) -> Checker {
        let n = shadows.len();
        Checker {
            grace,
            ops: FxHashMap::default(),
            targets: (0..n).map(|_| TargetTrack::default()).collect(),
            shadows,
            chains: Vec::new(),
            deferred_grace: FxHashMap::default(),
            modified: vec![false; n],
            submitted: 0,
            terminals: Terminals::default(),
            legal: Violations::new(CheckId::LegalTransitions),
            exclusive: Violations::new(CheckId::ExclusiveExecution),
            priority: Violations::new(CheckId::PriorityRule),
            grace_rule: Violations::new(CheckId::GraceRule),
            replay: Violations::new(CheckId::Replay),
            versions: Violations::new(CheckId::Versions),
            peak_active: 0,
            resolutions_checked: 0,
            rejections_checked: 0,
            preemptions_checked: 0,
            grace_saves_checked: 0,
            commits_replayed: 0,
            unresolved_conflicts: 0,
        }
    }

    /// Ops submitted and not yet seen in a final state.
    pub fn active(&self) -> usize {
        self.ops.len()
    }

    /// Some of the ops still active, for the report of a failed run.
    pub fn active_sample(&self, n: usize) -> Vec<(OpId, u32, OpState)> {
        let mut v: Vec<_> = self
            .ops
            .iter()
            .map(|(id, t)| (*id, t.target, t.state))
            .collect();
        v.sort_by_key(|x| x.0);
        v.truncate(n);
        v
    }

    pub fn shadows(&self) -> &[Shadow] {
        &self.shadows
    }

    /// Entities versioned during the run with (versions created, last
    /// version number seen).
    pub fn chains(&self) -> impl Iterator<Item = (u32, u64, u64)> + '_ {
        self.chains
            .iter()
            .enumerate()
            .filter(|(_, c)| c.created > 0)
            .map(|(e, c)| (e as u32, c.created, c.number))
    }

    pub fn entities_modified(&self) -> u64 {
        self.modified.iter().filter(|m| **m).count() as u64
    }

    /// Move `op` along `transition`, recording a violation if illegal.
    fn step(&mut self, ev: &Event, transition: Transition) -> Option<Track> {
        let Some(track) = self.ops.get_mut(&ev.op) else {
            self.legal.push(|| {
                format!(
                    "{} on target {}: {:?} for an op that is not active (never submitted, or already final)",
                    ev.op,
                    ev.target,
                    transition
                )
            });
            return None;
        };
        match track.state.apply(transition) {
            Ok(next) => {
                track.state = next;
                let t = *track;
                if next.is_terminal() {
                    self.ops.remove(&ev.op);
                    self.deferred_grace.remove(&ev.op);
                }
                Some(t)
            }
            Err(e) => {
                let from = track.state;
                self.legal.push(|| {
                    format!(
                        "{} on target {}: illegal {:?} from {from:?}",
                        ev.op, ev.target, e.transition
                    )
                });
                None
            }
        }
    }

    fn contender(&self, id: OpId) -> Option<Contender> {
        self.ops.get(&id).map(|t| Contender {
            id,
            effective: t.effective,
        })
    }

    fn target(&mut self, t: u32) -> &mut TargetTrack {
        let i = t as usize;
        if self.targets.len() <= i {
            self.targets.resize_with(i + 1, TargetTrack::default);
        }
        &mut self.targets[i]
    }

    /// Check one event.
    pub fn observe(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::OperationSubmitted {
                effective,
                budget,
                parent,
                ..
            } => {
                self.submitted += 1;
                self.check_effective(ev, *effective, *parent);
                let track = Track {
                    state: OpState::Pending,
                    target: ev.target,
                    effective: *effective,
                    retries: 0,
                    budget: *budget,
                    started_ns: 0,
                };
                if self.ops.insert(ev.op, track).is_some() {
                    self.legal
                        .push(|| format!("{} on target {}: submitted twice", ev.op, ev.target));
                }
                self.peak_active = self.peak_active.max(self.ops.len());
            }
            EventKind::OperationConflict {
                pending,
                executing,
                decision,
                ..
            } => self.check_conflict(ev, pending, *executing, *decision),
            EventKind::OperationRejected { from, reason, .. } => {
                self.rejections_checked += 1;
                let effective = self
                    .ops
                    .get(&ev.op)
                    .map(|t| (t.effective, t.retries, t.budget));
                let transition = match reason {
                    RejectReason::Outranked { winner } => {
                        let tt = self.target(ev.target);
                        tt.owed_rejections = tt.owed_rejections.saturating_sub(1);
                        let last = tt.last_winner;
                        match (last, effective) {
                            (Some((w, wp)), Some((mine, _, _))) if w == *winner => {
                                let me = Contender {
                                    id: ev.op,
                                    effective: mine,
                                };
                                let win = Contender { id: w, effective: wp };
                                if !outranks(win, me) {
                                    self.priority.push(|| {
                                        format!(
                                            "{} (priority {mine}) on target {}: rejected for {w} (priority {wp}), which does not outrank it",
                                            ev.op, ev.target
                                        )
                                    });
                                }
                            }
                            _ => self.priority.push(|| {
                                format!(
                                    "{} on target {}: rejected for {winner}, which is not the winner of the target's latest resolution",
                                    ev.op, ev.target
                                )
                            }),
                        }
                        Transition::Lose
                    }
                    RejectReason::BudgetSpent => {
                        if let Some((_, retries, budget)) = effective
                            && retries < budget
                        {
                            self.priority.push(|| {
                                format!(
                                    "{} on target {}: rejected for a spent budget after {retries} of {budget} retries",
                                    ev.op, ev.target
                                )
                            });
                        }
                        Transition::SpendBudget
                    }
                };
                if let Some(t) = self.ops.get(&ev.op)
                    && t.state != *from
                {
                    let state = t.state;
                    self.legal.push(|| {
                        format!(
                            "{} on target {}: rejection says from {from:?}, op was {state:?}",
                            ev.op, ev.target
                        )
                    });
                }
                if self.step(ev, transition).is_some() {
                    self.terminals.rejected += 1;
                }
            }
            EventKind::OperationStarted { .. } => {
                let target = ev.target;
                let tt = self.target(target);
                if let Some(other) = tt.executing {
                    self.exclusive.push(|| {
                        format!(
                            "{} on target {target}: started while {other} was still executing",
                            ev.op
                        )
                    });
                }
                self.target(target).executing = Some(ev.op);
                if self.step(ev, Transition::Start).is_some()
                    && let Some(t) = self.ops.get_mut(&ev.op)
                {
                    t.started_ns = ev.t_ns;
                }
                if let Some(saves) = self.deferred_grace.remove(&ev.op) {
                    for (winner, t_ns) in saves {
                        self.check_grace_save(winner, target, ev.op, t_ns, ev.t_ns);
                    }
                }
            }
            EventKind::GraceProtected { executing, .. } => {
                self.grace_saves_checked += 1;
                let winner = self.ops.get(&ev.op).map(|t| t.effective);
                let running = self.ops.get(executing).copied();
                match (winner, running) {
                    (Some(w), Some(r)) if w <= r.effective => self.grace_rule.push(|| {
                        format!(
                            "{} on target {}: grace save against {executing} without outranking it",
                            ev.op, ev.target
                        )
                    }),
                    _ => {}
                }
                match running {
                    Some(r) if r.state == OpState::Executing => {
                        self.check_grace_save(ev.op, ev.target, *executing, ev.t_ns, r.started_ns)
                    }
                    // The start of the protected op is still on its way
                    // (the driver reports starts); check when it arrives.
                    Some(_) => self
                        .deferred_grace
                        .entry(*executing)
                        .or_default()
                        .push((ev.op, ev.t_ns)),
                    None => {}
                }
            }
            EventKind::OperationPreempted { by, .. } => {
                self.preemptions_checked += 1;
                let victim = self.ops.get(&ev.op).copied();
                let by_prio = self.ops.get(by).map(|t| t.effective);
                if let Some(v) = victim {
                    let elapsed = ev.t_ns.saturating_sub(v.started_ns);
                    if elapsed < self.grace.as_nanos() as u64 {
                        self.grace_rule.push(|| {
                            format!(
                                "{} on target {}: preempted by {by} after {} µs, inside the {} µs grace period",
                                ev.op,
                                ev.target,
                                elapsed / 1000,
                                self.grace.as_micros()
                            )
                        });
                    }
                    match by_prio {
                        Some(p) if p > v.effective => {}
                        _ => self.grace_rule.push(|| {
                            format!(
                                "{} (priority {}) on target {}: preempted by {by}, whose priority is not strictly higher",
                                ev.op, v.effective, ev.target
                            )
                        }),
                    }
                }
                self.finish_execution(ev);
                self.step(ev, Transition::Fail);
            }
            EventKind::OperationFailed { .. } => {
                self.finish_execution(ev);
                self.step(ev, Transition::Fail);
            }
            EventKind::OperationRetry { retry, max, .. } => {
                if let Some(t) = self.ops.get_mut(&ev.op) {
                    t.retries += 1;
                    let (have, budget) = (t.retries, t.budget);
                    if have != *retry || have > budget || *max != budget {
                        self.legal.push(|| {
                            format!(
                                "{} on target {}: retry {retry} of {max}, expected retry {have} of {budget}",
                                ev.op, ev.target
                            )
                        });
                    }
                }
                self.step(ev, Transition::Retry);
            }
            EventKind::OperationCompleted { effect, .. } => {
                self.finish_execution(ev);
                if self.step(ev, Transition::Commit).is_some() {
                    self.terminals.succeeded += 1;
                }
                self.commits_replayed += 1;
                let i = ev.target as usize;
                if let Some(shadow) = self.shadows.get_mut(i) {
                    if let Err(e) = shadow.apply(ev.op, effect) {
                        self.replay
                            .push(|| format!("{} on target {}: {e}", ev.op, ev.target));
                    }
                } else {
                    self.replay.push(|| {
                        format!(
                            "{} committed on {}, which is not a target",
                            ev.op, ev.target
                        )
                    });
                }
            }
            EventKind::OperationCancelled { .. } => {
                if self.step(ev, Transition::Cancel).is_some() {
                    self.terminals.cancelled += 1;
                }
            }
            EventKind::EntityVersioned {
                ecs_id,
                previous,
                number,
            } => {
                let i = ev.target as usize;
                if self.chains.len() <= i {
                    self.chains.resize_with(i + 1, Chain::default);
                }
                let chain = &mut self.chains[i];
                let broken = match chain.last {
                    Some(last) => last != *previous || *number != chain.number + 1,
                    None => false,
                };
                let (last, expect) = (chain.last, chain.number + 1);
                chain.last = Some(*ecs_id);
                chain.number = *number;
                chain.created += 1;
                if broken {
                    self.versions.push(|| {
                        format!(
                            "{} on entity {}: version {number} follows {previous}, but the previous version seen was {} (expected number {expect})",
                            ev.op,
                            ev.target,
                            last.map_or_else(|| "none".to_string(), |u| u.to_string())
                        )
                    });
                }
            }
            EventKind::EntityModified { .. } => {
                if let Some(m) = self.modified.get_mut(ev.target as usize) {
                    *m = true;
                }
            }
        }
    }

    /// Effective priority at submission: the op's own, raised to its
    /// parent's effective priority (which covers the rest of the chain).
    fn check_effective(&mut self, ev: &Event, effective: Priority, parent: Option<OpId>) {
        let expected = match parent {
            None => ev.priority,
            Some(p) => match self.ops.get(&p) {
                Some(t) => ev.priority.max(t.effective),
                None => {
                    self.priority.push(|| {
                        format!(
                            "{} on target {}: names parent {p}, which is not an active op",
                            ev.op, ev.target
                        )
                    });
                    return;
                }
            },
        };
        if effective != expected {
            self.priority.push(|| {
                format!(
                    "{} on target {}: effective priority {effective}, but its own is {} and its parent chain gives {expected}",
                    ev.op, ev.target, ev.priority
                )
            });
        }
    }

    /// A grace save at `t_ns` protected `executing`, started at
    /// `started_ns`: it must have been inside the grace period.
    fn check_grace_save(
        &mut self,
        winner: OpId,
        target: u32,
        executing: OpId,
        t_ns: u64,
        started_ns: u64,
    ) {
        let elapsed = t_ns.saturating_sub(started_ns);
        if elapsed >= self.grace.as_nanos() as u64 {
            let grace = self.grace.as_micros();
            self.grace_rule.push(|| {
                format!(
                    "{winner} on target {target}: grace save for {executing} after {} µs, past the {grace} µs grace period (it should have been preempted)",
                    elapsed / 1000
                )
            });
        }
    }

    fn finish_execution(&mut self, ev: &Event) {
        let tt = self.target(ev.target);
        if tt.executing == Some(ev.op) {
            tt.executing = None;
        } else {
            let other = tt.executing;
            self.exclusive.push(|| {
                format!(
                    "{} on target {}: finished executing, but the target's executing op was {other:?}",
                    ev.op, ev.target
                )
            });
        }
    }

    fn check_conflict(
        &mut self,
        ev: &Event,
        pending: &[OpId],
        executing: Option<OpId>,
        decision: Decision,
    ) {
        self.resolutions_checked += 1;
        let winner = self.contender(ev.op);
        let mut others = 0u64;
        for &id in pending {
            let effective = match self.ops.get(&id) {
                Some(t) if t.state == OpState::Pending && t.target == ev.target => t.effective,
                other => {
                    let state = other.map(|t| (t.state, t.target));
                    self.priority.push(|| {
                        format!(
                            "conflict on target {} lists {id}, which is not Pending there ({state:?})",
                            ev.target
                        )
                    });
                    continue;
                }
            };
            if id == ev.op {
                continue;
            }
            others += 1;
            let c = Contender { id, effective };
            if let Some(w) = winner
                && !outranks(w, c)
            {
                self.priority.push(|| {
                    format!(
                        "{} (priority {}) on target {}: won a conflict against {id} (priority {}), which outranks it",
                        ev.op, w.effective, ev.target, c.effective
                    )
                });
            }
        }
        if !pending.contains(&ev.op) {
            self.priority.push(|| {
                format!(
                    "conflict on target {}: winner {} is not among the pending ops",
                    ev.target, ev.op
                )
            });
        }
        let executing_prio = executing.and_then(|e| self.ops.get(&e).map(|t| t.effective));
        if let (Some(w), Some(ep)) = (winner, executing_prio) {
            let should_wait = w.effective <= ep;
            let waited = decision == Decision::Wait;
            if should_wait != waited {
                self.priority.push(|| {
                    format!(
                        "{} (priority {}) on target {}: decision {decision:?} against executing priority {ep}",
                        ev.op, w.effective, ev.target
                    )
                });
            }
        }
        let tt = self.target(ev.target);
        let unresolved = tt.owed_rejections > 0;
        tt.owed_rejections = others;
        tt.last_winner = winner.map(|w| (w.id, w.effective));
        if unresolved {
            self.unresolved_conflicts += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::events::Effect;
    use crate::ops::exec::ShadowPlacement;
    use crate::ops::{FailReason, FieldWrite, OpClass, OpType};

    const GRACE: Duration = Duration::from_millis(200);
    const MS: u64 = 1_000_000;

    fn shadow() -> Shadow {
        Shadow {
            counter: 0,
            data_value: 0.0,
            text_content: Arc::from(""),
            timestamp_us: 0,
            version_count: 0,
            borrow_count: 0,
            history_len: 0,
            history_digest: crate::ecs::HISTORY_DIGEST_SEED,
            versions: 1,
            placement: ShadowPlacement::Child,
        }
    }

    fn checker() -> Checker {
        Checker::new(GRACE, vec![shadow(), shadow()])
    }

    fn ev(t_ns: u64, op: u64, priority: u8, kind: EventKind) -> Event {
        Event {
            t_ns,
            op: OpId(op),
            target: 0,
            op_type: OpType::ModifyField,
            priority: Priority::new(priority).unwrap_or(Priority::NORMAL),
            kind,
        }
    }

    fn submit(c: &mut Checker, op: u64, priority: u8) {
        let p = Priority::new(priority).unwrap_or(Priority::NORMAL);
        c.observe(&ev(
            0,
            op,
            priority,
            EventKind::OperationSubmitted {
                effective: p,
                class: OpClass::Normal,
                parent: None,
                budget: 2,
                batch_size: 1,
            },
        ));
    }

    fn conflict(c: &mut Checker, winner: u64, pending: &[u64], decision: Decision) {
        let ids: Vec<OpId> = pending.iter().map(|&i| OpId(i)).collect();
        c.observe(&ev(
            0,
            winner,
            5,
            EventKind::OperationConflict {
                pending: ids.into_boxed_slice(),
                executing: None,
                decision,
                resolution_ns: 10,
            },
        ));
    }

    fn reject(c: &mut Checker, op: u64, winner: u64) {
        c.observe(&ev(
            0,
            op,
            5,
            EventKind::OperationRejected {
                from: OpState::Pending,
                reason: RejectReason::Outranked {
                    winner: OpId(winner),
                },
                retries: 0,
            },
        ));
    }

    fn start(c: &mut Checker, t_ns: u64, op: u64) {
        c.observe(&ev(t_ns, op, 5, EventKind::OperationStarted { attempt: 1 }));
    }

    fn complete(c: &mut Checker, op: u64, write: FieldWrite) {
        c.observe(&ev(
            0,
            op,
            5,
            EventKind::OperationCompleted {
                execution_ns: 1,
                end_to_end_ns: 1,
                effect: Effect::Modified { write, at_us: 7 },
            },
        ));
    }

    fn total(c: &Checker) -> u64 {
        c.legal.count
            + c.exclusive.count
            + c.priority.count
            + c.grace_rule.count
            + c.replay.count
            + c.versions.count
    }

    #[test]
    fn a_correct_conflict_passes_every_check() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        submit(&mut c, 3, 10);
        conflict(&mut c, 2, &[2, 1, 3], Decision::Start);
        reject(&mut c, 1, 2);
        reject(&mut c, 3, 2);
        start(&mut c, 0, 2);
        complete(&mut c, 2, FieldWrite::Counter(9));
        assert_eq!(total(&c), 0, "{:?}", c.priority.first);
        assert_eq!(c.active(), 0);
        assert_eq!(
            c.terminals,
            Terminals {
                succeeded: 1,
                rejected: 2,
                cancelled: 0
            }
        );
        assert_eq!(c.shadows()[0].counter, 9);
        assert_eq!(c.shadows()[0].history_len, 1);
    }

    fn submit_child(c: &mut Checker, op: u64, own: u8, parent: u64, effective: u8) {
        c.observe(&ev(
            0,
            op,
            own,
            EventKind::OperationSubmitted {
                effective: Priority::new(effective).unwrap_or(Priority::NORMAL),
                class: OpClass::Normal,
                parent: Some(OpId(parent)),
                budget: 2,
                batch_size: 1,
            },
        ));
    }

    #[test]
    fn effective_priority_must_follow_the_parent_chain() {
        let mut c = checker();
        submit(&mut c, 1, 10);
        submit_child(&mut c, 2, 2, 1, 10);
        assert_eq!(c.priority.count, 0, "{:?}", c.priority.first);
        // A child that did not inherit its parent's priority.
        submit_child(&mut c, 3, 2, 1, 2);
        assert_eq!(c.priority.count, 1);
        assert!(c.priority.first[0].detail.contains("parent chain gives 10"));
        // A parent that is not there.
        submit_child(&mut c, 4, 5, 99, 5);
        assert_eq!(c.priority.count, 2);
        assert!(c.priority.first[1].detail.contains("not an active op"));
        // Inherited priority decides a conflict: the LOW child of a
        // CRITICAL parent outranks a HIGH op.
        submit(&mut c, 5, 8);
        conflict(&mut c, 5, &[2, 5], Decision::Start);
        assert_eq!(c.priority.count, 3, "{:?}", c.priority.first);
    }

    #[test]
    fn a_lower_priority_winner_is_a_priority_violation() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        conflict(&mut c, 1, &[1, 2], Decision::Start);
        assert_eq!(c.priority.count, 1);
        assert!(
            c.priority.first[0].detail.contains("outranks it"),
            "{:?}",
            c.priority.first
        );
    }

    #[test]
    fn a_fifo_tie_lost_by_the_earlier_op_is_a_priority_violation() {
        let mut c = checker();
        submit(&mut c, 1, 8);
        submit(&mut c, 2, 8);
        conflict(&mut c, 2, &[1, 2], Decision::Start);
        assert_eq!(c.priority.count, 1);
    }

    #[test]
    fn a_rejection_naming_someone_other_than_the_winner_is_caught() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        submit(&mut c, 3, 5);
        conflict(&mut c, 2, &[1, 2, 3], Decision::Start);
        reject(&mut c, 1, 3);
        assert_eq!(c.priority.count, 1);
        assert!(c.priority.first[0].detail.contains("not the winner"));
    }

    #[test]
    fn two_starts_on_one_target_break_exclusive_execution() {
        let mut c = checker();
        submit(&mut c, 1, 5);
        submit(&mut c, 2, 5);
        start(&mut c, 0, 1);
        start(&mut c, 0, 2);
        assert_eq!(c.exclusive.count, 1);
        assert!(c.exclusive.first[0].detail.contains("still executing"));
    }

    #[test]
    fn completing_an_op_that_never_started_is_an_illegal_transition() {
        let mut c = checker();
        submit(&mut c, 1, 5);
        complete(&mut c, 1, FieldWrite::Counter(1));
        assert!(c.legal.count >= 1);
        assert!(
            c.legal.first[0]
                .detail
                .contains("illegal Commit from Pending"),
            "{:?}",
            c.legal.first
        );
    }

    #[test]
    fn events_for_unknown_or_final_ops_are_illegal() {
        let mut c = checker();
        start(&mut c, 0, 99);
        assert_eq!(c.legal.count, 1);
        submit(&mut c, 1, 5);
        submit(&mut c, 1, 5);
        assert_eq!(c.legal.count, 2, "a second submission of one id");
    }

    fn preempt(c: &mut Checker, t_ns: u64, victim: u64, by: u64) {
        c.observe(&ev(
            t_ns,
            victim,
            2,
            EventKind::OperationPreempted {
                by: OpId(by),
                elapsed_ns: 0,
            },
        ));
    }

    #[test]
    fn preemption_inside_the_grace_period_is_caught() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        start(&mut c, 10 * MS, 1);
        preempt(&mut c, 60 * MS, 1, 2);
        assert_eq!(c.grace_rule.count, 1);
        assert!(c.grace_rule.first[0].detail.contains("inside the"));
    }

    #[test]
    fn preemption_past_grace_by_a_higher_priority_passes() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        start(&mut c, 10 * MS, 1);
        preempt(&mut c, 210 * MS, 1, 2);
        assert_eq!(total(&c), 0, "{:?}", c.grace_rule.first);
        assert_eq!(c.active(), 2, "the victim is Failed, not final");
    }

    #[test]
    fn preemption_by_an_equal_priority_is_caught() {
        let mut c = checker();
        submit(&mut c, 1, 5);
        submit(&mut c, 2, 5);
        start(&mut c, 0, 1);
        preempt(&mut c, 300 * MS, 1, 2);
        assert_eq!(c.grace_rule.count, 1);
        assert!(c.grace_rule.first[0].detail.contains("not strictly higher"));
    }

    fn grace_save(c: &mut Checker, t_ns: u64, winner: u64, executing: u64) {
        c.observe(&ev(
            t_ns,
            winner,
            10,
            EventKind::GraceProtected {
                executing: OpId(executing),
                elapsed_ns: 0,
            },
        ));
    }

    #[test]
    fn a_grace_save_past_the_grace_period_is_caught() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        start(&mut c, 0, 1);
        grace_save(&mut c, 100 * MS, 2, 1);
        assert_eq!(c.grace_rule.count, 0);
        grace_save(&mut c, 250 * MS, 2, 1);
        assert_eq!(c.grace_rule.count, 1);
    }

    #[test]
    fn a_grace_save_before_the_start_arrives_is_checked_when_it_does() {
        let mut c = checker();
        submit(&mut c, 1, 2);
        submit(&mut c, 2, 10);
        // The save is reported before the protected op's start...
        grace_save(&mut c, 500 * MS, 2, 1);
        assert_eq!(c.grace_rule.count, 0);
        // ... which turns out to have been long before it.
        start(&mut c, 100 * MS, 1);
        assert_eq!(c.grace_rule.count, 1);
    }

    #[test]
    fn retries_beyond_the_budget_and_early_budget_rejections_are_caught() {
        let mut c = checker();
        submit(&mut c, 1, 5);
        start(&mut c, 0, 1);
        c.observe(&ev(
            0,
            1,
            5,
            EventKind::OperationFailed {
                reason: FailReason::Panic,
                attempt: 1,
            },
        ));
        // Budget 2, no retry used yet: rejecting now is wrong.
        c.observe(&ev(
            0,
            1,
            5,
            EventKind::OperationRejected {
                from: OpState::Failed,
                reason: RejectReason::BudgetSpent,
                retries: 0,
            },
        ));
        assert_eq!(c.priority.count, 1);
        assert!(
            c.priority.first[0]
                .detail
                .contains("spent budget after 0 of 2")
        );
    }

    #[test]
    fn a_broken_version_chain_is_caught() {
        let mut c = checker();
        let (a, b, x) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let v = |ecs_id, previous, number| EventKind::EntityVersioned {
            ecs_id,
            previous,
            number,
        };
        c.observe(&ev(0, 1, 5, v(a, Uuid::nil(), 2)));
        c.observe(&ev(0, 2, 5, v(b, a, 3)));
        assert_eq!(c.versions.count, 0);
        c.observe(&ev(0, 3, 5, v(Uuid::from_u128(4), x, 4)));
        assert_eq!(c.versions.count, 1);
    }

    #[test]
    fn a_structural_commit_that_contradicts_the_replay_is_caught() {
        let mut c = checker();
        submit(&mut c, 1, 5);
        start(&mut c, 0, 1);
        // The target is a child: detaching it is a real change.
        c.observe(&ev(
            0,
            1,
            5,
            EventKind::OperationCompleted {
                execution_ns: 1,
                end_to_end_ns: 1,
                effect: Effect::Structural {
                    op: OpType::DetachEntity,
                    changed: false,
                    at_us: 1,
                },
            },
        ));
        assert_eq!(c.replay.count, 1);
    }
}
