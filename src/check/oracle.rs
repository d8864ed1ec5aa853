//! The conflict rule as the checks state it, written from its statement
//! and not from the engine's code:
//!
//! > Among the Pending ops of a target, the one with the highest *effective*
//! > priority wins; on equal priority, the one submitted first (the smaller
//! > op id). An executing op is preempted only by a strictly higher
//! > effective priority, and only once it has executed for at least the
//! > grace period; inside it, it is protected (a grace save).
//!
//! The effective priority of an op is the highest of its own priority and
//! its parent's effective priority (which already covers the ancestors).

use std::time::Duration;

use crate::ops::{OpId, Priority};

/// Whether op `a` (effective priority `pa`) must win against op `b`
/// (effective priority `pb`) when both are Pending on one target.
pub fn must_beat(a: OpId, pa: Priority, b: OpId, pb: Priority) -> bool {
    if pa != pb {
        return pa > pb;
    }
    a.0 < b.0
}

/// Whether `winner` may displace the executing `running` at all: strictly
/// higher effective priority. Equal or lower waits.
pub fn may_displace(winner: Priority, running: Priority) -> bool {
    winner > running
}

/// Whether an op that has executed for `elapsed` may be preempted: only at
/// or past the grace period.
pub fn past_grace(elapsed: Duration, grace: Duration) -> bool {
    elapsed >= grace
}

/// Effective priority from the op's own and its parent's effective one.
pub fn effective(own: Priority, parent_effective: Option<Priority>) -> Priority {
    match parent_effective {
        Some(p) if p > own => p,
        _ => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: u8) -> Priority {
        Priority::new(v).unwrap()
    }

    #[test]
    fn the_rule_as_a_table() {
        // (a, pa, b, pb, a must beat b)
        let cases = [
            (1, 8, 2, 5, true),
            (2, 5, 1, 8, false),
            (1, 5, 2, 5, true),
            (2, 5, 1, 5, false),
            (7, 10, 3, 2, true),
            (4, 5, 4, 5, false),
        ];
        for (a, pa, b, pb, want) in cases {
            assert_eq!(
                must_beat(OpId(a), p(pa), OpId(b), p(pb)),
                want,
                "{a}@{pa} vs {b}@{pb}"
            );
        }
        assert!(may_displace(p(8), p(5)));
        assert!(!may_displace(p(5), p(5)));
        assert!(!may_displace(p(2), p(5)));
        let grace = Duration::from_millis(200);
        assert!(!past_grace(Duration::from_millis(199), grace));
        assert!(past_grace(grace, grace));
        assert_eq!(effective(p(2), Some(p(10))), p(10));
        assert_eq!(effective(p(8), Some(p(5))), p(8));
        assert_eq!(effective(p(5), None), p(5));
    }
}
