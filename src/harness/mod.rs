//! The harness: five tokio tasks driving a run, and the phases around them.
//!
//! ```text
//!  submitter ──SubmitMsg──▶ engine: monitor ──Cmd──▶ driver (owns the store)
//!                                      ▲               │
//!                                      └──DriverMsg────┘
//!  every task ──events──▶ bus ──▶ observer (online checks, --events, --verbose)
//!                             └─▶ metrics collector (histograms, timeline, RSS)
//!  progress reporter: reads the shared counters
//! ```
//!
//! The monitor (decides conflicts) and the driver (executes against the
//! store) are two state machines in one task, `engine.rs`: their messages
//! pass through memory, so a target's decide → execute → decide round
//! trip costs no wake-up.
//!
//! Phases: setup (targets as children in group trees, sources) →
//! submission for `duration_seconds` → drain: no new ops; in-flight ops
//! finish, retries run, for up to `drain_timeout_seconds` → whatever is
//! still Pending is cancelled → every task stops → final checks → report.
//!
//! Every loop `select!`s on its inputs and on cancellation; nothing spins
//! or polls on a timer except the progress line and the RSS sampler. The
//! in-flight limit is a semaphore: the submitter takes a permit per op and
//! whoever settles the op gives it back; the drain waits for all permits.

mod collector;
mod driver;
mod engine;
mod events_file;
mod monitor;
pub mod ndjson;
mod observer;
mod progress;
#[cfg(test)]
mod script;
mod setup;
mod submit;
mod verdict;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::config::{ClockMode, Config};
use crate::ops::{Op, OpId};
use crate::report::model::RunReport;

pub use events_file::EventsFile;
pub use setup::World;

/// The config as a report of its run shows it (`config` in the JSON): what
/// a baseline's config must match.
pub fn config_view(config: &Config) -> crate::report::model::ConfigView {
    verdict::config_view(config)
}
pub use submit::SubmitResult;

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
    /// An op that has executed for exactly the grace period is still
    /// protected, with no time left: the protection's timer is re-armed for
    /// zero, and on the virtual clock the engine spins at one instant.
    GraceLoop,
    /// 96 MB are allocated, written and freed at the start of the run,
    /// between two memory samples: only the kernel's peak sees them.
    MemorySpike,
    /// Commits are dated by the wall clock instead of the run's clock: no
    /// check fails, but two virtual-clock runs of a seed differ, which is
    /// what `--check-determinism` exists to catch.
    WallClock,
}

impl Inject {
    pub const NAMES: [(&'static str, Inject); 9] = [
        ("wrong-winner", Inject::WrongWinner),
        ("partial-write", Inject::PartialWrite),
        ("lose-event", Inject::LoseEvent),
        ("never-terminate", Inject::NeverTerminate),
        ("double-start", Inject::DoubleStart),
        ("ignore-grace", Inject::IgnoreGrace),
        ("grace-loop", Inject::GraceLoop),
        ("memory-spike", Inject::MemorySpike),
        ("wall-clock", Inject::WallClock),
    ];

    pub fn from_name(name: &str) -> Option<Inject> {
        Inject::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, i)| *i)
    }
}

/// The signal that asked a run to stop: submission stops, in-flight ops
/// drain, the checks run and the report is marked interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The exit code a run, or an exploration, stopped by it exits with.
    pub fn exit_code(self) -> crate::report::model::ExitCode {
        use crate::report::model::ExitCode;
        match self {
            Signal::Interrupt => ExitCode::Interrupted,
            Signal::Terminate => ExitCode::Terminated,
        }
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
    /// `--events FILE`: one JSON object per event per line, written by a
    /// thread of its own and flushed at the end.
    pub events: Option<EventsFile>,
    pub inject: Option<Inject>,
    /// The command line that gives this run's config (the program, the
    /// config file and the overrides); the report adds the seed to it.
    pub command: Vec<String>,
    /// `--baseline`: regressions against this report fail the gate.
    pub baseline: Option<crate::report::compare::Baseline>,
}

