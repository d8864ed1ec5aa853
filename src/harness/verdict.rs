//! The end of a run: final integrity checks, thresholds, the verdict, and
//! the finished [`RunReport`].
//!
//! The verdict is computed here, once, from the checks and thresholds —
//! never assumed: [`ExitCode::IntegrityFailed`] if any integrity check
//! failed, else [`ExitCode::CouldNotRun`] if an output failed during the
//! run (which then stopped early), else [`ExitCode::ThresholdFailed`] if
//! any threshold failed, else [`ExitCode::Passed`]; a run stopped by a
//! signal is [`ExitCode::Interrupted`] or [`ExitCode::Terminated`] whatever
//! else holds (its report is partial). The report module only
//! renders what this builds, so the typed [`Config`] is turned into the
//! report's [`ConfigView`] here too.

use std::time::Duration;

use super::{Signal, SubmitResult};
use crate::check::online::Checker;
use crate::check::state::{FinalState, run_all};
use crate::config::{Config, Rate};
use crate::ecs::Store;
use crate::events::Continuity;
use crate::metrics::{Metrics, ProcessUsage, Tally};
use crate::ops::OpType;
use crate::report::compare::{Baseline, compare};
use crate::report::model::{
    ArrivalsDue, BatchView, CheckId, CheckResult, ConfigView, Conflicts, Durations, ExitCode,
    FaultsView, Integrity, Latencies, Operations, Outcome, Rates, Resources, RetentionView,
    RetriesView, RunReport, SCHEMA_VERSION, StageView, TargetContention, TargetCounts, TargetRate,
    TargetsView, ThresholdResult, ThresholdsView, Violation, WorkSummary,
};
use crate::workload::{BatchSizes, ContentionTally, TargetDistribution};

/// Everything a report is made from.
pub(crate) struct Inputs<'a> {
    pub config: &'a Config,
    pub seed: u64,
    /// The command line that gives the config, without the seed.
    pub command: &'a [String],
    /// The signal that stopped submission early, if one did.
    pub signal: Option<Signal>,
    /// Outputs that failed during the run (the run stopped early).
    pub errors: Vec<String>,
    /// `None` without an events file.
    pub events_complete: Option<bool>,
    /// Every op settled before the tasks stopped.
    pub settled_all: bool,
    /// The drain deadline passed and Pending ops were cancelled.
    pub cancelled_at_deadline: bool,
    pub submission_s: f64,
    pub drain_s: f64,
    pub total_s: f64,
    pub submit: &'a SubmitResult,
    pub counters: Tally,
    pub metrics: &'a Metrics,
    /// Per-target counts of the run.
    pub contention: &'a ContentionTally,
    /// `--baseline`: judged once the report is built.
    pub baseline: Option<&'a Baseline>,
    pub checker: &'a Checker,
    pub continuity: &'a Continuity,
    pub published: u64,
    /// Illegal transitions the engine itself ran into.
    pub engine_illegal_transitions: u64,
    /// The engine stopped at an instant the virtual clock never left.
    pub stuck: Option<super::engine::Stuck>,
    pub store: &'a Store,
    /// CPU times and peak RSS from the kernel, at the end of the run.
    pub usage: ProcessUsage,
}

