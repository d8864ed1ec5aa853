//! The submission schedule: a piecewise-linear target rate over time, and
//! the arithmetic that paces an open-loop submitter against it.
//!
//! A schedule is a start rate and a list of stages. Each stage lasts its
//! duration and ramps the rate linearly from where the previous stage ended
//! (the first from `start_rate`) to its own rate, the semantics of k6's
//! ramping arrival rate:
//!
//! ```text
//!  rate
//!   400 ┤            ╭──────╮
//!       │           ╱        ╲
//!   100 ┤ ╭────────╯          ╲──────
//!       │╱
//!     0 ┼──────────────────────────────▶ t
//!        stage 1  2   3      4    5
//! ```
//!
//! Three views of the same curve serve three readers: [`Schedule::rate_at`]
//! the timeline chart, [`Schedule::expected_ops`] (the integral Λ(t)) the
//! accuracy of a run against the schedule, and [`Schedule::due_s`] (its
//! inverse) the submitter: the batch after `n` submitted ops is due at the
//! first moment Λ(t) reaches `n`. A constant rate is the one-stage
//! schedule whose start rate equals its rate; there `due_s(n)` is exactly
//! `n / rate`, as it has always been.
//!
//! Everything here is plain arithmetic on `f64` seconds: no clock, no
//! randomness, so it is tested exactly.

/// One stage: the rate ramps linearly to `rate` over `duration_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stage {
    /// Seconds, > 0.
    pub(crate) duration_s: f64,
    /// Operations per second at the end of the stage, >= 0.
    pub(crate) rate: f64,
}

/// A validated schedule: stages with their start times and the expected
/// ops at each start, precomputed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Schedule {
    start_rate: f64,
    stages: Vec<Stage>,
    /// `starts[i]`: seconds at which stage `i` begins; one more entry, the
    /// end of the schedule.
    starts: Vec<f64>,
    /// `ops_at[i]`: Λ at `starts[i]`.
    ops_at: Vec<f64>,
}

impl Schedule {
    /// A schedule of `stages` ramping from `start_rate`. The config
    /// validates the inputs: at least one stage, durations > 0 and rates
    /// >= 0, all finite.
    pub(crate) fn new(start_rate: f64, stages: Vec<Stage>) -> Schedule {
        debug_assert!(!stages.is_empty());
        let mut starts = vec![0.0];
        let mut ops_at = vec![0.0];
        let mut from = start_rate;
        for s in &stages {
            starts.push(starts[starts.len() - 1] + s.duration_s);
            ops_at.push(ops_at[ops_at.len() - 1] + (from + s.rate) / 2.0 * s.duration_s);
            from = s.rate;
        }
        Schedule {
            start_rate,
            stages,
            starts,
            ops_at,
        }
    }

    /// `rate` ops per second for `duration_s` seconds.
    pub(crate) fn constant(rate: f64, duration_s: f64) -> Schedule {
        Schedule::new(rate, vec![Stage { duration_s, rate }])
    }

    pub(crate) fn start_rate(&self) -> f64 {
        self.start_rate
    }

    pub(crate) fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Seconds from the start to the end of the last stage.
    pub(crate) fn duration_s(&self) -> f64 {
        self.starts[self.stages.len()]
    }

    /// Expected operations over the whole schedule.
    pub(crate) fn total_ops(&self) -> f64 {
        self.ops_at[self.stages.len()]
    }

    /// The mean rate, `total_ops / duration_s`: a run that kept to the
    /// schedule submitted at this rate on average.
    pub(crate) fn mean_rate(&self) -> f64 {
        self.total_ops() / self.duration_s()
    }

