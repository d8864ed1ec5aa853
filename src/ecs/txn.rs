//! Transactions: all of an operation's effects on one target, or none.
//!
//! A `Txn` holds the store mutably for its whole life, so nothing else can
//! change the store between staging and commit. Every request is checked
//! in full when it is staged (address, stale version, field, type,
//! append-only, tree state) and the error returned then; what is staged is
//! known to apply. Hence `commit` is infallible and dropping a `Txn` — on
//! an error, an injected fault, a preemption or a panic unwinding through
//! the caller — is the rollback: nothing was written yet.
//!
//! What a transaction stages (field writes, history entries) goes to the
//! store's staging area, which keeps its room from one transaction to the
//! next: staging allocates nothing once the area has grown, and the `Txn`
//! itself is a few words, cheap to return and to move (a cold transaction
//! pays for every cache line it touches). History entries are hashed as
//! they are staged (an op's entry as its parts, without writing out its
//! text). Dropping a `Txn`, committed or not, empties the area. At commit
//! the effects land in a fixed order:
//!
//! ```text
//!   field writes + provenance → history entries → structural change
//!   (versions: moved entity, then the parent it left) → forced version
//! ```

use std::sync::Arc;

use uuid::Uuid;

use super::address::Address;
use super::digest::entry_hash;
use super::entry::Entry;
use super::error::EcsError;
use super::store::{EntityId, Store, VersionCreated};
use super::tree::Move;
use super::value::Value;

/// A staged field write.
#[derive(Clone, Debug)]
struct Staged {
    value: Value,
    provenance: Option<Uuid>,
}

/// The staging area of the store's one open transaction: field writes by
/// field position, each field at most once, in the order first staged;
/// history entries with their hashes. Empty between transactions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Staging {
    writes: Vec<(usize, Staged)>,
    history: Vec<(Entry, u64)>,
}

impl Staging {
    fn write(&self, index: usize) -> Option<&Staged> {
        self.writes
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, s)| s)
    }

    fn stage(&mut self, index: usize, staged: Staged) {
        match self.writes.iter_mut().find(|(i, _)| *i == index) {
            Some((_, slot)) => *slot = staged,
            None => self.writes.push((index, staged)),
        }
    }
}

/// A transaction on one target entity. Writes are staged; nothing is
/// visible until [`Txn::commit`]; dropping it rolls back.
#[derive(Debug)]
#[must_use = "a transaction does nothing unless committed"]
pub struct Txn<'s> {
    store: &'s mut Store,
    target: EntityId,
    current: Uuid,
    structural: Option<Move>,
    force: bool,
}

/// What a commit did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Every version created at commit, in order (structural: moved entity
    /// then the parent it left; then the forced version).
    pub versions: Vec<VersionCreated>,
}

impl Store {
    /// Begin a transaction on `target`.
    pub fn begin(&mut self, target: EntityId) -> Result<Txn<'_>, EcsError> {
        let current = self.entity(target)?.current(target, &self.ids);
        Ok(Txn {
            store: self,
            target,
            current,
            structural: None,
            force: false,
        })
    }
}

impl<'s> Txn<'s> {
    #[cfg(test)]
    /// The target entity.
    pub(crate) fn target(&self) -> EntityId {
        self.target
    }

    /// The target's current ecs_id (versions are only created at commit).
    pub fn current_id(&self) -> Uuid {
        self.current
    }

    /// Staged-or-live value of a target field; the history field reads the
    /// retained entries followed by the staged ones.
    pub fn get(&self, field: &str) -> Result<Value, EcsError> {
        let ent = self.store.entity(self.target)?;
        let index = ent.schema.require_field(field)?;
        if Some(index) == ent.schema.history_index() {
            let entries = ent
                .history
                .entries()
                .chain(self.store.staging.history.iter().map(|(e, _)| e));
            return Ok(Value::List(
                entries.map(|e| Value::Str(e.to_arc())).collect(),
            ));
        }
        match self.store.staging.write(index) {
            Some(staged) => Ok(staged.value.clone()),
            None => Ok(ent.live_value(index)),
        }
    }

