//! Typed events and the bus that carries them to every observer.
//!
//! The engine and the harness describe everything they do as [`Event`]s:
//! submissions, conflicts and their decisions, starts, grace saves,
//! preemptions, failures, retries, commits, rejections, cancellations and
//! the versions and modifications commits cause. The observers (the
//! lifecycle observer that checks the rules online, and the metrics
//! collector) learn about the run only from this stream, which is what makes
//! their checks independent of the engine's own bookkeeping.
//!
//! ## Delivery
//!
//! Each producing task owns a [`Publisher`] that buffers events and flushes
//! them as one [`EventBatch`] per loop iteration, so the cost of a channel
//! send is shared by many events. A flush sends the same batch (an `Arc`) to
//! every subscriber's bounded channel and *awaits* room: a slow observer
//! slows the engine down (back-pressure) instead of losing events.
//!
//! Every batch carries its publisher's id and the sequence number of its
//! first event; a subscriber checks that each publisher's numbers are
//! contiguous, so a lost event cannot go unnoticed ([`Continuity`]).
//!
//! ## Order
//!
//! Events of one publisher arrive in the order published. Across
//! publishers, the harness keeps causality: a task flushes its events
//! before it sends the command that lets another task act on the same op,
//! so per target the stream is in order.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::ecs::Value;
use crate::ops::{BorrowField, FailReason, FieldWrite, OpClass, OpId, OpState, OpType, Priority};

/// One thing that happened, to one op on one target.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Run-relative time, nanoseconds.
    pub t_ns: u64,
    pub op: OpId,
    /// Store entity index of the op's target (for `EntityVersioned`, of
    /// the entity that was versioned, which may be a group root).
    pub target: u32,
    pub op_type: OpType,
    pub priority: Priority,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// An event about `op`, on its target.
    pub(crate) fn of(op: &crate::ops::Op, t_ns: u64, kind: EventKind) -> Event {
        Event {
            t_ns,
            op: op.id,
            target: op.target,
            op_type: op.op_type(),
            priority: op.priority,
            kind,
        }
    }
}

/// What happened. Variant names are the `event` names of the history
/// format (`docs/HISTORY.md`).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event")]
pub enum EventKind {
    /// → Pending.
    OperationSubmitted {
        effective: Priority,
        class: OpClass,
        parent: Option<OpId>,
        budget: u32,
        /// Size of the batch the op was submitted in.
        batch_size: u32,
    },
    /// A resolution point with two or more active ops. `op` is the winner.
    OperationConflict {
        /// The Pending ops that took part (the winner among them).
        pending: Box<[OpId]>,
        /// The op executing on the target at the decision, if any.
        executing: Option<OpId>,
        decision: Decision,
        /// From the arrival of the ops that caused the resolution to the
        /// decision.
        resolution_ns: u64,
    },
    /// Pending → Rejected (outranked) or Failed → Rejected (budget spent).
    OperationRejected {
        from: OpState,
        reason: RejectReason,
        retries: u32,
    },
    /// Pending → Executing.
    OperationStarted { attempt: u32 },
    /// The winner `op` waits: `executing` is inside its grace period.
    GraceProtected { executing: OpId, elapsed_ns: u64 },
    /// Executing → Failed: `op` was aborted, with no effects, for `by`.
    OperationPreempted { by: OpId, elapsed_ns: u64 },
    /// Executing → Failed: the attempt failed, with no effects.
    OperationFailed {
        reason: FailReason,
        attempt: u32,
        /// Whether the failure was injected on purpose (a chaos fault);
        /// any other failure is an engine error.
        injected: bool,
    },
    /// Failed → Pending after waiting out its backoff.
    OperationRetry {
        retry: u32,
        max: u32,
        backoff_ns: u64,
    },
    /// Executing → Succeeded.
    OperationCompleted {
        execution_ns: u64,
        end_to_end_ns: u64,
        effect: Effect,
    },
    /// Pending (or Failed, waiting to retry) → Cancelled at the drain
    /// deadline.
    OperationCancelled { from: OpState },
    /// A commit created a version of entity `target`.
    EntityVersioned {
        ecs_id: Uuid,
        previous: Uuid,
        number: u64,
    },
    /// A commit changed fields of entity `target` (names, in write order).
    EntityModified { fields: &'static [&'static str] },
}

/// An [`EventKind`] without its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Submitted,
    Conflict,
    Rejected,
    Started,
    GraceProtected,
    Preempted,
    Failed,
    Retry,
    Completed,
    Cancelled,
    Versioned,
    Modified,
}

