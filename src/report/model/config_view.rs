//! The effective configuration as the report shows it.

use schemars::JsonSchema;
use serde::Serialize;
use serde::ser::Serializer;

use super::Named;

/// The effective configuration as the report shows it: the file's keys,
/// with one name per setting. The thresholds are the ones the gate
/// enforced (their defaults resolved), so the report never shows a second
/// name for the same limit.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ConfigView {
    pub duration_seconds: f64,
    pub drain_timeout_seconds: f64,
    pub num_targets: u32,
    pub num_sources: u32,
    /// With `stages`, their mean rate.
    pub operation_rate_per_second: TargetRate,
    /// The staged schedule, when the config has `[[stages]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_rate_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageView>>,
    /// `"uniform"` or `"poisson"`.
    pub arrivals: &'static str,
    pub targets: TargetsView,
    pub max_in_flight: u32,
    pub grace_period_seconds: f64,
    /// Level name → weight, lowest level first.
    pub priority_distribution: Named<f64>,
    /// Type name → weight, in workload order.
    pub operation_types: Named<f64>,
    pub batch: BatchView,
    pub retries: RetriesView,
    pub faults: FaultsView,
    pub thresholds: ThresholdsView,
    pub retention: RetentionView,
}

/// A fixed rate, or capacity mode (`"max"` in the JSON).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TargetRate {
    PerSecond(f64),
    Max,
}

impl JsonSchema for TargetRate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TargetRate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Operations per second, or \"max\" for capacity mode.",
            "oneOf": [{ "type": "number" }, { "const": "max" }],
        })
    }
}

impl Serialize for TargetRate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TargetRate::PerSecond(r) => s.serialize_f64(*r),
            TargetRate::Max => s.serialize_str("max"),
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, JsonSchema)]
pub struct StageView {
    pub duration_seconds: f64,
    pub rate_per_second: f64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TargetsView {
    /// `"uniform"` or `"zipf"`.
    pub distribution: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipf_exponent: Option<f64>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct BatchView {
    pub min_size: u32,
    pub max_size: u32,
    /// `"uniform"` or `"poisson"`.
    pub size_distribution: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_size: Option<f64>,
    pub parent_probability: f64,
    /// How many batches before its own a parent may come from.
    pub parent_reach: u32,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RetriesView {
    pub structural: u32,
    pub normal: u32,
    pub low_priority: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct FaultsView {
    pub failure_probability: f64,
    pub stall_probability: f64,
    pub stall_ms: u64,
}

/// The limits the gate enforces, by the names the thresholds carry.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ThresholdsView {
    pub min_completion_rate: f64,
    pub max_memory_mb: f64,
    pub min_rate_accuracy: f64,
    pub max_resolution_p99_us: Option<f64>,
    pub max_execution_p99_us: Option<f64>,
    /// p99 of submission lateness, ms.
    pub max_submission_lateness_ms: Option<f64>,
    pub min_real_work: u32,
    /// Rule paths the run must exercise.
    pub min_coverage: Vec<String>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct RetentionView {
    pub versions: u64,
    pub history: u64,
}
