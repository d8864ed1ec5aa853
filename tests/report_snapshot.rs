//! Golden snapshots of the text (emoji and ASCII) and JSON reports.
//!
//! Three fixed runs cover the three verdicts: a brutal run that passed, a
//! run whose integrity checks caught two faults, and a run interrupted by
//! Ctrl-C. The fixtures carry fixed numbers only (no clock, no version
//! from the build), so the snapshots are byte-for-byte deterministic.

use dynstress::report::model::*;
use dynstress::report::{json, text};

fn brutal_config() -> ConfigView {
    ConfigView {
        duration_seconds: 15.0,
        drain_timeout_seconds: 2.0,
        num_targets: 5,
        num_sources: 5,
        operation_rate_per_second: TargetRate::PerSecond(100.0),
        start_rate_per_second: None,
        stages: None,
        arrivals: "uniform",
        targets: TargetsView {
            distribution: "uniform",
            zipf_exponent: None,
        },
        max_in_flight: 100_000,
        grace_period_seconds: 0.2,
        priority_distribution: [
            ("LOW", 0.25),
            ("NORMAL", 0.25),
            ("HIGH", 0.25),
            ("CRITICAL", 0.25),
        ]
        .into_iter()
        .collect(),
        operation_types: [
            ("version_entity", 0.30),
            ("modify_field", 0.25),
            ("borrow_attribute", 0.20),
            ("complex_update", 0.15),
            ("promote_to_root", 0.05),
            ("detach_entity", 0.05),
        ]
        .into_iter()
        .collect(),
        batch: BatchView {
            min_size: 3,
            max_size: 8,
            size_distribution: "uniform",
            mean_size: None,
            parent_probability: 0.0,
            parent_reach: 0,
        },
        retries: RetriesView {
            structural: 20,
            normal: 5,
            low_priority: 3,
            backoff_base_ms: 10,
            backoff_max_ms: 1000,
        },
        faults: FaultsView {
            failure_probability: 0.0,
            stall_probability: 0.0,
            stall_ms: 0,
        },
        thresholds: ThresholdsView {
            min_completion_rate: 0.15,
            max_memory_mb: 1000.0,
            min_rate_accuracy: 0.95,
            max_resolution_p99_us: None,
            max_execution_p99_us: None,
            max_submission_lateness_ms: None,
            min_real_work: 1,
            min_coverage: Vec::new(),
        },
        retention: RetentionView {
            versions: 64,
            history: 256,
        },
    }
}

fn by_priority(rows: [(&str, u64, u64, u64, u64); 4]) -> Named<PriorityCounts> {
    rows.into_iter()
        .map(|(name, submitted, succeeded, rejected, cancelled)| {
            let counts = PriorityCounts {
                submitted,
                succeeded,
                rejected,
                cancelled,
            };
            (name, counts)
        })
        .collect()
}

fn by_type(rows: [(&str, u64, u64, u64, u64, u64); 6]) -> Named<TypeCounts> {
    rows.into_iter()
        .map(
            |(name, submitted, succeeded, rejected, cancelled, failed_attempts)| {
                let counts = TypeCounts {
                    submitted,
                    succeeded,
                    rejected,
                    cancelled,
                    failed_attempts,
                };
                (name, counts)
            },
        )
        .collect()
}

fn latency(p: [u64; 5], mean: f64, count: u64) -> LatencySummary {
    LatencySummary {
        p50: p[0],
        p90: p[1],
        p99: p[2],
        p999: p[3],
        max: p[4],
        mean,
        count,
    }
}

fn passed_check(name: &str, detail: &str) -> CheckResult {
    CheckResult {
        exercised: true,
        id: CheckId::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .expect("a check name"),
        passed: true,
        detail: detail.to_owned(),
        violations: 0,
        first_violations: Vec::new(),
    }
}

fn violation(check: CheckId, op: Option<u64>, target: u32, rule: &str, detail: &str) -> Violation {
    Violation {
        check,
        op,
        target: Some(target),
        rule: rule.to_owned(),
        detail: detail.to_owned(),
    }
}