    /// The highest rate anywhere on the schedule.
    pub(crate) fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.rate)
            .fold(self.start_rate, f64::max)
    }

    /// The same shape with every duration multiplied by `time` and every
    /// rate by `rate` (both > 0).
    pub(crate) fn scaled(&self, time: f64, rate: f64) -> Schedule {
        let stages = self
            .stages
            .iter()
            .map(|s| Stage {
                duration_s: s.duration_s * time,
                rate: s.rate * rate,
            })
            .collect();
        Schedule::new(self.start_rate * rate, stages)
    }

    /// Stage `i`'s rates at its start and end.
    fn rates(&self, i: usize) -> (f64, f64) {
        let from = if i == 0 {
            self.start_rate
        } else {
            self.stages[i - 1].rate
        };
        (from, self.stages[i].rate)
    }

    /// The stage that holds `t` (in `[0, duration)`).
    fn stage_of(&self, t: f64) -> usize {
        // `starts` is sorted; the last start <= t.
        let i = self.starts.partition_point(|s| *s <= t);
        i.saturating_sub(1).min(self.stages.len() - 1)
    }

    #[cfg(test)]
    /// The target rate at `t` seconds: 0 before the start and from the end
    /// on, since nothing is submitted there.
    pub(crate) fn rate_at(&self, t: f64) -> f64 {
        if !(0.0..self.duration_s()).contains(&t) {
            return 0.0;
        }
        let i = self.stage_of(t);
        let (from, to) = self.rates(i);
        let tau = t - self.starts[i];
        from + (to - from) * tau / self.stages[i].duration_s
    }

    /// Λ(t): the operations a run that keeps to the schedule has submitted
    /// by `t` seconds (the integral of the rate; clamped to the schedule).
    pub(crate) fn expected_ops(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        if t >= self.duration_s() {
            return self.total_ops();
        }
        let i = self.stage_of(t);
        let (from, to) = self.rates(i);
        let tau = t - self.starts[i];
        let d = self.stages[i].duration_s;
        self.ops_at[i] + from * tau + (to - from) * tau * tau / (2.0 * d)
    }

    /// When the batch after `ops` submitted operations is due, in seconds
    /// from the start: the first `t` with Λ(t) >= `ops`. `None` when that
    /// is at or after the end of the schedule: the batch is not sent.
    pub(crate) fn due_s(&self, ops: f64) -> Option<f64> {
        for (i, stage) in self.stages.iter().enumerate() {
            if ops <= self.ops_at[i] {
                return Some(self.starts[i]).filter(|t| *t < self.duration_s());
            }
            if ops >= self.ops_at[i + 1] {
                continue;
            }
            // Inside stage i: solve from·τ + a·τ² = x for τ in (0, d).
            let (from, to) = self.rates(i);
            let x = ops - self.ops_at[i];
            let a = (to - from) / (2.0 * stage.duration_s);
            let tau = if a == 0.0 {
                x / from
            } else {
                // The root of a·τ² + from·τ − x = 0 that lies in the stage,
                // written without cancellation for either sign of a.
                2.0 * x / (from + (from * from + 4.0 * a * x).max(0.0).sqrt())
            };
            let t = self.starts[i] + tau.clamp(0.0, stage.duration_s);
            return Some(t).filter(|t| *t < self.duration_s());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    /// 0 → 100 over 10 s, hold 100 for 10 s, up to 400 over 5 s, down to
    /// 0 over 5 s.
    fn ramp() -> Schedule {
        Schedule::new(
            0.0,
            vec![
                Stage {
                    duration_s: 10.0,
                    rate: 100.0,
                },
                Stage {
                    duration_s: 10.0,
                    rate: 100.0,
                },
                Stage {
                    duration_s: 5.0,
                    rate: 400.0,
                },
                Stage {
                    duration_s: 5.0,
                    rate: 0.0,
                },
            ],
        )
    }

    #[test]
    fn a_constant_schedule_is_due_at_n_over_rate_exactly() {
        let s = Schedule::constant(100.0, 15.0);
        for n in [0u64, 1, 7, 99, 100, 1234, 1499] {
            assert_eq!(s.due_s(n as f64), Some(n as f64 / 100.0), "n = {n}");
        }
        assert_eq!(s.due_s(1500.0), None, "due exactly at the end: not sent");
        assert_eq!(s.due_s(2000.0), None);
        assert_eq!(s.total_ops(), 1500.0);
        assert_eq!(s.mean_rate(), 100.0);
        assert_eq!(s.rate_at(3.3), 100.0);
    }

    #[test]
    fn the_rate_ramps_linearly_through_each_stage() {
        let s = ramp();
        assert_eq!(s.duration_s(), 30.0);
        for (t, want) in [
            (-1.0, 0.0),
            (0.0, 0.0),
            (5.0, 50.0),
            (10.0, 100.0),
            (15.0, 100.0),
            (20.0, 100.0),
            (22.5, 250.0),
            (25.0, 400.0),
            (27.5, 200.0),
            (30.0, 0.0),
            (31.0, 0.0),
        ] {
            assert!(close(s.rate_at(t), want), "rate at {t}: {}", s.rate_at(t));
        }
        assert_eq!(s.peak_rate(), 400.0);
    }

    #[test]
    fn expected_ops_are_the_integral_of_the_rate() {
        let s = ramp();
        // Triangles and rectangles of the drawing above.
        for (t, want) in [
            (0.0, 0.0),
            (5.0, 0.5 * 5.0 * 50.0),
            (10.0, 500.0),
            (20.0, 1500.0),
            (22.5, 1500.0 + 2.5 * (100.0 + 250.0) / 2.0),
            (25.0, 1500.0 + 1250.0),
            (30.0, 2750.0 + 1000.0),
            (99.0, 3750.0),
        ] {
            assert!(
                close(s.expected_ops(t), want),
                "Λ({t}) = {}",
                s.expected_ops(t)
            );
        }
        assert_eq!(s.total_ops(), 3750.0);
        assert_eq!(s.mean_rate(), 125.0);
        // A midpoint-rule integral of rate_at agrees.
        let steps = 300_000;
        let dt = 30.0 / steps as f64;
        let sum: f64 = (0..steps)
            .map(|k| s.rate_at((k as f64 + 0.5) * dt) * dt)
            .sum();
        assert!((sum - 3750.0).abs() < 1e-3, "{sum}");
    }

    #[test]
    fn due_is_the_inverse_of_expected_ops() {
        let s = ramp();
        for k in 0..3750 {
            let ops = k as f64;
            let t = s.due_s(ops).unwrap_or_else(|| panic!("{ops} ops: none"));
            assert!(
                close(s.expected_ops(t), ops),
                "Λ(due({ops})) = {}",
                s.expected_ops(t)
            );
            // The first such moment: just before, fewer were expected.
            if t > 0.0 {
                assert!(s.expected_ops(t - 1e-6) < ops, "{ops}");
            }
        }
        assert_eq!(s.due_s(0.0), Some(0.0));
        assert_eq!(s.due_s(3750.0), None);
        // Known points: Λ = 5 t² in the first stage.
        assert!(close(s.due_s(20.0).unwrap(), 2.0));
        assert!(close(s.due_s(1500.0).unwrap(), 20.0));
    }

    #[test]
    fn per_second_counts_of_a_uniform_pacer_follow_the_schedule() {
        // Batches of 4 paced by due_s: each second's count is within one
        // batch of the schedule's integral over that second.
        let s = ramp();
        let mut per_second = vec![0u64; 30];
        let mut submitted = 0.0;
        while let Some(t) = s.due_s(submitted) {
            per_second[t as usize] += 4;
            submitted += 4.0;
        }
        for (sec, got) in per_second.iter().enumerate() {
            let want = s.expected_ops(sec as f64 + 1.0) - s.expected_ops(sec as f64);
            assert!(
                (*got as f64 - want).abs() <= 4.0,
                "second {sec}: {got} submitted, {want} expected"
            );
        }
        assert!((submitted - 3750.0).abs() <= 4.0, "{submitted}");
    }

    #[test]
    fn a_pause_at_rate_zero_sends_nothing_and_resumes_after() {
        let s = Schedule::new(
            10.0,
            vec![
                Stage {
                    duration_s: 1.0,
                    rate: 10.0,
                },
                Stage {
                    duration_s: 1.0,
                    rate: 0.0,
                },
                Stage {
                    duration_s: 1.0,
                    rate: 0.0,
                },
                Stage {
                    duration_s: 1.0,
                    rate: 10.0,
                },
            ],
        );
        assert_eq!(s.total_ops(), 20.0);
        // Op 15 is the last the ramp down expects: due as it ends, at 2 s.
        // Nothing is due in the pause; op 16 only once the rate is back.
        assert!(s.due_s(14.0).unwrap() < 2.0);
        assert_eq!(s.due_s(15.0), Some(2.0));
        let t = s.due_s(16.0).unwrap();
        assert!(t > 3.0, "{t}");
        // Λ = 15 + 5 τ² after 3 s.
        assert!(close(t, 3.0 + (1.0f64 / 5.0).sqrt()));
        assert_eq!(s.rate_at(2.5), 0.0);
    }

    #[test]
    fn scaling_keeps_the_shape() {
        let s = ramp().scaled(0.1, 2.0);
        assert!(close(s.duration_s(), 3.0));
        assert_eq!(s.peak_rate(), 800.0);
        assert!(close(s.total_ops(), 3750.0 * 0.2));
        assert!(close(s.rate_at(2.25), 500.0));
    }
}
