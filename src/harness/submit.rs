//! Task 1, the submission worker: brutal batches on an open-loop schedule.
//!
//! At a fixed rate the batch after `n` submitted ops is due at
//! `n ÷ rate` seconds after the start, whatever the batch sizes and however
//! late the previous batch was; lateness is measured against that schedule.
//! A batch due at or after the end of the submission phase is not sent. In
//! capacity mode batches are built back to back, as fast as the in-flight
//! limit lets them through.
//!
//! Each batch picks one target and submits 3–8 (configurable) ops to it at
//! once, with priorities and types drawn from the configured weights and
//! every parameter drawn now, so each op's effect is fixed at submission.
//! Optionally some ops name an earlier op of their batch as parent and
//! inherit its priority (effective priority, SPEC §3).

use std::sync::Arc;
use std::time::Duration;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Clock, SubmitMsg};
use crate::config::{Config, Rate};
use crate::events::{Event, EventKind, Publisher};
use crate::metrics::{Counters, Latency};
use crate::ops::priority::ParentIndex;
use crate::ops::{BorrowField, FieldWrite, Op, OpId, OpKind, OpType, Priority, RetryBudgets};

/// Capacity mode: batches per message to the monitor.
const BATCHES_PER_MESSAGE: usize = 64;

/// What the submitter hands back when the submission phase ends.
pub struct SubmitResult {
    pub submitted: u64,
    pub batches: u64,
    /// Seconds from the start to the end of the submission phase.
    pub elapsed_s: f64,
    /// How late batches were against their schedule (fixed rate only).
    pub lateness: Latency,
    pub published: u64,
}

/// Draws ops: priorities, types and parameters from the configured
/// distributions, with one seeded RNG.
pub struct Workload {
    rng: SmallRng,
    priorities: Vec<Priority>,
    priority_index: WeightedIndex<f64>,
    type_index: WeightedIndex<f64>,
    batch_min: u32,
    batch_max: u32,
    num_targets: u32,
    first_source: u32,
    num_sources: u32,
    budgets: RetryBudgets,
    parent_probability: f64,
    parents: ParentIndex,
    next_id: u64,
}

impl Workload {
    /// `first_source`: store index of the first source entity.
    pub fn new(config: &Config, seed: u64, first_source: u32) -> anyhow::Result<Workload> {
        let priorities: Vec<Priority> = config.priorities.iter().map(|(p, _)| *p).collect();
        let priority_index = WeightedIndex::new(config.priorities.iter().map(|(_, w)| *w))
            .map_err(|e| anyhow::anyhow!("priority_distribution: {e}"))?;
        let type_index = WeightedIndex::new(config.op_weights.iter().copied())
            .map_err(|e| anyhow::anyhow!("operation_types: {e}"))?;
        Ok(Workload {
            rng: SmallRng::seed_from_u64(seed),
            priorities,
            priority_index,
            type_index,
            batch_min: config.batch_min,
            batch_max: config.batch_max,
            num_targets: config.num_targets,
            first_source,
            num_sources: config.num_sources,
            budgets: config.retries,
            parent_probability: config.parent_probability,
            parents: ParentIndex::default(),
            next_id: 0,
        })
    }

    fn draw_kind(&mut self, t: OpType) -> OpKind {
        let rng = &mut self.rng;
        match t {
            OpType::VersionEntity => OpKind::VersionEntity,
            OpType::ModifyField => OpKind::ModifyField(match rng.random_range(0..3u8) {
                0 => FieldWrite::Counter(rng.random_range(1..=10_000)),
                1 => FieldWrite::DataValue(rng.random_range(0.0..1000.0)),
                _ => FieldWrite::Text(rng.random()),
            }),
            OpType::BorrowAttribute => OpKind::BorrowAttribute {
                source: self.first_source + rng.random_range(0..self.num_sources),
                field: match rng.random_range(0..3u8) {
                    0 => BorrowField::Counter,
                    1 => BorrowField::Data,
                    _ => BorrowField::Text,
                },
            },
            OpType::ComplexUpdate => OpKind::ComplexUpdate {
                data_value: rng.random_range(0.0..100.0),
            },
            OpType::PromoteToRoot => OpKind::PromoteToRoot,
            OpType::DetachEntity => OpKind::DetachEntity,
        }
    }

    /// Draw one batch: a target and its ops, appended to `ops`, with their
    /// `OperationSubmitted` events pushed to `publisher`.
    ///
    /// With `parent_probability`, an op after the first may name an earlier
    /// op of the same batch as its parent; its effective priority comes from
    /// the parent chain ([`ParentIndex`]). Parents are drawn only among ops
    /// still in the index, so a chain can be neither missing nor cyclic.
    pub fn batch(&mut self, now_ns: u64, ops: &mut Vec<Op>, publisher: &mut Publisher) -> u32 {
        let target = self.rng.random_range(0..self.num_targets);
        let size = self.rng.random_range(self.batch_min..=self.batch_max);
        let first = self.next_id;
        for i in 0..size {
            let priority = self.priorities[self.priority_index.sample(&mut self.rng)];
            let op_type = OpType::ALL[self.type_index.sample(&mut self.rng)];
            let kind = self.draw_kind(op_type);
            let id = OpId(self.next_id);
            self.next_id += 1;
            let mut op = Op::new(id, kind, priority, target, &self.budgets, now_ns);
            if i > 0
                && self.parent_probability > 0.0
                && self.rng.random_bool(self.parent_probability)
            {
                let parent = OpId(self.rng.random_range(first..id.0));
                // Cannot fail: the parent is in the index and its own chain
                // ends inside this batch.
                if let Ok(effective) = self.parents.effective(id, Some(parent), priority) {
                    op.parent = Some(parent);
                    op.effective = effective;
                }
            }
            if self.parent_probability > 0.0 {
                self.parents.insert(id, op.parent, priority);
            }
            publisher.push(Event::of(
                &op,
                now_ns,
                EventKind::OperationSubmitted {
                    effective: op.effective,
                    class: op.class,
                    parent: op.parent,
                    budget: op.budget,
                    batch_size: size,
                },
            ));
            ops.push(op);
        }
        // Parent links reach only within a batch; the index stays small.
        for id in first..self.next_id {
            self.parents.remove(OpId(id));
        }
        size
    }
}

