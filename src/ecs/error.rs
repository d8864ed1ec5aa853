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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_lowercase_and_names_what_and_where() {
        let a = Uuid::from_u128(0xa);
        let b = Uuid::from_u128(0xb);
        let l = Uuid::from_u128(0x1);
        let e = EntityId(4);
        let (sa, sb, sl) = (a.to_string(), b.to_string(), l.to_string());
        let (at_a, through_b) = (format!("@{a}"), format!("write through @{b}"));
        let cases: Vec<(EcsError, Vec<&str>)> = vec![
            (
                EcsError::MissingAt {
                    address: "x.y".into(),
                },
                vec!["\"x.y\"", "'@'"],
            ),
            (
                EcsError::BadUuid {
                    address: "@q.y".into(),
                    text: "q".into(),
                },
                vec!["\"@q.y\"", "\"q\"", "uuid"],
            ),
            (
                EcsError::MissingField {
                    address: "@u".into(),
                },
                vec!["\"@u\"", ".<field>"],
            ),
            (
                EcsError::EmptyField {
                    address: "@u.".into(),
                },
                vec!["\"@u.\"", "empty"],
            ),
            (EcsError::UnknownEntity { ecs_id: a }, vec![&sa]),
            (
                EcsError::UnknownEntityId { entity: e, len: 2 },
                vec!["#4", "2 entities"],
            ),
            (
                EcsError::UnknownField {
                    field: "cnt".into(),
                    schema: Schema::TestDataEntity,
                },
                vec!["\"cnt\"", "TestDataEntity", "counter"],
            ),
            (
                EcsError::TypeMismatch {
                    schema: Schema::TestDataEntity,
                    field: "counter",
                    expected: ValueType::Int,
                    got: ValueType::Float,
                },
                vec!["TestDataEntity.counter", "expected int", "got float"],
            ),
            (
                EcsError::ListElementMismatch {
                    schema: Schema::TestDataSource,
                    field: "source_values",
                    expected: ValueType::IntList,
                    index: 2,
                    got: ValueType::Str,
                },
                vec!["source_values", "element 2", "list of int", "str"],
            ),
            (
                EcsError::StaleVersion {
                    used: a,
                    current: b,
                    lineage: l,
                },
                vec!["stale version", &at_a, &through_b, &sl],
            ),
            (
                EcsError::VersionEvicted {
                    ecs_id: a,
                    lineage: l,
                    number: 3,
                    oldest_retained: 9,
                },
                vec!["evicted", &sa, &sl, "version 3", "version 9"],
            ),
            (
                EcsError::AppendOnly {
                    entity: e,
                    lineage: l,
                    field: "modification_history",
                },
                vec![
                    "modification_history",
                    "#4",
                    "append-only",
                    "append_history",
                ],
            ),
            (
                EcsError::HasChildren {
                    entity: e,
                    lineage: l,
                    children: 3,
                },
                vec!["#4", "3 children", "orphan"],
            ),
            (
                EcsError::NotAnOrphan {
                    entity: e,
                    lineage: l,
                    placement: Placement::Root { children: 1 },
                },
                vec!["#4", "a root with 1 children", "only an orphan"],
            ),
            (
                EcsError::ParentIsChild {
                    entity: e,
                    lineage: l,
                    parent: EntityId(1),
                },
                vec!["#4", "child of #1"],
            ),
            (
                EcsError::SelfParent {
                    entity: e,
                    lineage: l,
                },
                vec!["#4", "itself"],
            ),
            (
                EcsError::NotTxnTarget {
                    used: a,
                    used_entity: EntityId(1),
                    target: e,
                    current: b,
                },
                vec![&sa, "#1", "#4", &sb],
            ),
            (
                EcsError::StructuralAlreadyStaged {
                    entity: e,
                    lineage: l,
                },
                vec!["#4", "already staged"],
            ),
            (
                EcsError::DuplicateField {
                    schema: Schema::TestDataSource,
                    field: "source_data",
                },
                vec!["source_data", "twice", "TestDataSource"],
            ),
            (EcsError::TooManyEntities { max: 7 }, vec!["full", "7"]),
        ];
        let mut seen = std::collections::HashSet::new();
        for (err, needles) in &cases {
            let msg = err.to_string();
            assert!(msg.starts_with(|c: char| c.is_lowercase()), "{msg}");
            for needle in needles {
                assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
            }
            assert!(
                seen.insert(std::mem::discriminant(err)),
                "duplicate case {err:?}"
            );
        }
    }
}
