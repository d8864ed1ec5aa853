//! Baselines through the binary: `dynstress compare` and `run --baseline`.
//!
//! One short real run makes the base report; the regressed reports are that
//! report edited, so every expectation follows from the edit, not from how
//! fast this machine happens to be.

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

const EXIT_REGRESSED: i32 = 1;
const EXIT_USAGE: i32 = 2;

fn dynstress() -> Command {
    let mut cmd = Command::cargo_bin("dynstress").expect("the binary is built");
    cmd.env_remove("COLUMNS");
    cmd
}

/// A short fixed-rate run's JSON report, written to `dir/base.json`.
fn base_report(dir: &TempDir) -> (String, Value) {
    let path = dir.path().join("base.json");
    dynstress()
        .args([
            "run",
            "--duration",
            "0.5",
            "--seed",
            "3",
            "--quiet",
            "--json",
        ])
        .arg(&path)
        .assert()
        .code(0);
    let text = std::fs::read_to_string(&path).unwrap();
    (
        path.display().to_string(),
        serde_json::from_str(&text).unwrap(),
    )
}

fn write(dir: &TempDir, name: &str, report: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(report).unwrap()).unwrap();
    path.display().to_string()
}

fn compare(args: &[&str]) -> (i32, String, String) {
    let out = dynstress()
        .arg("compare")
        .args(args)
        .args(["--color", "never"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_report_against_itself_passes_and_an_edited_regression_fails() {
    let dir = TempDir::new().unwrap();
    let (base, report) = base_report(&dir);
    let (code, out, err) = compare(&[&base, &base]);
    assert_eq!(code, 0, "{out}{err}");
    for metric in [
        "succeeded/s",
        "rejected/s",
        "settled/s",
        "execution p99",
        "end-to-end p50",
        "resolution p99",
        "peak RSS",
        "CPU per settled op",
    ] {
        assert!(out.contains(metric), "{metric} missing:\n{out}");
    }
    assert!(out.contains("no metric regressed"), "{out}");

    // Three times slower at p99, half the successes.
    let mut worse = report.clone();
    let p99 = worse["latency_us"]["execution"]["p99"].as_f64().unwrap();
    worse["latency_us"]["execution"]["p99"] = json!(p99 * 3.0 + 10.0);
    let s = worse["rates"]["succeeded_ops_per_s"].as_f64().unwrap();
    worse["rates"]["succeeded_ops_per_s"] = json!(s / 2.0);
    let new = write(&dir, "worse.json", &worse);
    let (code, out, err) = compare(&[&base, &new]);
    assert_eq!(code, EXIT_REGRESSED, "{out}{err}");
    let verdict = out.trim_end().rsplit("\n\n").next().unwrap();
    assert!(verdict.contains("REGRESSED (exit 1)"), "{out}");
    assert!(verdict.contains("execution p99"), "{out}");
    assert!(verdict.contains("succeeded/s (-50.0%)"), "{out}");
    // The same change read the other way round is an improvement.
    let (code, out, _) = compare(&[&new, &base]);
    assert_eq!(code, 0, "{out}");
    // And a loose enough limit lets it through.
    let (code, out, _) = compare(&[&base, &new, "--max-regression", "1000%"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn reports_of_another_config_or_schema_are_refused_unless_forced() {
    let dir = TempDir::new().unwrap();
    let (base, report) = base_report(&dir);
    let mut other = report.clone();
    other["config"]["num_targets"] = json!(50);
    let other = write(&dir, "other.json", &other);
    let (code, out, err) = compare(&[&base, &other]);
    assert_eq!(code, EXIT_USAGE, "{out}{err}");
    assert!(err.contains("config.num_targets"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(out.is_empty(), "{out}");
    let (code, out, err) = compare(&[&base, &other, "--force"]);
    assert_eq!(code, 0, "{out}{err}");

    // Every setting is in the config a report shows, parent links' reach
    // included: runs that differ only there are not compared either.
    assert_eq!(
        report["config"]["batch"]["parent_reach"],
        json!(0),
        "{report}"
    );
    let mut reach = report.clone();
    reach["config"]["batch"]["parent_reach"] = json!(3);
    let reach = write(&dir, "reach.json", &reach);
    let (code, _, err) = compare(&[&base, &reach]);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("config.batch.parent_reach"), "{err}");

    let mut newer = report.clone();
    newer["schema_version"] = json!(999);
    let newer = write(&dir, "newer.json", &newer);
    let (code, _, err) = compare(&[&base, &newer]);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("schema versions"), "{err}");

    let (code, _, err) = compare(&[&base, "/nonexistent/report.json"]);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("/nonexistent/report.json"), "{err}");
}

#[test]
fn a_run_against_a_baseline_names_the_regressed_metric() {
    let dir = TempDir::new().unwrap();
    let (_, report) = base_report(&dir);
    // A baseline that settled a hundred times as fast as any real run.
    let mut fast = report.clone();
    let settled = fast["rates"]["settled_ops_per_s"].as_f64().unwrap();
    fast["rates"]["settled_ops_per_s"] = json!(settled * 100.0);
    let fast = write(&dir, "fast.json", &fast);
    let json = dir.path().join("run.json");
    let out = dynstress()
        .args(["run", "--duration", "0.5", "--seed", "3", "--no-progress"])
        .args(["--color", "never", "--baseline", &fast, "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(EXIT_REGRESSED), "{stdout}");
    let run: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let failed: Vec<&str> = run["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // Latency and CPU of two short runs differ by noise too; the planted
    // regression must be among what failed.
    assert!(failed.contains(&"max_regression_settled_per_s"), "{stdout}");
    assert_eq!(run["outcome"]["exit_code"], 1);
    assert!(
        stdout.contains("❌ max_regression_settled_per_s: 99.0% (limit ≤ 10.0%)"),
        "{stdout}"
    );

    // A baseline of another config is refused before anything runs.
    let out = dynstress()
        .args(["run", "--duration", "0.5", "--targets", "9", "--quiet"])
        .args(["--baseline", &fast])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_USAGE), "{stderr}");
    assert!(stderr.contains("config.num_targets"), "{stderr}");
}
