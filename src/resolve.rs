//! The conflict rule (policy `priority-grace`), as one small pure function.
//!
//! The harness keeps, per target, the ops that arrived since the last
//! resolution (plus a winner still waiting) and the op executing, if any.
//! At each resolution point it calls [`decide`] with that state and the
//! grace period and carries out the [`Resolution`]:
//!
//! 1. among the Pending ops the winner has the highest effective priority,
//!    ties to the earliest submission (smallest [`OpId`]);
//! 2. every other Pending op is rejected, outranked by the winner;
//! 3. nothing executing: the winner starts;
//! 4. something executing with equal or higher effective priority: the
//!    winner waits;
//! 5. something executing with lower effective priority: inside the grace
//!    period it is protected (a grace save; resolve again when the period
//!    ends), past it it is preempted and the winner starts.
//!
//! No clock, no I/O, no other target: the function sees one target's state
//! and nothing else, which is what makes it table-testable.

use std::time::Duration;

use crate::events::Decision;
use crate::ops::{OpId, Priority};

/// A Pending op as the rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contender {
    pub id: OpId,
    pub effective: Priority,
}

/// The op executing on the target and how long it has run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    pub id: OpId,
    pub effective: Priority,
    pub elapsed: Duration,
}

/// What to do with the winner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing executing: the winner starts now.
    Start,
    /// The executing op has equal or higher priority: the winner stays
    /// Pending until the target frees.
    Wait,
    /// The winner outranks the executing op, which is inside its grace
    /// period: protected; resolve again after `remaining`.
    GraceSave { remaining: Duration },
    /// The executing op is past its grace period and outranked: abort it
    /// (no effects) and start the winner.
    Preempt { victim: OpId },
}

/// The event records an action by its kind alone: the grace time left is
/// not part of the contract, and the victim is the executing op the event
/// names already.
impl From<Action> for Decision {
    fn from(action: Action) -> Decision {
        match action {
            Action::Start => Decision::Start,
            Action::Wait => Decision::Wait,
            Action::GraceSave { .. } => Decision::GraceSave,
            Action::Preempt { .. } => Decision::Preempt,
        }
    }
}

/// The outcome of one resolution point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Index of the winner in the `pending` slice. Every other pending op
    /// is rejected, outranked by it.
    pub(crate) winner: usize,
    pub(crate) action: Action,
}

/// Whether `a` beats `b`: higher effective priority, or equal priority and
/// earlier submission.
pub(crate) fn outranks(a: Contender, b: Contender) -> bool {
    (a.effective, std::cmp::Reverse(a.id)) > (b.effective, std::cmp::Reverse(b.id))
}