/// The submission worker.
pub struct Submitter {
    pub workload: Workload,
    pub rate: Rate,
    pub duration: Duration,
    pub clock: Clock,
    pub publisher: Publisher,
    pub counters: Arc<Counters>,
    pub permits: Arc<Semaphore>,
    pub to_monitor: mpsc::Sender<SubmitMsg>,
    /// Cancelled on the first Ctrl-C: stop submitting.
    pub interrupt: CancellationToken,
}

impl Submitter {
    pub async fn run(mut self) -> SubmitResult {
        let mut result = SubmitResult {
            submitted: 0,
            batches: 0,
            elapsed_s: 0.0,
            lateness: Latency::new(),
            published: 0,
        };
        match self.rate {
            Rate::PerSecond(rate) => self.fixed_rate(rate, &mut result).await,
            Rate::Max => self.capacity(&mut result).await,
        }
        self.publisher.flush().await;
        // The submission phase is the whole window, even when its last
        // batch was due a little before the end; an interrupt ends it early.
        let end = self.clock.start_tokio() + self.duration;
        tokio::select! {
            biased;
            _ = tokio::time::sleep_until(end) => {}
            _ = self.interrupt.cancelled() => {}
        }
        result.elapsed_s = (self.clock.now_ns() as f64 / 1e9).min(self.duration.as_secs_f64());
        result.published = self.publisher.published();
        result
    }

    /// Take `n` in-flight permits, waiting if the limit is reached. False if
    /// interrupted while waiting.
    async fn permits(&self, n: u32) -> bool {
        if let Ok(p) = self.permits.try_acquire_many(n) {
            p.forget();
            return true;
        }
        tokio::select! {
            biased;
            p = self.permits.acquire_many(n) => match p {
                Ok(p) => { p.forget(); true }
                Err(_) => false,
            },
            _ = self.interrupt.cancelled() => false,
        }
    }

    async fn send(&mut self, msg: SubmitMsg, result: &mut SubmitResult) {
        let n = msg.ops.len() as u64;
        Counters::add(&self.counters.submitted, n);
        result.submitted += n;
        result.batches += msg.ends.len() as u64;
        // Events first: the observers must know an op before any decision
        // about it.
        self.publisher.flush().await;
        let _ = self.to_monitor.send(msg).await;
    }

    async fn fixed_rate(&mut self, rate: f64, result: &mut SubmitResult) {
        let start = self.clock.start_tokio();
        let end_s = self.duration.as_secs_f64();
        loop {
            let due_s = result.submitted as f64 / rate;
            if due_s >= end_s {
                break;
            }
            let due = start + Duration::from_secs_f64(due_s);
            if due > Instant::now() {
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep_until(due) => {}
                    _ = self.interrupt.cancelled() => break,
                }
            }
            if self.interrupt.is_cancelled() {
                break;
            }
            let late = Instant::now().saturating_duration_since(due);
            result.lateness.record(late.as_nanos() as u64);
            let now_ns = self.clock.now_ns();
            let mut msg = SubmitMsg::default();
            let size = self
                .workload
                .batch(now_ns, &mut msg.ops, &mut self.publisher);
            msg.ends.push(msg.ops.len() as u32);
            if !self.permits(size).await {
                // Interrupted while waiting: these ops were never handed to
                // the engine; forget them so accounting stays exact.
                self.publisher.discard();
                break;
            }
            self.send(msg, result).await;
        }
    }

    async fn capacity(&mut self, result: &mut SubmitResult) {
        let end_ns = self.duration.as_nanos() as u64;
        loop {
            if self.interrupt.is_cancelled() {
                break;
            }
            let mut msg = SubmitMsg {
                ops: Vec::with_capacity(BATCHES_PER_MESSAGE * self.workload.batch_max as usize),
                ends: Vec::with_capacity(BATCHES_PER_MESSAGE),
            };
            let now_ns = self.clock.now_ns();
            if now_ns >= end_ns {
                break;
            }
            let mut blocked = None;
            while msg.ends.len() < BATCHES_PER_MESSAGE {
                let before = msg.ops.len();
                let size = self
                    .workload
                    .batch(now_ns, &mut msg.ops, &mut self.publisher);
                match self.permits.try_acquire_many(size) {
                    Ok(p) => {
                        p.forget();
                        msg.ends.push(msg.ops.len() as u32);
                    }
                    Err(_) => {
                        // Keep the drawn batch for after the wait.
                        blocked = Some((before, size));
                        break;
                    }
                }
            }
            let Some((before, size)) = blocked else {
                self.send(msg, result).await;
                // Let the other tasks run between messages.
                tokio::task::yield_now().await;
                continue;
            };
            // Send what fits, then wait for room for the drawn batch.
            let tail: Vec<Op> = msg.ops.split_off(before);
            let tail_events = self.publisher.split_off_last(tail.len());
            if !msg.ends.is_empty() {
                self.send(msg, result).await;
            }
            if !self.permits(size).await {
                break;
            }
            for ev in tail_events {
                self.publisher.push(ev);
            }
            let ends = vec![tail.len() as u32];
            self.send(SubmitMsg { ops: tail, ends }, result).await;
        }
    }
}
