//! The command line and the config loader, driven through the binary.
//!
//! Most of this file is a catalogue of bad input: broken files, wrong
//! types, out-of-range numbers, unknown names, bad flags and unusable output
//! paths. Each must be refused the same way: exit code 2, one line on stderr
//! that names the key or flag, nothing on stdout, no panic, and nothing run
//! (no report file created). The rest pins the happy paths: the shipped
//! configs validate, `print-config` is `configs/brutal.toml`, and `--help`
//! documents the exit codes.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

fn dynstress() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dynstress"))
}

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs")
}

/// Run with `args`, where `{cfg}` is replaced by the path of a config file
/// holding `config` (not created when `None`) and `{dir}` by a scratch
/// directory, and check the run is refused as a usage error whose message
/// contains `expect`.
fn refused(config: Option<&[u8]>, args: &[&str], expect: &str) {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("test.toml");
    if let Some(bytes) = config {
        std::fs::write(&cfg, bytes).unwrap();
    }
    let cfg_s = cfg.display().to_string();
    let dir_s = dir.path().display().to_string();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("{cfg}", &cfg_s).replace("{dir}", &dir_s))
        .collect();
    let out = dynstress().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr:?}");
    assert!(stdout.is_empty(), "{args:?}: stdout {stdout:?}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: stderr {stderr:?}");
    assert!(stderr.starts_with("error: "), "{args:?}: stderr {stderr:?}");
    assert!(!stderr.contains("panicked"), "{args:?}: stderr {stderr:?}");
    assert!(
        stderr.contains(expect),
        "{args:?}: stderr {stderr:?} should name {expect:?}"
    );
    // Nothing ran: no report was written.
    let report = dir.path().join("report.json");
    assert!(
        !report.exists(),
        "{args:?}: {} was created",
        report.display()
    );
}

/// A bad config file must be refused by `validate` and by `run` (which
/// must not even create its `--json` file), naming the file and `expect`.
fn refused_file(config: &[u8], expect: &str) {
    refused(Some(config), &["validate", "--config", "{cfg}"], expect);
    refused(
        Some(config),
        &["validate", "--config", "{cfg}"],
        "test.toml",
    );
    refused(
        Some(config),
        &[
            "run",
            "--config",
            "{cfg}",
            "--json",
            "{dir}/report.json",
            "--no-progress",
        ],
        expect,
    );
}

macro_rules! bad_files {
    ($($name:ident: $text:expr => $expect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                refused_file($text.as_bytes(), $expect);
            }
        )*
    };
}

macro_rules! bad_flags {
    ($($name:ident: [$($arg:expr),*] => $expect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                refused(None, &[$($arg),*], $expect);
            }
        )*
    };
}

mod file {
    use super::*;

