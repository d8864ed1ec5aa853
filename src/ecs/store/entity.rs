//! One entity of the store: its live state, its retained snapshots and
//! its tree links (see the store's module documentation).

use std::collections::VecDeque;
use std::hash::Hasher;

use rustc_hash::FxHasher;
use uuid::Uuid;

use super::{EntityId, VersionCreated};
use crate::ecs::error::EcsError;
use crate::ecs::fields::{Fields, Provenance};
use crate::ecs::history::HistoryLog;
use crate::ecs::ids::IdCodec;
use crate::ecs::tree::Node;
use crate::ecs::value::{HISTORY_FIELD, Schema, Value};

/// One immutable version.
///
/// Its ids are not stored: a version's `ecs_id` and `previous_ecs_id` are
/// derived from its entity and number ([`IdCodec::version`]), 32 bytes
/// less in every snapshot of a million entities. The content hash taken
/// at creation covers them, so a snapshot found at another number than
/// its own fails the audit as surely as one whose fields changed.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) fields: Fields,
    pub(crate) provenance: Provenance,
    /// Length of the history when the version was made (its prefix).
    pub(crate) history_len: u64,
    /// Content hash taken at creation; audits recompute and compare it.
    pub(crate) hash: u64,
}

impl Snapshot {
    pub(super) fn new(
        ecs_id: Uuid,
        previous: Uuid,
        fields: Fields,
        provenance: Provenance,
        history_len: u64,
    ) -> Snapshot {
        let mut s = Snapshot {
            fields,
            provenance,
            history_len,
            hash: 0,
        };
        s.hash = s.content_hash(ecs_id, previous);
        s
    }

    /// The hash of the content, as the version with these ids.
    pub(crate) fn content_hash(&self, ecs_id: Uuid, previous: Uuid) -> u64 {
        let mut h = FxHasher::default();
        h.write_u128(ecs_id.as_u128());
        h.write_u128(previous.as_u128());
        self.fields.hash_all(&mut h);
        for p in self.provenance.all(self.fields.len()) {
            match p {
                Some(id) => {
                    h.write_u8(1);
                    h.write_u128(id.as_u128());
                }
                None => h.write_u8(0),
            }
        }
        h.write_u64(self.history_len);
        h.finish()
    }
}

/// One entity: its lineage, live state, versions and tree links.
#[derive(Clone, Debug)]
pub(crate) struct Entity {
    pub(crate) schema: Schema,
    pub(crate) fields: Fields,
    pub(crate) provenance: Provenance,
    /// Every entity keeps a log; `TestDataEntity` exposes it as its
    /// `modification_history` field.
    pub(crate) history: HistoryLog,
    /// The latest version, kept inline: most entities of a large run have
    /// one or two versions, and a heap block per entity for the first
    /// would cost its allocator overhead a million times.
    pub(crate) latest: Snapshot,
    /// The other retained snapshots, oldest first (at most
    /// `Retention.versions - 1`; no allocation until the second version).
    pub(crate) older: VecDeque<Snapshot>,
    /// Versions ever created (the lineage length).
    pub(crate) version_count: u64,
    pub(crate) node: Node,
}

impl Entity {
    /// Ask for what a commit on this entity writes beyond the record
    /// itself, which must be cached already (see [`crate::prefetch`]):
    /// its field block, its history's ends, and the oldest snapshot a new
    /// version drops (whose field block [`Entity::prefetch_oldest`] asks
    /// for once the snapshot is cached).
    pub(crate) fn prefetch_blocks(&self) {
        self.fields.prefetch();
        self.history.prefetch();
        if let Some(oldest) = self.older.front() {
            crate::prefetch::read(oldest);
        }
    }

    /// Ask for the field block of the oldest snapshot, which
    /// [`Entity::prefetch_blocks`] should have brought in a little earlier.
    pub(crate) fn prefetch_oldest(&self) {
        if let Some(oldest) = self.older.front() {
            oldest.fields.prefetch();
        }
    }

    /// Retained versions (the latest included).
    pub(crate) fn retained_versions(&self) -> usize {
        self.older.len() + 1
    }

    /// The retained snapshots, oldest first.
    pub(crate) fn versions(&self) -> impl Iterator<Item = &Snapshot> {
        self.older.iter().chain(std::iter::once(&self.latest))
    }

