//! Run configuration (skeleton: the typed `Config` is the contract; the
//! TOML parsing and validation are to be implemented).

use std::time::Duration;

use crate::ecs::Retention;
use crate::ops::{OpType, Priority, RetryBudgets};

/// Submission rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// Fixed open-loop rate, ops per second (> 0, finite).
    PerSecond(f64),
    /// Capacity mode: as fast as the engine settles, bounded by
    /// `max_in_flight`.
    Max,
}

/// Validated, typed configuration. Downstream code never re-checks it.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub duration: Duration,
    pub num_targets: u32,
    pub num_sources: u32,
    pub rate: Rate,
    pub grace_period: Duration,
    pub drain_timeout: Duration,
    pub target_completion_rate: f64,
    pub max_memory_mb: f64,
    /// `None`: draw a random seed at start (and print it).
    pub seed: Option<u64>,
    pub max_in_flight: u32,
    /// Priority weights, normalised, only levels with weight > 0.
    pub priorities: Vec<(Priority, f64)>,
    /// Operation type weights, in `OpType::ALL` order.
    pub op_weights: [f64; 6],
    pub batch_min: u32,
    pub batch_max: u32,
    pub retries: RetryBudgets,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub failure_probability: f64,
    pub stall_probability: f64,
    pub stall: Duration,
    pub retention: Retention,
    pub thresholds: Thresholds,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    pub min_completion_rate: f64,
    pub max_memory_mb: f64,
    pub min_rate_accuracy: f64,
    pub max_resolution_p99_us: Option<f64>,
    pub max_execution_p99_us: Option<f64>,
}

impl Config {
    /// Model completion rate: one winner per batch of uniform size
    /// `min..=max` gives `2 / (min + max)`.
    pub fn model_completion_rate(&self) -> f64 {
        2.0 / f64::from(self.batch_min + self.batch_max)
    }

    pub fn op_weight(&self, t: OpType) -> f64 {
        self.op_weights[t.index()]
    }
}
