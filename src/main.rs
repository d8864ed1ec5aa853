//! The `dynstress` binary: wiring only.
//!
//! Parse the command line (`cli`), build the typed [`Config`] with its
//! overrides, open the output files, turn the flags into
//! [`RunOptions`], run the harness on a multi-thread tokio runtime, render
//! the report and exit with the code the report carries. Everything that can
//! be refused is refused before the run starts, with exit code 2 and one
//! line naming the key or flag; the library never sees clap and never exits
//! the process. The only process exit outside `main`'s return is the second
//! signal (SIGINT or SIGTERM), which must leave at once.

mod cli;
mod seeds;

use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use dynstress::config::{self, Config, Overrides};
use dynstress::harness::{self, EventsFile, ProgressMode, RunOptions, Signal};
use dynstress::history;
use dynstress::report::compare::{self, Baseline};
use dynstress::report::export::{
    ExportFormat, ExportManager, ExportTarget, PendingFile, refuse_input,
};
use dynstress::report::model::{ExitCode, RunReport, SCHEMA_VERSION};
use dynstress::report::text::{self, TextStyle};

use crate::cli::{CheckArgs, Cli, ColorChoice, Command, CompareArgs, RunArgs};

/// mimalloc instead of the system allocator: in capacity mode event
/// batches, op records and history entries are allocated and freed
/// millions of times a second, and mimalloc's per-thread free lists do
/// that in fewer instructions and with better locality
/// (docs/PERFORMANCE.md has the measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An error on its way out, with the exit code it stands for.
struct Failure {
    code: ExitCode,
    error: anyhow::Error,
}

impl Failure {
    fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: ExitCode::Usage,
            error: error.into(),
        }
    }

    fn run(error: anyhow::Error) -> Failure {
        Failure {
            code: ExitCode::CouldNotRun,
            error,
        }
    }
}

fn main() -> process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Validate { config } => validate(&config),
        Command::PrintConfig => print_stdout(config::DEFAULT_CONFIG_TOML),
        Command::Breakpoint(args) => breakpoint(args),
        Command::Explore(args) => seeds::explore(args),
        Command::Compare(args) => compare_reports(&args),
        Command::Check(args) => check_history(&args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "dynstress", &mut out);
            print_stdout(&String::from_utf8_lossy(&out))
        }
        Command::Man => man_page(),
    };
    match result {
        Ok(code) => process::ExitCode::from(code.code()),
        Err(Failure { code, error }) => {
            eprintln!("error: {error:#}");
            process::ExitCode::from(code.code())
        }
    }
}

/// Help and version go out as clap prints them (exit 0); a usage error
/// becomes one line (exit 2).
fn usage_error(e: clap::Error) -> process::ExitCode {
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
            process::ExitCode::from(ExitCode::Usage.code())
        }
    }
}

fn validate(path: &Path) -> Result<ExitCode, Failure> {
    let config = config::load(Some(path), &Overrides::default()).map_err(Failure::usage)?;
    print_stdout(&config.to_toml())
}

fn man_page() -> Result<ExitCode, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the man page")
        .map_err(Failure::run)?;
    print_stdout(&String::from_utf8_lossy(&out))
}

fn print_stdout(text: &str) -> Result<ExitCode, Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
        .map_err(Failure::run)?;
    Ok(ExitCode::Passed)
}

/// Columns for a text output: `--width`, else `COLUMNS`, else the
/// terminal's width, else [`TextStyle::DEFAULT_WIDTH`].
fn text_width(flag: Option<usize>, term: &console::Term) -> usize {
    flag.or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|&w| w > 0)
        .or_else(|| {
            term.is_term()
                .then(|| term.size_checked())
                .flatten()
                .map(|(_, cols)| usize::from(cols))
        })
        .unwrap_or(TextStyle::DEFAULT_WIDTH)
}

