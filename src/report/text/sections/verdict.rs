//! The sections that tell what was proved and decided.

use crate::check::offline::NOT_CHECKABLE;
use crate::report::format::{count, decimal, number, percent};
use crate::report::model::{Coverage, ExitCode, Integrity, RunReport};
use crate::report::text::layout::{Node, Section, items};
use crate::report::text::paint::{Glyphs, Mark};

/// Why a failed run failed: the class its exit code stands for, then the
/// names of what failed.
pub(in crate::report::text) fn failure_reason(report: &RunReport) -> String {
    let failed_checks: Vec<&str> = report
        .integrity
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.id.name())
        .collect();
    let failed_thresholds: Vec<&str> = report
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| t.name.as_str())
        .collect();
    let integrity = if failed_checks.is_empty() {
        "an integrity check failed: the engine did something wrong".to_owned()
    } else {
        format!("integrity check failed: {}", failed_checks.join(", "))
    };
    let threshold = if failed_thresholds.is_empty() {
        "a threshold was not met".to_owned()
    } else {
        format!("threshold not met: {}", failed_thresholds.join(", "))
    };
    let mut reason = match report.outcome.exit_code {
        ExitCode::IntegrityFailed if failed_thresholds.is_empty() => integrity,
        ExitCode::IntegrityFailed => format!("{integrity}; {threshold}"),
        ExitCode::ThresholdFailed => threshold,
        ExitCode::CouldNotRun if !report.outcome.errors.is_empty() => {
            format!("could not run: {}", report.outcome.errors.join("; "))
        }
        code => code.meaning().to_owned(),
    };
    if report.outcome.exit_code != ExitCode::CouldNotRun && !report.outcome.errors.is_empty() {
        reason.push_str("; ");
        reason.push_str(&report.outcome.errors.join("; "));
    }
    reason
}

pub(in crate::report::text) fn accounting(report: &RunReport, g: &Glyphs) -> Section {
    let o = &report.operations;
    // Added in u128 so that no set of u64 counters can overflow the check.
    let settled = u128::from(o.succeeded) + u128::from(o.rejected) + u128::from(o.cancelled);
    let submitted = u128::from(o.submitted);
    let balanced = settled == submitted;
    let terms = format!(
        "{} + {} + {}",
        count(o.succeeded),
        count(o.rejected),
        count(o.cancelled)
    );
    let equation = if balanced {
        format!("{} = {terms}", count(o.submitted))
    } else if submitted > settled {
        format!(
            "{} {} {terms} ({} unaccounted)",
            count(o.submitted),
            g.not_equal,
            submitted - settled
        )
    } else {
        format!(
            "{} {} {terms} ({} more settled than submitted)",
            count(o.submitted),
            g.not_equal,
            settled - submitted
        )
    };
    let nodes = vec![
        Node::marked(
            balanced,
            format!("submitted = succeeded + rejected + cancelled: {equation}"),
        ),
        Node::marked(
            o.in_flight_at_end == 0,
            format!("in flight at end: {}", count(o.in_flight_at_end)),
        ),
        Node::new(format!(
            "transient, not final states: {}",
            items(
                &[
                    format!("failed attempts {}", count(o.failed_attempts)),
                    format!("retried {}", count(o.retried)),
                    format!("preempted {}", count(o.preempted)),
                ],
                g.sep
            )
        )),
    ];
    Section {
        icon: "📊",
        tag: "ACCOUNTING",
        title: "Operation accounting",
        nodes,
    }
}

pub(in crate::report::text) fn integrity(report: &RunReport, _g: &Glyphs) -> Section {
    integrity_of(&report.integrity)
}

/// The integrity section of a run or of a checked history.
pub(in crate::report::text) fn integrity_of(i: &Integrity) -> Section {
    let mut nodes: Vec<Node> = i
        .checks
        .iter()
        .map(|check| {
            let mut text = check.id.name().to_string();
            if check.passed && !check.exercised && check.detail.starts_with(NOT_CHECKABLE) {
                // A history without the data this check needs.
                text.push_str(": ");
                text.push_str(&check.detail);
                return Node {
                    mark: Some(Mark::Warn),
                    ..Node::new(text)
                };
            }
            if check.passed && !check.exercised {
                // Held, but on nothing: never a ✅.
                text.push_str(": not exercised (no case of this rule occurred)");
                return Node {
                    mark: Some(Mark::Warn),
                    ..Node::new(text)
                };
            }
            if check.passed {
                // What the check covered; a failed check never shows it.
                let mut lines = check.detail.lines().filter(|l| !l.trim().is_empty());
                if let Some(first) = lines.next() {
                    text.push_str(": ");
                    text.push_str(first.trim());
                }
                return Node {
                    children: lines.map(|l| Node::new(l.trim())).collect(),
                    ..Node::marked(true, text)
                };
            }
            let noun = if check.violations == 1 {
                "violation"
            } else {
                "violations"
            };
            text.push_str(&format!(" ({} {noun})", count(check.violations)));
            let mut children: Vec<Node> = check
                .first_violations
                .iter()
                .map(|v| Node::new(v.to_string()))
                .collect();
            let more = check
                .violations
                .saturating_sub(check.first_violations.len() as u64);
            if more > 0 {
                children.push(Node::new(format!("and {} more", count(more))));
            }
            Node {
                children,
                ..Node::marked(false, text)
            }
        })
        .collect();
    if nodes.is_empty() {
        nodes.push(Node::new("no checks were recorded"));
    }
    nodes.push(Node::marked(
        i.violations == 0,
        format!("violations: {}", count(i.violations)),
    ));
    nodes.push(Node::new(format!(
        "entities modified: {}",
        count(i.entities_modified)
    )));
    nodes.push(Node::new(format!(
        "versions created: {}",
        count(i.versions_created)
    )));
    Section {
        icon: "🔍",
        tag: "INTEGRITY",
        title: "Data integrity",
        nodes,
    }
}

