//! Report rendering: what a run tells the person (or the CI job) reading it.
//!
//! [`model`] is the report as data, filled in by the harness once a run is
//! over, verdict included; it is the single source every renderer reads, so
//! the text and the JSON can never disagree. [`text`] draws it as a
//! sectioned tree (emoji and box-drawing characters, or plain ASCII for logs
//! that mangle them), [`json`] writes it as the machine contract, and
//! [`compare`] sets two JSON reports side by side for baselines, and
//! [`export`] is the one seam through which every output format reaches its
//! file or stream. [`progress`] and [`live`] show a run while it is still
//! going. Number formatting lives here, in [`format`], so that a count or a
//! rate reads the same everywhere it appears.
//!
//! This module depends on its model alone: it never computes a verdict and
//! never reads the engine's, the config's or the checks' types.
//!
//! Renderers write to a `dyn Write` handed to them and never pick the
//! terminal, the colours or the emoji themselves: the binary decides those
//! once, from its flags and environment, and tests capture the output.

mod charts;
pub mod compare;
mod csv;
mod direct;
pub mod explore;
pub mod export;
mod html;
pub mod json;
mod junit;
pub(crate) mod live;
mod markdown;
mod markup;
pub mod model;
pub mod progress;
pub mod text;

/// Number formatting shared by every renderer.
///
/// Counts get thousands separators, percentages and rates one decimal,
/// durations a unit picked from their size. Non-finite values (a rate over
/// zero seconds, say) print as `n/a` instead of `NaN` or `inf`.
pub mod format {
    /// A count with thousands separators: `1234567` → `"1,234,567"`.
    pub fn count(n: u64) -> String {
        group_digits(&n.to_string())
    }

