//! Cost per event of what every event goes through besides the checks.
//!
//! In capacity mode every settled operation produces a few events, and
//! `--events` renders each as one NDJSON line on the events-file thread.
//! `ndjson_line` is the hand-written renderer on a representative mix of
//! events; `serde_json_line` renders the same mix through the derived
//! `Serialize` it replaced, for comparison. Every event of a run is also
//! folded into the event digest (on a thread of its own on the real
//! clock): `event_digest` folds the same mix, with times left out as on
//! the real clock.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynstress::digest::EventDigest;
use dynstress::events::{Decision, Effect, Event, EventKind, RejectReason};
use dynstress::harness::ndjson;
use dynstress::ops::{FieldWrite, OpClass, OpId, OpState, OpType, Priority};
use uuid::Uuid;

/// One batch's worth of the events a committed op and its rejected rivals
/// produce.
fn mix() -> Vec<Event> {
    let ev = |op: u64, kind: EventKind| Event {
        t_ns: 4_123_456_789 + op,
        op: OpId(op),
        target: 42_317,
        op_type: OpType::ModifyField,
        priority: Priority::NORMAL,
        kind,
    };
    let id = Uuid::from_u128(0x0123_4567_89ab_4cde_8f01_2345_6789_abcd);
    let mut events: Vec<Event> = (0..5)
        .map(|i| {
            ev(
                1_000_000 + i,
                EventKind::OperationSubmitted {
                    effective: Priority::NORMAL,
                    class: OpClass::Normal,
                    parent: None,
                    budget: 5,
                    batch_size: 5,
                },
            )
        })
        .collect();
    events.push(ev(
        1_000_000,
        EventKind::OperationConflict {
            pending: (1_000_000..1_000_005).map(OpId).collect(),
            executing: None,
            decision: Decision::Start,
            resolution_ns: 2_345,
        },
    ));
    events.extend((1..5).map(|i| {
        ev(
            1_000_000 + i,
            EventKind::OperationRejected {
                from: OpState::Pending,
                reason: RejectReason::Outranked {
                    winner: OpId(1_000_000),
                },
                retries: 0,
            },
        )
    }));
    events.push(ev(1_000_000, EventKind::OperationStarted { attempt: 1 }));
    events.push(ev(
        1_000_000,
        EventKind::EntityModified {
            fields: &["data_value", "modification_history"],
        },
    ));
    events.push(ev(
        1_000_000,
        EventKind::EntityVersioned {
            ecs_id: id,
            previous: id,
            number: 17,
        },
    ));
    events.push(ev(
        1_000_000,
        EventKind::OperationCompleted {
            execution_ns: 1_234,
            end_to_end_ns: 98_765,
            effect: Effect::Modified {
                write: FieldWrite::DataValue(417.256_318_5),
                at_us: 1_732_800_000_123_456,
            },
        },
    ));
    events
}

fn render(c: &mut Criterion) {
    let events = mix();
    let mut group = c.benchmark_group("events_file");
    group.throughput(Throughput::Elements(events.len() as u64));
    let mut out = Vec::with_capacity(1 << 20);
    group.bench_function("ndjson_line", |b| {
        b.iter(|| {
            out.clear();
            for ev in &events {
                ndjson::write_event(&mut out, black_box(ev));
            }
            black_box(out.len())
        })
    });
    group.bench_function("serde_json_line", |b| {
        b.iter(|| {
            out.clear();
            for ev in &events {
                serde_json::to_writer(&mut out, black_box(ev)).expect("serialize");
                out.push(b'\n');
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn digest(c: &mut Criterion) {
    let events = mix();
    let mut group = c.benchmark_group("event_digest");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("fold", |b| {
        let mut digest = EventDigest::new(false);
        b.iter(|| {
            for ev in &events {
                digest.fold(black_box(ev));
            }
            black_box(digest.value())
        })
    });
    group.finish();
}

criterion_group!(benches, render, digest);
criterion_main!(benches);
