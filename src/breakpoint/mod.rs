//! The breaking-point search: at what submission rate does the engine stop
//! keeping up?
//!
//! The search ramps the rate in steps, from a start rate, multiplying by a
//! factor or adding a fixed step, up to a ceiling. Each step is one real
//! run of the harness ([`crate::harness::run`]) with the base config, whose
//! rate and duration are replaced by the step's; the workload, the seed and
//! the thresholds stay the config's, and one seed serves every step, so the
//! steps differ by their rate alone. A step *holds* when its run passed
//! (every threshold and integrity check) and none of these limits was
//! crossed:
//!
//! - submission lateness p99 over `max_lateness_ms`: the submitter fell
//!   behind its open-loop schedule;
//! - end-to-end latency p99 over `max_e2e_p99_ms`: ops wait too long to
//!   commit;
//! - the in-flight limit reached: the submitter had to wait for
//!   `max_in_flight` permits, so the rate was the engine's, not the
//!   schedule's.
//!
//! The first step that does not hold ends the search; its figures say which
//! conditions stopped it, and the step before it is the highest rate that
//! held. Reaching the ceiling with every step held ends it too. An integrity
//! failure ends it at once (exit 3): a wrong answer at some load is a bug,
//! not a breaking point. A run that cannot be carried out ends it with exit
//! 4.
//!
//! Everything is read from the finished [`RunReport`]; the search depends
//! on nothing inside the harness. Judging a report is one pure function,
//! [`judge`], tested on its own. `render` turns a [`Search`] into the text
//! table, the progress lines and the JSON document.

pub mod render;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Rate};
use crate::harness::{self, Inject, ProgressMode, RunOptions, Signal};
use crate::report::model::{ExitCode, RunReport};

/// The JSON document's version; bump it when a field changes meaning or
/// goes away.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Default `--start`, ops per second.
pub const DEFAULT_START: f64 = 1_000.0;
/// Default `--factor`, when neither `--factor` nor `--step` is given.
pub(crate) const DEFAULT_FACTOR: f64 = 2.0;
/// Default `--step-seconds`.
pub const DEFAULT_STEP_SECONDS: f64 = 2.0;
/// Default `--ceiling`, ops per second.
pub const DEFAULT_CEILING: f64 = 10_000_000.0;
/// Default `--max-lateness-ms`.
pub const DEFAULT_MAX_LATENESS_MS: f64 = 50.0;
/// Default `--max-e2e-p99-ms`.
pub const DEFAULT_MAX_E2E_P99_MS: f64 = 1_000.0;

/// The highest rate a config accepts (`operation_rate_per_second`).
const MAX_RATE: f64 = 100_000_000.0;
/// A search longer than this many steps is a typo (`--step 1`).
const MAX_STEPS: usize = 1_000;
/// Longest step: one hour.
const MAX_STEP_SECONDS: f64 = 3_600.0;

/// The search's flags as given, before validation.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanFlags {
    pub start: f64,
    pub factor: Option<f64>,
    pub step: Option<f64>,
    pub step_seconds: f64,
    pub ceiling: f64,
    pub max_lateness_ms: f64,
    pub max_e2e_p99_ms: f64,
}

impl Default for PlanFlags {
    fn default() -> Self {
        PlanFlags {
            start: DEFAULT_START,
            factor: None,
            step: None,
            step_seconds: DEFAULT_STEP_SECONDS,
            ceiling: DEFAULT_CEILING,
            max_lateness_ms: DEFAULT_MAX_LATENESS_MS,
            max_e2e_p99_ms: DEFAULT_MAX_E2E_P99_MS,
        }
    }
}

/// How the rate grows from one step to the next.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Growth {
    /// Multiply by this (> 1).
    Factor(f64),
    /// Add this many ops per second (> 0).
    Step(f64),
}

/// A validated search plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    #[serde(rename = "start_ops_per_s")]
    pub(crate) start: f64,
    pub(crate) growth: Growth,
    pub(crate) step_seconds: f64,
    #[serde(rename = "ceiling_ops_per_s")]
    pub(crate) ceiling: f64,
    pub(crate) max_lateness_ms: f64,
    pub(crate) max_e2e_p99_ms: f64,
}

