//! `dynstress breakpoint` end to end: the built binary ramping real runs of
//! one second each.
//!
//! Each ending of the search is produced the way a user would meet it: a
//! config whose stalls fill a small in-flight limit breaks at once and says
//! so; a healthy config under a low ceiling reaches it; `--inject` makes a
//! step fail an integrity check (exit 3); bad flags and configs the search
//! cannot ramp are refused before anything runs (exit 2).
//!
//! Lateness and latency depend on the machine's load, so the runs that
//! must hold get limits far above what a healthy engine shows at these
//! rates; what is asserted is the search's logic, read from its JSON.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

/// A search that takes longer than this has hung.
const TIMEOUT: Duration = Duration::from_secs(60);

fn dynstress() -> Command {
    let mut cmd = Command::cargo_bin("dynstress").expect("the binary is built");
    cmd.timeout(TIMEOUT);
    cmd
}

fn write(dir: &TempDir, name: &str, toml: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, toml).expect("the temp dir is writable");
    path.display().to_string()
}

/// Run `breakpoint` with `args` and `--json`; the exit code, stdout and the
/// parsed JSON.
fn search(dir: &TempDir, args: &[&str]) -> (i32, String, Value) {
    let json = dir.path().join("search.json");
    let out = dynstress()
        .arg("breakpoint")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let text = std::fs::read_to_string(&json).expect("--json was written");
    let value = serde_json::from_str(&text).expect("--json parses");
    (out.status.code().expect("exited"), stdout, value)
}

fn steps(v: &Value) -> &Vec<Value> {
    v["steps"].as_array().expect("steps is an array")
}