    bad_files! {
        toml_syntax_error: "num_targets = 5\nnum_sources = = 3\n" => "line 2, column 15";
        toml_unterminated_string: "num_targets = 5\n\nduration_seconds = \"15\n" => "line 3, column";
        toml_duplicate_key: "num_targets = 5\nnum_targets = 6\n" => "line 2";
        string_for_integer: "num_targets = \"five\"\n" => "num_targets = \"five\" is a string; expected an integer";
        string_for_number: "duration_seconds = \"15\"\n" => "duration_seconds";
        float_for_integer: "num_sources = 2.5\n" => "num_sources = 2.5 is a float";
        integer_for_table: "batch = 5\n" => "batch = 5";
        array_of_tables: "[[batch]]\nmin_size = 1\n" => "batch";
        boolean_for_rate: "operation_rate_per_second = true\n" => "operation_rate_per_second";
        string_for_weight: "[priority_distribution]\nLOW = \"high\"\n" => "priority_distribution.LOW";
        negative_duration: "duration_seconds = -1\n" => "duration_seconds = -1";
        zero_duration: "duration_seconds = 0\n" => "duration_seconds = 0";
        nan_duration: "duration_seconds = nan\n" => "duration_seconds = nan";
        absurd_duration: "duration_seconds = 1e9\n" => "duration_seconds = 1e9";
        infinite_drain_timeout: "drain_timeout_seconds = inf\n" => "drain_timeout_seconds = inf";
        negative_grace_period: "grace_period_seconds = -0.1\n" => "grace_period_seconds = -0.1";
        zero_rate: "operation_rate_per_second = 0\n" => "operation_rate_per_second = 0";
        negative_rate: "operation_rate_per_second = -100.0\n" => "operation_rate_per_second = -100.0";
        infinite_rate: "operation_rate_per_second = inf\n" => "operation_rate_per_second = inf";
        nan_rate: "operation_rate_per_second = nan\n" => "operation_rate_per_second = nan";
        rate_word_other_than_max: "operation_rate_per_second = \"fast\"\n" => "operation_rate_per_second = \"fast\"";
        zero_targets: "num_targets = 0\n" => "num_targets = 0";
        negative_sources: "num_sources = -3\n" => "num_sources = -3";
        absurd_targets: "num_targets = 1000000000000\n" => "num_targets = 1000000000000";
        integer_beyond_64_bits: "num_targets = 99999999999999999999999\n" => "num_targets";
        completion_rate_above_one: "target_completion_rate = 1.5\n" => "target_completion_rate = 1.5";
        zero_memory: "max_memory_mb = 0\n" => "max_memory_mb = 0";
        negative_infinite_memory: "max_memory_mb = -inf\n" => "max_memory_mb = -inf";
        negative_seed: "seed = -1\n" => "seed = -1";
        seed_not_a_number: "seed = \"abc\"\n" => "seed = \"abc\"";
        in_flight_below_batch_size: "max_in_flight = 4\n" => "max_in_flight = 4";
        priority_weights_not_summing_to_one: "[priority_distribution]\nLOW = 0.5\nHIGH = 0.4\n" => "[priority_distribution]: the weights sum to 0.9";
        op_weights_not_summing_to_one: "[operation_types]\nversion_entity = 0.5\n" => "[operation_types]: the weights sum to 0.5";
        negative_weight: "[operation_types]\nmodify_field = 1.5\nversion_entity = -0.5\n" => "operation_types.version_entity = -0.5";
        nan_weight: "[priority_distribution]\nLOW = nan\nHIGH = 1.0\n" => "priority_distribution.LOW = nan";
        infinite_weight: "[operation_types]\ndetach_entity = inf\n" => "operation_types.detach_entity = inf";
        unknown_priority_name: "[priority_distribution]\nURGENT = 1.0\n" => "unknown key `priority_distribution.URGENT`";
        lowercase_priority_name: "[priority_distribution]\nhigh = 1.0\n" => "priority_distribution.high";
        unknown_operation_type: "[operation_types]\ndelete_entity = 1.0\n" => "unknown key `operation_types.delete_entity`";
        unknown_operation_type_lists_the_types: "[operation_types]\nmodify_fields = 1.0\n" => "allowed keys in [operation_types]: version_entity, modify_field,";
        unknown_priority_lists_the_levels: "[priority_distribution]\nURGENT = 1.0\n" => "allowed keys in [priority_distribution]: BACKGROUND, LOW, NORMAL, HIGH, CRITICAL";
        integer_for_weight_table: "operation_types = 1\n" => "operation_types = 1 is an integer; expected a table";
        unknown_top_level_key: "num_workers = 4\n" => "unknown key `num_workers`";
        unknown_table: "[network]\nport = 8080\n" => "unknown key `network`";
        unknown_key_in_table: "[batch]\nmin_size = 2\nsize = 3\n" => "unknown key `batch.size`; allowed keys in [batch]: min_size, max_size, parent_probability";
        batch_min_above_max: "[batch]\nmin_size = 9\nmax_size = 8\n" => "batch.min_size = 9: must be <= batch.max_size (8)";
        batch_max_below_default_min: "[batch]\nmax_size = 2\n" => "batch.max_size = 2";
        zero_batch_size: "batch.min_size = 0\n" => "batch.min_size = 0";
        absurd_batch_size: "[batch]\nmax_size = 1000000000\n" => "batch.max_size = 1000000000";
        backoff_base_above_max: "[retries]\nbackoff_base_ms = 2000\nbackoff_max_ms = 1000\n" => "retries.backoff_base_ms = 2000";
        negative_backoff: "[retries]\nbackoff_max_ms = -1\n" => "retries.backoff_max_ms = -1";
        absurd_retry_budget: "[retries]\nnormal = 100000\n" => "retries.normal = 100000";
        failure_probability_above_one: "[faults]\nfailure_probability = 1.5\n" => "faults.failure_probability = 1.5";
        negative_stall_probability: "[faults]\nstall_probability = -0.1\n" => "faults.stall_probability = -0.1";
        negative_stall_ms: "[faults]\nstall_ms = -5\n" => "faults.stall_ms = -5";
        zero_retention: "[retention]\nversions = 0\n" => "retention.versions = 0";
        absurd_retention: "[retention]\nhistory = 1000000000\n" => "retention.history = 1000000000";
        rate_accuracy_above_one: "[thresholds]\nmin_rate_accuracy = 2\n" => "thresholds.min_rate_accuracy = 2";
        nan_completion_threshold: "[thresholds]\nmin_completion_rate = nan\n" => "thresholds.min_completion_rate = nan";
        zero_latency_threshold: "[thresholds]\nmax_resolution_p99_us = 0\n" => "thresholds.max_resolution_p99_us = 0";
        stages_with_duration: "duration_seconds = 10\n[[stages]]\nduration_seconds = 5\nrate_per_second = 10\n" => "duration_seconds = 10: cannot be given with [[stages]]";
        stages_with_rate: "operation_rate_per_second = 50\n[[stages]]\nduration_seconds = 5\nrate_per_second = 10\n" => "operation_rate_per_second = 50: cannot be given with [[stages]]";
        stage_without_rate: "[[stages]]\nduration_seconds = 5\n" => "[stages[0]]: rate_per_second is missing";
        stage_without_duration: "[[stages]]\nrate_per_second = 5\n" => "[stages[0]]: duration_seconds is missing";
        stage_zero_duration: "[[stages]]\nduration_seconds = 5\nrate_per_second = 1\n[[stages]]\nduration_seconds = 0\nrate_per_second = 1\n" => "stages[1].duration_seconds = 0";
        stage_negative_rate: "[[stages]]\nduration_seconds = 5\nrate_per_second = -1\n" => "stages[0].rate_per_second = -1";
        stage_nan_rate: "[[stages]]\nduration_seconds = 5\nrate_per_second = nan\n" => "stages[0].rate_per_second = nan";
        stages_all_at_rate_zero: "[[stages]]\nduration_seconds = 5\nrate_per_second = 0\n" => "[[stages]]: every rate is 0";
        stages_longer_than_a_week: "[[stages]]\nduration_seconds = 600000\nrate_per_second = 1\n[[stages]]\nduration_seconds = 600000\nrate_per_second = 1\n" => "the stages last 1200000 s in all";
        unknown_stage_key: "[[stages]]\nduration_seconds = 5\nrate_per_second = 1\ntarget = 3\n" => "unknown key `stages[0].target`; allowed keys in [[stages]]: duration_seconds, rate_per_second";
        stages_as_a_table: "[stages]\nduration_seconds = 5\n" => "expected an array of tables";
        start_rate_without_stages: "start_rate_per_second = 10\n" => "start_rate_per_second = 10";
        negative_start_rate: "start_rate_per_second = -10\n[[stages]]\nduration_seconds = 5\nrate_per_second = 1\n" => "start_rate_per_second = -10";
        unknown_arrivals: "arrivals = \"bursty\"\n" => "arrivals = \"bursty\": must be one of \"uniform\", \"poisson\"";
        arrivals_not_a_string: "arrivals = 1\n" => "arrivals = 1 is an integer";
        poisson_arrivals_in_capacity_mode: "operation_rate_per_second = \"max\"\narrivals = \"poisson\"\n" => "arrivals = \"poisson\": must be \"uniform\" in capacity mode";
        unknown_target_distribution: "[targets]\ndistribution = \"pareto\"\n" => "targets.distribution = \"pareto\": must be one of \"uniform\", \"zipf\"";
        zipf_exponent_without_zipf: "[targets]\nzipf_exponent = 1.2\n" => "targets.zipf_exponent = 1.2: is only used with targets.distribution = \"zipf\"";
        zero_zipf_exponent: "[targets]\ndistribution = \"zipf\"\nzipf_exponent = 0\n" => "targets.zipf_exponent = 0";
        absurd_zipf_exponent: "[targets]\ndistribution = \"zipf\"\nzipf_exponent = 100\n" => "targets.zipf_exponent = 100";
        unknown_targets_key: "[targets]\nhot = 3\n" => "unknown key `targets.hot`; allowed keys in [targets]: distribution, zipf_exponent";
        unknown_size_distribution: "[batch]\nsize_distribution = \"normal\"\n" => "batch.size_distribution = \"normal\": must be one of \"uniform\", \"poisson\"";
        poisson_sizes_without_mean: "[batch]\nsize_distribution = \"poisson\"\n" => "batch.size_distribution = \"poisson\": needs batch.mean_size";
        mean_size_without_poisson: "[batch]\nmean_size = 5\n" => "batch.mean_size = 5: is only used with";
        mean_size_outside_the_range: "[batch]\nsize_distribution = \"poisson\"\nmean_size = 20\n" => "batch.mean_size = 20: must be a number from batch.min_size (3) to batch.max_size (8)";
    }
}