/// A flag or config the search refuses; nothing ran.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("{flag} {value}: {allowed}")]
    Flag {
        flag: &'static str,
        value: f64,
        allowed: String,
    },
    #[error(
        "--step {step} from --start {start} to --ceiling {ceiling} takes more than \
         {MAX_STEPS} steps; raise --step or --start, or lower --ceiling"
    )]
    TooManySteps { start: f64, step: f64, ceiling: f64 },
    #[error(
        "operation_rate_per_second is \"max\" (capacity mode), which has no rate to \
         ramp; breakpoint sets a fixed rate for each step: give a config with a number"
    )]
    CapacityConfig,
    #[error(
        "[[stages]] set their own rates; breakpoint ramps the rate itself: give a config \
         with duration_seconds and operation_rate_per_second instead"
    )]
    StagedConfig,
}

impl Plan {
    /// Validate the flags. Every error names its flag and what is allowed.
    pub fn new(f: &PlanFlags) -> Result<Plan, PlanError> {
        let rate_range = format!("must be ops per second > 0 and at most {MAX_RATE}");
        let start = check(
            "--start",
            f.start,
            |v| v > 0.0 && v <= MAX_RATE,
            &rate_range,
        )?;
        let ceiling = check(
            "--ceiling",
            f.ceiling,
            |v| v >= start && v <= MAX_RATE,
            &format!("must be at least --start ({start}) and at most {MAX_RATE}"),
        )?;
        let growth = match (f.factor, f.step) {
            (Some(_), Some(_)) => {
                return Err(PlanError::Flag {
                    flag: "--factor",
                    value: f.factor.unwrap_or_default(),
                    allowed: "cannot be given with --step; choose one".into(),
                });
            }
            (Some(factor), None) => Growth::Factor(check(
                "--factor",
                factor,
                |v| v > 1.0 && v <= 1_000.0,
                "must be > 1 and at most 1000",
            )?),
            (None, Some(step)) => Growth::Step(check(
                "--step",
                step,
                |v| v > 0.0 && v <= MAX_RATE,
                &rate_range,
            )?),
            (None, None) => Growth::Factor(DEFAULT_FACTOR),
        };
        let step_seconds = check(
            "--step-seconds",
            f.step_seconds,
            |v| v > 0.0 && v <= MAX_STEP_SECONDS,
            &format!("must be > 0 and at most {MAX_STEP_SECONDS} seconds"),
        )?;
        let positive = "must be a number of milliseconds > 0";
        let max_lateness_ms = check(
            "--max-lateness-ms",
            f.max_lateness_ms,
            |v| v > 0.0,
            positive,
        )?;
        let max_e2e_p99_ms = check("--max-e2e-p99-ms", f.max_e2e_p99_ms, |v| v > 0.0, positive)?;
        let plan = Plan {
            start,
            growth,
            step_seconds,
            ceiling,
            max_lateness_ms,
            max_e2e_p99_ms,
        };
        if let Growth::Step(step) = growth
            && plan.rates().nth(MAX_STEPS).is_some()
        {
            return Err(PlanError::TooManySteps {
                start,
                step,
                ceiling,
            });
        }
        Ok(plan)
    }

    /// The rates of the steps, in order: the start, then each grown from
    /// the last, the final one exactly the ceiling.
    pub(crate) fn rates(&self) -> impl Iterator<Item = f64> + '_ {
        std::iter::successors(Some(self.start), move |&rate| {
            if rate >= self.ceiling {
                return None;
            }
            let next = match self.growth {
                Growth::Factor(f) => rate * f,
                Growth::Step(s) => rate + s,
            };
            Some(next.min(self.ceiling))
        })
    }
}

/// `value` when it is finite and `ok`; otherwise an error naming `flag`.
fn check(
    flag: &'static str,
    value: f64,
    ok: impl Fn(f64) -> bool,
    allowed: &str,
) -> Result<f64, PlanError> {
    if value.is_finite() && ok(value) {
        Ok(value)
    } else {
        Err(PlanError::Flag {
            flag,
            value,
            allowed: allowed.to_string(),
        })
    }
}

/// Refuse configs the search cannot ramp: capacity mode and stages.
pub fn check_config(config: &Config) -> Result<(), PlanError> {
    if config.stages.is_some() {
        return Err(PlanError::StagedConfig);
    }
    if config.rate == Rate::Max {
        return Err(PlanError::CapacityConfig);
    }
    Ok(())
}

/// A reason a step did not hold.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "condition", rename_all = "snake_case")]
pub(crate) enum Condition {
    /// Submission lateness p99 over the limit.
    LatenessP99 { observed_ms: f64, limit_ms: f64 },
    /// End-to-end latency p99 over the limit.
    E2eP99 { observed_ms: f64, limit_ms: f64 },
    /// The submitter waited for in-flight permits this many times.
    InFlightLimit { waits: u64, limit: u64 },
    /// A threshold of the config failed.
    Threshold {
        name: String,
        observed: f64,
        limit: f64,
    },
}

