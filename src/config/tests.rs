use super::validate::NORMALISED;
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
fn defaults_are_the_documented_values() {
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
            max_submission_lateness_ms: None,
            min_real_work: 1,
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
fn the_clock_is_real_unless_virtual_is_asked_for_and_capacity_needs_real() {
    assert_eq!(parse("").unwrap().clock, ClockMode::Real);
    let v = parse("clock = \"virtual\"").unwrap();
    assert_eq!(v.clock, ClockMode::Virtual);
    assert_eq!(parse(&v.to_toml()).unwrap(), v);
    let e = err("clock = \"wall\"");
    assert!(
        e.contains("clock = \"wall\"") && e.contains("\"virtual\""),
        "{e}"
    );
    let e = err("clock = \"virtual\"\noperation_rate_per_second = \"max\"");
    assert!(
        e.contains("capacity mode") && e.contains("real clock"),
        "{e}"
    );
    let o = Overrides {
        clock: Some("virtual".into()),
        ..Overrides::default()
    };
    let e = parse_str("operation_rate_per_second = \"max\"", "f.toml", &o).unwrap_err();
    assert!(e.to_string().starts_with("--clock virtual:"), "{e}");
}

#[test]
fn overrides_replace_file_values() {
    let o = Overrides {
        duration: Some(2.5),
        rate: Some("max".into()),
        targets: Some(42),
        grace_period: Some(0.0),
        seed: Some(u64::MAX),
        clock: None,
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
             min_size, max_size, parent_probability, parent_reach, size_distribution, mean_size"
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
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let e = load(Some(&missing), &Overrides::default()).unwrap_err();
    assert!(e.to_string().ends_with("missing.toml: no such file"), "{e}");
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        load(Some(&empty), &Overrides::default()).unwrap(),
        parse("").unwrap()
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[retention]\nhistory = 0\n").unwrap();
    let e = load(Some(&bad), &Overrides::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}, line 2, column 11: retention.history = 0: must be a whole number \
                 from 1 to 1000000",
            bad.display()
        )
    );
}

const STAGED: &str = "start_rate_per_second = 10\n\
        [[stages]]\nduration_seconds = 10\nrate_per_second = 100\n\
        [[stages]]\nduration_seconds = 20\nrate_per_second = 100\n\
        [[stages]]\nduration_seconds = 10\nrate_per_second = 0\n";

#[test]
fn stages_set_the_duration_and_the_mean_rate() {
    let c = parse(STAGED).unwrap();
    let s = c.stages.as_ref().unwrap();
    assert_eq!(s.start_rate(), 10.0);
    assert_eq!(s.stages().len(), 3);
    assert_eq!(c.duration, Duration::from_secs(40));
    // 550 + 2000 + 500 expected ops over 40 s.
    assert_eq!(s.total_ops(), 3050.0);
    assert_eq!(c.rate, Rate::PerSecond(3050.0 / 40.0));
    assert_eq!(c.schedule().as_ref(), Some(s));
    // Without stages the schedule is the constant rate.
    let c = parse("").unwrap();
    assert_eq!(c.stages, None);
    assert_eq!(c.schedule().unwrap().due_s(150.0), Some(1.5));
    assert_eq!(
        parse("operation_rate_per_second = \"max\"")
            .unwrap()
            .schedule(),
        None
    );
}

#[test]
fn stages_and_a_fixed_duration_or_rate_are_refused_naming_both() {
    for key in ["duration_seconds = 15", "operation_rate_per_second = 100"] {
        let e = err(&format!("{key}\n{STAGED}"));
        let name = key.split(' ').next().unwrap();
        assert!(e.contains(&format!("{name} = ")), "{e}");
        assert!(
            e.contains("cannot be given with [[stages]] (test.toml, line 3"),
            "{e}"
        );
    }
}

#[test]
fn duration_and_rate_flags_scale_the_stages() {
    let o = Overrides {
        duration: Some(4.0),
        rate: Some("50".into()),
        ..Overrides::default()
    };
    let c = parse_str(STAGED, "f.toml", &o).unwrap();
    let s = c.stages.as_ref().unwrap();
    assert_eq!(c.duration, Duration::from_secs(4));
    assert_eq!(s.peak_rate(), 50.0);
    assert_eq!(s.start_rate(), 5.0);
    assert!((s.total_ops() - 3050.0 / 10.0 / 2.0).abs() < 1e-9);
    let o = Overrides {
        rate: Some("max".into()),
        ..Overrides::default()
    };
    let e = parse_str(STAGED, "f.toml", &o).unwrap_err().to_string();
    assert!(
        e.starts_with("--rate max: cannot be \"max\" with [[stages]]"),
        "{e}"
    );
    let o = Overrides {
        duration: Some(-1.0),
        ..Overrides::default()
    };
    let e = parse_str(STAGED, "f.toml", &o).unwrap_err().to_string();
    assert!(e.starts_with("--duration -1:"), "{e}");
}

