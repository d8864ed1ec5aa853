//! Baselines: two JSON reports side by side, metric by metric, and which
//! changes are regressions.
//!
//! A comparison reads reports as JSON values, not as [`RunReport`]s, so it
//! can read a file written by an older build and say precisely why it
//! refuses to (a different `schema_version` or config), instead of failing
//! to parse. Each [`Metric`] knows where its figure lives, how to derive it
//! from older fields when the report lacks it, and which direction is
//! better; a change in the worse direction by more than the allowed
//! fraction is a regression. `dynstress compare` prints the table and exits
//! 1 on a regression; `run --baseline` adds the regressions to the run's
//! thresholds, so they show in the text and the JSON and fail the gate.
//!
//! [`RunReport`]: super::model::RunReport

use serde_json::Value;

use super::model::ThresholdResult;

/// A baseline report for `run --baseline`: the run's metrics are compared
/// with it and every regression beyond the limit fails the gate.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub report: Value,
    /// The largest allowed regression, a fraction.
    pub max_regression: f64,
}

/// Which way a metric gets better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
    /// Shown, never judged: the workload sets it as much as the engine.
    Either,
}

/// How a metric's figure is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    PerSecond,
    Fraction,
    Micros,
    Megabytes,
}

/// One compared figure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Metric {
    /// Its key in threshold names (`max_regression_<key>`).
    pub(crate) key: &'static str,
    /// As the table names it.
    pub(crate) label: &'static str,
    pub(crate) better: Better,
    pub(crate) unit: Unit,
    /// Changes no larger than this are noise.
    pub(crate) noise: Noise,
    read: fn(&Value) -> Option<f64>,
}

/// How large a change must be to be more than noise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Noise {
    /// In the metric's unit: a histogram's one-microsecond resolution, a
    /// page of RSS.
    Fixed(f64),
    /// This much of the process's CPU time, spread over the new run's
    /// settled ops: the CPU a run takes moves by milliseconds whatever it
    /// does (starting, faulting its memory in), which is a large share of
    /// a short run's CPU per op and nothing in a long one's.
    CpuSeconds(f64),
}

impl Noise {
    fn floor(self, new: &Value) -> f64 {
        match self {
            Noise::Fixed(f) => f,
            Noise::CpuSeconds(s) => settled(new)
                .filter(|&n| n > 0.0)
                .map_or(0.0, |n| s * 1e6 / n),
        }
    }
}

fn at(report: &Value, pointer: &str) -> Option<f64> {
    report.pointer(pointer).and_then(Value::as_f64)
}

/// `count / duration_s.total`, for reports that predate the rate.
fn per_total_second(report: &Value, rate: &str, count: &str) -> Option<f64> {
    at(report, rate).or_else(|| {
        let total = at(report, "/duration_s/total")?;
        (total > 0.0).then(|| at(report, count).map(|n| n / total))?
    })
}

/// The compared metrics, in table order.
pub(crate) const METRICS: [Metric; 11] = [
    Metric {
        key: "succeeded_per_s",
        label: "succeeded/s",
        better: Better::Higher,
        unit: Unit::PerSecond,
        noise: Noise::Fixed(0.0),
        read: |r| per_total_second(r, "/rates/succeeded_ops_per_s", "/operations/succeeded"),
    },
    Metric {
        key: "rejected_per_s",
        label: "rejected/s",
        better: Better::Either,
        unit: Unit::PerSecond,
        noise: Noise::Fixed(0.0),
        read: |r| per_total_second(r, "/rates/rejected_ops_per_s", "/operations/rejected"),
    },
    Metric {
        key: "settled_per_s",
        label: "settled/s",
        better: Better::Higher,
        unit: Unit::PerSecond,
        noise: Noise::Fixed(0.0),
        read: |r| at(r, "/rates/settled_ops_per_s"),
    },
    Metric {
        key: "completion_rate",
        label: "completion rate",
        better: Better::Higher,
        unit: Unit::Fraction,
        noise: Noise::Fixed(0.0),
        read: |r| at(r, "/rates/completion_rate"),
    },
    Metric {
        key: "execution_p50",
        label: "execution p50",
        better: Better::Lower,
        unit: Unit::Micros,
        noise: Noise::Fixed(1.0),
        read: |r| at(r, "/latency_us/execution/p50"),
    },
    Metric {
        key: "execution_p99",
        label: "execution p99",
        better: Better::Lower,
        unit: Unit::Micros,
        noise: Noise::Fixed(1.0),
        read: |r| at(r, "/latency_us/execution/p99"),
    },
    Metric {
        key: "end_to_end_p50",
        label: "end-to-end p50",
        better: Better::Lower,
        unit: Unit::Micros,
        noise: Noise::Fixed(1.0),
        read: |r| at(r, "/latency_us/end_to_end/p50"),
    },
    Metric {
        key: "end_to_end_p99",
        label: "end-to-end p99",
        better: Better::Lower,
        unit: Unit::Micros,
        noise: Noise::Fixed(1.0),
        read: |r| at(r, "/latency_us/end_to_end/p99"),
    },
    Metric {
        key: "resolution_p99",
        label: "resolution p99",
        better: Better::Lower,
        unit: Unit::Micros,
        noise: Noise::Fixed(1.0),
        read: |r| at(r, "/latency_us/resolution/p99"),
    },
    Metric {
        key: "peak_rss",
        label: "peak RSS",
        better: Better::Lower,
        unit: Unit::Megabytes,
        noise: Noise::Fixed(1.0),
        read: |r| at(r, "/resources/rss_mb_max"),
    },
    Metric {
        key: "cpu_per_op",
        label: "CPU per settled op",
        better: Better::Lower,
        unit: Unit::Micros,
        noise: Noise::CpuSeconds(0.02),
        read: cpu_per_settled_op_us,
    },
];