#[test]
fn stalls_that_fill_the_in_flight_limit_break_below_the_ceiling() {
    let dir = TempDir::new().unwrap();
    // Nine executions in ten hold their target for 300 ms; with five
    // targets, stalled winners keep permits out of 8, and a batch of up
    // to 8 ops must wait for them.
    let config = write(
        &dir,
        "stalls.toml",
        "duration_seconds = 1\noperation_rate_per_second = 100\nmax_in_flight = 8\n\
         drain_timeout_seconds = 0.05\n\
         [faults]\nstall_probability = 0.9\nstall_ms = 300\n",
    );
    let (code, stdout, v) = search(
        &dir,
        &[
            "--config",
            &config,
            "--start",
            "100",
            "--ceiling",
            "800",
            "--step-seconds",
            "1",
            "--seed",
            "7",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(v["outcome"]["stop"], "broke", "{v:#}");
    let last = steps(&v).last().unwrap();
    assert!(last["target_ops_per_s"].as_f64().unwrap() < 800.0, "{v:#}");
    assert_eq!(
        v["outcome"]["stopped_at_ops_per_s"],
        last["target_ops_per_s"]
    );
    assert_eq!(last["verdict"], "broke");
    let conditions: Vec<&str> = last["stopped_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["condition"].as_str().unwrap())
        .collect();
    assert!(conditions.contains(&"in_flight_limit"), "{conditions:?}");
    assert_eq!(last["in_flight_limit"], 8);
    let peak = last["in_flight_peak"].as_u64().unwrap();
    assert!(peak > 0 && peak <= 8, "{peak}");
    assert!(stdout.starts_with("breaking point: "), "{stdout}");
    assert!(stdout.contains("in-flight limit 8 reached"), "{stdout}");
}

#[test]
fn a_healthy_config_reaches_a_low_ceiling() {
    let dir = TempDir::new().unwrap();
    let out = dynstress()
        .args([
            "breakpoint",
            "--start",
            "100",
            "--ceiling",
            "800",
            "--step-seconds",
            "1",
            "--seed",
            "7",
            "--max-lateness-ms",
            "500",
            "--max-e2e-p99-ms",
            "500",
            "--json",
        ])
        .arg(dir.path().join("search.json"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "no breaking point below the ceiling: every step held, up to 800 ops/s",
        ))
        // One progress line per step.
        .stderr(predicate::function(|e: &str| {
            e.lines().filter(|l| l.starts_with("step ")).count() == 4
        }));
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let text = std::fs::read_to_string(dir.path().join("search.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["outcome"]["stop"], "ceiling", "{stdout}");
    assert_eq!(v["outcome"]["exit_code"], 0);
    assert_eq!(v["outcome"]["highest_held_ops_per_s"], 800.0);
    assert_eq!(v["seed"], 7);
    let targets: Vec<f64> = steps(&v)
        .iter()
        .map(|s| s["target_ops_per_s"].as_f64().unwrap())
        .collect();
    assert_eq!(targets, [100.0, 200.0, 400.0, 800.0]);
    for s in steps(&v) {
        assert_eq!(s["verdict"], "held", "{s:#}");
        assert_eq!(s["run_exit_code"], 0);
        assert!(s["committed_ops_per_s"].as_f64().unwrap() > 0.0, "{s:#}");
    }
    // The table: summary, plan, blank, header, rule, a row per step.
    assert_eq!(stdout.lines().count(), 9, "{stdout}");
}

#[test]
fn an_integrity_failure_stops_the_search_with_exit_3() {
    let dir = TempDir::new().unwrap();
    let (code, stdout, v) = search(
        &dir,
        &[
            "--start",
            "100",
            "--ceiling",
            "800",
            "--step-seconds",
            "1",
            "--seed",
            "7",
            "--inject",
            "wrong-winner",
        ],
    );
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(v["outcome"]["stop"], "integrity");
    assert_eq!(steps(&v).len(), 1, "the first step already fails");
    let step = &steps(&v)[0];
    assert_eq!(step["verdict"], "integrity_failed");
    assert_eq!(step["failed_checks"][0]["name"], "priority_rule");
    assert!(stdout.starts_with("integrity failure at 100 ops/s (exit 3)"));
    assert!(stdout.contains("\n  priority_rule: op-"), "{stdout}");
}

/// The search measures the machine: a config that asks for the virtual
/// clock is searched on the real one, and judged by the real clock's
/// margins (its steps held, no check failed for timing).
#[test]
fn a_virtual_clock_config_is_searched_on_the_real_clock() {
    let dir = TempDir::new().unwrap();
    let config = write(&dir, "virtual.toml", "clock = \"virtual\"\n");
    let (code, stdout, v) = search(
        &dir,
        &[
            "--config",
            &config,
            "--start",
            "100",
            "--ceiling",
            "100",
            "--step-seconds",
            "0.5",
            "--seed",
            "3",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(steps(&v).len(), 1);
    assert_eq!(steps(&v)[0]["verdict"], "held", "{stdout}");
}

#[test]
fn bad_flags_and_unrampable_configs_exit_2_before_anything_runs() {
    let dir = TempDir::new().unwrap();
    let capacity = write(&dir, "max.toml", "operation_rate_per_second = \"max\"\n");
    let staged = write(
        &dir,
        "staged.toml",
        "[[stages]]\nduration_seconds = 1\nrate_per_second = 100\n",
    );
    let cases: [(&[&str], &str); 9] = [
        (
            &["--start", "0"],
            "error: --start 0: must be ops per second > 0",
        ),
        (&["--factor", "1"], "error: --factor 1: must be > 1"),
        (&["--step", "-3"], "error: --step -3:"),
        (&["--factor", "2", "--step", "5"], "cannot be used with"),
        (
            &["--ceiling", "10"],
            "error: --ceiling 10: must be at least --start",
        ),
        (&["--step-seconds", "0"], "error: --step-seconds 0:"),
        (&["--bogus"], "unexpected argument '--bogus'"),
        (&["--config", &capacity], "\"max\" (capacity mode)"),
        (&["--config", &staged], "[[stages]] set their own rates"),
    ];
    for (args, message) in cases {
        dynstress()
            .arg("breakpoint")
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(message));
    }
}