/// What became of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    /// Every limit held and the run passed.
    Held,
    /// A condition stopped the search here.
    Broke,
    /// An integrity check failed.
    IntegrityFailed,
    /// Ctrl-C: the step is partial and was not judged.
    Interrupted,
}

/// A failed integrity check of a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct FailedCheck {
    pub(crate) name: &'static str,
    /// Its first violations, as the run report words them.
    pub(crate) detail: String,
}

/// One step's figures and verdict. Latencies are in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub(crate) target_ops_per_s: f64,
    pub(crate) achieved_ops_per_s: f64,
    /// Succeeded ops per second of the run (submission and drain).
    pub(crate) committed_ops_per_s: f64,
    /// Settled (final) ops per second of the run.
    pub(crate) settled_ops_per_s: f64,
    pub(crate) lateness_p99_ms: f64,
    pub(crate) e2e_p99_ms: f64,
    pub(crate) in_flight_peak: u64,
    pub(crate) in_flight_limit: u64,
    /// The run's own exit code (0 passed, 1 threshold, 3 integrity, 130).
    pub(crate) run_exit_code: ExitCode,
    pub(crate) verdict: Verdict,
    /// Every condition that did not hold; empty when the step held.
    pub(crate) stopped_by: Vec<Condition>,
    pub(crate) failed_checks: Vec<FailedCheck>,
}

/// Why the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stop {
    /// A step did not hold.
    Broke,
    /// Every step held, up to the ceiling.
    Ceiling,
    /// A step failed an integrity check.
    Integrity,
    /// A run could not be carried out.
    RunFailed,
    /// Ctrl-C.
    Interrupted,
}

