//! The hot-path pieces of one resolution: the conflict rule itself, a
//! lifecycle step, and a backoff draw. The performance budget puts
//! resolution p99 at 20 µs; these show how little of that the pure rule
//! uses.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dynstress::ops::backoff::Backoff;
use dynstress::ops::lifecycle::{OpState, Transition};
use dynstress::ops::{OpId, Priority};
use dynstress::resolve::{Contender, Running, decide};
use rand::{SeedableRng, rngs::SmallRng};

fn batch() -> Vec<Contender> {
    [5u8, 2, 8, 8, 1, 10, 5, 10]
        .iter()
        .enumerate()
        .map(|(i, p)| Contender {
            id: OpId(100 - i as u64),
            effective: Priority::new(*p).unwrap_or(Priority::NORMAL),
        })
        .collect()
}

fn bench_decide(c: &mut Criterion) {
    let pending = batch();
    let grace = Duration::from_millis(500);
    c.bench_function("decide/8 contenders, idle target", |b| {
        b.iter(|| decide(black_box(&pending), black_box(None), black_box(grace)))
    });
    let running = Some(Running {
        id: OpId(7),
        effective: Priority::LOW,
        elapsed: Duration::from_millis(120),
    });
    c.bench_function("decide/8 contenders, running inside grace", |b| {
        b.iter(|| decide(black_box(&pending), black_box(running), black_box(grace)))
    });
}

fn bench_apply(c: &mut Criterion) {
    c.bench_function("lifecycle/apply", |b| {
        b.iter(|| black_box(OpState::Pending).apply(black_box(Transition::Start)))
    });
}

fn bench_backoff(c: &mut Criterion) {
    let backoff = Backoff {
        base: Duration::from_millis(10),
        max: Duration::from_secs(5),
    };
    let mut rng = SmallRng::seed_from_u64(42);
    c.bench_function("backoff/delay", |b| {
        b.iter(|| backoff.delay(black_box(3), &mut rng))
    });
}

criterion_group!(benches, bench_decide, bench_apply, bench_backoff);
criterion_main!(benches);
