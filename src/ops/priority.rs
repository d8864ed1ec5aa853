//! Effective priority through parent chains.
//!
//! An op may name a parent op. Its effective priority is the maximum of its
//! own priority and every ancestor's, so a low-priority child of a critical
//! op competes as critical. It is computed once, at submission, and fixed for
//! the op's life.
//!
//! [`ParentIndex`] holds the parent link and own priority of each live op,
//! keyed by id; callers remove ops as they settle, so the index stays as
//! small as the set of live ops and a lookup never scans finished history.
//! Walking a chain costs one hash lookup per ancestor and is bounded by the
//! index size, so even a corrupt index (a cycle) cannot make it loop: a
//! chain longer than the index must revisit an op, and is refused as a
//! cycle. A parent that is not in the index is refused too: submission
//! fails rather than guess.

use rustc_hash::FxHashMap;

use super::{OpId, Priority};

/// Why an op's effective priority could not be computed; the op is refused
/// at submission.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PriorityError {
    /// `op` names `parent`, which is not a known live op.
    #[error("{op} names parent {parent}, which is not a known live op")]
    MissingParent { op: OpId, parent: OpId },
    /// The parent chain starting at `op` returns to an op already seen.
    #[error("the parent chain of {op} forms a cycle")]
    Cycle { op: OpId },
}

/// Parent links and own priorities of the ops currently known (live ops).
/// Bounded: callers remove settled ops.
#[derive(Debug, Default)]
pub(crate) struct ParentIndex {
    ops: FxHashMap<OpId, (Option<OpId>, Priority)>,
}

impl ParentIndex {
    /// Record (or replace) op `id` with its parent link and own priority.
    pub(crate) fn insert(&mut self, id: OpId, parent: Option<OpId>, own: Priority) {
        self.ops.insert(id, (parent, own));
    }

