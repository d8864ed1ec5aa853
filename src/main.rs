//! The `dynstress` binary: wiring only.
//!
//! Parse the command line (`cli`), build the typed [`Config`] with its
//! overrides, open the output files, turn the flags into
//! [`RunOptions`], run the harness on a multi-thread tokio runtime, render
//! the report and exit with the code the report carries. Everything that can
//! be refused is refused before the run starts, with exit code 2 and one
//! line naming the key or flag; the library never sees clap and never exits
//! the process. The only process exit outside `main`'s return is the second
//! Ctrl-C, which must leave at once.

mod cli;

use std::fs::File;
use std::future::Future;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Parser;
use clap::error::ErrorKind;
use dynstress::config::{self, Config, Overrides};
use dynstress::explore::{Determinism, ExploreOptions};
use dynstress::harness::{self, ProgressMode, RunOptions};
use dynstress::report::json;
use dynstress::report::model::RunReport;
use dynstress::report::text::{self, TextStyle};

use crate::cli::{Cli, ColorChoice, Command, ExploreArgs, RunArgs};

/// The run could not be carried out (or its report not written).
const EXIT_RUN_FAILED: u8 = 1;
/// Usage or configuration error: nothing ran.
const EXIT_USAGE: u8 = 2;
/// Two runs of a seed on the virtual clock differed.
const EXIT_NONDETERMINISTIC: u8 = 3;
/// Interrupted; also the report's code after the first Ctrl-C.
const EXIT_INTERRUPTED: i32 = 130;

/// An error on its way out, with the exit code it stands for.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            error: error.into(),
        }
    }

    fn run(error: anyhow::Error) -> Failure {
        Failure {
            code: EXIT_RUN_FAILED,
            error,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { config } => validate(&config),
        Command::PrintConfig => print_stdout(config::DEFAULT_CONFIG_TOML),
        Command::Explore(args) => explore(args),
    };
    match result {
        Ok(code) => code,
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

/// Help and version go out as clap prints them (exit 0); a usage error
/// becomes one line (exit 2).
fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            // clap's first paragraph is the message (continued on indented
            // lines, e.g. the missing arguments); usage and tips follow.
            let rendered = e.to_string();
            let message = rendered
                .lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            eprintln!("error: {message} (see --help)");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn validate(path: &Path) -> Result<ExitCode, Failure> {
    let config = config::load(Some(path), &Overrides::default()).map_err(Failure::usage)?;
    print_stdout(&config.to_toml())
}

fn print_stdout(text: &str) -> Result<ExitCode, Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
        .map_err(Failure::run)?;
    Ok(ExitCode::SUCCESS)
}

/// Where the JSON report goes.
enum JsonOut {
    Stdout,
    File(BufWriter<File>),
}

fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let overrides = Overrides {
        duration: args.duration,
        rate: args.rate.clone(),
        targets: args.targets,
        grace_period: args.grace_period,
        seed: args.seed,
        clock: match (&args.clock, args.check_determinism) {
            (Some(c), true) if c != "virtual" => {
                return Err(Failure::usage(anyhow!(
                    "--check-determinism runs on the virtual clock; drop --clock {c}"
                )));
            }
            (_, true) => Some("virtual".into()),
            (c, false) => c.clone(),
        },
    };
    let config = config::load(args.config.as_deref(), &overrides).map_err(Failure::usage)?;

    // Output files are opened before the run, so a bad path costs nothing.
    let json_out = match args.json.as_deref() {
        None => None,
        Some(p) if p == Path::new("-") => Some(JsonOut::Stdout),
        Some(p) => Some(JsonOut::File(BufWriter::new(create(p, "--json")?))),
    };
    let events = match args.events.as_deref() {
        None => None,
        Some(p) => Some(Box::new(BufWriter::new(create(p, "--events")?)) as Box<dyn Write + Send>),
    };

    let stdout_tty = io::stdout().is_terminal();
    let stderr_tty = io::stderr().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = |terminal: bool| match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    };
    console::set_colors_enabled(color(stdout_tty));
    console::set_colors_enabled_stderr(color(stderr_tty));

    let report = if args.check_determinism {
        match determinism(config, args.inject, events).map_err(Failure::run)? {
            Some(report) => report,
            None => return Ok(ExitCode::from(EXIT_NONDETERMINISTIC)),
        }
    } else {
        let options = RunOptions {
            progress: if args.quiet || args.no_progress {
                ProgressMode::Off
            } else if stderr_tty {
                ProgressMode::Bar
            } else {
                ProgressMode::Lines
            },
            verbose: args.verbose,
            emoji: !args.no_emoji,
            color: color(stderr_tty),
            events,
            inject: args.inject,
        };
        execute(config, options, args.quiet).map_err(Failure::run)?
    };
    let code = u8::try_from(report.outcome.exit_code).unwrap_or(EXIT_RUN_FAILED);
    let style = |terminal: bool| TextStyle {
        emoji: !args.no_emoji,
        color: color(terminal),
    };
    let text_to = |out: &mut dyn Write, terminal: bool| -> io::Result<()> {
        if !args.quiet {
            text::render(&report, out, style(terminal))?;
        }
        out.flush()
    };
    let written = match json_out {
        Some(JsonOut::Stdout) => json::render(&report, &mut io::stdout().lock())
            .context("cannot write the JSON report to stdout")
            .and_then(|()| {
                text_to(&mut io::stderr().lock(), stderr_tty)
                    .context("cannot write the report to stderr")
            }),
        Some(JsonOut::File(mut file)) => json::render(&report, &mut file)
            .and_then(|()| file.flush())
            .context("--json: cannot write the JSON report")
            .and_then(|()| {
                text_to(&mut BufWriter::new(io::stdout().lock()), stdout_tty)
                    .context("cannot write the report to stdout")
            }),
        None => text_to(&mut BufWriter::new(io::stdout().lock()), stdout_tty)
            .context("cannot write the report to stdout"),
    };
    // A report that cannot be written still must not turn a failed run
    // into a pass: keep the run's own code when it has one.
    written.map_err(|error| Failure {
        code: code.max(EXIT_RUN_FAILED),
        error,
    })?;
    Ok(ExitCode::from(code))
}

