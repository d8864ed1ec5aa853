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
use super::file::{
    ConfigFile, DEFAULT_DURATION_S, DEFAULT_RATE, Flag, RateValue, SeedValue, StageFile,
};
use super::schema::quoted;
use super::source::{Doc, Places};
use super::{ClockMode, Config, Rate, Thresholds};
use crate::ecs::Retention;
use crate::ops::{Priority, RetryBudgets};
use crate::workload::{Arrivals, BatchSizes, Schedule, Stage, TargetDistribution};

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
/// Upper bound of `targets.zipf_exponent`: beyond it, one target takes
/// practically every batch.
const MAX_ZIPF_EXPONENT: f64 = 10.0;
/// `targets.zipf_exponent` when absent: the classic Zipf law.
const DEFAULT_ZIPF_EXPONENT: f64 = 1.0;
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
        self.places.contains_key(key) || self.is_flag(key)
    }

    fn is_flag(&self, key: &str) -> bool {
        self.flags.iter().any(|f| f.key == key)
    }

    /// `v` as the index of one of `names`.
    fn choice(&self, key: &str, v: &str, names: &[&str]) -> Result<usize, ConfigError> {
        names.iter().position(|n| *n == v).ok_or_else(|| {
            self.fail(
                key,
                &format!("{v:?}"),
                format!("must be one of {}", quoted(names)),
            )
        })
    }

    /// An operations-per-second rate of a stage: finite, >= 0, at most
    /// `MAX_RATE`.
    fn stage_rate(&self, key: &str, v: f64) -> Result<f64, ConfigError> {
        if v.is_finite() && (0.0..=MAX_RATE).contains(&v) {
            Ok(v)
        } else {
            Err(self.fail(
                key,
                &v,
                format!("must be a number of operations per second from 0 to {MAX_RATE}"),
            ))
        }
    }

    /// The place of `key` (or the origin when it is not written).
    fn at(&self, key: &str) -> String {
        match self.places.get(key) {
            Some(l) => self.doc.at(l),
            None => self.doc.origin.to_string(),
        }
    }

    /// Duration, rate and schedule: `duration_seconds` and
    /// `operation_rate_per_second`, or `[[stages]]` (never both), with
    /// `--duration` and `--rate` applied.
    fn pace(&self, f: &ConfigFile) -> Result<(Duration, Rate, Option<Schedule>), ConfigError> {
        let duration_s = f.duration_seconds.unwrap_or(DEFAULT_DURATION_S);
        let rate_value = f
            .operation_rate_per_second
            .clone()
            .unwrap_or(RateValue::Number(DEFAULT_RATE));
        if f.stages.is_empty() {
            if let Some(v) = f.start_rate_per_second {
                return Err(self.fail(
                    "start_rate_per_second",
                    &v,
                    "is the rate the first of the [[stages]] ramps from; without stages, \
                        set operation_rate_per_second"
                        .into(),
                ));
            }
            let duration = self.seconds("duration_seconds", duration_s, true)?;
            return Ok((duration, self.rate(&rate_value)?, None));
        }
        for key in ["duration_seconds", "operation_rate_per_second"] {
            if let Some(l) = self.places.get(key) {
                return Err(ConfigError::Invalid {
                    at: self.doc.at(l),
                    key: key.to_string(),
                    value: l.text.clone(),
                    allowed: format!(
                        "cannot be given with [[stages]] ({}): the stages set the run's \
                        duration and rate; remove one or the other",
                        self.at("stages")
                    ),
                });
            }
        }
        let start = match f.start_rate_per_second {
            Some(v) => self.stage_rate("start_rate_per_second", v)?,
            None => 0.0,
        };
        let stages = f
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| self.stage(i, s))
            .collect::<Result<Vec<_>, _>>()?;
        let schedule = Schedule::new(start, stages);
        let total = schedule.duration_s();
        if total > MAX_SECONDS {
            return Err(ConfigError::Table {
                at: self.at("stages"),
                table: "[stages]".into(),
                problem: format!(
                    "the stages last {} s in all; at most {MAX_SECONDS} (7 days)",
                    short_float(total)
                ),
            });
        }
        if schedule.total_ops() <= 0.0 {
            return Err(ConfigError::Table {
                at: self.at("stages"),
                table: "[stages]".into(),
                problem: "every rate is 0, so the stages would submit nothing; give a stage \
                        a rate_per_second > 0"
                    .into(),
            });
        }
        // The flags scale the shape instead of replacing it.
        let time = if self.is_flag("duration_seconds") {
            self.seconds("duration_seconds", duration_s, true)?
                .as_secs_f64()
                / total
        } else {
            1.0
        };
        let rate = if self.is_flag("operation_rate_per_second") {
            match self.rate(&rate_value)? {
                Rate::PerSecond(r) => r / schedule.peak_rate(),
                Rate::Max => {
                    return Err(self.fail(
                        "operation_rate_per_second",
                        &rate_value,
                        "cannot be \"max\" with [[stages]]; a number scales the stages so \
                        that their peak is that rate"
                            .into(),
                    ));
                }
            }
        } else {
            1.0
        };
        let schedule = if (time, rate) == (1.0, 1.0) {
            schedule
        } else {
            schedule.scaled(time, rate)
        };
        Ok((
            Duration::from_secs_f64(schedule.duration_s()),
            Rate::PerSecond(schedule.mean_rate()),
            Some(schedule),
        ))
    }

    /// Stage `i` of `[[stages]]`: both keys required.
    fn stage(&self, i: usize, s: &StageFile) -> Result<Stage, ConfigError> {
        let table = format!("stages[{i}]");
        let missing = |key: &str| ConfigError::Table {
            at: self.at(&table),
            table: table.clone(),
            problem: format!(
                "{key} is missing; every stage has duration_seconds (> 0) and \
                 rate_per_second (the rate it ramps to)"
            ),
        };
        let duration = s
            .duration_seconds
            .ok_or_else(|| missing("duration_seconds"))?;
        let rate = s
            .rate_per_second
            .ok_or_else(|| missing("rate_per_second"))?;
        Ok(Stage {
            duration_s: self
                .seconds(&format!("{table}.duration_seconds"), duration, true)?
                .as_secs_f64(),
            rate: self.stage_rate(&format!("{table}.rate_per_second"), rate)?,
        })
    }

    fn arrivals(&self, f: &ConfigFile, rate: Rate) -> Result<Arrivals, ConfigError> {
        let arrivals = match self.choice("arrivals", &f.arrivals, &Arrivals::NAMES)? {
            0 => Arrivals::Uniform,
            _ => Arrivals::Poisson,
        };
        if arrivals == Arrivals::Poisson && rate == Rate::Max {
            return Err(self.fail(
                "arrivals",
                &format!("{:?}", f.arrivals),
                "must be \"uniform\" in capacity mode (operation_rate_per_second = \"max\"), \
                 which has no schedule to space batches on"
                    .into(),
            ));
        }
        Ok(arrivals)
    }

    fn targets(&self, f: &ConfigFile) -> Result<TargetDistribution, ConfigError> {
        let t = &f.targets;
        let zipf = self.choice(
            "targets.distribution",
            &t.distribution,
            &TargetDistribution::NAMES,
        )? == 1;
        match (zipf, t.zipf_exponent) {
            (false, None) => Ok(TargetDistribution::Uniform),
            (false, Some(v)) => Err(self.fail(
                "targets.zipf_exponent",
                &v,
                "is only used with targets.distribution = \"zipf\"".into(),
            )),
            (true, v) => {
                let exponent = v.unwrap_or(DEFAULT_ZIPF_EXPONENT);
                if exponent.is_finite() && exponent > 0.0 && exponent <= MAX_ZIPF_EXPONENT {
                    Ok(TargetDistribution::Zipf { exponent })
                } else {
                    Err(self.fail(
                        "targets.zipf_exponent",
                        &exponent,
                        format!("must be a number > 0 and at most {MAX_ZIPF_EXPONENT}"),
                    ))
                }
            }
        }
    }

    fn batch_sizes(&self, f: &ConfigFile, min: u32, max: u32) -> Result<BatchSizes, ConfigError> {
        let b = &f.batch;
        let poisson = self.choice(
            "batch.size_distribution",
            &b.size_distribution,
            &BatchSizes::NAMES,
        )? == 1;
        match (poisson, b.mean_size) {
            (false, None) => Ok(BatchSizes::Uniform),
            (false, Some(v)) => Err(self.fail(
                "batch.mean_size",
                &v,
                "is only used with batch.size_distribution = \"poisson\"".into(),
            )),
            (true, None) => Err(self.fail(
                "batch.size_distribution",
                &format!("{:?}", b.size_distribution),
                "needs batch.mean_size, the mean batch size before clamping to \
                 min_size..=max_size"
                    .into(),
            )),
            (true, Some(mean)) => {
                if mean.is_finite() && f64::from(min) <= mean && mean <= f64::from(max) {
                    Ok(BatchSizes::Poisson { mean })
                } else {
                    Err(self.fail(
                        "batch.mean_size",
                        &mean,
                        format!(
                            "must be a number from batch.min_size ({min}) to \
                             batch.max_size ({max})"
                        ),
                    ))
                }
            }
        }
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
        let (duration, rate, stages) = self.pace(f)?;
        let arrivals = self.arrivals(f, rate)?;
        let num_targets = self.whole("num_targets", f.num_targets, 1, MAX_ENTITIES)?;
        let num_sources = self.whole("num_sources", f.num_sources, 1, MAX_ENTITIES)?;
        let targets = self.targets(f)?;
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
        let parent_reach = self.whole(
            "batch.parent_reach",
            f.batch.parent_reach,
            0,
            MAX_PARENT_REACH,
        )?;
        let batch_sizes = self.batch_sizes(f, batch_min, batch_max)?;
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
            max_submission_lateness_ms: t
                .max_submission_lateness_ms
                .map(|v| self.positive("thresholds.max_submission_lateness_ms", v))
                .transpose()?,
            min_real_work: self.whole(
                "thresholds.min_real_work",
                t.min_real_work,
                0,
                i64::from(u32::MAX),
            )?,
            min_coverage: self.coverage_paths(&t.min_coverage)?,
        };

        Ok(Config {
            duration,
            num_targets,
            num_sources,
            rate,
            stages,
            arrivals,
            targets,
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
            batch_sizes,
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

    #[test]
    fn floats_in_messages_are_shortened() {
        assert_eq!(short_float(0.1 + 0.2 + 0.6), "0.9");
        assert_eq!(short_float(1.0), "1");
        assert_eq!(short_float(1.0000004), "1.0000004");
        assert_eq!(short_float(0.0), "0");
    }
}
