//! The schema walk: unknown keys and wrong types, reported with their
//! places, before serde sees the document.
//!
//! The walk goes over the spanned table that `toml` parses and checks it
//! against [`SCHEMA`], a list of the file's keys and the TOML type each
//! takes. On the way it records where every value is written ([`Places`]),
//! which validation uses to point at a bad value and quote it as written.
//!
//! # Why not `deny_unknown_fields` and serde's spans alone
//!
//! The file structs do carry `#[serde(deny_unknown_fields)]`, and serde's
//! errors from `toml` do carry a span, so line and column would survive.
//! What would not survive is the rest of the message. With `toml` 1.x:
//!
//! - the key is missing: `invalid type: string "five", expected i64` names
//!   neither `num_targets` nor, inside a table, `batch.min_size` (the key
//!   path is kept privately and printed only in a multi-line rendering);
//! - the expected type is a Rust type (`i64`, `f64`, `struct BatchFile`),
//!   not a TOML one, and a float is "floating point";
//! - `[[batch]]` becomes `invalid type: map, expected i64`, and a boolean
//!   rate becomes `data did not match any variant of untagged enum`;
//! - an unknown key loses its table (`unknown field `size``, not
//!   `batch.size` and "in [batch]").
//!
//! Mapping a span back to its dotted key needs an index of the document's
//! keys by span, which is a walk of its own; and rewriting serde's English
//! would tie the messages to another crate's wording. So the walk stays,
//! and `tests::serde_alone_would_lose_the_key` checks that the reason
//! still holds. It is kept small: key names of the weight tables come from
//! [`OpType::ALL`] and [`Priority::NAMED`], and serde still does the
//! conversion once the walk has passed.

use toml::de::{DeTable, DeValue};

use super::error::ConfigError;
use super::source::{Doc, Places};
use crate::ops::{OpType, Priority};
use crate::workload::{Arrivals, BatchSizes, TargetDistribution};

/// The TOML type a key takes.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Integer,
    /// Integer or float.
    Number,
    /// A number or the string "max".
    Rate,
    /// An integer, or a quoted decimal string for seeds above 2^63 - 1.
    Seed,
    /// A string naming one of these (validation checks which).
    Choice(&'static [&'static str]),
    Table(&'static [(&'static str, Kind)]),
    /// An array of tables (`[[stages]]`), each with these keys.
    Tables(&'static [(&'static str, Kind)]),
    /// A table of numbers keyed by these names.
    Weights(fn() -> Vec<&'static str>),
    /// An array of strings (validation checks which).
    Names,
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
                | (Kind::Choice(_), DeValue::String(_))
                | (Kind::Table(_) | Kind::Weights(_), DeValue::Table(_))
                | (Kind::Tables(_) | Kind::Names, DeValue::Array(_))
        )
    }

    fn expected(self) -> String {
        match self {
            Kind::Integer => "an integer".into(),
            Kind::Number => "a number".into(),
            Kind::Rate => "a number of operations per second or \"max\"".into(),
            Kind::Seed => "an integer from 0 to 18446744073709551615".into(),
            Kind::Choice(names) => format!("a string, one of {}", quoted(names)),
            Kind::Table(_) | Kind::Weights(_) => "a table".into(),
            Kind::Tables(_) => "an array of tables ([[table]] entries)".into(),
            Kind::Names => "a list of names".into(),
        }
    }

    /// The keys of a table kind, in declaration order.
    pub(super) fn keys(self) -> Option<Vec<(&'static str, Kind)>> {
        match self {
            Kind::Table(keys) | Kind::Tables(keys) => Some(keys.to_vec()),
            Kind::Weights(names) => Some(names().into_iter().map(|n| (n, Kind::Number)).collect()),
            _ => None,
        }
    }
}

/// `"a", "b"`: the names a choice allows, as they are written.
pub(super) fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The priority levels, lowest first: the keys of `[priority_distribution]`.
pub(super) fn priority_names() -> Vec<&'static str> {
    Priority::NAMED.iter().map(|(name, _)| *name).collect()
}

/// The op types in `OpType::ALL` order: the keys of `[operation_types]`.
pub(super) fn op_type_names() -> Vec<&'static str> {
    OpType::ALL.iter().map(|t| t.name()).collect()
}

