//! A history checked: the parameters it was judged with, the integrity
//! checks, the coverage and the verdict, as the text and JSON outputs of
//! `dynstress check` show them.

use std::io::BufRead;
use std::time::Duration;

use serde::Serialize;

use super::{Header, HistoryError, Reader};
use crate::check::CheckConfig;
use crate::check::offline::{OfflineChecker, OfflineParams, Unfinished};
use crate::report::model::{Coverage, ExitCode, Integrity};

/// `schema_version` of the JSON `dynstress check` writes.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// Parent links reach this many ops back when neither the header nor a
/// config says.
pub const DEFAULT_PARENT_HORIZON: u64 = 1 << 16;

/// What the command line says about the run that wrote the history. Each
/// given value wins over the header's.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    /// `--grace-period`.
    pub grace: Option<Duration>,
    /// `--config`: the parameters of the dynstress config the run used.
    pub config: Option<CheckConfig>,
}

/// Where a parameter came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Flag,
    Config,
    Header,
}

/// The rule parameters the history was judged with.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub grace_period_seconds: f64,
    pub grace_period_from: Origin,
    /// `null` when unknown (retries are then not checkable).
    pub backoff_base_ms: Option<f64>,
    pub backoff_max_ms: Option<f64>,
    pub failures_injected: bool,
    pub parent_horizon: u64,
}

/// The outcome, as `run` gives it.
#[derive(Clone, Debug, Serialize)]
pub struct CheckOutcome {
    pub passed: bool,
    pub exit_code: ExitCode,
    pub meaning: &'static str,
}

/// A history and its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryReport {
    pub schema_version: u32,
    /// The file checked (`-`: stdin).
    pub source: String,
    pub header: Option<Header>,
    pub parameters: Parameters,
    pub lines: u64,
    pub events: u64,
    pub submitted: u64,
    /// Most ops in flight at once: what the check held in memory.
    pub peak_in_flight: u64,
    pub integrity: Integrity,
    pub coverage: Coverage,
    pub outcome: CheckOutcome,
}