impl Kind {
    /// Number of kinds: the size of per-kind arrays.
    pub const COUNT: usize = Kind::ALL.len();

    /// Every kind, in declaration order (`ALL[k as usize] == k`).
    pub const ALL: [Kind; 12] = [
        Kind::Submitted,
        Kind::Conflict,
        Kind::Rejected,
        Kind::Started,
        Kind::GraceProtected,
        Kind::Preempted,
        Kind::Failed,
        Kind::Retry,
        Kind::Completed,
        Kind::Cancelled,
        Kind::Versioned,
        Kind::Modified,
    ];

    /// The name of the event, as the history format and the events file
    /// write it.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Submitted => "OperationSubmitted",
            Kind::Conflict => "OperationConflict",
            Kind::Rejected => "OperationRejected",
            Kind::Started => "OperationStarted",
            Kind::GraceProtected => "GraceProtected",
            Kind::Preempted => "OperationPreempted",
            Kind::Failed => "OperationFailed",
            Kind::Retry => "OperationRetry",
            Kind::Completed => "OperationCompleted",
            Kind::Cancelled => "OperationCancelled",
            Kind::Versioned => "EntityVersioned",
            Kind::Modified => "EntityModified",
        }
    }
}

impl EventKind {
    /// What kind of event this is.
    pub fn kind(&self) -> Kind {
        match self {
            EventKind::OperationSubmitted { .. } => Kind::Submitted,
            EventKind::OperationConflict { .. } => Kind::Conflict,
            EventKind::OperationRejected { .. } => Kind::Rejected,
            EventKind::OperationStarted { .. } => Kind::Started,
            EventKind::GraceProtected { .. } => Kind::GraceProtected,
            EventKind::OperationPreempted { .. } => Kind::Preempted,
            EventKind::OperationFailed { .. } => Kind::Failed,
            EventKind::OperationRetry { .. } => Kind::Retry,
            EventKind::OperationCompleted { .. } => Kind::Completed,
            EventKind::OperationCancelled { .. } => Kind::Cancelled,
            EventKind::EntityVersioned { .. } => Kind::Versioned,
            EventKind::EntityModified { .. } => Kind::Modified,
        }
    }
}

/// What a resolution point decided for its winner: the kind of the
/// conflict rule's [`crate::resolve::Action`], which converts into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Start,
    Wait,
    GraceSave,
    Preempt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Lost a resolution to `winner`.
    Outranked { winner: OpId },
    /// Failed with no retries left.
    BudgetSpent,
}

/// Everything a committed op did, with the inputs that were not known at
/// submission (the wall-clock time, a borrowed value). Enough to replay
/// the commit on a shadow copy of the target.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    Versioned,
    Modified {
        write: FieldWrite,
        at_us: i64,
    },
    /// Boxed: a borrow's value and source id make it three times the size
    /// of any other effect, and every event would carry that room.
    Borrowed(Box<BorrowEffect>),
    ComplexUpdate {
        data_value: f64,
        at_us: i64,
    },
    Structural {
        op: OpType,
        changed: bool,
        at_us: i64,
    },
}

/// What a borrow committed: the value copied and the source version it
/// was copied from. Serialized under its enum's name, as the struct
/// variant it was: the event digest hashes names too.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename = "Effect")]
pub struct BorrowEffect {
    pub field: BorrowField,
    #[serde(serialize_with = "serialize_value")]
    pub value: Value,
    pub from: Uuid,
    pub at_us: i64,
}

impl Effect {
    /// A borrow's effect.
    pub fn borrowed(field: BorrowField, value: Value, from: Uuid, at_us: i64) -> Effect {
        Effect::Borrowed(Box::new(BorrowEffect {
            field,
            value,
            from,
            at_us,
        }))
    }
}

pub(crate) fn serialize_value<S: serde::Serializer>(
    value: &Value,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Value::Int(i) => s.serialize_i64(*i),
        Value::Float(f) => s.serialize_f64(*f),
        Value::Str(t) => s.serialize_str(t),
        other => s.collect_str(&format_args!("{other:?}")),
    }
}

/// A flushed run of events from one publisher.
#[derive(Debug)]
pub struct EventBatch {
    pub publisher: u16,
    /// Sequence number (per publisher) of `events[0]`.
    pub first_seq: u64,
    /// How many events the publisher numbered in this batch. Equals
    /// `events.len()` unless an event was lost on the way.
    pub numbered: u64,
    pub events: Vec<Event>,
}

