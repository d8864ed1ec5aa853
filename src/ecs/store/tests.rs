use super::*;
use crate::ecs::{HISTORY_DIGEST_SEED, ValueType, address, history_digest_step};

fn store(versions: usize, history: usize) -> Store {
    Store::new(Retention { versions, history }, 42)
}

fn target(s: &mut Store) -> EntityId {
    s.create(Schema::TestDataEntity, &[]).unwrap()
}

fn source(s: &mut Store) -> EntityId {
    s.create(Schema::TestDataSource, &[]).unwrap()
}

fn at(s: &Store, e: EntityId, field: &str) -> String {
    address(s.current_id(e).unwrap(), field)
}

#[test]
fn create_applies_defaults_and_makes_version_one() {
    let mut s = store(8, 64);
    let e = target(&mut s);
    let src = source(&mut s);
    assert_eq!((s.len(), s.is_empty()), (2, false));
    assert_eq!(s.field(e, "name").unwrap(), Value::str("test_entity"));
    assert_eq!(s.field(e, "counter").unwrap(), Value::Int(0));
    assert_eq!(s.field(e, "data_value").unwrap(), Value::Float(0.0));
    assert_eq!(
        s.field(e, "modification_history").unwrap(),
        Value::str_list::<&str>(&[])
    );
    assert_eq!(
        s.field(e, "timestamp").unwrap().value_type(),
        ValueType::Time
    );
    assert_eq!(s.field(src, "source_counter").unwrap(), Value::Int(100));
    assert_eq!(s.field(src, "source_data").unwrap(), Value::Float(99.99));
    assert_eq!(
        s.field(src, "source_values").unwrap(),
        Value::int_list(&[1, 2, 3, 4, 5])
    );
    assert_eq!(
        s.field(src, "source_metadata").unwrap(),
        Value::str_map(&[("type", "source"), ("quality", "high")])
    );
    assert_eq!(s.version_count(e), 1);
    assert_eq!(s.lineage(e), vec![s.current_id(e).unwrap()]);
    assert_eq!(s.resolve_id(s.current_id(e).unwrap()), Some((e, 1)));
    assert_eq!(s.schema(src).unwrap(), Schema::TestDataSource);
    assert_eq!(s.entity_of_lineage(s.lineage_id(e).unwrap()), Some(e));
    assert_ne!(s.lineage_id(e).unwrap(), s.current_id(e).unwrap());
    assert_eq!(s.audit_lineage(e), Ok(()));
}

#[test]
fn create_overrides_are_type_checked() {
    let mut s = store(8, 64);
    let e = s
        .create(
            Schema::TestDataEntity,
            &[
                ("counter", Value::Int(7)),
                ("modification_history", Value::str_list(&["born", "raised"])),
            ],
        )
        .unwrap();
    assert_eq!(s.field(e, "counter").unwrap(), Value::Int(7));
    assert_eq!(s.history_len(e), 2);
    let expected = ["born", "raised"]
        .iter()
        .fold(HISTORY_DIGEST_SEED, |acc, x| history_digest_step(acc, x));
    assert_eq!(s.history_digest(e), expected);

    let err = s
        .create(Schema::TestDataEntity, &[("source_counter", Value::Int(1))])
        .unwrap_err();
    assert!(matches!(err, EcsError::UnknownField { .. }), "{err}");
    let err = s
        .create(Schema::TestDataEntity, &[("counter", Value::Float(1.0))])
        .unwrap_err();
    assert!(
        matches!(
            err,
            EcsError::TypeMismatch {
                field: "counter",
                ..
            }
        ),
        "{err}"
    );
    let err = s
        .create(
            Schema::TestDataSource,
            &[
                ("source_counter", Value::Int(1)),
                ("source_counter", Value::Int(2)),
            ],
        )
        .unwrap_err();
    assert_eq!(
        err,
        EcsError::DuplicateField {
            schema: Schema::TestDataSource,
            field: "source_counter"
        }
    );
    assert_eq!(s.len(), 1, "a refused create adds nothing");
}