/// `explore`: many seeds on the virtual clock; failing seeds with their
/// replay commands, then the summary. Exits with the most severe code.
fn explore(args: ExploreArgs) -> Result<ExitCode, Failure> {
    let seeds = parse_seeds(&args.seeds).map_err(Failure::usage)?;
    let overrides = Overrides {
        duration: args.duration,
        targets: args.targets,
        clock: Some("virtual".into()),
        ..Overrides::default()
    };
    let config = config::load(args.config.as_deref(), &overrides).map_err(Failure::usage)?;
    let mut json_out = match args.json.as_deref() {
        None => None,
        Some(p) if p == Path::new("-") => Some(JsonOut::Stdout),
        Some(p) => Some(JsonOut::File(BufWriter::new(create(p, "--json")?))),
    };
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
    let written = match json_out.as_mut() {
        Some(JsonOut::Stdout) => io::stdout()
            .lock()
            .write_all(json_text.as_bytes())
            .and_then(|()| io::stderr().lock().write_all(&text)),
        Some(JsonOut::File(file)) => file
            .write_all(json_text.as_bytes())
            .and_then(|()| file.flush())
            .and_then(|()| io::stdout().lock().write_all(&text)),
        None => io::stdout().lock().write_all(&text),
    };
    let code = u8::try_from(summary.exit_code).unwrap_or(EXIT_RUN_FAILED);
    written
        .context("cannot write the exploration's results")
        .map_err(|error| Failure {
            code: code.max(EXIT_RUN_FAILED),
            error,
        })?;
    Ok(ExitCode::from(code))
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

/// Create (truncate) an output file named by `flag`; failing is a usage
/// error.
fn create(path: &Path, flag: &str) -> Result<File, Failure> {
    File::create(path).map_err(|e| {
        let reason = match e.kind() {
            io::ErrorKind::NotFound => "its directory does not exist".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            io::ErrorKind::IsADirectory => "is a directory".to_string(),
            _ => e.to_string(),
        };
        Failure::usage(anyhow!(
            "{flag} {}: cannot create the file: {reason}",
            path.display()
        ))
    })
}

/// Run the harness on the runtime its clock needs, with Ctrl-C wired to
/// its interrupt.
fn execute(config: Config, options: RunOptions, quiet: bool) -> anyhow::Result<RunReport> {
    let runtime = harness::runtime(config.clock).context("cannot start the tokio runtime")?;
    let report = runtime.block_on(async {
        let interrupt = interrupt_on_ctrl_c(quiet);
        harness::run(config, options, interrupt).await
    });
    // The harness has stopped its tasks; don't wait on stragglers.
    runtime.shutdown_timeout(Duration::from_secs(1));
    report.context("the run could not be carried out")
}

/// `--check-determinism`: run the seed twice on the virtual clock. The
/// same events: the first run's report (and events file). A difference:
/// `None`, after naming the first diverging event on stderr.
fn determinism(
    config: Config,
    inject: Option<harness::Inject>,
    events: Option<Box<dyn Write + Send>>,
) -> anyhow::Result<Option<RunReport>> {
    let seed = config.seed.unwrap_or_else(rand::random);
    match dynstress::explore::check_determinism(&config, seed, inject)? {
        Determinism::Same {
            report,
            events: lines,
        } => {
            if let Some(mut w) = events {
                w.write_all(&lines)
                    .and_then(|()| w.flush())
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

/// The first Ctrl-C resolves the returned future (stop submitting, drain,
/// check, report); the second exits with 130 at once. If signals cannot be
/// listened to, the future never resolves.
fn interrupt_on_ctrl_c(quiet: bool) -> impl Future<Output = ()> + Send + 'static {
    let (first, interrupted) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        if !quiet {
            eprintln!("\ninterrupted: draining and checking; press Ctrl-C again to quit at once");
        }
        // The receiver is gone only if the run already ended.
        let _ = first.send(());
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted again: exiting without a report");
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
    async move {
        if interrupted.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
