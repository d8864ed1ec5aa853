//! Runs of a seed on the virtual clock: one run, the same run twice
//! (the determinism check), and many seeds in parallel (exploration).
//!
//! On the virtual clock a run is a function of its config and seed (see
//! [`crate::harness::runtime`]), so a seed that fails is a permanent
//! reproduction: FoundationDB's simulator and TigerBeetle's VOPR work the
//! same way. Exploration runs a range of seeds, one current-thread runtime
//! per seed on a pool of worker threads, and for each failing seed looks
//! for a smaller reproduction: a shorter run (the workload of a shorter run
//! is a prefix of the longer one's: batches are drawn from one stream in
//! submission order, and nothing before the end of the submission phase
//! knows when it ends) and fewer targets, as long as the same check still
//! fails.
//!
//! Nothing here writes to the terminal: the binary renders the outcomes,
//! and learns of each finished seed through a callback.

use std::io::Write;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::config::{ClockMode, Config};
use crate::harness::{self, Inject, ProgressMode, RunOptions};
use crate::report::model::{ExitCode, RunReport};

/// Run `config` with `seed` on the virtual clock, on this thread, quietly.
/// `events` receives the events file's lines if given.
pub(crate) fn run_seed(
    config: &Config,
    seed: u64,
    inject: Option<Inject>,
    events: Option<Box<dyn Write + Send>>,
) -> anyhow::Result<RunReport> {
    run_seed_as(config, seed, inject, events, Gate::default())
}

/// What a run of a seed on behalf of `run` keeps of its command line: the
/// command that gives its config (the report's `rerun`) and the baseline
/// its gate compares with.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    pub command: Vec<String>,
    pub baseline: Option<crate::report::compare::Baseline>,
}

/// [`run_seed`], with the command line's `gate`.
fn run_seed_as(
    config: &Config,
    seed: u64,
    inject: Option<Inject>,
    events: Option<Box<dyn Write + Send>>,
    gate: Gate,
) -> anyhow::Result<RunReport> {
    let mut config = config.clone();
    config.seed = Some(seed);
    config.clock = ClockMode::Virtual;
    let options = RunOptions {
        progress: ProgressMode::Off,
        verbose: false,
        emoji: false,
        color: false,
        events: events.map(harness::EventsFile::plain),
        inject,
        command: gate.command,
        baseline: gate.baseline,
    };
    let runtime = harness::runtime(ClockMode::Virtual).context("cannot start a tokio runtime")?;
    runtime.block_on(harness::run(config, options, std::future::pending()))
}

/// An in-memory events file that a run can own while the caller reads it.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // No lock is held anywhere else while a run writes.
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What two runs of one seed on the virtual clock gave.
pub enum Determinism {
    /// The same events, byte for byte, and the same digests.
    Same {
        report: Box<RunReport>,
        /// The events file both runs wrote.
        events: Vec<u8>,
    },
    /// The runs differ.
    Diverged(Divergence),
}

/// Where two runs of a seed first differ.
#[derive(Debug, PartialEq, Eq)]
pub struct Divergence {
    /// 0-based index of the first differing event, or of the first event
    /// one run has and the other has not.
    pub index: usize,
    /// The first run's line there (`None`: its stream had ended).
    pub first: Option<String>,
    pub second: Option<String>,
    /// The events were the same but the digests were not (the store
    /// differs).
    pub digests: Option<(String, String)>,
}

/// Run `config` with `seed` twice on the virtual clock and compare the
/// event streams and digests. Both runs are gated as `gate` says, so the
/// report returned has the baseline's verdicts too.
pub fn check_determinism(
    config: &Config,
    seed: u64,
    inject: Option<Inject>,
    gate: Gate,
) -> anyhow::Result<Determinism> {
    let once = || -> anyhow::Result<(RunReport, Vec<u8>)> {
        let buf = SharedBuf::default();
        let report = run_seed_as(
            config,
            seed,
            inject,
            Some(Box::new(buf.clone())),
            gate.clone(),
        )?;
        Ok((report, buf.take()))
    };
    let (report, first) = once()?;
    let (second_report, second) = once()?;
    if let Some(d) = first_divergence(&first, &second) {
        return Ok(Determinism::Diverged(d));
    }
    if report.digests != second_report.digests {
        let store = |r: &RunReport| r.digests.as_ref().map(|d| d.store.clone());
        return Ok(Determinism::Diverged(Divergence {
            index: first.split(|b| *b == b'\n').count().saturating_sub(1),
            first: None,
            second: None,
            digests: Some((
                store(&report).unwrap_or_default(),
                store(&second_report).unwrap_or_default(),
            )),
        }));
    }
    Ok(Determinism::Same {
        report: Box::new(report),
        events: first,
    })
}