/// `s` seconds to the nearest nanosecond: a parameter that went through
/// a decimal number (0.3 s is 0.29999… in binary) comes back exactly.
fn seconds(s: f64) -> Duration {
    Duration::from_nanos((s * 1e9).round() as u64)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resolve the parameters: flags, then the config, then the header.
fn parameters(opts: &CheckOptions, header: Option<&Header>) -> Result<Parameters, String> {
    let h = header.cloned().unwrap_or_default();
    let (grace, from) = if let Some(g) = opts.grace {
        (g, Origin::Flag)
    } else if let Some(c) = opts.config {
        (c.grace, Origin::Config)
    } else if let Some(s) = h.grace_period_seconds {
        (seconds(s), Origin::Header)
    } else {
        return Err(
            "the grace period is unknown: give --grace-period S, --config FILE, or \
             grace_period_seconds in the history's header line"
                .to_string(),
        );
    };
    let backoff = match (opts.config, h.backoff_base_ms, h.backoff_max_ms) {
        (Some(c), _, _) => Some((ms(c.backoff_base), ms(c.backoff_max))),
        (None, Some(b), Some(m)) => Some((b, m)),
        _ => None,
    };
    Ok(Parameters {
        grace_period_seconds: grace.as_secs_f64(),
        grace_period_from: from,
        backoff_base_ms: backoff.map(|b| b.0),
        backoff_max_ms: backoff.map(|b| b.1),
        failures_injected: opts
            .config
            .map(|c| c.failures_injected)
            .or(h.failures_injected)
            .unwrap_or(true),
        parent_horizon: opts
            .config
            .map(|c| c.parent_horizon)
            .or(h.parent_horizon)
            .unwrap_or(DEFAULT_PARENT_HORIZON),
    })
}

fn params_of(p: &Parameters) -> Result<OfflineParams, String> {
    let backoff = match (p.backoff_base_ms, p.backoff_max_ms) {
        (Some(b), Some(m)) => {
            if !(b.is_finite() && m.is_finite() && b >= 0.0 && m >= b) {
                return Err(format!(
                    "backoff_base_ms {b} and backoff_max_ms {m}: need 0 <= base <= max"
                ));
            }
            Some((seconds(b / 1000.0), seconds(m / 1000.0)))
        }
        _ => None,
    };
    Ok(OfflineParams {
        grace: seconds(p.grace_period_seconds),
        backoff,
        failures_injected: p.failures_injected,
        parent_horizon: p.parent_horizon.max(1),
    })
}

/// Read the whole history once and judge it.
pub fn check<R: BufRead>(
    mut reader: Reader<R>,
    source: &str,
    opts: &CheckOptions,
) -> Result<HistoryReport, HistoryError> {
    let header = reader.header()?.cloned();
    // The first event is read before the parameters are asked for, so
    // that input which is not a history, or holds no event, says so.
    let mut first = reader.next_event()?;
    if first.is_none() {
        return Err(HistoryError::Empty);
    }
    let parameters = parameters(opts, header.as_ref()).map_err(HistoryError::Parameters)?;
    let params = params_of(&parameters).map_err(HistoryError::Parameters)?;
    let mut checker = OfflineChecker::new(params);
    let (mut events, mut versions) = (0u64, 0u64);
    while let Some(ev) = match first.take() {
        Some(ev) => Some(ev),
        None => reader.next_event()?,
    } {
        events += 1;
        if let crate::events::EventKind::EntityVersioned { .. } = ev.kind {
            versions += 1;
        }
        checker.observe(&ev);
    }
    let unfinished: Vec<Unfinished> = reader
        .in_flight()
        .iter()
        .map(|(&op, rec)| Unfinished {
            op,
            target: rec.target,
            line: rec.line,
        })
        .collect();
    let (checks, coverage) = checker.verdicts(&unfinished);
    let violations = checks.iter().map(|c| c.violations).sum();
    let passed = checks.iter().all(|c| c.passed);
    let code = if passed {
        ExitCode::Passed
    } else {
        ExitCode::IntegrityFailed
    };
    Ok(HistoryReport {
        schema_version: CHECK_SCHEMA_VERSION,
        source: source.to_string(),
        header,
        parameters,
        lines: reader.lines(),
        events,
        submitted: checker.submitted(),
        peak_in_flight: checker.peak_active() as u64,
        integrity: Integrity {
            violations,
            checks,
            entities_modified: checker.entities_modified(),
            versions_created: versions,
        },
        coverage,
        outcome: CheckOutcome {
            passed,
            exit_code: code,
            meaning: if passed {
                "passed: every integrity check the history allows held"
            } else {
                "violated: an integrity check failed"
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, parse_str};

    /// A run's header gives back exactly the parameters of its config,
    /// decimals included (0.3 s is not exact in binary).
    #[test]
    fn a_run_header_gives_the_configs_parameters() {
        let text = "grace_period_seconds = 0.3\n[retries]\nbackoff_base_ms = 7\nbackoff_max_ms = 900\n\
                    [faults]\nfailure_probability = 0.1\n";
        let config = parse_str(text, "test", &Overrides::default()).unwrap();
        let header = Header::of_run(&config, u64::MAX);
        let line = header.line();
        let mut reader = super::super::Reader::new(&line[..]);
        let read = reader.header().unwrap().cloned().unwrap();
        assert_eq!(read, header);
        assert_eq!(read.seed.as_deref(), Some("18446744073709551615"));
        let p = parameters(&CheckOptions::default(), Some(&read)).unwrap();
        assert_eq!(p.grace_period_from, Origin::Header);
        let got = params_of(&p).unwrap();
        let want = CheckConfig::of(&config);
        assert_eq!(got.grace, want.grace);
        assert_eq!(got.backoff, Some((want.backoff_base, want.backoff_max)));
        assert_eq!(got.failures_injected, want.failures_injected);
        assert_eq!(got.parent_horizon, want.parent_horizon);
    }
}
