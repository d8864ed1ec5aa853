//! The seed commands: `explore` (many seeds on the virtual clock) and
//! `run --check-determinism` (one seed twice, compared event by event).

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use dynstress::config::{self, Config, Overrides};
use dynstress::explore::{Determinism, ExploreOptions};
use dynstress::harness::{self, EventsFile};
use dynstress::report::model::{ExitCode, RunReport};

use crate::Failure;
use crate::cli::ExploreArgs;

/// `explore`: many seeds on the virtual clock; failing seeds with their
/// replay commands, then the summary. Exits with the most severe code.
pub(crate) fn explore(args: ExploreArgs) -> Result<ExitCode, Failure> {
    let seeds = parse_seeds(&args.seeds).map_err(Failure::usage)?;
    let overrides = Overrides {
        duration: args.duration,
        targets: args.targets,
        clock: Some("virtual".into()),
        ..Overrides::default()
    };
    let config = config::load(args.config.as_deref(), &overrides).map_err(|e| {
        // The clock is explore's, not the user's: a capacity config is
        // refused for what it is.
        let as_given = Overrides {
            clock: None,
            ..overrides.clone()
        };
        match config::load(args.config.as_deref(), &as_given) {
            Ok(c) if c.is_capacity() => Failure::usage(anyhow!(
                "explore runs every seed on the virtual clock, and a capacity-mode config \
                 (operation_rate_per_second = \"max\") needs the real clock; explore a config \
                 with a fixed rate"
            )),
            _ => Failure::usage(e),
        }
    })?;
    let json_file = crate::json_file(args.json.as_deref(), args.config.as_deref())?;
    let json_stdout = args.json.as_deref() == Some(Path::new("-"));
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let total = (seeds.end() - seeds.start()).saturating_add(1);
    let bar = if args.no_progress {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} seeds  {per_sec}  eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let options = ExploreOptions {
        config: config.clone(),
        seeds,
        jobs,
        inject: args.inject,
        shrink: !args.no_shrink,
        stop: crate::signal_cell("finishing the seeds under way"),
    };
    let mut failed = 0;
    let summary = dynstress::explore::explore(&options, |o| {
        bar.inc(1);
        if !o.passed() {
            failed += 1;
            bar.set_message(format!("{failed} failing"));
        }
    });
    bar.finish_and_clear();

    // The command that replays a seed: the explored config, on the
    // virtual clock, with the seed and everything the flags changed.
    let replay = |seed: u64, duration_s: f64, targets: u32| {
        let mut cmd = String::from("dynstress run");
        if let Some(p) = &args.config {
            cmd.push_str(&format!(" --config {}", p.display()));
        }
        cmd.push_str(&format!(
            " --clock virtual --seed {seed} --duration {duration_s}"
        ));
        if targets != config.num_targets || args.targets.is_some() {
            cmd.push_str(&format!(" --targets {targets}"));
        }
        if let Some(i) = args.inject
            && let Some((name, _)) = harness::Inject::NAMES.iter().find(|(_, x)| *x == i)
        {
            cmd.push_str(&format!(" --inject {name}"));
        }
        cmd
    };
    let duration_s = config.duration.as_secs_f64();
    let mut text = Vec::new();
    let mut failures_json = Vec::new();
    for f in &summary.failures {
        let full = replay(f.outcome.seed, duration_s, config.num_targets);
        let smallest = f
            .shrunk
            .as_ref()
            .map(|s| replay(f.outcome.seed, s.duration_s, s.targets));
        let _ = dynstress::report::explore::failure(&mut text, f, &full, smallest.as_deref());
        failures_json.push(serde_json::json!({
            "seed": f.outcome.seed,
            "outcome": f.outcome,
            "replay": full,
            "shrunk": f.shrunk,
            "smallest_replay": smallest,
        }));
    }
    let _ = dynstress::report::explore::summary(&mut text, &summary);
    let mut json = serde_json::to_value(&summary).unwrap_or_default();
    json["failures"] = serde_json::Value::Array(failures_json);
    json["config"] = config.to_json();
    let json_text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    let written = if json_stdout {
        io::stdout()
            .lock()
            .write_all(json_text.as_bytes())
            .and_then(|()| io::stderr().lock().write_all(&text))
    } else {
        let json = match json_file {
            Some(file) => file.finish(|out| out.write_all(json_text.as_bytes())),
            None => Ok(()),
        };
        json.and(io::stdout().lock().write_all(&text))
    };
    let code = summary.exit_code;
    written
        .context("cannot write the exploration's results")
        .map_err(|error| Failure {
            code: code.max(ExitCode::CouldNotRun),
            error,
        })?;
    Ok(code)
}

/// `--seeds A..B` (both included) or `--seeds N`.
fn parse_seeds(text: &str) -> anyhow::Result<std::ops::RangeInclusive<u64>> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| anyhow!("--seeds {text}: expected A..B or N, whole numbers, A <= B"))
    };
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (number(a)?, number(b.strip_prefix('=').unwrap_or(b))?),
        None => (number(text)?, number(text)?),
    };
    if a > b {
        anyhow::bail!("--seeds {text}: expected A..B with A <= B");
    }
    Ok(a..=b)
}

/// `--check-determinism`: run the seed twice on the virtual clock. The
/// same events: the first run's report (and events file). A difference:
/// `None`, after naming the first diverging event on stderr.
pub(crate) fn determinism(
    config: Config,
    inject: Option<harness::Inject>,
    events: Option<EventsFile>,
    gate: dynstress::explore::Gate,
) -> anyhow::Result<Option<RunReport>> {
    let seed = config.seed.unwrap_or_else(rand::random);
    match dynstress::explore::check_determinism(&config, seed, inject, gate)? {
        Determinism::Same {
            report,
            events: lines,
        } => {
            if let Some(file) = events {
                file.write_whole(&lines)
                    .context("--events: cannot write the events file")?;
            }
            let count = lines.iter().filter(|b| **b == b'\n').count();
            let digest = report.digests.as_ref().map_or("", |d| d.events.as_str());
            eprintln!(
                "determinism: two runs of seed {seed} on the virtual clock gave the same \
                 {count} events (digest {digest})"
            );
            Ok(Some(*report))
        }
        Determinism::Diverged(d) => {
            let line = |l: &Option<String>| l.clone().unwrap_or_else(|| "(no event)".into());
            match &d.digests {
                Some((a, b)) => eprintln!(
                    "error: two runs of seed {seed} on the virtual clock gave the same events \
                     but different stores (digest {a} vs {b})"
                ),
                None => eprintln!(
                    "error: two runs of seed {seed} on the virtual clock diverge at event {}:\n  \
                     first:  {}\n  second: {}",
                    d.index,
                    line(&d.first),
                    line(&d.second)
                ),
            }
            Ok(None)
        }
    }
}