/// CPU time per settled op, µs: the cost of an op, whatever the rate.
fn cpu_per_settled_op_us(r: &Value) -> Option<f64> {
    let cpu = at(r, "/resources/cpu_user_s")? + at(r, "/resources/cpu_sys_s")?;
    let settled = settled(r)?;
    (settled > 0.0).then(|| cpu * 1e6 / settled)
}

/// Ops that reached a final state.
fn settled(r: &Value) -> Option<f64> {
    ["succeeded", "rejected", "cancelled"]
        .iter()
        .map(|k| at(r, &format!("/operations/{k}")))
        .sum::<Option<f64>>()
}

/// One metric of two reports.
#[derive(Clone, Debug)]
pub struct Delta {
    pub(crate) metric: Metric,
    pub(crate) base: Option<f64>,
    pub(crate) new: Option<f64>,
    /// How much worse the new figure is, as a fraction of the base (0 when
    /// it is better, within the noise floor, or not judged; infinite when
    /// a lower-is-better figure left zero).
    pub(crate) regression: f64,
    pub(crate) regressed: bool,
}

impl Delta {
    /// `(new − base) / base`, when both are known and the base is not 0.
    pub(crate) fn change(&self) -> Option<f64> {
        match (self.base, self.new) {
            (Some(b), Some(n)) if b != 0.0 => Some((n - b) / b),
            _ => None,
        }
    }
}

/// Two reports, metric by metric.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub(crate) deltas: Vec<Delta>,
    /// The largest allowed regression, a fraction.
    pub(crate) max_regression: f64,
}

impl Comparison {
    pub fn regressed(&self) -> impl Iterator<Item = &Delta> {
        self.deltas.iter().filter(|d| d.regressed)
    }

    /// As thresholds of the new run: every metric that regressed, and
    /// otherwise the one closest to its limit, so a report always shows
    /// how near the baseline gate came.
    pub(crate) fn thresholds(&self) -> Vec<ThresholdResult> {
        let judged = self
            .deltas
            .iter()
            .filter(|d| d.metric.better != Better::Either && d.base.is_some() && d.new.is_some());
        let mut shown: Vec<&Delta> = self.regressed().collect();
        if shown.is_empty()
            && let Some(worst) = judged.max_by(|a, b| a.regression.total_cmp(&b.regression))
        {
            shown.push(worst);
        }
        shown
            .into_iter()
            .map(|d| ThresholdResult {
                name: format!("max_regression_{}", d.metric.key),
                limit: self.max_regression,
                observed: d.regression,
                passed: !d.regressed,
            })
            .collect()
    }
}

/// Why two reports cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    #[error("{0} is not a dynstress JSON report (it has no schema_version)")]
    NotAReport(String),
    #[error(
        "the reports have different schema versions ({base} and {new}); \
         compare reports of one version, or pass --force"
    )]
    Schema { base: u64, new: u64 },
    #[error(
        "the reports ran different configs (they differ in {}); \
         compare runs of one config, or pass --force",
        .keys.join(", ")
    )]
    Config { keys: Vec<String> },
}

