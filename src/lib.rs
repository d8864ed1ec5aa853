//! dynstress: a stress tester for a priority-based conflict-resolution
//! engine over a versioned entity store.

pub mod breakpoint;
pub mod check;
pub mod config;
pub mod digest;
pub mod ecs;
pub mod events;
pub mod explore;
pub mod harness;
pub mod history;
pub mod metrics;
pub mod ops;
pub mod prefetch;
pub mod report;
pub mod resolve;
pub(crate) mod workload;
