//! Property tests of the entity store's invariants (the ones the
//! replay, versions and trees checks rely on), driven through its public API only: lineage length and links,
//! immutability of old versions across retention windows, exact history
//! counts and digests, tree invariants under any sequence of structural
//! requests, and all-or-nothing transactions.

use std::collections::HashMap;

use dynstress::ecs::{
    EcsError, EntityId, HISTORY_DIGEST_SEED, Placement, Retention, Schema, Store, Structural,
    Value, address, history_digest_step,
};
use proptest::prelude::*;
use uuid::Uuid;

/// Non-history fields of `TestDataEntity` that ops write, with a value maker.
const WRITABLE: [&str; 4] = ["counter", "data_value", "text_content", "borrow_count"];

fn value_for(field: &str, n: i64) -> Value {
    match field {
        "data_value" => Value::Float(n as f64 / 8.0),
        "text_content" => Value::str(&format!("text_{n}")),
        _ => Value::Int(n),
    }
}

#[derive(Clone, Debug)]
enum Step {
    Put {
        field: usize,
        n: i64,
    },
    Append(u16),
    Version {
        force: bool,
    },
    Borrow {
        field: usize,
    },
    Txn {
        field: usize,
        n: i64,
        entry: u16,
        force: bool,
        commit: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..WRITABLE.len(), 0..4i64).prop_map(|(field, n)| Step::Put { field, n }),
        any::<u16>().prop_map(Step::Append),
        any::<bool>().prop_map(|force| Step::Version { force }),
        (0..3usize).prop_map(|field| Step::Borrow { field }),
        (
            0..WRITABLE.len(),
            0..4i64,
            any::<u16>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(field, n, entry, force, commit)| Step::Txn {
                field,
                n,
                entry,
                force,
                commit
            }),
    ]
}

const BORROWS: [(&str, &str); 3] = [
    ("source_counter", "counter"),
    ("source_data", "data_value"),
    ("source_text", "text_content"),
];