/// Fail check `id` with `count` violations the engine itself reported,
/// described first among its violations.
fn fail_first(checks: &mut [CheckResult], id: CheckId, count: u64, rule: &str, detail: String) {
    if let Some(check) = checks.iter_mut().find(|r| r.id == id) {
        check.passed = false;
        check.violations += count;
        check.first_violations.insert(
            0,
            Violation {
                check: id,
                op: None,
                target: None,
                rule: rule.to_string(),
                detail,
            },
        );
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub(crate) fn assemble(i: Inputs<'_>) -> RunReport {
    let baseline = i.baseline;
    let mut report = assemble_run(i);
    if let Some(b) = baseline {
        judge_baseline(&mut report, b);
    }
    report
}

/// Add the regressions against `baseline` to the thresholds; one beyond
/// the limit fails a run that would otherwise pass.
fn judge_baseline(report: &mut RunReport, baseline: &Baseline) {
    // A report always serialises; should it not, nothing is compared.
    let Ok(new) = serde_json::to_value(&*report) else {
        return;
    };
    let comparison = compare(&baseline.report, &new, baseline.max_regression);
    let thresholds = comparison.thresholds();
    let failed = thresholds.iter().any(|t| !t.passed);
    report.thresholds.extend(thresholds);
    if failed && report.outcome.exit_code == ExitCode::Passed {
        report.outcome = Outcome {
            errors: std::mem::take(&mut report.outcome.errors),
            events_complete: report.outcome.events_complete,
            ..Outcome::new(ExitCode::ThresholdFailed, false)
        };
    }
}

fn assemble_run(i: Inputs<'_>) -> RunReport {
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
        permits_returned: i.settled_all,
    });
    if i.engine_illegal_transitions > 0 {
        fail_first(
            &mut checks,
            CheckId::LegalTransitions,
            i.engine_illegal_transitions,
            "engine refused a transition",
            format!(
                "the engine attempted {} illegal transitions",
                i.engine_illegal_transitions
            ),
        );
    }
    if let Some(stuck) = i.stuck {
        fail_first(
            &mut checks,
            CheckId::Accounting,
            1,
            "the engine stopped making progress",
            format!(
                "at t={:.6} s the engine took {} inputs without the virtual clock \
                 moving (it moves only when every task waits); it was stopped there, \
                 and what it held never settled",
                stuck.at_ns as f64 / 1e9,
                crate::report::format::count(stuck.inputs)
            ),
        );
    }
    let violations: u64 = checks.iter().map(|r| r.violations).sum();
    let integrity_ok = checks.iter().all(|r| r.passed);

    let settled = c.settled();
    let achieved = c.submitted as f64 / i.submission_s.max(1e-9);
    let completion = ratio(c.succeeded, c.submitted);
    // The samples make the timeline and the average; the gate uses the
    // kernel's high-water mark, which a spike between samples cannot
    // escape.
    let (rss_avg, rss_max_sampled) = m.rss_avg_max();
    let rss_max = i
        .usage
        .peak_rss_mb
        .map_or(rss_max_sampled, |peak| peak.max(rss_max_sampled));
    let resolution = m.resolution.summary();
    let execution = m.execution.summary();

    let t = &i.config.thresholds;
    let capacity = i.config.rate == Rate::Max;
    let mut thresholds = Vec::new();
    // The completion gate judges the fixed-rate workload, whose batches
    // meet an idle target and keep one winner each (1 / E[batch size]). In
    // capacity mode a batch usually meets a target whose winner is still
    // executing, so the share that succeeds falls as the engine gets
    // faster: a low completion rate there is the rule at work, not a fault.
    // Capacity mode is judged on what it can get wrong instead: the
    // integrity checks, memory, real work and the latency limits.
    if !capacity {
        thresholds.push(threshold(
            "min_completion_rate",
            t.min_completion_rate,
            completion,
            completion >= t.min_completion_rate,
        ));
    }
    thresholds.push(threshold(
        "max_memory_mb",
        t.max_memory_mb,
        rss_max,
        rss_max <= t.max_memory_mb,
    ));
    let lateness = i.submit.lateness.summary();
    if let Rate::PerSecond(target) = i.config.rate {
        let (accuracy, passed) = match i.submit.due_batches {
            Some(due) => arrivals_gate(i.submit.batches, due, t.min_rate_accuracy),
            None => rate_gate(RateGate {
                submitted: c.submitted,
                elapsed_s: i.submission_s,
                target,
                min_accuracy: t.min_rate_accuracy,
                batch_max: i.config.batch_max,
            }),
        };
        thresholds.push(threshold(
            "min_rate_accuracy",
            t.min_rate_accuracy,
            accuracy,
            passed,
        ));
        if let Some(limit) = t.max_submission_lateness_ms {
            let p99_ms = lateness.p99 as f64 / 1000.0;
            thresholds.push(threshold(
                "max_submission_lateness_ms",
                limit,
                p99_ms,
                p99_ms <= limit,
            ));
        }
    }
    if let Some(limit) = t.max_resolution_p99_us {
        let p = resolution.p99 as f64;
        thresholds.push(threshold("max_resolution_p99_us", limit, p, p <= limit));
    }
    if let Some(limit) = t.max_execution_p99_us {
        let p = execution.p99 as f64;
        thresholds.push(threshold("max_execution_p99_us", limit, p, p <= limit));
    }
    // A run that did nothing proves nothing: every committed effect counts
    // (versions, field writes, borrows, tree moves).
    let real = m.real_work as f64;
    let min_real = f64::from(t.min_real_work);
    thresholds.push(threshold("min_real_work", min_real, real, real >= min_real));
    // A named rule path the run did not exercise fails the run.
    let coverage = i.checker.coverage();
    for name in &t.min_coverage {
        let cases = coverage
            .paths
            .iter()
            .find(|p| &p.name == name)
            .map_or(0, |p| p.cases);
        thresholds.push(threshold(
            &format!("min_coverage.{name}"),
            1.0,
            cases as f64,
            cases >= 1,
        ));
    }
    let targets = target_contention(i.contention);
    let thresholds_ok = thresholds.iter().all(|t| t.passed);

    let exit_code = if let Some(signal) = i.signal {
        signal.exit_code()
    } else if !integrity_ok {
        ExitCode::IntegrityFailed
    } else if !i.errors.is_empty() {
        // The run stopped early; its thresholds judge a partial run.
        ExitCode::CouldNotRun
    } else if !thresholds_ok {
        ExitCode::ThresholdFailed
    } else {
        ExitCode::Passed
    };

    RunReport {
        schema_version: SCHEMA_VERSION,
        dynstress_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: i.seed,
        rerun: rerun(i.command, i.seed),
        config: config_view(i.config),
        outcome: Outcome {
            errors: i.errors,
            events_complete: i.events_complete,
            ..Outcome::new(exit_code, i.signal.is_some())
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
            in_flight_peak: u64::from(i.config.max_in_flight)
                .saturating_sub(i.submit.fewest_free_permits),
            in_flight_waits: i.submit.in_flight_waits,
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
            succeeded_ops_per_s: c.succeeded as f64 / i.total_s.max(1e-9),
            rejected_ops_per_s: c.rejected as f64 / i.total_s.max(1e-9),
            missed_ops: i.submit.missed,
            completion_rate: completion,
            model_completion_rate: i.config.model_completion_rate(),
            arrivals: i.submit.due_batches.map(|due| ArrivalsDue {
                due,
                sent: i.submit.batches,
            }),
        },
        conflicts: Conflicts {
            detected: m.conflicts,
            resolved: m.conflicts.saturating_sub(i.checker.unresolved_conflicts()),
            grace_saves: m.grace_saves,
            preemptions: m.preemptions,
            ops_per_conflict: ratio(m.conflict_ops, m.conflicts),
            by_size: m.conflict_sizes(),
        },
        latency_us: Latencies {
            resolution,
            execution,
            end_to_end: m.end_to_end.summary(),
            submission_lateness: lateness,
        },
        resources: Resources {
            rss_mb_avg: rss_avg,
            rss_mb_max: rss_max,
            rss_mb_max_sampled: rss_max_sampled,
            cpu_user_s: i.usage.cpu.user_s,
            cpu_sys_s: i.usage.cpu.sys_s,
        },
        integrity: Integrity {
            violations,
            checks,
            entities_modified: i.checker.entities_modified(),
            versions_created: m.versions_created,
        },
        thresholds,
        timeline: m.timeline(i.config.schedule().as_ref()),
        // Filled in by the harness, which holds the event stream's digest.
        digests: None,
        coverage,
        targets: Some(targets),
        work: WorkSummary {
            modifications: m.modifications,
            real_work: m.real_work,
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

/// How many hottest targets the report lists.
const HOTTEST_LISTED: usize = 5;

/// The report's view of the per-target tally.
fn target_contention(tally: &ContentionTally) -> TargetContention {
    let s = tally.summary(HOTTEST_LISTED);
    TargetContention {
        targets: s.targets,
        targets_hit: s.targets_hit,
        hottest: s
            .hottest
            .iter()
            .filter(|t| t.ops > 0)
            .map(|t| TargetCounts {
                target: t.target,
                ops: t.ops,
                conflicts: t.conflicts,
                rejections: t.rejections,
                commits: t.commits,
            })
            .collect(),
        top_1_percent_share: s.top_1_percent_share,
        top_10_share: s.top_10_share,
        gini: s.gini,
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

/// What the rate gate judges.
struct RateGate {
    submitted: u64,
    /// Real submission time.
    elapsed_s: f64,
    target: f64,
    min_accuracy: f64,
    batch_max: u32,
}

/// Rate accuracy under Poisson arrivals: batches sent ÷ batches the drawn
/// arrivals made due before the end. How many arrive in a window is
/// random (a 5 s run at 200 ops/s of mean-5 batches is 200 arrivals give
/// or take 14), so achieved ÷ target judges the draw, not the submitter;
/// the arrivals drawn are what it had to keep up with.
fn arrivals_gate(sent: u64, due: u64, min_accuracy: f64) -> (f64, bool) {
    let accuracy = if due == 0 {
        1.0
    } else {
        sent as f64 / due as f64
    };
    (accuracy, accuracy >= min_accuracy && sent <= due)
}

/// Rate accuracy (achieved ÷ target, achieved over the real submission
/// time) and whether it passes. The gate is two-sided: too slow fails, and
/// so does too fast (a broken clock or schedule), except for an overshoot
/// of less than one batch, which an open-loop schedule makes by design when
/// its last batch is due just before the end.
fn rate_gate(g: RateGate) -> (f64, bool) {
    let achieved = g.submitted as f64 / g.elapsed_s.max(1e-9);
    let accuracy = achieved / g.target;
    let tolerance = 1.0 - g.min_accuracy;
    let scheduled = (g.target * g.elapsed_s).ceil() as u64;
    let last_batch = g.submitted.saturating_sub(scheduled) < u64::from(g.batch_max);
    let passed = accuracy >= g.min_accuracy && (accuracy <= 1.0 + tolerance || last_batch);
    (accuracy, passed)
}

/// `command` with `--seed`, quoted for a POSIX shell where needed.
fn rerun(command: &[String], seed: u64) -> String {
    let quote = |a: &str| {
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
        if plain {
            a.to_owned()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    let mut words: Vec<String> = command.iter().map(|a| quote(a)).collect();
    if words.is_empty() {
        words.extend(["dynstress".to_owned(), "run".to_owned()]);
    }
    words.extend(["--seed".to_owned(), seed.to_string()]);
    words.join(" ")
}

/// The report's view of the config: one name per setting, the thresholds
/// as enforced.
pub(crate) fn config_view(c: &Config) -> ConfigView {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let t = &c.thresholds;
    ConfigView {
        duration_seconds: c.duration.as_secs_f64(),
        drain_timeout_seconds: c.drain_timeout.as_secs_f64(),
        num_targets: c.num_targets,
        num_sources: c.num_sources,
        operation_rate_per_second: match c.rate {
            Rate::PerSecond(r) => TargetRate::PerSecond(r),
            Rate::Max => TargetRate::Max,
        },
        start_rate_per_second: c.stages.as_ref().map(|s| s.start_rate()),
        stages: c.stages.as_ref().map(|s| {
            s.stages()
                .iter()
                .map(|st| StageView {
                    duration_seconds: st.duration_s,
                    rate_per_second: st.rate,
                })
                .collect()
        }),
        arrivals: c.arrivals.name(),
        targets: TargetsView {
            distribution: c.targets.name(),
            zipf_exponent: match c.targets {
                TargetDistribution::Zipf { exponent } => Some(exponent),
                TargetDistribution::Uniform => None,
            },
        },
        max_in_flight: c.max_in_flight,
        grace_period_seconds: c.grace_period.as_secs_f64(),
        priority_distribution: c
            .priorities
            .iter()
            .map(|(p, w)| {
                (
                    p.name().map_or_else(|| p.get().to_string(), str::to_string),
                    *w,
                )
            })
            .collect(),
        operation_types: OpType::ALL
            .iter()
            .map(|t| (t.name(), c.op_weight(*t)))
            .collect(),
        batch: BatchView {
            min_size: c.batch_min,
            max_size: c.batch_max,
            size_distribution: c.batch_sizes.name(),
            mean_size: match c.batch_sizes {
                BatchSizes::Poisson { mean } => Some(mean),
                BatchSizes::Uniform => None,
            },
            parent_probability: c.parent_probability,
            parent_reach: c.parent_reach,
        },
        retries: RetriesView {
            structural: c.retries.structural,
            normal: c.retries.normal,
            low_priority: c.retries.low_priority,
            backoff_base_ms: ms(c.backoff_base),
            backoff_max_ms: ms(c.backoff_max),
        },
        faults: FaultsView {
            failure_probability: c.failure_probability,
            stall_probability: c.stall_probability,
            stall_ms: ms(c.stall),
        },
        thresholds: ThresholdsView {
            min_completion_rate: t.min_completion_rate,
            max_memory_mb: t.max_memory_mb,
            min_rate_accuracy: t.min_rate_accuracy,
            max_resolution_p99_us: t.max_resolution_p99_us,
            max_execution_p99_us: t.max_execution_p99_us,
            max_submission_lateness_ms: t.max_submission_lateness_ms,
            min_real_work: t.min_real_work,
            min_coverage: t.min_coverage.clone(),
        },
        retention: RetentionView {
            versions: c.retention.versions as u64,
            history: c.retention.history as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under Poisson arrivals the gate counts batches sent against those
    /// due: a short window of few arrivals passes when all were sent, and
    /// a submitter that fell behind fails however many arrived.
    #[test]
    fn the_arrivals_gate_judges_batches_sent_of_those_due() {
        assert_eq!(arrivals_gate(170, 170, 0.85), (1.0, true));
        assert_eq!(arrivals_gate(0, 0, 0.85), (1.0, true));
        let (accuracy, passed) = arrivals_gate(100, 170, 0.85);
        assert!(!passed && (accuracy - 100.0 / 170.0).abs() < 1e-12);
        // More sent than due: a broken schedule.
        assert!(!arrivals_gate(171, 170, 0.85).1);
    }

    #[test]
    fn the_rate_gate_is_two_sided() {
        let gate = |submitted, elapsed_s| {
            rate_gate(RateGate {
                submitted,
                elapsed_s,
                target: 100.0,
                min_accuracy: 0.95,
                batch_max: 8,
            })
        };
        // (submitted, seconds, accuracy, passed)
        let cases = [
            (1_500, 15.0, 1.0, true),
            (1_430, 15.0, 1_430.0 / 1_500.0, true),
            (1_400, 15.0, 1_400.0 / 1_500.0, false),
            // The last batch overshoots by less than a batch: accurate.
            (107, 1.0, 1.07, true),
            // Far too fast is as wrong as too slow.
            (50_000, 15.0, 50_000.0 / 1_500.0, false),
            (1_600, 15.0, 1_600.0 / 1_500.0, false),
            // Behind schedule for the whole window.
            (30, 1.0, 0.3, false),
        ];
        for (submitted, secs, accuracy, passed) in cases {
            let (a, p) = gate(submitted, secs);
            assert!((a - accuracy).abs() < 1e-9, "{submitted} in {secs} s: {a}");
            assert_eq!(p, passed, "{submitted} in {secs} s");
        }
    }

    #[test]
    fn the_rerun_command_adds_the_seed_and_quotes() {
        let command: Vec<String> = ["dynstress", "run", "--config", "my configs/a.toml"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            rerun(&command, u64::MAX),
            "dynstress run --config 'my configs/a.toml' --seed 18446744073709551615"
        );
        assert_eq!(rerun(&[], 7), "dynstress run --seed 7");
        let odd = ["it's".to_owned()];
        assert_eq!(rerun(&odd, 1), r"'it'\''s' --seed 1");
    }

    #[test]
    fn the_config_view_shows_the_enforced_thresholds_once() {
        let mut config = crate::config::load(None, &Default::default()).unwrap();
        config.thresholds.min_completion_rate = 0.3;
        config.thresholds.max_memory_mb = 64.0;
        let json = serde_json::to_value(config_view(&config)).unwrap();
        assert_eq!(json["thresholds"]["min_completion_rate"], 0.3);
        assert_eq!(json["thresholds"]["max_memory_mb"], 64.0);
        assert!(json.get("target_completion_rate").is_none(), "{json}");
        assert!(json.get("max_memory_mb").is_none(), "{json}");
        // Levels lowest first, types in workload order, as written.
        let text = serde_json::to_string(&config_view(&config)).unwrap();
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap();
        assert!(
            at("LOW") < at("NORMAL") && at("HIGH") < at("CRITICAL"),
            "{text}"
        );
        assert!(at("version_entity") < at("detach_entity"), "{text}");
        assert_eq!(json["operation_rate_per_second"], 100.0);
    }
}
