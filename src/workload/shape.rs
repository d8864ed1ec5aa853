//! How a workload is spread: over time (arrivals), over targets (hot
//! keys) and over batch sizes, each a small enum the config validates and
//! a sampler the submitter draws from.
//!
//! The default of each (uniform everywhere) draws exactly what the
//! submitter always drew, with the same calls on the same RNG, so a seed
//! gives the same workload as before these shapes existed; the other
//! shapes draw only when configured. Poisson arrivals have an RNG of their
//! own, so switching arrivals changes when batches go out, never which
//! batches they are.

use rand::distr::Distribution;
use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Exp1, Poisson, Zipf};

use super::schedule::Schedule;

/// When batches arrive, at the scheduled mean rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Arrivals {
    /// Evenly spaced: the batch after `n` ops is due when the schedule
    /// expects `n` ops.
    #[default]
    Uniform,
    /// A Poisson process of batches: exponential gaps, with the mean gap
    /// of one mean batch at the scheduled rate.
    Poisson,
}

impl Arrivals {
    /// The config's names.
    pub(crate) const NAMES: [&'static str; 2] = ["uniform", "poisson"];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Arrivals::Uniform => "uniform",
            Arrivals::Poisson => "poisson",
        }
    }
}

/// How the target of a batch is picked among `num_targets`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum TargetDistribution {
    /// Every target equally likely.
    #[default]
    Uniform,
    /// Target `k` (from 0) with probability ∝ 1 / (k + 1)^exponent:
    /// target 0 is the hottest.
    Zipf { exponent: f64 },
}

impl TargetDistribution {
    /// The config's names, without parameters.
    pub(crate) const NAMES: [&'static str; 2] = ["uniform", "zipf"];

    pub(crate) fn name(self) -> &'static str {
        match self {
            TargetDistribution::Uniform => "uniform",
            TargetDistribution::Zipf { .. } => "zipf",
        }
    }
}

/// How many ops a batch has, in `min..=max`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum BatchSizes {
    /// Uniform over `min..=max`.
    #[default]
    Uniform,
    /// Poisson with this mean, clamped to `min..=max`.
    Poisson { mean: f64 },
}

impl BatchSizes {
    /// The config's names, without parameters.
    pub(crate) const NAMES: [&'static str; 2] = ["uniform", "poisson"];

    pub(crate) fn name(self) -> &'static str {
        match self {
            BatchSizes::Uniform => "uniform",
            BatchSizes::Poisson { .. } => "poisson",
        }
    }

    /// E[size] of batches in `min..=max` drawn this way, exact.
    ///
    /// For the clamped Poisson, `Σ clamp(k) P(K = k)`: the pmf is summed
    /// in log space (`ln p(k) = −λ + k ln λ − ln k!`, by recurrence), so a
    /// large mean does not underflow `e^−λ`; the mass at and above `max`
    /// is one minus the rest.
    pub(crate) fn expected(self, min: u32, max: u32) -> f64 {
        match self {
            BatchSizes::Uniform => f64::from(min + max) / 2.0,
            BatchSizes::Poisson { mean } => {
                let ln_mean = mean.ln();
                let mut ln_p = -mean;
                let mut below_max = 0.0;
                let mut sum = 0.0;
                for k in 0..max {
                    if k > 0 {
                        ln_p += ln_mean - f64::from(k).ln();
                    }
                    let p = ln_p.exp();
                    below_max += p;
                    sum += f64::from(k.max(min)) * p;
                }
                sum + f64::from(max) * (1.0 - below_max).max(0.0)
            }
        }
    }
}

/// Draws targets.
#[derive(Clone, Debug)]
pub(crate) enum TargetPick {
    Uniform(u32),
    Zipf(Zipf<f64>, u32),
}

impl TargetPick {
    pub(crate) fn new(d: TargetDistribution, num_targets: u32) -> TargetPick {
        match d {
            TargetDistribution::Uniform => TargetPick::Uniform(num_targets),
            TargetDistribution::Zipf { exponent } => {
                // Validated: num_targets >= 1, exponent finite and > 0.
                let zipf = Zipf::new(f64::from(num_targets), exponent)
                    .expect("a validated Zipf distribution");
                TargetPick::Zipf(zipf, num_targets)
            }
        }
    }