/// Every key of the file, in the order of `configs/brutal.toml`.
pub(super) const SCHEMA: &[(&str, Kind)] = &[
    ("duration_seconds", Kind::Number),
    ("num_targets", Kind::Integer),
    ("num_sources", Kind::Integer),
    ("operation_rate_per_second", Kind::Rate),
    ("start_rate_per_second", Kind::Number),
    ("arrivals", Kind::Choice(&Arrivals::NAMES)),
    ("grace_period_seconds", Kind::Number),
    ("drain_timeout_seconds", Kind::Number),
    ("target_completion_rate", Kind::Number),
    ("max_memory_mb", Kind::Number),
    ("seed", Kind::Seed),
    ("clock", Kind::Choice(&["real", "virtual"])),
    ("max_in_flight", Kind::Integer),
    ("priority_distribution", Kind::Weights(priority_names)),
    ("operation_types", Kind::Weights(op_type_names)),
    (
        "targets",
        Kind::Table(&[
            ("distribution", Kind::Choice(&TargetDistribution::NAMES)),
            ("zipf_exponent", Kind::Number),
        ]),
    ),
    (
        "batch",
        Kind::Table(&[
            ("min_size", Kind::Integer),
            ("max_size", Kind::Integer),
            ("parent_probability", Kind::Number),
            ("parent_reach", Kind::Integer),
            ("size_distribution", Kind::Choice(&BatchSizes::NAMES)),
            ("mean_size", Kind::Number),
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
            ("max_submission_lateness_ms", Kind::Number),
            ("min_real_work", Kind::Integer),
            ("min_coverage", Kind::Names),
        ]),
    ),
    (
        "retention",
        Kind::Table(&[("versions", Kind::Integer), ("history", Kind::Integer)]),
    ),
    (
        "stages",
        Kind::Tables(&[
            ("duration_seconds", Kind::Number),
            ("rate_per_second", Kind::Number),
        ]),
    ),
];

/// Check the document against [`SCHEMA`], in source order, and return
/// where each value is written.
pub(super) fn check(doc: &Doc<'_>, table: &DeTable<'_>) -> Result<Places, ConfigError> {
    let mut places = Places::new();
    check_table(doc, table, "", "at the top level", SCHEMA, &mut places)?;
    Ok(places)
}

