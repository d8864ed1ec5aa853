//! Coverage: how much a run proved, per rule path.
//!
//! Each rule adds the cases it examined to a [`Tally`]; the report shows
//! every path with its count, and a path with none as not exercised. A
//! check that examined nothing passed vacuously, which proves nothing.

use crate::metrics::Latency;
use crate::report::model::{Coverage, CoveragePath, LatencySummary};

/// The rule paths, in report order, with what a case of each is.
pub const PATHS: [(&str, &str); 12] = [
    (
        "ties",
        "conflicts decided by submission order between equal effective priorities",
    ),
    (
        "inherited_wins",
        "conflicts whose winner an inherited (parent) priority decided",
    ),
    (
        "cross_batch_parents",
        "ops submitted while their parent, from an earlier batch, was still active",
    ),
    (
        "waits",
        "winners that waited behind an executing op of equal or higher priority",
    ),
    (
        "grace_saves",
        "executing ops protected by their grace period",
    ),
    (
        "preemptions",
        "executing ops preempted past their grace period",
    ),
    ("stalls", "executions that lasted at least the grace period"),
    (
        "retries",
        "retries measured against their backoff and budget",
    ),
    (
        "budget_exhaustions",
        "ops rejected for a spent retry budget",
    ),
    ("drain_cancellations", "ops cancelled at the drain deadline"),
    ("borrows", "borrowed values replayed with their provenance"),
    ("tree_moves", "commits that moved a target in the trees"),
];

/// Whether `name` is a coverage path.
pub fn is_path(name: &str) -> bool {
    PATHS.iter().any(|(n, _)| *n == name)
}

/// Cases per path, as the rules count them.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub ties: u64,
    pub inherited_wins: u64,
    pub cross_batch_parents: u64,
    pub waits: u64,
    pub grace_saves: u64,
    pub preemptions: u64,
    pub stalls: u64,
    pub retries: u64,
    pub budget_exhaustions: u64,
    pub drain_cancellations: u64,
    pub borrows: u64,
    pub tree_moves: u64,
    pub lateness: Option<LatencySummary>,
    pub bound_us: u64,
}

impl Tally {
    fn cases(&self, name: &str) -> u64 {
        match name {
            "ties" => self.ties,
            "inherited_wins" => self.inherited_wins,
            "cross_batch_parents" => self.cross_batch_parents,
            "waits" => self.waits,
            "grace_saves" => self.grace_saves,
            "preemptions" => self.preemptions,
            "stalls" => self.stalls,
            "retries" => self.retries,
            "budget_exhaustions" => self.budget_exhaustions,
            "drain_cancellations" => self.drain_cancellations,
            "borrows" => self.borrows,
            "tree_moves" => self.tree_moves,
            _ => 0,
        }
    }

    /// The report's coverage section.
    pub fn report(&self) -> Coverage {
        Coverage {
            paths: PATHS
                .iter()
                .map(|(name, _)| {
                    let cases = self.cases(name);
                    CoveragePath {
                        name: name.to_string(),
                        cases,
                        exercised: cases > 0,
                    }
                })
                .collect(),
            preemption_lateness_us: self.lateness.unwrap_or_else(|| Latency::new().summary()),
            preemption_bound_us: self.bound_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_reported_and_zero_is_not_exercised() {
        let tally = Tally {
            ties: 3,
            ..Tally::default()
        };
        let c = tally.report();
        assert_eq!(c.paths.len(), PATHS.len());
        assert_eq!(c.paths[0].cases, 3);
        assert!(c.paths[0].exercised);
        assert!(c.paths[1..].iter().all(|p| !p.exercised && p.cases == 0));
        assert!(is_path("tree_moves") && !is_path("bogus"));
    }
}