/// Refuse two reports that do not measure the same thing: a different
/// schema version, or a different config (`config.*` keys compared one by
/// one). `force` lets both through.
pub fn comparable(base: &Value, new: &Value, force: bool) -> Result<(), CompareError> {
    let version = |r: &Value, which: &str| {
        r.get("schema_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| CompareError::NotAReport(which.to_owned()))
    };
    let (b, n) = (version(base, "the base")?, version(new, "the new report")?);
    if force {
        return Ok(());
    }
    if b != n {
        return Err(CompareError::Schema { base: b, new: n });
    }
    let mut keys = Vec::new();
    differing("config", base.get("config"), new.get("config"), &mut keys);
    if keys.is_empty() {
        Ok(())
    } else {
        Err(CompareError::Config { keys })
    }
}

/// The dotted paths under `path` where `a` and `b` differ.
fn differing(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
    match (a, b) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                differing(&format!("{path}.{k}"), a.get(k), b.get(k), out);
            }
        }
        // A number is its value: `2.0` and `2` are one setting (a report
        // kept through a tool that rewrites numbers is still comparable).
        (Some(Value::Number(a)), Some(Value::Number(b))) if a.as_f64() == b.as_f64() => {}
        (a, b) if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

/// Every metric of `base` against `new`; a change in the worse direction
/// beyond `max_regression` (a fraction) is a regression.
pub fn compare(base: &Value, new: &Value, max_regression: f64) -> Comparison {
    let deltas = METRICS
        .iter()
        .map(|&metric| {
            let (b, n) = ((metric.read)(base), (metric.read)(new));
            let regression = match (b, n) {
                (Some(b), Some(n)) => regression(metric, b, n, metric.noise.floor(new)),
                _ => 0.0,
            };
            Delta {
                metric,
                base: b,
                new: n,
                regression,
                regressed: regression > max_regression,
            }
        })
        .collect();
    Comparison {
        deltas,
        max_regression,
    }
}

/// How much worse `new` is than `base`, as a fraction of `base`.
fn regression(metric: Metric, base: f64, new: f64, floor: f64) -> f64 {
    let worse = match metric.better {
        Better::Higher => base - new,
        Better::Lower => new - base,
        Better::Either => return 0.0,
    };
    if worse <= floor {
        0.0
    } else if base == 0.0 {
        f64::INFINITY
    } else {
        worse / base.abs()
    }
}

