use super::*;
use crate::config::{Overrides, parse_str};
use crate::report::model::Violation;
use crate::report::sample_report;

fn plan(f: PlanFlags) -> Result<Plan, PlanError> {
    Plan::new(&f)
}

fn rates(f: PlanFlags) -> Vec<f64> {
    plan(f).unwrap().rates().collect()
}

#[test]
fn rates_grow_by_factor_or_step_and_end_at_the_ceiling() {
    let by_factor = PlanFlags {
        start: 100.0,
        ceiling: 1_000.0,
        ..PlanFlags::default()
    };
    assert_eq!(rates(by_factor), [100.0, 200.0, 400.0, 800.0, 1_000.0]);
    let exact = PlanFlags {
        start: 100.0,
        ceiling: 800.0,
        factor: Some(2.0),
        ..PlanFlags::default()
    };
    assert_eq!(rates(exact), [100.0, 200.0, 400.0, 800.0]);
    let by_step = PlanFlags {
        start: 100.0,
        step: Some(250.0),
        ceiling: 700.0,
        ..PlanFlags::default()
    };
    assert_eq!(rates(by_step), [100.0, 350.0, 600.0, 700.0]);
    let one = PlanFlags {
        start: 500.0,
        ceiling: 500.0,
        ..PlanFlags::default()
    };
    assert_eq!(rates(one), [500.0]);
}

#[test]
fn the_defaults_are_a_valid_plan() {
    let p = plan(PlanFlags::default()).unwrap();
    assert_eq!(p.growth, Growth::Factor(DEFAULT_FACTOR));
    // 1,000 doubling to 8,192,000 is 14 steps; the 15th is the ceiling.
    let r: Vec<f64> = p.rates().collect();
    assert_eq!((r.len(), r[13], r[14]), (15, 8_192_000.0, DEFAULT_CEILING));
}

#[test]
fn bad_flags_are_refused_by_name() {
    let cases: [(PlanFlags, &str); 9] = [
        (
            PlanFlags {
                start: 0.0,
                ..Default::default()
            },
            "--start 0:",
        ),
        (
            PlanFlags {
                start: f64::NAN,
                ..Default::default()
            },
            "--start NaN:",
        ),
        (
            PlanFlags {
                ceiling: 10.0,
                ..Default::default()
            },
            "--ceiling 10: must be at least --start",
        ),
        (
            PlanFlags {
                ceiling: 1e9,
                ..Default::default()
            },
            "--ceiling 1000000000:",
        ),
        (
            PlanFlags {
                factor: Some(1.0),
                ..Default::default()
            },
            "--factor 1: must be > 1",
        ),
        (
            PlanFlags {
                step: Some(-5.0),
                ..Default::default()
            },
            "--step -5:",
        ),
        (
            PlanFlags {
                factor: Some(2.0),
                step: Some(5.0),
                ..Default::default()
            },
            "--factor 2: cannot be given with --step",
        ),
        (
            PlanFlags {
                step_seconds: 0.0,
                ..Default::default()
            },
            "--step-seconds 0:",
        ),
        (
            PlanFlags {
                max_lateness_ms: -1.0,
                ..Default::default()
            },
            "--max-lateness-ms -1:",
        ),
    ];
    for (flags, want) in cases {
        let e = plan(flags.clone()).unwrap_err().to_string();
        assert!(e.starts_with(want), "{flags:?}: {e}");
    }
    let e = plan(PlanFlags {
        step: Some(1.0),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(e, PlanError::TooManySteps { .. }), "{e}");
}

#[test]
fn capacity_and_staged_configs_are_refused() {
    let load = |t: &str| parse_str(t, "test.toml", &Overrides::default()).unwrap();
    assert_eq!(check_config(&load("")), Ok(()));
    let max = load("operation_rate_per_second = \"max\"\n");
    assert_eq!(check_config(&max), Err(PlanError::CapacityConfig));
    let staged = load("[[stages]]\nduration_seconds = 2\nrate_per_second = 100\n");
    assert_eq!(check_config(&staged), Err(PlanError::StagedConfig));
}

fn limits() -> Plan {
    plan(PlanFlags {
        max_lateness_ms: 50.0,
        max_e2e_p99_ms: 1_000.0,
        ..PlanFlags::default()
    })
    .unwrap()
}

#[test]
fn a_passed_run_within_the_limits_holds() {
    let report = sample_report();
    let step = judge(&report, &limits(), 100.0);
    assert_eq!(step.verdict, Verdict::Held);
    assert!(step.stopped_by.is_empty() && step.failed_checks.is_empty());
    assert_eq!(step.achieved_ops_per_s, report.rates.achieved_ops_per_s);
    assert_eq!(step.in_flight_limit, 100_000);
    assert_eq!(
        step.e2e_p99_ms,
        report.latency_us.end_to_end.p99 as f64 / 1e3
    );
    let committed = report.operations.succeeded as f64 / report.duration_s.total;
    assert_eq!(step.committed_ops_per_s, committed);
}

#[test]
fn each_limit_crossed_is_named() {
    let mut report = sample_report();
    report.latency_us.submission_lateness.p99 = 50_001;
    report.latency_us.end_to_end.p99 = 1_000_000;
    report.operations.in_flight_waits = 3;
    let step = judge(&report, &limits(), 100.0);
    assert_eq!(step.verdict, Verdict::Broke);
    assert_eq!(
        step.stopped_by,
        [
            Condition::LatenessP99 {
                observed_ms: 50.001,
                limit_ms: 50.0
            },
            Condition::InFlightLimit {
                waits: 3,
                limit: 100_000
            },
        ],
        "an e2e p99 equal to its limit holds"
    );
}

#[test]
fn a_failed_threshold_breaks_and_a_failed_check_outranks_it() {
    let mut report = sample_report();
    report.thresholds[2].passed = false;
    report.thresholds[2].observed = 0.5;
    let step = judge(&report, &limits(), 100.0);
    assert_eq!(step.verdict, Verdict::Broke);
    assert_eq!(
        step.stopped_by,
        [Condition::Threshold {
            name: "min_rate_accuracy".into(),
            observed: 0.5,
            limit: 0.95
        }]
    );

    let check = &mut report.integrity.checks[3];
    check.passed = false;
    check.violations = 1;
    check.first_violations.push(Violation {
        check: check.id,
        op: Some(12),
        target: Some(3),
        rule: "winner outranked".into(),
        detail: "op-0000000d has priority 10".into(),
    });
    let step = judge(&report, &limits(), 100.0);
    assert_eq!(step.verdict, Verdict::IntegrityFailed);
    assert_eq!(step.failed_checks.len(), 1);
    assert_eq!(step.failed_checks[0].name, "priority_rule");
    assert!(
        step.failed_checks[0]
            .detail
            .contains("op-0000000c on target 3")
    );
}

#[test]
fn an_interrupted_run_is_not_judged() {
    let mut report = sample_report();
    report.outcome.interrupted = true;
    report.operations.in_flight_waits = 1;
    assert_eq!(judge(&report, &limits(), 1.0).verdict, Verdict::Interrupted);
}

#[test]
fn each_ending_has_its_exit_code() {
    let codes = [
        Stop::Broke,
        Stop::Ceiling,
        Stop::Integrity,
        Stop::RunFailed,
        Stop::Interrupted,
    ]
    .map(Stop::exit_code);
    assert_eq!(codes.map(ExitCode::code), [0, 0, 3, 4, 130]);
}