/// Run-relative time, shared by every task so their timestamps compare.
///
/// It reads tokio's clock: wall time on a normal runtime, virtual time on
/// a runtime started paused ([`runtime`] with [`ClockMode::Virtual`]), so
/// the timestamps of events are virtual too. Wall-clock dates the store
/// records (`timestamp`, the times of history entries) are the run's epoch
/// plus run time: the real date on the real clock, a fixed date on the
/// virtual one, so nothing in the engine reads the wall clock itself.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: tokio::time::Instant,
    epoch_us: i64,
    /// Virtual: time moves only while every task waits.
    paused: bool,
}

/// The date a virtual-clock run starts at: 2001-01-01T00:00:00Z.
const VIRTUAL_EPOCH_US: i64 = 978_307_200_000_000;

impl Clock {
    /// A clock starting now, dated as `mode` says. The mode must match
    /// the runtime: virtual on one started paused ([`runtime`]), real on
    /// any other ([`Clock::ns_at`] relies on it).
    pub fn new(mode: ClockMode) -> Clock {
        Clock {
            start: tokio::time::Instant::now(),
            epoch_us: epoch_us(mode),
            paused: mode == ClockMode::Virtual,
        }
    }

    /// [`Clock::now_ns`] from a reading of the real clock taken just now,
    /// saving a second reading: on the real clock the time of `at`; on
    /// the virtual clock, which stands still while code runs, the time
    /// now.
    pub fn ns_at(&self, at: std::time::Instant) -> u64 {
        if self.paused {
            return self.now_ns();
        }
        at.saturating_duration_since(self.start.into_std())
            .as_nanos() as u64
    }

    /// [`Clock::date_us`] from a reading taken just now, as
    /// [`Clock::ns_at`].
    pub fn date_us_at(&self, at: std::time::Instant) -> i64 {
        self.epoch_us + (self.ns_at(at) / 1_000) as i64
    }

    /// Nanoseconds since the start of the run.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Whether this is the virtual clock, which moves only when every task
    /// waits.
    pub fn is_virtual(&self) -> bool {
        self.paused
    }

    pub fn start_tokio(&self) -> tokio::time::Instant {
        self.start
    }

    /// The date now, in microseconds since the Unix epoch.
    pub fn date_us(&self) -> i64 {
        self.epoch_us + (self.now_ns() / 1_000) as i64
    }
}

/// The date a run starts at, in microseconds since the Unix epoch.
fn epoch_us(mode: ClockMode) -> i64 {
    match mode {
        ClockMode::Real => chrono::Utc::now().timestamp_micros(),
        ClockMode::Virtual => VIRTUAL_EPOCH_US,
    }
}

/// The runtime a run on `clock` needs. Real: tokio's multi-thread
/// runtime. Virtual: a current-thread runtime whose clock starts paused and
/// jumps to the next timer only when every task is idle, so rates, grace
/// periods, stalls, backoff and the drain all run on virtual time; with one
/// thread and every `select!` biased, the interleaving of the tasks is a
/// function of the run's inputs.
pub fn runtime(clock: ClockMode) -> std::io::Result<tokio::runtime::Runtime> {
    match clock {
        ClockMode::Real => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        ClockMode::Virtual => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build(),
    }
}

/// Submitter → monitor: ops of one or more batches; `ends[i]` is the end
/// index (exclusive) of batch `i` in `ops`.
#[derive(Debug, Default)]
pub struct SubmitMsg {
    pub ops: Vec<Op>,
    pub ends: Vec<u32>,
}

/// Monitor → driver, inside the engine task.
#[derive(Debug)]
pub enum Cmd {
    /// Start the winner (it was Pending; the target is free).
    Start { op: Op, started_ns: u64 },
    /// Abort `victim` (past its grace period) and start `winner`.
    Preempt {
        victim: OpId,
        winner: Op,
        decided_ns: u64,
    },
    /// The drain deadline passed: cancel ops waiting to retry.
    Close,
}

