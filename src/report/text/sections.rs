//! The ten sections of the text report, built from the [`RunReport`] as
//! trees of [`Node`]s, and the one-line reason of a failed verdict.
//!
//! Every ✅ and ❌ here is computed from the report's numbers: the
//! accounting equation is re-added from its terms, each check and threshold
//! shows the figure it was judged on.

use super::layout::{Node, Section, Table, items};
use super::paint::{Glyphs, Mark};
use crate::check::offline::NOT_CHECKABLE;
use crate::report::format::{
    NOT_AVAILABLE, compact, count, decimal, number, percent, rate, ratio, seconds,
};
use crate::report::model::{
    Coverage, ExitCode, Integrity, LatencySummary, Named, RunReport, TargetRate,
};

/// Why a failed run failed: the class its exit code stands for, then the
/// names of what failed.
pub(super) fn failure_reason(report: &RunReport) -> String {
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

/// Capacity mode: no target rate.
fn capacity_mode(report: &RunReport) -> bool {
    report.rates.target_ops_per_s.is_none() || report.work.capacity_mode
}

/// `name weight` for each entry of a table of weights, in its order.
fn weights(table: &Named<f64>) -> Vec<(String, String)> {
    table
        .iter()
        .map(|(name, w)| (name.to_owned(), percent(*w)))
        .collect()
}

// ---------------------------------------------------------------------------
// The sections

pub(super) fn configuration(report: &RunReport, g: &Glyphs) -> Section {
    let c = &report.config;
    let mut nodes = vec![
        Node::new(format!("duration: {} s", number(c.duration_seconds))),
        Node::new(format!(
            "drain timeout: {} s",
            number(c.drain_timeout_seconds)
        )),
        Node::new(format!("targets: {}", number(f64::from(c.num_targets)))),
        Node::new(format!("sources: {}", number(f64::from(c.num_sources)))),
    ];
    match c.operation_rate_per_second {
        TargetRate::Max => nodes.push(Node::new(format!(
            "rate: max (capacity mode, at most {} in flight)",
            number(f64::from(c.max_in_flight))
        ))),
        TargetRate::PerSecond(r) => nodes.push(Node::new(format!("rate: {} ops/s", rate(r)))),
    }
    nodes.push(Node::new(format!(
        "grace period: {} s",
        number(c.grace_period_seconds)
    )));
    nodes.push(Node::new(format!(
        "batch size: {}{}{} ops, all on one target",
        c.batch.min_size, g.range, c.batch.max_size
    )));
    if c.batch.parent_probability > 0.0 {
        nodes.push(Node::new(format!(
            "parent links: {} of ops name an earlier op of their batch as parent",
            percent(c.batch.parent_probability)
        )));
    }
    let levels: Vec<String> = weights(&c.priority_distribution)
        .into_iter()
        .map(|(n, w)| format!("{n} {w}"))
        .collect();
    nodes.push(Node::new(format!(
        "priority distribution: {}",
        items(&levels, g.sep)
    )));
    // Six long names: one per line, or the line would not fit a terminal.
    let table = Table {
        head: vec!["weight"],
        rows: weights(&c.operation_types)
            .into_iter()
            .map(|(name, w)| vec![name, w])
            .collect(),
    };
    nodes.push(table.under("operation mix"));
    let r = &c.retries;
    nodes.push(Node::new(format!(
        "retries: structural {}{}normal {}{}low priority {}",
        r.structural, g.sep, r.normal, g.sep, r.low_priority
    )));
    nodes.push(Node::new(format!(
        "backoff: {} ms doubling per retry, capped at {} ms",
        count(r.backoff_base_ms),
        count(r.backoff_max_ms)
    )));
    let f = &c.faults;
    let mut faults = Vec::new();
    if f.failure_probability > 0.0 {
        faults.push(format!(
            "{} of executions fail",
            percent(f.failure_probability)
        ));
    }
    if f.stall_probability > 0.0 {
        faults.push(format!(
            "{} stall for {} ms",
            percent(f.stall_probability),
            count(f.stall_ms)
        ));
    }
    let faults = if faults.is_empty() {
        "none".to_owned()
    } else {
        items(&faults, g.sep)
    };
    nodes.push(Node::new(format!("faults: {faults}")));
    nodes.push(Node::new(format!(
        "retention: last {} versions{}{} history entries per entity",
        count(c.retention.versions),
        g.sep,
        count(c.retention.history)
    )));
    // The limits by the names the assessment judges them under.
    let t = &c.thresholds;
    let limits: Vec<String> = [
        ("min_completion_rate", Some(t.min_completion_rate)),
        ("max_memory_mb", Some(t.max_memory_mb)),
        ("min_rate_accuracy", Some(t.min_rate_accuracy)),
        ("max_resolution_p99_us", t.max_resolution_p99_us),
        ("max_execution_p99_us", t.max_execution_p99_us),
        ("max_submission_lateness_ms", t.max_submission_lateness_ms),
        ("min_real_work", Some(f64::from(t.min_real_work))),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} {}", threshold_value(name, v, g))))
    .collect();
    nodes.push(Node::new(format!("thresholds: {}", items(&limits, g.sep))));
    nodes.push(Node::new(format!("seed: {}", report.seed)));
    // Whole, however long: a command broken over lines no longer pastes.
    nodes.push(Node {
        nowrap: true,
        ..Node::new(format!("rerun: {}", report.rerun))
    });
    Section {
        icon: "📋",
        tag: "CONFIG",
        title: "Configuration",
        nodes,
    }
}

/// Throughput over the whole run, each figure with what it counts.
fn throughput(report: &RunReport) -> Node {
    let r = &report.rates;
    let line = |word: &str, v: f64, what: &str| {
        Node::new(format!("{word}: {} ops/s ({what})", compact(v)))
    };
    Node {
        children: vec![
            line(
                "succeeded",
                r.succeeded_ops_per_s,
                "their transaction committed",
            ),
            line(
                "rejected",
                r.rejected_ops_per_s,
                "outranked by a winner, or out of retries",
            ),
            line(
                "settled",
                r.settled_ops_per_s,
                "succeeded, rejected or cancelled",
            ),
        ],
        ..Node::new("throughput, over the whole run:")
    }
}

pub(super) fn performance(report: &RunReport, g: &Glyphs) -> Section {
    let o = &report.operations;
    let r = &report.rates;
    let capacity = capacity_mode(report);
    let mut nodes = Vec::new();
    match r.target_ops_per_s {
        Some(target) if !capacity => {
            let accuracy = if target > 0.0 {
                percent(r.achieved_ops_per_s / target)
            } else {
                NOT_AVAILABLE.to_owned()
            };
            nodes.push(Node::new(format!(
                "rate: {} ops/s achieved of {} ops/s target ({accuracy})",
                rate(r.achieved_ops_per_s),
                rate(target)
            )));
            let late = &report.latency_us.submission_lateness;
            nodes.push(Node::new(format!(
                "submission lateness: p99 {}{}max {} ({} batches)",
                g.micros(late.p99 as f64),
                g.sep,
                g.micros(late.max as f64),
                count(late.count)
            )));
            if r.missed_ops > 0 {
                nodes.push(Node::marked(
                    false,
                    format!(
                        "missed: {} ops due before the deadline were never sent",
                        count(r.missed_ops)
                    ),
                ));
            }
            nodes.push(throughput(report));
        }
        _ => {
            // The headline of a capacity run is what the engine settled.
            nodes.push(throughput(report));
            nodes.push(Node::new(format!(
                "submitted: {} ops/s (capacity mode: as fast as ops settle)",
                compact(r.achieved_ops_per_s)
            )));
            if report.outcome.events_complete.is_some() {
                nodes.push(Node {
                    mark: Some(Mark::Warn),
                    ..Node::new(
                        "--events was on: writing every event slowed this run, so \
                         these figures understate the engine",
                    )
                });
            }
        }
    }
    for (label, n) in [
        ("submitted", o.submitted),
        ("started", o.started),
        ("succeeded", o.succeeded),
        ("rejected", o.rejected),
        ("cancelled", o.cancelled),
        ("failed attempts", o.failed_attempts),
        ("retried", o.retried),
        ("preempted", o.preempted),
        ("in flight at end", o.in_flight_at_end),
    ] {
        nodes.push(Node::new(format!("{label}: {}", count(n))));
    }
    let completion = percent(r.completion_rate);
    nodes.push(Node::new(if capacity {
        // The one-winner-per-idle-target model is a fixed-rate figure.
        format!("completion rate: {completion} (batches meet busy targets; not judged)")
    } else {
        let b = &report.config.batch;
        format!(
            "completion rate: {completion} (model 2/({}+{}) = {})",
            b.min_size,
            b.max_size,
            percent(r.model_completion_rate)
        )
    }));
    let rejection = ratio(o.rejected, o.submitted).map_or(NOT_AVAILABLE.to_owned(), percent);
    nodes.push(Node::new(format!("rejection rate: {rejection}")));
    let d = &report.duration_s;
    nodes.push(Node::new(format!(
        "time: {}",
        items(
            &[
                format!("submission {}", seconds(d.submission)),
                format!("drain {}", seconds(d.drain)),
                format!("total {}", seconds(d.total)),
            ],
            g.sep
        )
    )));
    if !o.by_priority.is_empty() {
        let table = Table {
            head: vec!["submitted", "succeeded", "rejected", "cancelled"],
            rows: o
                .by_priority
                .iter()
                .map(|(name, p)| {
                    vec![
                        name.to_owned(),
                        count(p.submitted),
                        count(p.succeeded),
                        count(p.rejected),
                        count(p.cancelled),
                    ]
                })
                .collect(),
        };
        nodes.push(table.under("by priority"));
    }
    Section {
        icon: "⏱️",
        tag: "PERFORMANCE",
        title: "Performance",
        nodes,
    }
}

pub(super) fn work(report: &RunReport, g: &Glyphs) -> Section {
    let w = &report.work;
    let mut nodes = vec![
        Node::new(format!(
            "real work: {} committed ops with an effect",
            count(w.real_work)
        )),
        Node::new(format!("modifications: {}", count(w.modifications))),
        Node::new(format!("versions created: {}", count(w.versions))),
        Node::new(format!("borrows: {}", count(w.borrows))),
        Node::new(format!(
            "structural changes: {} changed{}{} no-ops",
            count(w.structural_changes),
            g.sep,
            count(w.structural_noops)
        )),
    ];
    let panics = format!("panics caught: {}", count(w.panics_caught));
    // With failure faults on, some injected failures are panics, caught on
    // purpose; without them a caught panic is a bug in the engine.
    nodes.push(if w.panics_caught == 0 {
        Node::new(panics)
    } else if report.config.faults.failure_probability > 0.0 {
        Node::new(format!("{panics} (injected faults, caught on purpose)"))
    } else {
        Node::marked(false, panics)
    });
    let by_type = &report.operations.by_type;
    if !by_type.is_empty() {
        let table = Table {
            head: vec![
                "submitted",
                "succeeded",
                "rejected",
                "cancelled",
                "failed",
                "success",
            ],
            rows: by_type
                .iter()
                .map(|(name, t)| {
                    vec![
                        name.to_owned(),
                        count(t.submitted),
                        count(t.succeeded),
                        count(t.rejected),
                        count(t.cancelled),
                        count(t.failed_attempts),
                        ratio(t.succeeded, t.submitted).map_or(NOT_AVAILABLE.to_owned(), percent),
                    ]
                })
                .collect(),
        };
        nodes.push(table.under("by type"));
    }
    Section {
        icon: "🔧",
        tag: "WORK",
        title: "Real operation results",
        nodes,
    }
}

pub(super) fn conflicts(report: &RunReport, g: &Glyphs) -> Section {
    let c = &report.conflicts;
    let res = &report.latency_us.resolution;
    let nodes = vec![
        Node::new(format!("detected: {}", count(c.detected))),
        Node::new(format!("resolved: {}", count(c.resolved))),
        Node::new(format!(
            "ops per conflict: {}",
            decimal(c.ops_per_conflict, 1)
        )),
        Node::new(format!(
            "resolution time: {}",
            items(
                &[
                    format!("p50 {}", g.micros(res.p50 as f64)),
                    format!("p99 {}", g.micros(res.p99 as f64)),
                    format!(
                        "max {} ({} samples)",
                        g.micros(res.max as f64),
                        count(res.count)
                    ),
                ],
                g.sep
            )
        )),
    ];
    Section {
        icon: "⚔️",
        tag: "CONFLICTS",
        title: "Conflict resolution",
        nodes,
    }
}

/// Where the ops landed: the hottest targets and how skewed the load was.
/// Absent from reports made before per-target counts existed.
pub(super) fn targets(report: &RunReport, g: &Glyphs) -> Option<Section> {
    let t = report.targets.as_ref()?;
    let mut nodes = vec![
        Node::new(format!(
            "targets hit: {} of {}",
            count(u64::from(t.targets_hit)),
            count(u64::from(t.targets))
        )),
        Node::new(format!(
            "skew: {}",
            items(
                &[
                    format!(
                        "hottest 1% of targets got {} of ops",
                        percent(t.top_1_percent_share)
                    ),
                    format!("top 10 got {}", percent(t.top_10_share)),
                    format!("Gini {}", decimal(t.gini, 2)),
                ],
                g.sep
            )
        )),
    ];
    if !t.hottest.is_empty() {
        let table = Table {
            head: vec!["ops", "conflicts", "rejected", "succeeded"],
            rows: t
                .hottest
                .iter()
                .map(|h| {
                    vec![
                        format!("target {}", h.target),
                        count(u64::from(h.ops)),
                        count(u64::from(h.conflicts)),
                        count(u64::from(h.rejections)),
                        count(u64::from(h.commits)),
                    ]
                })
                .collect(),
        };
        nodes.push(table.under("hottest"));
    }
    Some(Section {
        icon: "🔥",
        tag: "TARGETS",
        title: "Hot targets",
        nodes,
    })
}

pub(super) fn grace(report: &RunReport, _g: &Glyphs) -> Section {
    let c = &report.conflicts;
    let mut nodes = Vec::new();
    nodes.push(Node::new(format!(
        "grace period: {} s",
        number(report.config.grace_period_seconds)
    )));
    nodes.push(Node::new(format!(
        "grace saves: {} (executing ops shielded from a higher priority)",
        count(c.grace_saves)
    )));
    nodes.push(Node::new(format!(
        "preemptions: {} (executing ops aborted once their grace ended)",
        count(c.preemptions)
    )));
    Section {
        icon: "🛡️",
        tag: "GRACE",
        title: "Grace periods",
        nodes,
    }
}

pub(super) fn latency(report: &RunReport, g: &Glyphs) -> Section {
    let l = &report.latency_us;
    let row = |name: &str, s: &LatencySummary| {
        vec![
            name.to_owned(),
            g.micros(s.p50 as f64),
            g.micros(s.p90 as f64),
            g.micros(s.p99 as f64),
            g.micros(s.p999 as f64),
            g.micros(s.max as f64),
            g.micros(s.mean),
            count(s.count),
        ]
    };
    let table = Table {
        head: vec!["p50", "p90", "p99", "p99.9", "max", "mean", "samples"],
        rows: vec![
            row("execution", &l.execution),
            row("end-to-end", &l.end_to_end),
        ],
    };
    Section {
        icon: "⏲️",
        tag: "LATENCY",
        title: "Latency",
        nodes: vec![table.bare()],
    }
}

pub(super) fn resources(report: &RunReport, g: &Glyphs) -> Section {
    let r = &report.resources;
    let mut nodes = vec![Node::new(format!(
        "memory (RSS): {}",
        items(
            &[
                format!(
                    "peak {} MB (kernel high-water mark)",
                    decimal(r.rss_mb_max, 1)
                ),
                format!(
                    "samples avg {} MB, max {} MB",
                    decimal(r.rss_mb_avg, 1),
                    decimal(r.rss_mb_max_sampled, 1)
                ),
            ],
            g.sep
        )
    ))];
    // The limit the gate enforced (the threshold carries the same value).
    let limit = report.config.thresholds.max_memory_mb;
    let within = r.rss_mb_max <= limit;
    let relation = if within { "within" } else { "over" };
    nodes.push(Node::marked(
        within,
        format!(
            "memory status: peak {} MB, {relation} the {} MB limit",
            decimal(r.rss_mb_max, 1),
            number(limit)
        ),
    ));
    let total = report.duration_s.total;
    let share = if total > 0.0 {
        format!(
            " ({} of one core)",
            percent((r.cpu_user_s + r.cpu_sys_s) / total)
        )
    } else {
        String::new()
    };
    nodes.push(Node::new(format!(
        "cpu: user {}{}sys {}{share}",
        seconds(r.cpu_user_s),
        g.sep,
        seconds(r.cpu_sys_s)
    )));
    Section {
        icon: "💾",
        tag: "RESOURCES",
        title: "System resources",
        nodes,
    }
}

pub(super) fn accounting(report: &RunReport, g: &Glyphs) -> Section {
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

pub(super) fn integrity(report: &RunReport, _g: &Glyphs) -> Section {
    integrity_of(&report.integrity)
}

/// The integrity section of a run or of a checked history.
pub(super) fn integrity_of(i: &Integrity) -> Section {
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
pub(super) fn threshold_value(name: &str, v: f64, g: &Glyphs) -> String {
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

pub(super) fn assessment(report: &RunReport, g: &Glyphs) -> Section {
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
            Node::marked(
                t.passed,
                format!(
                    "{}: {} (limit {relation}{})",
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
pub(super) fn coverage(report: &RunReport, g: &Glyphs) -> Section {
    coverage_of(&report.coverage, g)
}

/// The coverage section of a run or of a checked history.
pub(super) fn coverage_of(c: &Coverage, g: &Glyphs) -> Section {
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
