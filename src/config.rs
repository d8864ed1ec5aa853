//! Run configuration: the TOML file, its defaults, and validation into the
//! typed [`Config`] the rest of the crate runs on.
//!
//! Parsing happens in two steps, close to the file first and ready-to-use
//! values second. The low level is `ConfigFile`, the file as written: every
//! key has a default, so an empty file (or no `--config` at all) is the
//! built-in default, which *is* `configs/brutal.toml` ([`DEFAULT_CONFIG_TOML`];
//! a test keeps the two equal). The high level is [`Config`]: durations,
//! counts, normalised weights and typed priorities, each range checked once
//! here so downstream code never re-checks.
//!
//! Bad input is the common case for a config loader, so errors get as much
//! care as the happy path. Before serde sees the document, it is parsed into
//! a spanned table and walked against a small schema: unknown keys and wrong
//! types are reported with the dotted key (`batch.min_size`), the value as
//! written, its line and column, and what is allowed. Values are kept wide in
//! the file struct (`i64`, `f64`) so that a negative count or a NaN reaches
//! validation and gets a message naming the key instead of a serde type
//! error. Command-line overrides are applied to the file struct before
//! validation, and an error in an overridden value names the flag
//! (`--duration`) rather than the key. Every [`ConfigError`] is one line.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use crate::ecs::Retention;
use crate::ops::{OpType, Priority, RetryBudgets};

/// The built-in default configuration: exactly `configs/brutal.toml`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../configs/brutal.toml");

/// Origin named in errors about the built-in default.
const BUILT_IN: &str = "built-in default";

/// A config is a small text file; anything larger is a mistake (or
/// `/dev/zero`).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Upper bound of every duration in seconds: 7 days.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// Upper bound of millisecond keys (backoff, stall): 1 hour.
const MAX_MS: i64 = 3_600_000;
/// Upper bound of `num_targets` and `num_sources`.
const MAX_ENTITIES: i64 = 10_000_000;
const MAX_IN_FLIGHT: i64 = 100_000_000;
const MAX_BATCH: i64 = 10_000;
const MAX_RATE: f64 = 100_000_000.0;
const MAX_RETRIES: i64 = 1000;
const MAX_RETENTION: i64 = 1_000_000;
/// How many batches back a parent link may reach at most.
const MAX_PARENT_REACH: i64 = 1000;
/// Weights must sum to 1 within this.
const WEIGHT_TOLERANCE: f64 = 1e-6;
/// Weights summing to 1 within this are taken as already normalised, so
/// normalising is idempotent and `to_toml` round-trips exactly.
const NORMALISED: f64 = 1e-12;

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
    /// Chance that an op of a batch (other than its first) names an
    /// earlier op of the same batch as its parent.
    pub parent_probability: f64,
    /// How many earlier batches a parent link may reach back to (0: the
    /// same batch only), so a child can arrive while its parent is still
    /// pending, executing or backing off.
    pub parent_reach: u32,
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
    /// Coverage paths that must be exercised (`check::coverage::PATHS`).
    pub min_coverage: Vec<String>,
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
    /// `--duration`: `duration_seconds`.
    pub duration: Option<f64>,
    /// `--rate`: `operation_rate_per_second`, a number or `"max"`.
    pub rate: Option<String>,
    /// `--targets`: `num_targets`.
    pub targets: Option<u32>,
    /// `--grace-period`: `grace_period_seconds`.
    pub grace_period: Option<f64>,
    /// `--seed`: `seed`.
    pub seed: Option<u64>,
}

/// Why a configuration was refused. Each message is one line naming the
/// file (or "built-in default") with line and column where known, the key
/// or flag, the value, and what is allowed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be used at all: missing, a directory, unreadable,
    /// too large, not UTF-8 text.
    #[error("config file {path}: {problem}")]
    File { path: String, problem: String },
    /// The text is not valid TOML.
    #[error("{at}: invalid TOML: {message}")]
    Syntax { at: String, message: String },
    /// A key that the config does not have.
    #[error("{at}: unknown key `{key}`; allowed keys {scope}: {allowed}")]
    UnknownKey {
        at: String,
        key: String,
        scope: String,
        allowed: String,
    },
    /// A value of the wrong TOML type.
    #[error("{at}: {key} = {value} is {found}; expected {expected}")]
    WrongType {
        at: String,
        key: String,
        value: String,
        found: String,
        expected: String,
    },
    /// A value of the right type outside what is allowed.
    #[error("{at}: {key} = {value}: {allowed}")]
    Invalid {
        at: String,
        key: String,
        value: String,
        allowed: String,
    },
    /// A rule over a whole table (weights that do not sum to 1).
    #[error("{at}: [{table}]: {problem}")]
    Table {
        at: String,
        table: String,
        problem: String,
    },
    /// A command-line override outside what is allowed.
    #[error("{flag} {value}: {allowed}")]
    Flag {
        flag: String,
        value: String,
        allowed: String,
    },
}

/// Load the config at `path` (`None`: the built-in default) and apply
/// `overrides`. Nothing runs until this succeeds.
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    match path {
        None => parse_str(DEFAULT_CONFIG_TOML, BUILT_IN, overrides),
        Some(path) => {
            let text = read_text(path)?;
            parse_str(&text, &path.display().to_string(), overrides)
        }
    }
}

