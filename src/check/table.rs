//! The shared table the rules read: one record per *active* op (submitted,
//! not yet final) and one per busy target, kept up to date from the event
//! stream alone.
//!
//! A record is dropped when its op reaches a final state, and a target's
//! record goes back to a pool when the target is idle again (nothing
//! Pending or executing, no rejection owed), so the records are bounded by
//! the ops in flight; per target the table keeps only the four-byte index
//! of its record and one bit saying whether a commit modified it. The
//! effective priorities of ops that settled recently are kept a little
//! longer (as many ops back as a parent link may reach), so a child
//! submitted just after its parent settled can still be checked.
//!
//! Rules see the table as it was *before* an event (in
//! [`super::rules::Rule::observe`]) and after it (in
//! [`super::rules::Rule::after`]); only [`Table::apply`] changes it.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::rules::legal::next_state;
use crate::events::{Event, EventKind};
use crate::ops::{OpId, OpState, Priority};
use crate::prefetch::Stage;

/// What the table knows of an active op.
#[derive(Clone, Copy, Debug)]
pub struct OpRecord {
    pub state: OpState,
    pub target: u32,
    pub own: Priority,
    pub effective: Priority,
    pub parent: Option<OpId>,
    pub submitted_ns: u64,
    /// When it last became Pending (submission or retry).
    pub pending_since: u64,
    /// When its current (or last) attempt started.
    pub started_ns: u64,
    /// When its last attempt failed (or was preempted).
    pub failed_ns: u64,
    /// Retries used, as counted from `OperationRetry` events.
    pub retries: u32,
    pub budget: u32,
}

/// A Pending op as its target's record keeps it: what deciding and
/// grace need without a lookup of the op's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub id: OpId,
    pub effective: Priority,
    /// When it became Pending (submitted, or back from a retry).
    pub since: u64,
}

/// What the table knows of a target that is not idle.
#[derive(Clone, Debug, Default)]
pub struct TargetRecord {
    pub executing: Option<OpId>,
    /// The Pending ops of the target, in the order they became Pending.
    /// The submitter announces a burst of batches before the engine
    /// decides the first, so a target often has dozens waiting, and they
    /// leave mostly oldest first: a queue whose removals shift the shorter
    /// side finds and removes them near its front.
    pub pending: VecDeque<Waiting>,
    /// Winner of the latest resolution.
    pub last_winner: Option<OpId>,
    /// Non-winners of the latest conflict still owed a rejection.
    pub owed_rejections: u64,
}

impl TargetRecord {
    /// Nothing left to know: the record can go.
    fn idle(&self) -> bool {
        self.executing.is_none() && self.pending.is_empty() && self.owed_rejections == 0
    }
}

/// A target with no record.
const IDLE: u32 = u32::MAX;

/// The records of the busy targets: four bytes per target (the index of
/// its record, or [`IDLE`]) and a pool of records that idle targets give
/// back. A record keeps its `pending` buffer when it is given back, so a
/// target that goes busy and idle batch after batch allocates nothing,
/// and no key is hashed.
#[derive(Debug, Default)]
struct Busy {
    slot_of: Vec<u32>,
    records: Vec<TargetRecord>,
    free: Vec<u32>,
}

impl Busy {
    fn get(&self, t: u32) -> Option<&TargetRecord> {
        match self.slot_of.get(t as usize) {
            Some(&s) if s != IDLE => Some(&self.records[s as usize]),
            _ => None,
        }
    }

    /// Target `t`'s record, taken from the pool if it had none (the table
    /// of a history checked offline grows to the targets it meets).
    fn get_mut(&mut self, t: u32) -> &mut TargetRecord {
        let t = t as usize;
        if self.slot_of.len() <= t {
            self.slot_of.resize(t + 1, IDLE);
        }
        if self.slot_of[t] == IDLE {
            self.slot_of[t] = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.records.push(TargetRecord::default());
                    (self.records.len() - 1) as u32
                }
            };
        }
        &mut self.records[self.slot_of[t] as usize]
    }

    fn forget_if_idle(&mut self, t: u32) {
        let Some(&s) = self.slot_of.get(t as usize) else {
            return;
        };
        if s == IDLE || !self.records[s as usize].idle() {
            return;
        }
        // Back to the pool as a fresh record, keeping the buffer.
        let record = &mut self.records[s as usize];
        record.last_winner = None;
        record.pending.clear();
        self.slot_of[t as usize] = IDLE;
        self.free.push(s);
    }
}

/// Terminal outcomes counted from the stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terminals {
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
}