/// A regression limit as typed: `10%`, `10` (percent) or `0.1%`.
pub fn parse_max_regression(s: &str) -> Result<f64, String> {
    let number = s.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() && p >= 0.0 => Ok(p / 100.0),
        _ => Err(format!(
            "{s:?} is not a percentage; give one like 10% (0 or more)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn report(succeeded: f64, p99: f64, rss: f64) -> Value {
        json!({
            "schema_version": 5,
            "config": { "num_targets": 5, "batch": { "min_size": 3 } },
            "duration_s": { "total": 10.0 },
            "operations": { "succeeded": succeeded * 10.0, "rejected": 40.0, "cancelled": 0.0 },
            "rates": { "settled_ops_per_s": succeeded + 4.0, "completion_rate": 0.2 },
            "latency_us": {
                "execution": { "p50": 3, "p99": p99 },
                "end_to_end": { "p50": 10, "p99": 100 },
                "resolution": { "p99": 5 },
            },
            "resources": { "rss_mb_max": rss, "cpu_user_s": 1.0, "cpu_sys_s": 0.0 },
        })
    }

    fn delta<'a>(c: &'a Comparison, key: &str) -> &'a Delta {
        c.deltas.iter().find(|d| d.metric.key == key).unwrap()
    }

    #[test]
    fn a_report_against_itself_regresses_nothing() {
        let r = report(100.0, 14.0, 30.0);
        let c = compare(&r, &r, 0.0);
        assert_eq!(c.regressed().count(), 0);
        // Derived from the counts when the rate is missing.
        assert_eq!(delta(&c, "succeeded_per_s").new, Some(100.0));
        assert_eq!(delta(&c, "rejected_per_s").new, Some(4.0));
        assert_eq!(c.thresholds().len(), 1);
        assert!(c.thresholds()[0].passed);
    }

    #[test]
    fn worse_in_the_wrong_direction_beyond_the_limit_regresses() {
        let base = report(100.0, 14.0, 30.0);
        // Fewer successes (−15%), slower p99 (+50%), less memory (better).
        let new = report(85.0, 21.0, 20.0);
        let c = compare(&base, &new, 0.10);
        let names: Vec<&str> = c.regressed().map(|d| d.metric.key).collect();
        assert!(names.contains(&"succeeded_per_s"), "{names:?}");
        assert!(names.contains(&"execution_p99"), "{names:?}");
        assert!(!names.contains(&"peak_rss"), "{names:?}");
        assert!((delta(&c, "execution_p99").regression - 0.5).abs() < 1e-12);
        assert!((delta(&c, "peak_rss").change().unwrap() + 1.0 / 3.0).abs() < 1e-12);
        let t = c.thresholds();
        assert!(t.iter().all(|t| !t.passed && t.limit == 0.10), "{t:?}");
        assert!(t.iter().any(|t| t.name == "max_regression_execution_p99"));
        // A looser limit lets the same change through.
        assert_eq!(compare(&base, &new, 0.6).regressed().count(), 0);
    }

    #[test]
    fn changes_within_the_noise_floor_never_regress() {
        let base = report(100.0, 1.0, 30.0);
        let new = report(100.0, 2.0, 30.5);
        let c = compare(&base, &new, 0.10);
        assert_eq!(c.regressed().count(), 0, "{:?}", c.deltas);
    }

    /// A short run's CPU per op moves by a tenth between runs of one
    /// seed (a few milliseconds of starting up over a few hundred ops);
    /// the same milliseconds over millions of ops are nothing, and a real
    /// change there still regresses.
    #[test]
    fn cpu_per_op_allows_a_few_milliseconds_of_cpu_whatever_the_run() {
        // 1,040 ops on 30 ms of CPU, then 33 ms: +10 %, 3 ms in all.
        let mut short = report(100.0, 14.0, 30.0);
        short["resources"]["cpu_user_s"] = json!(0.030);
        let mut slower = short.clone();
        slower["resources"]["cpu_user_s"] = json!(0.033);
        let c = compare(&short, &slower, 0.05);
        assert!((delta(&c, "cpu_per_op").change().unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(delta(&c, "cpu_per_op").regression, 0.0);
        // 10 M ops on 10 s of CPU, then 11 s: +10 %, a regression.
        let mut long = report(1_000_000.0, 14.0, 30.0);
        long["resources"]["cpu_user_s"] = json!(10.0);
        let mut worse = long.clone();
        worse["resources"]["cpu_user_s"] = json!(11.0);
        let c = compare(&long, &worse, 0.05);
        assert!(delta(&c, "cpu_per_op").regressed, "{:?}", c.deltas);
    }

    #[test]
    fn different_configs_and_schemas_are_refused_unless_forced() {
        let base = report(100.0, 14.0, 30.0);
        let mut other = base.clone();
        other["config"]["batch"]["min_size"] = json!(4);
        let e = comparable(&base, &other, false).unwrap_err();
        assert_eq!(
            e,
            CompareError::Config {
                keys: vec!["config.batch.min_size".to_owned()]
            }
        );
        assert!(comparable(&base, &other, true).is_ok());
        let mut newer = base.clone();
        newer["schema_version"] = json!(6);
        assert_eq!(
            comparable(&base, &newer, false),
            Err(CompareError::Schema { base: 5, new: 6 })
        );
        assert!(matches!(
            comparable(&json!({}), &base, true),
            Err(CompareError::NotAReport(_))
        ));
    }

    #[test]
    fn a_number_written_another_way_is_the_same_setting() {
        let base = report(100.0, 14.0, 30.0);
        let mut rewritten = base.clone();
        rewritten["config"]["duration_seconds"] = json!(2);
        let mut two = base.clone();
        two["config"]["duration_seconds"] = json!(2.0);
        assert_eq!(comparable(&two, &rewritten, false), Ok(()));
        rewritten["config"]["duration_seconds"] = json!(2.5);
        assert_eq!(
            comparable(&two, &rewritten, false),
            Err(CompareError::Config {
                keys: vec!["config.duration_seconds".to_owned()]
            })
        );
    }

    #[test]
    fn regression_limits_parse_as_percentages() {
        assert_eq!(parse_max_regression("10%"), Ok(0.10));
        assert_eq!(parse_max_regression("2.5"), Ok(0.025));
        assert_eq!(parse_max_regression("0%"), Ok(0.0));
        assert!(parse_max_regression("-1%").is_err());
        assert!(parse_max_regression("ten").is_err());
    }
}
