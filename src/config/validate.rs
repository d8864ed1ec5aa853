//! Validation: the file as written into the typed [`Config`].
//!
//! Every range is checked here, once, so downstream code never re-checks:
//! durations become [`Duration`]s, counts `u32`s, weights are normalised,
//! priorities typed. A refused value is named by its dotted key and quoted
//! as written, at its place in the file; a value that came from the command
//! line is named by its flag instead (`--duration -1: ...`), since that is
//! what the user typed.

use std::fmt;
use std::time::Duration;

use super::error::ConfigError;
use super::file::{ConfigFile, Flag, RateValue, SeedValue};
use super::source::{Doc, Places};
use super::{ClockMode, Config, Rate, Thresholds};
use crate::ecs::Retention;
use crate::ops::{Priority, RetryBudgets};

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
/// Weights must sum to 1 within this.
const WEIGHT_TOLERANCE: f64 = 1e-6;
/// Weights summing to 1 within this are taken as already normalised, so
/// normalising is idempotent and `to_toml` round-trips exactly.
pub(super) const NORMALISED: f64 = 1e-12;

pub(super) struct Validator<'a> {
    pub(super) doc: Doc<'a>,
    pub(super) places: Places,
    pub(super) flags: Vec<Flag>,
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
        match self.places.get(key) {
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
        self.places.contains_key(key) || self.flags.iter().any(|f| f.key == key)
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
            let at = match self.places.get(table) {
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

    /// `clock`; capacity mode needs the real clock.
    fn clock(&self, v: &str, rate: Rate) -> Result<ClockMode, ConfigError> {
        let clock = match v {
            "real" => ClockMode::Real,
            "virtual" => ClockMode::Virtual,
            _ => return Err(self.fail("clock", &v, "must be \"real\" or \"virtual\"".into())),
        };
        if clock == ClockMode::Virtual && rate == Rate::Max {
            return Err(self.fail(
                "clock",
                &v,
                "capacity mode (operation_rate_per_second = \"max\") needs the real clock: \
                 virtual time stands still while ops run, so \"as fast as possible\" has no \
                 meaning there"
                    .into(),
            ));
        }
        Ok(clock)
    }

    pub(super) fn validate(&self, f: &ConfigFile) -> Result<Config, ConfigError> {
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
        let clock = self.clock(&f.clock, rate)?;

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
            clock,
            max_in_flight,
            priorities,
            op_weights,
            batch_min,
            batch_max,
            parent_probability,
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

    #[test]
    fn floats_in_messages_are_shortened() {
        assert_eq!(short_float(0.1 + 0.2 + 0.6), "0.9");
        assert_eq!(short_float(1.0), "1");
        assert_eq!(short_float(1.0000004), "1.0000004");
        assert_eq!(short_float(0.0), "0");
    }
}