/// What a version looked like when it was created.
struct Seen {
    number: u64,
    fields: Vec<(&'static str, Value, Option<Uuid>)>,
    history_len: usize,
}

/// Live fields (except the history) with their provenance.
fn fields_now(s: &Store, e: EntityId) -> Vec<(&'static str, Value, Option<Uuid>)> {
    Schema::TestDataEntity
        .fields()
        .iter()
        .filter(|(f, _)| *f != "modification_history")
        .map(|(f, _)| (*f, s.field(e, f).unwrap(), s.provenance(e, f)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn lineage_links_and_old_versions_hold_across_windows(
        steps in prop::collection::vec(step(), 1..80),
        keep_versions in 1usize..6,
        keep_history in 0usize..8,
    ) {
        let mut s = Store::new(Retention { versions: keep_versions, history: keep_history }, 7);
        let e = s.create(Schema::TestDataEntity, &[]).unwrap();
        let src = s.create(Schema::TestDataSource, &[]).unwrap();
        let mut ids = vec![s.current_id(e).unwrap()];
        let mut seen: HashMap<_, Seen> = HashMap::new();
        seen.insert(ids[0], Seen { number: 1, fields: fields_now(&s, e), history_len: 0 });
        let mut history: Vec<String> = Vec::new();
        let mut created = 0u64;

        for st in steps {
            let mut new_versions = Vec::new();
            match st {
                Step::Put { field, n } => {
                    let f = WRITABLE[field];
                    s.put(&address(s.current_id(e).unwrap(), f), value_for(f, n)).unwrap();
                }
                Step::Append(x) => {
                    let entry = format!("entry {x}");
                    s.append_history(e, &entry).unwrap();
                    history.push(entry);
                }
                Step::Version { force } => {
                    let latest = &seen[ids.last().unwrap()];
                    let changed = latest.fields != fields_now(&s, e)
                        || latest.history_len != history.len();
                    new_versions.extend(s.version_entity(e, force).unwrap());
                    prop_assert_eq!(new_versions.len(), usize::from(force || changed));
                }
                Step::Borrow { field } => {
                    let (from, to) = BORROWS[field];
                    s.borrow_attribute_from(e, src, from, to).unwrap();
                    prop_assert_eq!(s.provenance(e, to), Some(s.current_id(src).unwrap()));
                }
                Step::Txn { field, n, entry, force, commit } => {
                    let f = WRITABLE[field];
                    let entry = format!("txn {entry}");
                    let mut txn = s.begin(e).unwrap();
                    txn.set(f, value_for(f, n)).unwrap();
                    txn.append_history(&entry);
                    if force {
                        txn.force_version();
                    }
                    if commit {
                        new_versions.extend(txn.commit().versions);
                        history.push(entry);
                    }
                }
            }
            for v in new_versions {
                created += 1;
                prop_assert_eq!(v.entity, e);
                prop_assert_eq!(v.number, 1 + created);
                prop_assert_eq!(v.previous, *ids.last().unwrap());
                ids.push(v.ecs_id);
                seen.insert(v.ecs_id, Seen {
                    number: v.number,
                    fields: fields_now(&s, e),
                    history_len: history.len(),
                });
            }

            // Lineage length and the retained suffix.
            prop_assert_eq!(s.version_count(e), 1 + created);
            let keep = ids.len().min(keep_versions);
            prop_assert_eq!(s.lineage(e), ids[ids.len() - keep..].to_vec());
            // History: exact count and digest; the retained suffix.
            prop_assert_eq!(s.history_len(e), history.len() as u64);
            let digest = history.iter().fold(HISTORY_DIGEST_SEED, |a, x| history_digest_step(a, x));
            prop_assert_eq!(s.history_digest(e), digest);
            let start = history.len() - history.len().min(keep_history);
            let retained: Vec<String> = s.history_retained(e).iter().map(|x| x.to_string()).collect();
            prop_assert_eq!(&retained[..], &history[start..]);
            prop_assert_eq!(s.audit_lineage(e), Ok(()));
        }

        // Every old version reads exactly as it did when created, or says it
        // was evicted.
        let current = s.current_id(e).unwrap();
        for (id, was) in &seen {
            if *id == current {
                continue;
            }
            match s.resolve_id(*id) {
                Some((entity, number)) => {
                    prop_assert_eq!((entity, number), (e, was.number));
                    for (f, v, _) in &was.fields {
                        prop_assert_eq!(&s.get(&address(*id, f)).unwrap(), v);
                    }
                    let start = history.len() - history.len().min(keep_history);
                    let expected: Vec<&str> = history[start.min(was.history_len)..was.history_len]
                        .iter().map(|x| x.as_str()).collect();
                    prop_assert_eq!(
                        s.get(&address(*id, "modification_history")).unwrap(),
                        Value::str_list(&expected)
                    );
                    let stale = s.put(&address(*id, "counter"), Value::Int(1)).unwrap_err();
                    let is_stale = matches!(stale, EcsError::StaleVersion { current: c, .. } if c == current);
                    prop_assert!(is_stale);
                }
                None => {
                    let err = s.get(&address(*id, "counter")).unwrap_err();
                    let evicted = matches!(err, EcsError::VersionEvicted { number, .. } if number == was.number);
                    prop_assert!(evicted, "{}", err);
                }
            }
        }
    }

    #[test]
    fn tree_invariants_hold_after_any_structural_sequence(
        steps in prop::collection::vec((0..3u8, 0..7u32, 0..7u32), 1..120),
    ) {
        let mut s = Store::new(Retention { versions: 4, history: 4 }, 9);
        let n = 7;
        for _ in 0..n {
            s.create(Schema::TestDataEntity, &[]).unwrap();
        }
        for (kind, a, b) in steps {
            let (a, b) = (EntityId(a), EntityId(b));
            let before = s.placement(a);
            let counts_before: Vec<u64> = (0..n).map(|i| s.version_count(EntityId(i))).collect();
            match kind {
                0 => {
                    let allowed = a != b
                        && s.placement(b) == Placement::Orphan
                        && !matches!(s.placement(a), Placement::Child { .. });
                    let outcome = s.add_child(a, b);
                    prop_assert_eq!(outcome.is_ok(), allowed, "{:?}", outcome);
                    if outcome.is_ok() {
                        prop_assert_eq!(s.tree_of(b), Some(a));
                        let under_a = matches!(s.placement(b), Placement::Child { parent, .. } if parent == a);
                        prop_assert!(under_a);
                    }
                }
                1 => {
                    let outcome = s.promote_to_root(a).unwrap();
                    match before {
                        Placement::Root { .. } => prop_assert_eq!(outcome, Structural::NoOp),
                        Placement::Child { parent, .. } => {
                            let Structural::Changed { versions } = outcome else {
                                return Err(TestCaseError::fail("promoting a child changed nothing"));
                            };
                            let who: Vec<EntityId> = versions.iter().map(|v| v.entity).collect();
                            prop_assert_eq!(who, vec![a, parent]);
                        }
                        Placement::Orphan => {
                            let Structural::Changed { versions } = outcome else {
                                return Err(TestCaseError::fail("promoting an orphan changed nothing"));
                            };
                            prop_assert_eq!(versions.len(), 1);
                        }
                    }
                    let is_root = matches!(s.placement(a), Placement::Root { .. });
                    prop_assert!(is_root);
                    prop_assert_eq!(s.tree_of(a), Some(a));
                }
                _ => match s.detach(a) {
                    Ok(Structural::NoOp) => prop_assert_eq!(before, Placement::Orphan),
                    Ok(Structural::Changed { versions }) => {
                        let expected = if matches!(before, Placement::Child { .. }) { 2 } else { 1 };
                        prop_assert_eq!(versions.len(), expected);
                        prop_assert_eq!(s.placement(a), Placement::Orphan);
                        prop_assert_eq!(s.tree_of(a), None);
                    }
                    Err(err) => {
                        let has_children = matches!(err, EcsError::HasChildren { .. });
                        prop_assert!(has_children, "{}", err);
                        let had_children = matches!(before, Placement::Root { children } if children > 0);
                        prop_assert!(had_children);
                    }
                },
            }
            let stats = s.check_trees();
            prop_assert!(stats.is_ok(), "{:?}", stats);
            let stats = stats.unwrap();
            prop_assert_eq!(stats.trees + stats.children + stats.orphans, n as usize);
            // Versions only ever come from structural changes here, one per
            // entity involved.
            for i in 0..n {
                let grew = s.version_count(EntityId(i)) - counts_before[i as usize];
                prop_assert!(grew <= 1);
            }
        }
    }

    #[test]
    fn transactions_are_all_or_nothing(
        writes in prop::collection::vec((0..WRITABLE.len(), 0..100i64), 0..6),
        entries in prop::collection::vec(any::<u16>(), 0..4),
        force in any::<bool>(),
        commit in any::<bool>(),
    ) {
        // Two stores built the same way: one gets the transaction, the
        // other the same effects applied directly (or none, on rollback).
        let build = || {
            let mut s = Store::new(Retention { versions: 3, history: 3 }, 5);
            let t0 = chrono::DateTime::UNIX_EPOCH;
            let e = s.create(Schema::TestDataEntity, &[("timestamp", Value::Time(t0))]).unwrap();
            s.append_history(e, "setup").unwrap();
            (s, e)
        };
        let (mut a, e) = build();
        let (mut b, _) = build();
        let mut txn = a.begin(e).unwrap();
        for &(field, n) in &writes {
            let f = WRITABLE[field];
            txn.put(&address(txn.current_id(), f), value_for(f, n)).unwrap();
        }
        for x in &entries {
            txn.append_history(&format!("entry {x}"));
        }
        if force {
            txn.force_version();
        }
        if commit {
            let versions = txn.commit().versions;
            prop_assert_eq!(versions.len(), usize::from(force));
            for &(field, n) in &writes {
                let f = WRITABLE[field];
                b.put(&address(b.current_id(e).unwrap(), f), value_for(f, n)).unwrap();
            }
            for x in &entries {
                b.append_history(e, &format!("entry {x}")).unwrap();
            }
            if force {
                b.version_entity(e, true).unwrap();
            }
        } else {
            drop(txn);
        }
        prop_assert_eq!(fields_now(&a, e), fields_now(&b, e));
        prop_assert_eq!(a.lineage(e), b.lineage(e));
        prop_assert_eq!(a.version_count(e), b.version_count(e));
        prop_assert_eq!(a.history_len(e), b.history_len(e));
        prop_assert_eq!(a.history_digest(e), b.history_digest(e));
        prop_assert_eq!(a.history_retained(e), b.history_retained(e));
        prop_assert_eq!(a.audit_lineage(e), Ok(()));
    }
}
