//! The run report as data: everything the text and JSON renderers show.
//!
//! The JSON field names are a contract (see [`SCHEMA_VERSION`]): rename
//! nothing here without bumping it. The text report renders from the same
//! struct, so the two can never disagree. The harness fills the report in
//! once a run is over, verdict included; nothing in `report/` computes a
//! verdict or reads the engine's types.

mod config_view;

use schemars::JsonSchema;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

pub use self::config_view::{
    BatchView, ConfigView, FaultsView, RetentionView, RetriesView, StageView, TargetRate,
    TargetsView, ThresholdsView,
};

/// Version of the JSON document's shape; bumped on every change that can
/// break a reader. The README lists what changed in each version, and
/// `docs/report.schema.json` (generated from these types) describes it.
pub const SCHEMA_VERSION: u32 = 5;

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RunReport {
    pub schema_version: u32,
    pub dynstress_version: String,
    /// Written as a string: JSON readers that hold numbers as doubles (jq,
    /// JavaScript) would round a seed above 2^53.
    #[serde(serialize_with = "as_string")]
    #[schemars(with = "String")]
    pub seed: u64,
    /// The command that reproduces the run: config file, overrides, seed.
    pub rerun: String,
    /// The effective config, as the gate used it.
    pub config: ConfigView,
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
    /// How many cases of each rule path the integrity checks examined.
    pub coverage: Coverage,
    /// How the ops spread over the targets: the hottest ones and the skew.
    pub targets: Option<TargetContention>,
    /// Figures the text report shows that are not part of the JSON
    /// contract's required fields (real-operation results).
    pub work: WorkSummary,
    /// Fingerprints of the event stream and the final store; `None` for a
    /// report not made by a run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digests: Option<Digests>,
}

/// Digests of a run (16 hex digits each): equal digests, equal runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Digests {
    /// `"real"` or `"virtual"`.
    pub clock: String,
    /// The event stream, in the order observed. Times and dates are part
    /// of it on the virtual clock only; the measured execution time never.
    pub events: String,
    /// The final store: every entity's versions, history, tree and fields.
    pub store: String,
}

fn as_string<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Outcome {
    pub passed: bool,
    pub exit_code: ExitCode,
    /// What the exit code means, as `--help` says it.
    pub meaning: &'static str,
    /// Stopped by a signal (SIGINT or SIGTERM): the figures are partial.
    pub interrupted: bool,
    /// What went wrong outside the engine (an output that failed during
    /// the run); the run stopped early when this is not empty.
    pub errors: Vec<String>,
    /// Whether the events file holds every event (`null` without
    /// `--events`).
    pub events_complete: Option<bool>,
}

impl Outcome {
    /// The outcome of a run that ended with `exit_code`.
    pub fn new(exit_code: ExitCode, interrupted: bool) -> Outcome {
        Outcome {
            passed: exit_code == ExitCode::Passed,
            exit_code,
            meaning: exit_code.meaning(),
            interrupted,
            errors: Vec::new(),
            events_complete: None,
        }
    }
}

/// Every exit code of the binary, in one place: the verdict sets it, main
/// exits with it, the renderers print it, `--help` and the README list it.
/// In the JSON it is the plain number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitCode {
    /// Every threshold held and every integrity check passed.
    Passed,
    /// A threshold failed.
    ThresholdFailed,
    /// Usage or configuration error; nothing ran.
    Usage,
    /// An integrity check failed.
    IntegrityFailed,
    /// The run, or writing one of its outputs, failed: the result is
    /// incomplete, whatever the thresholds say.
    CouldNotRun,
    /// Interrupted by Ctrl-C (SIGINT).
    Interrupted,
    /// Stopped by SIGTERM.
    Terminated,
}

impl ExitCode {
    /// Every code, in numeric order.
    pub const ALL: [ExitCode; 7] = [
        ExitCode::Passed,
        ExitCode::ThresholdFailed,
        ExitCode::Usage,
        ExitCode::IntegrityFailed,
        ExitCode::CouldNotRun,
        ExitCode::Interrupted,
        ExitCode::Terminated,
    ];

    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Passed => 0,
            ExitCode::ThresholdFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::IntegrityFailed => 3,
            ExitCode::CouldNotRun => 4,
            ExitCode::Interrupted => 130,
            ExitCode::Terminated => 143,
        }
    }

    /// What the code means, as `--help` and the README say it.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Passed => "passed: every threshold held and every integrity check passed",
            ExitCode::ThresholdFailed => {
                "a threshold failed (completion rate, memory, rate accuracy, latency, \
                 real work)"
            }
            ExitCode::Usage => "usage or configuration error; nothing ran",
            ExitCode::IntegrityFailed => {
                "an integrity check failed: the engine did something wrong (or, with \
                 --check-determinism, two runs of the seed differed)"
            }
            ExitCode::CouldNotRun => {
                "the run or one of its outputs failed (events or report file); \
                 whatever could be written was"
            }
            ExitCode::Interrupted => "interrupted (Ctrl-C); the partial report is printed",
            ExitCode::Terminated => "terminated (SIGTERM); the partial report is printed",
        }
    }

    /// Rank when two outcomes meet (a verdict and an output failure, say):
    /// the higher one is what the process exits with. A failed output makes
    /// the figures incomplete, so it outranks a failed threshold; an
    /// integrity failure is a finding about the engine that stands however
    /// the output fared; a signal means the person asked to stop.
    fn severity(self) -> u8 {
        match self {
            ExitCode::Passed => 0,
            ExitCode::ThresholdFailed => 1,
            ExitCode::CouldNotRun => 2,
            ExitCode::IntegrityFailed => 3,
            ExitCode::Usage => 4,
            ExitCode::Interrupted => 5,
            ExitCode::Terminated => 6,
        }
    }

    /// The more severe of two codes.
    pub fn max(self, other: ExitCode) -> ExitCode {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// The number, as the process exits with it.
impl std::fmt::Display for ExitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl JsonSchema for ExitCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExitCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        schemars::json_schema!({
            "description": "The process exit status.",
            "type": "integer",
            "enum": codes,
        })
    }
}

