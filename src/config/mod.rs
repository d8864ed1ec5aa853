//! Run configuration: the TOML file, its defaults, and validation into the
//! typed [`Config`] the rest of the crate runs on.
//!
//! Loading goes through four layers, one file each, close to the text first
//! and ready-to-use values last:
//!
//! 1. `source`: read the file (refusing directories, huge or binary files)
//!    and turn byte spans into `file, line L, column C`.
//! 2. `schema`: walk the parsed document against the list of keys and
//!    their TOML types; unknown keys and wrong types are refused with the
//!    dotted key (`batch.min_size`), the value as written, its place and
//!    what is allowed. The walk also records where each value is written.
//! 3. `file`: serde structs in the shape of the document, every key with a
//!    default, so an empty file (or no `--config` at all) is the built-in
//!    default, which *is* `configs/brutal.toml` ([`DEFAULT_CONFIG_TOML`]; a
//!    test keeps the two equal). Command-line [`Overrides`] replace file
//!    values here, before validation.
//! 4. `validate`: ranges and cross-key rules, into [`Config`]: durations,
//!    counts, normalised weights and typed priorities, checked once so
//!    downstream code never re-checks.
//!
//! Bad input is the common case for a config loader, so errors get as much
//! care as the happy path: every [`ConfigError`] is one line naming the
//! file, the key (or the flag, for an overridden value) and what is
//! allowed; TOML syntax errors give line and column. Serde with
//! `deny_unknown_fields` and `toml`'s spans alone would keep the place but
//! lose the key and speak of Rust types; `schema` says why in full.

mod error;
mod file;
mod schema;
mod source;
mod validate;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::de::DeTable;

pub(crate) use self::error::ConfigError;
use self::file::ConfigFile;
use self::source::Doc;
use self::validate::Validator;
use crate::ecs::Retention;
use crate::ops::{OpType, Priority, RetryBudgets};
use crate::workload::{Arrivals, BatchSizes, Schedule, TargetDistribution};

/// The built-in default configuration: exactly `configs/brutal.toml`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../configs/brutal.toml");

/// Origin named in errors about the built-in default.
const BUILT_IN: &str = "built-in default";

/// Submission rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rate {
    /// Fixed open-loop rate, ops per second (> 0, finite).
    PerSecond(f64),
    /// Capacity mode: as fast as the engine settles, bounded by
    /// `max_in_flight`.
    Max,
}

/// The clock a run's time is read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClockMode {
    /// Wall time: rates, timers and latencies are real.
    #[default]
    Real,
    /// Tokio's paused clock, advanced only when every task is idle: the
    /// run is a function of its seed and config.
    Virtual,
}

impl ClockMode {
    /// The name in the config file and on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ClockMode::Real => "real",
            ClockMode::Virtual => "virtual",
        }
    }
}

/// Validated, typed configuration. Downstream code never re-checks it.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The submission phase; with stages, their sum.
    pub duration: Duration,
    pub num_targets: u32,
    pub num_sources: u32,
    /// With stages, the schedule's mean rate (expected ops ÷ duration), so
    /// that achieved ÷ target judges a run against the staged schedule.
    pub(crate) rate: Rate,
    /// `[[stages]]`: the staged schedule, `None` for a constant rate.
    pub(crate) stages: Option<Schedule>,
    /// How batches are spaced in time (fixed or staged rates only).
    pub(crate) arrivals: Arrivals,
    /// How a batch picks its target.
    pub(crate) targets: TargetDistribution,
    pub(crate) grace_period: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) target_completion_rate: f64,
    pub(crate) max_memory_mb: f64,
    /// `None`: draw a random seed at start (and print it).
    pub seed: Option<u64>,
    pub clock: ClockMode,
    pub(crate) max_in_flight: u32,
    /// Priority weights, normalised, only levels with weight > 0.
    pub(crate) priorities: Vec<(Priority, f64)>,
    /// Operation type weights, in `OpType::ALL` order.
    pub(crate) op_weights: [f64; OpType::ALL.len()],
    pub(crate) batch_min: u32,
    pub(crate) batch_max: u32,
    /// How batch sizes are drawn in `batch_min..=batch_max`.
    pub(crate) batch_sizes: BatchSizes,
    /// Chance that an op of a batch (other than its first) names an
    /// earlier op of the same batch as its parent.
    pub(crate) parent_probability: f64,
    /// How many earlier batches a parent link may reach back to (0: the
    /// same batch only), so a child can arrive while its parent is still
    /// pending, executing or backing off.
    pub(crate) parent_reach: u32,
    pub(crate) retries: RetryBudgets,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) failure_probability: f64,
    pub(crate) stall_probability: f64,
    pub(crate) stall: Duration,
    pub(crate) retention: Retention,
    pub(crate) thresholds: Thresholds,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Thresholds {
    pub(crate) min_completion_rate: f64,
    pub(crate) max_memory_mb: f64,
    pub(crate) min_rate_accuracy: f64,
    pub(crate) max_resolution_p99_us: Option<f64>,
    pub(crate) max_execution_p99_us: Option<f64>,
    /// p99 of submission lateness against the schedule, ms (fixed rate).
    pub(crate) max_submission_lateness_ms: Option<f64>,
    /// Committed ops with a real effect the run must make.
    pub(crate) min_real_work: u32,
    /// Coverage paths that must be exercised (`check::coverage::PATHS`).
    pub(crate) min_coverage: Vec<String>,
}