/// Driver → monitor, inside the engine task.
#[derive(Debug)]
pub enum DriverMsg {
    /// The op executing on `target` finished (committed or failed).
    Done { target: u32, op: OpId },
    /// A failed op waited out its backoff and is Pending again.
    Requeue(Op),
}

/// [`Inject::MemorySpike`]: touch `bytes` of fresh memory and give them
/// back to the kernel at once, so that only the kernel's high-water mark
/// can see them. Mapped directly: the global allocator would keep freed
/// pages for reuse, and the sampler would see them too.
fn memory_spike(bytes: usize) {
    // SAFETY: an anonymous private mapping that nothing else refers to,
    // written within its length and unmapped once.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
        std::ptr::write_bytes(p.cast::<u8>(), 1, bytes);
        libc::munmap(p, bytes);
    }
}

/// Run the workload described by `config` and return the report.
/// `interrupt` resolving means the first signal: stop submitting, drain,
/// check and report (marked interrupted). A failure writing the events file
/// stops submission the same way, and the report says so.
pub async fn run(
    config: Config,
    options: RunOptions,
    interrupt: impl Future<Output = Signal> + Send + 'static,
) -> anyhow::Result<RunReport> {
    quiet_injected_panics();
    if options.inject == Some(Inject::MemorySpike) {
        memory_spike(96 << 20);
    }
    let seed = config.seed.unwrap_or_else(rand::random);
    let world = World::build(&config, seed)?;
    // The checks read the store as it is before the run; at a million
    // targets that takes a noticeable time, which is setup too.
    let checker = crate::check::online::Checker::new(
        crate::check::CheckConfig::of(&config),
        &world.store,
        config.num_targets,
    );
    // The run's clock starts once the world exists: setup is not part of
    // the submission window.
    let clock = Clock::new(config.clock);
    let stop = CancellationToken::new();
    // Submission halts on the first signal or when the events file fails.
    let halt = CancellationToken::new();
    let events_failed = CancellationToken::new();
    let signal = Arc::new(std::sync::OnceLock::new());
    {
        let (halt, events_failed, stop) = (halt.clone(), events_failed.clone(), stop.clone());
        let signal = Arc::clone(&signal);
        tokio::spawn(async move {
            tokio::select! {
                s = interrupt => { let _ = signal.set(s); }
                _ = events_failed.cancelled() => {}
                _ = stop.cancelled() => return,
            }
            halt.cancel();
        });
    }
    let events_requested = options.events.is_some();
    let counters = Arc::new(crate::metrics::Counters::default());
    let max_in_flight = config.max_in_flight;
    let permits = Arc::new(Semaphore::new(max_in_flight as usize));

    let mut bus = crate::events::Bus::new(256);
    let observer_sub = bus.subscribe();
    let collector_sub = bus.subscribe();
    let submit_pub = bus.publisher();
    let engine_pub = bus.publisher();
    drop(bus);

    let (submit_tx, submit_rx) = mpsc::channel(64);
    let (close_tx, close_rx) = mpsc::channel(1);

    let observer = tokio::spawn(
        observer::Observer {
            sub: observer_sub,
            checker,
            events: options.events,
            failed: events_failed.clone(),
            verbose: options.verbose.then_some(crate::report::live::LiveStyle {
                emoji: options.emoji,
                color: options.color,
            }),
            digest: crate::digest::EventDigest::new(config.clock == ClockMode::Virtual),
            canonical_events: config.clock == ClockMode::Virtual,
            digest_thread: config.clock == ClockMode::Real,
        }
        .run(),
    );
    let collector = tokio::spawn(collector::run(collector_sub, clock, config.num_targets));
    let progress = tokio::spawn(progress::run(
        options.progress,
        options.emoji,
        Arc::clone(&counters),
        clock,
        config.duration,
        stop.clone(),
    ));
    let engine = tokio::spawn(
        engine::Engine {
            store: world.store,
            num_targets: config.num_targets,
            grace: config.grace_period,
            driver: driver::DriverConfig {
                backoff: crate::ops::backoff::Backoff {
                    base: config.backoff_base,
                    max: config.backoff_max,
                },
                failure_probability: config.failure_probability,
                stall_probability: config.stall_probability,
                stall: config.stall,
                inject: options.inject,
                seed: seed ^ 0x6472_6976,
            },
            clock,
            publisher: engine_pub,
            counters: Arc::clone(&counters),
            permits: Arc::clone(&permits),
            from_submitter: submit_rx,
            close: close_rx,
            stop: stop.clone(),
            inject: options.inject,
            seed: seed ^ 0x6d6f_6e69,
            max_in_flight: u64::from(max_in_flight),
        }
        .run(),
    );
    let submitter = tokio::spawn(
        submit::Submitter {
            workload: submit::Workload::new(&config, seed, world.first_source)?,
            rate: config.rate,
            duration: config.duration,
            clock,
            publisher: submit_pub,
            counters: Arc::clone(&counters),
            permits: Arc::clone(&permits),
            to_monitor: submit_tx,
            interrupt: halt.clone(),
        }
        .run(),
    );

    // Submission phase.
    let submitted = submitter.await?;
    let submission_end = clock.now_ns();

    // Drain: in-flight ops finish within the drain timeout; then whatever
    // is still Pending is cancelled, and ops still executing (a stall at
    // most) get a bounded time to finish.
    let all = || permits.acquire_many(max_in_flight);
    let drained = tokio::time::timeout(config.drain_timeout, all()).await;
    let mut cancelled_at_deadline = false;
    let settled_all = match drained {
        Ok(Ok(_)) => true,
        _ => {
            cancelled_at_deadline = true;
            let _ = close_tx.send(()).await;
            let grace = config.stall + Duration::from_secs(2);
            matches!(tokio::time::timeout(grace, all()).await, Ok(Ok(_)))
        }
    };
    let drain_end = clock.now_ns();

    stop.cancel();
    let engine = engine.await?;
    let (checker, continuity, events_error, event_digest) = observer.await?;
    let event_digest = event_digest
        .ok_or_else(|| anyhow::anyhow!("the thread folding the event digest stopped"))?;
    let (metrics, contention) = collector.await?;
    progress.await?;
    let errors: Vec<String> = events_error
        .iter()
        .map(|e| format!("writing the events file failed: {e}"))
        .collect();

    let published = submitted.published + engine.published;
    let illegal = engine.illegal_transitions;
    let mut report = verdict::assemble(verdict::Inputs {
        config: &config,
        seed,
        command: &options.command,
        signal: signal.get().copied(),
        errors,
        events_complete: events_requested.then_some(events_error.is_none()),
        settled_all,
        cancelled_at_deadline,
        submission_s: submitted.elapsed_s,
        drain_s: (drain_end.saturating_sub(submission_end)) as f64 / 1e9,
        total_s: drain_end as f64 / 1e9,
        submit: &submitted,
        counters: counters.snapshot(),
        metrics: &metrics,
        contention: &contention,
        baseline: options.baseline.as_ref(),
        checker: &checker,
        continuity: &continuity,
        published,
        engine_illegal_transitions: illegal,
        stuck: engine.stuck,
        store: &engine.store,
        usage: crate::metrics::process_usage(),
    });
    report.digests = Some(crate::report::model::Digests {
        clock: config.clock.name().to_string(),
        events: crate::digest::hex(event_digest.value()),
        store: crate::digest::hex(crate::digest::store_digest(&engine.store)),
    });
    Ok(report)
}

/// Injected panics (the chaos faults) are expected and caught; keep the
/// default hook from printing them. Any other panic still prints.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .payload()
                .downcast_ref::<crate::ops::exec::InjectedPanic>()
                .is_none()
            {
                previous(info);
            }
        }));
    });
}
