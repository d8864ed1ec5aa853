//! `retries`: backoff is measured, not trusted, and budgets hold exactly.
//!
//! The policy, stated again: the wait before retry `n` (0-based) has the
//! ceiling `min(base × 2^n, max)`, and the op waits between half the
//! ceiling and the ceiling (equal jitter). For every retry the check
//! compares
//!
//! * the backoff the engine reports with the policy's range;
//! * the gap it observed from the failure (or preemption) to the retry
//!   with the reported backoff: never shorter (timers only fire late; one
//!   millisecond is allowed for the timer wheel's rounding), and not longer
//!   than [`LATE_RETRY_BOUND`] beyond it;
//! * the retry number with the retries counted so far and the budget.
//!
//! A rejection for a spent budget must come exactly when the retries used
//! equal the budget.

use std::time::Duration;

use super::{Kinds, Rule};
use crate::check::coverage::Tally;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::check::{CheckConfig, Violations};
use crate::events::{Event, EventKind, Kind, RejectReason};
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// Rounding of the timer wheel: a timer may report up to this much less
/// than asked, measured on the run's clock.
const TIMER_ROUNDING: Duration = Duration::from_millis(1);

/// How much later than its backoff a retry may come: scheduling delay of
/// the driver task on a loaded two-core machine, with ample margin. A
/// retry this late is a stuck timer queue, not noise.
pub const LATE_RETRY_BOUND: Duration = Duration::from_millis(250);

/// The policy's ceiling for retry `n` (0-based): `min(base × 2^n, max)`,
/// without overflow.
pub fn ceiling(base: Duration, max: Duration, n: u32) -> Duration {
    let mut d = base;
    for _ in 0..n {
        if d >= max {
            break;
        }
        d = d.saturating_mul(2);
    }
    d.min(max)
}

#[derive(Debug)]
pub struct Retries {
    base: Duration,
    max: Duration,
    /// How late a retry may come after its backoff.
    late: Duration,
    v: Violations,
    retries: u64,
    exhausted: u64,
}

impl Retries {
    pub fn new(config: &CheckConfig) -> Retries {
        Retries {
            base: config.backoff_base,
            max: config.backoff_max,
            late: config.lateness.retry,
            v: Violations::new(CheckId::Retries),
            retries: 0,
            exhausted: 0,
        }
    }
}

impl Rule for Retries {
    fn observes(&self) -> Kinds {
        Kinds::of(&[Kind::Retry, Kind::Rejected])
    }

    fn observe(&mut self, ev: &Event, table: &Table) {
        match &ev.kind {
            EventKind::OperationRetry {
                retry,
                max,
                backoff_ns,
            } => {
                self.retries += 1;
                let Some(r) = table.op(ev.op) else {
                    return;
                };
                let expected = r.retries + 1;
                if *retry != expected || *max != r.budget {
                    self.v.at(ev, "retry count", || {
                        format!(
                            "retry {retry} of {max}, but the op used {} of {} retries before it",
                            r.retries, r.budget
                        )
                    });
                }
                if expected > r.budget {
                    self.v.at(ev, "retry beyond budget", || {
                        format!("retry {expected} with a budget of {}", r.budget)
                    });
                }
                let ceil = ceiling(self.base, self.max, r.retries);
                let reported = Duration::from_nanos(*backoff_ns);
                if reported < ceil / 2 || reported > ceil {
                    self.v.at(ev, "backoff outside policy", || {
                        format!(
                            "reported backoff {reported:?} before retry {expected}; the policy allows {:?}..={ceil:?}",
                            ceil / 2
                        )
                    });
                }
                let gap = Duration::from_nanos(ev.t_ns.saturating_sub(r.failed_ns));
                if gap + TIMER_ROUNDING < reported {
                    self.v.at(ev, "backoff not waited", || {
                        format!("retried {gap:?} after its failure, but reported a backoff of {reported:?}")
                    });
                } else if gap > reported + self.late {
                    let late = self.late;
                    self.v.at(ev, "backoff overrun", || {
                        format!(
                            "retried {gap:?} after its failure, more than {late:?} past its backoff of {reported:?}"
                        )
                    });
                }
            }
            EventKind::OperationRejected {
                reason: RejectReason::BudgetSpent,
                retries,
                ..
            } => {
                self.exhausted += 1;
                if let Some(r) = table.op(ev.op)
                    && (r.retries != r.budget || *retries != r.retries)
                {
                    self.v.at(ev, "budget not spent", || {
                        format!(
                            "rejected for a spent budget after {} of {} retries (the event says {retries})",
                            r.retries, r.budget
                        )
                    });
                }
            }
            _ => {}
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, _s: &FinalState<'_>) -> CheckResult {
        self.v.result(
            format!(
                "{} retries measured against their backoff and budget; {} budgets ran out exactly",
                count(self.retries),
                count(self.exhausted)
            ),
            self.retries + self.exhausted,
        )
    }

    fn cover(&self, tally: &mut Tally) {
        tally.retries += self.retries;
        tally.budget_exhaustions += self.exhausted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_then_caps_without_overflow() {
        let ms = Duration::from_millis;
        let got: Vec<_> = (0..6).map(|n| ceiling(ms(10), ms(100), n)).collect();
        assert_eq!(got, [10, 20, 40, 80, 100, 100].map(ms));
        assert_eq!(ceiling(ms(10), ms(100), u32::MAX), ms(100));
        assert_eq!(ceiling(Duration::ZERO, ms(100), 5), Duration::ZERO);
    }
}
