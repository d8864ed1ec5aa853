use super::*;

#[test]
fn the_kernel_peak_covers_memory_no_longer_held() {
    let before = process_usage();
    // 64 MB written and freed at once: gone before any sampler looks.
    let block = std::hint::black_box(vec![1u8; 64 << 20]);
    drop(block);
    let after = process_usage();
    if let (Some(b), Some(a)) = (before.peak_rss_mb, after.peak_rss_mb) {
        assert!(a >= 64.0 && a >= b, "peak {b} MB -> {a} MB");
    }
    assert!(after.cpu.user_s >= before.cpu.user_s);
}

#[test]
fn latency_summaries_are_in_microseconds_and_keep_outliers() {
    let mut l = Latency::new();
    for ns in [1_000, 2_000, 3_000, 4_000] {
        l.record(ns);
    }
    // Longer than the initial bound: auto-resize keeps it.
    l.record(7_200_000_000_000);
    let s = l.summary();
    assert_eq!(s.count, 5);
    assert_eq!(s.p50, 3);
    assert!(s.max >= 7_199_000_000, "{}", s.max);
    assert_eq!(Latency::new().summary().count, 0);
}

#[test]
fn the_timeline_buckets_events_by_second() {
    use crate::events::{Event, EventKind};
    use crate::ops::{OpClass, OpId, OpType, Priority};
    let mut m = Metrics::default();
    for (t_ns, op) in [(100, 1), (1_500_000_000, 2), (1_600_000_000, 3)] {
        m.observe(&Event {
            t_ns,
            op: OpId(op),
            target: 0,
            op_type: OpType::VersionEntity,
            priority: Priority::LOW,
            kind: EventKind::OperationSubmitted {
                effective: Priority::LOW,
                class: OpClass::LowPriority,
                parent: None,
                budget: 3,
                batch_size: 3,
            },
        });
    }
    m.record_rss(2, 5.0);
    let t = m.timeline(None);
    assert_eq!(
        t.iter().map(|p| (p.t_s, p.submitted)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 2)]
    );
    assert_eq!(t[1].rss_mb, 5.0);
    assert_eq!(m.by_priority_named().get("LOW").unwrap().submitted, 3);
    assert_eq!(
        m.by_type_named().get("version_entity").unwrap().submitted,
        3
    );
}

/// A completed op at `t_ns` taking `us` µs to execute and `e2e_us`
/// end to end.
fn completed(t_ns: u64, us: u64, e2e_us: u64) -> Event {
    use crate::events::{Effect, EventKind};
    use crate::ops::{OpId, OpType, Priority};
    Event {
        t_ns,
        op: OpId(t_ns),
        target: 0,
        op_type: OpType::VersionEntity,
        priority: Priority::LOW,
        kind: EventKind::OperationCompleted {
            execution_ns: us * 1_000,
            end_to_end_ns: e2e_us * 1_000,
            effect: Effect::Versioned,
        },
    }
}

#[test]
fn each_second_has_its_own_percentiles_even_after_it_closes() {
    let mut m = Metrics::default();
    // Second 0: 100 commits of 10 µs and one of 1000 µs.
    for i in 0..100 {
        m.observe(&completed(i * 1_000, 10, 20));
    }
    m.observe(&completed(500_000, 1_000, 2_000));
    // Seconds 1..=5: one 50 µs commit each, which closes second 0.
    for s in 1..=5 {
        m.observe(&completed(s * 1_000_000_000, 50, 60));
    }
    let t = m.timeline(None);
    assert_eq!(t.len(), 6);
    assert_eq!(t[0].committed, 101);
    assert_eq!(t[0].execution_p50_us, Some(10));
    assert_eq!(t[0].execution_p99_us, Some(10));
    assert_eq!(t[0].end_to_end_p50_us, Some(20));
    for p in &t[1..] {
        assert_eq!((p.committed, p.execution_p99_us), (1, Some(50)));
    }
    // A commit far behind the newest second still counts.
    m.observe(&completed(300, 70, 80));
    assert_eq!(m.timeline(None)[0].committed, 102);
}

#[test]
fn the_target_rate_is_the_schedule_over_each_second() {
    use crate::workload::Stage;
    let mut m = Metrics::default();
    m.observe(&completed(3_500_000_000, 1, 1));
    // 0 → 100 ops/s over 4 s.
    let schedule = Schedule::new(
        0.0,
        vec![Stage {
            duration_s: 4.0,
            rate: 100.0,
        }],
    );
    let rates: Vec<f64> = m
        .timeline(Some(&schedule))
        .iter()
        .map(|p| p.target_rate.unwrap())
        .collect();
    assert_eq!(rates, vec![12.5, 37.5, 62.5, 87.5]);
}

#[test]
fn a_long_timeline_is_merged_keeping_counts_and_worst_seconds() {
    let points: Vec<TimelinePoint> = (1..=10)
        .map(|t| TimelinePoint {
            t_s: t,
            span_s: 1,
            submitted: t,
            settled: 1,
            in_flight: 10 - t,
            execution_p99_us: (t != 4).then_some(t * 10),
            rss_mb: t as f64,
            target_rate: Some(t as f64),
            ..TimelinePoint::default()
        })
        .collect();
    let merged = downsample(points.clone(), 4);
    // 10 seconds into at most 4 spans: 3 seconds each, the last 1.
    assert_eq!(
        merged.iter().map(|p| (p.t_s, p.span_s)).collect::<Vec<_>>(),
        vec![(3, 3), (6, 3), (9, 3), (10, 1)]
    );
    assert_eq!(merged.iter().map(|p| p.submitted).sum::<u64>(), 55);
    assert_eq!(merged[1].submitted, 4 + 5 + 6);
    assert_eq!(merged[1].execution_p99_us, Some(60));
    assert_eq!(merged[0].in_flight, 9);
    assert_eq!(merged[2].rss_mb, 9.0);
    assert_eq!(merged[1].target_rate, Some(5.0));
    assert_eq!(downsample(points.clone(), 10), points);
}

#[test]
fn conflicts_are_counted_by_size() {
    use crate::events::EventKind;
    use crate::ops::{OpId, OpType, Priority};
    let mut m = Metrics::default();
    for (pending, executing) in [(2, None), (3, Some(OpId(9))), (2, None)] {
        m.observe(&Event {
            t_ns: 1,
            op: OpId(1),
            target: 0,
            op_type: OpType::VersionEntity,
            priority: Priority::LOW,
            kind: EventKind::OperationConflict {
                pending: (0..pending).map(OpId).collect(),
                executing,
                decision: crate::events::Decision::Start,
                resolution_ns: 5,
            },
        });
    }
    let sizes: Vec<(u64, u64)> = m
        .conflict_sizes()
        .iter()
        .map(|s| (s.ops, s.conflicts))
        .collect();
    assert_eq!(sizes, vec![(2, 2), (4, 1)]);
}
