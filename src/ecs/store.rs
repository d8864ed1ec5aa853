//! The store: entities, their live state, their versions and lineage.
//!
//! ```text
//!             live state                      retained snapshots (window)
//!   entity ┬─ fields: Arc<record> ───┐     v(n-2)   v(n-1)   v(n) = latest
//!          ├─ provenance: borrowed   ├──── Arc ──── Arc ──── Arc   (shared
//!          ├─ history: append-only log        + history length    until a
//!          └─ tree links                      + content hash      write)
//! ```
//!
//! A version is a snapshot of the live field block, the live provenance
//! and the history *length*. Creating one clones two `Arc`s and
//! hashes a handful of fields, whatever the number of earlier versions or
//! the length of the history; the first write after it pays for one copy of
//! the (small) field block through `Arc::make_mut`. Snapshots are therefore
//! immutable by construction: nothing ever writes through a shared `Arc`.
//!
//! Versions beyond `Retention.versions` are dropped from the front, history
//! entries beyond `Retention.history` likewise (see `history.rs`); the
//! lineage length and the history length and digest stay exact. Version ids
//! encode `(entity, number)` (see `ids.rs`), so an id resolves without a
//! lookup table and an evicted id is still recognised as evicted.
//!
//! `version_entity` without force compares the live state with the latest
//! snapshot (pointer-equal blocks short-circuit) and creates nothing when
//! they agree: a version is never reported for an unchanged entity.
//!
//! ## Bytes per entity
//!
//! A run may hold a million targets, so what an entity costs is a design
//! constraint. An entity is one `Entity` record in a dense `Vec` (the
//! latest snapshot inline, the tree links as `u32`s), plus one heap block:
//! its field block (80 bytes of typed record for a `TestDataEntity`, see
//! `fields.rs`). Everything else starts shared or empty: the schema's
//! default values (empty strings and lists, the source's list and map) are
//! allocated once per store and cloned by reference; provenance takes a
//! block only once a field is borrowed, and then one slot per borrowed
//! field; the lineage and current ids are computed from
//! `(entity, number)` (see `ids.rs`), so no id map exists; older versions
//! and history entries allocate only when there are some, and exactly to
//! the retention window.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use uuid::Uuid;

use super::address::Address;
use super::entry::Entry;
use super::error::EcsError;
use super::fields::{Fields, Provenance};
use super::history::HistoryLog;
use super::ids::IdCodec;
use super::tree::Node;
use super::txn::Staging;
use super::value::{MAX_FIELDS, Schema, Value};

mod entity;

pub(crate) use self::entity::{Entity, Snapshot};

/// Dense handle of an entity (its lineage) inside one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId(pub u32);

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Retention windows: how many version snapshots and history entries are
/// kept per entity. Counts and digests stay exact beyond them.
///
/// At least one version (the latest) is always kept, whatever `versions`
/// says; `history` may be 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub versions: usize,
    pub history: usize,
}

/// A version that was just created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionCreated {
    pub entity: EntityId,
    pub ecs_id: Uuid,
    pub previous: Uuid,
    /// 1-based position in the lineage (the initial version is 1).
    pub number: u64,
}

/// The outcome of a structural request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Structural {
    /// Nothing to do (already a root / already an orphan).
    NoOp,
    /// The structure changed; the versions this created, moved entity first.
    Changed { versions: Vec<VersionCreated> },
}

/// The versioned entity store. See the module documentation.
pub struct Store {
    /// Effective windows (`versions` >= 1).
    pub(crate) retention: Retention,
    pub(crate) ids: IdCodec,
    pub(crate) entities: Vec<Entity>,
    /// What the open transaction has staged (see `txn.rs`).
    pub(crate) staging: Staging,
    /// Per schema, the shared starting state of a new entity.
    blanks: [Blank; 2],
}

/// What every new entity of one schema starts from, allocated once per
/// store: its defaults, whose strings, lists and maps a new entity's own
/// field block (the one allocation it needs) shares by reference. A new
/// entity has no provenance block until a borrow records one.
struct Blank {
    /// The schema's defaults; a new entity's timestamp is its creation
    /// time.
    fields: Fields,
}

impl Blank {
    fn new(schema: Schema) -> Blank {
        let fields = schema.defaults(chrono::DateTime::UNIX_EPOCH);
        Blank {
            fields: Fields::from_values(schema, fields),
        }
    }
}

fn blank_index(schema: Schema) -> usize {
    match schema {
        Schema::TestDataEntity => 0,
        Schema::TestDataSource => 1,
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("retention", &self.retention)
            .field("entities", &self.entities.len())
            .finish_non_exhaustive()
    }
}

