//! The store digest: one fingerprint of everything the store holds.

use std::hash::{Hash, Hasher as _};

use rustc_hash::FxHasher;
use uuid::Uuid;

use crate::ecs::{EntityId, HISTORY_DIGEST_SEED, Placement, Store, combine, mix64};

/// The digest of everything the store holds: per entity its schema,
/// lineage, current version, lineage length, history (length and digest),
/// placement in its tree, and every field with its provenance.
pub(crate) fn store_digest(store: &Store) -> u64 {
    let mut acc = HISTORY_DIGEST_SEED;
    for i in 0..store.len() {
        let e = EntityId(i as u32);
        let Ok(ent) = store.entity(e) else {
            continue;
        };
        // Hashed field by field, not formatted: at 100,000 targets the
        // text lines this once wrote cost more than the run's checks.
        let mut h = FxHasher::default();
        h.write_usize(i);
        ent.schema.hash(&mut h);
        for id in [store.lineage_id(e).ok(), store.current_id(e).ok()] {
            hash_id(&mut h, id);
        }
        h.write_u64(store.version_count(e));
        h.write_u64(store.history_len(e));
        h.write_u64(store.history_digest(e));
        match store.placement(e) {
            Placement::Root { children } => {
                h.write_u8(0);
                h.write_usize(children);
            }
            Placement::Child { parent, root } => {
                h.write_u8(1);
                h.write_u32(parent.0);
                h.write_u32(root.0);
            }
            Placement::Orphan => h.write_u8(2),
        }
        let history = ent.schema.history_index();
        for (index, provenance) in ent.provenance.all(ent.fields.len()).enumerate() {
            if Some(index) == history {
                // The history field reads the retained entries.
                for entry in ent.history.retained() {
                    h.write_usize(entry.len());
                    h.write(entry.as_bytes());
                }
            } else {
                ent.fields.hash_field(&mut h, index);
            }
            hash_id(&mut h, provenance);
        }
        acc = combine(acc, mix64(h.finish()));
    }
    acc
}

fn hash_id(h: &mut FxHasher, id: Option<Uuid>) {
    match id {
        Some(id) => {
            h.write_u8(1);
            h.write_u128(id.as_u128());
        }
        None => h.write_u8(0),
    }
}