/// The stage errors are written across source lines; their text must not
/// carry the source's indentation.
#[test]
fn stage_errors_read_as_one_sentence() {
    let max = Overrides {
        rate: Some("max".into()),
        ..Overrides::default()
    };
    let errors = [
        err("start_rate_per_second = 5\n"),
        err(&format!("duration_seconds = 15\n{STAGED}")),
        err("[[stages]]\nduration_seconds = 1\nrate_per_second = 0\n"),
        parse_str(STAGED, "f.toml", &max).unwrap_err().to_string(),
    ];
    for e in errors {
        assert!(!e.contains("  "), "{e:?}");
    }
}

#[test]
fn bad_stages_name_the_stage_and_key() {
    let e = err("[[stages]]\nduration_seconds = 5\n");
    assert!(e.contains("[stages[0]]: rate_per_second is missing"), "{e}");
    let e = err(&format!(
        "{STAGED}[[stages]]\nduration_seconds = 0\nrate_per_second = 1\n"
    ));
    assert!(e.contains("stages[3].duration_seconds = 0: must be"), "{e}");
    let e = err("[[stages]]\nduration_seconds = 1\nrate_per_second = -5\n");
    assert!(e.contains("stages[0].rate_per_second = -5"), "{e}");
    let e = err("[[stages]]\nduration_seconds = 1\nrate_per_second = 0\n");
    assert!(e.contains("every rate is 0"), "{e}");
    let e = err("[[stages]]\nduration_seconds = 1\nrate = 5\n");
    assert!(
        e.contains("unknown key `stages[0].rate`; allowed keys in [[stages]]"),
        "{e}"
    );
    let e = err("stages = [1, 2]\n");
    assert!(
        e.contains("stages[0] = 1 is an integer; expected a table"),
        "{e}"
    );
    let e = err("start_rate_per_second = 5\n");
    assert!(
        e.contains("start_rate_per_second = 5: is the rate the first"),
        "{e}"
    );
}

#[test]
fn distributions_are_named_and_their_parameters_checked() {
    let c = parse("arrivals = \"poisson\"\n[targets]\ndistribution = \"zipf\"\n").unwrap();
    assert_eq!(c.arrivals, Arrivals::Poisson);
    assert_eq!(c.targets, TargetDistribution::Zipf { exponent: 1.0 });
    for (text, want) in [
        (
            "arrivals = \"bursty\"",
            "arrivals = \"bursty\": must be one of \"uniform\", \"poisson\"",
        ),
        (
            "arrivals = 3",
            "arrivals = 3 is an integer; expected a string, one of",
        ),
        (
            "arrivals = \"poisson\"\noperation_rate_per_second = \"max\"",
            "arrivals = \"poisson\": must be \"uniform\" in capacity mode",
        ),
        (
            "[targets]\ndistribution = \"pareto\"",
            "targets.distribution = \"pareto\"",
        ),
        (
            "[targets]\nzipf_exponent = 1.1",
            "targets.zipf_exponent = 1.1: is only used with",
        ),
        (
            "[targets]\ndistribution = \"zipf\"\nzipf_exponent = 0",
            "targets.zipf_exponent = 0: must be a number > 0",
        ),
        (
            "[batch]\nsize_distribution = \"poisson\"",
            "batch.size_distribution = \"poisson\": needs batch.mean_size",
        ),
        (
            "[batch]\nmean_size = 4",
            "batch.mean_size = 4: is only used with",
        ),
        (
            "[batch]\nsize_distribution = \"poisson\"\nmean_size = 9",
            "batch.mean_size = 9: must be a number from batch.min_size (3) to batch.max_size (8)",
        ),
        (
            "[batch]\nsize_distribution = \"normal\"",
            "batch.size_distribution = \"normal\"",
        ),
    ] {
        let e = err(text);
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn the_completion_model_follows_the_size_distribution() {
    let c = parse("[batch]\nsize_distribution = \"poisson\"\nmean_size = 5\n").unwrap();
    assert_eq!(c.batch_sizes, BatchSizes::Poisson { mean: 5.0 });
    let e = BatchSizes::Poisson { mean: 5.0 }.expected(3, 8);
    assert_eq!(c.model_completion_rate(), 1.0 / e);
    assert_eq!(c.mean_batch_size(), e);
    // Clamping lifts the low tail more than it cuts the high one here.
    assert!(e > 5.0 && e < 5.5, "{e}");
}

#[test]
fn shaped_configs_round_trip_through_to_toml() {
    for text in [
        STAGED,
        "arrivals = \"poisson\"\n[targets]\ndistribution = \"zipf\"\nzipf_exponent = 1.3\n\
             [batch]\nsize_distribution = \"poisson\"\nmean_size = 3.5\n",
    ] {
        let c = parse(text).unwrap();
        let again = parse_str(&c.to_toml(), "to_toml", &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}\n{}", c.to_toml()));
        assert_eq!(again, c, "{}", c.to_toml());
    }
    let j = parse(STAGED).unwrap().to_json();
    assert_eq!(j["stages"][1]["rate_per_second"], 100.0);
    assert!(j.get("duration_seconds").is_none(), "{j}");
    // The default writes none of the new keys.
    let text = parse("").unwrap().to_toml();
    for key in [
        "[[stages]]",
        "arrivals",
        "[targets]",
        "size_distribution",
        "start_rate",
    ] {
        assert!(!text.contains(key), "{key}: {text}");
    }
}