#[test]
fn version_entity_without_force_only_versions_real_changes() {
    let mut s = store(8, 64);
    let e = target(&mut s);
    let first = s.current_id(e).unwrap();
    assert_eq!(s.version_entity(e, false).unwrap(), None);

    // Writing the same value back is not a change either.
    s.put(&at(&s, e, "counter"), Value::Int(0)).unwrap();
    assert_eq!(s.version_entity(e, false).unwrap(), None);

    s.put(&at(&s, e, "counter"), Value::Int(5)).unwrap();
    let v2 = s.version_entity(e, false).unwrap().unwrap();
    assert_eq!((v2.entity, v2.number, v2.previous), (e, 2, first));
    assert_eq!(s.current_id(e).unwrap(), v2.ecs_id);
    assert_eq!(s.version_entity(e, false).unwrap(), None);

    s.append_history(e, "touched").unwrap();
    let v3 = s.version_entity(e, false).unwrap().unwrap();
    assert_eq!((v3.number, v3.previous), (3, v2.ecs_id));

    let v4 = s.version_entity(e, true).unwrap().unwrap();
    assert_eq!((v4.number, v4.previous), (4, v3.ecs_id));
    assert_eq!(s.version_count(e), 4);
    assert_eq!(s.lineage(e), vec![first, v2.ecs_id, v3.ecs_id, v4.ecs_id]);
    assert_eq!(s.audit_lineage(e), Ok(()));
}

#[test]
fn old_versions_never_change_after_later_writes() {
    let mut s = store(8, 64);
    let e = target(&mut s);
    let src = source(&mut s);
    s.put(&at(&s, e, "text_content"), Value::str("one"))
        .unwrap();
    s.append_history(e, "h1").unwrap();
    let v = s.version_entity(e, true).unwrap().unwrap();
    let old_text = address(v.ecs_id, "text_content");
    let old_history = address(v.ecs_id, "modification_history");

    s.put(&at(&s, e, "text_content"), Value::str("two"))
        .unwrap();
    s.append_history(e, "h2").unwrap();
    s.borrow_attribute_from(e, src, "source_text", "text_content")
        .unwrap();
    s.version_entity(e, true).unwrap();
    s.put(&at(&s, e, "text_content"), Value::str("three"))
        .unwrap();

    assert_eq!(s.get(&old_text).unwrap(), Value::str("one"));
    assert_eq!(s.get(&old_history).unwrap(), Value::str_list(&["h1"]));
    assert_eq!(
        s.get(&at(&s, e, "text_content")).unwrap(),
        Value::str("three")
    );
    assert_eq!(
        s.get(&at(&s, e, "modification_history")).unwrap(),
        Value::str_list(&["h1", "h2"])
    );
}

#[test]
fn put_through_an_old_id_is_stale_and_names_the_current_one() {
    let mut s = store(2, 64);
    let e = target(&mut s);
    let old = s.current_id(e).unwrap();
    for _ in 0..3 {
        s.version_entity(e, true).unwrap();
    }
    let current = s.current_id(e).unwrap();
    let lineage = s.lineage_id(e).unwrap();
    // `old` is evicted by now; a write through it is still just stale.
    let err = s.put(&address(old, "counter"), Value::Int(1)).unwrap_err();
    assert_eq!(
        err,
        EcsError::StaleVersion {
            used: old,
            current,
            lineage
        }
    );
    let msg = err.to_string();
    assert!(msg.starts_with("stale version: @"), "{msg}");
    assert!(msg.contains(&format!("write through @{current}")), "{msg}");
    assert_eq!(s.field(e, "counter").unwrap(), Value::Int(0));
}