/// A JSON report read from `path`, for a baseline or a comparison.
fn read_report(path: &Path) -> Result<serde_json::Value, Failure> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the report {}", path.display()))
        .map_err(Failure::usage)?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON report", path.display()))
        .map_err(Failure::usage)
}

/// `check`: read a recorded history once and judge it.
fn check_history(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let grace = match args.grace_period {
        None => None,
        Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(Failure::usage(anyhow!(
                "--grace-period {s}: must be a number of seconds, 0 or more"
            )));
        }
    };
    let config = match &args.config {
        None => None,
        Some(p) => Some(dynstress::check::CheckConfig::of(
            &config::load(Some(p), &Overrides::default()).map_err(Failure::usage)?,
        )),
    };
    if let Some(out) = args.json.as_deref().filter(|p| *p != Path::new("-")) {
        let mut inputs = vec![(args.history.as_path(), "the history")];
        inputs.extend(args.config.as_deref().map(|p| (p, "--config")));
        refuse_input(out, "--json", &inputs).map_err(Failure::usage)?;
    }
    let source = args.history.display().to_string();
    let input =
        history::open(&args.history).map_err(|e| Failure::usage(anyhow!("{source}: {e}")))?;
    let options = history::CheckOptions { grace, config };
    let report = history::check(history::Reader::new(input), &source, &options)
        .map_err(|e| Failure::usage(anyhow!("{source}: {e}")))?;
    if let Some(path) = &args.json {
        let mut json = serde_json::to_vec_pretty(&report)
            .context("cannot render the JSON")
            .map_err(Failure::run)?;
        json.push(b'\n');
        if path == Path::new("-") {
            io::stdout()
                .lock()
                .write_all(&json)
                .context("cannot write to stdout")
                .map_err(Failure::run)?;
        } else {
            std::fs::write(path, &json)
                .with_context(|| format!("--json {}: cannot write", path.display()))
                .map_err(Failure::run)?;
        }
    }
    if !args.quiet {
        let to_stderr = args.json.as_deref() == Some(Path::new("-"));
        let term = if to_stderr {
            console::Term::stderr()
        } else {
            console::Term::stdout()
        };
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let style = TextStyle {
            emoji: !args.no_emoji,
            color: match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => term.is_term() && !no_color,
            },
            width: text_width(args.width, &term),
        };
        let mut out = Vec::new();
        text::render_history(&report, &mut out, style)
            .and_then(|()| {
                if to_stderr {
                    io::stderr().lock().write_all(&out)
                } else {
                    io::stdout().lock().write_all(&out)
                }
            })
            .context("cannot write the report")
            .map_err(Failure::run)?;
    }
    Ok(report.outcome.exit_code)
}