/// The first line where two events files differ.
fn first_divergence(a: &[u8], b: &[u8]) -> Option<Divergence> {
    let text = |l: &[u8]| String::from_utf8_lossy(l).into_owned();
    let mut la = a.split(|c| *c == b'\n').filter(|l| !l.is_empty());
    let mut lb = b.split(|c| *c == b'\n').filter(|l| !l.is_empty());
    let mut index = 0;
    loop {
        match (la.next(), lb.next()) {
            (None, None) => return None,
            (x, y) if x == y => index += 1,
            (x, y) => {
                return Some(Divergence {
                    index,
                    first: x.map(text),
                    second: y.map(text),
                    digests: None,
                });
            }
        }
    }
}

/// What to explore.
#[derive(Clone)]
pub struct ExploreOptions {
    pub config: Config,
    pub seeds: RangeInclusive<u64>,
    /// Worker threads (at least 1).
    pub jobs: usize,
    pub inject: Option<Inject>,
    /// Look for a smaller reproduction of each failing seed.
    pub shrink: bool,
    /// Set by the first signal: no seed starts after it, the seeds under
    /// way finish, nothing is shrunk, and what was found is reported.
    pub stop: Arc<std::sync::OnceLock<harness::Signal>>,
}

/// The paths of the engine a run went through, summed over seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Coverage {
    pub(crate) submitted: u64,
    pub(crate) succeeded: u64,
    pub(crate) conflicts: u64,
    pub(crate) grace_saves: u64,
    pub(crate) preemptions: u64,
    pub(crate) failed_attempts: u64,
    pub(crate) retried: u64,
    pub(crate) cancelled: u64,
}

impl Coverage {
    fn of(r: &RunReport) -> Coverage {
        Coverage {
            submitted: r.operations.submitted,
            succeeded: r.operations.succeeded,
            conflicts: r.conflicts.detected,
            grace_saves: r.conflicts.grace_saves,
            preemptions: r.conflicts.preemptions,
            failed_attempts: r.operations.failed_attempts,
            retried: r.operations.retried,
            cancelled: r.operations.cancelled,
        }
    }

    fn add(&mut self, o: &Coverage) {
        self.submitted += o.submitted;
        self.succeeded += o.succeeded;
        self.conflicts += o.conflicts;
        self.grace_saves += o.grace_saves;
        self.preemptions += o.preemptions;
        self.failed_attempts += o.failed_attempts;
        self.retried += o.retried;
        self.cancelled += o.cancelled;
    }
}

/// How one seed's run ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeedOutcome {
    pub seed: u64,
    pub(crate) exit_code: ExitCode,
    /// Integrity checks that failed, by name.
    pub(crate) failed_checks: Vec<String>,
    /// Thresholds that failed, by name.
    pub(crate) failed_thresholds: Vec<String>,
    /// The run could not be carried out at all.
    pub(crate) error: Option<String>,
    pub(crate) coverage: Coverage,
}

impl SeedOutcome {
    fn of(seed: u64, result: anyhow::Result<RunReport>) -> SeedOutcome {
        match result {
            Ok(r) => SeedOutcome {
                seed,
                exit_code: r.outcome.exit_code,
                failed_checks: r
                    .integrity
                    .checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.id.name().to_string())
                    .collect(),
                failed_thresholds: r
                    .thresholds
                    .iter()
                    .filter(|t| !t.passed)
                    .map(|t| t.name.clone())
                    .collect(),
                error: None,
                coverage: Coverage::of(&r),
            },
            Err(e) => SeedOutcome {
                seed,
                exit_code: ExitCode::CouldNotRun,
                failed_checks: Vec::new(),
                failed_thresholds: Vec::new(),
                error: Some(format!("{e:#}")),
                coverage: Coverage::default(),
            },
        }
    }

    pub fn passed(&self) -> bool {
        self.exit_code == ExitCode::Passed
    }

    /// What a smaller reproduction must still show: the first failed
    /// check, else the first failed threshold, else the exit code.
    fn symptom(&self) -> String {
        self.failed_checks
            .first()
            .or(self.failed_thresholds.first())
            .cloned()
            .unwrap_or_else(|| format!("exit {}", self.exit_code.code()))
    }

    /// Whether a smaller run could show the same failure. A failed
    /// threshold alone cannot say so: coverage, real work and completion
    /// all depend on how long and how wide the run is, so a shorter run
    /// fails them for its size, not for the seed's fault.
    fn shrinkable(&self) -> bool {
        !self.failed_checks.is_empty() || self.failed_thresholds.is_empty()
    }

    fn shows(&self, symptom: &str) -> bool {
        self.failed_checks.iter().any(|c| c == symptom)
            || self.failed_thresholds.iter().any(|t| t == symptom)
            || (self.failed_checks.is_empty()
                && self.failed_thresholds.is_empty()
                && !self.passed()
                && symptom == format!("exit {}", self.exit_code.code()))
    }
}

