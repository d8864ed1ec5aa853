//! The file as written: serde structs in the shape of the TOML document,
//! with the defaults of every key, the command-line overrides applied on
//! top, and the way back from a typed [`Config`] for `to_toml`.
//!
//! Types here are wide on purpose (`i64`, `f64`, a rate that may be any
//! string): a negative count or a NaN must get through serde and reach
//! validation, which names its key. Serde only sees a document the schema
//! walk has passed, so its own errors are a fallback, not the rule.
//!
//! Every key has a default, so an empty file is the built-in default
//! (`configs/brutal.toml`). The two weight tables are keyed by
//! [`Priority::NAMED`] and [`OpType::ALL`] and sized by them, so a new op
//! type needs only its default weight here.

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Config, Overrides, Rate};
use crate::ops::{OpType, Priority};
use crate::workload::{BatchSizes, Schedule, TargetDistribution};

/// The config file as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ConfigFile {
    /// Absent only when written from a staged config (the stages set it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) duration_seconds: Option<f64>,
    pub(super) num_targets: i64,
    pub(super) num_sources: i64,
    /// Absent only when written from a staged config (the stages set it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) operation_rate_per_second: Option<RateValue>,
    /// Only with `[[stages]]`: the rate the first stage ramps from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) start_rate_per_second: Option<f64>,
    #[serde(skip_serializing_if = "is_uniform")]
    pub(super) arrivals: String,
    pub(super) grace_period_seconds: f64,
    pub(super) drain_timeout_seconds: f64,
    pub(super) target_completion_rate: f64,
    pub(super) max_memory_mb: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) seed: Option<SeedValue>,
    pub(super) clock: String,
    pub(super) max_in_flight: i64,
    pub(super) priority_distribution: PriorityWeights,
    pub(super) operation_types: OpTypeWeights,
    #[serde(skip_serializing_if = "TargetsFile::is_default")]
    pub(super) targets: TargetsFile,
    pub(super) batch: BatchFile,
    pub(super) retries: RetriesFile,
    pub(super) faults: FaultsFile,
    pub(super) thresholds: ThresholdsFile,
    pub(super) retention: RetentionFile,
    /// Written last: TOML puts arrays of tables after the plain tables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) stages: Vec<StageFile>,
}

/// `duration_seconds` when the file does not give it.
pub(super) const DEFAULT_DURATION_S: f64 = 15.0;
/// `operation_rate_per_second` when the file does not give it.
pub(super) const DEFAULT_RATE: f64 = 100.0;
/// The name of every default distribution.
pub(super) const UNIFORM: &str = "uniform";

fn is_uniform(name: &String) -> bool {
    name == UNIFORM
}

impl Default for ConfigFile {
    fn default() -> Self {
        ConfigFile {
            duration_seconds: Some(DEFAULT_DURATION_S),
            num_targets: 5,
            num_sources: 5,
            operation_rate_per_second: Some(RateValue::Number(DEFAULT_RATE)),
            start_rate_per_second: None,
            arrivals: UNIFORM.into(),
            grace_period_seconds: 0.2,
            drain_timeout_seconds: 2.0,
            target_completion_rate: 0.15,
            max_memory_mb: 1000.0,
            seed: None,
            clock: "real".into(),
            max_in_flight: 100_000,
            priority_distribution: PriorityWeights::default(),
            operation_types: OpTypeWeights::default(),
            targets: TargetsFile::default(),
            batch: BatchFile::default(),
            retries: RetriesFile::default(),
            faults: FaultsFile::default(),
            thresholds: ThresholdsFile::default(),
            retention: RetentionFile::default(),
            stages: Vec::new(),
        }
    }
}

/// `operation_rate_per_second`: a number, or a string that must be "max".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum RateValue {
    Number(f64),
    Text(String),
}

impl fmt::Display for RateValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateValue::Number(n) => write!(f, "{n}"),
            RateValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// `seed`: TOML integers stop at 2^63 - 1, so larger seeds are written as