fn compare_reports(args: &CompareArgs) -> Result<ExitCode, Failure> {
    let base = read_report(&args.base)?;
    let new = read_report(&args.new)?;
    compare::comparable(&base, &new, args.force).map_err(Failure::usage)?;
    let comparison = compare::compare(&base, &new, args.max_regression);
    let stdout = console::Term::stdout();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stdout.is_term() && !no_color,
    };
    let style = TextStyle {
        emoji: !args.no_emoji,
        color,
        width: text_width(args.width, &stdout),
    };
    let mut out = Vec::new();
    let shown = |p: &Path| p.display().to_string();
    text::render_comparison(
        &comparison,
        &shown(&args.base),
        &shown(&args.new),
        &mut out,
        style,
    )
    .and_then(|()| io::stdout().lock().write_all(&out))
    .context("cannot write to stdout")
    .map_err(Failure::run)?;
    Ok(if comparison.regressed().next().is_some() {
        ExitCode::ThresholdFailed
    } else {
        ExitCode::Passed
    })
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
    let mut config = config::load(args.config.as_deref(), &overrides).map_err(Failure::usage)?;
    // Drawn here, not in the harness, so the events file's header can
    // name it.
    let seed = *config.seed.get_or_insert_with(rand::random);
    let baseline = match &args.baseline {
        None => None,
        Some(path) => {
            let report = read_report(path)?;
            // Refused before the run: a baseline of another config or
            // schema measures something else.
            let this = serde_json::json!({
                "schema_version": SCHEMA_VERSION,
                "config": harness::config_view(&config),
            });
            compare::comparable(&report, &this, args.force)
                .with_context(|| format!("--baseline {}", path.display()))
                .map_err(Failure::usage)?;
            Some(Baseline {
                report,
                max_regression: args.max_regression,
            })
        }
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

    // Every output is planned, checked and its file created before the
    // run, so a bad path or a clash costs nothing.
    let mut exports = ExportManager::new();
    if let Some(p) = &args.config {
        exports.input(p, "--config");
    }
    if let Some(p) = &args.baseline {
        exports.input(p, "--baseline");
    }
    let json = args.json.as_deref().map(ExportTarget::from_arg);
    if let Some(target) = &json {
        exports
            .add(ExportFormat::Json, target.clone(), "--json")
            .map_err(Failure::usage)?;
    }
    for (path, format, origin) in [
        (&args.markdown, ExportFormat::Markdown, "--markdown"),
        (&args.junit, ExportFormat::Junit, "--junit"),
        (&args.csv, ExportFormat::Csv, "--csv"),
        (&args.html, ExportFormat::Html, "--html"),
    ] {
        if let Some(path) = path {
            exports
                .add(format, ExportTarget::from_arg(path), origin)
                .map_err(Failure::usage)?;
        }
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty())
        && !args.no_step_summary
    {
        let target = ExportTarget::Append(summary.into());
        exports
            .add(ExportFormat::Markdown, target, "GITHUB_STEP_SUMMARY")
            .map_err(Failure::usage)?;
    }
    if !args.quiet {
        // The text report goes to stdout, unless the JSON took it.
        let (target, term) = if json == Some(ExportTarget::Stdout) {
            (ExportTarget::Stderr, console::Term::stderr())
        } else {
            (ExportTarget::Stdout, console::Term::stdout())
        };
        let style = TextStyle {
            emoji: !args.no_emoji,
            color: color(term.is_term()),
            width: text_width(args.width, &term),
        };
        exports
            .add(ExportFormat::Text(style), target, "the text report")
            .map_err(Failure::usage)?;
    }
    let events = match args.events.as_deref() {
        None => None,
        Some(p) => {
            let sink = exports
                .events(ExportTarget::from_arg(p), "--events")
                .map_err(Failure::usage)?;
            let file = EventsFile::create(p, sink).map_err(|e| {
                Failure::usage(anyhow!(
                    "--events {}: cannot start zstd compression: {e}",
                    p.display()
                ))
            })?;
            // The rule parameters first, so `dynstress check FILE` needs
            // no --config.
            let header = history::Header::of_run(&config, seed);
            Some(file.with_first_line(&header.line()).map_err(|e| {
                Failure::usage(anyhow!("--events {}: cannot write: {e}", p.display()))
            })?)
        }
    };

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
        command: rerun_command(&args),
        baseline,
    };

    let report = if args.check_determinism {
        let gate = dynstress::explore::Gate {
            command: options.command,
            baseline: options.baseline,
        };
        match seeds::determinism(config, options.inject, options.events, gate)
            .map_err(Failure::run)?
        {
            Some(report) => report,
            None => return Ok(ExitCode::IntegrityFailed),
        }
    } else {
        execute(config, options, args.quiet).map_err(Failure::run)?
    };
    let mut code = report.outcome.exit_code;
    for error in exports.write_all(&report) {
        // A report that cannot be written never hides the verdict: the
        // others were still written, and the code is the more severe one.
        eprintln!("error: {error}");
        code = code.max(ExitCode::CouldNotRun);
    }
    if args.quiet && code != ExitCode::Passed {
        // Quiet, but a failing run still says in one line what failed.
        eprintln!("dynstress: {}", text::summary(&report, code));
    }
    Ok(code)
}