    /// Number of the oldest retained version.
    pub(crate) fn oldest_retained(&self) -> u64 {
        self.version_count + 1 - self.retained_versions() as u64
    }

    /// The retained snapshot with this number, if retained.
    pub(crate) fn snapshot(&self, number: u64) -> Option<&Snapshot> {
        let index = usize::try_from(number.checked_sub(self.oldest_retained())?).ok()?;
        match index.cmp(&self.older.len()) {
            std::cmp::Ordering::Less => self.older.get(index),
            std::cmp::Ordering::Equal => Some(&self.latest),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// Mutable access to a retained snapshot (for the audit's tests and
    /// fault hooks).
    pub(crate) fn snapshot_mut(&mut self, number: u64) -> Option<&mut Snapshot> {
        let index = usize::try_from(number.checked_sub(self.oldest_retained())?).ok()?;
        match index.cmp(&self.older.len()) {
            std::cmp::Ordering::Less => self.older.get_mut(index),
            std::cmp::Ordering::Equal => Some(&mut self.latest),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// Live value of field `index` (the history field reads the retained
    /// log).
    pub(crate) fn live_value(&self, index: usize) -> Value {
        if Some(index) == self.schema.history_index() {
            return Value::List(self.history.retained_arcs().map(Value::Str).collect());
        }
        self.fields.get(index)
    }

    /// Value of field `index` in a retained snapshot.
    pub(super) fn snapshot_value(&self, snapshot: &Snapshot, index: usize) -> Value {
        if Some(index) == self.schema.history_index() {
            return Value::List(
                self.history
                    .retained_prefix(snapshot.history_len)
                    .map(Value::Str)
                    .collect(),
            );
        }
        snapshot.fields.get(index)
    }

    /// The id of the latest version.
    pub(crate) fn current(&self, entity: EntityId, ids: &IdCodec) -> Uuid {
        ids.encode(entity, self.version_count)
    }

    /// Check that `value` may be written to field `index` of this entity.
    pub(crate) fn check_writable(
        &self,
        entity: EntityId,
        ids: &IdCodec,
        index: usize,
        value: &Value,
    ) -> Result<(), EcsError> {
        if Some(index) == self.schema.history_index() {
            return Err(EcsError::AppendOnly {
                entity,
                lineage: ids.lineage(entity),
                field: HISTORY_FIELD,
            });
        }
        self.schema.check_type(index, value)
    }

    /// Write a checked value; `provenance` is the id it was borrowed from.
    pub(crate) fn write(&mut self, index: usize, value: Value, provenance: Option<Uuid>) {
        let written = self.fields.set(index, value);
        debug_assert!(written, "a checked write of field {index} was refused");
        self.provenance.set(index, provenance);
    }

    /// Whether the live state equals the latest snapshot.
    pub(super) fn unchanged(&self) -> bool {
        let latest = &self.latest;
        latest.history_len == self.history.len()
            && latest.fields.same(&self.fields)
            && (latest.provenance.ptr_eq(&self.provenance) || latest.provenance == self.provenance)
    }

    /// Snapshot the live state as the next version, dropping the oldest
    /// beyond `keep`.
    ///
    /// The oldest is dropped *before* the push, and the window of older
    /// versions grows by doubling but never past `keep - 1`: with a million
    /// entities, the slack of an amortised `VecDeque` (room for 4 where 1
    /// is kept) would be a sizeable share of the store.
    pub(crate) fn push_version(
        &mut self,
        entity: EntityId,
        ids: &IdCodec,
        keep: usize,
    ) -> VersionCreated {
        let number = self.version_count + 1;
        let ecs_id = ids.encode(entity, number);
        let previous = self.current(entity, ids);
        let snapshot = Snapshot::new(
            ecs_id,
            previous,
            self.fields.clone(),
            self.provenance.clone(),
            self.history.len(),
        );
        let before = std::mem::replace(&mut self.latest, snapshot);
        let keep_older = keep.saturating_sub(1);
        if keep_older > 0 {
            while self.older.len() >= keep_older {
                self.older.pop_front();
            }
            let len = self.older.len();
            if len == self.older.capacity() {
                let room = (len * 2).clamp(1, keep_older);
                self.older.reserve_exact(room - len);
            }
            self.older.push_back(before);
        }
        self.version_count = number;
        VersionCreated {
            entity,
            ecs_id,
            previous,
            number,
        }
    }
}