/// quoted decimal strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum SeedValue {
    Number(i64),
    Text(String),
}

impl SeedValue {
    pub(super) fn of(seed: u64) -> SeedValue {
        match i64::try_from(seed) {
            Ok(n) => SeedValue::Number(n),
            Err(_) => SeedValue::Text(seed.to_string()),
        }
    }
}

impl fmt::Display for SeedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedValue::Number(n) => write!(f, "{n}"),
            SeedValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// The number of priority levels a config can weigh.
const LEVELS: usize = Priority::NAMED.len();
/// The number of operation types.
const OP_TYPES: usize = OpType::ALL.len();

/// `[priority_distribution]`: a weight per named level, in
/// [`Priority::NAMED`] order. The default (table absent) is the four levels
/// LOW..CRITICAL at 0.25; a level absent from a given table is `None`
/// (weight 0) and is left out when written.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PriorityWeights([Option<f64>; LEVELS]);

impl Default for PriorityWeights {
    fn default() -> Self {
        PriorityWeights::from_levels(&[
            (Priority::LOW, 0.25),
            (Priority::NORMAL, 0.25),
            (Priority::HIGH, 0.25),
            (Priority::CRITICAL, 0.25),
        ])
    }
}

impl PriorityWeights {
    /// `(name, weight)` in `Priority::NAMED` order (lowest first).
    pub(super) fn entries(&self) -> [(&'static str, f64); LEVELS] {
        std::array::from_fn(|i| (Priority::NAMED[i].0, self.0[i].unwrap_or(0.0)))
    }

    /// The levels given, each at its weight; the others absent.
    pub(super) fn from_levels(levels: &[(Priority, f64)]) -> PriorityWeights {
        PriorityWeights(
            Priority::NAMED.map(|(_, p)| levels.iter().find(|(q, _)| *q == p).map(|(_, w)| *w)),
        )
    }
}

impl Serialize for PriorityWeights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let names = Priority::NAMED.map(|(name, _)| name);
        serialize_weights(s, names.into_iter().zip(self.0))
    }
}

impl<'de> Deserialize<'de> for PriorityWeights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Priority::NAMED.map(|(name, _)| name);
        d.deserialize_map(WeightsVisitor { names })
            .map(PriorityWeights)
    }
}

/// `[operation_types]`: a weight per op type, in [`OpType::ALL`] order. The
/// default (table absent) is [`default_op_weight`] of each type; a type
/// absent from a given table is 0.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct OpTypeWeights(pub(super) [f64; OP_TYPES]);

/// The share of `t` in the default workload mix (`configs/brutal.toml`).
fn default_op_weight(t: OpType) -> f64 {
    match t {
        OpType::VersionEntity => 0.30,
        OpType::ModifyField => 0.25,
        OpType::BorrowAttribute => 0.20,
        OpType::ComplexUpdate => 0.15,
        OpType::PromoteToRoot => 0.05,
        OpType::DetachEntity => 0.05,
    }
}

impl Default for OpTypeWeights {
    fn default() -> Self {
        OpTypeWeights(OpType::ALL.map(default_op_weight))
    }
}

impl OpTypeWeights {
    /// `(name, weight)` in `OpType::ALL` order.
    pub(super) fn entries(&self) -> [(&'static str, f64); OP_TYPES] {
        std::array::from_fn(|i| (OpType::ALL[i].name(), self.0[i]))
    }
}

impl Serialize for OpTypeWeights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_weights(s, self.entries().map(|(name, w)| (name, Some(w))))
    }
}

impl<'de> Deserialize<'de> for OpTypeWeights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = OpType::ALL.map(OpType::name);
        let weights = d.deserialize_map(WeightsVisitor { names })?;
        Ok(OpTypeWeights(weights.map(|w| w.unwrap_or(0.0))))
    }
}

