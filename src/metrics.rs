//! Measurements: the engine's own counters, latency histograms, the
//! per-second timeline and process resources.
//!
//! Two independent sets of numbers exist on purpose. [`Counters`] are kept
//! by the engine tasks as they act (shared atomics, added once per loop
//! iteration, read live by the progress reporter). [`Metrics`] are rebuilt
//! by the metrics collector from the event stream alone. The accounting
//! check compares them, so a counter that is never incremented cannot
//! hide. One [`Tally`] names the counts: the atomics hold one, a snapshot
//! is one.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

use crate::events::{Effect, Event, EventKind};
use crate::ops::{OpType, Priority};
use crate::report::model::{
    ConflictSize, LatencySummary, Named, PriorityCounts, TIMELINE_MAX_POINTS, TimelinePoint,
    TypeCounts,
};
use crate::workload::Schedule;

/// The engine's counts of what happened to ops, as a plain value: what a
/// snapshot of the shared [`Counters`] reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub submitted: u64,
    pub started: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub failed_attempts: u64,
    pub retried: u64,
    pub preempted: u64,
    pub grace_saves: u64,
    pub conflicts: u64,
    pub panics: u64,
}

impl Tally {
    pub(crate) fn settled(&self) -> u64 {
        self.succeeded + self.rejected + self.cancelled
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.submitted.saturating_sub(self.settled())
    }
}

/// The engine's counters, shared by the tasks that act: a [`Tally`] of
/// atomics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) submitted: AtomicU64,
    pub(crate) started: AtomicU64,
    pub(crate) succeeded: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) failed_attempts: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) preempted: AtomicU64,
    pub(crate) grace_saves: AtomicU64,
    pub(crate) conflicts: AtomicU64,
    pub(crate) panics: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Add every count of `t`.
    pub(crate) fn add_all(&self, t: &Tally) {
        Counters::add(&self.submitted, t.submitted);
        Counters::add(&self.started, t.started);
        Counters::add(&self.succeeded, t.succeeded);
        Counters::add(&self.rejected, t.rejected);
        Counters::add(&self.cancelled, t.cancelled);
        Counters::add(&self.failed_attempts, t.failed_attempts);
        Counters::add(&self.retried, t.retried);
        Counters::add(&self.preempted, t.preempted);
        Counters::add(&self.grace_saves, t.grace_saves);
        Counters::add(&self.conflicts, t.conflicts);
        Counters::add(&self.panics, t.panics);
    }

    pub(crate) fn snapshot(&self) -> Tally {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Tally {
            submitted: get(&self.submitted),
            started: get(&self.started),
            succeeded: get(&self.succeeded),
            rejected: get(&self.rejected),
            cancelled: get(&self.cancelled),
            failed_attempts: get(&self.failed_attempts),
            retried: get(&self.retried),
            preempted: get(&self.preempted),
            grace_saves: get(&self.grace_saves),
            conflicts: get(&self.conflicts),
            panics: get(&self.panics),
        }
    }
}

/// A latency histogram recorded in nanoseconds, summarised in
/// microseconds.
#[derive(Debug)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    pub(crate) fn new() -> Latency {
        // 1 ns .. 1 hour at 3 significant figures; auto-resize keeps
        // anything longer instead of dropping it. Constant arguments that
        // the library documents as valid: this cannot fail at run time.
        let mut hist = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .expect("1 ns..1 h at 3 significant figures are valid histogram bounds");
        hist.auto(true);
        Latency { hist }
    }

    /// Two significant figures: the per-second percentiles of the
    /// timeline, a few of which are open at once.
    fn coarse() -> Latency {
        let mut hist = Histogram::new_with_bounds(1, 3_600_000_000_000, 2)
            .expect("1 ns..1 h at 2 significant figures are valid histogram bounds");
        hist.auto(true);
        Latency { hist }
    }

    pub(crate) fn record(&mut self, ns: u64) {
        // With auto-resize on, recording cannot fail for values >= 1.
        let _ = self.hist.record(ns.max(1));
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        let us = |ns: u64| (ns + 500) / 1000;
        LatencySummary {
            p50: us(self.hist.value_at_quantile(0.50)),
            p90: us(self.hist.value_at_quantile(0.90)),
            p99: us(self.hist.value_at_quantile(0.99)),
            p999: us(self.hist.value_at_quantile(0.999)),
            max: us(self.hist.max()),
            mean: self.hist.mean() / 1000.0,
            count: self.hist.len(),
        }
    }
}