#[test]
fn rate_max_is_refused_with_stages_naming_the_flag() {
    let staged = b"[[stages]]\nduration_seconds = 5\nrate_per_second = 10\n";
    refused(
        Some(staged),
        &[
            "run",
            "--config",
            "{cfg}",
            "--rate",
            "max",
            "--json",
            "{dir}/report.json",
        ],
        "--rate max: cannot be \"max\" with [[stages]]",
    );
    refused(
        Some(staged),
        &[
            "run",
            "--config",
            "{cfg}",
            "--duration",
            "0",
            "--json",
            "{dir}/report.json",
        ],
        "--duration 0:",
    );
}

#[test]
fn duration_and_rate_flags_scale_the_stages() {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("staged.toml");
    std::fs::write(
        &cfg,
        "[[stages]]\nduration_seconds = 10\nrate_per_second = 100\n\
         [[stages]]\nduration_seconds = 30\nrate_per_second = 100\n",
    )
    .unwrap();
    // `validate` takes no overrides; the JSON report's config shows them
    // applied, so run for the shortest scaled time.
    let report = dir.path().join("report.json");
    dynstress()
        .args(["run", "--no-progress", "--quiet", "--seed", "1", "--config"])
        .arg(&cfg)
        .args(["--duration", "0.4", "--rate", "50", "--json"])
        .arg(&report)
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let stages = &json["config"]["stages"];
    // The shape is kept: 1 : 3 in time, the peak at the given rate.
    let secs = |i: usize| stages[i]["duration_seconds"].as_f64().unwrap();
    assert!((secs(0) - 0.1).abs() < 1e-12, "{stages}");
    assert!((secs(1) - 0.3).abs() < 1e-12, "{stages}");
    assert_eq!(stages[1]["rate_per_second"], 50.0, "{stages}");
    // The effective duration is the stages' sum.
    assert!((json["config"]["duration_seconds"].as_f64().unwrap() - 0.4).abs() < 1e-9);
}