/// `--json FILE` of a command that reads `config`: created now (a bad path
/// costs nothing), in place only once complete; `-` and none give none.
pub(crate) fn json_file(
    json: Option<&Path>,
    config: Option<&Path>,
) -> Result<Option<PendingFile>, Failure> {
    match json {
        Some(p) if p != Path::new("-") => {
            let inputs: Vec<_> = config.map(|c| (c, "--config")).into_iter().collect();
            refuse_input(p, "--json", &inputs).map_err(Failure::usage)?;
            Ok(Some(
                PendingFile::create(p, "--json").map_err(Failure::usage)?,
            ))
        }
        _ => Ok(None),
    }
}

/// The command line that gives this run's config again: the config file
/// and every override, in flag form (the harness adds the seed).
fn rerun_command(args: &RunArgs) -> Vec<String> {
    let mut words = vec!["dynstress".to_owned(), "run".to_owned()];
    let mut flag = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            words.extend([name.to_owned(), v]);
        }
    };
    flag(
        "--config",
        args.config.as_ref().map(|p| p.display().to_string()),
    );
    flag("--duration", args.duration.map(|v| v.to_string()));
    flag("--rate", args.rate.clone());
    flag("--targets", args.targets.map(|v| v.to_string()));
    flag("--grace-period", args.grace_period.map(|v| v.to_string()));
    // The clock decides what a seed gives: a determinism check ran on
    // the virtual one whatever the config said.
    let clock = match args.check_determinism {
        true => Some("virtual".to_owned()),
        false => args.clock.clone(),
    };
    flag("--clock", clock);
    words
}

/// Run the harness on a multi-thread runtime, with SIGINT and SIGTERM
/// wired to its stop.
fn execute(config: Config, options: RunOptions, quiet: bool) -> anyhow::Result<RunReport> {
    let runtime = harness::runtime(config.clock).context("cannot start the tokio runtime")?;
    let report = runtime.block_on(async {
        let stop = stop_on_signal(quiet, "draining and checking");
        harness::run(config, options, stop).await
    });
    // The harness has stopped its tasks; don't wait on stragglers.
    runtime.shutdown_timeout(Duration::from_secs(1));
    report.context("the run could not be carried out")
}

/// The first SIGINT or SIGTERM resolves the returned future (stop
/// submitting, drain, check, report); a second one exits at once with its
/// own code. If signals cannot be listened to, the future never resolves.
///
/// Signals are awaited on a thread of their own, with its own small
/// runtime: in capacity mode the run's workers are saturated, and an
/// acknowledgement queued behind them would come late. It is printed above
/// the progress bar, so the bar is not left copied in the scrollback.
fn stop_on_signal(
    quiet: bool,
    doing: &'static str,
) -> impl Future<Output = Signal> + Send + 'static {
    let (first, stopped) = tokio::sync::oneshot::channel::<Signal>();
    let listen = move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let mut signals = Signals::new();
            let Some(signal) = signals.next().await else {
                return;
            };
            if !quiet {
                let what = match signal {
                    Signal::Interrupt => "interrupted",
                    Signal::Terminate => "terminated",
                };
                let ack = format!("{what}: {doing}; signal again to quit at once\n");
                dynstress::report::progress::print_above(ack.as_bytes());
            }
            // The receiver is gone only if the run already ended.
            let _ = first.send(signal);
            if let Some(again) = signals.next().await {
                eprintln!("\nsignalled again: exiting without a report");
                dynstress::report::export::remove_unfinished();
                process::exit(i32::from(again.exit_code().code()));
            }
        });
    };
    // Without the thread no signal is heard: the run goes to its end.
    let _ = std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(listen);
    async move {
        match stopped.await {
            Ok(signal) => signal,
            Err(_) => std::future::pending().await,
        }
    }
}

