//! Workload shapes: how load is spread over time, targets and batch
//! sizes, as pure, seeded, synchronous code.
//!
//! Real contention is not uniform and real load is not flat. This module
//! owns the shapes a config can ask for, and nothing else: no clock, no
//! tasks, no engine. The submitter asks it when the next batch is due and
//! what the batch looks like; the report asks it how skewed the contention
//! was.
//!
//! - [`schedule`]: stages ramping the rate linearly, k6 style; the target
//!   rate at `t`, the expected ops by `t`, and when the next batch is due.
//! - [`shape`]: uniform or Poisson arrivals, uniform or Zipf targets,
//!   uniform or clamped-Poisson batch sizes, and the exact mean batch size
//!   behind the completion-rate model.
//! - [`contention`]: per-target counts and skew figures for the report,
//!   bounded at a few counters per target.

pub(crate) mod contention;
pub(crate) mod schedule;
pub(crate) mod shape;

pub(crate) use self::contention::ContentionTally;
pub(crate) use self::schedule::{Schedule, Stage};
pub(crate) use self::shape::{Arrivals, BatchSizes, Pacer, TargetDistribution};
