//! The harness: six tokio tasks driving a run. (skeleton; to be implemented)

use std::future::Future;
use std::io::Write;

use crate::config::Config;
use crate::report::model::RunReport;

/// How live progress is shown on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing (`--quiet`, `--no-progress`).
    Off,
    /// An indicatif progress bar (stderr is a terminal).
    Bar,
    /// One plain status line every 10 s (stderr is not a terminal).
    Lines,
}

/// Faults injected on purpose to prove the integrity checks can fail.
/// Reachable only through the hidden `--inject` flag; never in normal runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inject {
    /// The resolver sometimes picks a lower-priority winner.
    WrongWinner,
    /// A failed execution leaks one of its staged writes into the store.
    PartialWrite,
    /// One event is dropped on its way to the observers.
    LoseEvent,
    /// One op is dropped by the engine without ever reaching a final state.
    NeverTerminate,
    /// A winner starts while another op still executes on its target.
    DoubleStart,
    /// An executing op is preempted inside its grace period.
    IgnoreGrace,
}

impl Inject {
    pub const NAMES: [(&'static str, Inject); 6] = [
        ("wrong-winner", Inject::WrongWinner),
        ("partial-write", Inject::PartialWrite),
        ("lose-event", Inject::LoseEvent),
        ("never-terminate", Inject::NeverTerminate),
        ("double-start", Inject::DoubleStart),
        ("ignore-grace", Inject::IgnoreGrace),
    ];

    pub fn from_name(name: &str) -> Option<Inject> {
        Inject::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, i)| *i)
    }
}

/// Everything about a run that is not the workload config.
pub struct RunOptions {
    pub progress: ProgressMode,
    /// Print live event lines (`--verbose`) to stderr.
    pub verbose: bool,
    /// Styling of live lines and progress.
    pub emoji: bool,
    pub color: bool,
    /// `--events FILE`: one JSON object per event per line.
    pub events: Option<Box<dyn Write + Send>>,
    pub inject: Option<Inject>,
}

/// Run the workload described by `config` and return the report.
/// `interrupt` resolving means the first Ctrl-C: stop submitting, drain,
/// check and report (marked interrupted).
pub async fn run(
    config: Config,
    options: RunOptions,
    interrupt: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunReport> {
    let _ = (config, options, interrupt);
    anyhow::bail!("the harness is not built yet")
}