impl Stop {
    /// The process exit code this ending stands for.
    pub(crate) fn exit_code(self) -> ExitCode {
        match self {
            Stop::Broke | Stop::Ceiling => ExitCode::Passed,
            Stop::Integrity => ExitCode::IntegrityFailed,
            Stop::RunFailed => ExitCode::CouldNotRun,
            Stop::Interrupted => ExitCode::Interrupted,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchOutcome {
    pub(crate) stop: Stop,
    pub exit_code: ExitCode,
    /// The last step's rate that held; `null` when the first did not.
    pub(crate) highest_held_ops_per_s: Option<f64>,
    /// The rate of the step that broke (or failed), if one did.
    pub(crate) stopped_at_ops_per_s: Option<f64>,
    /// Why the last run could not be carried out.
    pub(crate) error: Option<String>,
}

/// The whole search, as the JSON document shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Search {
    pub(crate) schema_version: u32,
    pub(crate) dynstress_version: String,
    /// The seed every step ran with.
    pub(crate) seed: u64,
    /// The base config in the shape of the file; each step replaced its
    /// `operation_rate_per_second` and `duration_seconds`.
    pub(crate) config: serde_json::Value,
    pub(crate) plan: Plan,
    pub(crate) steps: Vec<Step>,
    pub outcome: SearchOutcome,
}

/// Judge one step's finished run against the plan's limits.
pub(crate) fn judge(report: &RunReport, plan: &Plan, target: f64) -> Step {
    let lateness_ms = report.latency_us.submission_lateness.p99 as f64 / 1_000.0;
    let e2e_ms = report.latency_us.end_to_end.p99 as f64 / 1_000.0;
    let ops = &report.operations;
    let limit = u64::from(report.config.max_in_flight);
    let per_s = |n: u64| n as f64 / report.duration_s.total.max(1e-9);

    let failed_checks: Vec<FailedCheck> = report
        .integrity
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| FailedCheck {
            name: c.id.name(),
            detail: c.describe(),
        })
        .collect();

    let mut stopped_by = Vec::new();
    if lateness_ms > plan.max_lateness_ms {
        stopped_by.push(Condition::LatenessP99 {
            observed_ms: lateness_ms,
            limit_ms: plan.max_lateness_ms,
        });
    }
    if e2e_ms > plan.max_e2e_p99_ms {
        stopped_by.push(Condition::E2eP99 {
            observed_ms: e2e_ms,
            limit_ms: plan.max_e2e_p99_ms,
        });
    }
    if ops.in_flight_waits > 0 {
        stopped_by.push(Condition::InFlightLimit {
            waits: ops.in_flight_waits,
            limit,
        });
    }
    stopped_by.extend(report.thresholds.iter().filter(|t| !t.passed).map(|t| {
        Condition::Threshold {
            name: t.name.clone(),
            observed: t.observed,
            limit: t.limit,
        }
    }));

    let verdict = if report.outcome.interrupted {
        Verdict::Interrupted
    } else if !failed_checks.is_empty() {
        Verdict::IntegrityFailed
    } else if !stopped_by.is_empty() {
        Verdict::Broke
    } else {
        Verdict::Held
    };
    Step {
        target_ops_per_s: target,
        achieved_ops_per_s: report.rates.achieved_ops_per_s,
        committed_ops_per_s: per_s(ops.succeeded),
        settled_ops_per_s: report.rates.settled_ops_per_s,
        lateness_p99_ms: lateness_ms,
        e2e_p99_ms: e2e_ms,
        in_flight_peak: ops.in_flight_peak,
        in_flight_limit: limit,
        run_exit_code: report.outcome.exit_code,
        verdict,
        stopped_by,
        failed_checks,
    }
}

/// Run the search: one harness run per step until a step does not hold,
/// the ceiling is reached, an integrity check fails or a run cannot be
/// carried out. `on_step` sees each step as it is judged, with its number
/// from 1 (for progress).
/// `interrupt` resolving (the first Ctrl-C) ends the current step early and
/// the search with it. `config` must have passed [`check_config`].
pub async fn search(
    mut config: Config,
    plan: &Plan,
    inject: Option<Inject>,
    interrupt: impl Future<Output = Signal> + Send + 'static,
    mut on_step: impl FnMut(usize, &Step),
) -> Search {
    let seed = config.seed.unwrap_or_else(rand::random);
    config.seed = Some(seed);
    let interrupted = CancellationToken::new();
    let watcher = {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            let _ = interrupt.await;
            interrupted.cancel();
        })
    };

    let mut steps: Vec<Step> = Vec::new();
    let mut error = None;
    let mut stop = Stop::Ceiling;
    for rate in plan.rates() {
        if interrupted.is_cancelled() {
            stop = Stop::Interrupted;
            break;
        }
        let step_config = Config {
            rate: Rate::PerSecond(rate),
            duration: Duration::from_secs_f64(plan.step_seconds),
            ..config.clone()
        };
        let options = RunOptions {
            progress: ProgressMode::Off,
            verbose: false,
            emoji: false,
            color: false,
            events: None,
            inject,
            command: Vec::new(),
            baseline: None,
        };
        let report = match harness::run(step_config, options, stop_on(interrupted.clone())).await {
            Ok(report) => report,
            Err(e) => {
                error = Some(format!("{e:#}"));
                stop = Stop::RunFailed;
                break;
            }
        };
        let step = judge(&report, plan, rate);
        on_step(steps.len() + 1, &step);
        let verdict = step.verdict;
        steps.push(step);
        match verdict {
            Verdict::Held => {}
            Verdict::Broke => {
                stop = Stop::Broke;
                break;
            }
            Verdict::IntegrityFailed => {
                stop = Stop::Integrity;
                break;
            }
            Verdict::Interrupted => {
                stop = Stop::Interrupted;
                break;
            }
        }
    }
    watcher.abort();

    let highest_held_ops_per_s = steps
        .iter()
        .take_while(|s| s.verdict == Verdict::Held)
        .last()
        .map(|s| s.target_ops_per_s);
    let stopped_at_ops_per_s = match stop {
        Stop::Ceiling | Stop::Interrupted => None,
        Stop::Broke | Stop::Integrity => steps.last().map(|s| s.target_ops_per_s),
        Stop::RunFailed => plan.rates().nth(steps.len()),
    };
    Search {
        schema_version: SCHEMA_VERSION,
        dynstress_version: env!("CARGO_PKG_VERSION").to_string(),
        seed,
        config: config.to_json(),
        plan: plan.clone(),
        steps,
        outcome: SearchOutcome {
            stop,
            exit_code: stop.exit_code(),
            highest_held_ops_per_s,
            stopped_at_ops_per_s,
            error,
        },
    }
}

/// A step's stop: the search's interrupt, seen by the run as Ctrl-C.
async fn stop_on(interrupted: CancellationToken) -> Signal {
    interrupted.cancelled_owned().await;
    Signal::Interrupt
}

#[cfg(test)]
mod tests;