/// Decide one resolution point. `None` when nothing is pending.
pub fn decide(
    pending: &[Contender],
    running: Option<Running>,
    grace: Duration,
) -> Option<Resolution> {
    let (winner, best) = pending
        .iter()
        .copied()
        .enumerate()
        .reduce(|best, cur| if outranks(cur.1, best.1) { cur } else { best })?;
    let action = match running {
        None => Action::Start,
        Some(run) if best.effective <= run.effective => Action::Wait,
        Some(run) if run.elapsed < grace => Action::GraceSave {
            remaining: grace - run.elapsed,
        },
        Some(run) => Action::Preempt { victim: run.id },
    };
    Some(Resolution { winner, action })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::ops::Priority as P;
    use crate::ops::priority::ParentIndex;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_action_is_recorded_by_its_kind() {
        let cases = [
            (Action::Start, Decision::Start),
            (Action::Wait, Decision::Wait),
            (Action::GraceSave { remaining: MS }, Decision::GraceSave),
            (Action::Preempt { victim: OpId(3) }, Decision::Preempt),
        ];
        for (action, recorded) in cases {
            assert_eq!(Decision::from(action), recorded, "{action:?}");
        }
    }

    fn c(id: u64, effective: Priority) -> Contender {
        Contender {
            id: OpId(id),
            effective,
        }
    }

    fn run(id: u64, effective: Priority, elapsed_ms: u64) -> Option<Running> {
        Some(Running {
            id: OpId(id),
            effective,
            elapsed: Duration::from_millis(elapsed_ms),
        })
    }

    struct Case {
        name: &'static str,
        pending: Vec<Contender>,
        running: Option<Running>,
        grace: Duration,
        /// `(winner id, action)`; `None` when nothing is decided.
        expect: Option<(u64, Action)>,
    }

    fn cases() -> Vec<Case> {
        let grace = 500 * MS;
        vec![
            // §4.3: nothing executing, the only op starts.
            Case {
                name: "single op starts",
                pending: vec![c(1, P::NORMAL)],
                running: None,
                grace,
                expect: Some((1, Action::Start)),
            },
            // §4.1/4.2: highest effective priority wins, others lose to it.
            Case {
                name: "mixed priorities, highest wins",
                pending: vec![
                    c(1, P::LOW),
                    c(2, P::HIGH),
                    c(3, P::BACKGROUND),
                    c(4, P::CRITICAL),
                    c(5, P::NORMAL),
                ],
                running: None,
                grace,
                expect: Some((4, Action::Start)),
            },
            // §4.1: ties go to the earliest submission, whatever the order.
            Case {
                name: "equal priorities, smallest id wins (ascending slice)",
                pending: vec![c(3, P::HIGH), c(7, P::HIGH), c(9, P::HIGH)],
                running: None,
                grace,
                expect: Some((3, Action::Start)),
            },
            Case {
                name: "equal priorities, smallest id wins (descending slice)",
                pending: vec![c(9, P::HIGH), c(7, P::HIGH), c(3, P::HIGH)],
                running: None,
                grace,
                expect: Some((3, Action::Start)),
            },
            Case {
                name: "equal priorities, smallest id wins (middle of slice)",
                pending: vec![c(7, P::HIGH), c(3, P::HIGH), c(9, P::HIGH), c(2, P::LOW)],
                running: None,
                grace,
                expect: Some((3, Action::Start)),
            },
            // Retried ops keep their id, so they beat newer ops on a tie.
            Case {
                name: "retried op (small id) beats new op (large id) on a tie",
                pending: vec![c(1_000_000, P::NORMAL), c(12, P::NORMAL)],
                running: None,
                grace,
                expect: Some((12, Action::Start)),
            },
            // §4.4: executing op of equal priority, the winner waits.
            Case {
                name: "winner waits behind equal-priority executing op",
                pending: vec![c(5, P::HIGH), c(6, P::LOW)],
                running: run(2, P::HIGH, 10_000),
                grace,
                expect: Some((5, Action::Wait)),
            },
            // §4.4: executing op of higher priority, the winner waits
            // (even long past grace: grace only protects lower ops).
            Case {
                name: "winner waits behind higher-priority executing op",
                pending: vec![c(5, P::HIGH)],
                running: run(2, P::CRITICAL, 10_000),
                grace,
                expect: Some((5, Action::Wait)),
            },
            // §4.5: inside grace, protected, resolve again when it ends.
            Case {
                name: "inside grace: grace save with exact remaining time",
                pending: vec![c(5, P::CRITICAL), c(6, P::NORMAL)],
                running: run(2, P::NORMAL, 123),
                grace,
                expect: Some((
                    5,
                    Action::GraceSave {
                        remaining: 377 * MS,
                    },
                )),
            },
            Case {
                name: "one nanosecond before grace ends: still a grace save",
                pending: vec![c(5, P::HIGH)],
                running: Some(Running {
                    id: OpId(2),
                    effective: P::LOW,
                    elapsed: grace - Duration::from_nanos(1),
                }),
                grace,
                expect: Some((
                    5,
                    Action::GraceSave {
                        remaining: Duration::from_nanos(1),
                    },
                )),
            },
            // §4.5: "for at least the grace period" — the boundary preempts.
            Case {
                name: "exactly at the grace boundary: preempt",
                pending: vec![c(5, P::HIGH)],
                running: run(2, P::LOW, 500),
                grace,
                expect: Some((5, Action::Preempt { victim: OpId(2) })),
            },
            Case {
                name: "past grace: preempt naming the victim",
                pending: vec![c(8, P::NORMAL), c(5, P::CRITICAL)],
                running: run(3, P::HIGH, 2_000),
                grace,
                expect: Some((5, Action::Preempt { victim: OpId(3) })),
            },
            Case {
                name: "grace 0: preempt at once",
                pending: vec![c(5, P::HIGH)],
                running: run(2, P::LOW, 0),
                grace: Duration::ZERO,
                expect: Some((5, Action::Preempt { victim: OpId(2) })),
            },
            Case {
                name: "empty pending, nothing running: no decision",
                pending: vec![],
                running: None,
                grace,
                expect: None,
            },
            Case {
                name: "empty pending, something running: no decision",
                pending: vec![],
                running: run(2, P::LOW, 10_000),
                grace,
                expect: None,
            },
        ]
    }

    #[test]
    fn table() {
        for case in cases() {
            let got = decide(&case.pending, case.running, case.grace);
            let got_by_id = got.map(|d| (case.pending[d.winner].id.0, d.action));
            assert_eq!(got_by_id, case.expect, "case: {}", case.name);

            // §4.2: every other pending op is rejected because the winner
            // outranks it — the caller relies on exactly that.
            if let Some(d) = got {
                let winner = case.pending[d.winner];
                for (i, other) in case.pending.iter().enumerate() {
                    if i != d.winner {
                        assert!(
                            outranks(winner, *other),
                            "case: {}: winner {:?} does not outrank {:?}",
                            case.name,
                            winner,
                            other
                        );
                        assert!(!outranks(*other, winner), "case: {}", case.name);
                    }
                }
            }
        }
    }

    /// The rule sees effective priorities only: a BACKGROUND child of a
    /// CRITICAL parent beats a HIGH op with no parent.
    #[test]
    fn effective_priority_decides_not_own_priority() {
        let mut index = ParentIndex::default();
        index.insert(OpId(1), None, P::CRITICAL);
        let child = index
            .effective(OpId(20), Some(OpId(1)), P::BACKGROUND)
            .unwrap();
        let plain = index.effective(OpId(10), None, P::HIGH).unwrap();
        let pending = [c(10, plain), c(20, child)];
        let d = decide(&pending, None, 500 * MS).unwrap();
        assert_eq!(pending[d.winner].id, OpId(20));

        // The same holds against an executing op: the child preempts an
        // executing HIGH op past grace although its own priority is lowest.
        let d = decide(&[c(20, child)], run(10, P::HIGH, 600), 500 * MS).unwrap();
        assert_eq!(d.action, Action::Preempt { victim: OpId(10) });
    }

    #[test]
    fn outranks_is_priority_then_earliest_submission() {
        assert!(outranks(c(9, P::HIGH), c(1, P::NORMAL)));
        assert!(!outranks(c(1, P::NORMAL), c(9, P::HIGH)));
        assert!(outranks(c(1, P::NORMAL), c(9, P::NORMAL)));
        assert!(!outranks(c(9, P::NORMAL), c(1, P::NORMAL)));
        assert!(!outranks(c(4, P::NORMAL), c(4, P::NORMAL)));
    }

    fn priority() -> impl Strategy<Value = Priority> {
        (1u8..=10).prop_map(|v| Priority::new(v).unwrap())
    }

    /// Up to 12 pending ops with distinct ids, in arbitrary order.
    fn pending() -> impl Strategy<Value = Vec<Contender>> {
        prop::collection::btree_map(0u64..10_000, priority(), 0..12)
            .prop_map(|m| m.into_iter().map(|(id, p)| c(id, p)).collect::<Vec<_>>())
            .prop_shuffle()
    }

    fn running() -> impl Strategy<Value = Option<Running>> {
        prop::option::of((10_000u64..20_000, priority(), 0u64..2_000_000).prop_map(
            |(id, effective, us)| Running {
                id: OpId(id),
                effective,
                elapsed: Duration::from_micros(us),
            },
        ))
    }

    proptest! {
        #[test]
        fn decisions_obey_the_rule(
            pending in pending(),
            running in running(),
            grace_us in prop_oneof![Just(0u64), 0u64..2_000_000],
            at_boundary in prop::bool::weighted(0.25),
        ) {
            let grace = Duration::from_micros(grace_us);
            // Random elapsed times almost never land on the boundary; put
            // a quarter of the cases exactly there.
            let running = running.map(|r| Running {
                elapsed: if at_boundary { grace } else { r.elapsed },
                ..r
            });
            let Some(d) = decide(&pending, running, grace) else {
                prop_assert!(pending.is_empty());
                return Ok(());
            };
            prop_assert!(d.winner < pending.len());
            let winner = pending[d.winner];
            for other in &pending {
                prop_assert!(!outranks(*other, winner), "{:?} outranks winner {:?}", other, winner);
            }
            match (d.action, running) {
                (Action::Start, None) => {}
                (Action::Start, Some(r)) => prop_assert!(false, "start while {:?} runs", r),
                (_, None) => prop_assert!(false, "{:?} with nothing running", d.action),
                (Action::Wait, Some(r)) => prop_assert!(winner.effective <= r.effective),
                (Action::GraceSave { remaining }, Some(r)) => {
                    prop_assert!(winner.effective > r.effective);
                    prop_assert!(r.elapsed < grace);
                    prop_assert_eq!(remaining, grace - r.elapsed);
                }
                (Action::Preempt { victim }, Some(r)) => {
                    prop_assert!(winner.effective > r.effective);
                    prop_assert!(r.elapsed >= grace);
                    prop_assert_eq!(victim, r.id);
                }
            }
        }
    }
}
