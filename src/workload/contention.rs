//! Per-target contention: where the ops, conflicts, rejections and commits
//! of a run landed, and how skewed that was.
//!
//! [`ContentionTally`] keeps four `u32` counters per target (16 bytes
//! each: 16 MB at a million targets) and is fed events as they pass.
//! [`ContentionTally::summary`] turns it into [`TargetContention`], the
//! figures for the report: the hottest targets with their counts, the
//! share of ops on the hottest 1 % and on the top ten, and the Gini
//! coefficient of ops over targets (0: every target got as many ops; near
//! 1: one target got them all). The summary's size is bounded by its
//! `top` argument, whatever the number of targets.

use crate::events::{Event, EventKind};
use crate::report::model::{TargetContention, TargetCounts};

/// Counts per target, fed from the event stream.
#[derive(Clone, Debug)]
pub(crate) struct ContentionTally {
    counts: Vec<[u32; 4]>,
}

const OPS: usize = 0;
const CONFLICTS: usize = 1;
const REJECTIONS: usize = 2;
const COMMITS: usize = 3;

impl ContentionTally {
    pub(crate) fn new(num_targets: u32) -> ContentionTally {
        ContentionTally {
            counts: vec![[0; 4]; num_targets as usize],
        }
    }

    /// Count `event` against its target. Events about other entities
    /// (a versioned group root, say) and other kinds are ignored.
    pub(crate) fn observe(&mut self, event: &Event) {
        let counter = match event.kind {
            EventKind::OperationSubmitted { .. } => OPS,
            EventKind::OperationConflict { .. } => CONFLICTS,
            EventKind::OperationRejected { .. } => REJECTIONS,
            EventKind::OperationCompleted { .. } => COMMITS,
            _ => return,
        };
        if let Some(c) = self.counts.get_mut(event.target as usize) {
            c[counter] = c[counter].saturating_add(1);
        }
    }

    /// Ask for `event`'s target's counters (see [`crate::prefetch`]).
    pub(crate) fn prefetch(&self, event: &Event) {
        if let Some(c) = self.counts.get(event.target as usize) {
            crate::prefetch::read(c);
        }
    }

    /// The figures, with the `top` hottest targets listed.
    pub(crate) fn summary(&self, top: usize) -> TargetContention {
        let n = self.counts.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_by_key(|&t| std::cmp::Reverse(self.counts[t as usize][OPS]));
        let ops = |t: &u32| u64::from(self.counts[*t as usize][OPS]);
        let total: u64 = order.iter().map(ops).sum();
        let share = |k: usize| {
            if total == 0 {
                0.0
            } else {
                order.iter().take(k).map(ops).sum::<u64>() as f64 / total as f64
            }
        };
        let hottest = order
            .iter()
            .take(top)
            .map(|&t| {
                let c = self.counts[t as usize];
                TargetCounts {
                    target: t,
                    ops: c[OPS],
                    conflicts: c[CONFLICTS],
                    rejections: c[REJECTIONS],
                    commits: c[COMMITS],
                }
            })
            .collect();
        // Gini over ops ascending: Σ (2i − n − 1) x_i / (n Σ x), i from 1.
        let gini = if total == 0 || n < 2 {
            0.0
        } else {
            let weighted: f64 = order
                .iter()
                .rev()
                .enumerate()
                .map(|(i, t)| (2.0 * (i as f64 + 1.0) - n as f64 - 1.0) * ops(t) as f64)
                .sum();
            weighted / (n as f64 * total as f64)
        };
        TargetContention {
            targets: n as u32,
            targets_hit: self.counts.iter().filter(|c| c[OPS] > 0).count() as u32,
            hottest,
            top_1_percent_share: share(n.div_ceil(100).max(1)),
            top_10_share: share(10),
            gini,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;
    use crate::workload::shape::{TargetDistribution, TargetPick};

    fn tally_of(ops: &[u32]) -> ContentionTally {
        ContentionTally {
            counts: ops.iter().map(|&o| [o, 0, 0, 0]).collect(),
        }
    }

    #[test]
    fn equal_load_has_no_skew_and_one_hot_target_has_all_of_it() {
        let even = tally_of(&[5; 200]).summary(3);
        assert_eq!(even.gini, 0.0);
        assert!((even.top_1_percent_share - 2.0 / 200.0).abs() < 1e-12);
        assert!((even.top_10_share - 0.05).abs() < 1e-12);
        assert_eq!(even.targets_hit, 200);
        let mut one = vec![0; 200];
        one[17] = 1000;
        let s = tally_of(&one).summary(2);
        // All on one of n: Gini = (n − 1) / n.
        assert!((s.gini - 199.0 / 200.0).abs() < 1e-12, "{}", s.gini);
        assert_eq!(s.top_1_percent_share, 1.0);
        assert_eq!(s.hottest[0].target, 17);
        assert_eq!(s.hottest[1].ops, 0);
        assert_eq!(s.targets_hit, 1);
        let empty = tally_of(&[0; 4]).summary(10);
        assert_eq!((empty.gini, empty.top_10_share), (0.0, 0.0));
        assert_eq!(empty.hottest.len(), 4);
    }

    #[test]
    fn the_gini_coefficient_matches_its_definition() {
        // Mean absolute difference over twice the mean, over all pairs.
        let ops = [1u32, 2, 3, 10, 0, 7, 7];
        let n = ops.len() as f64;
        let mean = ops.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let mad: f64 = ops
            .iter()
            .flat_map(|&a| {
                ops.iter()
                    .map(move |&b| (f64::from(a) - f64::from(b)).abs())
            })
            .sum::<f64>()
            / (n * n);
        let want = mad / (2.0 * mean);
        let got = tally_of(&ops).summary(0).gini;
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn zipf_targets_are_skewed_and_uniform_ones_are_not() {
        let n = 10_000;
        let shares = |d| {
            let pick = TargetPick::new(d, n);
            let mut rng = SmallRng::seed_from_u64(42);
            let mut tally = ContentionTally::new(n);
            for _ in 0..200_000 {
                tally.counts[pick.pick(&mut rng) as usize][OPS] += 1;
            }
            tally.summary(10)
        };
        let zipf = shares(TargetDistribution::Zipf { exponent: 1.0 });
        // Zipf(1) over 10,000 ranks: the top 100 hold H(100)/H(10000) of
        // the mass, about 53.4 %; the top 10 about 30.2 %.
        let h = |k: u32| (1..=k).map(|i| 1.0 / f64::from(i)).sum::<f64>();
        let want_1 = h(100) / h(10_000);
        let want_10 = h(10) / h(10_000);
        assert!((zipf.top_1_percent_share - want_1).abs() < 0.01, "{zipf:?}");
        assert!((zipf.top_10_share - want_10).abs() < 0.01, "{zipf:?}");
        assert_eq!(zipf.hottest[0].target, 0);
        assert!(zipf.gini > 0.6, "{}", zipf.gini);
        let uniform = shares(TargetDistribution::Uniform);
        // 20 ops per target on average: only Poisson noise.
        assert!(uniform.top_10_share < 0.003, "{uniform:?}");
        assert!(uniform.gini < 0.15, "{}", uniform.gini);
    }

    #[test]
    fn memory_is_sixteen_bytes_a_target_and_the_summary_is_bounded() {
        let tally = ContentionTally::new(1_000_000);
        assert_eq!(
            tally.counts.capacity() * std::mem::size_of::<[u32; 4]>(),
            16_000_000
        );
        assert_eq!(tally.summary(20).hottest.len(), 20);
    }
}
