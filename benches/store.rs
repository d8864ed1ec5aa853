//! Cost of the store's hot paths, as the harness drives them.
//!
//! `version_entity(force)` must cost the same whatever the history length
//! and however many versions came before: it is measured at
//! history lengths 10 / 10,000 / 1,000,000 and after 1 / 100,000 earlier
//! versions, with the small retention window the harness uses. Also `put`
//! and `get` through the current id, a complex-update-like transaction, and
//! the two steps every address goes through (parsing, resolving the id).
//!
//! Setup creates every target through `create`, and a run's first write to
//! a target copies its field array and opens its windows: `create_target`
//! and `first_commit` measure those two per-entity paths (the ones that
//! decide a million-target run's setup time and memory), and
//! `lineage_id` the id a lineage now computes instead of looking up.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dynstress::ecs::{Address, EntityId, Retention, Schema, Store, Value, address};

const WINDOW: Retention = Retention {
    versions: 8,
    history: 64,
};

/// A store with one target that has `history` entries and `versions`
/// versions behind it.
fn prepared(history: usize, versions: usize) -> (Store, EntityId) {
    let mut store = Store::new(WINDOW, 1);
    let e = store
        .create(Schema::TestDataEntity, &[])
        .expect("create a target");
    for i in 0..history {
        store
            .append_history(e, &format!("modify_field counter -> {i}"))
            .expect("append history");
    }
    for _ in 1..versions {
        store.version_entity(e, true).expect("version");
    }
    (store, e)
}

fn version_entity(c: &mut Criterion) {
    let mut group = c.benchmark_group("version_entity_force");
    for history in [10usize, 10_000, 1_000_000] {
        for versions in [1usize, 100_000] {
            let (mut store, e) = prepared(history, versions);
            group.bench_with_input(
                BenchmarkId::new(format!("history_{history}"), format!("versions_{versions}")),
                &(),
                |b, _| b.iter(|| black_box(store.version_entity(e, true))),
            );
        }
    }
    group.finish();
}

fn put_get(c: &mut Criterion) {
    let (mut store, e) = prepared(10, 1);
    let counter = address(store.current_id(e).expect("current id"), "counter");
    let text = address(store.current_id(e).expect("current id"), "text_content");
    let value = Value::str("text_1234");
    let mut n = 0i64;
    c.bench_function("put_current_int", |b| {
        b.iter(|| {
            n += 1;
            black_box(store.put(black_box(&counter), Value::Int(n)))
        })
    });
    c.bench_function("put_current_str", |b| {
        b.iter(|| black_box(store.put(black_box(&text), value.clone())))
    });
    c.bench_function("get_current", |b| {
        b.iter(|| black_box(store.get(black_box(&counter))))
    });
}

fn complex_update(c: &mut Criterion) {
    let (mut store, e) = prepared(10, 1);
    let text = Value::str("Updated_1_1700000000");
    c.bench_function("txn_complex_update", |b| {
        b.iter(|| {
            let mut txn = store.begin(e).expect("begin");
            let counter = txn
                .get("counter")
                .ok()
                .and_then(|v| v.as_int())
                .unwrap_or(0);
            txn.set("counter", Value::Int(counter + 1)).expect("set");
            txn.set("data_value", Value::Float(0.5)).expect("set");
            txn.set("text_content", text.clone()).expect("set");
            txn.append_history("complex_update");
            txn.force_version();
            black_box(txn.commit())
        })
    });
}

fn address_and_ids(c: &mut Criterion) {
    let (store, e) = prepared(10, 1);
    let counter = address(store.current_id(e).expect("current id"), "counter");
    c.bench_function("parse_address", |b| {
        b.iter(|| black_box(Address::parse(black_box(&counter))))
    });
    let id = store.current_id(e).expect("current id");
    c.bench_function("resolve_id", |b| {
        b.iter(|| black_box(store.resolve_id(black_box(id))))
    });
}

fn per_entity(c: &mut Criterion) {
    let window = Retention {
        versions: 2,
        history: 4,
    };
    let mut store = Store::new(window, 1);
    let mut i = 0u64;
    c.bench_function("create_target", |b| {
        b.iter(|| {
            i += 1;
            let name = Value::str(&format!("target_{i}"));
            black_box(store.create(Schema::TestDataEntity, &[("name", name)]))
        })
    });

    // Each iteration creates a target and makes its first commit.
    let mut store = Store::new(window, 2);
    store.reserve(1 << 22);
    let mut next = 0u32;
    c.bench_function("first_commit", |b| {
        b.iter(|| {
            let e = store
                .create(Schema::TestDataEntity, &[])
                .expect("create a target");
            next += 1;
            let mut txn = store.begin(e).expect("begin");
            txn.set("counter", Value::Int(i64::from(next)))
                .expect("set counter");
            txn.append_history("modify_field counter");
            txn.force_version();
            black_box(txn.commit())
        })
    });

    let (store, e) = prepared(10, 1);
    c.bench_function("lineage_id", |b| {
        b.iter(|| black_box(store.lineage_id(black_box(e))))
    });
}

criterion_group!(
    benches,
    version_entity,
    put_get,
    complex_update,
    address_and_ids,
    per_entity
);
criterion_main!(benches);