#[test]
fn put_refuses_unknown_entities_fields_wrong_types_and_history() {
    let mut s = store(8, 64);
    let e = target(&mut s);
    let foreign = uuid::Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef);
    let err = s
        .put(&address(foreign, "counter"), Value::Int(1))
        .unwrap_err();
    assert_eq!(err, EcsError::UnknownEntity { ecs_id: foreign });
    assert!(err.to_string().contains(&foreign.to_string()), "{err}");

    let err = s.put(&at(&s, e, "nope"), Value::Int(1)).unwrap_err();
    assert!(matches!(&err, EcsError::UnknownField { field, .. } if field == "nope"));
    assert!(
        err.to_string().contains("counter"),
        "lists the fields: {err}"
    );

    let err = s.put(&at(&s, e, "data_value"), Value::Int(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "type mismatch on TestDataEntity.data_value: expected float, got int"
    );

    let err = s
        .put(&at(&s, e, "modification_history"), Value::str_list(&["x"]))
        .unwrap_err();
    assert!(matches!(err, EcsError::AppendOnly { .. }));
    assert!(
        err.to_string()
            .starts_with("field modification_history of entity #0"),
        "{err}"
    );
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(s.history_len(e), 0);
    assert!(matches!(
        s.put("counter", Value::Int(1)),
        Err(EcsError::MissingAt { .. })
    ));
}