    /// Forget op `id`; a no-op when it is not present.
    pub(crate) fn remove(&mut self, id: OpId) {
        self.ops.remove(&id);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Effective priority of a NEW op (not yet inserted) = max(own, every
    /// ancestor's own priority). Refuses a missing parent or a cycle (a chain
    /// that revisits an op — including `parent == id`). Walks at most
    /// len()+1 links.
    pub(crate) fn effective(
        &self,
        id: OpId,
        parent: Option<OpId>,
        own: Priority,
    ) -> Result<Priority, PriorityError> {
        let mut best = own;
        let mut child = id;
        let mut next = parent;
        let mut links = 0usize;
        while let Some(p) = next {
            // A chain that comes back to the new op itself is a cycle even
            // if the op is not (yet) in the index.
            if p == id {
                return Err(PriorityError::Cycle { op: id });
            }
            let &(grand, prio) = self.ops.get(&p).ok_or(PriorityError::MissingParent {
                op: child,
                parent: p,
            })?;
            // Every link followed so far landed on an index entry; more such
            // links than entries means one entry was visited twice.
            links += 1;
            if links > self.ops.len() {
                return Err(PriorityError::Cycle { op: id });
            }
            best = best.max(prio);
            child = p;
            next = grand;
        }
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(v: u8) -> Priority {
        Priority::new(v).unwrap()
    }

    #[test]
    fn no_parent_is_own_priority() {
        let index = ParentIndex::default();
        assert_eq!(
            index.effective(OpId(1), None, Priority::LOW),
            Ok(Priority::LOW)
        );
    }

    #[test]
    fn a_higher_parent_is_inherited_a_lower_one_is_not() {
        let mut index = ParentIndex::default();
        index.insert(OpId(1), None, Priority::HIGH);
        index.insert(OpId(2), None, Priority::BACKGROUND);
        assert_eq!(
            index.effective(OpId(3), Some(OpId(1)), Priority::LOW),
            Ok(Priority::HIGH)
        );
        assert_eq!(
            index.effective(OpId(4), Some(OpId(2)), Priority::NORMAL),
            Ok(Priority::NORMAL)
        );
    }

    #[test]
    fn a_grandparent_counts_through_a_lower_parent() {
        let mut index = ParentIndex::default();
        index.insert(OpId(1), None, Priority::CRITICAL);
        index.insert(OpId(2), Some(OpId(1)), Priority::LOW);
        assert_eq!(
            index.effective(OpId(3), Some(OpId(2)), Priority::BACKGROUND),
            Ok(Priority::CRITICAL)
        );
    }

    #[test]
    fn a_missing_parent_is_refused_naming_both_ids() {
        let index = ParentIndex::default();
        let err = index
            .effective(OpId(7), Some(OpId(3)), Priority::NORMAL)
            .unwrap_err();
        assert_eq!(
            err,
            PriorityError::MissingParent {
                op: OpId(7),
                parent: OpId(3)
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("op-00000007") && msg.contains("op-00000003"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_ancestor_names_the_op_that_points_at_it() {
        let mut index = ParentIndex::default();
        index.insert(OpId(2), Some(OpId(1)), Priority::NORMAL);
        assert_eq!(
            index.effective(OpId(3), Some(OpId(2)), Priority::NORMAL),
            Err(PriorityError::MissingParent {
                op: OpId(2),
                parent: OpId(1)
            })
        );
    }

    #[test]
    fn self_parent_is_a_cycle() {
        let index = ParentIndex::default();
        assert_eq!(
            index.effective(OpId(5), Some(OpId(5)), Priority::NORMAL),
            Err(PriorityError::Cycle { op: OpId(5) })
        );
    }

    #[test]
    fn a_chain_back_to_the_new_op_is_a_cycle() {
        let mut index = ParentIndex::default();
        index.insert(OpId(1), Some(OpId(9)), Priority::NORMAL);
        assert_eq!(
            index.effective(OpId(9), Some(OpId(1)), Priority::NORMAL),
            Err(PriorityError::Cycle { op: OpId(9) })
        );
    }

    #[test]
    fn a_cycle_inside_the_index_is_refused_not_looped() {
        let mut index = ParentIndex::default();
        index.insert(OpId(1), Some(OpId(2)), Priority::NORMAL);
        index.insert(OpId(2), Some(OpId(1)), Priority::NORMAL);
        let err = index
            .effective(OpId(3), Some(OpId(1)), Priority::NORMAL)
            .unwrap_err();
        assert_eq!(err, PriorityError::Cycle { op: OpId(3) });
        assert!(err.to_string().contains("op-00000003"), "{err}");
    }

    #[test]
    fn removed_ops_are_forgotten() {
        let mut index = ParentIndex::default();
        assert!(index.is_empty());
        index.insert(OpId(1), None, Priority::HIGH);
        index.insert(OpId(2), None, Priority::HIGH);
        assert_eq!(index.len(), 2);
        index.remove(OpId(1));
        index.remove(OpId(42));
        assert_eq!(index.len(), 1);
        assert!(
            index
                .effective(OpId(3), Some(OpId(1)), Priority::LOW)
                .is_err()
        );
    }

    proptest! {
        /// Build a forest where op i's parent (if any) has a smaller id, so
        /// there are no cycles; then check effective against a direct walk.
        #[test]
        fn effective_is_the_max_over_the_chain(
            nodes in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>(), 1u8..=10), 0..40),
            new_parent in any::<prop::sample::Index>(),
            has_parent in any::<bool>(),
            own in 1u8..=10,
        ) {
            let mut index = ParentIndex::default();
            let mut table: Vec<(Option<usize>, Priority)> = Vec::new();
            for (i, (pick, linked, prio)) in nodes.iter().enumerate() {
                let parent = (*linked && i > 0).then(|| pick.index(i));
                index.insert(OpId(i as u64), parent.map(|j| OpId(j as u64)), p(*prio));
                table.push((parent, p(*prio)));
            }
            let new_id = OpId(nodes.len() as u64);
            let parent = (has_parent && !table.is_empty()).then(|| new_parent.index(table.len()));

            let mut expected = p(own);
            let mut cur = parent;
            while let Some(j) = cur {
                expected = expected.max(table[j].1);
                cur = table[j].0;
            }

            let got = index.effective(new_id, parent.map(|j| OpId(j as u64)), p(own));
            prop_assert_eq!(got, Ok(expected));
            prop_assert!(expected >= p(own));
        }

        /// Arbitrary links (missing parents, self links, cycles of any
        /// length): `effective` always returns, and agrees with a reference
        /// walk that remembers every op it has seen.
        #[test]
        fn arbitrary_links_agree_with_a_seen_set_walk(
            nodes in prop::collection::vec((0u64..12, prop::option::of(0u64..14), 1u8..=10), 0..12),
            new_id in 0u64..14,
            parent in prop::option::of(0u64..14),
            own in 1u8..=10,
        ) {
            let mut index = ParentIndex::default();
            let mut table = std::collections::HashMap::new();
            for (id, link, prio) in &nodes {
                index.insert(OpId(*id), link.map(OpId), p(*prio));
                table.insert(*id, (*link, p(*prio)));
            }
            table.remove(&new_id);

            let reference = {
                let mut seen = std::collections::HashSet::from([new_id]);
                let mut best = p(own);
                let mut child = new_id;
                let mut cur = parent;
                loop {
                    let Some(j) = cur else { break Ok(best) };
                    if !seen.insert(j) {
                        break Err(PriorityError::Cycle { op: OpId(new_id) });
                    }
                    let Some(&(next, prio)) = table.get(&j) else {
                        break Err(PriorityError::MissingParent { op: OpId(child), parent: OpId(j) });
                    };
                    best = best.max(prio);
                    child = j;
                    cur = next;
                }
            };

            // The new op is not in the index yet: that is the contract.
            index.remove(OpId(new_id));
            let got = index.effective(OpId(new_id), parent.map(OpId), p(own));
            prop_assert_eq!(got, reference);
        }
    }
}
