//! The run report as data: everything the text and JSON renderers show.
//!
//! The JSON field names are a contract (`schema_version` 1): rename nothing
//! here without bumping it. The text report renders from the same struct, so
//! the two can never disagree.

use std::collections::BTreeMap;

use serde::Serialize;

pub const SCHEMA_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub dynstress_version: String,
    pub seed: u64,
    /// The effective config, in the shape of the TOML file.
    pub config: serde_json::Value,
    pub outcome: Outcome,
    pub duration_s: Durations,
    pub operations: Operations,
    pub rates: Rates,
    pub conflicts: Conflicts,
    pub latency_us: Latencies,
    pub resources: Resources,
    pub integrity: Integrity,
    pub thresholds: Vec<ThresholdResult>,
    pub timeline: Vec<TimelinePoint>,
    /// Figures the text report shows that are not part of the JSON
    /// contract's required fields (real-operation results).
    pub work: WorkSummary,
    /// Fingerprints of the event stream and the final store; `None` for a
    /// report not made by a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digests: Option<Digests>,
}

/// Digests of a run (16 hex digits each): equal digests, equal runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Digests {
    /// `"real"` or `"virtual"`.
    pub clock: String,
    /// The event stream, in the order observed. Times and dates are part
    /// of it on the virtual clock only; the measured execution time never.
    pub events: String,
    /// The final store: every entity's versions, history, tree and fields.
    pub store: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub passed: bool,
    pub exit_code: i32,
    pub interrupted: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Durations {
    pub submission: f64,
    pub drain: f64,
    pub total: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Operations {
    pub submitted: u64,
    pub started: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub failed_attempts: u64,
    pub retried: u64,
    pub preempted: u64,
    pub in_flight_at_end: u64,
    /// Keyed by level name (`LOW`, `NORMAL`, ...); numeric key for unnamed.
    pub by_priority: BTreeMap<String, PriorityCounts>,
    /// Keyed by operation type name.
    pub by_type: BTreeMap<String, TypeCounts>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PriorityCounts {
    pub submitted: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TypeCounts {
    pub submitted: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub failed_attempts: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rates {
    /// `null` in capacity mode.
    pub target_ops_per_s: Option<f64>,
    /// Submitted ops / submission seconds.
    pub achieved_ops_per_s: f64,
    /// Settled (terminal) ops / total seconds.
    pub settled_ops_per_s: f64,
    /// succeeded / submitted.
    pub completion_rate: f64,
    /// 2 / (batch.min_size + batch.max_size).
    pub model_completion_rate: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Conflicts {
    pub detected: u64,
    pub resolved: u64,
    pub grace_saves: u64,
    pub preemptions: u64,
    /// Mean number of ops taking part in a conflict.
    pub ops_per_conflict: f64,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
    /// Number of samples.
    pub count: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Latencies {
    pub resolution: LatencySummary,
    pub execution: LatencySummary,
    pub end_to_end: LatencySummary,
    /// How late batches were against the open-loop schedule (fixed rate).
    pub submission_lateness: LatencySummary,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Resources {
    pub rss_mb_avg: f64,
    pub rss_mb_max: f64,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Integrity {
    pub violations: u64,
    pub checks: Vec<CheckResult>,
    pub entities_modified: u64,
    pub versions_created: u64,
}

/// The integrity checks, in report order. Each is named in the JSON by its
/// snake_case name (`"priority_rule"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    Accounting,
    LegalTransitions,
    ExclusiveExecution,
    PriorityRule,
    GraceRule,
    Replay,
    Versions,
    Trees,
    Events,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 9] = [
        CheckId::Accounting,
        CheckId::LegalTransitions,
        CheckId::ExclusiveExecution,
        CheckId::PriorityRule,
        CheckId::GraceRule,
        CheckId::Replay,
        CheckId::Versions,
        CheckId::Trees,
        CheckId::Events,
    ];

    /// The name used in the report, the JSON and `--junit`.
    pub fn name(self) -> &'static str {
        match self {
            CheckId::Accounting => "accounting",
            CheckId::LegalTransitions => "legal_transitions",
            CheckId::ExclusiveExecution => "exclusive_execution",
            CheckId::PriorityRule => "priority_rule",
            CheckId::GraceRule => "grace_rule",
            CheckId::Replay => "replay",
            CheckId::Versions => "versions",
            CheckId::Trees => "trees",
            CheckId::Events => "events",
        }
    }
}

/// One broken rule, as specific as the check can make it: which op on
/// which target broke which rule, and the figures that show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    pub check: CheckId,
    /// The op at fault (its id), when one op is.
    pub op: Option<u64>,
    /// The target (store entity index), when one target is concerned.
    pub target: Option<u32>,
    /// The rule broken, in a few words (`"winner outranked"`).
    pub rule: String,
    /// What was observed.
    pub detail: String,
}

/// The outcome of one integrity check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    #[serde(rename = "name")]
    pub id: CheckId,
    pub passed: bool,
    /// What the check covered, as a sentence; shown only when it passed.
    pub detail: String,
    /// How many violations were found in all.
    pub violations: u64,
    /// The first violations, in the order found (at most a handful).
    pub first_violations: Vec<Violation>,
}

impl CheckResult {
    /// The first violations as one line each, then how many more there
    /// were; empty when the check passed.
    pub fn describe(&self) -> String {
        let mut lines: Vec<String> = self
            .first_violations
            .iter()
            .map(Violation::to_string)
            .collect();
        let more = self
            .violations
            .saturating_sub(self.first_violations.len() as u64);
        if more > 0 {
            lines.push(format!("and {more} more"));
        }
        lines.join("; ")
    }
}

impl std::fmt::Display for Violation {
    /// `op-0000000c on target 3: winner outranked: <detail>`, leaving out
    /// what is unknown. Ops are named as everywhere else in the report.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.op, self.target) {
            (Some(op), Some(t)) => write!(f, "op-{op:08x} on target {t}: ")?,
            (Some(op), None) => write!(f, "op-{op:08x}: ")?,
            (None, Some(t)) => write!(f, "target {t}: ")?,
            (None, None) => {}
        }
        if !self.rule.is_empty() {
            write!(f, "{}: ", self.rule)?;
        }
        f.write_str(&self.detail)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ThresholdResult {
    pub name: String,
    pub limit: f64,
    pub observed: f64,
    pub passed: bool,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct TimelinePoint {
    pub t_s: u64,
    pub submitted: u64,
    pub settled: u64,
    pub rss_mb: f64,
}

/// Real work done on the store, for the 🔧 section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WorkSummary {
    /// Committed ops that changed a target's fields or structure.
    pub modifications: u64,
    /// Versions created (targets and the group roots they left).
    pub versions: u64,
    pub borrows: u64,
    pub structural_changes: u64,
    pub structural_noops: u64,
    /// Whether the run used capacity mode.
    pub capacity_mode: bool,
    /// Caught panics inside executions.
    pub panics_caught: u64,
    /// The drain deadline passed and Pending ops were cancelled.
    pub cancelled_at_deadline: bool,
    /// Every op reached a final state before the tasks stopped.
    pub settled_all: bool,
}
