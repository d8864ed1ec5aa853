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
//! Staged field writes live in a fixed array indexed by field position (no
//! allocation); history entries are hashed as they are staged. At commit
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
use super::error::EcsError;
use super::store::{EntityId, Store, VersionCreated};
use super::tree::Move;
use super::value::{MAX_FIELDS, Value};

/// A staged field write.
#[derive(Clone, Debug)]
struct Staged {
    value: Value,
    provenance: Option<Uuid>,
}

/// A transaction on one target entity. Writes are staged; nothing is
/// visible until [`Txn::commit`]; dropping it rolls back.
#[derive(Debug)]
#[must_use = "a transaction does nothing unless committed"]
pub struct Txn<'s> {
    store: &'s mut Store,
    target: EntityId,
    current: Uuid,
    writes: [Option<Staged>; MAX_FIELDS],
    history: Vec<(Arc<str>, u64)>,
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
        let current = self.entity(target)?.current;
        Ok(Txn {
            store: self,
            target,
            current,
            writes: [const { None }; MAX_FIELDS],
            history: Vec::new(),
            structural: None,
            force: false,
        })
    }
}

impl<'s> Txn<'s> {
    /// The target entity.
    pub fn target(&self) -> EntityId {
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
                .retained()
                .chain(self.history.iter().map(|(e, _)| e));
            return Ok(Value::List(entries.cloned().map(Value::Str).collect()));
        }
        match &self.writes[index] {
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
        ent.check_writable(self.target, index, &value)?;
        self.writes[index] = Some(Staged {
            value,
            provenance: None,
        });
        Ok(())
    }

    /// Stage a borrow of `source.source_field` into the target's
    /// `target_field`, with its provenance. Returns the value copied.
    pub fn borrow_attribute_from(
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
        self.writes[plan.target_index] = Some(Staged {
            value: value.clone(),
            provenance: Some(plan.provenance),
        });
        Ok(value)
    }

    /// Stage a history entry.
    pub fn append_history(&mut self, entry: &str) {
        self.history.push((Arc::from(entry), entry_hash(entry)));
    }

    /// Create a version at commit, after everything else.
    pub fn force_version(&mut self) {
        self.force = true;
    }

    /// Stage a promotion; `Ok(false)` if it would be a no-op (already a
    /// root).
    pub fn promote_to_root(&mut self) -> Result<bool, EcsError> {
        self.require_no_structural()?;
        let planned = self.store.plan_promote(self.target)?;
        self.structural = planned;
        Ok(planned.is_some())
    }

    /// Stage a detach; `Ok(false)` if it would be a no-op (already an
    /// orphan); `HasChildren` if the target has children.
    pub fn detach(&mut self) -> Result<bool, EcsError> {
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
            lineage: self.store.entity(self.target)?.lineage,
        })
    }

    /// Apply everything staged, in order: field writes and provenance,
    /// history entries, the structural change, the forced version.
    pub fn commit(self) -> Commit {
        let Txn {
            store,
            target,
            writes,
            history,
            structural,
            force,
            ..
        } = self;
        let keep_history = store.retention.history;
        if let Ok(ent) = store.entity_mut(target) {
            for (index, staged) in writes.into_iter().enumerate() {
                if let Some(Staged { value, provenance }) = staged {
                    ent.write(index, value, provenance);
                }
            }
            for (entry, hash) in history {
                ent.history.push_hashed(entry, hash, keep_history);
            }
        }
        let mut versions = Vec::new();
        if let Some(mv) = structural {
            store.apply_move(target, mv, &mut versions);
        }
        if force {
            versions.extend(store.force_version(target));
        }
        Commit { versions }
    }
}