/// Parse and validate config text. `origin` names it in errors (a path, or
/// "built-in default").
pub fn parse_str(text: &str, origin: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
    let doc = Doc { origin, text };
    let table = DeTable::parse(text).map_err(|e| doc.syntax_error(&e))?;
    let mut located = HashMap::new();
    check_table(&doc, table.get_ref(), "", SCHEMA, &mut located)?;
    let mut file = ConfigFile::deserialize(toml::de::Deserializer::from(table))
        .map_err(|e| doc.serde_error(&e, &located))?;
    let flags = file.apply(overrides);
    Validator {
        doc,
        located,
        flags,
    }
    .validate(&file)
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let fail = |problem: String| ConfigError::File {
        path: path.display().to_string(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(io_problem(&e)))?;
    if meta.is_dir() {
        return Err(fail("is a directory, not a config file".into()));
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(io_problem(&e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(
            "is larger than 1 MiB; a config is a small TOML text file".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "is not UTF-8 text (invalid byte at offset {}); a config is a TOML text file",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn io_problem(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "is a directory, not a config file".into(),
        _ => format!("cannot be read: {e}"),
    }
}

// ---------------------------------------------------------------------------
// The document: where things are, for messages.

/// The text being parsed and what to call it.
struct Doc<'a> {
    origin: &'a str,
    text: &'a str,
}

/// Where a key's value is written, and how.
#[derive(Clone, Debug)]
struct Located {
    span: Range<usize>,
    line: usize,
    column: usize,
    /// The value as written (first line, shortened).
    text: String,
}

impl Doc<'_> {
    fn locate(&self, span: Range<usize>) -> Located {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        let written = self.text.get(span.clone()).unwrap_or("");
        Located {
            span,
            line,
            column,
            text: snippet(written),
        }
    }

    /// `origin, line L, column C`.
    fn at(&self, located: &Located) -> String {
        format!(
            "{}, line {}, column {}",
            self.origin, located.line, located.column
        )
    }

    fn syntax_error(&self, e: &toml::de::Error) -> ConfigError {
        let at = match e.span() {
            Some(span) => self.at(&self.locate(span)),
            None => self.origin.to_string(),
        };
        ConfigError::Syntax {
            at,
            message: one_line(e.message()),
        }
    }

    /// A serde error the schema walk did not foresee (e.g. an integer too
    /// large for 64 bits): name the key whose value contains the span.
    fn serde_error(&self, e: &toml::de::Error, located: &HashMap<String, Located>) -> ConfigError {
        let message = one_line(e.message());
        let Some(span) = e.span() else {
            return ConfigError::Syntax {
                at: self.origin.to_string(),
                message,
            };
        };
        let key = located
            .iter()
            .filter(|(_, l)| l.span.start <= span.start && span.end <= l.span.end)
            .min_by_key(|(_, l)| l.span.len());
        match key {
            Some((key, l)) => ConfigError::Invalid {
                at: self.at(l),
                key: key.clone(),
                value: l.text.clone(),
                allowed: message,
            },
            None => ConfigError::Syntax {
                at: self.at(&self.locate(span)),
                message,
            },
        }
    }
}

/// The first line of `s`, at most 40 characters.
fn snippet(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let short: String = line.chars().take(40).collect();
    if short.len() < s.trim().len() {
        format!("{short}…")
    } else {
        short
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------
// The schema walk: unknown keys and wrong types, with their places.

/// The TOML type a key takes.
#[derive(Clone, Copy)]
enum Kind {
    Integer,
    /// Integer or float.
    Number,
    /// A number or the string "max".
    Rate,
    /// An integer, or a quoted decimal string for seeds above 2^63 - 1.
    Seed,
    /// An array of strings.
    Names,
    Table(&'static [(&'static str, Kind)]),
}

impl Kind {
    fn accepts(self, value: &DeValue<'_>) -> bool {
        matches!(
            (self, value),
            (Kind::Integer, DeValue::Integer(_))
                | (Kind::Number, DeValue::Integer(_) | DeValue::Float(_))
                | (
                    Kind::Rate,
                    DeValue::Integer(_) | DeValue::Float(_) | DeValue::String(_)
                )
                | (Kind::Seed, DeValue::Integer(_) | DeValue::String(_))
                | (Kind::Names, DeValue::Array(_))
                | (Kind::Table(_), DeValue::Table(_))
        )
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Integer => "an integer",
            Kind::Number => "a number",
            Kind::Rate => "a number of operations per second or \"max\"",
            Kind::Seed => "an integer from 0 to 18446744073709551615",
            Kind::Names => "a list of names",
            Kind::Table(_) => "a table",
        }
    }
}

/// Every key of the file, in the order of `configs/brutal.toml`.
const SCHEMA: &[(&str, Kind)] = &[
    ("duration_seconds", Kind::Number),
    ("num_targets", Kind::Integer),
    ("num_sources", Kind::Integer),
    ("operation_rate_per_second", Kind::Rate),
    ("grace_period_seconds", Kind::Number),
    ("drain_timeout_seconds", Kind::Number),
    ("target_completion_rate", Kind::Number),
    ("max_memory_mb", Kind::Number),
    ("seed", Kind::Seed),
    ("max_in_flight", Kind::Integer),
    (
        "priority_distribution",
        Kind::Table(&[
            ("BACKGROUND", Kind::Number),
            ("LOW", Kind::Number),
            ("NORMAL", Kind::Number),
            ("HIGH", Kind::Number),
            ("CRITICAL", Kind::Number),
        ]),
    ),
    (
        "operation_types",
        Kind::Table(&[
            ("version_entity", Kind::Number),
            ("modify_field", Kind::Number),
            ("borrow_attribute", Kind::Number),
            ("complex_update", Kind::Number),
            ("promote_to_root", Kind::Number),
            ("detach_entity", Kind::Number),
        ]),
    ),
    (
        "batch",
        Kind::Table(&[
            ("min_size", Kind::Integer),
            ("max_size", Kind::Integer),
            ("parent_probability", Kind::Number),
            ("parent_reach", Kind::Integer),
        ]),
    ),
    (
        "retries",
        Kind::Table(&[
            ("structural", Kind::Integer),
            ("normal", Kind::Integer),
            ("low_priority", Kind::Integer),
            ("backoff_base_ms", Kind::Integer),
            ("backoff_max_ms", Kind::Integer),
        ]),
    ),
    (
        "faults",
        Kind::Table(&[
            ("failure_probability", Kind::Number),
            ("stall_probability", Kind::Number),
            ("stall_ms", Kind::Integer),
        ]),
    ),
    (
        "thresholds",
        Kind::Table(&[
            ("min_completion_rate", Kind::Number),
            ("max_memory_mb", Kind::Number),
            ("min_rate_accuracy", Kind::Number),
            ("max_resolution_p99_us", Kind::Number),
            ("max_execution_p99_us", Kind::Number),
            ("min_coverage", Kind::Names),
        ]),
    ),
    (
        "retention",
        Kind::Table(&[("versions", Kind::Integer), ("history", Kind::Integer)]),
    ),
];

/// Check `table` (at dotted `prefix`) against `schema`, in source order,
/// recording where each value is written.
fn check_table(
    doc: &Doc<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    schema: &[(&str, Kind)],
    located: &mut HashMap<String, Located>,
) -> Result<(), ConfigError> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    for (key, value) in entries {
        let name: &str = key.get_ref();
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(&(_, kind)) = schema.iter().find(|(k, _)| *k == name) else {
            let scope = if prefix.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{prefix}]")
            };
            let allowed: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
            return Err(ConfigError::UnknownKey {
                at: doc.at(&doc.locate(key.span())),
                key: path,
                scope,
                allowed: allowed.join(", "),
            });
        };
        let here = doc.locate(value.span());
        if !kind.accepts(value.get_ref()) {
            return Err(ConfigError::WrongType {
                at: doc.at(&here),
                key: path,
                value: here.text,
                found: article(value.get_ref().type_str()),
                expected: kind.expected().to_string(),
            });
        }
        if let DeValue::Integer(n) = value.get_ref()
            && i64::from_str_radix(n.as_str(), n.radix()).is_err()
        {
            return Err(ConfigError::Invalid {
                at: doc.at(&here),
                key: path,
                value: here.text,
                allowed: "does not fit in a 64-bit integer".into(),
            });
        }
        located.insert(path.clone(), here);
        if let (Kind::Table(sub), DeValue::Table(t)) = (kind, value.get_ref()) {
            check_table(doc, t, &path, sub, located)?;
        }
    }
    Ok(())
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

