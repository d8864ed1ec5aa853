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
use dynstress::breakpoint;
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
    Run(Box<RunArgs>),
    /// Check a config file and print the effective config (exit 0, or 2
    /// with the error).
    Validate {
        /// The config file to check.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the built-in default config (configs/brutal.toml).
    PrintConfig,
    /// Ramp the rate step by step, one run per step, until the engine
    /// breaks; report the highest rate that held.
    #[command(after_help = BREAKPOINT_EXIT_CODES)]
    Breakpoint(BreakpointArgs),
    /// Run many seeds on the virtual clock, in parallel, and print every
    /// failing seed with the command that replays it.
    #[command(after_help = exit_codes())]
    Explore(ExploreArgs),
    /// Compare two JSON reports metric by metric (exit 1 when one
    /// regressed beyond --max-regression, 2 when they cannot be compared).
    Compare(CompareArgs),
    /// Check a recorded history (an events file of any engine, NDJSON, or
    /// .zst) offline: exit 0 when it holds, 3 when a check is violated, 2
    /// when it cannot be read.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

/// Shown under `--help` of `breakpoint`.
const BREAKPOINT_EXIT_CODES: &str = "\
A step breaks when its lateness p99 or end-to-end p99 is over its limit, the
submitter had to wait for the in-flight limit (max_in_flight), or one of the
config's thresholds failed.

Exit codes:
  0    the search completed: a step broke, or every step held up to --ceiling
  2    usage or configuration error; nothing ran
  3    an integrity check failed at some step: the engine did something wrong
  4    a run could not be carried out
  130  interrupted (Ctrl-C); the steps so far are reported";

#[derive(Debug, Args)]
pub struct BreakpointArgs {
    /// Config file (TOML) with a fixed rate; each step replaces its rate and
    /// duration. Without it, the built-in default.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Rate of the first step, ops per second.
    #[arg(long, value_name = "N", default_value_t = breakpoint::DEFAULT_START,
          allow_negative_numbers = true)]
    pub start: f64,

    /// Multiply the rate by F each step [default: 2].
    #[arg(
        long,
        value_name = "F",
        conflicts_with = "step",
        allow_negative_numbers = true
    )]
    pub factor: Option<f64>,

    /// Add N ops per second each step instead.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub step: Option<f64>,

    /// Length of each step's submission phase.
    #[arg(long, value_name = "S", default_value_t = breakpoint::DEFAULT_STEP_SECONDS,
          allow_negative_numbers = true)]
    pub step_seconds: f64,

    /// Highest rate to try, ops per second.
    #[arg(long, value_name = "N", default_value_t = breakpoint::DEFAULT_CEILING,
          allow_negative_numbers = true)]
    pub ceiling: f64,

    /// A step breaks when submission lateness p99 is over L ms.
    #[arg(long, value_name = "L", default_value_t = breakpoint::DEFAULT_MAX_LATENESS_MS,
          allow_negative_numbers = true)]
    pub max_lateness_ms: f64,

    /// A step breaks when end-to-end latency p99 is over Y ms.
    #[arg(long, value_name = "Y", default_value_t = breakpoint::DEFAULT_MAX_E2E_P99_MS,
          allow_negative_numbers = true)]
    pub max_e2e_p99_ms: f64,

    /// Write the search (every step's figures) as JSON to FILE, or to stdout
    /// with "-" (the table then goes to stderr).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<PathBuf>,

    /// Seed of every step (overrides seed); without one, a random seed is
    /// drawn once and used for every step.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Test only: break the engine on purpose in every step.
    #[arg(long, hide = true, value_name = "NAME", value_parser = parse_inject)]
    pub inject: Option<Inject>,
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Config file (TOML); without it, the built-in default.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Seeds to run: "A..B" (both included) or one seed.
    #[arg(long, value_name = "A..B", default_value = "1..100")]
    pub seeds: String,

    /// Worker threads, one run at a time each (default: the cores).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,

    /// Submission phase length of each run in seconds (overrides
    /// duration_seconds).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub duration: Option<f64>,

    /// Number of target entities (overrides num_targets).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub targets: Option<i64>,

    /// Write the summary as JSON to FILE, or to stdout with "-".
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<PathBuf>,

    /// Report failing seeds as found, without looking for a smaller
    /// reproduction.
    #[arg(long)]
    pub no_shrink: bool,

    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,

    /// Test only: break the engine on purpose to show a check catches it.
    #[arg(long, hide = true, value_name = "NAME", value_parser = parse_inject)]
    pub inject: Option<Inject>,
}

const CHECK_EXIT_CODES: &str = "Exit codes:
  0    every integrity check the history allows held
  2    the history cannot be read: a malformed line, an unknown event kind, a missing
       field, time going backwards, a truncated last line (the line and field are named)
  3    an integrity check failed";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history: NDJSON, zstd-compressed when the name ends in .zst;
    /// `-` reads stdin.
    #[arg(value_name = "FILE|-")]
    pub history: PathBuf,

    /// The grace period in seconds (wins over --config and the header).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub grace_period: Option<f64>,

    /// The dynstress config the run used: its grace period, backoff policy,
    /// faults and parent reach (wins over the header).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Write the verdict as JSON to FILE (`-`: stdout, the text then goes
    /// to stderr).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<PathBuf>,

    /// No text report (the exit code and --json still tell).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Width of the report in columns (default: the terminal's, COLUMNS,
    /// or 100).
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,

    /// Plain ASCII instead of emoji and tree-drawing characters.
    #[arg(long)]
    pub no_emoji: bool,

    /// When to use colours; NO_COLOR (non-empty) turns "auto" off.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
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
    pub targets: Option<i64>,

    /// Grace period in seconds (overrides grace_period_seconds).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub grace_period: Option<f64>,

    /// Seed of every random choice; a run with the same seed and config
    /// makes the same choices (overrides seed).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub seed: Option<u64>,

    /// Where time comes from: "real", or "virtual" (reproducible from the
    /// seed; overrides clock).
    #[arg(long, value_name = "real|virtual", value_parser = ["real", "virtual"])]
    pub clock: Option<String>,

    /// Run the seed twice on the virtual clock and compare the events;
    /// exit 3 naming the first event where they differ.
    #[arg(long)]
    pub check_determinism: bool,

    /// Write the JSON report to FILE, or to stdout with "-" (the text report
    /// then goes to stderr).
    #[arg(long, value_name = "FILE|-")]
    pub json: Option<PathBuf>,

    /// Write a self-contained HTML report with charts to FILE, or to
    /// stdout with "-" (no network needed to open it).
    #[arg(long, value_name = "FILE|-")]
    pub html: Option<PathBuf>,

    /// Write a Markdown summary to FILE, or to stdout with "-".
    #[arg(long, value_name = "FILE|-")]
    pub markdown: Option<PathBuf>,

    /// Do not add the Markdown summary to $GITHUB_STEP_SUMMARY (added by
    /// default when that variable is set).
    #[arg(long)]
    pub no_step_summary: bool,

    /// Write JUnit XML to FILE, or to stdout with "-": one test case per
    /// integrity check and per threshold.
    #[arg(long, value_name = "FILE|-")]
    pub junit: Option<PathBuf>,

    /// Write the timeline as CSV to FILE, or to stdout with "-".
    #[arg(long, value_name = "FILE|-")]
    pub csv: Option<PathBuf>,

    /// Write every event to FILE, or to stdout with "-", one JSON object
    /// per line after a header line with the rule parameters, so that
    /// `dynstress check FILE` needs no flags (zstd-compressed when FILE
    /// ends in .zst).
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