/// The shared table.
#[derive(Debug, Default)]
pub struct Table {
    ops: FxHashMap<OpId, OpRecord>,
    /// Targets that are not idle.
    targets: Busy,
    /// Bit `t` set: a commit changed target `t`'s fields.
    modified: Vec<u64>,
    modified_count: u64,
    /// Effective priorities of recently settled ops.
    settled: Settled,
    horizon: u64,
    newest: Option<OpId>,
    pub submitted: u64,
    pub terminals: Terminals,
    pub events: u64,
    /// Most ops active at once (the checks' memory bound).
    pub peak_active: usize,
    /// Conflicts decided while a previous one on the target still owed
    /// rejections.
    pub unresolved_conflicts: u64,
}

impl Table {
    /// `horizon`: how many ops back a parent link may reach.
    pub fn new(targets: usize, horizon: u64) -> Table {
        Table {
            targets: Busy {
                slot_of: vec![IDLE; targets],
                ..Busy::default()
            },
            modified: vec![0; targets.div_ceil(64)],
            horizon: horizon.max(1),
            ..Table::default()
        }
    }

    pub fn op(&self, id: OpId) -> Option<&OpRecord> {
        self.ops.get(&id)
    }

    /// Target `t`'s record; `None` when it is idle.
    pub fn target(&self, t: u32) -> Option<&TargetRecord> {
        self.targets.get(t)
    }

    /// Ask for target `t`'s record (see [`crate::prefetch`]).
    pub(crate) fn prefetch(&self, t: u32, stage: Stage) {
        let Some(slot) = self.targets.slot_of.get(t as usize) else {
            return;
        };
        match stage {
            Stage::Far => crate::prefetch::read(slot),
            Stage::Near => {
                if let Some(record) = self.targets.records.get(*slot as usize) {
                    crate::prefetch::read(record);
                }
            }
        }
    }

    fn target_mut(&mut self, t: u32) -> &mut TargetRecord {
        self.targets.get_mut(t)
    }

    /// Drop target `t`'s record if it is idle.
    fn forget_if_idle(&mut self, t: u32) {
        self.targets.forget_if_idle(t);
    }

    fn mark_modified(&mut self, t: u32) {
        let (word, bit) = (t as usize / 64, 1u64 << (t % 64));
        if self.modified.len() <= word {
            self.modified.resize(word + 1, 0);
        }
        if self.modified[word] & bit == 0 {
            self.modified[word] |= bit;
            self.modified_count += 1;
        }
    }

    /// Ops submitted and not yet seen in a final state.
    pub fn active(&self) -> usize {
        self.ops.len()
    }

    /// Entities whose fields a commit changed.
    pub fn entities_modified(&self) -> u64 {
        self.modified_count
    }

    /// Some of the ops still active, lowest ids first.
    pub fn active_sample(&self, n: usize) -> Vec<(OpId, u32, OpState)> {
        let mut v: Vec<_> = self
            .ops
            .iter()
            .map(|(id, r)| (*id, r.target, r.state))
            .collect();
        v.sort_by_key(|x| x.0);
        v.truncate(n);
        v
    }

    /// The effective priority of `id`, active or recently settled.
    pub fn known_effective(&self, id: OpId) -> Option<Priority> {
        self.ops
            .get(&id)
            .map(|r| r.effective)
            .or_else(|| self.settled.get(id))
    }

    /// Whether `id` lies within a parent link's reach of the newest op.
    pub fn within_reach(&self, id: OpId) -> bool {
        self.newest
            .is_some_and(|n| id <= n && n.0 - id.0 <= self.horizon)
    }

    /// The highest-ranked Pending op of target `t` whose effective
    /// priority is strictly above `than`, with the earliest time one such
    /// op became Pending.
    pub fn outranking_pending(&self, t: u32, than: Priority) -> Option<u64> {
        let tr = self.target(t)?;
        tr.pending
            .iter()
            .filter(|w| w.effective > than)
            .map(|w| w.since)
            .min()
    }

    /// Apply one event. An event the lifecycle does not allow changes
    /// nothing (the legal-transitions rule reports it).
    pub fn apply(&mut self, ev: &Event) {
        self.events += 1;
        match &ev.kind {
            EventKind::OperationSubmitted {
                effective,
                parent,
                budget,
                ..
            } => {
                self.submitted += 1;
                let std::collections::hash_map::Entry::Vacant(slot) = self.ops.entry(ev.op) else {
                    return;
                };
                slot.insert(OpRecord {
                    state: OpState::Pending,
                    target: ev.target,
                    own: ev.priority,
                    effective: *effective,
                    parent: *parent,
                    submitted_ns: ev.t_ns,
                    pending_since: ev.t_ns,
                    started_ns: 0,
                    failed_ns: 0,
                    retries: 0,
                    budget: *budget,
                });
                self.newest = Some(self.newest.map_or(ev.op, |n| n.max(ev.op)));
                self.target_mut(ev.target).pending.push_back(Waiting {
                    id: ev.op,
                    effective: *effective,
                    since: ev.t_ns,
                });
                self.peak_active = self.peak_active.max(self.ops.len());
            }
            EventKind::OperationConflict { pending, .. } => {
                let others = pending.iter().filter(|id| **id != ev.op).count() as u64;
                let tr = self.target_mut(ev.target);
                if tr.owed_rejections > 0 {
                    self.unresolved_conflicts += 1;
                }
                let tr = self.target_mut(ev.target);
                tr.owed_rejections = others;
                tr.last_winner = Some(ev.op);
                self.forget_if_idle(ev.target);
            }
            EventKind::EntityModified { .. } => self.mark_modified(ev.target),
            EventKind::EntityVersioned { .. } | EventKind::GraceProtected { .. } => {}
            kind => self.step(ev, kind),
        }
    }

