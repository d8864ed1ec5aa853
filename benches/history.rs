//! Cost of `dynstress check` per event: reading a history (`read`) and
//! reading and checking it (`check`), one pass on one core.
//!
//! The history is built in memory in our own line format: on each of 50
//! targets, batches of five ops of mixed priority, the conflict, four
//! rejections, the winner's start and its commit with its effect, the
//! mix a brutal or capacity run writes. It passes every check, so the
//! checking path is the one a clean run takes.
//!
//! Two groups: `history` measures wall time, as criterion does;
//! `history_cpu` measures the CPU time of the benchmark's thread, which
//! other work on a shared machine barely moves (it runs on one core, so
//! its CPU time is the one-core cost).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynstress::events::{Decision, Effect, Event, EventKind, RejectReason};
use dynstress::harness::ndjson;
use dynstress::history::{self, CheckOptions, Reader};
use dynstress::ops::{FieldWrite, OpClass, OpId, OpState, OpType, Priority};

const TARGETS: u64 = 50;
const BATCHES: u64 = 20_000;

/// The history's bytes and its number of events.
fn history() -> (Vec<u8>, u64) {
    let mut out = b"{\"history\":1,\"grace_period_seconds\":0.2,\"backoff_base_ms\":10,\"backoff_max_ms\":1000}\n".to_vec();
    let mut n = 0;
    let mut push = |out: &mut Vec<u8>, ev: Event| {
        ndjson::write_event(out, &ev);
        n += 1;
    };
    let prio = [2u8, 5, 8, 10, 5];
    for b in 0..BATCHES {
        let target = (b % TARGETS) as u32;
        let t = b * 1_000;
        let first = b * 5;
        let ev = |op: u64, t_ns: u64, kind: EventKind| Event {
            t_ns,
            op: OpId(op),
            target,
            op_type: OpType::ModifyField,
            priority: Priority::new(prio[(op - first) as usize]).unwrap(),
            kind,
        };
        for op in first..first + 5 {
            let p = Priority::new(prio[(op - first) as usize]).unwrap();
            push(
                &mut out,
                ev(
                    op,
                    t,
                    EventKind::OperationSubmitted {
                        effective: p,
                        class: OpClass::Normal,
                        parent: None,
                        budget: 5,
                        batch_size: 5,
                    },
                ),
            );
        }
        let winner = first + 3;
        push(
            &mut out,
            ev(
                winner,
                t + 10,
                EventKind::OperationConflict {
                    pending: (first..first + 5).map(OpId).collect(),
                    executing: None,
                    decision: Decision::Start,
                    resolution_ns: 10,
                },
            ),
        );
        for op in (first..first + 5).filter(|&op| op != winner) {
            push(
                &mut out,
                ev(
                    op,
                    t + 10,
                    EventKind::OperationRejected {
                        from: OpState::Pending,
                        reason: RejectReason::Outranked {
                            winner: OpId(winner),
                        },
                        retries: 0,
                    },
                ),
            );
        }
        push(
            &mut out,
            ev(winner, t + 10, EventKind::OperationStarted { attempt: 1 }),
        );
        push(
            &mut out,
            ev(
                winner,
                t + 500,
                EventKind::OperationCompleted {
                    execution_ns: 490,
                    end_to_end_ns: 500,
                    effect: Effect::Modified {
                        write: FieldWrite::Counter(b as i64),
                        at_us: 978_307_200_000_000,
                    },
                },
            ),
        );
    }
    (out, n)
}

/// CPU time of the calling thread.
#[cfg(unix)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct it is handed.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Where thread CPU time cannot be read: wall time.
#[cfg(not(unix))]
fn thread_cpu() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

fn read(bytes: &[u8]) -> u64 {
    let mut r = Reader::new(black_box(bytes));
    let mut n = 0u64;
    while let Some(ev) = r.next_event().unwrap() {
        n += u64::from(ev.target);
    }
    n
}

fn check(bytes: &[u8]) -> u64 {
    let report = history::check(
        Reader::new(black_box(bytes)),
        "bench",
        &CheckOptions::default(),
    )
    .unwrap();
    assert!(report.outcome.passed);
    report.events
}

fn bench(c: &mut Criterion) {
    let (bytes, events) = history();
    let mut group = c.benchmark_group("history");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function("read", |b| b.iter(|| read(&bytes)));
    group.bench_function("check", |b| b.iter(|| check(&bytes)));
    group.finish();

    let mut group = c.benchmark_group("history_cpu");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    let cpu = |f: fn(&[u8]) -> u64| {
        let bytes = &bytes;
        move |b: &mut criterion::Bencher<'_>| {
            b.iter_custom(|iters| {
                let start = thread_cpu();
                for _ in 0..iters {
                    black_box(f(bytes));
                }
                thread_cpu() - start
            })
        }
    };
    group.bench_function("read", cpu(read));
    group.bench_function("check", cpu(check));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
