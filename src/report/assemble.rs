//! From a finished run to its [`RunReport`]: figures, integrity checks,
//! thresholds and the verdict (SPEC §9).
//!
//! The verdict is computed here, once, from the checks and thresholds —
//! never assumed: exit 3 if any integrity check failed, else 1 if any
//! threshold failed, else 0; an interrupted run exits 130 whatever else
//! holds (its report is partial).

use crate::check::online::Checker;
use crate::check::state::{FinalState, run_all};
use crate::config::{Config, Rate};
use crate::ecs::Store;
use crate::events::Continuity;
use crate::harness::SubmitResult;
use crate::metrics::{CounterSnapshot, CpuTimes, Metrics};
use crate::report::model::{
    CheckId, Conflicts, Durations, Integrity, Latencies, Operations, Outcome, Rates, Resources,
    RunReport, SCHEMA_VERSION, ThresholdResult, Violation, WorkSummary,
};

/// Everything a report is made from.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub seed: u64,
    pub interrupted: bool,
    /// Every op settled before the tasks stopped.
    pub settled_all: bool,
    /// The drain deadline passed and Pending ops were cancelled.
    pub cancelled_at_deadline: bool,
    pub submission_s: f64,
    pub drain_s: f64,
    pub total_s: f64,
    pub submit: &'a SubmitResult,
    pub counters: CounterSnapshot,
    pub metrics: &'a Metrics,
    pub checker: &'a Checker,
    pub continuity: &'a Continuity,
    pub published: u64,
    /// Illegal transitions the engine itself ran into.
    pub engine_illegal_transitions: u64,
    pub store: &'a Store,
    pub cpu: CpuTimes,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub fn assemble(i: Inputs<'_>) -> RunReport {
    let c = i.counters;
    let m = i.metrics;
    let mut checks = run_all(&FinalState {
        store: i.store,
        checker: i.checker,
        counters: c,
        metrics: m,
        continuity: i.continuity,
        published: i.published,
        num_targets: i.config.num_targets,
    });
    if i.engine_illegal_transitions > 0
        && let Some(legal) = checks
            .iter_mut()
            .find(|r| r.id == CheckId::LegalTransitions)
    {
        legal.passed = false;
        legal.violations += i.engine_illegal_transitions;
        legal.first_violations.insert(
            0,
            Violation {
                check: CheckId::LegalTransitions,
                op: None,
                target: None,
                rule: "engine refused a transition".to_string(),
                detail: format!(
                    "the engine attempted {} illegal transitions",
                    i.engine_illegal_transitions
                ),
            },
        );
    }
    let violations: u64 = checks.iter().map(|r| r.violations).sum();
    let integrity_ok = checks.iter().all(|r| r.passed);

    let settled = c.settled();
    let achieved = c.submitted as f64 / i.submission_s.max(1e-9);
    let completion = ratio(c.succeeded, c.submitted);
    let (rss_avg, rss_max) = m.rss_avg_max();
    let resolution = m.resolution.summary();
    let execution = m.execution.summary();

    let t = &i.config.thresholds;
    let mut thresholds = vec![
        threshold(
            "min_completion_rate",
            t.min_completion_rate,
            completion,
            completion >= t.min_completion_rate,
        ),
        threshold(
            "max_memory_mb",
            t.max_memory_mb,
            rss_max,
            rss_max <= t.max_memory_mb,
        ),
    ];
    if let Rate::PerSecond(target) = i.config.rate {
        // SPEC §7: achieved / target. The schedule never sends a batch
        // before it is due, so the ratio can exceed 1 only by the last
        // batch's size; that is accurate, not a miss.
        let accuracy = achieved / target;
        thresholds.push(threshold(
            "min_rate_accuracy",
            t.min_rate_accuracy,
            accuracy,
            accuracy >= t.min_rate_accuracy,
        ));
    }
    if let Some(limit) = t.max_resolution_p99_us {
        let p = resolution.p99 as f64;
        thresholds.push(threshold("max_resolution_p99_us", limit, p, p <= limit));
    }
    if let Some(limit) = t.max_execution_p99_us {
        let p = execution.p99 as f64;
        thresholds.push(threshold("max_execution_p99_us", limit, p, p <= limit));
    }
    // A run that counted nothing proves nothing.
    let real = m.modifications.min(settled) as f64;
    thresholds.push(threshold("min_real_work", 1.0, real, real >= 1.0));
    let thresholds_ok = thresholds.iter().all(|t| t.passed);

    let exit_code = if i.interrupted {
        130
    } else if !integrity_ok {
        3
    } else if !thresholds_ok {
        1
    } else {
        0
    };

    RunReport {
        schema_version: SCHEMA_VERSION,
        dynstress_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: i.seed,
        config: i.config.to_json(),
        outcome: Outcome {
            passed: exit_code == 0,
            exit_code,
            interrupted: i.interrupted,
        },
        duration_s: Durations {
            submission: i.submission_s,
            drain: i.drain_s,
            total: i.total_s,
        },
        operations: Operations {
            submitted: c.submitted,
            started: c.started,
            succeeded: c.succeeded,
            rejected: c.rejected,
            cancelled: c.cancelled,
            failed_attempts: c.failed_attempts,
            retried: c.retried,
            preempted: c.preempted,
            in_flight_at_end: c.in_flight(),
            by_priority: m.by_priority_named(),
            by_type: m.by_type_named(),
        },
        rates: Rates {
            target_ops_per_s: match i.config.rate {
                Rate::PerSecond(r) => Some(r),
                Rate::Max => None,
            },
            achieved_ops_per_s: achieved,
            settled_ops_per_s: settled as f64 / i.total_s.max(1e-9),
            completion_rate: completion,
            model_completion_rate: i.config.model_completion_rate(),
        },
        conflicts: Conflicts {
            detected: m.conflicts,
            resolved: m.conflicts.saturating_sub(i.checker.unresolved_conflicts),
            grace_saves: m.grace_saves,
            preemptions: m.preemptions,
            ops_per_conflict: ratio(m.conflict_ops, m.conflicts),
        },
        latency_us: Latencies {
            resolution,
            execution,
            end_to_end: m.end_to_end.summary(),
            submission_lateness: i.submit.lateness.summary(),
        },
        resources: Resources {
            rss_mb_avg: rss_avg,
            rss_mb_max: rss_max,
            cpu_user_s: i.cpu.user_s,
            cpu_sys_s: i.cpu.sys_s,
        },
        integrity: Integrity {
            violations,
            checks,
            entities_modified: i.checker.entities_modified(),
            versions_created: m.versions_created,
        },
        thresholds,
        timeline: m.timeline(),
        digests: None,
        work: WorkSummary {
            modifications: m.modifications,
            versions: m.versions_created,
            borrows: m.borrows,
            structural_changes: m.structural_changes,
            structural_noops: m.structural_noops,
            capacity_mode: i.config.rate == Rate::Max,
            panics_caught: c.panics,
            cancelled_at_deadline: i.cancelled_at_deadline,
            settled_all: i.settled_all,
        },
    }
}

fn threshold(name: &str, limit: f64, observed: f64, passed: bool) -> ThresholdResult {
    ThresholdResult {
        name: name.to_string(),
        limit,
        observed,
        passed,
    }
}