#[test]
fn missing_config_file() {
    refused(
        None,
        &["validate", "--config", "{cfg}"],
        "test.toml: no such file",
    );
    refused(
        None,
        &["run", "--config", "{cfg}", "--json", "{dir}/report.json"],
        "test.toml: no such file",
    );
}

#[test]
fn directory_as_config_file() {
    refused(None, &["validate", "--config", "{dir}"], "is a directory");
    refused(None, &["run", "--config", "{dir}"], "is a directory");
}

#[test]
fn binary_config_file() {
    let bytes = [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0xff, 0xfe, 0x80, 0x00];
    refused_file(&bytes, "is not UTF-8 text");
}

#[test]
fn errors_point_at_the_line_and_column_of_the_value() {
    refused_file(
        b"num_targets = 5\n\n[batch]\nmin_size = 9\n",
        "test.toml, line 4, column 12: batch.min_size = 9",
    );
}

mod flag {
    use super::*;

    bad_flags! {
        duration_negative: ["run", "--duration", "-1"] => "--duration -1";
        duration_not_a_number: ["run", "--duration", "abc"] => "--duration";
        duration_zero: ["run", "--duration", "0"] => "--duration 0";
        duration_infinite: ["run", "--duration", "inf"] => "--duration inf";
        rate_word: ["run", "--rate", "fast"] => "--rate fast";
        rate_zero: ["run", "--rate", "0"] => "--rate 0";
        rate_negative: ["run", "--rate", "-5"] => "--rate -5";
        rate_nan: ["run", "--rate", "nan"] => "--rate nan";
        targets_zero: ["run", "--targets", "0"] => "--targets 0";
        targets_negative: ["run", "--targets", "-1"] => "--targets -1: must be a whole number from 1";
        targets_absurd: ["run", "--targets", "1000000000"] => "--targets 1000000000";
        grace_period_nan: ["run", "--grace-period", "nan"] => "--grace-period";
        grace_period_negative: ["run", "--grace-period", "-0.5"] => "--grace-period -0.5";
        seed_not_a_number: ["run", "--seed", "abc"] => "--seed";
        color_unknown: ["run", "--color", "purple"] => "--color";
        inject_unknown: ["run", "--inject", "bogus"] => "--inject";
        flag_unknown: ["run", "--frobnicate"] => "--frobnicate";
        subcommand_unknown: ["frobnicate"] => "frobnicate";
        validate_without_config: ["validate"] => "--config";
        quiet_with_verbose: ["run", "--quiet", "--verbose"] => "--quiet";
        json_into_missing_directory: ["run", "--json", "{dir}/missing/report.json"] => "--json";
        json_onto_a_directory: ["run", "--json", "{dir}"] => "--json";
        events_into_missing_directory: ["run", "--events", "{dir}/missing/events.jsonl"] => "--events";
    }
}