impl Serialize for ExitCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

/// Named entries in a meaningful order (priority levels lowest first,
/// operation types as the workload lists them), written to JSON as an
/// object in that order.
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T>(pub Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<T> Named<T> {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn get(&self, name: &str) -> Option<&T> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: Into<String>, T> FromIterator<(S, T)> for Named<T> {
    fn from_iter<I: IntoIterator<Item = (S, T)>>(iter: I) -> Self {
        Named(iter.into_iter().map(|(n, v)| (n.into(), v)).collect())
    }
}

/// An object whose keys keep their order (JSON Schema cannot say so).
impl<T: JsonSchema> JsonSchema for Named<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Named_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let value = generator.subschema_for::<T>();
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": value,
        })
    }
}

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Durations {
    pub submission: f64,
    pub drain: f64,
    pub total: f64,
}

#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
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
    /// Most ops in flight at once; at most the config's `max_in_flight`.
    pub in_flight_peak: u64,
    /// Batches the submitter held back until in-flight ops settled: the
    /// in-flight limit was reached.
    pub in_flight_waits: u64,
    /// Keyed by level name (`LOW`, `NORMAL`, ...; numeric for unnamed),
    /// lowest level first.
    pub by_priority: Named<PriorityCounts>,
    /// Keyed by operation type name, in workload order.
    pub by_type: Named<TypeCounts>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PriorityCounts {
    pub submitted: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TypeCounts {
    pub submitted: u64,
    pub succeeded: u64,
    pub rejected: u64,
    pub cancelled: u64,
    pub failed_attempts: u64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Rates {
    /// `null` in capacity mode.
    pub target_ops_per_s: Option<f64>,
    /// Submitted ops / real submission seconds.
    pub achieved_ops_per_s: f64,
    /// Fixed rate: ops due before the deadline that were never handed to
    /// the engine (submission stops at the deadline; nothing is sent late).
    pub missed_ops: u64,
    /// Settled ops (succeeded, rejected or cancelled) / total seconds.
    pub settled_ops_per_s: f64,
    /// Succeeded ops (their transaction committed) / total seconds.
    pub succeeded_ops_per_s: f64,
    /// Rejected ops / total seconds.
    pub rejected_ops_per_s: f64,
    /// succeeded / submitted.
    pub completion_rate: f64,
    /// 1 / E[batch size]: one winner per batch that meets an idle target.
    /// A fixed-rate figure: in capacity mode batches meet busy targets and
    /// the text report does not show it.
    pub model_completion_rate: f64,
    /// Poisson arrivals only: the batches the drawn arrivals made due
    /// within the window, and how many were sent. `min_rate_accuracy`
    /// judges sent ÷ due there, since how many arrive is random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<ArrivalsDue>,
}

/// Batches due and sent under Poisson arrivals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ArrivalsDue {
    pub due: u64,
    pub sent: u64,
}

#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct Conflicts {
    pub detected: u64,
    pub resolved: u64,
    pub grace_saves: u64,
    pub preemptions: u64,
    /// Mean number of ops taking part in a conflict.
    pub ops_per_conflict: f64,
    /// How many conflicts had each number of ops taking part, smallest
    /// first; sizes no conflict had are left out.
    pub by_size: Vec<ConflictSize>,
}

/// One bar of the conflict-size distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ConflictSize {
    /// Ops taking part (the Pending ones and the executing one, if any).
    pub ops: u64,
    pub conflicts: u64,
}

#[derive(Clone, Copy, Debug, Default, Serialize, JsonSchema)]
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

#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct Latencies {
    pub resolution: LatencySummary,
    pub execution: LatencySummary,
    pub end_to_end: LatencySummary,
    /// How late batches were against the open-loop schedule (fixed rate).
    pub submission_lateness: LatencySummary,
}

#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct Resources {
    /// Average of the once-a-second samples.
    pub rss_mb_avg: f64,
    /// The kernel's high-water mark of the process (what the memory
    /// threshold judges).
    pub rss_mb_max: f64,
    /// The largest once-a-second sample.
    pub rss_mb_max_sampled: f64,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
}

