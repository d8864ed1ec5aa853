//! The versioned entity store (API skeleton; bodies to be implemented).
//!
//! PUBLIC API CONTRACT — other modules are written against exactly these
//! names and signatures. Internals (submodules, representation) are free.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A typed field value. Cloning is cheap (strings and collections are shared).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Time(DateTime<Utc>),
    /// A list; the schema fixes the element type (int or str).
    List(Arc<[Value]>),
    /// A map of str → str.
    Map(Arc<BTreeMap<String, String>>),
}

/// The type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Int,
    Float,
    Str,
    Time,
    IntList,
    StrList,
    StrMap,
}

/// The two schemas the workload uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// name, counter, data_value, text_content, timestamp, version_count,
    /// borrow_count, modification_history
    TestDataEntity,
    /// source_name, source_counter, source_data, source_text, source_values,
    /// source_metadata
    TestDataSource,
}

/// Dense handle of an entity (its lineage) inside one store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId(pub u32);

/// Retention windows: how many version snapshots and history entries are
/// kept per entity. Counts and digests stay exact beyond them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub versions: usize,
    pub history: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EcsError {
    #[error("todo")]
    Todo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionCreated {
    pub entity: EntityId,
    pub ecs_id: Uuid,
    pub previous: Uuid,
    /// 1-based position in the lineage (the initial version is 1).
    pub number: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Structural {
    NoOp,
    Changed { versions: Vec<VersionCreated> },
}

pub struct Store;

pub struct Txn<'s> {
    _s: &'s mut Store,
}

pub struct Commit {
    pub versions: Vec<VersionCreated>,
}

pub const HISTORY_DIGEST_SEED: u64 = 0;

pub fn history_digest_step(_acc: u64, _entry: &str) -> u64 {
    todo!()
}
