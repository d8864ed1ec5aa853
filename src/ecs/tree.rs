//! Trees of entities: roots, children, orphans, and the id → tree index.
//!
//! Every entity is exactly one of: the root of a tree, a child inside a
//! tree, or an orphan (in the store, in no tree). The links are stored on
//! the entities themselves: a child knows its parent and its *slot* in the
//! parent's child list, so leaving a parent is a `swap_remove` plus one slot
//! fix-up, O(1) however many siblings there are (the workload puts
//! thousands of targets under a few group roots). Beside the links, each
//! entity carries the index entry `tree`: the root of the tree it is in,
//! which `tree_of` answers without walking.
//!
//! Structural changes are two moves: `promote_to_root` (a child
//! leaves its parent taking its subtree along, an orphan becomes a root of
//! one) and `detach` (a child or a childless root becomes an orphan). Each
//! is checked in full when it is requested (in a transaction: when it is
//! staged), so applying it cannot fail. `check_trees` re-derives everything
//! from the links and reports every disagreement.

use std::fmt;

use super::error::EcsError;
use super::store::{EntityId, Store, Structural, VersionCreated};

/// Where an entity sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Root { children: usize },
    Child { parent: EntityId, root: EntityId },
    Orphan,
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Root { children } => write!(f, "a root with {children} children"),
            Placement::Child { parent, root } => {
                write!(f, "a child of {parent} in the tree rooted at {root}")
            }
            Placement::Orphan => f.write_str("an orphan"),
        }
    }
}

/// What `check_trees` counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TreeStats {
    /// Roots, i.e. trees.
    pub trees: usize,
    /// Entities that have a parent.
    pub children: usize,
    /// Entities in no tree.
    pub orphans: usize,
}

/// Tree links of one entity.
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    pub(crate) parent: Option<EntityId>,
    /// Position in the parent's `children` (a `u32`, like entity ids: one
    /// node per entity, so every byte counts a million times).
    pub(crate) slot: u32,
    pub(crate) children: Children,
    pub(crate) is_root: bool,
    /// The index: root of the tree this entity is in.
    pub(crate) tree: Option<EntityId>,
}

/// A node's child list. Most entities have no children: then it holds no
/// allocation and takes 8 bytes of the node, where a `Vec` took 24.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(
    clippy::box_collection,
    reason = "a thin pointer: 8 bytes in every node, the list itself in few"
)]
pub(crate) struct Children(Option<Box<Vec<EntityId>>>);

impl std::ops::Deref for Children {
    type Target = [EntityId];

    fn deref(&self) -> &[EntityId] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl From<Vec<EntityId>> for Children {
    fn from(children: Vec<EntityId>) -> Children {
        Children((!children.is_empty()).then(|| Box::new(children)))
    }
}

impl Children {
    fn push(&mut self, child: EntityId) {
        self.0.get_or_insert_default().push(child);
    }

    /// Remove the child at `slot` (which must exist), moving the last one
    /// into its place.
    fn swap_remove(&mut self, slot: usize) {
        if let Some(list) = &mut self.0 {
            list.swap_remove(slot);
            if list.is_empty() {
                self.0 = None;
            }
        }
    }
}

/// A structural change, checked and ready to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Move {
    Promote,
    Detach,
}

impl Store {
    fn node(&self, e: EntityId) -> Option<&Node> {
        self.entities.get(e.0 as usize).map(|ent| &ent.node)
    }

    fn node_mut(&mut self, e: EntityId) -> Option<&mut Node> {
        self.entities.get_mut(e.0 as usize).map(|ent| &mut ent.node)
    }

    /// Where `e` sits (an unknown id reads as an orphan).
    pub fn placement(&self, e: EntityId) -> Placement {
        match self.node(e) {
            Some(Node {
                parent: Some(parent),
                tree,
                ..
            }) => Placement::Child {
                parent: *parent,
                root: tree.unwrap_or(*parent),
            },
            Some(node) if node.is_root => Placement::Root {
                children: node.children.len(),
            },
            _ => Placement::Orphan,
        }
    }

    /// Root of `e`'s tree, from the id → tree index; `None` for an orphan.
    pub fn tree_of(&self, e: EntityId) -> Option<EntityId> {
        self.node(e)?.tree
    }