/// The smallest reproduction found of a failing seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shrunk {
    /// The check (or threshold) that still fails.
    pub(crate) symptom: String,
    pub duration_s: f64,
    pub targets: u32,
    /// Runs it took to find.
    pub(crate) runs: u32,
}

/// A failing seed: how it failed, and its smallest reproduction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub outcome: SeedOutcome,
    pub shrunk: Option<Shrunk>,
}

/// Everything an exploration found.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub(crate) seeds_run: u64,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    /// Failing seeds per failed check or threshold, by name.
    pub(crate) failed_by_check: std::collections::BTreeMap<String, u64>,
    pub(crate) coverage: Coverage,
    /// The most severe exit code over all seeds, or the signal's.
    pub exit_code: ExitCode,
    /// The signal that stopped the exploration early, if one did.
    #[serde(serialize_with = "signal_name")]
    pub interrupted: Option<harness::Signal>,
    pub failures: Vec<Failure>,
}

fn signal_name<S: serde::Serializer>(
    s: &Option<harness::Signal>,
    to: S,
) -> Result<S::Ok, S::Error> {
    match s {
        Some(harness::Signal::Interrupt) => to.serialize_some("SIGINT"),
        Some(harness::Signal::Terminate) => to.serialize_some("SIGTERM"),
        None => to.serialize_none(),
    }
}

/// Run every seed of `options.seeds` on `options.jobs` worker threads;
/// `on_done` hears of each seed as it finishes (in completion order).
/// Failures are then shrunk, and reported in seed order.
pub fn explore(options: &ExploreOptions, mut on_done: impl FnMut(&SeedOutcome)) -> Summary {
    let (first, last) = (*options.seeds.start(), *options.seeds.end());
    let next = AtomicU64::new(first);
    let (tx, rx) = mpsc::channel();
    let mut outcomes = Vec::new();
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    // `seed < first`: the counter wrapped past u64::MAX.
                    if seed > last || seed < first || options.stop.get().is_some() {
                        break;
                    }
                    let result = run_seed(&options.config, seed, options.inject, None);
                    if tx.send(SeedOutcome::of(seed, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for outcome in rx {
            on_done(&outcome);
            outcomes.push(outcome);
        }
    });
    outcomes.sort_by_key(|o| o.seed);

    let mut summary = Summary {
        seeds_run: outcomes.len() as u64,
        passed: 0,
        failed: 0,
        failed_by_check: Default::default(),
        coverage: Coverage::default(),
        exit_code: ExitCode::Passed,
        interrupted: options.stop.get().copied(),
        failures: Vec::new(),
    };
    for o in outcomes {
        summary.coverage.add(&o.coverage);
        summary.exit_code = summary.exit_code.max(o.exit_code);
        if o.passed() {
            summary.passed += 1;
            continue;
        }
        summary.failed += 1;
        for name in o.failed_checks.iter().chain(&o.failed_thresholds) {
            *summary.failed_by_check.entry(name.clone()).or_default() += 1;
        }
        let shrunk = (options.shrink && summary.interrupted.is_none() && o.shrinkable())
            .then(|| shrink(&options.config, &o, options.inject));
        summary.failures.push(Failure { outcome: o, shrunk });
    }
    if let Some(signal) = summary.interrupted {
        summary.exit_code = summary.exit_code.max(signal.exit_code());
    }
    summary
}

/// Shortest durations tried, in seconds: below this a run has too few
/// batches to say anything.
const MIN_DURATION: Duration = Duration::from_millis(100);

