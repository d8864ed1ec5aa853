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
use dynstress::harness::{self, EventsFile, ProgressMode, RunOptions};
use dynstress::report::json;
use dynstress::report::model::RunReport;
use dynstress::report::text::{self, TextStyle};

use crate::cli::{Cli, ColorChoice, Command, RunArgs};

/// The run could not be carried out (or its report not written).
const EXIT_RUN_FAILED: u8 = 1;
/// Usage or configuration error: nothing ran.
const EXIT_USAGE: u8 = 2;
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
        Some(p) => Some(EventsFile::create(p, create(p, "--events")?).map_err(|e| {
            Failure::usage(anyhow!(
                "--events {}: cannot start zstd compression: {e}",
                p.display()
            ))
        })?),
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

    let report = execute(config, options, args.quiet).map_err(Failure::run)?;
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

/// Run the harness on a multi-thread runtime, with Ctrl-C wired to its
/// interrupt.
fn execute(config: Config, options: RunOptions, quiet: bool) -> anyhow::Result<RunReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let report = runtime.block_on(async {
        let interrupt = interrupt_on_ctrl_c(quiet);
        harness::run(config, options, interrupt).await
    });
    // The harness has stopped its tasks; don't wait on stragglers.
    runtime.shutdown_timeout(Duration::from_secs(1));
    report.context("the run could not be carried out")
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