    fn step(&mut self, ev: &Event, kind: &EventKind) {
        // Taken out, and put back unless the op is final: most steps end
        // an op (every rejection), and this way they find it only once.
        let Some(mut rec) = self.ops.remove(&ev.op) else {
            return;
        };
        let Some(next) = next_state(rec.state, kind) else {
            self.ops.insert(ev.op, rec);
            return;
        };
        let t = rec.target;
        // Leaving or entering Pending and Executing.
        if rec.state == OpState::Pending && next != OpState::Pending {
            // An op is Pending once at a time.
            let pending = &mut self.target_mut(t).pending;
            if let Some(i) = pending.iter().position(|w| w.id == ev.op) {
                pending.remove(i);
            }
        }
        if rec.state == OpState::Executing {
            let tr = self.target_mut(t);
            if tr.executing == Some(ev.op) {
                tr.executing = None;
            }
        }
        if let EventKind::OperationRejected { .. } = kind
            && rec.state == OpState::Pending
        {
            let tr = self.target_mut(t);
            tr.owed_rejections = tr.owed_rejections.saturating_sub(1);
        }
        match next {
            OpState::Pending => self.target_mut(t).pending.push_back(Waiting {
                id: ev.op,
                effective: rec.effective,
                since: ev.t_ns,
            }),
            OpState::Executing => self.target_mut(t).executing = Some(ev.op),
            _ => self.forget_if_idle(t),
        }
        if next.is_terminal() {
            match kind {
                EventKind::OperationCompleted { .. } => self.terminals.succeeded += 1,
                EventKind::OperationRejected { .. } => self.terminals.rejected += 1,
                _ => self.terminals.cancelled += 1,
            }
            self.remember_settled(ev.op, rec.effective);
            return;
        }
        rec.state = next;
        match kind {
            EventKind::OperationStarted { .. } => rec.started_ns = ev.t_ns,
            EventKind::OperationFailed { .. } | EventKind::OperationPreempted { .. } => {
                rec.failed_ns = ev.t_ns
            }
            EventKind::OperationRetry { .. } => {
                rec.retries += 1;
                rec.pending_since = ev.t_ns;
            }
            _ => {}
        }
        self.ops.insert(ev.op, rec);
    }

    fn remember_settled(&mut self, id: OpId, effective: Priority) {
        self.settled.push(id, effective);
        // Forget what no parent link can reach any more.
        while let Some(old) = self.settled.oldest() {
            if self.within_reach(old) {
                break;
            }
            self.settled.pop_oldest();
        }
    }
}

/// Above this many recently settled ops a lookup uses an index; at or
/// below it, a scan.
const SCAN: usize = 32;

/// The effective priorities of recently settled ops, in the order they
/// settled. They are usually a handful (in capacity mode the newest op
/// runs far ahead and puts most of them out of reach at once), and a
/// lookup scans them from the newest, which costs less than keeping a map
/// up to date at every settlement. While there are more than [`SCAN`]
/// (long parent reaches, slow rates) a map indexes them, with a count of
/// the copies of an id, so that an op settled twice (a history that
/// reuses an id) is found at its latest priority either way.
#[derive(Debug, Default)]
struct Settled {
    order: VecDeque<(OpId, Priority)>,
    index: Option<FxHashMap<OpId, (Priority, u32)>>,
}

impl Settled {
    fn push(&mut self, id: OpId, effective: Priority) {
        self.order.push_back((id, effective));
        if let Some(index) = &mut self.index {
            let e = index.entry(id).or_insert((effective, 0));
            *e = (effective, e.1 + 1);
        } else if self.order.len() > SCAN {
            let mut index = FxHashMap::default();
            for &(id, p) in &self.order {
                let e = index.entry(id).or_insert((p, 0));
                *e = (p, e.1 + 1);
            }
            self.index = Some(index);
        }
    }

    fn oldest(&self) -> Option<OpId> {
        self.order.front().map(|&(id, _)| id)
    }