/// A borrow, checked and ready to apply.
pub(crate) struct BorrowPlan {
    pub(crate) target_index: usize,
    pub(crate) value: Value,
    pub(crate) provenance: Uuid,
}

impl Store {
    /// An empty store; all ids derive from `seed`.
    pub fn new(retention: Retention, seed: u64) -> Store {
        let ids = IdCodec::new(&mut SmallRng::seed_from_u64(seed));
        Store {
            retention: Retention {
                versions: retention.versions.max(1),
                history: retention.history,
            },
            ids,
            entities: Vec::new(),
            staging: Staging::default(),
            blanks: [
                Blank::new(Schema::TestDataEntity),
                Blank::new(Schema::TestDataSource),
            ],
        }
    }

    /// Make room for `additional` more entities, exactly (setup knows how
    /// many it creates).
    pub fn reserve(&mut self, additional: usize) {
        self.entities.reserve_exact(additional);
    }

    #[cfg(test)]
    /// The effective retention windows.
    pub(crate) fn retention(&self) -> Retention {
        self.retention
    }

    /// Create an entity with the schema's defaults, overridden by `fields`
    /// (type-checked). Creates version 1; the entity starts as an orphan.
    ///
    /// Defaults: TestDataEntity name "test_entity", counter 0, data_value
    /// 0.0, text_content "", timestamp = now, version_count 0, borrow_count
    /// 0, modification_history []. TestDataSource: source_name
    /// "data_source", source_counter 100, source_data 99.99, source_text
    /// "borrowed_content", source_values [1,2,3,4,5], source_metadata {type:
    /// source, quality: high}. A given `modification_history` becomes the
    /// initial entries of the history log.
    pub fn create(
        &mut self,
        schema: Schema,
        fields: &[(&str, Value)],
    ) -> Result<EntityId, EcsError> {
        let index = u32::try_from(self.entities.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .ok_or(EcsError::TooManyEntities {
                max: u32::MAX as usize,
            })?;
        let blank = &self.blanks[blank_index(schema)];
        let now = Utc::now();
        // Built in its final allocation: setup creates a million of these.
        let mut values = blank.fields.dated(now);
        let mut given = [false; MAX_FIELDS];
        let mut initial_history: &[Value] = &[];
        for (name, value) in fields {
            let i = schema.require_field(name)?;
            if given[i] {
                return Err(EcsError::DuplicateField {
                    schema,
                    field: schema.fields()[i].0,
                });
            }
            given[i] = true;
            schema.check_type(i, value)?;
            match value {
                Value::List(items) if Some(i) == schema.history_index() => initial_history = items,
                _ => {
                    let written = values.set(i, value.clone());
                    debug_assert!(written, "a checked value of field {i} was refused");
                }
            }
        }

        let entity = EntityId(index);
        let mut history = HistoryLog::new();
        for item in initial_history {
            if let Value::Str(s) = item {
                history.push(Entry::Text(Arc::clone(s)), self.retention.history);
            }
        }
        let provenance = Provenance::default();
        let ecs_id = self.ids.encode(entity, 1);
        let latest = Snapshot::new(
            ecs_id,
            Uuid::nil(),
            values.clone(),
            provenance.clone(),
            history.len(),
        );
        self.entities.push(Entity {
            schema,
            fields: values,
            provenance,
            history,
            latest,
            older: VecDeque::new(),
            version_count: 1,
            node: Node::default(),
        });
        Ok(entity)
    }

    /// Number of entities.
    pub(crate) fn len(&self) -> usize {
        self.entities.len()
    }

    #[cfg(test)]
    /// Whether the store holds no entity.
    pub(crate) fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Ask for `e`'s record ahead of an op on it (no-op for an unknown
    /// id): see [`crate::prefetch`].
    pub fn prefetch(&self, e: EntityId) {
        if let Some(entity) = self.entities.get(e.0 as usize) {
            crate::prefetch::read(entity);
        }
    }

    /// Ask for what a commit on `e` writes besides its record, which
    /// [`Store::prefetch`] should have asked for a little earlier.
    pub fn prefetch_blocks(&self, e: EntityId) {
        if let Some(entity) = self.entities.get(e.0 as usize) {
            entity.prefetch_blocks();
        }
    }

    /// The last stage: what the blocks [`Store::prefetch_blocks`] asked
    /// for point to.
    pub fn prefetch_oldest(&self, e: EntityId) {
        if let Some(entity) = self.entities.get(e.0 as usize) {
            entity.prefetch_oldest();
        }
    }

    pub(crate) fn entity(&self, e: EntityId) -> Result<&Entity, EcsError> {
        self.entities
            .get(e.0 as usize)
            .ok_or(EcsError::UnknownEntityId {
                entity: e,
                len: self.entities.len(),
            })
    }

    pub(crate) fn entity_mut(&mut self, e: EntityId) -> Result<&mut Entity, EcsError> {
        let len = self.entities.len();
        self.entities
            .get_mut(e.0 as usize)
            .ok_or(EcsError::UnknownEntityId { entity: e, len })
    }

    /// The entity's schema.
    pub(crate) fn schema(&self, e: EntityId) -> Result<Schema, EcsError> {
        Ok(self.entity(e)?.schema)
    }

    /// The entity's stable lineage id.
    pub fn lineage_id(&self, e: EntityId) -> Result<Uuid, EcsError> {
        self.entity(e)?;
        Ok(self.ids.lineage(e))
    }

    #[cfg(test)]
    /// The entity whose lineage id this is.
    pub(crate) fn entity_of_lineage(&self, lineage: Uuid) -> Option<EntityId> {
        match self.ids.decode(lineage)? {
            (e, 0) if (e.0 as usize) < self.entities.len() => Some(e),
            _ => None,
        }
    }

    /// The id of the entity's current (latest) version.
    pub fn current_id(&self, e: EntityId) -> Result<Uuid, EcsError> {
        Ok(self.entity(e)?.current(e, &self.ids))
    }

    /// `(entity, version number)` of a version id this store issued and
    /// still exists (retained or evicted), else `UnknownEntity`.
    pub(crate) fn decode_known(&self, ecs_id: Uuid) -> Result<(EntityId, u64), EcsError> {
        self.ids
            .decode(ecs_id)
            .filter(|&(e, n)| {
                self.entities
                    .get(e.0 as usize)
                    .is_some_and(|ent| n >= 1 && n <= ent.version_count)
            })
            .ok_or(EcsError::UnknownEntity { ecs_id })
    }

    /// `(entity, version number)` of a retained version.
    pub fn resolve_id(&self, ecs_id: Uuid) -> Option<(EntityId, u64)> {
        let (e, n) = self.decode_known(ecs_id).ok()?;
        let ent = self.entities.get(e.0 as usize)?;
        (n >= ent.oldest_retained()).then_some((e, n))
    }

    /// The live value of a field (a cheap clone).
    pub fn field(&self, e: EntityId, name: &str) -> Result<Value, EcsError> {
        let ent = self.entity(e)?;
        Ok(ent.live_value(ent.schema.require_field(name)?))
    }

    /// The ecs_id the live field was borrowed from, if it was.
    pub fn provenance(&self, e: EntityId, field: &str) -> Option<Uuid> {
        let ent = self.entity(e).ok()?;
        let index = ent.schema.field_index(field)?;
        ent.provenance.get(index)
    }

    /// History entries ever appended (0 for an unknown entity).
    pub fn history_len(&self, e: EntityId) -> u64 {
        self.entity(e).map_or(0, |ent| ent.history.len())
    }

    /// Digest over every history entry ever appended, dropped or retained
    /// (the seed for an unknown entity). Fold the expected entries with
    /// [`crate::ecs::history_digest_step`] to compare.
    pub fn history_digest(&self, e: EntityId) -> u64 {
        self.entity(e)
            .map_or(super::HISTORY_DIGEST_SEED, |ent| ent.history.digest())
    }

    /// The retained history entries, oldest first.
    pub fn history_retained(&self, e: EntityId) -> Vec<Arc<str>> {
        self.entity(e)
            .map(|ent| ent.history.retained_arcs().collect())
            .unwrap_or_default()
    }

    /// Lineage length: versions ever created (the initial one is 1; 0 for
    /// an unknown entity).
    pub fn version_count(&self, e: EntityId) -> u64 {
        self.entity(e).map_or(0, |ent| ent.version_count)
    }

    /// The retained version ids, oldest first: a suffix of the lineage.
    pub fn lineage(&self, e: EntityId) -> Vec<Uuid> {
        self.entity(e)
            .map(|ent| {
                (ent.oldest_retained()..=ent.version_count)
                    .map(|n| self.ids.encode(e, n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Turn the live state into a new version. Without `force`, only when
    /// it differs from the latest version (`Ok(None)` otherwise).
    pub fn version_entity(
        &mut self,
        e: EntityId,
        force: bool,
    ) -> Result<Option<VersionCreated>, EcsError> {
        let keep = self.retention.versions;
        let len = self.entities.len();
        let Store { entities, ids, .. } = self;
        let ent = entities
            .get_mut(e.0 as usize)
            .ok_or(EcsError::UnknownEntityId { entity: e, len })?;
        if !force && ent.unchanged() {
            return Ok(None);
        }
        Ok(Some(ent.push_version(e, ids, keep)))
    }

    /// Create a version unconditionally (the caller checked `e`).
    pub(crate) fn force_version(&mut self, e: EntityId) -> Option<VersionCreated> {
        let keep = self.retention.versions;
        let Store { entities, ids, .. } = self;
        let ent = entities.get_mut(e.0 as usize)?;
        Some(ent.push_version(e, ids, keep))
    }

    /// Append an entry to the entity's history. Every entity keeps a log;
    /// a `TestDataEntity` shows it as its `modification_history` field.
    pub fn append_history(&mut self, e: EntityId, entry: &str) -> Result<(), EcsError> {
        let keep = self.retention.history;
        self.entity_mut(e)?
            .history
            .push(Entry::Text(Arc::from(entry)), keep);
        Ok(())
    }

    /// Read `@<ecs_id>.<field>`: the live value through the current id, the
    /// historical value through an older retained id.
    pub fn get(&self, address: &str) -> Result<Value, EcsError> {
        let addr = Address::parse(address)?;
        let (e, number) = self.decode_known(addr.ecs_id)?;
        let ent = self.entity(e)?;
        let index = ent.schema.require_field(addr.field)?;
        if number == ent.version_count {
            return Ok(ent.live_value(index));
        }
        match ent.snapshot(number) {
            Some(snapshot) => Ok(ent.snapshot_value(snapshot, index)),
            None => Err(EcsError::VersionEvicted {
                ecs_id: addr.ecs_id,
                lineage: self.ids.lineage(e),
                number,
                oldest_retained: ent.oldest_retained(),
            }),
        }
    }

    /// The stale-version check: `ecs_id` must name `e`'s current version.
    pub(crate) fn require_current(
        &self,
        e: EntityId,
        ecs_id: Uuid,
        number: u64,
    ) -> Result<(), EcsError> {
        let ent = self.entity(e)?;
        if number == ent.version_count {
            Ok(())
        } else {
            Err(EcsError::StaleVersion {
                used: ecs_id,
                current: ent.current(e, &self.ids),
                lineage: self.ids.lineage(e),
            })
        }
    }

    /// Write `@<ecs_id>.<field>` in the live state; only through the
    /// current id (else `StaleVersion`, naming the current one).
    pub fn put(&mut self, address: &str, value: Value) -> Result<(), EcsError> {
        let addr = Address::parse(address)?;
        let (e, number) = self.decode_known(addr.ecs_id)?;
        self.require_current(e, addr.ecs_id, number)?;
        let ent = self.entity(e)?;
        let index = ent.schema.require_field(addr.field)?;
        ent.check_writable(e, &self.ids, index, &value)?;
        self.entity_mut(e)?.write(index, value, None);
        Ok(())
    }

    /// Check a borrow of `source.source_field` into `target.target_field`.
    pub(crate) fn plan_borrow(
        &self,
        target: EntityId,
        source: EntityId,
        source_field: &str,
        target_field: &str,
    ) -> Result<BorrowPlan, EcsError> {
        let src = self.entity(source)?;
        let tgt = self.entity(target)?;
        let source_index = src.schema.require_field(source_field)?;
        let target_index = tgt.schema.require_field(target_field)?;
        let value = src.live_value(source_index);
        let (field, expected) = tgt.schema.fields()[target_index];
        let got = src.schema.fields()[source_index].1;
        if Some(target_index) == tgt.schema.history_index() {
            return Err(EcsError::AppendOnly {
                entity: target,
                lineage: self.ids.lineage(target),
                field,
            });
        }
        if got != expected {
            return Err(EcsError::TypeMismatch {
                schema: tgt.schema,
                field,
                expected,
                got,
            });
        }
        Ok(BorrowPlan {
            target_index,
            value,
            provenance: src.current(source, &self.ids),
        })
    }

    /// Copy `source.source_field` into `target.target_field` (types must
    /// match) and record the source's current ecs_id as the field's
    /// provenance. Returns the value copied.
    pub fn borrow_attribute_from(
        &mut self,
        target: EntityId,
        source: EntityId,
        source_field: &str,
        target_field: &str,
    ) -> Result<Value, EcsError> {
        let plan = self.plan_borrow(target, source, source_field, target_field)?;
        let ent = self.entity_mut(target)?;
        ent.write(plan.target_index, plan.value.clone(), Some(plan.provenance));
        Ok(plan.value)
    }
}

#[cfg(test)]
mod tests;
