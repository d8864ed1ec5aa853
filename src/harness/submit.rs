//! Task 1, the submission worker: brutal batches on an open-loop schedule.
//!
//! The batch after `n` submitted ops is due when the schedule expects `n`
//! ops (at a fixed rate `n ÷ rate` seconds after the start; with stages,
//! see [`crate::workload::schedule`]), whatever the batch sizes and however
//! late the previous batch was; lateness is measured against that schedule,
//! when the batch is handed to the engine. A batch due at or after the end
//! of the submission phase is not sent, and submission stops at that
//! deadline however far behind it is: batches not handed over by then are
//! *missed*, never sent late, so a run that cannot keep up shows a low
//! achieved rate instead of running on past its window. In capacity mode
//! batches are built back to back, as fast as the in-flight limit lets them
//! through, until the same deadline.
//!
//! Each batch picks one target (uniformly, or Zipf-skewed) and submits
//! 3–8 (configurable, uniform or clamped Poisson) ops to it at once, with
//! priorities and types drawn from the configured weights and every
//! parameter drawn now, so each op's effect is fixed at submission.
//! Optionally some ops name an earlier op as parent and inherit its
//! priority (effective priority): an op of the same batch, or, with
//! `batch.parent_reach`, of one of that many batches before it, which may
//! still be pending, executing or backing off when its child arrives.

use std::collections::VecDeque;
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
use crate::ops::{DrawContext, Op, OpId, OpType, Priority, RetryBudgets};
use crate::workload::Pacer;
use crate::workload::shape::{SizeDraw, TargetPick};

/// Capacity mode: batches per message to the monitor.
const BATCHES_PER_MESSAGE: usize = 64;

/// What the submitter hands back when the submission phase ends.
pub struct SubmitResult {
    pub submitted: u64,
    pub batches: u64,
    /// Seconds from the start to the end of the submission phase.
    pub elapsed_s: f64,
    /// How late batches were against their schedule when handed to the
    /// engine (fixed rate only).
    pub lateness: Latency,
    /// Fixed rate: ops due before the deadline that were not handed to the
    /// engine by then.
    pub missed: u64,
    pub published: u64,
    /// Fewest in-flight permits left free just after the submitter took
    /// some: the limit minus this is the in-flight peak, exactly, since
    /// only the submitter takes permits. `u64::MAX` if it took none.
    pub fewest_free_permits: u64,
    /// Batches that had to wait for permits: the in-flight limit was
    /// reached.
    pub in_flight_waits: u64,
    /// Poisson arrivals: the batches the drawn arrivals made due before
    /// the end, sent or not. How many ops they would have held depends on
    /// sizes never drawn, and the count of arrivals itself is random, so
    /// the rate gate judges batches sent against these.
    pub due_batches: Option<u64>,
}