    /// Setup: put the orphan `child` under `parent`, which must be a root or
    /// an orphan (an orphan becomes a root). Creates no versions.
    pub fn add_child(&mut self, parent: EntityId, child: EntityId) -> Result<(), EcsError> {
        let parent_lineage = self.lineage_id(parent)?;
        let child_lineage = self.lineage_id(child)?;
        if parent == child {
            return Err(EcsError::SelfParent {
                entity: child,
                lineage: child_lineage,
            });
        }
        let placement = self.placement(child);
        if placement != Placement::Orphan {
            return Err(EcsError::NotAnOrphan {
                entity: child,
                lineage: child_lineage,
                placement,
            });
        }
        if let Placement::Child { parent: grand, .. } = self.placement(parent) {
            return Err(EcsError::ParentIsChild {
                entity: parent,
                lineage: parent_lineage,
                parent: grand,
            });
        }
        let Some(p) = self.node_mut(parent) else {
            return Ok(());
        };
        p.is_root = true;
        p.tree = Some(parent);
        let slot = p.children.len() as u32;
        p.children.push(child);
        if let Some(c) = self.node_mut(child) {
            c.parent = Some(parent);
            c.slot = slot;
        }
        self.set_tree(child, Some(parent));
        Ok(())
    }

    /// Make `e` the root of its own tree. A child leaves its parent (taking
    /// its subtree along); an orphan becomes a root of one; a root is a
    /// no-op. A change versions the moved entity, then the parent it left.
    pub fn promote_to_root(&mut self, e: EntityId) -> Result<Structural, EcsError> {
        let mut txn = self.begin(e)?;
        if !txn.promote_to_root()? {
            return Ok(Structural::NoOp);
        }
        Ok(Structural::Changed {
            versions: txn.commit().versions,
        })
    }

    /// Make `e` an orphan. A child leaves its parent, a childless root its
    /// tree; an orphan is a no-op; an entity with children is refused
    /// (`HasChildren`). A change versions the moved entity, then the parent
    /// it left.
    pub fn detach(&mut self, e: EntityId) -> Result<Structural, EcsError> {
        let mut txn = self.begin(e)?;
        if !txn.detach()? {
            return Ok(Structural::NoOp);
        }
        Ok(Structural::Changed {
            versions: txn.commit().versions,
        })
    }

    /// Check a promotion: `Some(Move)` to apply, `None` for a no-op.
    pub(crate) fn plan_promote(&self, e: EntityId) -> Result<Option<Move>, EcsError> {
        self.entity(e)?;
        Ok(match self.placement(e) {
            Placement::Root { .. } => None,
            _ => Some(Move::Promote),
        })
    }

    /// Check a detach: `Some(Move)` to apply, `None` for a no-op.
    pub(crate) fn plan_detach(&self, e: EntityId) -> Result<Option<Move>, EcsError> {
        let ent = self.entity(e)?;
        let children = ent.node.children.len();
        if children > 0 {
            return Err(EcsError::HasChildren {
                entity: e,
                lineage: self.ids.lineage(e),
                children,
            });
        }
        Ok(match self.placement(e) {
            Placement::Orphan => None,
            _ => Some(Move::Detach),
        })
    }

    /// Apply a checked move and create its versions (moved entity, then
    /// the parent it left).
    pub(crate) fn apply_move(&mut self, e: EntityId, mv: Move, versions: &mut Vec<VersionCreated>) {
        let left = self.unlink(e);
        match mv {
            Move::Promote => {
                if let Some(node) = self.node_mut(e) {
                    node.is_root = true;
                }
                self.set_tree(e, Some(e));
            }
            Move::Detach => {
                if let Some(node) = self.node_mut(e) {
                    node.is_root = false;
                }
                self.set_tree(e, None);
            }
        }
        versions.extend(self.force_version(e));
        if let Some(parent) = left {
            versions.extend(self.force_version(parent));
        }
    }

    /// Remove `e` from its parent's child list; returns the parent left.
    fn unlink(&mut self, e: EntityId) -> Option<EntityId> {
        let node = self.node_mut(e)?;
        let parent = node.parent.take()?;
        let slot = node.slot as usize;
        let siblings = &mut self.node_mut(parent)?.children;
        if siblings.get(slot) != Some(&e) {
            return Some(parent);
        }
        siblings.swap_remove(slot);
        if let Some(&moved) = siblings.get(slot)
            && let Some(m) = self.node_mut(moved)
        {
            m.slot = slot as u32;
        }
        Some(parent)
    }