/// Everything the metrics collector derives from the event stream.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) resolution: Latency,
    pub(crate) execution: Latency,
    pub(crate) end_to_end: Latency,
    /// Indexed by priority value (1–10; 0 unused).
    pub(crate) by_priority: [PriorityCounts; 11],
    pub by_type: [TypeCounts; OpType::COUNT],
    pub(crate) conflicts: u64,
    pub(crate) conflict_ops: u64,
    pub(crate) grace_saves: u64,
    pub(crate) preemptions: u64,
    pub(crate) retries: u64,
    pub(crate) started: u64,
    pub(crate) versions_created: u64,
    pub(crate) modifications: u64,
    pub(crate) borrows: u64,
    pub structural_changes: u64,
    pub structural_noops: u64,
    /// Committed ops that did real work on the store: every effect but a
    /// structural no-op (a version, a field write, a borrow, a tree move).
    pub(crate) real_work: u64,
    /// Ops taking part in a conflict → how many conflicts had that many.
    pub(crate) conflict_sizes: BTreeMap<u64, u64>,
    /// Per second of run time, by event timestamp.
    pub(crate) per_second: Vec<Second>,
    /// Latencies of the seconds still open (see [`LatencyWindow`]).
    window: LatencyWindow,
    /// RSS samples (MB) by second.
    pub(crate) rss_by_second: BTreeMap<u64, f64>,
    pub(crate) rss_samples: Vec<f64>,
}

/// The counts of one second of run time; the latency percentiles are
/// filled in when the second closes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Second {
    pub(crate) submitted: u64,
    pub(crate) committed: u64,
    pub(crate) rejected: u64,
    pub(crate) cancelled: u64,
    pub(crate) retries: u64,
    pub(crate) grace_saves: u64,
    pub(crate) preemptions: u64,
    /// Of the ops that committed in this second.
    pub(crate) execution: Option<P50P99>,
    pub(crate) end_to_end: Option<P50P99>,
}

/// (p50, p99) in µs.
pub(crate) type P50P99 = (u64, u64);

/// Per-second latency histograms of the last few seconds.
///
/// Events reach the collector in batches from several publishers, so a
/// second still receives commits a little after a later one has begun. A
/// second stays open until an event [`LatencyWindow::OPEN_S`] seconds
/// newer arrives; then its percentiles are taken and its histograms
/// reused. A commit that arrives for a second already closed still counts
/// in that second's counts, only not in its percentiles. Histograms hold
/// two significant figures: a handful of them are alive at once, however
/// long the run.
#[derive(Debug, Default)]
struct LatencyWindow {
    /// Second → (execution, end to end).
    open: BTreeMap<usize, (Latency, Latency)>,
    spare: Vec<(Latency, Latency)>,
}

impl LatencyWindow {
    const OPEN_S: usize = 2;

    fn record(
        &mut self,
        second: usize,
        execution_ns: u64,
        end_to_end_ns: u64,
        seconds: &mut [Second],
    ) {
        let newest = self.open.keys().next_back().copied().unwrap_or(0);
        if second + LatencyWindow::OPEN_S < newest {
            return;
        }
        if !self.open.contains_key(&second) {
            let fresh = self
                .spare
                .pop()
                .unwrap_or_else(|| (Latency::coarse(), Latency::coarse()));
            self.open.insert(second, fresh);
        }
        if let Some((e, e2e)) = self.open.get_mut(&second) {
            e.record(execution_ns);
            e2e.record(end_to_end_ns);
        }
        let newest = newest.max(second);
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() + LatencyWindow::OPEN_S >= newest {
                break;
            }
            let (s, (mut e, mut e2e)) = entry.remove_entry();
            (seconds[s].execution, seconds[s].end_to_end) = (p50_p99(&e), p50_p99(&e2e));
            e.hist.reset();
            e2e.hist.reset();
            self.spare.push((e, e2e));
        }
    }

    /// The percentiles of a second, closed or still open.
    fn percentiles(&self, second: usize, s: &Second) -> (Option<P50P99>, Option<P50P99>) {
        match self.open.get(&second) {
            Some((e, e2e)) => (p50_p99(e), p50_p99(e2e)),
            None => (s.execution, s.end_to_end),
        }
    }
}