// ---------------------------------------------------------------------------
// The file as written.

/// The config file as written. Wide types on purpose: a negative count or a
/// NaN must reach validation to get a message naming its key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ConfigFile {
    duration_seconds: f64,
    num_targets: i64,
    num_sources: i64,
    operation_rate_per_second: RateValue,
    grace_period_seconds: f64,
    drain_timeout_seconds: f64,
    target_completion_rate: f64,
    max_memory_mb: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<SeedValue>,
    max_in_flight: i64,
    priority_distribution: PriorityWeights,
    operation_types: OpTypeWeights,
    batch: BatchFile,
    retries: RetriesFile,
    faults: FaultsFile,
    thresholds: ThresholdsFile,
    retention: RetentionFile,
}

impl Default for ConfigFile {
    fn default() -> Self {
        ConfigFile {
            duration_seconds: 15.0,
            num_targets: 5,
            num_sources: 5,
            operation_rate_per_second: RateValue::Number(100.0),
            grace_period_seconds: 0.2,
            drain_timeout_seconds: 2.0,
            target_completion_rate: 0.15,
            max_memory_mb: 1000.0,
            seed: None,
            max_in_flight: 100_000,
            priority_distribution: PriorityWeights::default(),
            operation_types: OpTypeWeights::default(),
            batch: BatchFile::default(),
            retries: RetriesFile::default(),
            faults: FaultsFile::default(),
            thresholds: ThresholdsFile::default(),
            retention: RetentionFile::default(),
        }
    }
}

/// `operation_rate_per_second`: a number, or a string that must be "max".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum RateValue {
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
enum SeedValue {
    Number(i64),
    Text(String),
}