    pub(crate) fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match self {
            TargetPick::Uniform(n) => rng.random_range(0..*n),
            // Zipf draws a rank in 1..=n as a float.
            TargetPick::Zipf(z, n) => (z.sample(rng) as u32).clamp(1, *n) - 1,
        }
    }
}

/// Draws batch sizes.
#[derive(Clone, Debug)]
pub(crate) enum SizeDraw {
    Uniform(u32, u32),
    Poisson(Poisson<f64>, u32, u32),
}

impl SizeDraw {
    pub(crate) fn new(d: BatchSizes, min: u32, max: u32) -> SizeDraw {
        match d {
            BatchSizes::Uniform => SizeDraw::Uniform(min, max),
            BatchSizes::Poisson { mean } => {
                // Validated: 1 <= mean <= 10000.
                let poisson = Poisson::new(mean).expect("a validated Poisson mean");
                SizeDraw::Poisson(poisson, min, max)
            }
        }
    }

    pub(crate) fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match self {
            SizeDraw::Uniform(min, max) => rng.random_range(*min..=*max),
            SizeDraw::Poisson(p, min, max) => {
                let k: f64 = p.sample(rng);
                (k.min(f64::from(*max)) as u32).clamp(*min, *max)
            }
        }
    }
}

/// Paces batches against a [`Schedule`]: when is the next one due.
///
/// Uniform arrivals look only at the ops submitted so far (the batch after
/// `n` ops is due at Λ⁻¹(n)), so a late batch never shifts the ones after
/// it. Poisson arrivals walk a position on the Λ axis by exponential steps
/// of mean E[batch size] and are due at Λ⁻¹(position): the time change of
/// a Poisson process, so batches arrive at the rate λ(t) / E[size] and ops
/// at λ(t) on average, on a ramp as on a constant rate.
#[derive(Clone, Debug)]
pub(crate) struct Pacer {
    schedule: Schedule,
    arrivals: Arrivals,
    mean_batch: f64,
    rng: SmallRng,
    position: f64,
}

impl Pacer {
    /// `seed`: of the gaps (Poisson only; uniform arrivals draw nothing).
    pub(crate) fn new(schedule: Schedule, arrivals: Arrivals, mean_batch: f64, seed: u64) -> Pacer {
        Pacer {
            schedule,
            arrivals,
            mean_batch,
            rng: SmallRng::seed_from_u64(seed),
            position: 0.0,
        }
    }

    pub(crate) fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Seconds from the start at which the next batch is due, given the
    /// ops `submitted` so far; `None` when it would be due at or after the
    /// end. Call once per batch.
    pub(crate) fn next_due_s(&mut self, submitted: u64) -> Option<f64> {
        let at = match self.arrivals {
            Arrivals::Uniform => submitted as f64,
            Arrivals::Poisson => {
                let gap: f64 = Exp1.sample(&mut self.rng);
                self.position += gap * self.mean_batch;
                self.position
            }
        };
        self.schedule.due_s(at)
    }