/// A weights table as TOML writes it: `name = weight` in the order given,
/// absent weights left out.
fn serialize_weights<S: Serializer>(
    s: S,
    weights: impl IntoIterator<Item = (&'static str, Option<f64>)>,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(None)?;
    for (name, weight) in weights {
        if let Some(w) = weight {
            map.serialize_entry(name, &w)?;
        }
    }
    map.end()
}

/// Reads a weights table keyed by `names` into their order; a name the
/// table does not give is `None`.
struct WeightsVisitor<const N: usize> {
    names: [&'static str; N],
}

impl<'de, const N: usize> Visitor<'de> for WeightsVisitor<N> {
    type Value = [Option<f64>; N];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a table of weights keyed by {}", self.names.join(", "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut weights = [None; N];
        while let Some(key) = map.next_key::<String>()? {
            let Some(i) = self.names.iter().position(|n| *n == key) else {
                return Err(de::Error::custom(format!(
                    "unknown key `{key}`; allowed keys: {}",
                    self.names.join(", ")
                )));
            };
            weights[i] = Some(map.next_value()?);
        }
        Ok(weights)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct BatchFile {
    pub(super) min_size: i64,
    pub(super) max_size: i64,
    pub(super) parent_probability: f64,
    pub(super) parent_reach: i64,
    #[serde(skip_serializing_if = "is_uniform")]
    pub(super) size_distribution: String,
    /// Only with `size_distribution = "poisson"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) mean_size: Option<f64>,
}

impl Default for BatchFile {
    fn default() -> Self {
        BatchFile {
            min_size: 3,
            max_size: 8,
            parent_probability: 0.0,
            parent_reach: 0,
            size_distribution: UNIFORM.into(),
            mean_size: None,
        }
    }
}

/// `[targets]`: how batches pick their target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct TargetsFile {
    pub(super) distribution: String,
    /// Only with `distribution = "zipf"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) zipf_exponent: Option<f64>,
}

impl Default for TargetsFile {
    fn default() -> Self {
        TargetsFile {
            distribution: UNIFORM.into(),
            zipf_exponent: None,
        }
    }
}

impl TargetsFile {
    fn is_default(&self) -> bool {
        *self == TargetsFile::default()
    }
}

/// One `[[stages]]` entry. Both keys are required; they are options here
/// so that validation, not serde, says which one is missing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct StageFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) duration_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) rate_per_second: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RetriesFile {
    pub(super) structural: i64,
    pub(super) normal: i64,
    pub(super) low_priority: i64,
    pub(super) backoff_base_ms: i64,
    pub(super) backoff_max_ms: i64,
}

impl Default for RetriesFile {
    fn default() -> Self {
        RetriesFile {
            structural: 20,
            normal: 5,
            low_priority: 3,
            backoff_base_ms: 10,
            backoff_max_ms: 1000,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct FaultsFile {
    pub(super) failure_probability: f64,
    pub(super) stall_probability: f64,
    pub(super) stall_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ThresholdsFile {
    /// Absent: `target_completion_rate`.
    pub(super) min_completion_rate: Option<f64>,
    /// Absent: the top-level `max_memory_mb`.
    pub(super) max_memory_mb: Option<f64>,
    pub(super) min_rate_accuracy: f64,
    pub(super) max_resolution_p99_us: Option<f64>,
    pub(super) max_execution_p99_us: Option<f64>,
    pub(super) max_submission_lateness_ms: Option<f64>,
    pub(super) min_real_work: i64,
    pub(super) min_coverage: Vec<String>,
}

impl Default for ThresholdsFile {
    fn default() -> Self {
        ThresholdsFile {
            min_completion_rate: None,
            max_memory_mb: None,
            min_rate_accuracy: 0.95,
            max_resolution_p99_us: None,
            max_execution_p99_us: None,
            max_submission_lateness_ms: None,
            min_real_work: 1,
            min_coverage: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RetentionFile {
    pub(super) versions: i64,
    pub(super) history: i64,
}

impl Default for RetentionFile {
    fn default() -> Self {
        RetentionFile {
            versions: 8,
            history: 32,
        }
    }
}

/// A key replaced from the command line: errors in it name the flag.
pub(super) struct Flag {
    pub(super) key: &'static str,
    pub(super) flag: &'static str,
    pub(super) value: String,
}

impl ConfigFile {
    /// Apply the command-line overrides; returns which keys they replaced.
    pub(super) fn apply(&mut self, o: &Overrides) -> Vec<Flag> {
        let mut flags = Vec::new();
        let mut note = |key, flag, value: String| flags.push(Flag { key, flag, value });
        if let Some(d) = o.duration {
            self.duration_seconds = Some(d);
            note("duration_seconds", "--duration", d.to_string());
        }
        if let Some(r) = &o.rate {
            self.operation_rate_per_second = Some(match r.parse::<f64>() {
                Ok(n) => RateValue::Number(n),
                Err(_) => RateValue::Text(r.clone()),
            });
            note("operation_rate_per_second", "--rate", r.clone());
        }
        if let Some(t) = o.targets {
            self.num_targets = t;
            note("num_targets", "--targets", t.to_string());
        }
        if let Some(g) = o.grace_period {
            self.grace_period_seconds = g;
            note("grace_period_seconds", "--grace-period", g.to_string());
        }
        if let Some(s) = o.seed {
            self.seed = Some(SeedValue::of(s));
            note("seed", "--seed", s.to_string());
        }
        if let Some(c) = &o.clock {
            self.clock = c.clone();
            note("clock", "--clock", c.clone());
        }
        flags
    }
}

impl From<&Config> for ConfigFile {
    fn from(c: &Config) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let staged = c.stages.as_ref();
        ConfigFile {
            duration_seconds: staged.is_none().then_some(c.duration.as_secs_f64()),
            num_targets: i64::from(c.num_targets),
            num_sources: i64::from(c.num_sources),
            operation_rate_per_second: staged.is_none().then(|| match c.rate {
                Rate::PerSecond(r) => RateValue::Number(r),
                Rate::Max => RateValue::Text("max".into()),
            }),
            start_rate_per_second: staged.map(Schedule::start_rate),
            arrivals: c.arrivals.name().into(),
            grace_period_seconds: c.grace_period.as_secs_f64(),
            drain_timeout_seconds: c.drain_timeout.as_secs_f64(),
            target_completion_rate: c.target_completion_rate,
            max_memory_mb: c.max_memory_mb,
            seed: c.seed.map(SeedValue::of),
            clock: c.clock.name().into(),
            max_in_flight: i64::from(c.max_in_flight),
            priority_distribution: PriorityWeights::from_levels(&c.priorities),
            operation_types: OpTypeWeights(c.op_weights),
            targets: TargetsFile {
                distribution: c.targets.name().into(),
                zipf_exponent: match c.targets {
                    TargetDistribution::Uniform => None,
                    TargetDistribution::Zipf { exponent } => Some(exponent),
                },
            },
            batch: BatchFile {
                min_size: i64::from(c.batch_min),
                max_size: i64::from(c.batch_max),
                parent_probability: c.parent_probability,
                parent_reach: i64::from(c.parent_reach),
                size_distribution: c.batch_sizes.name().into(),
                mean_size: match c.batch_sizes {
                    BatchSizes::Uniform => None,
                    BatchSizes::Poisson { mean } => Some(mean),
                },
            },
            retries: RetriesFile {
                structural: i64::from(c.retries.structural),
                normal: i64::from(c.retries.normal),
                low_priority: i64::from(c.retries.low_priority),
                backoff_base_ms: ms(c.backoff_base),
                backoff_max_ms: ms(c.backoff_max),
            },
            faults: FaultsFile {
                failure_probability: c.failure_probability,
                stall_probability: c.stall_probability,
                stall_ms: ms(c.stall),
            },
            thresholds: ThresholdsFile {
                min_completion_rate: Some(c.thresholds.min_completion_rate),
                max_memory_mb: Some(c.thresholds.max_memory_mb),
                min_rate_accuracy: c.thresholds.min_rate_accuracy,
                max_resolution_p99_us: c.thresholds.max_resolution_p99_us,
                max_execution_p99_us: c.thresholds.max_execution_p99_us,
                max_submission_lateness_ms: c.thresholds.max_submission_lateness_ms,
                min_real_work: i64::from(c.thresholds.min_real_work),
                min_coverage: c.thresholds.min_coverage.clone(),
            },
            retention: RetentionFile {
                versions: i64::try_from(c.retention.versions).unwrap_or(i64::MAX),
                history: i64::try_from(c.retention.history).unwrap_or(i64::MAX),
            },
            stages: staged.map_or_else(Vec::new, |s| {
                s.stages()
                    .iter()
                    .map(|s| StageFile {
                        duration_seconds: Some(s.duration_s),
                        rate_per_second: Some(s.rate),
                    })
                    .collect()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ConfigFile {
        toml::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn weight_tables_are_written_in_declaration_order() {
        let text = toml::to_string(&ConfigFile::default()).unwrap();
        assert!(
            text.contains(
                "[priority_distribution]\nLOW = 0.25\nNORMAL = 0.25\nHIGH = 0.25\nCRITICAL = 0.25\n"
            ),
            "{text}"
        );
        let types: String = OpType::ALL
            .iter()
            .map(|t| format!("{} = {}\n", t.name(), default_op_weight(*t)))
            .collect();
        assert!(
            text.contains(&format!("[operation_types]\n{types}")),
            "{text}"
        );
    }

    #[test]
    fn absent_weights_are_zero_for_types_and_left_out_for_levels() {
        let file = read("[operation_types]\nmodify_field = 1\n[priority_distribution]\nHIGH = 1\n");
        let mut want = [0.0; OP_TYPES];
        want[OpType::ModifyField.index()] = 1.0;
        assert_eq!(file.operation_types, OpTypeWeights(want));
        assert_eq!(
            file.priority_distribution,
            PriorityWeights::from_levels(&[(Priority::HIGH, 1.0)])
        );
        let text = toml::to_string(&file).unwrap();
        assert!(
            text.contains("[priority_distribution]\nHIGH = 1.0\n\n"),
            "{text}"
        );
        assert!(text.contains("version_entity = 0.0\n"), "{text}");
    }

    #[test]
    fn the_default_op_mix_sums_to_one() {
        let sum: f64 = OpTypeWeights::default().0.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "{sum}");
    }

    #[test]
    fn a_weights_table_refuses_an_unknown_name_even_without_the_walk() {
        let e = toml::from_str::<ConfigFile>("[priority_distribution]\nURGENT = 1\n").unwrap_err();
        assert!(
            e.message().contains("unknown key `URGENT`"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("BACKGROUND, LOW"), "{}", e.message());
        let e =
            toml::from_str::<ConfigFile>("[operation_types]\nmodify_field = \"x\"\n").unwrap_err();
        assert!(e.span().is_some(), "{}", e.message());
    }

    #[test]
    fn overrides_are_noted_with_their_flags() {
        let mut file = ConfigFile::default();
        let flags = file.apply(&Overrides {
            rate: Some("max".into()),
            seed: Some(u64::MAX),
            ..Overrides::default()
        });
        let noted: Vec<_> = flags
            .iter()
            .map(|f| (f.key, f.flag, f.value.as_str()))
            .collect();
        assert_eq!(
            noted,
            [
                ("operation_rate_per_second", "--rate", "max"),
                ("seed", "--seed", "18446744073709551615"),
            ]
        );
        assert_eq!(
            file.operation_rate_per_second,
            Some(RateValue::Text("max".into()))
        );
        assert_eq!(file.seed, Some(SeedValue::Text(u64::MAX.to_string())));
    }
}