#[test]
fn get_through_an_evicted_id_says_evicted_and_names_the_lineage() {
    let mut s = store(3, 64);
    let e = target(&mut s);
    let first = s.current_id(e).unwrap();
    for _ in 0..5 {
        s.version_entity(e, true).unwrap();
    }
    let err = s.get(&address(first, "counter")).unwrap_err();
    let lineage = s.lineage_id(e).unwrap();
    assert_eq!(
        err,
        EcsError::VersionEvicted {
            ecs_id: first,
            lineage,
            number: 1,
            oldest_retained: 4
        }
    );
    assert!(err.to_string().contains(&lineage.to_string()), "{err}");
    assert_eq!(s.resolve_id(first), None);
    let retained = s.lineage(e);
    assert_eq!(retained.len(), 3);
    assert_eq!(s.resolve_id(retained[0]), Some((e, 4)));
    assert_eq!(
        s.get(&address(retained[0], "counter")).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn retention_keeps_counts_and_digest_exact_and_memory_bounded() {
    let mut s = store(8, 64);
    let e = target(&mut s);
    let mut digest = HISTORY_DIGEST_SEED;
    let mut marks = Vec::new();
    for i in 0..5_000 {
        let entry = format!("entry {i}");
        digest = history_digest_step(digest, &entry);
        s.append_history(e, &entry).unwrap();
        let v = s.version_entity(e, true).unwrap().unwrap();
        marks.push(v.ecs_id);
    }
    assert_eq!(s.version_count(e), 5_001);
    assert_eq!(s.history_len(e), 5_000);
    assert_eq!(s.history_digest(e), digest);
    assert_eq!(s.lineage(e), marks[marks.len() - 8..].to_vec());
    let retained = s.history_retained(e);
    assert_eq!(retained.len(), 64);
    assert_eq!(&*retained[0], "entry 4936");
    let ent = s.entity(e).unwrap();
    assert_eq!(ent.retained_versions(), 8);
    assert_eq!(ent.older.capacity(), 7, "exactly the window");
    // The history prefix of a retained old version: its retained part.
    let old = s
        .get(&address(marks[marks.len() - 8], "modification_history"))
        .unwrap();
    let old = old.as_list().unwrap();
    assert_eq!(old.len(), 64 - 7);
    assert_eq!(old.last().unwrap(), &Value::str("entry 4992"));
    assert_eq!(s.audit_lineage(e), Ok(()));
}

#[test]
fn borrowing_copies_the_value_and_records_provenance() {
    let mut s = store(8, 64);
    let e = target(&mut s);
    let src = source(&mut s);
    let src_id = s.current_id(src).unwrap();
    let v = s
        .borrow_attribute_from(e, src, "source_counter", "counter")
        .unwrap();
    assert_eq!(v, Value::Int(100));
    assert_eq!(s.field(e, "counter").unwrap(), Value::Int(100));
    assert_eq!(s.provenance(e, "counter"), Some(src_id));
    assert_eq!(s.provenance(e, "data_value"), None);
    assert_eq!(
        s.field(src, "source_counter").unwrap(),
        Value::Int(100),
        "source unchanged"
    );

    // Provenance is part of the versioned state, and of old versions.
    let v2 = s.version_entity(e, false).unwrap().unwrap();
    s.put(&at(&s, e, "counter"), Value::Int(100)).unwrap();
    assert_eq!(s.provenance(e, "counter"), None, "a plain write clears it");
    assert!(s.version_entity(e, false).unwrap().is_some());
    assert_eq!(s.resolve_id(v2.ecs_id), Some((e, 2)));

    let err = s
        .borrow_attribute_from(e, src, "source_text", "counter")
        .unwrap_err();
    assert_eq!(
        err,
        EcsError::TypeMismatch {
            schema: Schema::TestDataEntity,
            field: "counter",
            expected: ValueType::Int,
            got: ValueType::Str
        }
    );
    let err = s
        .borrow_attribute_from(e, src, "source_values", "modification_history")
        .unwrap_err();
    assert!(matches!(err, EcsError::AppendOnly { .. }), "{err}");
    let err = s
        .borrow_attribute_from(e, src, "nope", "counter")
        .unwrap_err();
    assert!(
        matches!(
            err,
            EcsError::UnknownField {
                schema: Schema::TestDataSource,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unknown_entity_ids_are_refused_or_read_as_empty() {
    let mut s = store(8, 64);
    let ghost = EntityId(3);
    let err = s.schema(ghost).unwrap_err();
    assert_eq!(
        err,
        EcsError::UnknownEntityId {
            entity: ghost,
            len: 0
        }
    );
    assert_eq!(
        err.to_string(),
        "unknown entity id #3: the store holds 0 entities"
    );
    assert!(s.lineage_id(ghost).is_err());
    assert!(s.current_id(ghost).is_err());
    assert!(s.field(ghost, "counter").is_err());
    assert!(s.version_entity(ghost, true).is_err());
    assert!(s.append_history(ghost, "x").is_err());
    assert!(s.begin(ghost).is_err());
    assert_eq!(s.version_count(ghost), 0);
    assert_eq!(s.history_len(ghost), 0);
    assert_eq!(s.history_digest(ghost), HISTORY_DIGEST_SEED);
    assert!(s.lineage(ghost).is_empty() && s.history_retained(ghost).is_empty());
    assert_eq!(s.provenance(ghost, "counter"), None);
}

#[test]
fn ids_are_reproducible_from_the_seed() {
    let ids = |seed: u64| {
        let mut s = Store::new(
            Retention {
                versions: 4,
                history: 4,
            },
            seed,
        );
        let e = s.create(Schema::TestDataEntity, &[]).unwrap();
        s.version_entity(e, true).unwrap();
        (s.lineage_id(e).unwrap(), s.lineage(e))
    };
    assert_eq!(ids(5), ids(5));
    assert_ne!(ids(5), ids(6));
}

#[test]
fn the_store_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<Value>();
    assert_send_sync::<EcsError>();
}

#[test]
fn zero_version_window_still_keeps_the_latest() {
    let mut s = store(0, 0);
    assert_eq!(
        s.retention(),
        Retention {
            versions: 1,
            history: 0
        }
    );
    let e = target(&mut s);
    s.append_history(e, "x").unwrap();
    let v = s.version_entity(e, true).unwrap().unwrap();
    assert_eq!(s.lineage(e), vec![v.ecs_id]);
    assert_eq!(s.history_len(e), 1);
    assert!(s.history_retained(e).is_empty());
    assert_eq!(s.get(&address(v.ecs_id, "counter")).unwrap(), Value::Int(0));
    assert_eq!(s.audit_lineage(e), Ok(()));
}