    /// A number with `places` decimals and thousands separators in its
    /// integer part: `(1234.56, 1)` → `"1,234.6"`.
    pub(crate) fn decimal(v: f64, places: usize) -> String {
        if !v.is_finite() {
            return NOT_AVAILABLE.to_owned();
        }
        let raw = format!("{:.*}", places, v.abs());
        let (int, frac) = match raw.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (raw.as_str(), None),
        };
        // `-0.0` and values that round to zero print without a sign.
        let negative = v < 0.0 && raw.bytes().any(|b| b.is_ascii_digit() && b != b'0');
        let mut s = String::with_capacity(raw.len() + 4);
        if negative {
            s.push('-');
        }
        s.push_str(&group_digits(int));
        if let Some(f) = frac {
            s.push('.');
            s.push_str(f);
        }
        s
    }

    /// A fraction as a percentage with one decimal: `0.1815` → `"18.2%"`.
    pub(crate) fn percent(fraction: f64) -> String {
        if !fraction.is_finite() {
            return NOT_AVAILABLE.to_owned();
        }
        format!("{}%", decimal(fraction * 100.0, 1))
    }

    /// A rate with one decimal: `1234.56` → `"1,234.6"` (the caller adds
    /// the unit); below 0.05, to its first two significant digits, so a
    /// slow rate does not print as 0: `0.0001` → `"0.0001"`.
    pub(crate) fn rate(per_second: f64) -> String {
        let abs = per_second.abs();
        if abs > 0.0 && abs < 0.05 {
            let places = (-abs.log10().floor()) as usize + 1;
            let text = format!("{per_second:.places$}");
            return text.trim_end_matches('0').to_owned();
        }
        decimal(per_second, 1)
    }

    /// A rate or count in three significant figures with an SI suffix, for
    /// headlines and live lines: `4_059_745.7` → `"4.06 M"`, `18_180.0` →
    /// `"18.2 k"`, `100.13` → `"100.1"`, `7.0` → `"7.0"`.
    pub(crate) fn compact(v: f64) -> String {
        if !v.is_finite() {
            return NOT_AVAILABLE.to_owned();
        }
        let abs = v.abs();
        if abs < 999.95 {
            return decimal(v, 1);
        }
        let mut scaled = v;
        let mut suffix = "";
        for s in ["k", "M", "G", "T"] {
            scaled /= 1000.0;
            suffix = s;
            // Rounded to three figures, 999.96 k must read 1.00 M.
            if scaled.abs() < 999.5 {
                break;
            }
        }
        let places = if scaled.abs() < 9.995 {
            2
        } else if scaled.abs() < 99.95 {
            1
        } else {
            0
        };
        format!("{} {suffix}", decimal(scaled, places))
    }

    /// A count in the style of [`compact`], whole below a thousand:
    /// `182` → `"182"`, `1_002` → `"1.00 k"`.
    pub(crate) fn compact_count(n: u64) -> String {
        if n < 1000 {
            n.to_string()
        } else {
            compact(n as f64)
        }
    }

    /// A number as short as it can be written exactly (up to 3 decimals):
    /// `15.0` → `"15"`, `0.2` → `"0.2"`, `100000.0` → `"100,000"`. For
    /// config values, which were typed by a person.
    pub(crate) fn number(v: f64) -> String {
        if !v.is_finite() {
            return NOT_AVAILABLE.to_owned();
        }
        let s = decimal(v, 3);
        match s.split_once('.') {
            Some((int, frac)) => {
                let frac = frac.trim_end_matches('0');
                if frac.is_empty() {
                    int.to_owned()
                } else {
                    format!("{int}.{frac}")
                }
            }
            None => s,
        }
    }

    /// Seconds with two decimals: `15.0234` → `"15.02 s"`.
    pub(crate) fn seconds(s: f64) -> String {
        format!("{} s", decimal(s, 2))
    }

    /// A duration in microseconds with a unit picked from its size:
    /// `12` → `"12 µs"`, `2.6` → `"2.6 µs"`, `1234` → `"1.2 ms"`,
    /// `2_500_000` → `"2.50 s"`. `ascii` writes `us` for `µs`.
    pub(crate) fn micros(us: f64, ascii: bool) -> String {
        if !us.is_finite() {
            return NOT_AVAILABLE.to_owned();
        }
        let micro = if ascii { "us" } else { "µs" };
        // Thresholds sit where rounding would carry into the next unit, so
        // 999,999 µs reads "1.00 s", never "1,000.0 ms".
        let abs = us.abs();
        if abs >= 999_950.0 {
            format!("{} s", decimal(us / 1_000_000.0, 2))
        } else if abs >= 999.5 {
            format!("{} ms", decimal(us / 1_000.0, 1))
        } else if abs < 10.0 && us.fract() != 0.0 {
            format!("{} {micro}", decimal(us, 1))
        } else {
            format!("{} {micro}", decimal(us, 0))
        }
    }

    /// `part / whole`, or `None` when `whole` is zero.
    pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
        (whole != 0).then(|| part as f64 / whole as f64)
    }

    /// What a figure that cannot be computed prints as.
    pub(crate) const NOT_AVAILABLE: &str = "n/a";

    /// Insert a comma every three digits from the right of a digit string.
    fn group_digits(digits: &str) -> String {
        let len = digits.len();
        let mut s = String::with_capacity(len + len / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (len - i).is_multiple_of(3) {
                s.push(',');
            }
            s.push(c);
        }
        s
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn counts_group_thousands() {
            let cases = [
                (0, "0"),
                (7, "7"),
                (999, "999"),
                (1_000, "1,000"),
                (1_002, "1,002"),
                (123_456, "123,456"),
                (1_234_567, "1,234,567"),
                (u64::MAX, "18,446,744,073,709,551,615"),
            ];
            for (n, want) in cases {
                assert_eq!(count(n), want, "count({n})");
            }
        }

        #[test]
        fn decimals_round_and_group() {
            let cases = [
                (1234.56, 1, "1,234.6"),
                (0.04, 1, "0.0"),
                (-0.04, 1, "0.0"),
                (-1234.5, 2, "-1,234.50"),
                (999.96, 1, "1,000.0"),
                (42.0, 0, "42"),
                (f64::NAN, 1, "n/a"),
                (f64::INFINITY, 1, "n/a"),
            ];
            for (v, places, want) in cases {
                assert_eq!(decimal(v, places), want, "decimal({v}, {places})");
            }
        }

        #[test]
        fn percentages_have_one_decimal() {
            assert_eq!(percent(0.1816), "18.2%");
            assert_eq!(percent(0.1814), "18.1%");
            assert_eq!(percent(2.0 / 11.0), "18.2%");
            assert_eq!(percent(1.0), "100.0%");
            assert_eq!(percent(0.0), "0.0%");
            assert_eq!(percent(f64::NAN), "n/a");
        }

        #[test]
        fn rates_have_one_decimal() {
            assert_eq!(rate(100.0), "100.0");
            assert_eq!(rate(99.94), "99.9");
            assert_eq!(rate(1_234_567.89), "1,234,567.9");
        }

        #[test]
        fn compact_numbers_keep_three_figures() {
            let cases = [
                (0.0, "0.0"),
                (7.0, "7.0"),
                (100.13, "100.1"),
                (999.9, "999.9"),
                (999.96, "1.00 k"),
                (18_180.0, "18.2 k"),
                (406_000.0, "406 k"),
                (999_600.0, "1.00 M"),
                (4_059_745.7, "4.06 M"),
                (40_597_457.0, "40.6 M"),
                (2.5e9, "2.50 G"),
                (f64::NAN, "n/a"),
            ];
            for (v, want) in cases {
                assert_eq!(compact(v), want, "compact({v})");
            }
            assert_eq!(compact_count(182), "182");
            assert_eq!(compact_count(40_597_457), "40.6 M");
        }

        #[test]
        fn numbers_are_as_short_as_exact() {
            assert_eq!(number(15.0), "15");
            assert_eq!(number(0.2), "0.2");
            assert_eq!(number(0.125), "0.125");
            assert_eq!(number(100_000.0), "100,000");
            assert_eq!(number(2.5), "2.5");
        }

        #[test]
        fn micros_pick_a_unit() {
            let cases = [
                (0.0, "0 µs"),
                (12.0, "12 µs"),
                (2.6, "2.6 µs"),
                (12.4, "12 µs"),
                (999.0, "999 µs"),
                (1_234.0, "1.2 ms"),
                (999.7, "1.0 ms"),
                (999_999.0, "1.00 s"),
                (2_500_000.0, "2.50 s"),
            ];
            for (us, want) in cases {
                assert_eq!(micros(us, false), want, "micros({us})");
            }
            assert_eq!(micros(12.0, true), "12 us");
            assert_eq!(micros(1_234.0, true), "1.2 ms");
        }

        #[test]
        fn seconds_have_two_decimals() {
            assert_eq!(seconds(15.0234), "15.02 s");
            assert_eq!(seconds(0.0), "0.00 s");
        }

        #[test]
        fn ratio_guards_zero() {
            assert_eq!(ratio(1, 4), Some(0.25));
            assert_eq!(ratio(3, 0), None);
        }
    }
}