fn threshold(name: &str, limit: f64, observed: f64, passed: bool) -> ThresholdResult {
    ThresholdResult {
        name: name.to_owned(),
        limit,
        observed,
        passed,
    }
}

/// Contention over the brutal config's five targets.
fn five_targets() -> TargetContention {
    let hot = |target, ops, conflicts, rejections, commits| TargetCounts {
        target,
        ops,
        conflicts,
        rejections,
        commits,
    };
    TargetContention {
        targets: 5,
        targets_hit: 5,
        hottest: vec![
            hot(3, 322, 60, 262, 60),
            hot(0, 305, 57, 248, 57),
            hot(1, 298, 54, 244, 54),
            hot(4, 291, 52, 239, 52),
            hot(2, 286, 50, 236, 50),
        ],
        top_1_percent_share: 322.0 / 1_502.0,
        top_10_share: 1.0,
        gini: 0.023,
    }
}

/// The brutal config run for 15 s at 100 ops/s: every check and threshold
/// holds.
fn passed_brutal() -> RunReport {
    RunReport {
        coverage: Default::default(),
        schema_version: SCHEMA_VERSION,
        dynstress_version: "0.1.0".to_owned(),
        seed: 42,
        rerun: "dynstress run --config configs/brutal.toml --seed 42".to_owned(),
        config: brutal_config(),
        outcome: Outcome::new(ExitCode::Passed, false),
        duration_s: Durations {
            submission: 15.0,
            drain: 0.012,
            total: 15.013,
        },
        operations: Operations {
            submitted: 1_502,
            started: 279,
            succeeded: 273,
            rejected: 1_229,
            cancelled: 0,
            failed_attempts: 6,
            retried: 6,
            preempted: 4,
            in_flight_at_end: 0,
            in_flight_peak: 8,
            in_flight_waits: 0,
            by_priority: by_priority([
                ("LOW", 376, 38, 338, 0),
                ("NORMAL", 375, 61, 314, 0),
                ("HIGH", 376, 79, 297, 0),
                ("CRITICAL", 375, 95, 280, 0),
            ]),
            by_type: by_type([
                ("version_entity", 451, 82, 369, 0, 2),
                ("modify_field", 375, 68, 307, 0, 1),
                ("borrow_attribute", 300, 55, 245, 0, 1),
                ("complex_update", 225, 41, 184, 0, 2),
                ("promote_to_root", 76, 14, 62, 0, 0),
                ("detach_entity", 75, 13, 62, 0, 0),
            ]),
        },
        rates: Rates {
            target_ops_per_s: Some(100.0),
            achieved_ops_per_s: 100.13,
            missed_ops: 0,
            settled_ops_per_s: 100.04,
            succeeded_ops_per_s: 18.18,
            rejected_ops_per_s: 81.86,
            completion_rate: 273.0 / 1_502.0,
            model_completion_rate: 2.0 / 11.0,
            arrivals: None,
        },
        conflicts: Conflicts {
            detected: 277,
            resolved: 277,
            grace_saves: 11,
            preemptions: 4,
            ops_per_conflict: 5.42,
            by_size: sizes(&[(3, 46), (4, 47), (5, 46), (6, 46), (7, 46), (8, 46)]),
        },
        latency_us: Latencies {
            resolution: latency([2, 4, 9, 15, 31], 2.4, 277),
            execution: latency([3, 6, 14, 22, 48], 3.7, 279),
            end_to_end: latency([11, 19, 1_840, 2_210, 2_406], 43.9, 273),
            submission_lateness: Default::default(),
        },
        resources: Resources {
            rss_mb_avg: 9.4,
            rss_mb_max: 11.2,
            rss_mb_max_sampled: 11.2,
            cpu_user_s: 0.21,
            cpu_sys_s: 0.06,
        },
        integrity: Integrity {
            violations: 0,
            checks: vec![
                passed_check("accounting", "1,502 ops, each in exactly one final state"),
                passed_check("legal_transitions", "3,022 transitions, all legal"),
                passed_check(
                    "exclusive_execution",
                    "279 executions, never two on one target",
                ),
                passed_check(
                    "priority_rule",
                    "277 resolutions, 1,229 rejections named a winner",
                ),
                passed_check(
                    "grace_rule",
                    "4 preemptions, all after grace, all by higher priority",
                ),
                passed_check("replay", "5 targets reproduced exactly from 273 commits"),
                passed_check("versions", "5 lineages, 196 versions, chains intact"),
                passed_check("trees", "3 trees, 10 entities, index consistent"),
                passed_check("events", "4,810 events, none lost"),
            ],
            entities_modified: 5,
            versions_created: 191,
        },
        thresholds: vec![
            threshold("min_completion_rate", 0.15, 273.0 / 1_502.0, true),
            threshold("max_memory_mb", 1000.0, 11.2, true),
            threshold("min_rate_accuracy", 0.95, 1.0013, true),
        ],
        timeline: (1..=15)
            .map(|t| TimelinePoint {
                t_s: t,
                span_s: 1,
                submitted: 100 + t % 3,
                committed: 18 + t % 2,
                rejected: 81 - t % 2,
                settled: 99,
                in_flight: t % 3 + 1,
                retries: t % 2,
                grace_saves: t % 3,
                execution_p50_us: Some(3 + t % 2),
                execution_p99_us: Some(14 + t),
                end_to_end_p50_us: Some(11 + t % 4),
                end_to_end_p99_us: Some(1_800 + 10 * t),
                rss_mb: 9.0 + (t % 4) as f64 * 0.5,
                target_rate: Some(100.0),
                ..TimelinePoint::default()
            })
            .collect(),
        digests: None,
        targets: Some(five_targets()),
        work: WorkSummary {
            modifications: 273,
            real_work: 273,
            versions: 191,
            borrows: 55,
            structural_changes: 18,
            structural_noops: 9,
            capacity_mode: false,
            panics_caught: 0,
            cancelled_at_deadline: false,
            settled_all: true,
        },
    }
}

