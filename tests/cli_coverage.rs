//! Coverage: a run says how much it proved, and a config can require it.
//!
//! The chaos config requires every rule path to be exercised; a healthy
//! chaos run must then pass with every path counted. A path that a config
//! requires and the run did not exercise fails the run with exit 1 (a
//! threshold), never 3: nothing was wrong with the engine. The coverage
//! section is part of the JSON report.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

fn run(dir: &TempDir, args: &[&str]) -> (Option<i32>, String, Value) {
    let report = dir.path().join("report.json");
    let report_s = report.display().to_string();
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--no-progress", "--json", &report_s]);
    let out = Command::cargo_bin("dynstress")
        .unwrap()
        .args(&all)
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out.status.code(), stdout, json)
}

fn paths(json: &Value) -> Vec<(String, u64, bool)> {
    json["coverage"]["paths"]
        .as_array()
        .unwrap_or_else(|| panic!("no coverage.paths in {json}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["cases"].as_u64().unwrap(),
                p["exercised"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_chaos_run_exercises_every_path_and_passes() {
    let chaos = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/chaos.toml");
    let dir = TempDir::new().unwrap();
    let (code, stdout, json) = run(
        &dir,
        &[
            "--config",
            &chaos.display().to_string(),
            "--duration",
            "5",
            "--seed",
            "7",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}");
    let paths = paths(&json);
    assert_eq!(paths.len(), 12);
    for (name, cases, exercised) in &paths {
        assert!(*exercised && *cases > 0, "{name} not exercised: {paths:?}");
    }
    for check in json["integrity"]["checks"].as_array().unwrap() {
        assert_eq!(check["passed"], true, "{check}");
        assert_eq!(check["exercised"], true, "{check}");
    }
    // Every required path is a threshold of its own.
    let thresholds = json["thresholds"].as_array().unwrap();
    let required = thresholds
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("min_coverage."))
        .count();
    assert_eq!(required, 12);
    let late = &json["coverage"]["preemption_lateness_us"];
    assert!(late["count"].as_u64().unwrap() > 0, "{late}");
    assert!(
        late["max"].as_u64().unwrap() <= json["coverage"]["preemption_bound_us"].as_u64().unwrap()
    );
}

#[test]
fn a_required_path_the_run_did_not_exercise_fails_it_with_exit_1() {
    // Faults off: nothing is ever preempted or retried.
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[thresholds]\nmin_coverage = [\"ties\", \"preemptions\"]\n",
    )
    .unwrap();
    let (code, stdout, json) = run(
        &dir,
        &[
            "--config",
            &config.display().to_string(),
            "--duration",
            "1",
            "--seed",
            "3",
        ],
    );
    assert_eq!(code, Some(1), "{stdout}");
    let t = |name: &str| {
        json["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no threshold {name}"))
    };
    assert_eq!(t("min_coverage.ties")["passed"], true);
    assert_eq!(t("min_coverage.preemptions")["passed"], false);
    assert_eq!(t("min_coverage.preemptions")["observed"], 0.0);
    for check in json["integrity"]["checks"].as_array().unwrap() {
        assert_eq!(check["passed"], true, "{check}");
    }
    // The grace rule examined nothing: not exercised, though not failed.
    let grace = json["integrity"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "grace_rule")
        .unwrap();
    assert_eq!(grace["exercised"], false, "{grace}");
}

#[test]
fn an_unknown_coverage_path_is_a_config_error() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[thresholds]\nmin_coverage = [\"tie\"]\n").unwrap();
    let out = Command::cargo_bin("dynstress")
        .unwrap()
        .args(["validate", "--config", &config.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("thresholds.min_coverage") && err.contains("inherited_wins"),
        "{err}"
    );
}