    /// Point the index of `e` and its whole subtree at `root`.
    fn set_tree(&mut self, e: EntityId, root: Option<EntityId>) {
        let Some(node) = self.node_mut(e) else {
            return;
        };
        node.tree = root;
        if node.children.is_empty() {
            return;
        }
        let mut stack = node.children.to_vec();
        while let Some(x) = stack.pop() {
            if let Some(n) = self.node_mut(x) {
                n.tree = root;
                stack.extend_from_slice(&n.children);
            }
        }
    }

    /// Verify every tree invariant from the links: parent/child links are
    /// symmetric (and slots right), each entity is listed by at most one
    /// parent, every chain of parents ends (no cycle) at exactly one root,
    /// orphans have no children, and the id → tree index agrees.
    pub fn check_trees(&self) -> Result<TreeStats, Vec<String>> {
        let n = self.entities.len();
        let mut problems = Vec::new();
        let mut listed = vec![0usize; n];
        let mut stats = TreeStats::default();
        for (i, ent) in self.entities.iter().enumerate() {
            let e = EntityId(i as u32);
            let node = &ent.node;
            if node.is_root && node.parent.is_some() {
                problems.push(format!("entity {e} is marked as a root but has a parent"));
            }
            match node.parent {
                Some(p) => match self.node(p) {
                    None => problems.push(format!("entity {e} has unknown parent {p}")),
                    Some(pn) if pn.children.get(node.slot as usize) != Some(&e) => {
                        problems.push(format!(
                            "entity {e} names parent {p}, but {p} does not list it (at slot {})",
                            node.slot
                        ))
                    }
                    Some(_) => {}
                },
                None if !node.is_root && !node.children.is_empty() => {
                    problems.push(format!("orphan {e} has {} children", node.children.len()))
                }
                None => {}
            }
            for (slot, &c) in node.children.iter().enumerate() {
                match self.node(c) {
                    None => problems.push(format!("entity {e} lists unknown child {c}")),
                    Some(cn) => {
                        listed[c.0 as usize] += 1;
                        if cn.parent != Some(e) || cn.slot as usize != slot {
                            problems.push(format!(
                                "entity {e} lists child {c} at slot {slot}, but {c} names parent \
                                 {:?} at slot {}",
                                cn.parent, cn.slot
                            ));
                        }
                    }
                }
            }
            let derived = self.derive_root(e, &mut problems);
            if node.tree != derived {
                problems.push(format!(
                    "tree index says entity {e} is in the tree of {:?}, but the links say {:?}",
                    node.tree, derived
                ));
            }
            match (node.parent, node.is_root) {
                (Some(_), _) => stats.children += 1,
                (None, true) => stats.trees += 1,
                (None, false) => stats.orphans += 1,
            }
        }
        for (i, ent) in self.entities.iter().enumerate() {
            let expected = usize::from(ent.node.parent.is_some());
            if listed[i] != expected {
                problems.push(format!(
                    "entity #{i} is listed as a child by {} parents, expected {expected}",
                    listed[i]
                ));
            }
        }
        if problems.is_empty() {
            Ok(stats)
        } else {
            Err(problems)
        }
    }