/// The same run with a broken resolver injected: two integrity checks
/// fail (priority rule and replay), exit 3.
fn failed_integrity() -> RunReport {
    let mut r = passed_brutal();
    r.outcome = Outcome::new(ExitCode::IntegrityFailed, false);
    r.integrity.violations = 5;
    let priority = |op, target, detail| {
        violation(
            CheckId::PriorityRule,
            Some(op),
            target,
            "winner outranked",
            detail,
        )
    };
    r.integrity.checks[3] = CheckResult {
        exercised: true,
        id: CheckId::PriorityRule,
        passed: false,
        detail: "273 conflicts and 1,229 rejections checked".to_owned(),
        violations: 3,
        first_violations: vec![
            priority(42, 3, "winner had priority 5 while pending op 44 had 8"),
            priority(
                1201,
                1,
                "winner had priority 2 while pending op 1203 had 10",
            ),
            priority(1297, 4, "winner had priority 5 while pending op 1296 had 8"),
        ],
    };
    let replay = |target, detail| {
        violation(
            CheckId::Replay,
            None,
            target,
            "store differs from replay",
            detail,
        )
    };
    r.integrity.checks[5] = CheckResult {
        exercised: true,
        id: CheckId::Replay,
        passed: false,
        detail: "273 commits replayed".to_owned(),
        violations: 2,
        first_violations: vec![
            replay(3, "counter is 4711 in the store, 4712 in the replay"),
            replay(
                1,
                "modification_history has 58 entries in the store, 57 in the replay",
            ),
        ],
    };
    r
}