/// Look for a smaller run of `failed.seed` that still shows its symptom:
/// halve the duration while it does, then halve the targets while it does.
pub(crate) fn shrink(config: &Config, failed: &SeedOutcome, inject: Option<Inject>) -> Shrunk {
    let symptom = failed.symptom();
    let mut best = config.clone();
    let mut runs = 0;
    let mut still_fails = |candidate: &Config| {
        runs += 1;
        SeedOutcome::of(failed.seed, run_seed(candidate, failed.seed, inject, None)).shows(&symptom)
    };
    loop {
        let shorter = best.duration / 2;
        if shorter < MIN_DURATION {
            break;
        }
        let mut candidate = best.clone();
        candidate.duration = shorter;
        if !still_fails(&candidate) {
            break;
        }
        best = candidate;
    }
    while best.num_targets > 1 {
        let mut candidate = best.clone();
        candidate.num_targets = best.num_targets / 2;
        if !still_fails(&candidate) {
            break;
        }
        best = candidate;
    }
    Shrunk {
        symptom,
        duration_s: best.duration.as_secs_f64(),
        targets: best.num_targets,
        runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};

    fn config(text: &str) -> Config {
        parse_str(text, "test", &Overrides::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn events(config: &Config, seed: u64) -> Vec<String> {
        let buf = SharedBuf::default();
        run_seed(config, seed, None, Some(Box::new(buf.clone()))).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(buf.take())
            .unwrap_or_else(|e| panic!("{e}"))
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn t_ns(line: &str) -> u64 {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        v["t_ns"]
            .as_u64()
            .unwrap_or_else(|| panic!("no t_ns in {line}"))
    }

    /// A seed that failed only thresholds is reported as it failed: a
    /// shorter run would miss coverage or real work for being shorter.
    #[test]
    fn only_a_failed_check_or_a_failed_run_is_shrunk() {
        let outcome = |checks: &[&str], thresholds: &[&str]| SeedOutcome {
            seed: 1,
            exit_code: ExitCode::ThresholdFailed,
            failed_checks: checks.iter().map(|s| s.to_string()).collect(),
            failed_thresholds: thresholds.iter().map(|s| s.to_string()).collect(),
            error: None,
            coverage: Coverage::default(),
        };
        assert!(!outcome(&[], &["min_coverage.borrows"]).shrinkable());
        assert!(outcome(&["replay"], &["min_coverage.borrows"]).shrinkable());
        assert!(outcome(&[], &[]).shrinkable());

        // Explored: a threshold no 1 s run can meet fails every seed, and
        // none is shrunk.
        let mut c = config(include_str!("../configs/chaos.toml"));
        c.duration = Duration::from_secs(1);
        c.thresholds.min_real_work = 1_000_000;
        let options = ExploreOptions {
            config: c,
            seeds: 1..=2,
            jobs: 1,
            inject: None,
            shrink: true,
            stop: Arc::default(),
        };
        let summary = explore(&options, |_| {});
        assert_eq!(summary.failed, 2);
        assert!(summary.failures.iter().all(|f| f.shrunk.is_none()));
    }

    #[test]
    fn a_shorter_run_is_a_prefix_of_a_longer_one() {
        let chaos = include_str!("../configs/chaos.toml");
        let mut short = config(chaos);
        short.duration = Duration::from_secs(1);
        let mut long = short.clone();
        long.duration = Duration::from_secs(2);
        let cut = short.duration.as_nanos() as u64;
        let before = |lines: Vec<String>| -> Vec<String> {
            lines.into_iter().filter(|l| t_ns(l) < cut).collect()
        };
        let (a, b) = (before(events(&short, 5)), before(events(&long, 5)));
        assert!(a.len() > 100, "{} events", a.len());
        assert_eq!(a, b);
    }

    #[test]
    fn first_divergence_names_the_index_and_both_lines() {
        assert_eq!(first_divergence(b"a\nb\n", b"a\nb\n"), None);
        let d = first_divergence(b"a\nb\nc\n", b"a\nx\nc\n").unwrap_or_else(|| panic!());
        assert_eq!(
            (d.index, d.first.as_deref(), d.second.as_deref()),
            (1, Some("b"), Some("x"))
        );
        let d = first_divergence(b"a\n", b"a\nb\n").unwrap_or_else(|| panic!());
        assert_eq!(
            (d.index, d.first, d.second.as_deref()),
            (1, None, Some("b"))
        );
    }

    #[test]
    fn the_symptom_is_the_first_failed_check_else_threshold() {
        let mut o = SeedOutcome {
            seed: 1,
            exit_code: ExitCode::IntegrityFailed,
            failed_checks: vec!["replay".into(), "versions".into()],
            failed_thresholds: vec!["min_completion_rate".into()],
            error: None,
            coverage: Coverage::default(),
        };
        assert_eq!(o.symptom(), "replay");
        assert!(o.shows("versions") && !o.shows("trees"));
        o.failed_checks.clear();
        o.exit_code = ExitCode::ThresholdFailed;
        assert_eq!(o.symptom(), "min_completion_rate");
    }
}
