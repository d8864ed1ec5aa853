//! Unit tests of the text report, through [`render`] and its parts.

use super::paint::{FANCY, Painter};
use super::sections::threshold_value;
use super::*;
use crate::report::model::{
    CheckId, CheckResult, ExitCode, Named, TargetRate, ThresholdResult, Violation,
};
use crate::report::sample_report;

const PLAIN: TextStyle = TextStyle {
    emoji: true,
    color: false,
    width: 100,
};
const ASCII_PLAIN: TextStyle = TextStyle {
    emoji: false,
    color: false,
    width: 100,
};

fn text(report: &RunReport, style: TextStyle) -> String {
    let mut out = Vec::new();
    render(report, &mut out, style).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the report is UTF-8")
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?} in:\n{text}"))
}

fn failed_integrity() -> RunReport {
    let mut r = sample_report();
    let violation = |op, target, detail: &str| Violation {
        check: CheckId::PriorityRule,
        op: Some(op),
        target: Some(target),
        rule: "winner outranked".to_owned(),
        detail: detail.to_owned(),
    };
    r.integrity.checks[3] = CheckResult {
        id: CheckId::PriorityRule,
        passed: false,
        exercised: true,
        detail: "273 resolutions checked".to_owned(),
        violations: 2,
        first_violations: vec![
            violation(42, 3, "winner priority 5 below pending 8"),
            violation(49, 1, "winner priority 2 below pending 10"),
        ],
    };
    r.integrity.violations = 2;
    r.outcome.passed = false;
    r.outcome.exit_code = ExitCode::IntegrityFailed;
    r
}

#[test]
fn ascii_mode_is_pure_ascii() {
    let mut r = failed_integrity();
    // Data may carry non-ASCII text of its own; it must be folded too.
    r.integrity.checks[0].detail = "p99 12 µs → fine · ok ✅".to_owned();
    r.config.priority_distribution = Named(vec![("NIEDRIG_Ä".to_owned(), 1.0)]);
    for report in [sample_report(), r] {
        let out = text(&report, ASCII_PLAIN);
        let bad: Vec<char> = out.chars().filter(|c| !c.is_ascii()).collect();
        assert!(bad.is_empty(), "non-ASCII {bad:?} in:\n{out}");
        assert!(out.contains("[CONFIG] Configuration"));
        assert!(out.contains("|- "));
        assert!(out.contains("`- "));
    }
}

#[test]
fn emoji_mode_draws_trees_and_icons() {
    let out = text(&sample_report(), PLAIN);
    for icon in [
        "📋", "⏱️", "🔧", "⚔️", "🔥", "🛡️", "⏲️", "💾", "📊", "🔍", "🎯",
    ] {
        assert!(out.contains(icon), "missing {icon}");
    }
    assert!(out.contains("├─ "));
    assert!(out.contains("└─ "));
    // A pipe continues past a line whose siblings follow its children.
    let failed = text(&failed_integrity(), PLAIN);
    assert!(failed.contains("   │  └─ "), "{failed}");
}