/// Capacity mode, interrupted by Ctrl-C after 4.2 s of a 60 s run.
fn interrupted_capacity() -> RunReport {
    let mut config = brutal_config();
    config.duration_seconds = 60.0;
    config.operation_rate_per_second = TargetRate::Max;
    config.faults = FaultsView {
        failure_probability: 0.01,
        stall_probability: 0.005,
        stall_ms: 5,
    };
    config.thresholds.max_resolution_p99_us = Some(20.0);
    RunReport {
        coverage: Default::default(),
        schema_version: SCHEMA_VERSION,
        dynstress_version: "0.1.0".to_owned(),
        seed: 7,
        rerun: "dynstress run --config configs/max.toml --duration 60 --seed 7".to_owned(),
        config,
        outcome: Outcome::new(ExitCode::Interrupted, true),
        duration_s: Durations {
            submission: 4.2,
            drain: 0.31,
            total: 4.51,
        },
        operations: Operations {
            submitted: 4_812_344,
            started: 901_112,
            succeeded: 873_090,
            rejected: 3_939_001,
            cancelled: 253,
            failed_attempts: 28_022,
            retried: 27_511,
            preempted: 1_204,
            in_flight_at_end: 0,
            in_flight_peak: 8,
            in_flight_waits: 0,
            by_priority: by_priority([
                ("LOW", 1_203_086, 119_880, 1_083_150, 56),
                ("NORMAL", 1_203_086, 201_337, 1_001_690, 59),
                ("HIGH", 1_203_086, 250_021, 952_998, 67),
                ("CRITICAL", 1_203_086, 301_852, 901_163, 71),
            ]),
            by_type: by_type([
                ("version_entity", 1_443_703, 261_927, 1_181_700, 76, 8_407),
                ("modify_field", 1_203_086, 218_272, 984_750, 64, 7_006),
                ("borrow_attribute", 962_469, 174_618, 787_800, 51, 5_604),
                ("complex_update", 721_852, 130_964, 590_850, 38, 4_203),
                ("promote_to_root", 240_617, 43_655, 196_950, 12, 1_401),
                ("detach_entity", 240_617, 43_654, 196_951, 12, 1_401),
            ]),
        },
        rates: Rates {
            target_ops_per_s: None,
            achieved_ops_per_s: 1_145_796.2,
            missed_ops: 0,
            settled_ops_per_s: 1_067_038.6,
            succeeded_ops_per_s: 193_590.0,
            rejected_ops_per_s: 873_392.2,
            completion_rate: 873_090.0 / 4_812_344.0,
            model_completion_rate: 2.0 / 11.0,
            arrivals: None,
        },
        conflicts: Conflicts {
            detected: 874_294,
            resolved: 874_294,
            grace_saves: 310,
            preemptions: 1_204,
            ops_per_conflict: 5.5,
            by_size: sizes(&[(3, 500), (8, 500)]),
        },
        latency_us: Latencies {
            resolution: latency([1, 2, 6, 40, 5_120], 1.3, 874_294),
            execution: latency([1, 3, 9, 5_010, 5_330], 1.9, 901_112),
            end_to_end: latency([18, 240, 12_800, 48_100, 1_203_000], 311.7, 873_090),
            submission_lateness: Default::default(),
        },
        resources: Resources {
            rss_mb_avg: 88.1,
            rss_mb_max: 131.6,
            rss_mb_max_sampled: 131.6,
            cpu_user_s: 4.02,
            cpu_sys_s: 0.37,
        },
        integrity: Integrity {
            violations: 0,
            checks: vec![
                passed_check(
                    "accounting",
                    "4,812,344 ops, each in exactly one final state",
                ),
                passed_check("events", "14,661,210 events, none lost"),
            ],
            entities_modified: 5,
            versions_created: 612_418,
        },
        thresholds: vec![
            threshold("min_completion_rate", 0.15, 873_090.0 / 4_812_344.0, true),
            threshold("max_memory_mb", 1000.0, 131.6, true),
            threshold("max_resolution_p99_us", 20.0, 6.0, true),
        ],
        timeline: (1..=4)
            .map(|t| TimelinePoint {
                t_s: t,
                span_s: 1,
                submitted: 1_145_000,
                committed: 218_000,
                rejected: 849_000,
                settled: 1_067_000,
                in_flight: 78_000 * t,
                execution_p50_us: Some(2),
                execution_p99_us: Some(9),
                end_to_end_p50_us: Some(40),
                end_to_end_p99_us: Some(900 * t),
                rss_mb: 40.0 + 22.0 * t as f64,
                ..TimelinePoint::default()
            })
            .collect(),
        digests: None,
        targets: Some(five_targets()),
        work: WorkSummary {
            modifications: 873_090,
            real_work: 873_090,
            versions: 612_418,
            borrows: 174_618,
            structural_changes: 61_002,
            structural_noops: 26_307,
            capacity_mode: true,
            panics_caught: 0,
            cancelled_at_deadline: false,
            settled_all: true,
        },
    }
}

