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

use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use clap::error::ErrorKind;
use dynstress::config::{self, Config, Overrides};
use dynstress::harness::{self, ProgressMode, RunOptions};
use dynstress::report::export::{ExportFormat, ExportManager, ExportTarget};
use dynstress::report::model::{ExitCode, RunReport};
use dynstress::report::text::TextStyle;

use crate::cli::{Cli, ColorChoice, Command, RunArgs};

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
            code: ExitCode::ThresholdFailed,
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
        Command::Run(args) => run(args),
        Command::Validate { config } => validate(&config),
        Command::PrintConfig => print_stdout(config::DEFAULT_CONFIG_TOML),
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

fn print_stdout(text: &str) -> Result<ExitCode, Failure> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
        .map_err(Failure::run)?;
    Ok(ExitCode::Passed)
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
    let json = args.json.as_deref().map(ExportTarget::from_arg);
    if let Some(target) = &json {
        exports
            .add(ExportFormat::Json, target.clone(), "--json")
            .map_err(Failure::usage)?;
    }
    if !args.quiet {
        // The text report goes to stdout, unless the JSON took it.
        let (target, terminal) = if json == Some(ExportTarget::Stdout) {
            (ExportTarget::Stderr, stderr_tty)
        } else {
            (ExportTarget::Stdout, stdout_tty)
        };
        let style = TextStyle {
            emoji: !args.no_emoji,
            color: color(terminal),
        };
        exports
            .add(ExportFormat::Text(style), target, "the text report")
            .map_err(Failure::usage)?;
    }
    let events = match args.events.as_deref() {
        None => None,
        Some(p) => Some(
            exports
                .events(ExportTarget::File(p.to_path_buf()), "--events")
                .map_err(Failure::usage)?,
        ),
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
    };

    let report = execute(config, options, args.quiet).map_err(Failure::run)?;
    let mut code = report.outcome.exit_code;
    for error in exports.write_all(&report) {
        // A report that cannot be written still must not turn a failed run
        // into a pass.
        eprintln!("error: {error}");
        code = code.max(ExitCode::ThresholdFailed);
    }
    Ok(code)
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
            std::process::exit(i32::from(ExitCode::Interrupted.code()));
        }
    });
    async move {
        if interrupted.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