/// Draws ops: priorities, types and parameters from the configured
/// distributions, with one seeded RNG.
pub struct Workload {
    rng: SmallRng,
    priorities: Vec<Priority>,
    priority_index: WeightedIndex<f64>,
    type_index: WeightedIndex<f64>,
    batch_max: u32,
    /// Target picks and batch sizes, as configured (uniform by default).
    targets: TargetPick,
    sizes: SizeDraw,
    /// When batches are due; `None` in capacity mode.
    pacer: Option<Pacer>,
    sources: DrawContext,
    budgets: RetryBudgets,
    parent_probability: f64,
    /// Batches before the current one a parent may come from.
    parent_reach: usize,
    parents: ParentIndex,
    /// First op id of each batch still within a parent link's reach.
    recent_batches: VecDeque<u64>,
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
            batch_max: config.batch_max,
            targets: TargetPick::new(config.targets, config.num_targets),
            sizes: SizeDraw::new(config.batch_sizes, config.batch_min, config.batch_max),
            pacer: config.schedule().map(|schedule| {
                // Poisson gaps draw from their own stream, so the arrivals
                // never change which batches are drawn.
                Pacer::new(
                    schedule,
                    config.arrivals,
                    config.mean_batch_size(),
                    seed ^ 0x6172_7269,
                )
            }),
            sources: DrawContext {
                first_source,
                num_sources: config.num_sources,
            },
            budgets: config.retries,
            parent_probability: config.parent_probability,
            parent_reach: config.parent_reach as usize,
            parents: ParentIndex::default(),
            recent_batches: VecDeque::new(),
            next_id: 0,
        })
    }

    /// Seconds from the start at which the next batch is due, after
    /// `submitted` ops; `None` when it would be due at or after the end of
    /// the schedule, or in capacity mode. Call once per batch.
    pub fn next_due_s(&mut self, submitted: u64) -> Option<f64> {
        self.pacer.as_mut()?.next_due_s(submitted)
    }

    /// See [`crate::workload::Pacer::due_left`].
    fn due_left(&mut self) -> Option<u64> {
        self.pacer.as_mut()?.due_left()
    }

    /// Ops the schedule expected over the whole submission phase that were
    /// never sent, after `submitted` were: the ones missed at the deadline.
    fn missed(&self, submitted: u64) -> u64 {
        self.pacer.as_ref().map_or(0, |p| {
            let s = p.schedule();
            (s.expected_ops(s.duration_s()).ceil() as u64).saturating_sub(submitted)
        })
    }

    /// Draw one batch: a target and its ops, appended to `ops`, with their
    /// `OperationSubmitted` events pushed to `publisher`.
    ///
    /// With `parent_probability`, an op may name an earlier op as its
    /// parent: one of the same batch, or of the `parent_reach` batches
    /// before it. Its effective priority comes from the parent chain
    /// ([`ParentIndex`]). Parents are drawn only among ops still in the
    /// index, so a chain can be neither missing nor cyclic.
    pub fn batch(&mut self, now_ns: u64, ops: &mut Vec<Op>, publisher: &mut Publisher) -> u32 {
        let target = self.targets.pick(&mut self.rng);
        let size = self.sizes.draw(&mut self.rng);
        ops.reserve(size as usize);
        let first = self.next_id;
        let reach_from = self.recent_batches.front().copied().unwrap_or(first);
        for _ in 0..size {
            let priority = self.priorities[self.priority_index.sample(&mut self.rng)];
            let op_type = OpType::ALL[self.type_index.sample(&mut self.rng)];
            let kind = op_type.draw(&mut self.rng, &self.sources);
            let id = OpId(self.next_id);
            self.next_id += 1;
            let mut op = Op::new(id, kind, priority, target, &self.budgets, now_ns);
            if reach_from < id.0
                && self.parent_probability > 0.0
                && self.rng.random_bool(self.parent_probability)
            {
                let parent = OpId(self.rng.random_range(reach_from..id.0));
                // Refused only when an ancestor has left the reach: the op
                // then has no parent.
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
        // Forget the batches beyond the reach: the index stays small.
        self.recent_batches.push_back(first);
        while self.recent_batches.len() > self.parent_reach {
            let Some(old) = self.recent_batches.pop_front() else {
                break;
            };
            let end = self.recent_batches.front().copied().unwrap_or(self.next_id);
            for id in old..end {
                self.parents.remove(OpId(id));
            }
        }
        size
    }
}

/// Ops a schedule of `rate` over `end_s` seconds calls for that were not
/// submitted: the batch after `n` ops is due at `n / rate`, so every op up
/// to `rate × end_s` was due before the deadline.
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
            missed: 0,
            published: 0,
            fewest_free_permits: u64::MAX,
            in_flight_waits: 0,
            due_batches: None,
        };
        match self.rate {
            Rate::PerSecond(_) => self.fixed_rate(&mut result).await,
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
        // The real submission time: the window, or less if interrupted.
        result.elapsed_s = self.clock.now_ns() as f64 / 1e9;
        result.published = self.publisher.published();
        result
    }

    /// The end of the submission phase.
    fn deadline(&self) -> Instant {
        self.clock.start_tokio() + self.duration
    }

    /// Take `n` in-flight permits, waiting if the limit is reached. False if
    /// interrupted or past the deadline while waiting.
    async fn permits(&self, n: u32, result: &mut SubmitResult) -> bool {
        if let Ok(p) = self.permits.try_acquire_many(n) {
            p.forget();
            self.note_taken(result);
            return true;
        }
        result.in_flight_waits += 1;
        tokio::select! {
            biased;
            p = self.permits.acquire_many(n) => match p {
                Ok(p) => { p.forget(); self.note_taken(result); true }
                Err(_) => false,
            },
            _ = self.interrupt.cancelled() => false,
            _ = tokio::time::sleep_until(self.deadline()) => false,
        }
    }

    /// Just after taking permits: the in-flight count is at a local peak.
    fn note_taken(&self, result: &mut SubmitResult) {
        let free = self.permits.available_permits() as u64;
        result.fewest_free_permits = result.fewest_free_permits.min(free);
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

    async fn fixed_rate(&mut self, result: &mut SubmitResult) {
        // A batch drawn as due and not sent (the deadline, a signal).
        let mut unsent = 0;
        self.fixed_rate_batches(result, &mut unsent).await;
        // Interrupted: what was due before the stop was sent; the rest of
        // the window never came.
        let interrupted = self.interrupt.is_cancelled();
        result.due_batches = self.workload.due_left().map(|left| {
            if interrupted {
                result.batches
            } else {
                result.batches + unsent + left
            }
        });
    }

    async fn fixed_rate_batches(&mut self, result: &mut SubmitResult, unsent: &mut u64) {
        let start = self.clock.start_tokio();
        let deadline = self.deadline();
        while let Some(due_s) = self.workload.next_due_s(result.submitted) {
            *unsent = 1;
            if Instant::now() >= deadline {
                // Behind schedule at the deadline: the rest is missed.
                result.missed = self.workload.missed(result.submitted);
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
            let now_ns = self.clock.now_ns();
            let mut msg = SubmitMsg::default();
            let size = self
                .workload
                .batch(now_ns, &mut msg.ops, &mut self.publisher);
            msg.ends.push(msg.ops.len() as u32);
            if !self.permits(size, result).await {
                // Interrupted or out of time while waiting: these ops were
                // never handed to the engine; forget them so accounting
                // stays exact.
                self.publisher.discard();
                if !self.interrupt.is_cancelled() {
                    result.missed = self.workload.missed(result.submitted);
                }
                break;
            }
            let late = Instant::now().saturating_duration_since(due);
            result.lateness.record(late.as_nanos() as u64);
            self.send(msg, result).await;
            *unsent = 0;
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
                        self.note_taken(result);
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
            if !self.permits(size, result).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};
    use crate::events::Bus;

    /// The batches drawn from `text` with `seed`: one line per op of the
    /// first `batches` batches, `target size priority type`.
    fn drawn(text: &str, seed: u64, batches: usize) -> Vec<String> {
        let config = parse_str(text, "test.toml", &Overrides::default()).unwrap();
        let mut workload = Workload::new(&config, seed, config.num_targets).unwrap();
        let mut publisher = Bus::new(1).publisher();
        let mut lines = Vec::new();
        for _ in 0..batches {
            let mut ops = Vec::new();
            let size = workload.batch(0, &mut ops, &mut publisher);
            publisher.discard();
            for op in &ops {
                lines.push(format!(
                    "{} {size} {:?} {}",
                    op.target,
                    op.priority,
                    op.op_type().name()
                ));
            }
        }
        lines
    }

    /// FNV-1a over the lines, to pin a long sequence in one number.
    fn digest(lines: &[String]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in lines.iter().flat_map(|l| l.bytes().chain([b'\n'])) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// Drawn before these shapes existed, with seed 42 and the default
    /// config: the first batches, and a digest of 2,000 of them. The
    /// default workload must keep drawing exactly this.
    #[test]
    fn the_default_workload_draws_the_same_sequence_as_ever() {
        let lines = drawn("", 42, 2000);
        assert_eq!(
            lines[..12],
            [
                "4 4 Priority(10) borrow_attribute",
                "4 4 Priority(2) borrow_attribute",
                "4 4 Priority(8) complex_update",
                "4 4 Priority(2) modify_field",
                "0 6 Priority(5) version_entity",
                "0 6 Priority(10) borrow_attribute",
                "0 6 Priority(2) modify_field",
                "0 6 Priority(10) version_entity",
                "0 6 Priority(8) borrow_attribute",
                "0 6 Priority(8) complex_update",
                "2 7 Priority(10) version_entity",
                "2 7 Priority(5) borrow_attribute",
            ]
        );
        assert_eq!(
            (lines.len(), digest(&lines)),
            (11062, 0x6080_cd49_f197_9387)
        );
        let brutal = drawn(crate::config::DEFAULT_CONFIG_TOML, 42, 2000);
        assert_eq!(brutal, lines);
    }

    #[test]
    fn poisson_arrivals_change_when_batches_go_not_which() {
        let poisson = drawn("arrivals = \"poisson\"\n", 42, 500);
        assert_eq!(poisson, drawn("", 42, 500));
    }

    #[test]
    fn configured_shapes_change_the_draws() {
        let base = drawn("", 42, 200);
        let zipf = drawn(
            "[targets]\ndistribution = \"zipf\"\nzipf_exponent = 2.0\n",
            42,
            200,
        );
        assert_ne!(zipf, base);
        let sizes = drawn(
            "[batch]\nsize_distribution = \"poisson\"\nmean_size = 4\n",
            42,
            200,
        );
        assert_ne!(sizes, base);
    }

    #[test]
    fn the_pacer_follows_the_configured_schedule() {
        let text = "start_rate_per_second = 0\n[[stages]]\nduration_seconds = 2\n\
                    rate_per_second = 100\n";
        let config = parse_str(text, "test.toml", &Overrides::default()).unwrap();
        let mut workload = Workload::new(&config, 1, config.num_targets).unwrap();
        // Λ(t) = 25 t²: 100 ops are due at 2 s, the end, so not sent.
        assert_eq!(workload.next_due_s(0), Some(0.0));
        assert_eq!(workload.next_due_s(25), Some(1.0));
        assert_eq!(workload.next_due_s(100), None);
        let max = parse_str(
            "operation_rate_per_second = \"max\"\n",
            "test.toml",
            &Overrides::default(),
        )
        .unwrap();
        let mut workload = Workload::new(&max, 1, max.num_targets).unwrap();
        assert_eq!(workload.next_due_s(0), None);
    }

    #[test]
    fn zipf_workloads_concentrate_ops_on_the_hottest_targets() {
        use crate::workload::ContentionTally;
        let text = "num_targets = 1000\n[targets]\ndistribution = \"zipf\"\nzipf_exponent = 1.0\n";
        let config = parse_str(text, "test.toml", &Overrides::default()).unwrap();
        let mut workload = Workload::new(&config, 42, config.num_targets).unwrap();
        let mut publisher = Bus::new(1).publisher();
        let mut tally = ContentionTally::new(config.num_targets);
        for _ in 0..20_000 {
            let mut ops = Vec::new();
            let size = workload.batch(0, &mut ops, &mut publisher);
            publisher.discard();
            for op in &ops {
                let kind = EventKind::OperationSubmitted {
                    effective: op.effective,
                    class: op.class,
                    parent: op.parent,
                    budget: op.budget,
                    batch_size: size,
                };
                tally.observe(&Event::of(op, 0, kind));
            }
        }
        let s = tally.summary(10);
        // Batches follow Zipf(1) over 1,000 targets: the ten hottest take
        // H(10) / H(1000) ≈ 39.0 % of the batches, and so about that share
        // of the ops (batch sizes are independent of the target). The
        // share of 20,000 batches has a standard error of 0.0035; 0.02 is
        // over five of them.
        let h = |k: u32| (1..=k).map(|i| 1.0 / f64::from(i)).sum::<f64>();
        let want = h(10) / h(1000);
        assert!((s.top_10_share - want).abs() < 0.02, "{s:?}");
        assert_eq!(s.hottest[0].target, 0);
        assert!(s.hottest[0].ops > s.hottest[1].ops, "{s:?}");
    }
}
