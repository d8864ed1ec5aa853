//! The engine's per-op and per-event costs, on a store set up as a run's.
//!
//! * `execute/*` — each of the six operation types executed as one
//!   transaction by `ops::exec::execute` on a target of a run's world
//!   (targets as children in group trees, sources to borrow from, the
//!   default retention windows), with parameters drawn as the submitter
//!   draws them. Every iteration commits a real change, so
//!   the figures include versioning and history. Structural ops toggle
//!   placement, so the changing case is measured as a pair (promote a
//!   detached target, then detach it again — both change) and the no-op
//!   cases separately.
//! * `observe/*` — the online integrity checker and the metrics collector
//!   fed a typical event stream: batches of five ops on one target
//!   (five submissions, a conflict, four rejections, a start, a commit and
//!   the commit's modification or version event). Throughput is per event.
//!
//! The performance budget puts execution p99 at 20 µs and asks for
//! ≥ 1,000,000 settled ops/s, i.e. the whole per-op pipeline in about a
//! microsecond per core.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dynstress::check::CheckConfig;
use dynstress::check::online::Checker;
use dynstress::config::{Config, parse_str};
use dynstress::events::{Decision, Effect, Event, EventKind, RejectReason};
use dynstress::harness::World;
use dynstress::metrics::Metrics;
use dynstress::ops::exec::execute;
use dynstress::ops::{
    DrawContext, FieldWrite, Op, OpClass, OpId, OpKind, OpState, OpType, Priority, RetryBudgets,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use uuid::Uuid;

/// Wall-clock microseconds the benchmarks commit at (advanced per op).
const EPOCH_US: i64 = 1_700_000_000_000_000;

fn config() -> Config {
    match parse_str("", "default", &Default::default()) {
        Ok(c) => c,
        Err(e) => panic!("the default config must parse: {e}"),
    }
}

/// A store as a run's setup leaves it (5 targets in 2 group trees, 5
/// sources).
fn world(config: &Config) -> World {
    match World::build(config, 42) {
        Ok(w) => w,
        Err(e) => panic!("setup failed: {e:#}"),
    }
}

fn op(id: u64, target: u32, kind: OpKind) -> Op {
    let budgets = RetryBudgets {
        structural: 5,
        normal: 5,
        low_priority: 5,
    };
    Op::new(OpId(id), kind, Priority::NORMAL, target, &budgets, 0)
}

fn bench_execute(c: &mut Criterion) {
    let config = config();
    let mut group = c.benchmark_group("execute");
    for op_type in OpType::ALL.into_iter().filter(|t| !t.is_structural()) {
        let mut w = world(&config);
        let sources = DrawContext {
            first_source: w.first_source,
            num_sources: config.num_sources,
        };
        let mut rng = SmallRng::seed_from_u64(42);
        let mut i = 0u64;
        group.bench_function(op_type.name(), |b| {
            b.iter(|| {
                i += 1;
                let kind = op_type.draw(&mut rng, &sources);
                let op = op(i, (i % 5) as u32, kind);
                let done = execute(&mut w.store, &op, EPOCH_US + i as i64, None, false);
                debug_assert!(done.is_ok());
                black_box(done)
            })
        });
    }

    // A detached target promoted, then detached again: both change the
    // structure and create versions.
    let mut w = world(&config);
    let mut i = 0u64;
    let detach = op(0, 0, OpKind::DetachEntity);
    if execute(&mut w.store, &detach, EPOCH_US, None, false).is_err() {
        panic!("detaching a child target must succeed");
    }
    group.bench_function("promote_to_root+detach_entity_changing_pair", |b| {
        b.iter(|| {
            i += 2;
            let at = EPOCH_US + i as i64;
            let promote = op(i, 0, OpKind::PromoteToRoot);
            let a = execute(&mut w.store, &promote, at, None, false);
            let detach = op(i + 1, 0, OpKind::DetachEntity);
            let b = execute(&mut w.store, &detach, at + 1, None, false);
            debug_assert!(matches!(
                (&a, &b),
                (Ok(x), Ok(y)) if matches!(x.effect, Effect::Structural { changed: true, .. })
                    && matches!(y.effect, Effect::Structural { changed: true, .. })
            ));
            black_box((a, b))
        })
    });

    // No-ops: promoting a root, detaching an orphan (still a committed op
    // with a history entry, but no version).
    for (op_type, setup) in [
        (OpType::PromoteToRoot, OpKind::PromoteToRoot),
        (OpType::DetachEntity, OpKind::DetachEntity),
    ] {
        let mut w = world(&config);
        if execute(&mut w.store, &op(0, 0, setup), EPOCH_US, None, false).is_err() {
            panic!("placing the target for the no-op bench must succeed");
        }
        let mut i = 0u64;
        group.bench_function(format!("{}_noop", op_type.name()), |b| {
            b.iter(|| {
                i += 1;
                let op = op(i, 0, setup);
                let done = execute(&mut w.store, &op, EPOCH_US + i as i64, None, false);
                debug_assert!(matches!(
                    &done,
                    Ok(x) if matches!(x.effect, Effect::Structural { changed: false, .. })
                ));
                black_box(done)
            })
        });
    }
    group.finish();
}

/// Ops per batch in the observed stream.
const BATCH: u64 = 5;
/// Batches in the observed stream.
const BATCHES: u64 = 2_000;

/// A typical stream: per batch, five submissions to one target, the
/// conflict won by the highest priority, four rejections, the winner's
/// start and commit, and the commit's modification or version event.
fn stream(targets: u32) -> Vec<Event> {
    let prios = [5u8, 2, 10, 8, 5].map(|p| Priority::new(p).unwrap_or(Priority::NORMAL));
    let winner_slot = 2;
    let mut events = Vec::with_capacity((BATCHES * 13) as usize);
    // Per target: (last version id, version number).
    let mut versions: Vec<(Uuid, u64)> = (0..targets).map(|_| (Uuid::nil(), 1)).collect();
    let mut next_uuid = 1u128;
    let mut t_ns = 0u64;
    for b in 0..BATCHES {
        let target = (b % targets as u64) as u32;
        let versioning = b % 2 == 0;
        let winner_kind = if versioning {
            OpKind::VersionEntity
        } else {
            OpKind::ModifyField(FieldWrite::Counter(b as i64))
        };
        let ids: Vec<OpId> = (0..BATCH).map(|k| OpId(b * BATCH + k + 1)).collect();
        let ev = |t_ns: u64, slot: usize, kind: EventKind| Event {
            t_ns,
            op: ids[slot],
            target,
            op_type: if slot == winner_slot {
                winner_kind.op_type()
            } else {
                OpType::ModifyField
            },
            priority: prios[slot],
            kind,
        };
        t_ns += 1_000;
        for (slot, &effective) in prios.iter().enumerate() {
            events.push(ev(
                t_ns,
                slot,
                EventKind::OperationSubmitted {
                    effective,
                    class: OpClass::Normal,
                    parent: None,
                    budget: 5,
                    batch_size: BATCH as u32,
                },
            ));
        }
        events.push(ev(
            t_ns + 100,
            winner_slot,
            EventKind::OperationConflict {
                pending: ids.clone().into_boxed_slice(),
                executing: None,
                decision: Decision::Start,
                resolution_ns: 100,
            },
        ));
        for slot in (0..BATCH as usize).filter(|s| *s != winner_slot) {
            events.push(ev(
                t_ns + 200,
                slot,
                EventKind::OperationRejected {
                    from: OpState::Pending,
                    reason: RejectReason::Outranked {
                        winner: ids[winner_slot],
                    },
                    retries: 0,
                },
            ));
        }
        events.push(ev(
            t_ns + 300,
            winner_slot,
            EventKind::OperationStarted { attempt: 1 },
        ));
        let effect = match winner_kind {
            OpKind::ModifyField(write) => Effect::Modified {
                write,
                at_us: EPOCH_US + b as i64,
            },
            _ => Effect::Versioned,
        };
        events.push(ev(
            t_ns + 400,
            winner_slot,
            EventKind::OperationCompleted {
                execution_ns: 300,
                end_to_end_ns: 400,
                effect,
            },
        ));
        if versioning {
            let (previous, number) = &mut versions[target as usize];
            let ecs_id = Uuid::from_u128(next_uuid);
            next_uuid += 1;
            *number += 1;
            events.push(ev(
                t_ns + 400,
                winner_slot,
                EventKind::EntityVersioned {
                    ecs_id,
                    previous: *previous,
                    number: *number,
                },
            ));
            *previous = ecs_id;
        } else {
            events.push(ev(
                t_ns + 400,
                winner_slot,
                EventKind::EntityModified {
                    fields: &["counter", "modification_history"],
                },
            ));
        }
    }
    events
}

fn bench_observe(c: &mut Criterion) {
    let config = config();
    let w = world(&config);
    let events = stream(config.num_targets);
    let check_config = CheckConfig::of(&config);
    let fresh = || Checker::new(check_config, &w.store, config.num_targets);

    // The stream must be one the checker accepts, or the figures would
    // include the cost of describing violations.
    let mut check = fresh();
    for ev in &events {
        check.observe(ev);
    }
    let violations = check.violations_so_far();
    assert_eq!(violations, 0, "the benchmark stream breaks a rule");
    assert_eq!(check.active(), 0);

    let mut group = c.benchmark_group("observe");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("checker_typical_stream", |b| {
        b.iter_batched_ref(
            fresh,
            |checker| {
                for ev in &events {
                    checker.observe(black_box(ev));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("metrics_typical_stream", |b| {
        b.iter_batched_ref(
            Metrics::default,
            |metrics| {
                for ev in &events {
                    metrics.observe(black_box(ev));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_execute, bench_observe);
criterion_main!(benches);