impl Config {
    /// Model completion rate: one winner per batch gives 1 / E[batch
    /// size], for the configured size distribution (uniform sizes in
    /// `min..=max`: `2 / (min + max)`; a clamped Poisson: exact).
    pub(crate) fn model_completion_rate(&self) -> f64 {
        match self.batch_sizes {
            BatchSizes::Uniform => 2.0 / f64::from(self.batch_min + self.batch_max),
            sizes => 1.0 / sizes.expected(self.batch_min, self.batch_max),
        }
    }

    /// Mean ops per batch.
    pub(crate) fn mean_batch_size(&self) -> f64 {
        self.batch_sizes.expected(self.batch_min, self.batch_max)
    }

    /// The schedule batches are paced against: the stages, or the constant
    /// rate for the whole duration; `None` in capacity mode.
    pub(crate) fn schedule(&self) -> Option<Schedule> {
        match (&self.stages, self.rate) {
            (Some(s), _) => Some(s.clone()),
            (None, Rate::PerSecond(r)) => Some(Schedule::constant(r, self.duration.as_secs_f64())),
            (None, Rate::Max) => None,
        }
    }

    pub(crate) fn op_weight(&self, t: OpType) -> f64 {
        self.op_weights[t.index()]
    }

    /// Capacity mode (`operation_rate_per_second = "max"`).
    pub fn is_capacity(&self) -> bool {
        self.rate == Rate::Max
    }

    /// The effective config as a TOML file; parsing it gives back this
    /// config. An absent seed is left out (TOML has no null).
    pub fn to_toml(&self) -> String {
        toml::to_string(&ConfigFile::from(self))
            .unwrap_or_else(|e| format!("# the configuration cannot be written as TOML: {e}\n"))
    }

    /// The effective config in the shape of the file: the rate is a number
    /// or `"max"`, an absent seed is `null`, and the thresholds are
    /// resolved (their defaults filled in).
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(ConfigFile::from(self)).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            // JSON has no 2^63 limit: the seed is always a plain number.
            map.insert("seed".into(), serde_json::json!(self.seed));
        }
        value
    }
}

/// Values given on the command line; they replace the file's before
/// validation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--duration`: `duration_seconds`. With `[[stages]]`, every stage is
    /// stretched or shrunk in proportion so that they last this long.
    pub duration: Option<f64>,
    /// `--rate`: `operation_rate_per_second`, a number or `"max"`. With
    /// `[[stages]]`, every rate is scaled so that the peak is this rate;
    /// `"max"` is refused.
    pub rate: Option<String>,
    /// `--targets`: `num_targets` (any integer: the config's bounds judge
    /// it, with the flag's name).
    pub targets: Option<i64>,
    /// `--grace-period`: `grace_period_seconds`.
    pub grace_period: Option<f64>,
    /// `--seed`: `seed`.
    pub seed: Option<u64>,
    /// `--clock`: `clock`.
    pub clock: Option<String>,
}

/// Load the config at `path` (`None`: the built-in default) and apply
/// `overrides`. Nothing runs until this succeeds.
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    match path {
        None => parse_str(DEFAULT_CONFIG_TOML, BUILT_IN, overrides),
        Some(path) => {
            let text = source::read_text(path)?;
            parse_str(&text, &path.display().to_string(), overrides)
        }
    }
}

/// Parse and validate config text. `origin` names it in errors (a path, or
/// "built-in default").
pub fn parse_str(text: &str, origin: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
    let doc = Doc { origin, text };
    let table = DeTable::parse(text).map_err(|e| doc.syntax_error(&e))?;
    let places = schema::check(&doc, table.get_ref())?;
    let mut file = ConfigFile::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| doc.serde_error(&e, &places))?;
    let flags = file.apply(overrides);
    Validator { doc, places, flags }.validate(&file)
}

#[cfg(test)]
mod tests;
