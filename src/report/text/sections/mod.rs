//! The ten sections of the text report, built from the [`RunReport`] as
//! trees of [`Node`]s, and the one-line reason of a failed verdict.
//!
//! Every ✅ and ❌ here is computed from the report's numbers: the
//! accounting equation is re-added from its terms, each check and threshold
//! shows the figure it was judged on.
//!
//! [`run`] tells what the run did (configuration, throughput, work,
//! conflicts, targets, grace, latency, resources); [`verdict`] what was
//! proved and decided (accounting, integrity, coverage, assessment, the
//! reason of a failure).

mod run;
mod verdict;

pub(super) use self::run::*;
pub(super) use self::verdict::*;