/// Emptied event buffers waiting to be filled again: a batch that every
/// subscriber has dropped gives its buffer back here, and a publisher's
/// next flush takes one, so a flush neither allocates nor touches memory
/// no cache has seen. Shared by every publisher in the process; a few
/// buffers are enough, since the bus holds few batches at a time.
static SPARE_BUFFERS: std::sync::Mutex<Vec<Vec<Event>>> = std::sync::Mutex::new(Vec::new());

/// Spare buffers kept at most; any more are freed.
const SPARE_KEPT: usize = 16;

/// Buffers larger than this many events are freed rather than kept.
const SPARE_LARGEST: usize = 1 << 16;

impl Drop for EventBatch {
    fn drop(&mut self) {
        if self.events.capacity() == 0 || self.events.capacity() > SPARE_LARGEST {
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        if let Ok(mut spare) = SPARE_BUFFERS.lock()
            && spare.len() < SPARE_KEPT
        {
            spare.push(events);
        }
    }
}

/// An empty buffer with room for at least `capacity` events: a spare one
/// if there is one, else a new one.
fn event_buffer(capacity: usize) -> Vec<Event> {
    let spare = SPARE_BUFFERS.lock().ok().and_then(|mut s| s.pop());
    match spare {
        Some(mut events) => {
            events.reserve(capacity);
            events
        }
        None => Vec::with_capacity(capacity),
    }
}

/// The receiving end a subscriber reads.
pub(crate) type Subscription = mpsc::Receiver<Arc<EventBatch>>;

/// Creates publishers and subscriptions. All subscriptions must be taken
/// before the first publisher is created.
pub(crate) struct Bus {
    subscribers: Vec<mpsc::Sender<Arc<EventBatch>>>,
    next_publisher: u16,
    capacity: usize,
}

impl Bus {
    /// `capacity`: batches each subscriber may have queued before
    /// publishers wait.
    pub(crate) fn new(capacity: usize) -> Bus {
        Bus {
            subscribers: Vec::new(),
            next_publisher: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn subscribe(&mut self) -> Subscription {
        let (tx, rx) = mpsc::channel(self.capacity);
        self.subscribers.push(tx);
        rx
    }

    pub(crate) fn publisher(&mut self) -> Publisher {
        let id = self.next_publisher;
        self.next_publisher += 1;
        Publisher {
            id,
            next_seq: 0,
            buffer: Vec::with_capacity(256),
            subscribers: self.subscribers.clone(),
            drop_one: false,
        }
    }
}

/// A producer's handle: buffer with [`Publisher::push`], deliver with
/// [`Publisher::flush`]. Dropping it (after a flush) closes its share of
/// every subscription.
pub(crate) struct Publisher {
    id: u16,
    next_seq: u64,
    buffer: Vec<Event>,
    subscribers: Vec<mpsc::Sender<Arc<EventBatch>>>,
    /// Test hook: lose one event of the next flush.
    drop_one: bool,
}

impl Publisher {
    pub(crate) fn push(&mut self, event: Event) {
        self.buffer.push(event);
    }

    /// Drop the buffered, not yet flushed events (they describe ops that
    /// were never handed to the engine).
    pub(crate) fn discard(&mut self) {
        self.buffer.clear();
    }

    /// Take back the last `n` buffered, not yet flushed events.
    pub(crate) fn split_off_last(&mut self, n: usize) -> Vec<Event> {
        let at = self.buffer.len().saturating_sub(n);
        self.buffer.split_off(at)
    }

    /// Events published (numbered) so far.
    pub(crate) fn published(&self) -> u64 {
        self.next_seq
    }

    /// Lose one event of the next non-empty flush (a deliberately broken
    /// bus, for the tests that prove event loss is caught).
    pub(crate) fn lose_one_event(&mut self) {
        self.drop_one = true;
    }

    /// Deliver buffered events to every subscriber, waiting for room.
    /// A subscriber that has gone away is skipped (it can no longer check
    /// anything, and the harness reports that separately).
    pub(crate) async fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        // The next buffer has room for as many events as this one, so a
        // stream of big flushes pays for growing (and copying) a buffer
        // only when a flush is bigger than those before it.
        let next = event_buffer(self.buffer.len());
        let mut events = std::mem::replace(&mut self.buffer, next);
        let numbered = events.len() as u64;
        if self.drop_one && events.len() > 1 {
            self.drop_one = false;
            events.remove(events.len() / 2);
        }
        let batch = Arc::new(EventBatch {
            publisher: self.id,
            first_seq: self.next_seq,
            numbered,
            events,
        });
        self.next_seq += numbered;
        for sub in &self.subscribers {
            let _ = sub.send(Arc::clone(&batch)).await;
        }
    }
}

/// Checks, per publisher, that batches arrive in order and complete.
#[derive(Debug, Default)]
pub struct Continuity {
    next: Vec<u64>,
    /// Events numbered by publishers but missing from the stream.
    pub(crate) lost: u64,
    /// Batches whose first sequence number was not the expected one.
    pub(crate) gaps: u64,
    pub received: u64,
}

impl Continuity {
    /// Account for one batch; returns false if anything was missing.
    pub fn observe(&mut self, batch: &EventBatch) -> bool {
        let p = usize::from(batch.publisher);
        if self.next.len() <= p {
            self.next.resize(p + 1, 0);
        }
        let mut ok = true;
        if batch.first_seq != self.next[p] {
            self.gaps += 1;
            self.lost += batch.first_seq.saturating_sub(self.next[p]);
            ok = false;
        }
        let got = batch.events.len() as u64;
        if got != batch.numbered {
            self.lost += batch.numbered.saturating_sub(got);
            ok = false;
        }
        self.next[p] = batch.first_seq + batch.numbered;
        self.received += got;
        ok
    }
}

#[cfg(test)]
pub(crate) mod samples;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stays_small() {
        // Every stage of a run writes or reads every event: the publisher,
        // the digest, the checks, the metrics. A borrow's effect is boxed
        // so that the rest do not carry its room.
        assert!(std::mem::size_of::<Event>() <= 72);
        assert!(std::mem::size_of::<Effect>() <= 24);
    }