/// For work that runs on threads of its own rather than on a runtime: the
/// first SIGINT or SIGTERM is set in the returned cell when it comes (a
/// second one exits at once, as for `run`). `doing` says what the work does
/// on the first.
fn signal_cell(doing: &'static str) -> Arc<std::sync::OnceLock<Signal>> {
    let cell = Arc::new(std::sync::OnceLock::new());
    let stop = stop_on_signal(false, doing);
    let set = Arc::clone(&cell);
    // Without the thread no signal is heard: the work goes to its end.
    let _ = std::thread::Builder::new()
        .name("stop".to_owned())
        .spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() {
                let _ = set.set(runtime.block_on(stop));
            }
        });
    cell
}

/// The stop signals: SIGINT everywhere, SIGTERM on Unix.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    /// The next signal; `None` if none can arrive any more.
    async fn next(&mut self) -> Option<Signal> {
        #[cfg(unix)]
        if let Some(term) = self.term.as_mut() {
            return tokio::select! {
                r = tokio::signal::ctrl_c() => r.ok().map(|()| Signal::Interrupt),
                r = term.recv() => r.map(|()| Signal::Terminate),
            };
        }
        tokio::signal::ctrl_c()
            .await
            .ok()
            .map(|()| Signal::Interrupt)
    }
}

/// `dynstress breakpoint`: check the flags and the config (exit 2), run
/// the search with a progress line per step on stderr, then print the table
/// and write `--json`. The search's ending gives the exit code.
fn breakpoint(args: cli::BreakpointArgs) -> Result<ExitCode, Failure> {
    use dynstress::breakpoint::{self, render};

    let plan = breakpoint::Plan::new(&breakpoint::PlanFlags {
        start: args.start,
        factor: args.factor,
        step: args.step,
        step_seconds: args.step_seconds,
        ceiling: args.ceiling,
        max_lateness_ms: args.max_lateness_ms,
        max_e2e_p99_ms: args.max_e2e_p99_ms,
    })
    .map_err(Failure::usage)?;
    // The search measures this machine: its steps run on the real clock,
    // whatever the config says (as explore's run on the virtual one).
    let overrides = Overrides {
        seed: args.seed,
        clock: Some("real".into()),
        ..Overrides::default()
    };
    let config = config::load(args.config.as_deref(), &overrides).map_err(Failure::usage)?;
    breakpoint::check_config(&config)
        .map_err(|e| match args.config.as_deref() {
            Some(p) => anyhow!("{}: {e}", p.display()),
            None => anyhow!("built-in default: {e}"),
        })
        .map_err(Failure::usage)?;
    // The JSON file is created before the search, so a bad path costs
    // nothing; it appears under its name only once complete.
    let json_file = json_file(args.json.as_deref(), args.config.as_deref())?;
    let json_stdout = args.json.as_deref() == Some(Path::new("-"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
        .map_err(Failure::run)?;
    let search = runtime.block_on(async {
        let progress = |n: usize, step: &breakpoint::Step| {
            // Progress is best effort: a closed stderr must not stop the search.
            let _ = render::progress(&plan, n, step, &mut io::stderr().lock());
        };
        breakpoint::search(
            config,
            &plan,
            args.inject,
            stop_on_signal(false, "draining and checking"),
            progress,
        )
        .await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));

    let code = search.outcome.exit_code;
    let written = if json_stdout {
        render::json(&search, &mut io::stdout().lock())
            .and_then(|()| render::table(&search, &mut io::stderr().lock()))
            .context("cannot write the search")
    } else {
        let json = match json_file {
            Some(file) => file
                .finish(|out| render::json(&search, out))
                .context("--json: cannot write the search"),
            None => Ok(()),
        };
        let table =
            render::table(&search, &mut io::stdout().lock()).context("cannot write to stdout");
        json.and(table)
    };
    written.map_err(|error| Failure {
        code: code.max(ExitCode::CouldNotRun),
        error,
    })?;
    Ok(code)
}
