//! Workload shapes end to end: staged and Poisson runs through the binary,
//! judged from the events file.
//!
//! The schedule's arithmetic is tested exactly in `src/workload/`; here a
//! real run must follow it in real time. Timing on a shared machine is not
//! exact, so each figure has a stated tolerance, wide enough for a loaded
//! CI runner and narrow enough that a run ignoring the stages (a flat rate,
//! or no ramp) fails it.

use std::collections::BTreeMap;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `config` with seed 42 and returns (exit code, JSON report, ops
/// submitted per whole second of the run).
fn run_staged(config: &str) -> (i32, Value, BTreeMap<u64, u64>) {
    run_staged_with(config, &[])
}

/// As [`run_staged`], with extra flags.
fn run_staged_with(config: &str, flags: &[&str]) -> (i32, Value, BTreeMap<u64, u64>) {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("test.toml");
    std::fs::write(&cfg, config).unwrap();
    let events = dir.path().join("events.jsonl");
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_dynstress"))
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .args(["--seed", "42", "--no-progress", "--quiet", "--events"])
        .arg(&events)
        .arg("--json")
        .arg(&report)
        .args(flags)
        .timeout(RUN_TIMEOUT)
        .output()
        .unwrap();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mut per_second = BTreeMap::new();
    for line in std::fs::read_to_string(&events).unwrap().lines() {
        let ev: Value = serde_json::from_str(line).unwrap();
        if ev["event"] == "OperationSubmitted" {
            let sec = ev["t_ns"].as_u64().unwrap() / 1_000_000_000;
            *per_second.entry(sec).or_insert(0) += 1;
        }
    }
    (out.status.code().unwrap_or(-1), json, per_second)
}

/// 0 → 400 ops/s over 2 s, then 400 ops/s for 1 s: Λ(t) = 100 t² for
/// t <= 2, so 100, 300 and 400 ops are due in the three seconds, 800 in
/// all.
const RAMP: &str = "num_targets = 50\n\
    [[stages]]\nduration_seconds = 2\nrate_per_second = 400\n\
    [[stages]]\nduration_seconds = 1\nrate_per_second = 400\n";

#[test]
fn a_staged_run_submits_per_second_what_the_schedule_expects() {
    let (code, json, per_second) = run_staged(RAMP);
    assert_eq!(code, 0, "{json}");
    let want = [100.0, 300.0, 400.0];
    for (sec, want) in want.iter().enumerate() {
        let got = per_second.get(&(sec as u64)).copied().unwrap_or(0) as f64;
        // A batch sent late lands in the next second: allow 15 % of the
        // second's ops plus two batches of the largest size (8).
        let tol = 0.15 * want + 16.0;
        assert!(
            (got - want).abs() <= tol,
            "second {sec}: {got} ops submitted, {want} expected (±{tol}); {per_second:?}"
        );
    }
    // The ramp is visible: each second more than the one before.
    assert!(per_second[&0] < per_second[&1] && per_second[&1] < per_second[&2]);
    // Every batch due before the end is sent or, on a machine too loaded
    // to keep up, counted as missed at the deadline: 800 ops, the last
    // batch may overshoot by up to 7.
    let total: u64 = per_second.values().sum();
    let missed = json["rates"]["missed_ops"].as_u64().unwrap_or_default();
    assert!(
        (800..=807).contains(&(total + missed)),
        "{total} + {missed}"
    );
    assert_eq!(json["rates"]["target_ops_per_s"], 800.0 / 3.0);
}

#[test]
fn on_the_virtual_clock_a_staged_run_follows_the_schedule_exactly() {
    // No scheduling delay: by the end of each second the ops submitted
    // have just reached what the schedule expects (100, 400, 800), short
    // of the next whole batch (at most 8 ops), and none is missed.
    let (code, json, per_second) = run_staged_with(RAMP, &["--clock", "virtual"]);
    assert_eq!(code, 0, "{json}");
    let mut sent = 0;
    for (sec, due) in [100u64, 400, 800].into_iter().enumerate() {
        sent += per_second.get(&(sec as u64)).copied().unwrap_or(0);
        assert!(
            (due..due + 8).contains(&sent),
            "by the end of second {sec}: {sent} sent, {due} due; {per_second:?}"
        );
    }
    assert_eq!(json["rates"]["missed_ops"], 0);
    // And a seed repeats it.
    let (_, _, again) = run_staged_with(RAMP, &["--clock", "virtual"]);
    assert_eq!(per_second, again);
}

#[test]
fn a_poisson_run_keeps_the_mean_rate() {
    // 300 ops/s for 3 s in batches of 3 to 8: about 164 batches, so the
    // ops submitted have a standard deviation of about 8 % of the 900
    // expected (a compound Poisson count); 30 % is more than 3.5 of them.
    let (code, json, per_second) = run_staged(
        "num_targets = 50\nduration_seconds = 3\noperation_rate_per_second = 300\n\
         arrivals = \"poisson\"\n[thresholds]\nmin_rate_accuracy = 0.5\n",
    );
    assert_eq!(code, 0, "{json}");
    let total: u64 = per_second.values().sum();
    assert!((630..=1170).contains(&total), "{total}: {per_second:?}");
}
