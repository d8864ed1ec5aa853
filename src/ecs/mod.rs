//! The versioned entity store.
//!
//! Everything the workload does to an entity goes through [`Store`]: typed
//! fields checked against a [`Schema`], immutable versions chained by
//! `previous_ecs_id`, an append-only `modification_history`, trees of
//! entities, borrowing with provenance, the `@<uuid>.<field>` address API,
//! and transactions that apply all of an operation's effects or none.
//!
//! The representation is chosen for a harness pushing on the order of a
//! million operations a second through one store:
//!
//! - entities are dense (`EntityId(u32)` indexes a `Vec`);
//! - live fields are one shared block (a typed record for
//!   `TestDataEntity`, see `fields.rs`), copied on write, so a version
//!   snapshot is an `Arc` clone and costs the same after ten versions or ten
//!   million, with a history of ten entries or a million;
//! - history is an append-only log per entity; a version records only the
//!   length it saw;
//! - only a window of versions and history entries is retained
//!   ([`Retention`]), while lineage length, history length and the history
//!   digest stay exact, so memory stays bounded over any run;
//! - version ids are a keyed permutation of `(entity, number)` (seeded, so
//!   runs are reproducible), which resolves any id, retained or evicted, in
//!   a few nanoseconds without a table; a lineage id is the code of
//!   version number 0; a snapshot stores neither its id nor its
//!   predecessor's, which its entity and number give;
//! - what every new entity shares (defaults, the empty provenance) is
//!   allocated once per store, so a million untouched entities cost a
//!   record and a field block each (see `store.rs`).
//!
//! Submodules: `value` (values, types, schemas), `fields`, `address`, `ids`,
//! `digest`, `entry` and `history` (the log, its entries and its digest), `store` (entities and
//! versions), `tree`, `txn`, `audit` (integrity checks), `error`.

mod address;
mod audit;
pub(crate) mod digest;
mod entry;
mod error;
mod fields;
mod history;
mod ids;
mod store;
mod tree;
mod txn;
mod value;

pub use address::{Address, address};
pub use digest::{HISTORY_DIGEST_SEED, history_digest_step};
pub(crate) use digest::{combine, mix64};
pub use entry::{Arg, Entry, Phrase, What};
pub use error::EcsError;
pub use store::{EntityId, Retention, Store, Structural, VersionCreated};
pub use tree::{Placement, TreeStats};
pub(crate) use txn::Txn;
pub use value::{HISTORY_FIELD, MAX_FIELDS, Schema, Value, ValueType};
