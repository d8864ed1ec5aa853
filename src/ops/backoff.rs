//! Retry backoff: how long a Failed op waits before it competes again.
//!
//! The delay before retry `n` (0-based) grows as `base × 2^n` up to `max`
//! ([`Backoff::ceiling`]); the op then really waits a jittered share of that
//! ceiling ([`Backoff::delay`]). The jitter is "equal jitter": half the
//! ceiling is guaranteed, the other half is drawn uniformly, so retries of
//! ops that failed together spread out without ever retrying sooner than
//! half the intended delay. The draw comes from the caller's seeded rng, so
//! a run's delays replay exactly from its seed.
//!
//! The arithmetic saturates: a large retry number or a huge base gives
//! `max`, never an overflow or a panic.

use std::time::Duration;

use rand::RngExt;

/// Backoff parameters (from config `[retries]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub base: Duration,
    /// The cap on any delay.
    pub max: Duration,
}

impl Backoff {
    /// The un-jittered delay before retry number `retry` (0-based: the first
    /// retry waits `base`): min(base × 2^retry, max), no overflow for any
    /// retry (saturate).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        if self.base.is_zero() {
            return Duration::ZERO;
        }
        2u32.checked_pow(retry)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.max, |d| d.min(self.max))
    }

    /// With "equal jitter": ceiling/2 + uniform(0..=ceiling/2), drawn from
    /// the caller's seeded rng.
    pub fn delay<R: rand::Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let half = self.ceiling(retry) / 2;
        half + rng.random_range(Duration::ZERO..=half)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::SmallRng};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff(base_ms: u64, max_ms: u64) -> Backoff {
        Backoff {
            base: Duration::from_millis(base_ms),
            max: Duration::from_millis(max_ms),
        }
    }

    #[test]
    fn ceiling_doubles_per_retry_then_caps() {
        let b = backoff(10, 100);
        let got: Vec<_> = (0..7).map(|r| b.ceiling(r)).collect();
        let want = [10, 20, 40, 80, 100, 100, 100].map(|ms| ms * MS);
        assert_eq!(got, want);
    }

    #[test]
    fn ceiling_saturates_at_huge_retry_numbers() {
        let b = backoff(10, 5_000);
        for r in [31, 32, 33, 64, 1000, u32::MAX] {
            assert_eq!(b.ceiling(r), b.max, "retry {r}");
        }
        // A base so large that even one doubling overflows Duration.
        let huge = Backoff {
            base: Duration::MAX,
            max: Duration::from_secs(1),
        };
        assert_eq!(huge.ceiling(1), Duration::from_secs(1));
        assert_eq!(huge.ceiling(1000), Duration::from_secs(1));
    }

    #[test]
    fn no_overflow_in_delay_at_retry_1000() {
        let b = backoff(50, 30_000);
        let mut rng = SmallRng::seed_from_u64(1);
        let d = b.delay(1000, &mut rng);
        assert!(d >= b.max / 2 && d <= b.max, "{d:?}");
    }

    #[test]
    fn zero_base_gives_zero() {
        let b = backoff(0, 1_000);
        let mut rng = SmallRng::seed_from_u64(7);
        for r in [0, 1, 10, 1000] {
            assert_eq!(b.ceiling(r), Duration::ZERO);
            assert_eq!(b.delay(r, &mut rng), Duration::ZERO);
        }
    }

    #[test]
    fn delay_is_deterministic_for_a_seed() {
        let b = backoff(10, 10_000);
        let draw = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..20)
                .map(|r| b.delay(r % 8, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
    }

    #[test]
    fn delay_is_jittered_not_constant() {
        let b = backoff(100, 100);
        let mut rng = SmallRng::seed_from_u64(3);
        let draws: Vec<_> = (0..50).map(|_| b.delay(0, &mut rng)).collect();
        assert!(draws.iter().any(|d| *d != draws[0]), "{draws:?}");
    }

    proptest! {
        #[test]
        fn delay_stays_within_half_and_full_ceiling(
            base_us in 0u64..1_000_000,
            max_us in 0u64..100_000_000,
            retry in 0u32..2000,
            seed in any::<u64>(),
        ) {
            let b = Backoff {
                base: Duration::from_micros(base_us),
                max: Duration::from_micros(max_us),
            };
            let ceiling = b.ceiling(retry);
            prop_assert!(ceiling <= b.max);
            prop_assert!(ceiling <= b.base.saturating_mul(2u32.saturating_pow(retry)));
            let mut rng = SmallRng::seed_from_u64(seed);
            let d = b.delay(retry, &mut rng);
            prop_assert!(d <= ceiling, "{:?} > {:?}", d, ceiling);
            prop_assert!(d >= ceiling / 2, "{:?} < {:?}", d, ceiling / 2);
        }
    }
}