    /// Stage a write through an address, which must name the target's
    /// current version (`StaleVersion` for an older one, `NotTxnTarget` for
    /// another entity's); then checked like [`Txn::set`].
    pub fn put(&mut self, address: &str, value: Value) -> Result<(), EcsError> {
        let addr = Address::parse(address)?;
        let (e, number) = self.store.decode_known(addr.ecs_id)?;
        if e != self.target {
            return Err(EcsError::NotTxnTarget {
                used: addr.ecs_id,
                used_entity: e,
                target: self.target,
                current: self.current,
            });
        }
        self.store.require_current(e, addr.ecs_id, number)?;
        self.set(addr.field, value)
    }

    /// Stage a write by field name (type-checked, never coerced).
    pub fn set(&mut self, field: &str, value: Value) -> Result<(), EcsError> {
        let ent = self.store.entity(self.target)?;
        let index = ent.schema.require_field(field)?;
        ent.check_writable(self.target, &self.store.ids, index, &value)?;
        self.store.staging.stage(
            index,
            Staged {
                value,
                provenance: None,
            },
        );
        Ok(())
    }

    /// Stage a borrow of `source.source_field` into the target's
    /// `target_field`, with its provenance. Returns the value copied.
    pub(crate) fn borrow_attribute_from(
        &mut self,
        source: EntityId,
        source_field: &str,
        target_field: &str,
    ) -> Result<Value, EcsError> {
        let plan = self
            .store
            .plan_borrow(self.target, source, source_field, target_field)?;
        // Borrowing from the target itself reads what this transaction sees.
        let value = if source == self.target {
            self.get(source_field)?
        } else {
            plan.value
        };
        self.store.staging.stage(
            plan.target_index,
            Staged {
                value: value.clone(),
                provenance: Some(plan.provenance),
            },
        );
        Ok(value)
    }

    /// Stage a history entry given as text.
    pub fn append_history(&mut self, entry: &str) {
        self.store
            .staging
            .history
            .push((Entry::Text(Arc::from(entry)), entry_hash(entry)));
    }

    /// Stage a history entry given as its parts.
    pub fn append_entry(&mut self, entry: Entry) {
        let hash = entry.hash();
        self.store.staging.history.push((entry, hash));
    }

    /// Create a version at commit, after everything else.
    pub fn force_version(&mut self) {
        self.force = true;
    }

    /// Stage a promotion; `Ok(false)` if it would be a no-op (already a
    /// root).
    pub(crate) fn promote_to_root(&mut self) -> Result<bool, EcsError> {
        self.require_no_structural()?;
        let planned = self.store.plan_promote(self.target)?;
        self.structural = planned;
        Ok(planned.is_some())
    }

    /// Stage a detach; `Ok(false)` if it would be a no-op (already an
    /// orphan); `HasChildren` if the target has children.
    pub(crate) fn detach(&mut self) -> Result<bool, EcsError> {
        self.require_no_structural()?;
        let planned = self.store.plan_detach(self.target)?;
        self.structural = planned;
        Ok(planned.is_some())
    }

    fn require_no_structural(&self) -> Result<(), EcsError> {
        if self.structural.is_none() {
            return Ok(());
        }
        Err(EcsError::StructuralAlreadyStaged {
            entity: self.target,
            lineage: self.store.lineage_id(self.target)?,
        })
    }

    /// Apply everything staged, in order: field writes and provenance,
    /// history entries, the structural change, the forced version.
    pub fn commit(mut self) -> Commit {
        let target = self.target;
        let store = &mut *self.store;
        let keep_history = store.retention.history;
        let Store {
            entities, staging, ..
        } = store;
        if let Some(ent) = entities.get_mut(target.0 as usize) {
            for (index, Staged { value, provenance }) in staging.writes.drain(..) {
                ent.write(index, value, provenance);
            }
            for (entry, hash) in staging.history.drain(..) {
                ent.history.push_hashed(entry, hash, keep_history);
            }
        }
        let mut versions = Vec::new();
        if let Some(mv) = self.structural.take() {
            store.apply_move(target, mv, &mut versions);
        }
        if self.force {
            versions.extend(store.force_version(target));
        }
        Commit { versions }
    }
}