    fn ev(op: u64) -> Event {
        Event {
            t_ns: op,
            op: OpId(op),
            target: 0,
            op_type: OpType::VersionEntity,
            priority: Priority::NORMAL,
            kind: EventKind::OperationStarted { attempt: 1 },
        }
    }

    async fn drain(mut sub: Subscription) -> (Vec<u64>, Continuity) {
        let mut seen = Vec::new();
        let mut continuity = Continuity::default();
        while let Some(batch) = sub.recv().await {
            continuity.observe(&batch);
            seen.extend(batch.events.iter().map(|e| e.op.0));
        }
        (seen, continuity)
    }

    #[test]
    fn kinds_index_per_kind_arrays_in_declaration_order_and_name_events() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{kind:?}");
        }
        let mut seen = [false; Kind::COUNT];
        for ev in samples::every_kind() {
            seen[ev.kind.kind() as usize] = true;
            let json = serde_json::to_value(&ev).unwrap_or_default();
            assert_eq!(json["event"], ev.kind.kind().name(), "{ev:?}");
        }
        assert_eq!(seen, [true; Kind::COUNT], "a kind no sample event has");
    }

    #[tokio::test]
    async fn every_subscriber_receives_every_event_in_order() {
        let mut bus = Bus::new(2);
        let subs = [bus.subscribe(), bus.subscribe()];
        let mut publisher = bus.publisher();
        drop(bus);
        let readers: Vec<_> = subs.into_iter().map(|s| tokio::spawn(drain(s))).collect();
        // More batches than the channels hold: the publisher must wait for
        // room, not drop anything.
        for batch in 0..50u64 {
            for i in 0..7 {
                publisher.push(ev(batch * 7 + i));
            }
            publisher.flush().await;
        }
        assert_eq!(publisher.published(), 350);
        drop(publisher);
        for reader in readers {
            let (seen, continuity) = reader.await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(seen, (0..350).collect::<Vec<_>>());
            assert_eq!(
                (continuity.lost, continuity.gaps, continuity.received),
                (0, 0, 350)
            );
        }
    }

    #[tokio::test]
    async fn a_lost_event_is_counted() {
        let mut bus = Bus::new(8);
        let sub = bus.subscribe();
        let mut publisher = bus.publisher();
        drop(bus);
        let reader = tokio::spawn(drain(sub));
        publisher.lose_one_event();
        for i in 0..5 {
            publisher.push(ev(i));
        }
        publisher.flush().await;
        drop(publisher);
        let (seen, continuity) = reader.await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seen.len(), 4);
        assert_eq!(continuity.lost, 1);
    }

    #[test]
    fn a_gap_between_batches_is_counted() {
        let mut c = Continuity::default();
        let batch = |first_seq, n: u64| EventBatch {
            publisher: 3,
            first_seq,
            numbered: n,
            events: (0..n).map(ev).collect(),
        };
        assert!(c.observe(&batch(0, 2)));
        assert!(!c.observe(&batch(5, 1)), "3 events never arrived");
        assert_eq!((c.lost, c.gaps, c.received), (3, 1, 3));
    }
}
