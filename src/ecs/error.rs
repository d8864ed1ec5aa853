//! The store's one error type.
//!
//! Every refusal is a distinct variant carrying the ids it concerns, so the
//! caller can count and report it as data (a stale version is the store's
//! optimistic-concurrency check, not a crash). Messages are lowercase, say
//! what was wrong and where, and when there is a right way (the current
//! version to write through, the fields that exist) they name it.

use uuid::Uuid;

use super::store::EntityId;
use super::tree::Placement;
use super::value::{Schema, ValueType};

/// Why the store refused a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EcsError {
    #[error("malformed address {address:?}: an address must start with '@', as in @<uuid>.<field>")]
    MissingAt { address: String },

    #[error(
        "malformed address {address:?}: {text:?} is not a canonical hyphenated uuid \
         (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
    )]
    BadUuid { address: String, text: String },

    #[error("malformed address {address:?}: no '.<field>' after the uuid")]
    MissingField { address: String },

    #[error("malformed address {address:?}: the field name after '.' is empty")]
    EmptyField { address: String },

    #[error("unknown entity: no version of any entity in this store has ecs_id {ecs_id}")]
    UnknownEntity { ecs_id: Uuid },

    #[error("unknown entity id {entity}: the store holds {len} entities")]
    UnknownEntityId { entity: EntityId, len: usize },

    #[error("unknown field {field:?} in schema {schema}; its fields are: {}", schema.field_names())]
    UnknownField { field: String, schema: Schema },

    #[error("type mismatch on {schema}.{field}: expected {expected}, got {got}")]
    TypeMismatch {
        schema: Schema,
        field: &'static str,
        expected: ValueType,
        got: ValueType,
    },

    #[error(
        "type mismatch on {schema}.{field}: expected {expected}, but element {index} of the list is {got}"
    )]
    ListElementMismatch {
        schema: Schema,
        field: &'static str,
        expected: ValueType,
        index: usize,
        got: ValueType,
    },

    #[error(
        "stale version: @{used} is not the current version of lineage {lineage}; write through @{current}"
    )]
    StaleVersion {
        used: Uuid,
        current: Uuid,
        lineage: Uuid,
    },

    #[error(
        "version evicted: @{ecs_id} is version {number} of lineage {lineage}, older than the \
         retention window (oldest retained: version {oldest_retained})"
    )]
    VersionEvicted {
        ecs_id: Uuid,
        lineage: Uuid,
        number: u64,
        oldest_retained: u64,
    },

    #[error(
        "field {field} of entity {entity} (lineage {lineage}) is append-only: add entries with \
         append_history instead of writing the field"
    )]
    AppendOnly {
        entity: EntityId,
        lineage: Uuid,
        field: &'static str,
    },

    #[error(
        "entity {entity} (lineage {lineage}) still has {children} children and cannot be \
         detached: it would orphan them"
    )]
    HasChildren {
        entity: EntityId,
        lineage: Uuid,
        children: usize,
    },

    #[error(
        "entity {entity} (lineage {lineage}) cannot be added as a child: it is {placement}, and \
         only an orphan can be added"
    )]
    NotAnOrphan {
        entity: EntityId,
        lineage: Uuid,
        placement: Placement,
    },

    #[error(
        "entity {entity} (lineage {lineage}) cannot take children: it is a child of {parent}; \
         only a root or an orphan can"
    )]
    ParentIsChild {
        entity: EntityId,
        lineage: Uuid,
        parent: EntityId,
    },

    #[error("entity {entity} (lineage {lineage}) cannot be added as a child of itself")]
    SelfParent { entity: EntityId, lineage: Uuid },

    #[error(
        "address @{used} names a version of entity {used_entity}, but this transaction is on \
         entity {target} (current @{current})"
    )]
    NotTxnTarget {
        used: Uuid,
        used_entity: EntityId,
        target: EntityId,
        current: Uuid,
    },

    #[error(
        "a structural change is already staged in this transaction on entity {entity} \
         (lineage {lineage}); one per transaction"
    )]
    StructuralAlreadyStaged { entity: EntityId, lineage: Uuid },

    #[error("field {field} is given twice when creating a {schema}")]
    DuplicateField { schema: Schema, field: &'static str },

    #[error("the store is full: it holds at most {max} entities")]
    TooManyEntities { max: usize },
}