impl SeedValue {
    fn of(seed: u64) -> SeedValue {
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

/// `[priority_distribution]`. The default (table absent) is the four
/// levels LOW..CRITICAL at 0.25; a level absent from a given table is 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityWeights {
    #[serde(
        rename = "BACKGROUND",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    background: Option<f64>,
    #[serde(rename = "LOW", default, skip_serializing_if = "Option::is_none")]
    low: Option<f64>,
    #[serde(rename = "NORMAL", default, skip_serializing_if = "Option::is_none")]
    normal: Option<f64>,
    #[serde(rename = "HIGH", default, skip_serializing_if = "Option::is_none")]
    high: Option<f64>,
    #[serde(rename = "CRITICAL", default, skip_serializing_if = "Option::is_none")]
    critical: Option<f64>,
}

impl Default for PriorityWeights {
    fn default() -> Self {
        PriorityWeights {
            background: None,
            low: Some(0.25),
            normal: Some(0.25),
            high: Some(0.25),
            critical: Some(0.25),
        }
    }
}

impl PriorityWeights {
    /// `(name, weight)` in `Priority::NAMED` order (lowest first).
    fn entries(&self) -> [(&'static str, f64); 5] {
        let w = |v: Option<f64>| v.unwrap_or(0.0);
        [
            ("BACKGROUND", w(self.background)),
            ("LOW", w(self.low)),
            ("NORMAL", w(self.normal)),
            ("HIGH", w(self.high)),
            ("CRITICAL", w(self.critical)),
        ]
    }

    fn from_levels(levels: &[(Priority, f64)]) -> PriorityWeights {
        let get = |p: Priority| levels.iter().find(|(q, _)| *q == p).map(|(_, w)| *w);
        PriorityWeights {
            background: get(Priority::BACKGROUND),
            low: get(Priority::LOW),
            normal: get(Priority::NORMAL),
            high: get(Priority::HIGH),
            critical: get(Priority::CRITICAL),
        }
    }
}

/// `[operation_types]`. The default (table absent) is SPEC §3's mix; a type
/// absent from a given table is 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpTypeWeights {
    #[serde(default)]
    version_entity: f64,
    #[serde(default)]
    modify_field: f64,
    #[serde(default)]
    borrow_attribute: f64,
    #[serde(default)]
    complex_update: f64,
    #[serde(default)]
    promote_to_root: f64,
    #[serde(default)]
    detach_entity: f64,
}

impl Default for OpTypeWeights {
    fn default() -> Self {
        OpTypeWeights::from_array([0.30, 0.25, 0.20, 0.15, 0.05, 0.05])
    }
}

impl OpTypeWeights {
    /// `(name, weight)` in `OpType::ALL` order.
    fn entries(&self) -> [(&'static str, f64); 6] {
        [
            ("version_entity", self.version_entity),
            ("modify_field", self.modify_field),
            ("borrow_attribute", self.borrow_attribute),
            ("complex_update", self.complex_update),
            ("promote_to_root", self.promote_to_root),
            ("detach_entity", self.detach_entity),
        ]
    }

    fn from_array(w: [f64; 6]) -> OpTypeWeights {
        OpTypeWeights {
            version_entity: w[0],
            modify_field: w[1],
            borrow_attribute: w[2],
            complex_update: w[3],
            promote_to_root: w[4],
            detach_entity: w[5],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct BatchFile {
    min_size: i64,
    max_size: i64,
    parent_probability: f64,
    parent_reach: i64,
}

impl Default for BatchFile {
    fn default() -> Self {
        BatchFile {
            min_size: 3,
            max_size: 8,
            parent_probability: 0.0,
            parent_reach: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RetriesFile {
    structural: i64,
    normal: i64,
    low_priority: i64,
    backoff_base_ms: i64,
    backoff_max_ms: i64,
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
struct FaultsFile {
    failure_probability: f64,
    stall_probability: f64,
    stall_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ThresholdsFile {
    /// Absent: `target_completion_rate`.
    min_completion_rate: Option<f64>,
    /// Absent: the top-level `max_memory_mb`.
    max_memory_mb: Option<f64>,
    min_rate_accuracy: f64,
    max_resolution_p99_us: Option<f64>,
    max_execution_p99_us: Option<f64>,
    min_coverage: Vec<String>,
}

impl Default for ThresholdsFile {
    fn default() -> Self {
        ThresholdsFile {
            min_completion_rate: None,
            max_memory_mb: None,
            min_rate_accuracy: 0.95,
            max_resolution_p99_us: None,
            max_execution_p99_us: None,
            min_coverage: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RetentionFile {
    versions: i64,
    history: i64,
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
struct Flag {
    key: &'static str,
    flag: &'static str,
    value: String,
}

impl ConfigFile {
    /// Apply the command-line overrides; returns which keys they replaced.
    fn apply(&mut self, o: &Overrides) -> Vec<Flag> {
        let mut flags = Vec::new();
        let mut note = |key, flag, value: String| flags.push(Flag { key, flag, value });
        if let Some(d) = o.duration {
            self.duration_seconds = d;
            note("duration_seconds", "--duration", d.to_string());
        }
        if let Some(r) = &o.rate {
            self.operation_rate_per_second = match r.parse::<f64>() {
                Ok(n) => RateValue::Number(n),
                Err(_) => RateValue::Text(r.clone()),
            };
            note("operation_rate_per_second", "--rate", r.clone());
        }
        if let Some(t) = o.targets {
            self.num_targets = i64::from(t);
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
        flags
    }
}

impl From<&Config> for ConfigFile {
    fn from(c: &Config) -> Self {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        ConfigFile {
            duration_seconds: c.duration.as_secs_f64(),
            num_targets: i64::from(c.num_targets),
            num_sources: i64::from(c.num_sources),
            operation_rate_per_second: match c.rate {
                Rate::PerSecond(r) => RateValue::Number(r),
                Rate::Max => RateValue::Text("max".into()),
            },
            grace_period_seconds: c.grace_period.as_secs_f64(),
            drain_timeout_seconds: c.drain_timeout.as_secs_f64(),
            target_completion_rate: c.target_completion_rate,
            max_memory_mb: c.max_memory_mb,
            seed: c.seed.map(SeedValue::of),
            max_in_flight: i64::from(c.max_in_flight),
            priority_distribution: PriorityWeights::from_levels(&c.priorities),
            operation_types: OpTypeWeights::from_array(c.op_weights),
            batch: BatchFile {
                min_size: i64::from(c.batch_min),
                max_size: i64::from(c.batch_max),
                parent_probability: c.parent_probability,
                parent_reach: i64::from(c.parent_reach),
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
                min_coverage: c.thresholds.min_coverage.clone(),
            },
            retention: RetentionFile {
                versions: i64::try_from(c.retention.versions).unwrap_or(i64::MAX),
                history: i64::try_from(c.retention.history).unwrap_or(i64::MAX),
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Validation: the file into typed values.

struct Validator<'a> {
    doc: Doc<'a>,
    located: HashMap<String, Located>,
    flags: Vec<Flag>,
}

impl Validator<'_> {
    /// The error for `key`: names the flag if the value came from the
    /// command line, else the key with its place in the file.
    fn fail(&self, key: &str, value: &dyn fmt::Display, allowed: String) -> ConfigError {
        if let Some(flag) = self.flags.iter().find(|f| f.key == key) {
            return ConfigError::Flag {
                flag: flag.flag.to_string(),
                value: flag.value.clone(),
                allowed,
            };
        }
        match self.located.get(key) {
            Some(l) => ConfigError::Invalid {
                at: self.doc.at(l),
                key: key.to_string(),
                value: l.text.clone(),
                allowed,
            },
            None => ConfigError::Invalid {
                at: self.doc.origin.to_string(),
                key: key.to_string(),
                value: value.to_string(),
                allowed,
            },
        }
    }

    fn is_written(&self, key: &str) -> bool {
        self.located.contains_key(key) || self.flags.iter().any(|f| f.key == key)
    }

    /// A duration in seconds: finite, at most 7 days, and > 0 or >= 0.
    fn seconds(&self, key: &str, v: f64, positive: bool) -> Result<Duration, ConfigError> {
        let ok_low = if positive { v > 0.0 } else { v >= 0.0 };
        if v.is_finite() && ok_low && v <= MAX_SECONDS {
            return Ok(Duration::from_secs_f64(v));
        }
        let low = if positive { "> 0" } else { ">= 0" };
        Err(self.fail(
            key,
            &v,
            format!("must be a number of seconds {low} and at most {MAX_SECONDS} (7 days)"),
        ))
    }

    /// A whole number in `lo..=hi`.
    fn whole(&self, key: &str, v: i64, lo: i64, hi: i64) -> Result<u32, ConfigError> {
        let err = || self.fail(key, &v, format!("must be a whole number from {lo} to {hi}"));
        if v < lo || v > hi {
            return Err(err());
        }
        u32::try_from(v).map_err(|_| err())
    }

    /// A number in `0..=1`.
    fn fraction(&self, key: &str, v: f64) -> Result<f64, ConfigError> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.fail(key, &v, "must be a number from 0 to 1".into()))
        }
    }

    /// Coverage path names, each one the checks know.
    fn coverage_paths(&self, names: &[String]) -> Result<Vec<String>, ConfigError> {
        for name in names {
            if !crate::check::coverage::is_path(name) {
                let known: Vec<&str> = crate::check::coverage::PATHS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                return Err(self.fail(
                    "thresholds.min_coverage",
                    name,
                    format!("must name coverage paths: {}", known.join(", ")),
                ));
            }
        }
        Ok(names.to_vec())
    }

    /// A finite number > 0.
    fn positive(&self, key: &str, v: f64) -> Result<f64, ConfigError> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.fail(key, &v, "must be a finite number > 0".into()))
        }
    }

    /// Weights of a table: each finite and >= 0, summing to 1 within
    /// `WEIGHT_TOLERANCE`; returned normalised, in the order given.
    fn weights<const N: usize>(
        &self,
        table: &str,
        entries: [(&str, f64); N],
    ) -> Result<[f64; N], ConfigError> {
        for (name, w) in entries {
            if !(w.is_finite() && w >= 0.0) {
                let key = format!("{table}.{name}");
                return Err(self.fail(&key, &w, "must be a finite weight >= 0".into()));
            }
        }
        let sum: f64 = entries.iter().map(|(_, w)| w).sum();
        if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
            let at = match self.located.get(table) {
                Some(l) => self.doc.at(l),
                None => self.doc.origin.to_string(),
            };
            return Err(ConfigError::Table {
                at,
                table: table.to_string(),
                problem: format!(
                    "the weights sum to {}; they must sum to 1 (within 1e-6)",
                    short_float(sum)
                ),
            });
        }
        let scale = if (sum - 1.0).abs() <= NORMALISED {
            1.0
        } else {
            sum
        };
        Ok(entries.map(|(_, w)| w / scale))
    }

    fn rate(&self, v: &RateValue) -> Result<Rate, ConfigError> {
        match v {
            RateValue::Text(s) if s == "max" => Ok(Rate::Max),
            RateValue::Number(r) if r.is_finite() && *r > 0.0 && *r <= MAX_RATE => {
                Ok(Rate::PerSecond(*r))
            }
            _ => Err(self.fail(
                "operation_rate_per_second",
                v,
                format!(
                    "must be a number of operations per second > 0 and at most {MAX_RATE}, \
                     or \"max\""
                ),
            )),
        }
    }

    fn seed(&self, v: &Option<SeedValue>) -> Result<Option<u64>, ConfigError> {
        let seed = match v {
            None => return Ok(None),
            Some(SeedValue::Number(n)) => u64::try_from(*n).ok(),
            Some(SeedValue::Text(s)) => s.parse::<u64>().ok(),
        };
        match (seed, v) {
            (Some(s), _) => Ok(Some(s)),
            (None, Some(v)) => Err(self.fail(
                "seed",
                v,
                "must be a whole number from 0 to 18446744073709551615 \
                 (above 9223372036854775807 as a quoted string)"
                    .into(),
            )),
            (None, None) => Ok(None),
        }
    }

    fn validate(&self, f: &ConfigFile) -> Result<Config, ConfigError> {
        let duration = self.seconds("duration_seconds", f.duration_seconds, true)?;
        let num_targets = self.whole("num_targets", f.num_targets, 1, MAX_ENTITIES)?;
        let num_sources = self.whole("num_sources", f.num_sources, 1, MAX_ENTITIES)?;
        let rate = self.rate(&f.operation_rate_per_second)?;
        let grace_period = self.seconds("grace_period_seconds", f.grace_period_seconds, false)?;
        let drain_timeout =
            self.seconds("drain_timeout_seconds", f.drain_timeout_seconds, false)?;
        let target_completion_rate =
            self.fraction("target_completion_rate", f.target_completion_rate)?;
        let max_memory_mb = self.positive("max_memory_mb", f.max_memory_mb)?;
        let seed = self.seed(&f.seed)?;

        let batch_min = self.whole("batch.min_size", f.batch.min_size, 1, MAX_BATCH)?;
        let batch_max = self.whole("batch.max_size", f.batch.max_size, 1, MAX_BATCH)?;
        if batch_min > batch_max {
            // Blame the key the user wrote, so the message points at it.
            return Err(
                if self.is_written("batch.max_size") && !self.is_written("batch.min_size") {
                    self.fail(
                        "batch.max_size",
                        &batch_max,
                        format!("must be >= batch.min_size ({batch_min})"),
                    )
                } else {
                    self.fail(
                        "batch.min_size",
                        &batch_min,
                        format!("must be <= batch.max_size ({batch_max})"),
                    )
                },
            );
        }
        let parent_probability =
            self.fraction("batch.parent_probability", f.batch.parent_probability)?;
        let parent_reach = self.whole(
            "batch.parent_reach",
            f.batch.parent_reach,
            0,
            MAX_PARENT_REACH,
        )?;
        let max_in_flight = self.whole(
            "max_in_flight",
            f.max_in_flight,
            i64::from(batch_max),
            MAX_IN_FLIGHT,
        )?;

        let levels = self.weights("priority_distribution", f.priority_distribution.entries())?;
        let priorities = Priority::NAMED
            .iter()
            .zip(levels)
            .filter(|(_, w)| *w > 0.0)
            .map(|((_, p), w)| (*p, w))
            .collect();
        let op_weights = self.weights("operation_types", f.operation_types.entries())?;

        let r = &f.retries;
        let retries = RetryBudgets {
            structural: self.whole("retries.structural", r.structural, 0, MAX_RETRIES)?,
            normal: self.whole("retries.normal", r.normal, 0, MAX_RETRIES)?,
            low_priority: self.whole("retries.low_priority", r.low_priority, 0, MAX_RETRIES)?,
        };
        let base = self.whole("retries.backoff_base_ms", r.backoff_base_ms, 0, MAX_MS)?;
        let max = self.whole("retries.backoff_max_ms", r.backoff_max_ms, 0, MAX_MS)?;
        if base > max {
            return Err(self.fail(
                "retries.backoff_base_ms",
                &base,
                format!("must be <= retries.backoff_max_ms ({max})"),
            ));
        }

        let failure_probability =
            self.fraction("faults.failure_probability", f.faults.failure_probability)?;
        let stall_probability =
            self.fraction("faults.stall_probability", f.faults.stall_probability)?;
        let stall = self.whole("faults.stall_ms", f.faults.stall_ms, 0, MAX_MS)?;

        let versions = self.whole("retention.versions", f.retention.versions, 1, MAX_RETENTION)?;
        let history = self.whole("retention.history", f.retention.history, 1, MAX_RETENTION)?;

        let t = &f.thresholds;
        let thresholds = Thresholds {
            min_completion_rate: match t.min_completion_rate {
                Some(v) => self.fraction("thresholds.min_completion_rate", v)?,
                None => target_completion_rate,
            },
            max_memory_mb: match t.max_memory_mb {
                Some(v) => self.positive("thresholds.max_memory_mb", v)?,
                None => max_memory_mb,
            },
            min_rate_accuracy: self
                .fraction("thresholds.min_rate_accuracy", t.min_rate_accuracy)?,
            max_resolution_p99_us: t
                .max_resolution_p99_us
                .map(|v| self.positive("thresholds.max_resolution_p99_us", v))
                .transpose()?,
            max_execution_p99_us: t
                .max_execution_p99_us
                .map(|v| self.positive("thresholds.max_execution_p99_us", v))
                .transpose()?,
            min_coverage: self.coverage_paths(&t.min_coverage)?,
        };

        Ok(Config {
            duration,
            num_targets,
            num_sources,
            rate,
            grace_period,
            drain_timeout,
            target_completion_rate,
            max_memory_mb,
            seed,
            max_in_flight,
            priorities,
            op_weights,
            batch_min,
            batch_max,
            parent_probability,
            parent_reach,
            retries,
            backoff_base: Duration::from_millis(u64::from(base)),
            backoff_max: Duration::from_millis(u64::from(max)),
            failure_probability,
            stall_probability,
            stall: Duration::from_millis(u64::from(stall)),
            retention: Retention {
                versions: versions as usize,
                history: history as usize,
            },
            thresholds,
        })
    }
}

/// A float shortened for messages: `0.9000000000000001` → `0.9`.
fn short_float(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_str(text, "test.toml", &Overrides::default())
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_text_is_the_built_in_default() {
        let empty = parse("").unwrap();
        let builtin = load(None, &Overrides::default()).unwrap();
        assert_eq!(empty, builtin);
        assert_eq!(parse(DEFAULT_CONFIG_TOML).unwrap(), empty);
    }

    #[test]
    fn defaults_are_the_spec_values() {
        let c = parse("").unwrap();
        assert_eq!(c.duration, Duration::from_secs(15));
        assert_eq!((c.num_targets, c.num_sources), (5, 5));
        assert_eq!(c.rate, Rate::PerSecond(100.0));
        assert_eq!(c.grace_period, Duration::from_millis(200));
        assert_eq!(c.drain_timeout, Duration::from_secs(2));
        assert_eq!(c.target_completion_rate, 0.15);
        assert_eq!(c.max_memory_mb, 1000.0);
        assert_eq!(c.seed, None);
        assert_eq!(c.max_in_flight, 100_000);
        assert_eq!(
            c.priorities,
            vec![
                (Priority::LOW, 0.25),
                (Priority::NORMAL, 0.25),
                (Priority::HIGH, 0.25),
                (Priority::CRITICAL, 0.25),
            ]
        );
        assert_eq!(c.op_weights, [0.30, 0.25, 0.20, 0.15, 0.05, 0.05]);
        assert_eq!(c.op_weight(OpType::BorrowAttribute), 0.20);
        assert_eq!((c.batch_min, c.batch_max), (3, 8));
        assert_eq!(
            c.retries,
            RetryBudgets {
                structural: 20,
                normal: 5,
                low_priority: 3
            }
        );
        assert_eq!(c.backoff_base, Duration::from_millis(10));
        assert_eq!(c.backoff_max, Duration::from_millis(1000));
        assert_eq!((c.failure_probability, c.stall_probability), (0.0, 0.0));
        assert_eq!(c.stall, Duration::ZERO);
        assert_eq!(
            c.retention,
            Retention {
                versions: 8,
                history: 32
            }
        );
        assert_eq!(
            c.thresholds,
            Thresholds {
                min_completion_rate: 0.15,
                max_memory_mb: 1000.0,
                min_rate_accuracy: 0.95,
                max_resolution_p99_us: None,
                max_execution_p99_us: None,
                min_coverage: Vec::new(),
            }
        );
        assert!((c.model_completion_rate() - 2.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn thresholds_default_to_their_top_level_keys() {
        let c = parse("target_completion_rate = 0.3\nmax_memory_mb = 64\n").unwrap();
        assert_eq!(c.thresholds.min_completion_rate, 0.3);
        assert_eq!(c.thresholds.max_memory_mb, 64.0);
        let c = parse(
            "target_completion_rate = 0.3\n[thresholds]\nmin_completion_rate = 0.1\n\
             max_execution_p99_us = 20\n",
        )
        .unwrap();
        assert_eq!(c.thresholds.min_completion_rate, 0.1);
        assert_eq!(c.thresholds.max_execution_p99_us, Some(20.0));
    }

    #[test]
    fn a_given_table_replaces_the_default_weights() {
        let c = parse("[priority_distribution]\nHIGH = 1.0\n").unwrap();
        assert_eq!(c.priorities, vec![(Priority::HIGH, 1.0)]);
        let c = parse("[operation_types]\ndetach_entity = 1\n").unwrap();
        assert_eq!(c.op_weights, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn weights_are_normalised_lowest_priority_first_and_zeros_dropped() {
        let c = parse(
            "[priority_distribution]\nCRITICAL = 0.2000004\nBACKGROUND = 0.4\nLOW = 0\n\
             NORMAL = 0.4\n",
        )
        .unwrap();
        let names: Vec<_> = c.priorities.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            names,
            vec![Priority::BACKGROUND, Priority::NORMAL, Priority::CRITICAL]
        );
        let sum: f64 = c.priorities.iter().map(|(_, w)| w).sum();
        assert!((sum - 1.0).abs() <= NORMALISED, "sum {sum}");
        assert!(c.priorities[0].1 < 0.4, "divided by the sum 1.0000004");
        let sum: f64 = c.op_weights.iter().sum();
        assert!((sum - 1.0).abs() <= NORMALISED);
    }

    #[test]
    fn weights_off_by_more_than_the_tolerance_are_refused() {
        let e = err("[priority_distribution]\nLOW = 0.5\nHIGH = 0.4\n");
        assert!(e.contains("priority_distribution"), "{e}");
        assert!(e.contains("0.9"), "{e}");
        let e = err("[operation_types]\nmodify_field = 1.1\n");
        assert!(e.contains("[operation_types]"), "{e}");
        let e = err("[operation_types]\nmodify_field = 1.5\nversion_entity = -0.5\n");
        assert!(e.contains("operation_types.version_entity = -0.5"), "{e}");
    }

    #[test]
    fn overrides_replace_file_values() {
        let o = Overrides {
            duration: Some(2.5),
            rate: Some("max".into()),
            targets: Some(42),
            grace_period: Some(0.0),
            seed: Some(u64::MAX),
        };
        let c = parse_str("duration_seconds = 60\nnum_targets = 3\n", "f.toml", &o).unwrap();
        assert_eq!(c.duration, Duration::from_millis(2500));
        assert_eq!(c.rate, Rate::Max);
        assert_eq!(c.num_targets, 42);
        assert_eq!(c.grace_period, Duration::ZERO);
        assert_eq!(c.seed, Some(u64::MAX));
        let o = Overrides {
            rate: Some("250.5".into()),
            ..Overrides::default()
        };
        assert_eq!(parse_str("", "f", &o).unwrap().rate, Rate::PerSecond(250.5));
    }

    #[test]
    fn a_bad_override_names_the_flag_not_the_key() {
        let cases: [(Overrides, &str); 6] = [
            (
                Overrides {
                    duration: Some(-1.0),
                    ..Overrides::default()
                },
                "--duration -1:",
            ),
            (
                Overrides {
                    duration: Some(f64::INFINITY),
                    ..Overrides::default()
                },
                "--duration inf:",
            ),
            (
                Overrides {
                    rate: Some("fast".into()),
                    ..Overrides::default()
                },
                "--rate fast:",
            ),
            (
                Overrides {
                    rate: Some("0".into()),
                    ..Overrides::default()
                },
                "--rate 0:",
            ),
            (
                Overrides {
                    targets: Some(0),
                    ..Overrides::default()
                },
                "--targets 0:",
            ),
            (
                Overrides {
                    grace_period: Some(f64::NAN),
                    ..Overrides::default()
                },
                "--grace-period NaN:",
            ),
        ];
        for (o, want) in cases {
            let e = parse_str("num_targets = 5\n", "f.toml", &o)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want), "{e:?} should start with {want:?}");
            assert!(!e.contains("f.toml"), "{e}");
        }
    }

    #[test]
    fn an_override_fixes_a_bad_file_value() {
        let o = Overrides {
            duration: Some(1.0),
            ..Overrides::default()
        };
        assert!(parse("duration_seconds = -3\n").is_err());
        assert!(parse_str("duration_seconds = -3\n", "f", &o).is_ok());
    }

    #[test]
    fn errors_name_file_line_column_key_and_value() {
        let e = err("num_targets = 5\n[batch]\nmin_size = 9\n");
        assert_eq!(
            e,
            "test.toml, line 3, column 12: batch.min_size = 9: must be <= batch.max_size (8)"
        );
        let e = err("[batch]\nmax_size = 2\n");
        assert!(
            e.starts_with(
                "test.toml, line 2, column 12: batch.max_size = 2: must be >= batch.min_size (3)"
            ),
            "{e}"
        );
        let e = err("num_targets = \"five\"\n");
        assert_eq!(
            e,
            "test.toml, line 1, column 15: num_targets = \"five\" is a string; expected an integer"
        );
        let e = err("[batch]\nmin_size = 1\nsize = 3\n");
        assert_eq!(
            e,
            "test.toml, line 3, column 1: unknown key `batch.size`; allowed keys in [batch]: \
             min_size, max_size, parent_probability, parent_reach"
        );
        let e = err("duration_seconds = nan\n");
        assert!(
            e.contains("duration_seconds = nan: must be a number of seconds > 0"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column_on_one_line() {
        let e = err("num_targets = 5\nnum_sources = = 3\n");
        assert!(e.starts_with("test.toml, line 2, column "), "{e}");
        assert!(e.contains("invalid TOML"), "{e}");
        assert!(!e.contains('\n'), "{e:?}");
    }

    #[test]
    fn every_error_is_one_line() {
        for text in [
            "x = 1",
            "[nope]",
            "seed = -1",
            "seed = \"abc\"",
            "operation_rate_per_second = \"fast\"",
            "num_targets = 99999999999999999999999",
            "text = \"\"\"\nmulti\nline\n\"\"\"",
            "batch = [1, 2]",
            "[[batch]]\nmin_size = 1",
        ] {
            let e = err(text);
            assert!(!e.contains('\n'), "{text:?}: {e:?}");
            assert!(e.starts_with("test.toml"), "{text:?}: {e:?}");
        }
    }

    #[test]
    fn large_seeds_round_trip_as_strings() {
        let c = parse("seed = \"18446744073709551615\"\n").unwrap();
        assert_eq!(c.seed, Some(u64::MAX));
        assert_eq!(parse(&c.to_toml()).unwrap(), c);
        assert_eq!(c.to_json()["seed"], serde_json::json!(u64::MAX));
        assert_eq!(parse("seed = 7\n").unwrap().seed, Some(7));
    }

    #[test]
    fn to_toml_round_trips() {
        for text in [
            "",
            DEFAULT_CONFIG_TOML,
            "operation_rate_per_second = \"max\"\nseed = 3\n[thresholds]\nmax_resolution_p99_us = 12.5\n",
            "duration_seconds = 0.123456789\ngrace_period_seconds = 1e-9\n\
             [priority_distribution]\nBACKGROUND = 0.1\nLOW = 0.2\nNORMAL = 0.3\nHIGH = 0.15\n\
             CRITICAL = 0.2500001\n",
        ] {
            let c = parse(text).unwrap();
            let again = parse_str(&c.to_toml(), "to_toml", &Overrides::default())
                .unwrap_or_else(|e| panic!("{e}\n{}", c.to_toml()));
            assert_eq!(again, c, "{}", c.to_toml());
        }
    }

    #[test]
    fn to_json_has_the_file_shape() {
        let c = parse("operation_rate_per_second = \"max\"\n").unwrap();
        let j = c.to_json();
        assert_eq!(j["operation_rate_per_second"], "max");
        assert_eq!(j["seed"], serde_json::Value::Null);
        assert_eq!(j["batch"]["max_size"], 8);
        assert_eq!(j["thresholds"]["min_completion_rate"], 0.15);
        assert_eq!(j["priority_distribution"]["LOW"], 0.25);
        assert_eq!(j["retention"]["history"], 32);
        let j = parse("").unwrap().to_json();
        assert_eq!(j["operation_rate_per_second"], 100.0);
    }

    #[test]
    fn the_schema_matches_the_file_struct_and_the_named_types() {
        let value = toml::Value::try_from(ConfigFile {
            seed: Some(SeedValue::Number(1)),
            priority_distribution: PriorityWeights {
                background: Some(0.2),
                ..PriorityWeights::default()
            },
            thresholds: ThresholdsFile {
                min_completion_rate: Some(0.1),
                max_memory_mb: Some(1.0),
                min_rate_accuracy: 0.5,
                max_resolution_p99_us: Some(1.0),
                max_execution_p99_us: Some(1.0),
                min_coverage: Vec::new(),
            },
            ..ConfigFile::default()
        })
        .unwrap();
        let table = value.as_table().unwrap();
        let keys: Vec<&str> = SCHEMA.iter().map(|(k, _)| *k).collect();
        let mut file_keys: Vec<&str> = table.keys().map(String::as_str).collect();
        file_keys.sort_unstable();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(file_keys, sorted);
        for (name, kind) in SCHEMA {
            if let Kind::Table(sub) = kind {
                let mut want: Vec<&str> = sub.iter().map(|(k, _)| *k).collect();
                let mut got: Vec<&str> = table[*name]
                    .as_table()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want, "[{name}]");
            }
        }
        let levels: Vec<&str> = Priority::NAMED.iter().map(|(n, _)| *n).collect();
        let types: Vec<&str> = OpType::ALL.iter().map(|t| t.name()).collect();
        let sub = |name: &str| match SCHEMA.iter().find(|(k, _)| *k == name) {
            Some((_, Kind::Table(sub))) => sub.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        assert_eq!(sub("priority_distribution"), levels);
        assert_eq!(sub("operation_types"), types);
        let entries: Vec<&str> = OpTypeWeights::default()
            .entries()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(entries, types);
    }

    #[test]
    fn files_are_read_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let e = load(Some(&missing), &Overrides::default()).unwrap_err();
        assert!(e.to_string().ends_with("missing.toml: no such file"), "{e}");
        let e = load(Some(dir.path()), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, [0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0]).unwrap();
        let e = load(Some(&binary), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("not UTF-8 text"), "{e}");
        let empty = dir.path().join("empty.toml");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(
            load(Some(&empty), &Overrides::default()).unwrap(),
            parse("").unwrap()
        );
    }
}
