//! Lineage audits, and the test-only hooks that prove they can fail.
//!
//! `audit_lineage` re-derives what a lineage must look like and compares it
//! with what is stored: the retained window is the right size, each
//! snapshot's content hash recomputed as the version of its place (its ids
//! derived from `(entity, number)`, `previous_ecs_id` the id of the version
//! before) equals the hash taken when it was created (so an old version
//! that changed, or one kept at another number than its own, is caught),
//! history lengths only grow, and the history log's digest agrees with its
//! parts.
//!
//! The `debug_corrupt_*` hooks break these invariants on purpose, bypassing
//! the store's guarantees, so that tests can show each check does fail.

use std::sync::Arc;

use super::store::{EntityId, Store};
use super::value::Value;
use chrono::TimeDelta;

impl Store {
    /// Audit `e`'s lineage and history; every problem found, described.
    pub fn audit_lineage(&self, e: EntityId) -> Result<(), Vec<String>> {
        let ent = self.entity(e).map_err(|err| vec![err.to_string()])?;
        let lineage = self.ids.lineage(e);
        let mut problems = Vec::new();
        let keep = self.retention.versions;
        let retained = ent.retained_versions() as u64;
        let expected = ent.version_count.min(keep as u64);
        if retained != expected {
            problems.push(format!(
                "lineage {lineage}: {retained} versions retained, expected {expected} \
                 ({} created, window {keep})",
                ent.version_count
            ));
        }
        let first = ent.oldest_retained();
        let mut history_len = 0;
        for (i, snap) in ent.versions().enumerate() {
            let number = first + i as u64;
            let (ecs_id, previous) = self.ids.version(e, number);
            if snap.content_hash(ecs_id, previous) != snap.hash {
                problems.push(format!(
                    "lineage {lineage}: version {number} (@{ecs_id}) changed after it was \
                     created, or is not version {number} (content hash differs)"
                ));
            }
            if snap.history_len < history_len || snap.history_len > ent.history.len() {
                problems.push(format!(
                    "lineage {lineage}: version {number} saw {} history entries, outside \
                     {history_len}..={}",
                    snap.history_len,
                    ent.history.len()
                ));
            }
            if !snap.fields.fits(ent.schema) {
                problems.push(format!(
                    "lineage {lineage}: version {number} holds fields of another schema than {}",
                    ent.schema
                ));
            }
            for (index, value) in snap.fields.values().unwrap_or_default().iter().enumerate() {
                if Some(index) != ent.schema.history_index()
                    && let Err(err) = ent.schema.check_type(index, value)
                {
                    problems.push(format!("lineage {lineage}: version {number}: {err}"));
                }
            }
            history_len = snap.history_len;
        }
        if let Err(problem) = ent.history.audit(self.retention.history) {
            problems.push(format!("lineage {lineage}: {problem}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Test hook: silently alter a field of the oldest retained snapshot
    /// (an old one whenever more than one is retained), bypassing
    /// immutability, so that `audit_lineage` fails.
    #[doc(hidden)]
    pub fn debug_corrupt_version(&mut self, e: EntityId) {
        let Ok(ent) = self.entity_mut(e) else {
            return;
        };
        let oldest = ent.oldest_retained();
        if let Some(snap) = ent.snapshot_mut(oldest) {
            let first = perturb(&snap.fields.get(0));
            // A value of the field's own type is always taken.
            let _ = snap.fields.set(0, first);
        }
    }

    /// Test hook: alter a retained history entry behind the log's back.
    #[doc(hidden)]
    pub fn debug_corrupt_history(&mut self, e: EntityId) {
        if let Ok(ent) = self.entity_mut(e) {
            ent.history.corrupt();
        }
    }

    /// Test hook: make the id → tree index disagree with the trees, so that
    /// `check_trees` fails.
    #[doc(hidden)]
    pub fn debug_corrupt_tree_index(&mut self, e: EntityId) {
        if let Ok(ent) = self.entity_mut(e) {
            let node = &mut ent.node;
            node.tree = match node.tree {
                Some(root) if root == e => None,
                _ => Some(e),
            };
        }
    }
}

/// A value of the same type that differs from `v`.
fn perturb(v: &Value) -> Value {
    match v {
        Value::Int(i) => Value::Int(i.wrapping_add(1)),
        Value::Float(f) => Value::Float(f64::from_bits(f.to_bits() ^ 1)),
        Value::Str(s) => Value::Str(Arc::from(format!("{s}~"))),
        Value::Time(t) => Value::Time(
            t.checked_add_signed(TimeDelta::seconds(1))
                .unwrap_or(chrono::DateTime::UNIX_EPOCH),
        ),
        Value::List(items) => {
            let mut more = items.to_vec();
            more.push(Value::Int(0));
            Value::List(more.into())
        }
        Value::Map(map) => {
            let mut more = (**map).clone();
            more.insert("~".to_owned(), "~".to_owned());
            Value::Map(Arc::new(more))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::{Retention, Schema, address};

    fn store() -> (Store, EntityId) {
        let mut s = Store::new(
            Retention {
                versions: 4,
                history: 6,
            },
            11,
        );
        let e = s.create(Schema::TestDataEntity, &[]).unwrap();
        (s, e)
    }

    #[test]
    fn a_long_lineage_past_both_windows_audits_clean() {
        let (mut s, e) = store();
        for i in 0..50 {
            s.put(&address(s.current_id(e).unwrap(), "counter"), Value::Int(i))
                .unwrap();
            s.append_history(e, &format!("set {i}")).unwrap();
            s.version_entity(e, i % 2 == 0).unwrap();
        }
        assert_eq!(s.audit_lineage(e), Ok(()));
        assert!(s.audit_lineage(EntityId(9)).is_err());
    }

    #[test]
    fn a_changed_old_version_fails_the_audit() {
        let (mut s, e) = store();
        for _ in 0..6 {
            s.version_entity(e, true).unwrap();
        }
        let oldest = s.lineage(e)[0];
        let before = s.get(&address(oldest, "name")).unwrap();
        s.debug_corrupt_version(e);
        assert_ne!(s.get(&address(oldest, "name")).unwrap(), before);
        let problems = s.audit_lineage(e).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("version 4"), "{problems:?}");
        assert!(
            problems[0].contains("changed after it was created"),
            "{problems:?}"
        );
        // Only the snapshot changed, not the live state.
        assert_eq!(s.field(e, "name").unwrap(), Value::str("test_entity"));
    }

    #[test]
    fn an_altered_history_entry_fails_the_audit() {
        let (mut s, e) = store();
        for i in 0..10 {
            s.append_history(e, &format!("entry {i}")).unwrap();
        }
        assert_eq!(s.audit_lineage(e), Ok(()));
        s.debug_corrupt_history(e);
        let problems = s.audit_lineage(e).unwrap_err();
        assert!(problems[0].contains("history entry 9"), "{problems:?}");
    }

    #[test]
    fn versions_kept_out_of_order_fail_the_audit() {
        let (mut s, e) = store();
        for i in 0..3 {
            s.put(&address(s.current_id(e).unwrap(), "counter"), Value::Int(i))
                .unwrap();
            s.version_entity(e, true).unwrap();
        }
        assert_eq!(s.audit_lineage(e), Ok(()));
        // Versions 1 and 2 swapped: each is intact, but not where it is.
        let ent = s.entity_mut(e).unwrap();
        ent.older.swap(0, 1);
        let problems = s.audit_lineage(e).unwrap_err();
        for number in [1, 2] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains(&format!("version {number} "))
                        && p.contains("is not version")),
                "{problems:?}"
            );
        }
    }
}
