//! `trees`: the store's tree invariants hold at the end (one tree per
//! entity, one root per tree, no cycles, the index agrees with the links).

use super::Rule;
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

#[derive(Debug)]
pub struct Trees;

impl Rule for Trees {
    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        let mut v = Violations::new(CheckId::Trees);
        match s.store.check_trees() {
            Ok(stats) => v.result(
                format!(
                    "{} trees, {} children, {} orphans; one root each, no cycles, index agrees",
                    count(stats.trees as u64),
                    count(stats.children as u64),
                    count(stats.orphans as u64)
                ),
                s.store.len() as u64,
            ),
            Err(problems) => {
                let n = problems.len();
                for p in problems {
                    v.record(None, None, "tree invariant", || p);
                }
                v.result(
                    format!("{} tree invariant problems", count(n as u64)),
                    s.store.len() as u64,
                )
            }
        }
    }
}
