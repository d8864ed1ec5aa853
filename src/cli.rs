//! The command line, as clap definitions and nothing else.
//!
//! This is the low level of argument handling: values close to the flags,
//! checked only as far as their types go (a number is a number). Meaning is
//! given elsewhere: the config overrides are validated with the file in
//! `dynstress::config`, and `main.rs` turns the rest into
//! `dynstress::harness::RunOptions`. The library never sees these types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use dynstress::harness::Inject;
use dynstress::report::compare::parse_max_regression;
use dynstress::report::model::ExitCode;

/// Shown under `--help` of the program and of `run`: every exit code and
/// its meaning, from the one list in the report model.
fn exit_codes() -> String {
    let mut help = String::from("Exit codes:");
    for code in ExitCode::ALL {
        help.push_str(&format!("\n  {:<4} {}", code.code(), code.meaning()));
    }
    help
}

/// The version with the commit it was built from (`0.1.0 (abc1234)`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("DYNSTRESS_COMMIT"),
    ")"
);

/// Stress-test a priority-based conflict-resolution engine over a versioned
/// entity store, and prove the result with integrity checks.
#[derive(Debug, Parser)]
#[command(name = "dynstress", version = VERSION, after_help = exit_codes())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the workload, check the engine, print the report.
    #[command(after_help = exit_codes())]
    Run(RunArgs),
    /// Check a config file and print the effective config (exit 0, or 2
    /// with the error).
    Validate {
        /// The config file to check.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the built-in default config (configs/brutal.toml).
    PrintConfig,
    /// Compare two JSON reports metric by metric (exit 1 when one
    /// regressed beyond --max-regression, 2 when they cannot be compared).
    Compare(CompareArgs),
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

/// The regression limit and width shared by `run --baseline` and `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base report (JSON, from `run --json`).
    #[arg(value_name = "BASE.json")]
    pub base: PathBuf,

    /// The report to judge against it.
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,

    /// The largest allowed change in the worse direction, per metric.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_max_regression)]
    pub max_regression: f64,

    /// Compare reports of different configs or schema versions anyway.
    #[arg(long)]
    pub force: bool,

    /// Width of the table in columns (default: the terminal's, COLUMNS, or
    /// 100).
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// Plain ASCII instead of emoji and tree-drawing characters.
    #[arg(long)]
    pub no_emoji: bool,

    /// When to use colours; NO_COLOR (non-empty) turns "auto" off.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file (TOML); without it, the built-in default
    /// (see `dynstress print-config`).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Submission phase length in seconds (overrides duration_seconds; with
    /// [[stages]], stretches or shrinks every stage in proportion).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub duration: Option<f64>,

    /// Operations per second, or "max" for capacity mode (overrides
    /// operation_rate_per_second; with [[stages]], scales every stage's rate
    /// so the peak is N, and "max" is refused).
    #[arg(long, value_name = "N|max", allow_hyphen_values = true)]
    pub rate: Option<String>,

    /// Number of target entities (overrides num_targets).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub targets: Option<u32>,

    /// Grace period in seconds (overrides grace_period_seconds).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub grace_period: Option<f64>,

    /// Seed of every random choice; a run with the same seed and config
    /// makes the same choices (overrides seed).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<u64>,

    /// Write the JSON report to FILE, or to stdout with "-" (the text report
    /// then goes to stderr).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<PathBuf>,

    /// Write every event to FILE, or to stdout with "-", one JSON object
    /// per line.
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,

    /// No progress and no text report; the exit code (and --json) tell,
    /// and a run that did not pass prints one line saying why.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print live event lines (batches, conflicts, resolutions, rejections)
    /// to stderr.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// Hide the live progress bar / status lines.
    #[arg(long)]
    pub no_progress: bool,

    /// When to use colours; NO_COLOR (non-empty) turns "auto" off.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Plain ASCII instead of emoji and tree-drawing characters.
    #[arg(long)]
    pub no_emoji: bool,

    /// Width of the text report in columns (default: the terminal's,
    /// COLUMNS, or 100 when not a terminal).
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// Compare the run with this JSON report: a metric worse by more than
    /// --max-regression fails the gate (exit 1), named in the assessment.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// With --baseline: the largest allowed change in the worse direction.
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_max_regression, requires = "baseline")]
    pub max_regression: f64,

    /// With --baseline: judge a baseline of another config or schema.
    #[arg(long, requires = "baseline")]
    pub force: bool,

    /// Test only: break the engine on purpose to show a check catches it.
    #[arg(long, hide = true, value_name = "NAME", value_parser = parse_inject)]
    pub inject: Option<Inject>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is unset or empty.
    Auto,
    Always,
    Never,
}

fn parse_inject(name: &str) -> Result<Inject, String> {
    Inject::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Inject::NAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown fault to inject; one of: {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_injection_name_parses() {
        for (name, inject) in Inject::NAMES {
            assert_eq!(parse_inject(name), Ok(inject));
        }
        let e = parse_inject("bogus").unwrap_err();
        assert!(e.contains("wrong-winner"), "{e}");
    }

    #[test]
    fn run_flags_reach_their_fields() {
        let cli = Cli::try_parse_from([
            "dynstress",
            "run",
            "--duration",
            "-1",
            "--rate",
            "max",
            "--targets",
            "7",
            "--seed",
            "9",
            "--json",
            "-",
            "--color",
            "never",
            "--no-emoji",
            "--inject",
            "lose-event",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run, got {:?}", cli.command);
        };
        assert_eq!(args.duration, Some(-1.0));
        assert_eq!(args.rate.as_deref(), Some("max"));
        assert_eq!(args.targets, Some(7));
        assert_eq!(args.seed, Some(9));
        assert_eq!(args.json, Some(PathBuf::from("-")));
        assert_eq!(args.color, ColorChoice::Never);
        assert!(args.no_emoji && !args.quiet && !args.verbose);
        assert_eq!(args.inject, Some(Inject::LoseEvent));
    }

    #[test]
    fn baseline_flags_parse() {
        let cli = Cli::try_parse_from([
            "dynstress",
            "run",
            "--baseline",
            "base.json",
            "--max-regression",
            "5%",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(args.baseline, Some(PathBuf::from("base.json")));
        assert_eq!(args.max_regression, 0.05);
        let e = Cli::try_parse_from(["dynstress", "run", "--max-regression", "5%"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let cli = Cli::try_parse_from(["dynstress", "compare", "a.json", "b.json"]).unwrap();
        let Command::Compare(args) = cli.command else {
            panic!("expected compare");
        };
        assert_eq!(args.max_regression, 0.10);
        assert!(!args.force);
    }

    #[test]
    fn quiet_and_verbose_exclude_each_other() {
        let e = Cli::try_parse_from(["dynstress", "run", "--quiet", "--verbose"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
