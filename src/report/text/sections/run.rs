//! The sections that tell what the run did.

use super::verdict::threshold_value;
use crate::report::format::{
    NOT_AVAILABLE, compact, count, decimal, number, percent, rate, ratio, seconds,
};
use crate::report::model::{LatencySummary, Named, RunReport, TargetRate};
use crate::report::text::layout::{Node, Section, Table, items};
use crate::report::text::paint::{Glyphs, Mark};

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

pub(in crate::report::text) fn configuration(report: &RunReport, g: &Glyphs) -> Section {
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
        TargetRate::PerSecond(r) => match &c.stages {
            // The shape, not only its mean.
            Some(stages) => {
                let mut shape = format!(
                    "rate: mean {} ops/s over [[stages]]: from {}",
                    rate(r),
                    rate(c.start_rate_per_second.unwrap_or(0.0))
                );
                for s in stages {
                    shape.push_str(&format!(
                        " → {} in {} s",
                        rate(s.rate_per_second),
                        number(s.duration_seconds)
                    ));
                }
                nodes.push(Node::new(shape + " (ops/s)"));
            }
            None => nodes.push(Node::new(format!("rate: {} ops/s", rate(r)))),
        },
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
    // On the virtual clock the digests identify the run: a rerun of the
    // seed gives the same two.
    if let Some(d) = report.digests.as_ref().filter(|d| d.clock == "virtual") {
        nodes.push(Node::new(format!(
            "digests: events {}{}store {}",
            d.events, g.sep, d.store
        )));
    }
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

pub(in crate::report::text) fn performance(report: &RunReport, g: &Glyphs) -> Section {
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
            // Under Poisson arrivals the gate counts batches: how many
            // arrive in a window is random.
            let arrivals = r.arrivals.map_or(String::new(), |a| {
                format!(
                    "; Poisson arrivals: {} of {} batches due sent",
                    count(a.sent),
                    count(a.due)
                )
            });
            nodes.push(Node::new(format!(
                "rate: {} ops/s achieved of {} ops/s target ({accuracy}{arrivals})",
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
        // 2/(min+max) is 1/E[size] for uniform sizes only.
        let model = match (b.size_distribution, b.mean_size) {
            ("poisson", Some(mean)) => format!(
                "1/E[size], Poisson mean {mean} clamped to {}..={}",
                b.min_size, b.max_size
            ),
            _ => format!("2/({}+{})", b.min_size, b.max_size),
        };
        format!(
            "completion rate: {completion} (model {model} = {})",
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

pub(in crate::report::text) fn work(report: &RunReport, g: &Glyphs) -> Section {
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

pub(in crate::report::text) fn conflicts(report: &RunReport, g: &Glyphs) -> Section {
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
pub(in crate::report::text) fn targets(report: &RunReport, g: &Glyphs) -> Option<Section> {
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

pub(in crate::report::text) fn grace(report: &RunReport, _g: &Glyphs) -> Section {
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

pub(in crate::report::text) fn latency(report: &RunReport, g: &Glyphs) -> Section {
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
        nodes: vec![
            table.bare(),
            Node::new(
                "execution is the store transaction alone; end-to-end runs from \
                 submission to commit, waits for the target, grace, stalls and \
                 backoff included",
            ),
        ],
    }
}

pub(in crate::report::text) fn resources(report: &RunReport, g: &Glyphs) -> Section {
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