impl Drop for Txn<'_> {
    /// The rollback of a transaction that did not commit: what it staged
    /// is forgotten. (After a commit the area is already empty.)
    fn drop(&mut self) {
        let staging = &mut self.store.staging;
        staging.writes.clear();
        staging.history.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::{Placement, Retention, Schema, address};

    fn setup() -> (Store, EntityId, EntityId, EntityId) {
        let mut s = Store::new(
            Retention {
                versions: 8,
                history: 64,
            },
            3,
        );
        let group = s.create(Schema::TestDataEntity, &[]).unwrap();
        let t = s.create(Schema::TestDataEntity, &[]).unwrap();
        let src = s.create(Schema::TestDataSource, &[]).unwrap();
        s.add_child(group, t).unwrap();
        s.append_history(t, "created").unwrap();
        (s, group, t, src)
    }

    /// Everything observable about an entity through the public API.
    fn state(s: &Store, e: EntityId) -> String {
        let schema = s.schema(e).unwrap();
        let fields: Vec<String> = schema
            .fields()
            .iter()
            .map(|(f, _)| format!("{f}={:?}<-{:?}", s.field(e, f).unwrap(), s.provenance(e, f)))
            .collect();
        format!(
            "{fields:?} v={} {:?} h={} {:x} {:?} {:?} {:?}",
            s.version_count(e),
            s.lineage(e),
            s.history_len(e),
            s.history_digest(e),
            s.history_retained(e),
            s.placement(e),
            s.tree_of(e)
        )
    }

    #[test]
    fn dropping_a_transaction_leaves_everything_as_it_was() {
        let (mut s, group, t, src) = setup();
        let before = (state(&s, group), state(&s, t), state(&s, src));
        {
            let mut txn = s.begin(t).unwrap();
            txn.set("counter", Value::Int(9)).unwrap();
            let at = address(txn.current_id(), "text_content");
            txn.put(&at, Value::str("staged")).unwrap();
            txn.borrow_attribute_from(src, "source_data", "data_value")
                .unwrap();
            txn.append_history("staged entry");
            assert!(txn.promote_to_root().unwrap());
            txn.force_version();
            assert_eq!(txn.get("counter").unwrap(), Value::Int(9));
        }
        assert_eq!(before, (state(&s, group), state(&s, t), state(&s, src)));
        assert_eq!(s.check_trees().map(|t| t.children), Ok(1));

        // Nothing the dropped transaction staged reaches the next ones,
        // on another entity or on the same.
        assert!(s.begin(group).unwrap().commit().versions.is_empty());
        assert!(s.begin(t).unwrap().commit().versions.is_empty());
        assert_eq!(before, (state(&s, group), state(&s, t), state(&s, src)));

        // A field staged twice commits its last value.
        let mut txn = s.begin(t).unwrap();
        txn.set("counter", Value::Int(9)).unwrap();
        txn.set("counter", Value::Int(10)).unwrap();
        assert_eq!(txn.get("counter").unwrap(), Value::Int(10));
        txn.commit();
        assert_eq!(s.field(t, "counter").unwrap(), Value::Int(10));
    }

    #[test]
    fn commit_applies_everything_in_order() {
        let (mut s, group, t, src) = setup();
        let src_id = s.current_id(src).unwrap();
        let t_before = s.current_id(t).unwrap();
        let mut txn = s.begin(t).unwrap();
        txn.set("counter", Value::Int(1)).unwrap();
        txn.borrow_attribute_from(src, "source_text", "text_content")
            .unwrap();
        txn.append_history("a");
        txn.append_history("b");
        assert!(txn.detach().unwrap());
        txn.force_version();
        let commit = txn.commit();
        let who: Vec<(EntityId, u64)> = commit
            .versions
            .iter()
            .map(|v| (v.entity, v.number))
            .collect();
        assert_eq!(who, [(t, 2), (group, 2), (t, 3)]);
        assert_eq!(commit.versions[0].previous, t_before);
        assert_eq!(commit.versions[2].previous, commit.versions[0].ecs_id);
        assert_eq!(s.field(t, "counter").unwrap(), Value::Int(1));
        assert_eq!(
            s.field(t, "text_content").unwrap(),
            Value::str("borrowed_content")
        );
        assert_eq!(s.provenance(t, "text_content"), Some(src_id));
        assert_eq!(s.history_len(t), 3);
        assert_eq!(s.placement(t), Placement::Orphan);
        // The structural version already saw the writes and the history.
        let v2 = address(commit.versions[0].ecs_id, "modification_history");
        assert_eq!(s.get(&v2).unwrap(), Value::str_list(&["created", "a", "b"]));
        assert_eq!(s.audit_lineage(t), Ok(()));
    }

    #[test]
    fn an_empty_commit_changes_nothing() {
        let (mut s, _, t, _) = setup();
        let before = state(&s, t);
        let commit = s.begin(t).unwrap().commit();
        assert!(commit.versions.is_empty());
        assert_eq!(before, state(&s, t));
    }

    #[test]
    fn staging_checks_everything_up_front() {
        let (mut s, group, t, src) = setup();
        let current = s.current_id(t).unwrap();
        s.version_entity(t, true).unwrap();
        let newest = s.current_id(t).unwrap();
        let group_id = s.current_id(group).unwrap();
        let mut txn = s.begin(t).unwrap();
        assert_eq!(txn.target(), t);
        assert_eq!(txn.current_id(), newest);
        let err = txn
            .put(&address(current, "counter"), Value::Int(1))
            .unwrap_err();
        assert!(matches!(err, EcsError::StaleVersion { current: c, .. } if c == newest));
        let err = txn
            .put(&address(group_id, "counter"), Value::Int(1))
            .unwrap_err();
        assert_eq!(
            err,
            EcsError::NotTxnTarget {
                used: group_id,
                used_entity: group,
                target: t,
                current: newest
            }
        );
        assert!(err.to_string().contains("#0"), "{err}");
        assert!(matches!(
            txn.set("counter", Value::str("x")),
            Err(EcsError::TypeMismatch { .. })
        ));
        assert!(matches!(
            txn.set("modification_history", Value::str_list(&["x"])),
            Err(EcsError::AppendOnly { .. })
        ));
        assert!(matches!(
            txn.get("nope"),
            Err(EcsError::UnknownField { .. })
        ));
        assert!(matches!(
            txn.borrow_attribute_from(src, "source_values", "counter"),
            Err(EcsError::TypeMismatch { .. })
        ));
        assert!(matches!(
            txn.put("@x.counter", Value::Int(1)),
            Err(EcsError::BadUuid { .. })
        ));
        txn.append_history("staged");
        assert_eq!(
            txn.get("modification_history").unwrap(),
            Value::str_list(&["created", "staged"])
        );
        assert!(txn.promote_to_root().unwrap());
        let err = txn.detach().unwrap_err();
        assert!(
            matches!(err, EcsError::StructuralAlreadyStaged { .. }),
            "{err}"
        );
        drop(txn);

        let mut txn = s.begin(group).unwrap();
        assert!(matches!(txn.detach(), Err(EcsError::HasChildren { .. })));
        assert_eq!(txn.promote_to_root(), Ok(false), "already a root");
        assert!(txn.commit().versions.is_empty());
    }

    #[test]
    fn complex_update_sequence_commits_atomically() {
        let (mut s, _, t, _) = setup();
        let mut txn = s.begin(t).unwrap();
        let counter = txn.get("counter").unwrap().as_int().unwrap() + 1;
        txn.set("counter", Value::Int(counter)).unwrap();
        txn.set("data_value", Value::Float(0.5)).unwrap();
        txn.set("text_content", Value::str(&format!("Updated_{counter}_0")))
            .unwrap();
        let vc = txn.get("version_count").unwrap().as_int().unwrap() + 1;
        txn.set("version_count", Value::Int(vc)).unwrap();
        txn.append_history("complex_update");
        txn.force_version();
        let commit = txn.commit();
        assert_eq!(commit.versions.len(), 1);
        assert_eq!(s.field(t, "counter").unwrap(), Value::Int(1));
        assert_eq!(s.field(t, "version_count").unwrap(), Value::Int(1));
        assert_eq!(
            s.field(t, "text_content").unwrap(),
            Value::str("Updated_1_0")
        );
        assert_eq!(
            s.version_entity(t, false).unwrap(),
            None,
            "the forced version saw it all"
        );
    }

    #[test]
    fn borrowing_from_the_target_itself_reads_staged_values() {
        let (mut s, _, t, _) = setup();
        let own = s.current_id(t).unwrap();
        let mut txn = s.begin(t).unwrap();
        txn.set("name", Value::str("staged name")).unwrap();
        let v = txn
            .borrow_attribute_from(t, "name", "text_content")
            .unwrap();
        assert_eq!(v, Value::str("staged name"));
        txn.commit();
        assert_eq!(
            s.field(t, "text_content").unwrap(),
            Value::str("staged name")
        );
        assert_eq!(s.provenance(t, "text_content"), Some(own));
    }
}