/// A threshold figure in the unit its name implies.
pub(in crate::report::text) fn threshold_value(name: &str, v: f64, g: &Glyphs) -> String {
    if name.starts_with("max_regression_") {
        // How much worse than the baseline, a fraction.
        percent(v)
    } else if name.ends_with("_mb") {
        // A configured limit is usually whole; a measured peak is not.
        let mb = if v.fract() == 0.0 {
            number(v)
        } else {
            decimal(v, 1)
        };
        format!("{mb} MB")
    } else if name.ends_with("_us") {
        g.micros(v)
    } else if name.ends_with("_ms") {
        g.micros(v * 1000.0)
    } else if name.contains("rate") || name.contains("accuracy") {
        percent(v)
    } else {
        number(v)
    }
}

pub(in crate::report::text) fn assessment(report: &RunReport, g: &Glyphs) -> Section {
    let mut nodes: Vec<Node> = report
        .thresholds
        .iter()
        .map(|t| {
            let relation = if t.name.starts_with("min_") {
                format!("{} ", g.at_least)
            } else if t.name.starts_with("max_") {
                format!("{} ", g.at_most)
            } else {
                String::new()
            };
            // The rate gate is two-sided (too fast is a broken schedule),
            // but for a last batch due just before the end; under Poisson
            // arrivals it counts batches, which cannot exceed those due.
            let also = if t.name == "min_rate_accuracy" && report.rates.arrivals.is_none() {
                format!(
                    ", {} {} or one batch over",
                    g.at_most,
                    threshold_value(&t.name, 2.0 - t.limit, g)
                )
            } else {
                String::new()
            };
            Node::marked(
                t.passed,
                format!(
                    "{}: {} (limit {relation}{}{also})",
                    t.name,
                    threshold_value(&t.name, t.observed, g),
                    threshold_value(&t.name, t.limit, g)
                ),
            )
        })
        .collect();
    let checks = &report.integrity.checks;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.id.name())
        .collect();
    let clean = failed.is_empty() && report.integrity.violations == 0 && !checks.is_empty();
    let idle = checks.iter().filter(|c| c.passed && !c.exercised).count();
    let summary = if failed.is_empty() && idle > 0 {
        // Held, but some on nothing: say so rather than count them as proof.
        format!(
            "integrity: {} of {} checks passed; {idle} not exercised",
            checks.len() - idle,
            checks.len()
        )
    } else if failed.is_empty() {
        format!(
            "integrity: {} of {} checks passed",
            checks.len(),
            checks.len()
        )
    } else {
        format!(
            "integrity: {} of {} checks failed ({})",
            failed.len(),
            checks.len(),
            failed.join(", ")
        )
    };
    nodes.push(Node::marked(clean, summary));
    Section {
        icon: "🎯",
        tag: "ASSESSMENT",
        title: "System assessment",
        nodes,
    }
}

/// How much the run proved, per rule path: a path with no case is not
/// exercised (⚠️), never ✅.
pub(in crate::report::text) fn coverage(report: &RunReport, g: &Glyphs) -> Section {
    coverage_of(&report.coverage, g)
}

/// The coverage section of a run or of a checked history.
pub(in crate::report::text) fn coverage_of(c: &Coverage, g: &Glyphs) -> Section {
    let mut nodes: Vec<Node> = c
        .paths
        .iter()
        .map(|p| {
            if p.exercised {
                Node::marked(true, format!("{}: {}", p.name, count(p.cases)))
            } else {
                Node {
                    mark: Some(Mark::Warn),
                    ..Node::new(format!("{}: not exercised", p.name))
                }
            }
        })
        .collect();
    let l = &c.preemption_lateness_us;
    let us = if g.ascii { "us" } else { "µs" };
    nodes.push(Node::new(if l.count == 0 {
        "preemption lateness: no due preemption".to_string()
    } else {
        format!(
            "preemption lateness: p50 {} {us}, max {} {us} (bound {} {us})",
            count(l.p50),
            count(l.max),
            count(c.preemption_bound_us)
        )
    }));
    Section {
        icon: "🧭",
        tag: "COVERAGE",
        title: "Coverage",
        nodes,
    }
}