/// (p50, p99) in µs, `None` without samples.
fn p50_p99(l: &Latency) -> Option<P50P99> {
    let s = l.summary();
    (s.count > 0).then_some((s.p50, s.p99))
}

impl Metrics {
    fn second(&mut self, t_ns: u64) -> &mut Second {
        let s = second_of(t_ns);
        if self.per_second.len() <= s {
            self.per_second.resize(s + 1, Second::default());
        }
        &mut self.per_second[s]
    }

    fn prio(&mut self, p: Priority) -> &mut PriorityCounts {
        &mut self.by_priority[usize::from(p.get())]
    }

    /// Account for one event.
    pub fn observe(&mut self, ev: &Event) {
        let ty = ev.op_type.index();
        match &ev.kind {
            EventKind::OperationSubmitted { .. } => {
                self.second(ev.t_ns).submitted += 1;
                self.prio(ev.priority).submitted += 1;
                self.by_type[ty].submitted += 1;
            }
            EventKind::OperationConflict {
                pending,
                executing,
                resolution_ns,
                ..
            } => {
                let ops = pending.len() as u64 + u64::from(executing.is_some());
                self.conflicts += 1;
                self.conflict_ops += ops;
                *self.conflict_sizes.entry(ops).or_default() += 1;
                self.resolution.record(*resolution_ns);
            }
            EventKind::OperationRejected { .. } => {
                self.second(ev.t_ns).rejected += 1;
                self.prio(ev.priority).rejected += 1;
                self.by_type[ty].rejected += 1;
            }
            EventKind::OperationStarted { .. } => self.started += 1,
            EventKind::GraceProtected { .. } => {
                self.grace_saves += 1;
                self.second(ev.t_ns).grace_saves += 1;
            }
            EventKind::OperationPreempted { .. } => {
                self.preemptions += 1;
                self.second(ev.t_ns).preemptions += 1;
                self.by_type[ty].failed_attempts += 1;
            }
            EventKind::OperationFailed { .. } => self.by_type[ty].failed_attempts += 1,
            EventKind::OperationRetry { .. } => {
                self.retries += 1;
                self.second(ev.t_ns).retries += 1;
            }
            EventKind::OperationCompleted {
                execution_ns,
                end_to_end_ns,
                effect,
            } => {
                self.second(ev.t_ns).committed += 1;
                self.prio(ev.priority).succeeded += 1;
                self.by_type[ty].succeeded += 1;
                self.execution.record(*execution_ns);
                self.end_to_end.record(*end_to_end_ns);
                self.window.record(
                    second_of(ev.t_ns),
                    *execution_ns,
                    *end_to_end_ns,
                    &mut self.per_second,
                );
                if !matches!(effect, Effect::Structural { changed: false, .. }) {
                    self.real_work += 1;
                }
                match effect {
                    Effect::Versioned => {}
                    Effect::Borrowed(_) => {
                        self.borrows += 1;
                        self.modifications += 1;
                    }
                    Effect::Structural { changed, .. } => {
                        if *changed {
                            self.structural_changes += 1;
                            self.modifications += 1;
                        } else {
                            self.structural_noops += 1;
                        }
                    }
                    Effect::Modified { .. } | Effect::ComplexUpdate { .. } => {
                        self.modifications += 1
                    }
                }
            }
            EventKind::OperationCancelled { .. } => {
                self.second(ev.t_ns).cancelled += 1;
                self.prio(ev.priority).cancelled += 1;
                self.by_type[ty].cancelled += 1;
            }
            EventKind::EntityVersioned { .. } => self.versions_created += 1,
            EventKind::EntityModified { .. } => {}
        }
    }