    /// The root reached by following parent links from `e`, or `None` for an
    /// orphan; a cycle or a chain ending at a non-root is reported.
    fn derive_root(&self, e: EntityId, problems: &mut Vec<String>) -> Option<EntityId> {
        let mut top = e;
        let mut steps = 0usize;
        while let Some(p) = self.node(top)?.parent {
            top = p;
            steps += 1;
            if steps > self.entities.len() {
                problems.push(format!("the parent chain from entity {e} has a cycle"));
                return None;
            }
        }
        let node = self.node(top)?;
        if node.is_root {
            Some(top)
        } else {
            if top != e {
                problems.push(format!(
                    "the parent chain from entity {e} ends at {top}, which is not a root"
                ));
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::{Retention, Schema};

    #[test]
    fn a_childless_node_allocates_nothing_for_its_children() {
        assert!(std::mem::size_of::<Node>() <= 32);
        let mut c = Children::default();
        assert!(c.is_empty() && c.0.is_none());
        for i in 0..3 {
            c.push(EntityId(i));
        }
        c.swap_remove(0);
        assert_eq!(&*c, [EntityId(2), EntityId(1)]);
        c.swap_remove(1);
        c.swap_remove(0);
        assert!(c.0.is_none(), "the last child leaving frees the list");
        assert_eq!(Children::from(Vec::new()), Children::default());
    }

    /// A store with `n` targets, all orphans.
    fn store(n: usize) -> (Store, Vec<EntityId>) {
        let mut s = Store::new(
            Retention {
                versions: 8,
                history: 64,
            },
            1,
        );
        let ids = (0..n)
            .map(|_| s.create(Schema::TestDataEntity, &[]).unwrap())
            .collect();
        (s, ids)
    }

    #[test]
    fn add_child_builds_a_tree_without_versions() {
        let (mut s, e) = store(3);
        s.add_child(e[0], e[1]).unwrap();
        s.add_child(e[0], e[2]).unwrap();
        assert_eq!(s.placement(e[0]), Placement::Root { children: 2 });
        assert_eq!(
            s.placement(e[1]),
            Placement::Child {
                parent: e[0],
                root: e[0]
            }
        );
        assert_eq!(s.tree_of(e[2]), Some(e[0]));
        assert_eq!(s.tree_of(e[0]), Some(e[0]));
        assert!(e.iter().all(|&x| s.version_count(x) == 1));
        assert_eq!(
            s.check_trees(),
            Ok(TreeStats {
                trees: 1,
                children: 2,
                orphans: 0
            })
        );
    }

    #[test]
    fn add_child_refuses_non_orphans_child_parents_and_itself() {
        let (mut s, e) = store(4);
        s.add_child(e[0], e[1]).unwrap();
        let err = s.add_child(e[2], e[1]).unwrap_err();
        assert!(
            matches!(
                err,
                EcsError::NotAnOrphan {
                    placement: Placement::Child { .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("a child of #0"), "{err}");
        let err = s.add_child(e[2], e[0]).unwrap_err();
        assert!(
            matches!(
                err,
                EcsError::NotAnOrphan {
                    placement: Placement::Root { children: 1 },
                    ..
                }
            ),
            "{err}"
        );
        let err = s.add_child(e[1], e[3]).unwrap_err();
        assert_eq!(
            err,
            EcsError::ParentIsChild {
                entity: e[1],
                lineage: s.lineage_id(e[1]).unwrap(),
                parent: e[0]
            }
        );
        let err = s.add_child(e[3], e[3]).unwrap_err();
        assert!(matches!(err, EcsError::SelfParent { .. }), "{err}");
        assert!(s.add_child(e[3], EntityId(99)).is_err());
        assert_eq!(s.placement(e[3]), Placement::Orphan);
        assert!(s.check_trees().is_ok());
    }

    #[test]
    fn promote_moves_a_child_out_and_versions_it_then_its_parent() {
        let (mut s, e) = store(3);
        s.add_child(e[0], e[1]).unwrap();
        s.add_child(e[0], e[2]).unwrap();
        let moved_before = s.current_id(e[1]).unwrap();
        let parent_before = s.current_id(e[0]).unwrap();
        let Structural::Changed { versions } = s.promote_to_root(e[1]).unwrap() else {
            panic!("promoting a child is a change");
        };
        assert_eq!(versions.len(), 2);
        assert_eq!(
            (versions[0].entity, versions[0].previous),
            (e[1], moved_before)
        );
        assert_eq!(
            (versions[1].entity, versions[1].previous),
            (e[0], parent_before)
        );
        assert_eq!(s.placement(e[1]), Placement::Root { children: 0 });
        assert_eq!(s.placement(e[0]), Placement::Root { children: 1 });
        assert_eq!(s.tree_of(e[1]), Some(e[1]));
        assert_eq!(s.promote_to_root(e[1]).unwrap(), Structural::NoOp);
        assert_eq!(s.version_count(e[1]), 2, "a no-op creates no version");
        assert_eq!(s.check_trees().map(|t| t.trees), Ok(2));
    }

    #[test]
    fn promote_an_orphan_versions_only_itself() {
        let (mut s, e) = store(1);
        let Structural::Changed { versions } = s.promote_to_root(e[0]).unwrap() else {
            panic!("promoting an orphan is a change");
        };
        assert_eq!(versions.len(), 1);
        assert_eq!(s.placement(e[0]), Placement::Root { children: 0 });
        assert_eq!(s.tree_of(e[0]), Some(e[0]));
    }

    #[test]
    fn detach_makes_orphans_and_refuses_roots_with_children() {
        let (mut s, e) = store(3);
        s.add_child(e[0], e[1]).unwrap();
        let err = s.detach(e[0]).unwrap_err();
        assert_eq!(
            err,
            EcsError::HasChildren {
                entity: e[0],
                lineage: s.lineage_id(e[0]).unwrap(),
                children: 1
            }
        );
        assert!(err.to_string().contains("would orphan them"), "{err}");
        assert_eq!(s.version_count(e[0]), 1, "a refused detach changes nothing");

        let Structural::Changed { versions } = s.detach(e[1]).unwrap() else {
            panic!("detaching a child is a change");
        };
        assert_eq!(
            versions.iter().map(|v| v.entity).collect::<Vec<_>>(),
            [e[1], e[0]]
        );
        assert_eq!(s.placement(e[1]), Placement::Orphan);
        assert_eq!(s.tree_of(e[1]), None);
        assert_eq!(s.detach(e[1]).unwrap(), Structural::NoOp);

        let Structural::Changed { versions } = s.detach(e[0]).unwrap() else {
            panic!("detaching a childless root is a change");
        };
        assert_eq!(versions.len(), 1);
        assert_eq!(s.placement(e[0]), Placement::Orphan);
        assert_eq!(
            s.check_trees(),
            Ok(TreeStats {
                trees: 0,
                children: 0,
                orphans: 3
            })
        );
    }

    #[test]
    fn leaving_a_large_group_keeps_sibling_slots_consistent() {
        let (mut s, e) = store(200);
        for &c in &e[1..] {
            s.add_child(e[0], c).unwrap();
        }
        for (i, &c) in e[1..].iter().enumerate() {
            if i % 3 == 0 {
                s.detach(c).unwrap();
            } else if i % 3 == 1 {
                s.promote_to_root(c).unwrap();
            }
        }
        let stats = s.check_trees().unwrap();
        assert_eq!(stats.trees + stats.children + stats.orphans, 200);
        assert_eq!(s.placement(e[0]), Placement::Root { children: 66 });
        for &c in &e[1..] {
            s.detach(c).unwrap();
        }
        s.detach(e[0]).unwrap();
        assert_eq!(s.check_trees().map(|t| t.orphans), Ok(200));
    }

    #[test]
    fn check_trees_fails_when_the_index_disagrees() {
        for victim in 0..3 {
            let (mut s, e) = store(3);
            s.add_child(e[0], e[1]).unwrap();
            // e[0] root, e[1] child, e[2] orphan: corrupt each kind.
            s.debug_corrupt_tree_index(e[victim]);
            let problems = s.check_trees().unwrap_err();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].contains("tree index"), "{problems:?}");
            assert!(
                problems[0].contains(&format!("entity #{victim}")),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn check_trees_finds_broken_links_and_cycles() {
        let (mut s, e) = store(3);
        s.add_child(e[0], e[1]).unwrap();
        s.entities[1].node.parent = Some(e[2]);
        let problems = s.check_trees().unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("does not list it")),
            "{problems:?}"
        );

        let (mut s, e) = store(2);
        s.entities[0].node.parent = Some(e[1]);
        s.entities[1].node.parent = Some(e[0]);
        s.entities[0].node.children = vec![e[1]].into();
        s.entities[1].node.children = vec![e[0]].into();
        let problems = s.check_trees().unwrap_err();
        assert!(problems.iter().any(|p| p.contains("cycle")), "{problems:?}");
    }

    /// Trees are two levels deep whatever the moves: only roots have
    /// children. (A promotion therefore never moves a subtree larger than
    /// the promoted entity itself.)
    #[test]
    fn only_roots_ever_have_children() {
        use rand::{RngExt, SeedableRng, rngs::SmallRng};
        let mut rng = SmallRng::seed_from_u64(7);
        let (mut s, e) = store(8);
        let mut moves = 0;
        for _ in 0..5_000 {
            let a = e[rng.random_range(0..e.len())];
            let b = e[rng.random_range(0..e.len())];
            let moved = match rng.random_range(0..3) {
                0 => s.add_child(a, b).is_ok(),
                1 => s.promote_to_root(a).is_ok(),
                _ => s.detach(a).is_ok(),
            };
            moves += usize::from(moved);
            for &x in &e {
                let node = s.node(x).unwrap();
                if !node.is_root {
                    assert!(node.children.is_empty(), "{x} has children: {node:?}");
                }
            }
            assert!(s.check_trees().is_ok());
        }
        assert!(moves > 1_000, "the moves were mostly refused: {moves}");
    }
}