/// A realistic report for the renderers' unit tests: a passed brutal run.
#[cfg(test)]
pub(crate) fn sample_report() -> model::RunReport {
    use model::*;

    let by_priority: Named<PriorityCounts> = [
        ("LOW", 376, 41, 335),
        ("NORMAL", 375, 62, 313),
        ("HIGH", 376, 78, 298),
        ("CRITICAL", 375, 92, 283),
    ]
    .into_iter()
    .map(|(name, submitted, succeeded, rejected)| {
        let counts = PriorityCounts {
            submitted,
            succeeded,
            rejected,
            cancelled: 0,
        };
        (name, counts)
    })
    .collect();
    let by_type: Named<TypeCounts> = [
        ("version_entity", 451, 82, 369, 2),
        ("modify_field", 375, 68, 307, 1),
        ("borrow_attribute", 300, 55, 245, 0),
        ("complex_update", 225, 41, 184, 0),
        ("promote_to_root", 76, 14, 62, 0),
        ("detach_entity", 75, 13, 62, 0),
    ]
    .into_iter()
    .map(|(name, submitted, succeeded, rejected, failed_attempts)| {
        let counts = TypeCounts {
            submitted,
            succeeded,
            rejected,
            cancelled: 0,
            failed_attempts,
        };
        (name, counts)
    })
    .collect();
    let latency = |p50, p90, p99, p999, max, mean, count| LatencySummary {
        p50,
        p90,
        p99,
        p999,
        max,
        mean,
        count,
    };
    let check = |id: CheckId, detail: &str| CheckResult {
        id,
        passed: true,
        exercised: true,
        detail: detail.to_owned(),
        violations: 0,
        first_violations: Vec::new(),
    };
    let threshold = |name: &str, limit, observed| ThresholdResult {
        name: name.to_owned(),
        limit,
        observed,
        passed: true,
    };
    RunReport {
        schema_version: SCHEMA_VERSION,
        dynstress_version: "0.1.0".to_owned(),
        seed: 42,
        rerun: "dynstress run --config configs/brutal.toml --seed 42".to_owned(),
        config: sample_config(),
        outcome: Outcome::new(ExitCode::Passed, false),
        duration_s: Durations {
            submission: 15.0,
            drain: 0.012,
            total: 15.013,
        },
        operations: Operations {
            submitted: 1_502,
            started: 276,
            succeeded: 273,
            rejected: 1_229,
            cancelled: 0,
            failed_attempts: 3,
            retried: 3,
            preempted: 0,
            in_flight_at_end: 0,
            in_flight_peak: 8,
            in_flight_waits: 0,
            by_priority,
            by_type,
        },
        rates: Rates {
            target_ops_per_s: Some(100.0),
            achieved_ops_per_s: 100.13,
            missed_ops: 0,
            settled_ops_per_s: 100.05,
            succeeded_ops_per_s: 18.18,
            rejected_ops_per_s: 81.86,
            completion_rate: 273.0 / 1_502.0,
            model_completion_rate: 2.0 / 11.0,
            arrivals: None,
        },
        conflicts: Conflicts {
            detected: 273,
            resolved: 273,
            grace_saves: 0,
            preemptions: 0,
            ops_per_conflict: 5.5,
            by_size: [(3, 50), (4, 45), (5, 46), (6, 44), (7, 44), (8, 44)]
                .into_iter()
                .map(|(ops, conflicts)| ConflictSize { ops, conflicts })
                .collect(),
        },
        latency_us: Latencies {
            resolution: latency(2, 4, 9, 15, 31, 2.4, 273),
            execution: latency(3, 6, 14, 22, 48, 3.7, 276),
            end_to_end: latency(11, 19, 1_840, 2_210, 2_400, 43.9, 273),
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
                check(CheckId::Accounting, "1,502 ops, each in one final state"),
                check(CheckId::LegalTransitions, "3,010 transitions checked"),
                check(
                    CheckId::ExclusiveExecution,
                    "276 executions, never two at once",
                ),
                check(CheckId::PriorityRule, "273 resolutions checked"),
                check(CheckId::GraceRule, "0 preemptions"),
                check(CheckId::Replay, "5 targets reproduced exactly"),
                check(CheckId::Versions, "5 lineages, 196 versions"),
                check(CheckId::Trees, "3 trees, 10 entities"),
                check(CheckId::Events, "4,788 events, none lost"),
            ],
            entities_modified: 5,
            versions_created: 191,
        },
        thresholds: vec![
            threshold("min_completion_rate", 0.15, 273.0 / 1_502.0),
            threshold("max_memory_mb", 1000.0, 11.2),
            threshold("min_rate_accuracy", 0.95, 1.0013),
        ],
        coverage: Coverage::default(),
        timeline: (1..=3)
            .map(|t| TimelinePoint {
                t_s: t,
                span_s: 1,
                submitted: 100 + t,
                committed: 18,
                rejected: 80 + t,
                settled: 98 + t,
                in_flight: 2 * t,
                execution_p50_us: Some(3),
                execution_p99_us: Some(14),
                end_to_end_p50_us: Some(11),
                end_to_end_p99_us: Some(1_840),
                rss_mb: 9.0 + t as f64 * 0.1,
                target_rate: Some(100.0),
                ..TimelinePoint::default()
            })
            .collect(),
        digests: None,
        targets: Some(TargetContention {
            targets: 5,
            targets_hit: 5,
            hottest: [(3, 322, 60), (0, 305, 57), (1, 298, 54)]
                .into_iter()
                .map(|(target, ops, commits)| TargetCounts {
                    target,
                    ops,
                    conflicts: commits,
                    rejections: ops - commits,
                    commits,
                })
                .collect(),
            top_1_percent_share: 322.0 / 1_502.0,
            top_10_share: 1.0,
            gini: 0.023,
        }),
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

/// The brutal config as the report shows it, for the renderers' tests.
#[cfg(test)]
pub(crate) fn sample_config() -> model::ConfigView {
    use model::*;

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
