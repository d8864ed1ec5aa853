//! The text of `dynstress explore`: one line per failing seed with the
//! command that replays it, then a summary.
//!
//! The replay command is the caller's to build (it knows the flags the
//! exploration was given); this module only lays the lines out.

use std::io::{self, Write};

use crate::explore::{Failure, Summary};
use crate::report::model::ExitCode;

/// One failing seed: its verdict, failed checks and thresholds, the
/// command that replays it, and the smallest reproduction if one was
/// looked for (`smallest` is its command).
pub fn failure(
    w: &mut dyn Write,
    f: &Failure,
    replay: &str,
    smallest: Option<&str>,
) -> io::Result<()> {
    let o = &f.outcome;
    let what: Vec<&str> = o
        .failed_checks
        .iter()
        .chain(&o.failed_thresholds)
        .map(String::as_str)
        .collect();
    let what = match (&o.error, what.is_empty()) {
        (Some(e), _) => format!("the run could not be carried out: {e}"),
        (None, true) => "no check or threshold named".to_string(),
        (None, false) => what.join(", "),
    };
    let verdict = if o.exit_code == ExitCode::IntegrityFailed {
        "integrity failed"
    } else {
        "failed"
    };
    writeln!(
        w,
        "seed {}: {verdict} (exit {}): {what}\n  replay:   {replay}",
        o.seed, o.exit_code
    )?;
    if let (Some(s), Some(cmd)) = (&f.shrunk, smallest) {
        writeln!(
            w,
            "  smallest: {cmd}   ({} still fails; {} s, {} targets; {} runs to find)",
            s.symptom, s.duration_s, s.targets, s.runs
        )?;
    }
    Ok(())
}

/// The summary: seeds run, passed, failed per check, coverage totals and
/// the exit code.
pub fn summary(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(
        w,
        "explored {} seeds: {} passed, {} failed",
        s.seeds_run, s.passed, s.failed
    )?;
    if let Some(signal) = s.interrupted {
        let what = match signal {
            crate::harness::Signal::Interrupt => "interrupted (SIGINT)",
            crate::harness::Signal::Terminate => "terminated (SIGTERM)",
        };
        writeln!(
            w,
            "{what}: the seeds after these were not run, and no failure was shrunk"
        )?;
    }
    for (name, n) in &s.failed_by_check {
        writeln!(w, "  {name}: failed in {n} seeds")?;
    }
    let c = &s.coverage;
    writeln!(
        w,
        "coverage: {} ops submitted, {} succeeded, {} conflicts, {} grace saves, \
         {} preemptions, {} failed attempts, {} retries, {} cancellations",
        c.submitted,
        c.succeeded,
        c.conflicts,
        c.grace_saves,
        c.preemptions,
        c.failed_attempts,
        c.retried,
        c.cancelled
    )?;
    let verdict = if s.interrupted.is_some() {
        "INTERRUPTED"
    } else if s.exit_code == ExitCode::Passed {
        "PASSED"
    } else {
        "FAILED"
    };
    writeln!(w, "{verdict} (exit {})", s.exit_code.code())
}