/// Check `table` (at dotted `prefix`, called `scope` in messages) against
/// `schema`.
fn check_table(
    doc: &Doc<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    scope: &str,
    schema: &[(&str, Kind)],
    places: &mut Places,
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
            let allowed: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
            return Err(ConfigError::UnknownKey {
                at: doc.at(&doc.locate(key.span())),
                key: path,
                scope: scope.to_string(),
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
                expected: kind.expected(),
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
        places.insert(path.clone(), here);
        match (kind.keys(), value.get_ref()) {
            (Some(sub), DeValue::Table(t)) => {
                check_table(doc, t, &path, &format!("in [{path}]"), &sub, places)?;
            }
            (Some(sub), DeValue::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{path}[{i}]");
                    let here = doc.locate(item.span());
                    let DeValue::Table(t) = item.get_ref() else {
                        return Err(ConfigError::WrongType {
                            at: doc.at(&here),
                            key: path,
                            value: here.text,
                            found: article(item.get_ref().type_str()),
                            expected: "a table".into(),
                        });
                    };
                    places.insert(path.clone(), here);
                    check_table(doc, t, &path, &format!("in [[{name}]]"), &sub, places)?;
                }
            }
            _ => {}
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

#[cfg(test)]
mod tests {
    use super::super::file::{
        BatchFile, ConfigFile, PriorityWeights, SeedValue, StageFile, TargetsFile, ThresholdsFile,
    };
    use super::*;

    fn walk(text: &str) -> Result<Places, ConfigError> {
        let doc = Doc {
            origin: "t.toml",
            text,
        };
        let table = DeTable::parse(text).unwrap();
        check(&doc, table.get_ref())
    }

    /// Sorted keys of a TOML table.
    fn sorted_keys(table: &toml::Table) -> Vec<&str> {
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    fn sorted(keys: Vec<(&'static str, Kind)>) -> Vec<&'static str> {
        let mut names: Vec<&str> = keys.into_iter().map(|(k, _)| k).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn the_schema_matches_the_file_struct() {
        // Every optional key present, so the serialised file has every key.
        let value = toml::Value::try_from(ConfigFile {
            seed: Some(SeedValue::Number(1)),
            start_rate_per_second: Some(1.0),
            arrivals: "poisson".into(),
            targets: TargetsFile {
                distribution: "zipf".into(),
                zipf_exponent: Some(1.0),
            },
            batch: BatchFile {
                size_distribution: "poisson".into(),
                mean_size: Some(4.0),
                ..BatchFile::default()
            },
            stages: vec![StageFile {
                duration_seconds: Some(1.0),
                rate_per_second: Some(1.0),
            }],
            priority_distribution: PriorityWeights::from_levels(&[
                (Priority::BACKGROUND, 0.2),
                (Priority::LOW, 0.2),
                (Priority::NORMAL, 0.2),
                (Priority::HIGH, 0.2),
                (Priority::CRITICAL, 0.2),
            ]),
            thresholds: ThresholdsFile {
                min_completion_rate: Some(0.1),
                max_memory_mb: Some(1.0),
                min_rate_accuracy: 0.5,
                max_resolution_p99_us: Some(1.0),
                max_execution_p99_us: Some(1.0),
                max_submission_lateness_ms: Some(1.0),
                min_real_work: 1,
                min_coverage: Vec::new(),
            },
            ..ConfigFile::default()
        })
        .unwrap();
        let table = value.as_table().unwrap();
        assert_eq!(sorted_keys(table), sorted(SCHEMA.to_vec()));
        for (name, kind) in SCHEMA {
            if let Some(sub) = kind.keys() {
                let value = &table[*name];
                let sub_table = match value.as_array() {
                    Some(items) => items[0].as_table().unwrap(),
                    None => value.as_table().unwrap(),
                };
                assert_eq!(sorted_keys(sub_table), sorted(sub), "[{name}]");
            }
        }
    }

    #[test]
    fn the_walk_records_every_value_by_dotted_key() {
        let places =
            walk("seed = 1\n[batch]\nmin_size = 2\n[operation_types]\nmodify_field = 1\n").unwrap();
        let mut keys: Vec<&str> = places.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "batch",
                "batch.min_size",
                "operation_types",
                "operation_types.modify_field",
                "seed"
            ]
        );
        assert_eq!(places["batch.min_size"].text, "2");
    }

    #[test]
    fn weight_table_keys_are_the_named_levels_and_op_types() {
        let e = walk("[operation_types]\nmodify_fields = 1\n")
            .unwrap_err()
            .to_string();
        let all = OpType::ALL.map(OpType::name).join(", ");
        assert_eq!(
            e,
            format!(
                "t.toml, line 2, column 1: unknown key `operation_types.modify_fields`; \
                 allowed keys in [operation_types]: {all}"
            )
        );
        let e = walk("[priority_distribution]\nLOW = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "t.toml, line 2, column 7: priority_distribution.LOW = \"x\" is a string; \
             expected a number"
        );
    }

    #[test]
    fn a_table_of_the_wrong_shape_is_a_wrong_type() {
        let e = walk("[[batch]]\nmin_size = 1\n").unwrap_err().to_string();
        assert!(e.contains("batch = "), "{e}");
        assert!(e.ends_with("is an array; expected a table"), "{e}");
        let e = walk("operation_types = 1\n").unwrap_err().to_string();
        assert!(
            e.ends_with("operation_types = 1 is an integer; expected a table"),
            "{e}"
        );
    }

    /// The reason the walk exists: serde's own errors lose the dotted key
    /// and speak of Rust types. If `toml` starts naming keys, this fails,
    /// and the walk may be worth replacing.
    #[test]
    fn serde_alone_would_lose_the_key() {
        for (text, key) in [
            ("[batch]\nmin_size = \"x\"\n", "batch.min_size"),
            ("num_targets = 2.5\n", "num_targets"),
            ("[batch]\nsize = 3\n", "batch.size"),
        ] {
            let e = toml::from_str::<ConfigFile>(text).unwrap_err();
            assert!(e.span().is_some(), "{text:?}: serde keeps the span");
            assert!(!e.message().contains(key), "{text:?}: {}", e.message());
            assert!(
                walk(text).unwrap_err().to_string().contains(key),
                "{text:?}"
            );
        }
        let e = toml::from_str::<ConfigFile>("num_targets = 2.5\n").unwrap_err();
        assert!(e.message().contains("i64"), "{}", e.message());
    }
}