fn text_report(report: &RunReport, emoji: bool) -> String {
    text_at(report, emoji, text::TextStyle::DEFAULT_WIDTH)
}

fn text_at(report: &RunReport, emoji: bool, width: usize) -> String {
    let mut out = Vec::new();
    let style = text::TextStyle {
        emoji,
        color: false,
        width,
    };
    text::render(report, &mut out, style).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the text report is UTF-8")
}

fn json_report(report: &RunReport) -> String {
    let mut out = Vec::new();
    json::render(report, &mut out).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the JSON report is UTF-8")
}

#[test]
fn passed_brutal_text() {
    insta::assert_snapshot!(text_report(&passed_brutal(), true));
}

#[test]
fn passed_brutal_ascii() {
    insta::assert_snapshot!(text_report(&passed_brutal(), false));
}

#[test]
fn passed_brutal_json() {
    insta::assert_snapshot!(json_report(&passed_brutal()));
}

#[test]
fn failed_integrity_text() {
    insta::assert_snapshot!(text_report(&failed_integrity(), true));
}

#[test]
fn failed_integrity_ascii() {
    insta::assert_snapshot!(text_report(&failed_integrity(), false));
}

#[test]
fn failed_integrity_json() {
    insta::assert_snapshot!(json_report(&failed_integrity()));
}

#[test]
fn interrupted_text() {
    insta::assert_snapshot!(text_report(&interrupted_capacity(), true));
}

#[test]
fn interrupted_ascii() {
    insta::assert_snapshot!(text_report(&interrupted_capacity(), false));
}

#[test]
fn interrupted_json() {
    insta::assert_snapshot!(json_report(&interrupted_capacity()));
}

/// The snapshots pin the look; these pin the facts a reader relies on, so
/// that accepting a changed snapshot cannot quietly change them.
#[test]
fn verdicts_match_outcomes() {
    let passed = text_report(&passed_brutal(), true);
    assert!(
        passed.trim_end().ends_with(
            "✅ PASSED (exit 0) — every threshold held and every integrity check passed"
        )
    );
    let failed = text_report(&failed_integrity(), false);
    let last = failed.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("[FAIL] FAILED (exit 3) - integrity check failed: priority_rule, replay"),
        "{last}"
    );
    let interrupted = text_report(&interrupted_capacity(), true);
    assert!(
        interrupted
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("INTERRUPTED — partial run"))
    );
    // The verdict is the last paragraph (it may wrap).
    let verdict = interrupted
        .trim_end()
        .rsplit("\n\n")
        .next()
        .unwrap_or_default();
    assert!(
        verdict.starts_with("⚠️  INTERRUPTED (exit 130)"),
        "{verdict}"
    );
}

/// The conflict-size distribution from (ops, conflicts) pairs.
fn sizes(pairs: &[(u64, u64)]) -> Vec<ConflictSize> {
    pairs
        .iter()
        .map(|&(ops, conflicts)| ConflictSize { ops, conflicts })
        .collect()
}

// The same reports at the widths of a narrow pane, a classic terminal and
// a wide one: long lines wrap between words under their tree line, and
// tables stack their rows when their columns do not fit.

#[test]
fn passed_brutal_text_60() {
    insta::assert_snapshot!(text_at(&passed_brutal(), true, 60));
}

#[test]
fn passed_brutal_text_80() {
    insta::assert_snapshot!(text_at(&passed_brutal(), true, 80));
}

#[test]
fn passed_brutal_text_120() {
    insta::assert_snapshot!(text_at(&passed_brutal(), true, 120));
}

#[test]
fn interrupted_text_60() {
    insta::assert_snapshot!(text_at(&interrupted_capacity(), true, 60));
}

#[test]
fn failed_integrity_ascii_80() {
    insta::assert_snapshot!(text_at(&failed_integrity(), false, 80));
}