    fn pop_oldest(&mut self) {
        let Some((old, _)) = self.order.pop_front() else {
            return;
        };
        if self.order.len() <= SCAN / 2 {
            // Small again: back to scanning.
            self.index = None;
        } else if let Some(index) = &mut self.index
            && let std::collections::hash_map::Entry::Occupied(mut e) = index.entry(old)
        {
            if e.get().1 <= 1 {
                e.remove();
            } else {
                e.get_mut().1 -= 1;
            }
        }
    }

    fn get(&self, id: OpId) -> Option<Priority> {
        match &self.index {
            Some(index) => index.get(&id).map(|&(p, _)| p),
            None => self
                .order
                .iter()
                .rev()
                .find(|&&(s, _)| s == id)
                .map(|&(_, p)| p),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Target records live only while their target is busy.

    use super::*;
    use crate::events::{Decision, Effect, RejectReason};
    use crate::ops::{FieldWrite, OpClass, OpType};

    fn ev(table: &mut Table, op: u64, target: u32, kind: EventKind) {
        table.apply(&Event {
            t_ns: op,
            op: OpId(op),
            target,
            op_type: OpType::ModifyField,
            priority: Priority::NORMAL,
            kind,
        });
    }

    fn submit(table: &mut Table, op: u64, target: u32) {
        let kind = EventKind::OperationSubmitted {
            effective: Priority::NORMAL,
            class: OpClass::Normal,
            parent: None,
            budget: 1,
            batch_size: 2,
        };
        ev(table, op, target, kind);
    }

    #[test]
    fn a_target_is_forgotten_once_idle_and_its_modification_remembered() {
        let mut table = Table::new(100, 8);
        submit(&mut table, 1, 70);
        submit(&mut table, 2, 70);
        let conflict = EventKind::OperationConflict {
            pending: Box::new([OpId(1), OpId(2)]),
            executing: None,
            decision: Decision::Start,
            resolution_ns: 1,
        };
        ev(&mut table, 1, 70, conflict);
        ev(
            &mut table,
            1,
            70,
            EventKind::OperationStarted { attempt: 0 },
        );
        let rejected = EventKind::OperationRejected {
            from: OpState::Pending,
            reason: RejectReason::Outranked { winner: OpId(1) },
            retries: 0,
        };
        ev(&mut table, 2, 70, rejected);
        let busy = table.target(70).map(|t| (t.executing, t.last_winner));
        assert_eq!(busy, Some((Some(OpId(1)), Some(OpId(1)))));
        let fields = EventKind::EntityModified {
            fields: &["counter"],
        };
        ev(&mut table, 1, 70, fields.clone());
        ev(&mut table, 1, 70, fields.clone());
        ev(&mut table, 9, 99, fields);
        let done = EventKind::OperationCompleted {
            execution_ns: 1,
            end_to_end_ns: 1,
            effect: Effect::Modified {
                write: FieldWrite::Counter(1),
                at_us: 1,
            },
        };
        ev(&mut table, 1, 70, done);
        assert!(table.target(70).is_none());
        assert_eq!(table.active(), 0);
        assert_eq!(table.entities_modified(), 2);
    }

    proptest::proptest! {
        /// Scanned or indexed, small or large, the recently settled ops
        /// answer as a plain list searched from the newest would.
        #[test]
        fn settled_ops_are_found_as_a_list_would_find_them(
            steps in proptest::collection::vec((0u8..4, 0u64..48, 1u8..4), 0..400),
        ) {
            let mut settled = Settled::default();
            let mut model: VecDeque<(OpId, Priority)> = VecDeque::new();
            for (what, id, p) in steps {
                let (id, p) = (OpId(id), Priority::new(p).unwrap());
                match what {
                    // Pushes outnumber pops, so the list crosses SCAN both ways.
                    0 | 1 => {
                        settled.push(id, p);
                        model.push_back((id, p));
                    }
                    2 => {
                        settled.pop_oldest();
                        model.pop_front();
                    }
                    _ => {}
                }
                let want = model.iter().rev().find(|&&(s, _)| s == id).map(|&(_, p)| p);
                proptest::prop_assert_eq!(settled.get(id), want);
                proptest::prop_assert_eq!(settled.oldest(), model.front().map(|&(s, _)| s));
            }
        }
    }

    #[test]
    fn a_target_owed_a_rejection_is_not_forgotten() {
        let mut table = Table::new(4, 8);
        submit(&mut table, 1, 3);
        let conflict = EventKind::OperationConflict {
            pending: Box::new([OpId(1), OpId(2)]),
            executing: None,
            decision: Decision::Start,
            resolution_ns: 1,
        };
        ev(&mut table, 1, 3, conflict);
        ev(
            &mut table,
            1,
            3,
            EventKind::OperationCancelled {
                from: OpState::Pending,
            },
        );
        let owed = table.target(3).map(|t| (t.owed_rejections, t.last_winner));
        assert_eq!(owed, Some((1, Some(OpId(1)))));
    }
}