#[test]
fn sections_come_in_order() {
    let out = text(&sample_report(), ASCII_PLAIN);
    let tags = [
        "[CONFIG]",
        "[PERFORMANCE]",
        "[WORK]",
        "[CONFLICTS]",
        "[TARGETS]",
        "[GRACE]",
        "[LATENCY]",
        "[RESOURCES]",
        "[ACCOUNTING]",
        "[INTEGRITY]",
        "[ASSESSMENT]",
    ];
    let positions: Vec<usize> = tags
        .iter()
        .map(|t| out.find(t).unwrap_or_else(|| panic!("missing {t}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[test]
fn no_color_means_no_escape_codes() {
    for report in [sample_report(), failed_integrity()] {
        for emoji in [true, false] {
            let out = text(
                &report,
                TextStyle {
                    emoji,
                    color: false,
                    width: 100,
                },
            );
            assert!(!out.contains('\x1b'), "escape code in:\n{out}");
        }
    }
}

#[test]
fn escape_codes_in_data_are_neutralised() {
    let mut r = sample_report();
    r.integrity.checks[0].detail = "sneaky \x1b[31mred\x1b[0m".to_owned();
    let out = text(&r, PLAIN);
    assert!(!out.contains('\x1b'));
}

#[test]
fn color_means_escape_codes() {
    let out = text(
        &sample_report(),
        TextStyle {
            emoji: true,
            color: true,
            width: 100,
        },
    );
    assert!(out.contains('\x1b'));
    // Green for the verdict of a passed run (ANSI 32).
    assert!(line_with(&out, "PASSED").contains("\x1b[32"), "{out}");
    let failed = text(
        &failed_integrity(),
        TextStyle {
            emoji: false,
            color: true,
            width: 100,
        },
    );
    assert!(line_with(&failed, "FAILED (exit 3)").contains("\x1b[31"));
}

#[test]
fn verdict_for_each_outcome() {
    let passed = text(&sample_report(), PLAIN);
    assert!(passed.contains("✅ PASSED (exit 0)"), "{passed}");
    assert!(!passed.contains("FAILED"));
    assert!(!passed.contains("INTERRUPTED"));

    let integrity = text(&failed_integrity(), PLAIN);
    let verdict = line_with(&integrity, "FAILED");
    assert!(verdict.starts_with("❌ FAILED (exit 3)"), "{verdict}");
    assert!(verdict.contains("integrity check failed: priority_rule"));

    let mut threshold = sample_report();
    threshold.thresholds[0].passed = false;
    threshold.thresholds[0].observed = 0.12;
    threshold.outcome.passed = false;
    threshold.outcome.exit_code = ExitCode::ThresholdFailed;
    let out = text(&threshold, ASCII_PLAIN);
    let verdict = line_with(&out, "FAILED");
    assert!(verdict.starts_with("[FAIL] FAILED (exit 1)"), "{verdict}");
    assert!(verdict.contains("threshold not met: min_completion_rate"));
    assert!(out.contains("[FAIL] min_completion_rate: 12.0% (limit >= 15.0%)"));

    let mut interrupted = sample_report();
    interrupted.outcome = crate::report::model::Outcome::new(ExitCode::Interrupted, true);
    let out = text(&interrupted, PLAIN);
    let first_lines: Vec<&str> = out.lines().take(2).collect();
    assert!(
        first_lines[1].contains("INTERRUPTED — partial run"),
        "{first_lines:?}"
    );
    assert!(line_with(&out, "(exit 130)").contains("INTERRUPTED"));
    assert!(!out.contains("PASSED"));
    let ascii = text(&interrupted, ASCII_PLAIN);
    assert!(ascii.contains("INTERRUPTED - partial run"));
}

#[test]
fn accounting_balances_from_the_numbers() {
    let out = text(&sample_report(), PLAIN);
    let line = line_with(&out, "submitted = succeeded");
    assert!(line.contains("✅"), "{line}");
    assert!(line.contains("1,502 = 273 + 1,229 + 0"), "{line}");

    // The outcome claims a pass, but the numbers do not add up.
    let mut r = sample_report();
    r.operations.rejected -= 1;
    let out = text(&r, PLAIN);
    let line = line_with(&out, "submitted = succeeded");
    assert!(line.contains("❌"), "{line}");
    assert!(
        line.contains("1,502 ≠ 273 + 1,228 + 0 (1 unaccounted)"),
        "{line}"
    );

    r.operations.rejected += 2;
    let out = text(&r, ASCII_PLAIN);
    let line = line_with(&out, "submitted = succeeded");
    assert!(line.contains("[FAIL]"), "{line}");
    assert!(line.contains("!="), "{line}");
}

#[test]
fn in_flight_at_end_is_judged() {
    let mut r = sample_report();
    r.operations.in_flight_at_end = 4;
    let accounting = |r: &RunReport| {
        let out = text(r, PLAIN);
        let start = out.find("Operation accounting").unwrap_or(0);
        out[start..].to_owned()
    };
    assert!(line_with(&accounting(&r), "in flight at end: 4").contains("❌"));
    let passed = accounting(&sample_report());
    assert!(line_with(&passed, "in flight at end: 0").contains("✅"));
}

#[test]
fn failing_checks_show_their_violations() {
    let out = text(&failed_integrity(), PLAIN);
    let line = line_with(&out, "priority_rule (2 violations)");
    assert!(line.contains("❌"), "{line}");
    // A failed check never shows what it would have covered.
    assert!(!line.contains("resolutions checked"), "{line}");
    // Each violation sits under the check, naming op, target and rule.
    assert!(
        out.contains("│  ├─ op-0000002a on target 3: winner outranked: winner priority 5"),
        "{out}"
    );
    assert!(out.contains("│  └─ op-00000031 on target 1"), "{out}");
    assert!(line_with(&out, "violations: 2").contains("❌"));
    assert!(line_with(&out, "integrity: 1 of 9 checks failed (priority_rule)").contains("❌"));
    assert!(line_with(&out, "replay").contains("✅"));
}

#[test]
fn configuration_shows_the_config_and_the_seed() {
    let out = text(&sample_report(), PLAIN);
    assert!(out.contains("seed: 42\n"));
    assert!(out.contains("rerun: dynstress run --config configs/brutal.toml --seed 42"));
    assert!(out.contains("rate: 100.0 ops/s"));
    assert!(out.contains("batch size: 3–8 ops"));
    assert!(
        out.contains(
            "priority distribution: LOW 25.0% · NORMAL 25.0% · HIGH 25.0% · CRITICAL 25.0%"
        )
    );
    assert!(out.contains("faults: none"));

    let mut r = sample_report();
    r.config.operation_rate_per_second = TargetRate::Max;
    r.rates.target_ops_per_s = None;
    r.seed = 7;
    let out = text(&r, PLAIN);
    assert!(out.contains("rate: max (capacity mode, at most 100,000 in flight)"));
    assert!(out.contains("seed: 7\n"));
    assert!(!out.contains("digests:"));

    // On the virtual clock the digests identify the run.
    let mut r = sample_report();
    let digests = |clock: &str| crate::report::model::Digests {
        clock: clock.to_owned(),
        events: "00aa".to_owned(),
        store: "11bb".to_owned(),
    };
    r.digests = Some(digests("virtual"));
    assert!(text(&r, PLAIN).contains("digests: events 00aa · store 11bb"));
    r.digests = Some(digests("real"));
    assert!(!text(&r, PLAIN).contains("digests:"));
}

#[test]
fn performance_shows_model_beside_completion_rate() {
    let out = text(&sample_report(), PLAIN);
    assert!(
        out.contains("completion rate: 18.2% (model 2/(3+8) = 18.2%)"),
        "{out}"
    );
    assert!(out.contains("rejection rate: 81.8%"));
    assert!(out.contains("rate: 100.1 ops/s achieved of 100.0 ops/s target (100.1%)"));
}

#[test]
fn tables_align_their_columns() {
    let full = text(&sample_report(), PLAIN);
    let at = full.find("by priority").unwrap_or(0);
    let out = &full[full[..at].rfind('\n').map_or(0, |i| i + 1)..];
    let header = line_with(out, "by priority");
    let low = line_with(out, "LOW ");
    let critical = line_with(out, "CRITICAL ");
    // Right-aligned columns end at the same character position.
    let end = |l: &str| l.chars().count();
    assert_eq!(end(header), end(low), "\n{header}\n{low}");
    assert_eq!(end(low), end(critical));
    let col = |l: &str, needle: &str| {
        let byte = l.find(needle).unwrap_or(0) + needle.len();
        l[..byte].chars().count()
    };
    assert_eq!(col(header, "submitted"), col(low, "376"));
}

#[test]
fn thresholds_use_their_units() {
    let g = &FANCY;
    assert_eq!(threshold_value("max_memory_mb", 11.24, g), "11.2 MB");
    assert_eq!(threshold_value("max_execution_p99_us", 14.0, g), "14 µs");
    assert_eq!(threshold_value("min_completion_rate", 0.15, g), "15.0%");
    assert_eq!(threshold_value("min_rate_accuracy", 0.95, g), "95.0%");
    assert_eq!(threshold_value("min_settled_ops", 3.0, g), "3");
    let mut r = sample_report();
    r.thresholds.push(ThresholdResult {
        name: "max_execution_p99_us".to_owned(),
        limit: 20.0,
        observed: 14.0,
        passed: true,
    });
    let out = text(&r, PLAIN);
    assert!(out.contains("✅ max_execution_p99_us: 14 µs (limit ≤ 20 µs)"));
}

#[test]
fn memory_status_judges_the_peak() {
    let mut r = sample_report();
    let out = text(&r, PLAIN);
    assert!(line_with(&out, "memory status").contains("✅"));
    r.resources.rss_mb_max = 1_200.0;
    let out = text(&r, PLAIN);
    let line = line_with(&out, "memory status");
    assert!(
        line.contains("❌") && line.contains("over the 1,000 MB limit"),
        "{line}"
    );
}

#[test]
fn panics_are_flagged() {
    let mut r = sample_report();
    assert!(!line_with(&text(&r, PLAIN), "panics caught").contains("❌"));
    r.work.panics_caught = 2;
    assert!(line_with(&text(&r, PLAIN), "panics caught: 2").contains("❌"));
}

#[test]
fn zero_submissions_do_not_divide_by_zero() {
    let mut r = sample_report();
    r.operations = Default::default();
    r.duration_s.total = 0.0;
    let out = text(&r, PLAIN);
    assert!(out.contains("rejection rate: n/a"));
    assert!(!out.contains("NaN") && !out.contains("inf"));
}

#[test]
fn ascii_fold_covers_common_symbols() {
    let p = Painter::new(ASCII_PLAIN);
    assert_eq!(p.clean("12 µs ≥ 3 → x · y — z"), "12 us >= 3 -> x | y - z");
    assert_eq!(p.clean("a\tb\nc"), "a b c");
    assert_eq!(p.clean("日本"), "??");
    let fancy = Painter::new(PLAIN);
    assert_eq!(fancy.clean("12 µs"), "12 µs");
}

fn text_at(report: &RunReport, width: usize, emoji: bool) -> String {
    let style = TextStyle {
        emoji,
        color: false,
        width,
    };
    text(report, style)
}

fn capacity_report() -> RunReport {
    let mut r = sample_report();
    r.config.operation_rate_per_second = TargetRate::Max;
    r.rates.target_ops_per_s = None;
    r.work.capacity_mode = true;
    r.rates.succeeded_ops_per_s = 812_345.6;
    r.rates.rejected_ops_per_s = 3_247_400.1;
    r.rates.settled_ops_per_s = 4_059_745.7;
    r
}

#[test]
fn no_line_is_wider_than_the_width() {
    for width in [60, 80, 120] {
        for report in [sample_report(), failed_integrity(), capacity_report()] {
            for emoji in [true, false] {
                let out = text_at(&report, width, emoji);
                // The rerun command is kept whole, to paste.
                for line in out.lines().filter(|l| !l.contains("rerun: ")) {
                    assert!(
                        super::layout::width(line) <= width,
                        "{width} columns: {line:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn wrapped_lines_keep_the_tree() {
    let out = text_at(&failed_integrity(), 60, true);
    // The continuation of a check's line hangs under its tree line, with
    // the line down to its violations.
    let at = out.find("priority_rule (2 violations)").unwrap();
    let after: Vec<&str> = out[at..].lines().take(4).collect();
    assert!(after[1].starts_with("   │  ├─ op-0000002a"), "{after:?}");
    assert!(after[2].starts_with("   │  │     "), "{after:?}");
    // Tables that do not fit stack their rows.
    assert!(out.contains("version_entity: submitted 451 ·"), "{out}");
    let wide = text_at(&failed_integrity(), 120, true);
    assert!(
        wide.contains("└─ by type              submitted  succeeded"),
        "{wide}"
    );
}

#[test]
fn capacity_mode_leads_with_compact_throughput_and_no_model() {
    let out = text_at(&capacity_report(), 100, true);
    assert!(
        out.contains("succeeded: 812 k ops/s (their transaction committed)"),
        "{out}"
    );
    assert!(out.contains("rejected: 3.25 M ops/s"), "{out}");
    assert!(out.contains("settled: 4.06 M ops/s"), "{out}");
    assert!(!out.contains("model 2/"), "{out}");
    assert!(out.contains("not judged"), "{out}");
    assert!(!out.contains("--events was on"), "{out}");
    let mut with_events = capacity_report();
    with_events.outcome.events_complete = Some(true);
    let out = text_at(&with_events, 100, true);
    assert!(line_with(&out, "--events was on").contains("⚠️"), "{out}");
    // A fixed-rate run keeps the model and gives no such warning.
    let mut fixed = sample_report();
    fixed.outcome.events_complete = Some(true);
    let out = text_at(&fixed, 100, true);
    assert!(out.contains("model 2/(3+8)"), "{out}");
    assert!(!out.contains("--events was on"), "{out}");
    // Poisson sizes: the model is not the uniform formula.
    fixed.config.batch.size_distribution = "poisson";
    fixed.config.batch.mean_size = Some(5.0);
    let out = text_at(&fixed, 100, true);
    assert!(
        out.contains("model 1/E[size], Poisson mean 5 clamped to 3..=8 = "),
        "{out}"
    );
}

#[test]
fn injected_panics_are_not_failures() {
    let mut r = sample_report();
    r.work.panics_caught = 3;
    r.config.faults.failure_probability = 0.02;
    let line = line_with(&text(&r, PLAIN), "panics caught: 3").to_owned();
    assert!(!line.contains("❌"), "{line}");
    assert!(line.contains("caught on purpose"), "{line}");
}

#[test]
fn hot_targets_show_the_skew_and_the_hottest() {
    let out = text(&sample_report(), PLAIN);
    assert!(out.contains("🔥 Hot targets"), "{out}");
    assert!(out.contains("targets hit: 5 of 5"), "{out}");
    assert!(line_with(&out, "skew:").contains("Gini 0.02"), "{out}");
    let hottest = line_with(&out, "target 3");
    assert!(hottest.contains("322"), "{hottest}");
    let mut none = sample_report();
    none.targets = None;
    assert!(!text(&none, PLAIN).contains("Hot targets"));
}

#[test]
fn baseline_regressions_read_as_percentages() {
    let mut r = sample_report();
    r.thresholds.push(ThresholdResult {
        name: "max_regression_execution_p99".to_owned(),
        limit: 0.10,
        observed: 0.5,
        passed: false,
    });
    let out = text(&r, PLAIN);
    assert!(
        out.contains("❌ max_regression_execution_p99: 50.0% (limit ≤ 10.0%)"),
        "{out}"
    );
}

/// The one line a quiet run prints when it did not pass: an output that
/// could not be written after a run that passed says both, without
/// calling the passed run's verdict a failure reason.
#[test]
fn the_one_line_summary_of_a_passed_run_with_a_failed_output() {
    let r = sample_report();
    assert!(r.outcome.passed);
    let line = super::summary(&r, ExitCode::CouldNotRun);
    assert!(line.starts_with("FAILED (exit 4): "), "{line}");
    assert!(
        line.ends_with("the run itself passed its checks and thresholds"),
        "{line}"
    );
    assert!(!line.contains("passed: "), "{line}");
}

/// The rate gate shows both its sides, and a slow target rate is not
/// printed as 0; a staged rate shows its stages.
#[test]
fn the_rate_gate_shows_both_sides_and_slow_or_staged_rates_read_right() {
    let out = text(&sample_report(), ASCII_PLAIN);
    assert!(
        out.contains("min_rate_accuracy: 100.1% (limit >= 95.0%, <= 105.0% or one batch over)"),
        "{out}"
    );
    let mut r = sample_report();
    r.config.operation_rate_per_second = TargetRate::PerSecond(0.0001);
    assert!(text(&r, ASCII_PLAIN).contains("rate: 0.0001 ops/s"));
    let mut r = sample_report();
    r.config.start_rate_per_second = Some(0.0);
    r.config.stages = Some(vec![
        crate::report::model::StageView {
            duration_seconds: 10.0,
            rate_per_second: 200.0,
        },
        crate::report::model::StageView {
            duration_seconds: 5.0,
            rate_per_second: 0.0,
        },
    ]);
    let out = text(&r, ASCII_PLAIN);
    assert!(
        out.contains("rate: mean 100.0 ops/s over [[stages]]: from 0.0 -> 200.0 in 10 s"),
        "{out}"
    );
    assert!(out.contains("-> 0.0 in 5 s (ops/s)"), "{out}");
}