#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct Integrity {
    pub violations: u64,
    pub checks: Vec<CheckResult>,
    pub entities_modified: u64,
    pub versions_created: u64,
}

/// The integrity checks, in report order. Each is named in the JSON by its
/// snake_case name (`"priority_rule"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    Accounting,
    LegalTransitions,
    ExclusiveExecution,
    PriorityRule,
    GraceRule,
    Retries,
    Failures,
    Replay,
    Versions,
    Trees,
    Events,
}

impl CheckId {
    /// Every check, in report order.
    pub const ALL: [CheckId; 11] = [
        CheckId::Accounting,
        CheckId::LegalTransitions,
        CheckId::ExclusiveExecution,
        CheckId::PriorityRule,
        CheckId::GraceRule,
        CheckId::Retries,
        CheckId::Failures,
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
            CheckId::Retries => "retries",
            CheckId::Failures => "failures",
            CheckId::Replay => "replay",
            CheckId::Versions => "versions",
            CheckId::Trees => "trees",
            CheckId::Events => "events",
        }
    }
}

/// One broken rule, as specific as the check can make it: which op on
/// which target broke which rule, and the figures that show it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CheckResult {
    #[serde(rename = "name")]
    pub id: CheckId,
    pub passed: bool,
    /// Whether the check examined at least one case. A check that passed
    /// without examining anything proved nothing: it is "not exercised"
    /// (⚠️), not passed (✅).
    pub exercised: bool,
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

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ThresholdResult {
    pub name: String,
    pub limit: f64,
    pub observed: f64,
    pub passed: bool,
}

/// One span of the timeline: a second of run time, or several adjacent
/// seconds merged on a long run.
///
/// Run time counts from the start of submission; the span covers
/// `[t_s - span_s, t_s)` and events are placed by their own timestamps.
/// A timeline holds at most [`TIMELINE_MAX_POINTS`] spans: past that,
/// every `k` adjacent seconds are merged into one span of `span_s = k`
/// (the smallest `k` that fits; the last span may be shorter). Merging
/// sums the counts, keeps the largest value of the levels (in flight,
/// RSS) and of the percentiles (a merged p99 is the worst second's p99,
/// never an average that hides it), and averages the target rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct TimelinePoint {
    /// End of the span, in seconds of run time.
    pub t_s: u64,
    /// Seconds the span covers: 1 unless the timeline was downsampled.
    pub span_s: u64,
    pub submitted: u64,
    pub committed: u64,
    pub rejected: u64,
    pub cancelled: u64,
    /// committed + rejected + cancelled.
    pub settled: u64,
    /// Ops submitted and not yet settled at the end of the span.
    pub in_flight: u64,
    /// Failed attempts sent back to wait for a retry.
    pub retries: u64,
    pub grace_saves: u64,
    pub preemptions: u64,
    /// Percentiles of the ops that committed in the span, in µs; `null`
    /// when none did.
    pub execution_p50_us: Option<u64>,
    pub execution_p99_us: Option<u64>,
    pub end_to_end_p50_us: Option<u64>,
    pub end_to_end_p99_us: Option<u64>,
    /// The latest once-a-second RSS sample at the end of the span.
    pub rss_mb: f64,
    /// The rate the schedule asked for over the span, in ops per second
    /// (absent in capacity mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
}

/// The most points a timeline holds (an hour at one point per second).
pub const TIMELINE_MAX_POINTS: usize = 3_600;

/// Real work done on the store, for the 🔧 section.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct WorkSummary {
    /// Committed ops that changed a target's fields or structure.
    pub modifications: u64,
    /// Committed ops with a real effect (what `min_real_work` counts).
    pub real_work: u64,
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

/// What the run proved, per rule path: how many cases the checks examined.
/// A path with zero cases was not exercised.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
pub struct Coverage {
    /// In a fixed order (see `check::coverage::PATHS`).
    pub paths: Vec<CoveragePath>,
    /// How late preemptions were: from the moment the victim was both past
    /// its grace period and outranked by a waiting op, to the preemption.
    pub preemption_lateness_us: LatencySummary,
    /// The promptness bound the grace check holds preemptions to, µs.
    pub preemption_bound_us: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CoveragePath {
    pub name: String,
    pub cases: u64,
    pub exercised: bool,
}

/// How the ops spread over the targets.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TargetContention {
    /// Targets in the run.
    pub targets: u32,
    /// Targets that received at least one op.
    pub targets_hit: u32,
    /// The hottest targets by ops, hottest first (ties: lower index first).
    pub hottest: Vec<TargetCounts>,
    /// Share of all ops on the hottest 1 % of targets (at least one).
    pub top_1_percent_share: f64,
    /// Share of all ops on the ten hottest targets.
    pub top_10_share: f64,
    /// Gini coefficient of ops over all targets: 0 when every target got
    /// as many ops, near 1 when one target got them all.
    pub gini: f64,
}

/// What happened on one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TargetCounts {
    /// Store index of the target.
    pub target: u32,
    /// Ops submitted to it.
    pub ops: u32,
    /// Resolution points with two or more active ops.
    pub conflicts: u32,
    pub rejections: u32,
    /// Ops that succeeded on it.
    pub commits: u32,
}