    pub(crate) fn record_rss(&mut self, t_s: u64, rss_mb: f64) {
        self.rss_by_second.insert(t_s, rss_mb);
        self.rss_samples.push(rss_mb);
    }

    pub(crate) fn rss_avg_max(&self) -> (f64, f64) {
        if self.rss_samples.is_empty() {
            return (0.0, 0.0);
        }
        let sum: f64 = self.rss_samples.iter().sum();
        let max = self.rss_samples.iter().copied().fold(0.0, f64::max);
        (sum / self.rss_samples.len() as f64, max)
    }

    /// The timeline, one point per second of run time (second `t_s`
    /// covers `[t_s - 1, t_s)`), merged into longer spans past
    /// [`TIMELINE_MAX_POINTS`]; `schedule` gives the target rate.
    pub(crate) fn timeline(&self, schedule: Option<&Schedule>) -> Vec<TimelinePoint> {
        let mut last_rss = 0.0;
        let (mut submitted, mut settled) = (0u64, 0u64);
        let points = self.per_second.iter().enumerate().map(|(i, s)| {
            let t_s = i as u64 + 1;
            if let Some(r) = self.rss_by_second.range(..=t_s).next_back() {
                last_rss = *r.1;
            }
            submitted += s.submitted;
            settled += s.committed + s.rejected + s.cancelled;
            let (execution, end_to_end) = self.window.percentiles(i, s);
            TimelinePoint {
                t_s,
                span_s: 1,
                submitted: s.submitted,
                committed: s.committed,
                rejected: s.rejected,
                cancelled: s.cancelled,
                settled: s.committed + s.rejected + s.cancelled,
                in_flight: submitted.saturating_sub(settled),
                retries: s.retries,
                grace_saves: s.grace_saves,
                preemptions: s.preemptions,
                execution_p50_us: execution.map(|p| p.0),
                execution_p99_us: execution.map(|p| p.1),
                end_to_end_p50_us: end_to_end.map(|p| p.0),
                end_to_end_p99_us: end_to_end.map(|p| p.1),
                rss_mb: last_rss,
                target_rate: schedule.map(|sc| {
                    let t = t_s as f64;
                    sc.expected_ops(t) - sc.expected_ops(t - 1.0)
                }),
            }
        });
        downsample(points.collect(), TIMELINE_MAX_POINTS)
    }

    /// The conflict-size distribution, smallest size first.
    pub(crate) fn conflict_sizes(&self) -> Vec<ConflictSize> {
        self.conflict_sizes
            .iter()
            .map(|(&ops, &conflicts)| ConflictSize { ops, conflicts })
            .collect()
    }

    /// Counts per operation type, in workload order.
    pub(crate) fn by_type_named(&self) -> Named<TypeCounts> {
        OpType::ALL
            .iter()
            .map(|t| (t.name(), self.by_type[t.index()]))
            .collect()
    }

    /// Counts per priority level that saw any op, lowest level first.
    pub(crate) fn by_priority_named(&self) -> Named<PriorityCounts> {
        self.by_priority
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != PriorityCounts::default())
            .filter_map(|(v, c)| {
                let p = Priority::new(u8::try_from(v).ok()?)?;
                let name = p.name().map_or_else(|| p.get().to_string(), str::to_string);
                Some((name, *c))
            })
            .collect()
    }
}

/// The second of run time an event at `t_ns` falls in.
fn second_of(t_ns: u64) -> usize {
    (t_ns / 1_000_000_000) as usize
}