    /// Poisson arrivals: how many more batches the drawn arrivals make due
    /// before the end. The gaps have an RNG of their own, so drawing them
    /// changes no batch. `None` for uniform arrivals, which follow the ops
    /// submitted and have no arrivals of their own to count.
    pub(crate) fn due_left(&mut self) -> Option<u64> {
        if self.arrivals != Arrivals::Poisson {
            return None;
        }
        let mut n = 0;
        while self.next_due_s(0).is_some() {
            n += 1;
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::schedule::Stage;

    #[test]
    fn uniform_picks_draw_exactly_what_random_range_draws() {
        let targets = TargetPick::new(TargetDistribution::Uniform, 5);
        let sizes = SizeDraw::new(BatchSizes::Uniform, 3, 8);
        let mut a = SmallRng::seed_from_u64(9);
        let mut b = a.clone();
        for _ in 0..1000 {
            assert_eq!(targets.pick(&mut a), b.random_range(0..5u32));
            assert_eq!(sizes.draw(&mut a), b.random_range(3..=8u32));
        }
    }

    #[test]
    fn the_uniform_expected_size_is_the_midpoint() {
        assert_eq!(BatchSizes::Uniform.expected(3, 8), 5.5);
        assert_eq!(1.0 / BatchSizes::Uniform.expected(3, 8), 2.0 / 11.0);
        assert_eq!(BatchSizes::Uniform.expected(4, 4), 4.0);
    }

    /// E[clamp(K, min, max)] summed plainly from the pmf in f64, for
    /// means small enough that e^−λ does not underflow.
    fn expected_by_pmf(mean: f64, min: u32, max: u32) -> f64 {
        let mut p = (-mean).exp();
        let mut e = 0.0;
        for k in 0..2000u32 {
            if k > 0 {
                p *= mean / f64::from(k);
            }
            e += f64::from(k.clamp(min, max)) * p;
        }
        e
    }

    #[test]
    fn the_clamped_poisson_expected_size_is_exact() {
        for (mean, min, max) in [(5.0, 3, 8), (1.0, 1, 10), (20.0, 3, 8), (4.0, 1, 100)] {
            let got = BatchSizes::Poisson { mean }.expected(min, max);
            let want = expected_by_pmf(mean, min, max);
            assert!(
                (got - want).abs() < 1e-9,
                "{mean} {min} {max}: {got} vs {want}"
            );
        }
        // Clamping only at the top when min is 0-ish and max is far: the mean.
        let e = BatchSizes::Poisson { mean: 4.0 }.expected(1, 100);
        assert!((e - (4.0 + (-4.0f64).exp())).abs() < 1e-9, "{e}");
        // A huge mean, where e^−λ underflows: all mass clamps to max.
        assert!((BatchSizes::Poisson { mean: 5000.0 }.expected(1, 10) - 10.0).abs() < 1e-9);
        // And a mean deep inside a wide range is the mean.
        let e = BatchSizes::Poisson { mean: 3000.0 }.expected(1, 10_000);
        assert!((e - 3000.0).abs() < 1e-6, "{e}");
    }

    #[test]
    fn poisson_sizes_have_the_clamped_mean() {
        let sizes = SizeDraw::new(BatchSizes::Poisson { mean: 5.0 }, 3, 8);
        let mut rng = SmallRng::seed_from_u64(42);
        let n = 200_000;
        let draws: Vec<u32> = (0..n).map(|_| sizes.draw(&mut rng)).collect();
        assert!(draws.iter().all(|s| (3..=8).contains(s)));
        let mean = draws.iter().map(|s| f64::from(*s)).sum::<f64>() / n as f64;
        let want = BatchSizes::Poisson { mean: 5.0 }.expected(3, 8);
        // The clamped size has variance below Var(K) = 5, so the standard
        // error of the mean is under sqrt(5 / n) = 0.005; allow 5 of them.
        assert!((mean - want).abs() < 0.025, "{mean} vs {want}");
    }

    #[test]
    fn poisson_gaps_have_the_configured_mean_and_are_exponential() {
        // 200 ops/s in batches of mean 5: 40 batches/s, mean gap 25 ms.
        let schedule = Schedule::constant(200.0, 1e6);
        let mut pacer = Pacer::new(schedule, Arrivals::Poisson, 5.0, 42);
        let n = 100_000;
        let mut last = 0.0;
        let mut gaps = Vec::with_capacity(n);
        for _ in 0..n {
            let t = pacer.next_due_s(0).unwrap();
            gaps.push(t - last);
            last = t;
        }
        let mean = gaps.iter().sum::<f64>() / n as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        // An exponential's standard deviation is its mean, so the sample
        // mean's standard error is mean / sqrt(n) = 0.32 %; 4 of them
        // (1.3 %) leave a fixed seed far from a false alarm.
        assert!(
            (mean / 0.025 - 1.0).abs() < 4.0 / (n as f64).sqrt(),
            "mean gap {mean}"
        );
        // The coefficient of variation of an exponential is 1 (uniform
        // gaps: 0). Its sampling error is about 1/sqrt(n) as well.
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.02, "cv {cv}");
        // Memorylessness, roughly: P(gap > mean) = e^−1.
        let above = gaps.iter().filter(|g| **g > 0.025).count() as f64 / n as f64;
        assert!((above - (-1.0f64).exp()).abs() < 0.01, "{above}");
    }

    /// The arrivals still due, counted at any point, complete the count a
    /// pacer drawn to its end gives; uniform arrivals have none to count.
    #[test]
    fn the_arrivals_left_complete_the_drawn_count() {
        let schedule = Schedule::constant(200.0, 5.0);
        let mut whole = Pacer::new(schedule.clone(), Arrivals::Poisson, 5.0, 3);
        let mut all = 0;
        while whole.next_due_s(0).is_some() {
            all += 1;
        }
        // About 200 arrivals, a random number.
        assert!((150..250).contains(&all), "{all}");
        let mut part = Pacer::new(schedule.clone(), Arrivals::Poisson, 5.0, 3);
        for _ in 0..17 {
            part.next_due_s(0);
        }
        assert_eq!(part.due_left(), Some(all - 17));
        assert_eq!(part.due_left(), Some(0));
        let mut uniform = Pacer::new(schedule, Arrivals::Uniform, 5.0, 3);
        assert_eq!(uniform.due_left(), None);
    }

    #[test]
    fn uniform_arrivals_follow_the_submitted_count_and_draw_nothing() {
        let mut pacer = Pacer::new(Schedule::constant(100.0, 15.0), Arrivals::Uniform, 5.5, 1);
        let before = pacer.rng.clone();
        assert_eq!(pacer.next_due_s(0), Some(0.0));
        assert_eq!(pacer.next_due_s(250), Some(2.5));
        assert_eq!(pacer.next_due_s(1500), None);
        assert_eq!(pacer.rng, before);
    }

    #[test]
    fn poisson_arrivals_follow_a_ramp_on_average() {
        // 0 → 1000 ops/s over 10 s, batches of mean 4: Λ(t) = 50 t².
        let schedule = Schedule::new(
            0.0,
            vec![Stage {
                duration_s: 10.0,
                rate: 1000.0,
            }],
        );
        let mut pacer = Pacer::new(schedule.clone(), Arrivals::Poisson, 4.0, 7);
        let mut per_second = [0u32; 10];
        while let Some(t) = pacer.next_due_s(0) {
            per_second[t as usize] += 1;
        }
        for (sec, got) in per_second.iter().enumerate() {
            let want =
                (schedule.expected_ops(sec as f64 + 1.0) - schedule.expected_ops(sec as f64)) / 4.0;
            // Batches per second are Poisson(want): 5 standard deviations.
            let tol = 5.0 * want.sqrt();
            assert!(
                (f64::from(*got) - want).abs() <= tol,
                "second {sec}: {got} batches, {want} expected"
            );
        }
    }

    #[test]
    fn zipf_targets_show_the_configured_skew() {
        let n = 100u32;
        let s = 1.2;
        let pick = TargetPick::new(TargetDistribution::Zipf { exponent: s }, n);
        let mut rng = SmallRng::seed_from_u64(42);
        let draws = 200_000;
        let mut counts = vec![0u32; n as usize];
        for _ in 0..draws {
            counts[pick.pick(&mut rng) as usize] += 1;
        }
        let h: f64 = (1..=n).map(|k| f64::from(k).powf(-s)).sum();
        for k in [0usize, 1, 2, 9, 49] {
            let p = (k as f64 + 1.0).powf(-s) / h;
            let want = p * f64::from(draws);
            // Binomial counts: 5 standard deviations.
            let tol = 5.0 * (want * (1.0 - p)).sqrt();
            assert!(
                (f64::from(counts[k]) - want).abs() <= tol,
                "target {k}: {} vs {want}",
                counts[k]
            );
        }
        // Rank order holds at the top.
        assert!(counts[0] > counts[1] && counts[1] > counts[2]);
    }
}