#[test]
fn an_override_error_names_the_flag_not_the_file() {
    refused(
        Some(b"duration_seconds = 5\n"),
        &["run", "--config", "{cfg}", "--duration", "-2"],
        "error: --duration -2: must be a number of seconds > 0",
    );
}

#[test]
fn an_override_replaces_a_bad_file_value_before_validation() {
    // The file's duration is invalid, but --duration replaces it, so the
    // only error left is the bad --json path, found after the config.
    refused(
        Some(b"duration_seconds = -1\n"),
        &[
            "run",
            "--config",
            "{cfg}",
            "--duration",
            "1",
            "--json",
            "{dir}/missing/report.json",
        ],
        "--json",
    );
}

#[test]
fn the_config_is_checked_before_any_output_file_is_created() {
    refused(
        None,
        &[
            "run",
            "--targets",
            "0",
            "--json",
            "{dir}/report.json",
            "--events",
            "{dir}/events.jsonl",
        ],
        "--targets 0",
    );
}

#[test]
fn an_empty_config_file_is_the_built_in_default() {
    let dir = TempDir::new().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let from_empty = dynstress()
        .args(["validate", "--config"])
        .arg(&empty)
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let from_brutal = dynstress()
        .args(["validate", "--config"])
        .arg(configs_dir().join("brutal.toml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!from_empty.is_empty());
    assert_eq!(
        String::from_utf8(from_empty).unwrap(),
        String::from_utf8(from_brutal).unwrap()
    );
}

#[test]
fn every_shipped_config_validates_and_its_output_validates_to_itself() {
    let mut seen = 0;
    for entry in std::fs::read_dir(configs_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let effective = dynstress()
            .args(["validate", "--config"])
            .arg(&path)
            .assert()
            .success()
            .stderr("")
            .get_output()
            .stdout
            .clone();
        let dir = TempDir::new().unwrap();
        let again = dir.path().join("effective.toml");
        std::fs::write(&again, &effective).unwrap();
        dynstress()
            .args(["validate", "--config"])
            .arg(&again)
            .assert()
            .success()
            .stdout(predicate::eq(effective.as_slice()));
    }
    assert!(seen >= 4, "only {seen} configs found");
}

#[test]
fn print_config_is_brutal_toml_and_validates_to_the_same_config() {
    let printed = dynstress()
        .arg("print-config")
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let brutal = std::fs::read(configs_dir().join("brutal.toml")).unwrap();
    assert_eq!(printed, brutal);

    let dir = TempDir::new().unwrap();
    let file = dir.path().join("printed.toml");
    std::fs::write(&file, &printed).unwrap();
    let from_printed = dynstress()
        .args(["validate", "--config"])
        .arg(&file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let from_brutal = dynstress()
        .args(["validate", "--config"])
        .arg(configs_dir().join("brutal.toml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(from_printed, from_brutal);
}

#[test]
fn validate_prints_the_effective_values_not_the_file_text() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "operation_rate_per_second = \"max\"\ntarget_completion_rate = 0.3\n",
    )
    .unwrap();
    dynstress()
        .args(["validate", "--config"])
        .arg(&file)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("operation_rate_per_second = \"max\"")
                // Filled in from target_completion_rate.
                .and(predicate::str::contains("min_completion_rate = 0.3"))
                .and(predicate::str::contains("[retention]")),
        );
}

#[test]
fn help_documents_the_exit_codes() {
    for args in [&["--help"][..], &["run", "--help"][..]] {
        dynstress().args(args).assert().success().stdout(
            predicate::str::contains("Exit codes")
                .and(predicate::str::contains("130"))
                .and(predicate::str::contains("integrity"))
                .and(predicate::str::contains("nothing ran")),
        );
    }
}

#[test]
fn the_inject_flag_is_hidden_from_help() {
    dynstress()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--no-emoji").and(predicate::str::contains("--inject").not()),
        );
}

#[test]
fn version_is_printed() {
    dynstress()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn the_shaped_configs_validate_with_their_shapes() {
    for (name, shows) in [
        ("ramp.toml", "[[stages]]"),
        ("spike.toml", "arrivals = \"poisson\""),
        ("hotkeys.toml", "distribution = \"zipf\""),
        ("soak.toml", "duration_seconds = 1800.0"),
    ] {
        dynstress()
            .args(["validate", "--config"])
            .arg(configs_dir().join(name))
            .assert()
            .success()
            .stdout(predicate::str::contains(shows));
    }
}