/// Merge every `k` adjacent points, for the smallest `k` that leaves at
/// most `max` of them (see [`TimelinePoint`] for how fields merge).
fn downsample(points: Vec<TimelinePoint>, max: usize) -> Vec<TimelinePoint> {
    if points.len() <= max || max == 0 {
        return points;
    }
    let k = points.len().div_ceil(max);
    points
        .chunks(k)
        .map(|chunk| {
            let last = chunk[chunk.len() - 1];
            let sum = |f: fn(&TimelinePoint) -> u64| chunk.iter().map(f).sum::<u64>();
            let max_of = |f: fn(&TimelinePoint) -> Option<u64>| chunk.iter().filter_map(f).max();
            let span: u64 = sum(|p| p.span_s);
            TimelinePoint {
                t_s: last.t_s,
                span_s: span,
                submitted: sum(|p| p.submitted),
                committed: sum(|p| p.committed),
                rejected: sum(|p| p.rejected),
                cancelled: sum(|p| p.cancelled),
                settled: sum(|p| p.settled),
                in_flight: chunk.iter().map(|p| p.in_flight).max().unwrap_or(0),
                retries: sum(|p| p.retries),
                grace_saves: sum(|p| p.grace_saves),
                preemptions: sum(|p| p.preemptions),
                execution_p50_us: max_of(|p| p.execution_p50_us),
                execution_p99_us: max_of(|p| p.execution_p99_us),
                end_to_end_p50_us: max_of(|p| p.end_to_end_p50_us),
                end_to_end_p99_us: max_of(|p| p.end_to_end_p99_us),
                rss_mb: chunk.iter().map(|p| p.rss_mb).fold(0.0, f64::max),
                target_rate: last.target_rate.map(|_| {
                    let ops: f64 = chunk
                        .iter()
                        .map(|p| p.target_rate.unwrap_or(0.0) * p.span_s as f64)
                        .sum();
                    ops / span as f64
                }),
            }
        })
        .collect()
}

/// CPU time of this process so far.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CpuTimes {
    pub(crate) user_s: f64,
    pub(crate) sys_s: f64,
}

/// What the kernel accounts for this process: CPU times and the peak
/// resident set size (its high-water mark, which no sampling can miss).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProcessUsage {
    pub(crate) cpu: CpuTimes,
    /// `None` where the platform cannot tell.
    pub(crate) peak_rss_mb: Option<f64>,
}

/// Resource usage of this process so far, from `getrusage(RUSAGE_SELF)`;
/// zero / `None` on platforms without it.
pub(crate) fn process_usage() -> ProcessUsage {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes the struct it is handed, which is
        // plain data and valid when zeroed.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
            return ProcessUsage::default();
        }
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        // ru_maxrss is in kilobytes on Linux and the BSDs, bytes on macOS.
        let unit = if cfg!(target_os = "macos") {
            1.0
        } else {
            1024.0
        };
        ProcessUsage {
            cpu: CpuTimes {
                user_s: seconds(usage.ru_utime),
                sys_s: seconds(usage.ru_stime),
            },
            peak_rss_mb: Some(usage.ru_maxrss as f64 * unit / (1024.0 * 1024.0)),
        }
    }
    #[cfg(not(unix))]
    {
        ProcessUsage::default()
    }
}

/// Samples this process's resident set size through sysinfo.
pub(crate) struct ResourceSampler {
    system: Option<sysinfo::System>,
    pid: Option<sysinfo::Pid>,
}

impl Default for ResourceSampler {
    fn default() -> Self {
        ResourceSampler::new()
    }
}

impl ResourceSampler {
    pub(crate) fn new() -> ResourceSampler {
        ResourceSampler {
            system: sysinfo::System::new().ok(),
            pid: sysinfo::get_current_pid().ok(),
        }
    }

    /// Current RSS in MB; 0 where the platform cannot tell.
    pub(crate) fn rss_mb(&mut self) -> f64 {
        let (Some(system), Some(pid)) = (self.system.as_mut(), self.pid) else {
            return 0.0;
        };
        system.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            false,
            sysinfo::ProcessRefreshKind::nothing().with_memory(),
        );
        system
            .process(pid)
            .map_or(0.0, |p| p.memory() as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests;
