//! `dynstress run` end to end: the built binary, real runs of one to three
//! seconds, and everything a caller can observe of them.
//!
//! A run's verdict is its exit code (see the README's exit-code table), so each code is produced here
//! the way a user would meet it: 0 from a healthy default run, 1 from a
//! threshold the engine cannot meet, 3 from each fault the hidden `--inject`
//! flag breaks the engine with. A fault test names the check that must catch
//! it and also looks at the text report, where the check must be marked ❌;
//! next to the faults, the same workloads without a fault must pass every
//! check, so a caught fault is the fault's doing and not the workload's.
//!
//! The JSON report is a contract (`schema_version`): every field path is checked for
//! its JSON type, and the accounting in it must be exact, down to the
//! per-priority and per-type tables. The events file, `--json -`, `--quiet`,
//! the ASCII and colour switches, `--verbose` and capacity mode each get a
//! run. The shape of the text report is pinned with an insta snapshot in
//! which every figure and unit is redacted, so the snapshot changes only when
//! the report's layout does.
//!
//! Runs are timing-dependent: two runs with the same seed make the same
//! random choices but need not end with the same counts, so nothing here
//! compares counts between runs. Every run has a fixed seed anyway, so a
//! failure can be replayed. Ctrl-C is covered in `cli_signal.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use dynstress::report::model::CheckId;
use serde_json::Value;
use tempfile::TempDir;

/// A run that takes longer than this has hung: it is killed and the test
/// fails, instead of blocking the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// The integrity-failure exit code.
const EXIT_INTEGRITY: i32 = 3;

fn configs(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
        .display()
        .to_string()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A config file holding `toml`, in `dir`.
fn write_config(dir: &TempDir, toml: &str) -> String {
    let path = dir.path().join("test.toml");
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

/// What a finished run left behind.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Everything a failed assertion should show about this run.
    fn describe(&self) -> String {
        let tail: Vec<&str> = self.stdout.lines().rev().take(25).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "dynstress {}\nexit code: {:?}\nstderr:\n{}\nstdout (last lines):\n{}",
            self.args.join(" "),
            self.code,
            self.stderr,
            tail.join("\n")
        )
    }

    fn assert_exit(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{}", self.describe());
        assert!(!self.stderr.contains("panicked"), "{}", self.describe());
    }
}

/// Run the binary with `args` and `env`, stdin closed, under the timeout.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::cargo_bin("dynstress").unwrap();
    cmd.args(args).timeout(RUN_TIMEOUT);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // The colour tests must not inherit a NO_COLOR from whoever runs them.
    if !env.iter().any(|(k, _)| *k == "NO_COLOR") {
        cmd.env_remove("NO_COLOR");
    }
    let out = cmd.output().unwrap();
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_env(args, &[])
}

/// A run with its JSON report.
struct Reported {
    run: Run,
    json: Value,
}

/// `dynstress run ARGS --no-progress --json DIR/report.json`, with the
/// report parsed.
fn run_json_in(dir: &Path, args: &[&str]) -> Reported {
    let report = dir.join("report.json");
    let report_s = report.display().to_string();
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--no-progress", "--json", &report_s]);
    let run = run(&all);
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no JSON report ({e})\n{}", run.describe()));
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the JSON report does not parse: {e}\n{}", run.describe()));
    Reported { run, json }
}

fn run_json(args: &[&str]) -> Reported {
    let dir = TempDir::new().unwrap();
    run_json_in(dir.path(), args)
}

/// The value at a dotted `path`; a missing field fails the test.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, key| {
        v.get(key)
            .unwrap_or_else(|| panic!("the JSON report has no {path} (missing {key:?})"))
    })
}

fn uint(v: &Value, path: &str) -> u64 {
    at(v, path)
        .as_u64()
        .unwrap_or_else(|| panic!("{path} should be an unsigned integer: {}", at(v, path)))
}

fn num(v: &Value, path: &str) -> f64 {
    at(v, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{path} should be a number: {}", at(v, path)))
}

fn boolean(v: &Value, path: &str) -> bool {
    at(v, path)
        .as_bool()
        .unwrap_or_else(|| panic!("{path} should be a boolean: {}", at(v, path)))
}

fn array<'a>(v: &'a Value, path: &str) -> &'a Vec<Value> {
    at(v, path)
        .as_array()
        .unwrap_or_else(|| panic!("{path} should be an array: {}", at(v, path)))
}

/// `integrity.checks` as name → passed.
fn checks(json: &Value) -> BTreeMap<String, bool> {
    array(json, "integrity.checks")
        .iter()
        .map(|c| {
            let name = at(c, "name").as_str().unwrap().to_string();
            (name, boolean(c, "passed"))
        })
        .collect()
}

fn failed_checks(json: &Value) -> BTreeSet<String> {
    checks(json)
        .into_iter()
        .filter(|(_, passed)| !passed)
        .map(|(name, _)| name)
        .collect()
}

/// The threshold entry called `name`.
fn threshold<'a>(json: &'a Value, name: &str) -> &'a Value {
    array(json, "thresholds")
        .iter()
        .find(|t| at(t, "name") == name)
        .unwrap_or_else(|| panic!("no threshold {name} in {}", at(json, "thresholds")))
}

/// Every submitted op ends in exactly one final state, and every breakdown
/// adds up to the totals.
fn assert_exact_accounting(json: &Value) {
    let ops = at(json, "operations");
    let submitted = uint(ops, "submitted");
    let succeeded = uint(ops, "succeeded");
    let rejected = uint(ops, "rejected");
    let cancelled = uint(ops, "cancelled");
    assert!(submitted > 0, "nothing was submitted: {ops}");
    assert_eq!(
        submitted,
        succeeded + rejected + cancelled,
        "submitted != succeeded + rejected + cancelled: {ops}"
    );
    assert_eq!(uint(ops, "in_flight_at_end"), 0, "{ops}");
    for table in ["by_priority", "by_type"] {
        let rows = at(ops, table)
            .as_object()
            .unwrap_or_else(|| panic!("operations.{table} should be an object"));
        assert!(!rows.is_empty(), "operations.{table} is empty");
        for field in ["submitted", "succeeded", "rejected", "cancelled"] {
            let sum: u64 = rows.values().map(|row| uint(row, field)).sum();
            assert_eq!(
                sum,
                uint(ops, field),
                "the {field} column of operations.{table} does not add up: {}",
                at(ops, table)
            );
        }
    }
}

fn assert_all_checks_passed(json: &Value) {
    let checks = checks(json);
    let names: Vec<&str> = checks.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = CheckId::ALL.iter().map(|c| c.name()).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "integrity.checks should hold every check");
    assert!(
        checks.values().all(|&passed| passed),
        "a check failed: {}",
        at(json, "integrity.checks")
    );
    assert_eq!(uint(json, "integrity.violations"), 0);
}

/// The fault was caught: exit 3, and each of `by` failed, in the JSON report
/// and marked ❌ in the text report.
fn assert_caught(r: &Reported, by: &[&str]) {
    r.run.assert_exit(EXIT_INTEGRITY);
    let outcome = at(&r.json, "outcome");
    assert_eq!(uint(outcome, "exit_code"), EXIT_INTEGRITY as u64);
    assert!(!boolean(outcome, "passed"));
    assert!(!boolean(outcome, "interrupted"));
    assert!(uint(&r.json, "integrity.violations") > 0);
    let failed = failed_checks(&r.json);
    for check in by {
        assert!(
            failed.contains(*check),
            "{check} should have failed; failed: {failed:?}\n{}",
            r.run.describe()
        );
        let marked = format!("❌ {check}");
        assert!(
            r.run.stdout.lines().any(|l| l.contains(&marked)),
            "the text report should mark {check} with ❌\n{}",
            r.run.describe()
        );
    }
    assert!(
        r.run.stdout.contains("FAILED (exit 3)"),
        "{}",
        r.run.describe()
    );
}

// ---------------------------------------------------------------------------
// Exit 0 and the JSON contract

/// The JSON type a field must have.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Uint,
    Number,
    Bool,
    Str,
    Object,
    Array,
}

fn assert_kind(v: &Value, path: &str, kind: Kind) {
    let value = at(v, path);
    let ok = match kind {
        Kind::Uint => value.is_u64(),
        Kind::Number => value.is_number(),
        Kind::Bool => value.is_boolean(),
        Kind::Str => value.is_string(),
        Kind::Object => value.is_object(),
        Kind::Array => value.is_array(),
    };
    assert!(ok, "{path} should be {kind:?}, is {value}");
}

/// Every field path of the JSON contract, with its JSON type.
fn assert_json_contract(json: &Value) {
    use Kind::*;
    let mut fields: Vec<(String, Kind)> = vec![
        ("schema_version".into(), Uint),
        ("dynstress_version".into(), Str),
        ("seed".into(), Str),
        ("rerun".into(), Str),
        ("config".into(), Object),
        ("outcome.passed".into(), Bool),
        ("outcome.exit_code".into(), Uint),
        ("outcome.interrupted".into(), Bool),
        ("operations.by_priority".into(), Object),
        ("operations.by_type".into(), Object),
        ("rates.achieved_ops_per_s".into(), Number),
        ("rates.settled_ops_per_s".into(), Number),
        ("rates.completion_rate".into(), Number),
        ("rates.model_completion_rate".into(), Number),
        ("integrity.violations".into(), Uint),
        ("integrity.checks".into(), Array),
        ("integrity.entities_modified".into(), Uint),
        ("integrity.versions_created".into(), Uint),
        ("thresholds".into(), Array),
        ("timeline".into(), Array),
    ];
    for d in ["submission", "drain", "total"] {
        fields.push((format!("duration_s.{d}"), Number));
    }
    for o in [
        "submitted",
        "started",
        "succeeded",
        "rejected",
        "cancelled",
        "failed_attempts",
        "retried",
        "preempted",
        "in_flight_at_end",
    ] {
        fields.push((format!("operations.{o}"), Uint));
    }
    for c in ["detected", "resolved", "grace_saves", "preemptions"] {
        fields.push((format!("conflicts.{c}"), Uint));
    }
    for l in ["resolution", "execution", "end_to_end"] {
        for p in ["p50", "p90", "p99", "p999", "max"] {
            fields.push((format!("latency_us.{l}.{p}"), Uint));
        }
        fields.push((format!("latency_us.{l}.mean"), Number));
    }
    for r in ["rss_mb_avg", "rss_mb_max", "cpu_user_s", "cpu_sys_s"] {
        fields.push((format!("resources.{r}"), Number));
    }
    for (path, kind) in &fields {
        assert_kind(json, path, *kind);
    }
    assert_eq!(
        uint(json, "schema_version"),
        u64::from(dynstress::report::model::SCHEMA_VERSION)
    );
    assert_eq!(
        at(json, "dynstress_version").as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    // `null` in capacity mode, a number at a fixed rate.
    let target = at(json, "rates.target_ops_per_s");
    assert!(target.is_number() || target.is_null(), "{target}");

    for (table, columns) in [
        (
            "by_priority",
            &["submitted", "succeeded", "rejected", "cancelled"][..],
        ),
        (
            "by_type",
            &[
                "submitted",
                "succeeded",
                "rejected",
                "cancelled",
                "failed_attempts",
            ][..],
        ),
    ] {
        let rows = at(json, &format!("operations.{table}"));
        for (key, row) in rows.as_object().unwrap() {
            for column in columns {
                assert!(
                    row.get(*column).is_some_and(Value::is_u64),
                    "operations.{table}.{key}.{column} should be an unsigned integer: {row}"
                );
            }
        }
    }
    for check in array(json, "integrity.checks") {
        assert_kind(check, "name", Str);
        assert_kind(check, "passed", Bool);
        assert_kind(check, "detail", Str);
    }
    for t in array(json, "thresholds") {
        assert_kind(t, "name", Str);
        assert_kind(t, "limit", Number);
        assert_kind(t, "observed", Number);
        assert_kind(t, "passed", Bool);
    }
    for point in array(json, "timeline") {
        assert_kind(point, "t_s", Uint);
        assert_kind(point, "submitted", Uint);
        assert_kind(point, "settled", Uint);
        assert_kind(point, "rss_mb", Number);
        for key in [
            "span_s",
            "committed",
            "rejected",
            "cancelled",
            "in_flight",
            "retries",
            "grace_saves",
            "preemptions",
        ] {
            assert_kind(point, key, Uint);
        }
    }
}

#[test]
fn a_healthy_default_run_passes_keeps_the_json_contract_and_accounts_exactly() {
    let r = run_json(&["--duration", "2", "--seed", "42"]);
    r.run.assert_exit(0);
    let json = &r.json;
    assert_eq!(
        at(json, "outcome"),
        &serde_json::json!({
            "passed": true,
            "exit_code": 0,
            "meaning": "passed: every threshold held and every integrity check passed",
            "interrupted": false,
            "errors": [],
            "events_complete": null,
        })
    );
    assert_json_contract(json);
    assert_exact_accounting(json);
    assert_all_checks_passed(json);

    let thresholds = array(json, "thresholds");
    assert!(!thresholds.is_empty());
    for name in ["min_completion_rate", "max_memory_mb", "min_rate_accuracy"] {
        assert!(boolean(threshold(json, name), "passed"), "{name}");
    }
    assert!(thresholds.iter().all(|t| boolean(t, "passed")));

    let timeline = array(json, "timeline");
    assert!(!timeline.is_empty(), "the timeline is empty");
    let ts: Vec<u64> = timeline.iter().map(|p| uint(p, "t_s")).collect();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "timeline t_s should increase: {ts:?}"
    );
    let on_timeline: u64 = timeline.iter().map(|p| uint(p, "submitted")).sum();
    assert_eq!(
        on_timeline,
        uint(json, "operations.submitted"),
        "the timeline's submitted ops should add up to the total"
    );
    let settled: u64 = timeline.iter().map(|p| uint(p, "settled")).sum();
    assert_eq!(
        settled,
        uint(json, "operations.submitted"),
        "every op settles, so the timeline's settled ops add up to the total"
    );
    let committed: u64 = timeline.iter().map(|p| uint(p, "committed")).sum();
    assert_eq!(committed, uint(json, "operations.succeeded"));
    assert_eq!(uint(timeline.last().unwrap(), "in_flight"), 0);
    assert!(
        timeline
            .iter()
            .filter(|p| uint(p, "t_s") <= 2)
            .all(|p| num(p, "target_rate") == 100.0),
        "a constant 2 s schedule asks for its rate in each of its seconds"
    );
    assert!(
        timeline
            .iter()
            .any(|p| p["execution_p99_us"].is_u64() && p["end_to_end_p50_us"].is_u64()),
        "seconds with commits carry their percentiles"
    );

    let model = num(json, "rates.model_completion_rate");
    assert!((model - 2.0 / 11.0).abs() < 1e-9, "model rate {model}");
    assert_eq!(num(json, "rates.target_ops_per_s"), 100.0);
    assert!(num(json, "rates.achieved_ops_per_s") > 0.0);
    assert!(num(json, "duration_s.submission") >= 2.0 - 1e-3);

    assert_eq!(at(json, "seed"), "42");
    assert!(
        r.run
            .stdout
            .contains("rerun: dynstress run --duration 2 --seed 42"),
        "{}",
        r.run.describe()
    );
    assert!(r.run.stdout.contains("PASSED (exit 0)"));
}

#[test]
fn the_seed_survives_json_and_the_report_prints_the_command_that_reproduces_the_run() {
    // The largest seed: above 2^53, a JSON number would be rounded by jq
    // and JavaScript, so it is written as a string.
    let max = u64::MAX.to_string();
    let dir = TempDir::new().unwrap();
    let cfg = write_config(&dir, "num_targets = 4\n");
    let given = run_json_in(
        dir.path(),
        &[
            "--config",
            &cfg,
            "--duration",
            "1",
            "--rate",
            "50",
            "--seed",
            &max,
        ],
    );
    given.run.assert_exit(0);
    assert_eq!(at(&given.json, "seed"), &Value::String(max.clone()));
    let rerun = format!("dynstress run --config {cfg} --duration 1 --rate 50 --seed {max}");
    assert_eq!(at(&given.json, "rerun").as_str(), Some(rerun.as_str()));
    assert!(
        given.run.stdout.contains(&format!("rerun: {rerun}")),
        "{}",
        given.run.describe()
    );

    // Without --seed a random one is drawn, and printed so the run can be
    // replayed.
    let drawn = run_json(&["--duration", "1"]);
    let seed = at(&drawn.json, "seed")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(seed.parse::<u64>().is_ok(), "{seed}");
    assert!(
        drawn
            .run
            .stdout
            .contains(&format!("rerun: dynstress run --duration 1 --seed {seed}")),
        "{}",
        drawn.run.describe()
    );
}

// ---------------------------------------------------------------------------
// Exit 1: a threshold fails, the engine is fine

#[test]
fn an_unreachable_completion_rate_fails_with_exit_1() {
    let dir = TempDir::new().unwrap();
    let cfg = write_config(&dir, "[thresholds]\nmin_completion_rate = 0.99\n");
    let r = run_json_in(
        dir.path(),
        &["--config", &cfg, "--duration", "2", "--seed", "42"],
    );
    r.run.assert_exit(1);
    assert_eq!(uint(&r.json, "outcome.exit_code"), 1);
    assert!(!boolean(&r.json, "outcome.passed"));
    let t = threshold(&r.json, "min_completion_rate");
    assert!(!boolean(t, "passed"), "{t}");
    assert_eq!(num(t, "limit"), 0.99);
    assert!(num(t, "observed") < 0.99, "{t}");
    assert_all_checks_passed(&r.json);
    assert!(r.run.stdout.contains("❌ min_completion_rate"));
    assert!(r.run.stdout.contains("FAILED (exit 1)"));
}

#[test]
fn an_impossible_memory_limit_fails_with_exit_1() {
    let dir = TempDir::new().unwrap();
    let cfg = write_config(&dir, "[thresholds]\nmax_memory_mb = 0.001\n");
    let r = run_json_in(
        dir.path(),
        &["--config", &cfg, "--duration", "2", "--seed", "42"],
    );
    r.run.assert_exit(1);
    assert_eq!(uint(&r.json, "outcome.exit_code"), 1);
    let t = threshold(&r.json, "max_memory_mb");
    assert!(!boolean(t, "passed"), "{t}");
    assert_eq!(num(t, "limit"), 0.001);
    assert!(num(t, "observed") > 0.001, "{t}");
    assert_all_checks_passed(&r.json);
    assert!(r.run.stdout.contains("❌ max_memory_mb"));
}

/// The submitter sends every batch due before the end of the submission
/// phase, whole, so a short run overshoots the target rate by up to one
/// batch; and the accuracy is achieved / target. A healthy 1 s run at
/// 100 ops/s in batches of 9 submits 108 ops: 108 / 100 clears the 0.95
/// gate, and the run must pass.
#[test]
fn a_short_run_that_overshoots_by_its_last_batch_still_passes() {
    let dir = TempDir::new().unwrap();
    let cfg = write_config(
        &dir,
        "[batch]\nmin_size = 9\nmax_size = 9\n[thresholds]\nmin_completion_rate = 0.05\n",
    );
    let r = run_json_in(
        dir.path(),
        &["--config", &cfg, "--duration", "1", "--seed", "42"],
    );
    assert_eq!(uint(&r.json, "operations.submitted"), 108);
    assert_all_checks_passed(&r.json);
    let t = threshold(&r.json, "min_rate_accuracy");
    assert!(boolean(t, "passed"), "{t}");
    r.run.assert_exit(0);
}

// ---------------------------------------------------------------------------
// Exit 3: every injected fault is caught by the check that exists for it

/// A run with `fault` injected: `config` (the built-in default if `None`)
/// for `seconds`, seed 42.
fn run_injected(config: Option<&str>, seconds: &str, fault: &str) -> Reported {
    let mut args = Vec::new();
    if let Some(c) = config {
        args.extend(["--config", c]);
    }
    args.extend(["--duration", seconds, "--seed", "42", "--inject", fault]);
    run_json(&args)
}

#[test]
fn a_wrong_winner_is_caught_by_the_priority_rule() {
    let r = run_injected(None, "2", "wrong-winner");
    assert_caught(&r, &["priority_rule"]);
}

#[test]
fn an_op_that_never_terminates_is_caught_by_accounting_and_events() {
    let r = run_injected(None, "2", "never-terminate");
    assert_caught(&r, &["accounting", "events"]);
    assert!(uint(&r.json, "operations.in_flight_at_end") > 0);
}

#[test]
fn a_lost_event_is_caught_by_the_events_check() {
    let r = run_injected(None, "2", "lose-event");
    assert_caught(&r, &["events"]);
}

#[test]
fn a_partial_write_under_chaos_is_caught_by_replay() {
    let chaos = configs("chaos.toml");
    let r = run_injected(Some(&chaos), "3", "partial-write");
    assert_caught(&r, &["replay"]);
}

#[test]
fn chaos_without_a_fault_passes_every_check_and_takes_the_retry_path() {
    let chaos = configs("chaos.toml");
    let dir = TempDir::new().unwrap();
    let events_path = dir.path().join("events.jsonl");
    let events_s = events_path.display().to_string();
    let r = run_json_in(
        dir.path(),
        &[
            "--config",
            &chaos,
            // Five seconds: chaos.toml requires every coverage path to be
            // exercised, which its CI run proves for 5 s runs.
            "--duration",
            "5",
            "--seed",
            "42",
            "--events",
            &events_s,
        ],
    );
    r.run.assert_exit(0);
    assert_exact_accounting(&r.json);
    assert_all_checks_passed(&r.json);
    assert!(uint(&r.json, "operations.failed_attempts") > 0);
    assert!(uint(&r.json, "operations.retried") > 0);
    // Parent links (batch.parent_probability) raise some effective
    // priorities above the ops' own, and the checks still hold.
    let (mut linked, mut raised) = (0, 0);
    for line in std::fs::read_to_string(&events_path).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["event"] == "OperationSubmitted" && !e["parent"].is_null() {
            linked += 1;
            let (own, effective) = (uint(&e, "priority"), uint(&e, "effective"));
            assert!(effective >= own, "{line}");
            raised += u64::from(effective > own);
        }
    }
    assert!(linked > 0 && raised > 0, "{linked} linked, {raised} raised");
}

#[test]
fn a_double_start_is_caught_by_exclusive_execution() {
    let contest = fixture("grace_contest.toml");
    let r = run_injected(Some(&contest), "3", "double-start");
    assert_caught(&r, &["exclusive_execution"]);
}

#[test]
fn ignoring_the_grace_period_is_caught_by_the_grace_rule() {
    let contest = fixture("grace_contest.toml");
    let r = run_injected(Some(&contest), "3", "ignore-grace");
    assert_caught(&r, &["grace_rule"]);
}

/// An engine that keeps giving itself work at one instant (here a grace
/// timer re-armed for no time, each time it fires) never lets the virtual
/// clock move on. The run must still end, the engine stopped at that
/// instant, and fail with the reason; the same seed without the fault
/// passes.
#[test]
fn an_engine_spinning_at_one_instant_is_stopped_and_the_run_fails() {
    let contest = fixture("grace_contest.toml");
    let args = ["--config", &contest, "--duration", "3", "--seed", "42"];
    let virtual_clock = [&args[..], &["--clock", "virtual"]].concat();
    let healthy = run_json(&virtual_clock);
    healthy.run.assert_exit(0);
    assert_all_checks_passed(&healthy.json);

    let r = run_json(&[&virtual_clock[..], &["--inject", "grace-loop"]].concat());
    assert_caught(&r, &["accounting", "grace_rule"]);
    let accounting = array(&r.json, "integrity.checks")
        .iter()
        .find(|c| at(c, "name") == "accounting")
        .unwrap_or_else(|| panic!("no accounting check"));
    let first = &array(accounting, "first_violations")[0];
    assert_eq!(at(first, "rule"), "the engine stopped making progress");
    assert!(
        at(first, "detail")
            .as_str()
            .is_some_and(|d| d.contains("200,001 inputs")),
        "{first}"
    );
}

/// The two tests above need grace saves and overlapping executions; this
/// shows the workload makes them and, unbroken, passes every check.
#[test]
fn the_grace_contest_without_a_fault_passes_and_makes_grace_saves() {
    let contest = fixture("grace_contest.toml");
    let r = run_json(&["--config", &contest, "--duration", "3", "--seed", "42"]);
    r.run.assert_exit(0);
    assert_exact_accounting(&r.json);
    assert_all_checks_passed(&r.json);
    assert!(uint(&r.json, "conflicts.grace_saves") > 0);
    assert!(uint(&r.json, "conflicts.preemptions") > 0);
    assert!(uint(&r.json, "operations.retried") > 0);
}

#[test]
fn ops_still_pending_at_the_drain_deadline_are_cancelled_and_accounted_for() {
    let cfg = fixture("drain_deadline.toml");
    let r = run_json(&["--config", &cfg, "--duration", "2", "--seed", "3"]);
    r.run.assert_exit(0);
    assert!(
        uint(&r.json, "operations.cancelled") >= 1,
        "{}",
        r.json["operations"]
    );
    assert_eq!(uint(&r.json, "operations.in_flight_at_end"), 0);
    assert_exact_accounting(&r.json);
    assert_all_checks_passed(&r.json);
}

// ---------------------------------------------------------------------------
// Output channels

#[test]
fn the_events_file_holds_every_op_from_submission_to_one_final_state() {
    let dir = TempDir::new().unwrap();
    let events_path = dir.path().join("events.jsonl");
    let events_s = events_path.display().to_string();
    let r = run_json_in(
        dir.path(),
        &["--duration", "2", "--seed", "42", "--events", &events_s],
    );
    r.run.assert_exit(0);
    let text = std::fs::read_to_string(&events_path).unwrap();
    let mut submitted = BTreeSet::new();
    let mut terminal: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        let e: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("line {}: not JSON ({err}): {line}", i + 1));
        assert!(e.is_object(), "line {}: not an object: {line}", i + 1);
        if i == 0 {
            // The header: the rule parameters and the seed, no event.
            assert_eq!(e["history"], 1, "line 1 is the header: {line}");
            assert_eq!(e["seed"], "42", "{line}");
            assert!(e.get("event").is_none(), "{line}");
            continue;
        }
        lines += 1;
        for field in ["op", "t_ns", "target"] {
            assert!(
                e.get(field).is_some_and(Value::is_u64),
                "line {}: {field} should be an unsigned integer: {line}",
                i + 1
            );
        }
        let event = e
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("line {}: no event name: {line}", i + 1));
        let op = uint(&e, "op");
        match event {
            "OperationSubmitted" => {
                assert!(submitted.insert(op), "op {op} submitted twice");
            }
            "OperationCompleted" | "OperationRejected" | "OperationCancelled" => {
                terminal.entry(op).or_default().push(event.to_string());
            }
            _ => {}
        }
    }
    assert!(lines > 0, "the events file is empty");
    assert_eq!(
        submitted.len() as u64,
        uint(&r.json, "operations.submitted"),
        "OperationSubmitted lines vs operations.submitted"
    );
    for op in &submitted {
        match terminal.get(op).map(Vec::as_slice) {
            Some([_]) => {}
            other => panic!("op {op} should have exactly one final event, has {other:?}"),
        }
    }
    let strays: Vec<&u64> = terminal
        .keys()
        .filter(|op| !submitted.contains(op))
        .collect();
    assert!(
        strays.is_empty(),
        "final events of ops never submitted: {strays:?}"
    );
}

#[test]
fn json_to_stdout_moves_the_text_report_to_stderr() {
    let r = run(&[
        "run",
        "--duration",
        "1",
        "--seed",
        "7",
        "--no-progress",
        "--json",
        "-",
    ]);
    r.assert_exit(0);
    let json: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not pure JSON ({e})\n{}", r.describe()));
    assert_eq!(at(&json, "seed"), "7");
    assert_exact_accounting(&json);
    assert!(r.stderr.contains("run report"), "{}", r.describe());
    assert!(r.stderr.contains("PASSED (exit 0)"), "{}", r.describe());
}

#[test]
fn quiet_with_json_to_stdout_prints_no_text_report() {
    let r = run(&[
        "run",
        "--duration",
        "1",
        "--seed",
        "7",
        "--quiet",
        "--json",
        "-",
    ]);
    r.assert_exit(0);
    let json: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not pure JSON ({e})\n{}", r.describe()));
    assert_eq!(uint(&json, "outcome.exit_code"), 0);
    for marker in ["run report", "PASSED", "Configuration", "integrity"] {
        assert!(!r.stderr.contains(marker), "{}", r.describe());
    }
}

#[test]
fn no_emoji_gives_a_pure_ascii_report() {
    let r = run(&[
        "run",
        "--duration",
        "1",
        "--seed",
        "7",
        "--no-progress",
        "--no-emoji",
    ]);
    r.assert_exit(0);
    assert!(r.stdout.contains("PASSED (exit 0)"), "{}", r.describe());
    let foreign: BTreeSet<char> = r.stdout.chars().filter(|c| !c.is_ascii()).collect();
    assert!(foreign.is_empty(), "non-ASCII characters: {foreign:?}");
}

#[test]
fn colour_follows_the_color_flag_and_no_color() {
    let base = ["run", "--duration", "1", "--seed", "7", "--no-progress"];
    let with = |extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let r = run_env(&args, env);
        r.assert_exit(0);
        r
    };
    let always = with(&["--color", "always"], &[]);
    assert!(always.stdout.contains("\x1b["), "{}", always.describe());
    let never = with(&["--color", "never"], &[]);
    assert!(!never.stdout.contains('\x1b'), "{}", never.describe());
    // stdout is a pipe here, so "auto" is off anyway; NO_COLOR must not
    // turn it on, and with it no escape appears anywhere.
    let no_color = with(&[], &[("NO_COLOR", "1")]);
    assert!(!no_color.stdout.contains('\x1b'), "{}", no_color.describe());
    assert!(!no_color.stderr.contains('\x1b'), "{}", no_color.describe());
}

#[test]
fn verbose_prints_the_live_event_lines_on_stderr() {
    let r = run(&[
        "run",
        "--duration",
        "1",
        "--seed",
        "7",
        "--no-progress",
        "--verbose",
    ]);
    r.assert_exit(0);
    for line in [
        "BRUTAL BATCH",
        "CONFLICT",
        "RESOLUTION",
        "REJECTED",
        "OPERATION",
    ] {
        assert!(
            r.stderr.contains(line),
            "stderr should contain {line:?}\n{}",
            r.describe()
        );
    }
    // The live lines are not part of the report on stdout.
    assert!(!r.stdout.contains("BRUTAL BATCH"));
}

#[test]
fn capacity_mode_runs_flat_out_and_keeps_every_check() {
    let dir = TempDir::new().unwrap();
    let cfg = write_config(&dir, "[thresholds]\nmin_completion_rate = 0.0\n");
    let r = run_json_in(
        dir.path(),
        &[
            "--config",
            &cfg,
            "--rate",
            "max",
            "--duration",
            "1",
            "--seed",
            "42",
        ],
    );
    r.run.assert_exit(0);
    assert!(at(&r.json, "rates.target_ops_per_s").is_null());
    assert!(num(&r.json, "rates.settled_ops_per_s") > 0.0);
    assert!(
        array(&r.json, "thresholds")
            .iter()
            .all(|t| at(t, "name") != "min_rate_accuracy"),
        "no rate to be accurate to in capacity mode"
    );
    assert_exact_accounting(&r.json);
    assert_all_checks_passed(&r.json);
}

// ---------------------------------------------------------------------------
// The shape of the text report

/// The report with everything a run changes taken out: every number
/// (digits with their decimal points and thousands separators) becomes `N`,
/// a time unit after one becomes `T` (a latency may print as µs or ms), and
/// runs of spaces inside a line shrink to one (column widths follow the
/// numbers). Leading indentation stays: it is the tree; except before a
/// row of column headings (`p50 p90 …`), which is right-aligned over the
/// numbers below it and so moves with their widths.
fn redact(report: &str) -> String {
    let mut out = String::new();
    for line in report.lines() {
        let indent = line.len() - line.trim_start().len();
        let body = redact_numbers(line.trim_start());
        if body.starts_with("pN ") {
            out.push_str("  ");
        } else {
            out.push_str(&line[..indent]);
        }
        let mut words: Vec<String> = Vec::new();
        for word in body.split(' ').filter(|w| !w.is_empty()) {
            let after_number = words.last().is_some_and(|w| {
                w.strip_suffix('N')
                    .is_some_and(|head| !head.ends_with(char::is_alphabetic))
            });
            let unit_end = word
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(word.len());
            let (unit, rest) = word.split_at(unit_end);
            if after_number && ["ns", "us", "µs", "ms", "s"].contains(&unit) {
                words.push(format!("T{rest}"));
            } else {
                words.push(word.to_string());
            }
        }
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    out
}

fn redact_numbers(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // A separator belongs to the number only between two digits.
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            out.push('N');
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn redaction_keeps_words_and_removes_figures() {
    assert_eq!(
        redact("   |- rate: 1,000.5 ops/s, p99.9   8.5 ms  12 us (3 samples)"),
        "   |- rate: N ops/s, pN N T N T (N samples)\n"
    );
    assert_eq!(redact("dynstress 0.1.0 - 10 s."), "dynstress N - N T.\n");
    assert_eq!(redact("a, b. 2/(3+8)"), "a, b. N/(N+N)\n");
    assert_eq!(
        redact("          p50  p99 max\n   |- x 1 µs"),
        "  pN pN max\n   |- x N T\n"
    );
}

#[test]
fn the_text_report_keeps_its_shape() {
    let r = run(&[
        "run",
        "--duration",
        "1",
        "--seed",
        "7",
        "--no-progress",
        "--no-emoji",
        "--width",
        "100",
    ]);
    r.assert_exit(0);
    let shape = redact(&r.stdout);
    assert!(!shape.chars().any(|c| c.is_ascii_digit()), "{shape}");
    insta::assert_snapshot!("report_shape_ascii", shape);
}

// ---------------------------------------------------------------------------
// Never mislead a CI job: outputs, exit codes, refusals

/// `/dev/full` accepts the open and fails every write, like a full disk.
const FULL: &str = "/dev/full";

#[test]
fn an_output_error_never_hides_the_verdict() {
    // The engine is broken and the events file fails: the integrity
    // failure still decides the code, and the report is still printed.
    let r = run(&[
        "run",
        "--seed",
        "42",
        "--duration",
        "5",
        "--rate",
        "max",
        "--no-progress",
        "--inject",
        "wrong-winner",
        "--events",
        FULL,
    ]);
    r.assert_exit(EXIT_INTEGRITY);
    assert!(r.stdout.contains("FAILED (exit 3)"), "{}", r.describe());
    assert!(r.stdout.contains("priority_rule"), "{}", r.describe());
    assert!(
        r.stdout.contains("writing the events file failed"),
        "{}",
        r.describe()
    );

    // A healthy run whose JSON report cannot be written: the text report
    // is printed all the same, and the run exits 4, not 0.
    let r = run(&[
        "run",
        "--seed",
        "42",
        "--duration",
        "1",
        "--no-progress",
        "--json",
        FULL,
    ]);
    r.assert_exit(4);
    assert!(r.stdout.contains("PASSED (exit 0)"), "{}", r.describe());
    assert!(
        r.stderr
            .contains("cannot write the JSON report to /dev/full"),
        "{}",
        r.describe()
    );
}

#[test]
fn a_run_whose_events_file_fails_exits_4_at_once_and_says_so() {
    let dir = TempDir::new().unwrap();
    let r = run_json_in(
        dir.path(),
        &["--seed", "42", "--duration", "60", "--events", FULL],
    );
    r.run.assert_exit(4);
    assert_eq!(uint(&r.json, "outcome.exit_code"), 4);
    let meaning = at(&r.json, "outcome.meaning").as_str().unwrap_or_default();
    assert!(meaning.contains("outputs failed"), "{meaning}");
    let errors = array(&r.json, "outcome.errors");
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .is_some_and(|e| e.contains("writing the events file failed"))),
        "{errors:?}"
    );
    assert!(!boolean(&r.json, "outcome.events_complete"));
    // It stopped when the file failed, not after the whole minute, and
    // still drained and checked what ran.
    let submission = num(&r.json, "duration_s.submission");
    assert!(submission < 30.0, "submission ran {submission} s");
    assert_exact_accounting(&r.json);
    assert_all_checks_passed(&r.json);
    assert!(
        r.run.stdout.contains("STOPPED EARLY"),
        "{}",
        r.run.describe()
    );
}

#[test]
fn readme_and_help_agree_on_every_exit_code() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = readme
        .split("### Exit codes")
        .nth(1)
        .expect("the README has an exit code section");
    let from_readme: BTreeMap<u32, String> = table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Some((cells.first()?.parse().ok()?, cells.get(1)?.to_string()))
        })
        .collect();
    for args in [&["--help"][..], &["run", "--help"]] {
        let r = run(args);
        r.assert_exit(0);
        let help = r
            .stdout
            .split("Exit codes:")
            .nth(1)
            .unwrap_or_else(|| panic!("no exit codes in {args:?}:\n{}", r.stdout));
        let mut from_help: BTreeMap<u32, String> = BTreeMap::new();
        let mut last = None;
        for line in help.lines().filter(|l| !l.trim().is_empty()) {
            let line = line.trim();
            let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
            match first.parse::<u32>() {
                Ok(code) => {
                    from_help.insert(code, rest.trim().to_string());
                    last = Some(code);
                }
                // A meaning wrapped onto the next line.
                Err(_) => {
                    if let Some(entry) = last.and_then(|c| from_help.get_mut(&c)) {
                        entry.push(' ');
                        entry.push_str(line);
                    }
                }
            }
        }
        assert_eq!(from_readme, from_help, "README vs {args:?}");
    }
    assert!(from_readme.contains_key(&4) && from_readme.contains_key(&143));
}

#[test]
fn the_json_report_appears_only_when_complete() {
    let dir = TempDir::new().unwrap();
    let report = dir.path().join("report.json");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dynstress"))
        .args([
            "run",
            "--seed",
            "42",
            "--duration",
            "3",
            "--no-progress",
            "-q",
        ])
        .arg("--json")
        .arg(&report)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    // Mid-run: nothing under the real name, where a reader could find an
    // empty report.
    let early = report.exists();
    let status = child.wait().unwrap();
    assert!(!early, "an empty report file existed during the run");
    assert_eq!(status.code(), Some(0));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(uint(&json, "outcome.exit_code"), 0);
    // No temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json"]);
}

#[test]
fn clashing_outputs_are_refused_before_the_run() {
    let dir = TempDir::new().unwrap();
    let same = dir.path().join("out.json").display().to_string();
    let same_again = dir.path().join(".").join("out.json").display().to_string();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--json", &same, "--events", &same_again],
            "--json and --events",
        ),
        (&["--json", "-", "--events", "-"], "--json and --events"),
        (&["--events", "-"], "the text report and --events"),
    ];
    for (args, says) in cases {
        let mut all = vec!["run", "--duration", "1", "--no-progress"];
        all.extend_from_slice(args);
        let r = run(&all);
        r.assert_exit(2);
        assert!(r.stderr.contains(says), "{}", r.describe());
        assert!(r.stdout.is_empty(), "{}", r.describe());
    }
    assert!(!dir.path().join("out.json").exists());

    // `--events -` alone on stdout streams the events there.
    let r = run(&[
        "run",
        "--duration",
        "1",
        "--seed",
        "42",
        "-q",
        "--events",
        "-",
    ]);
    r.assert_exit(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

/// No output may go to a file the command reads: the config, the
/// baseline, a history being checked, an explored or searched config.
/// Each is refused before anything runs, and the input is left as it was.
#[test]
fn outputs_on_an_input_file_are_refused_and_the_input_is_kept() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("mine.toml");
    let config_text = "duration_seconds = 1.0\n";
    std::fs::write(&config, config_text).unwrap();
    let config_s = config.display().to_string();
    let config_again = dir.path().join(".").join("mine.toml").display().to_string();
    let base = dir.path().join("base.json");
    let r = run(&[
        "run",
        "--config",
        &config_s,
        "--seed",
        "1",
        "-q",
        "--events",
        &dir.path().join("h.ndjson").display().to_string(),
        "--json",
        &base.display().to_string(),
    ]);
    r.assert_exit(0);
    let base_text = std::fs::read_to_string(&base).unwrap();
    let base_s = base.display().to_string();
    let history = dir.path().join("h.ndjson");
    let history_text = std::fs::read_to_string(&history).unwrap();
    let history_s = history.display().to_string();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--config", &config_s, "--csv", &config_again],
            "--csv",
        ),
        (
            vec!["run", "--config", &config_s, "--events", &config_s],
            "--events",
        ),
        (
            vec![
                "run",
                "--config",
                &config_s,
                "--baseline",
                &base_s,
                "--json",
                &base_s,
            ],
            "--json",
        ),
        (
            vec![
                "run",
                "--config",
                &config_s,
                "--baseline",
                &base_s,
                "--html",
                &base_s,
            ],
            "--html",
        ),
        (vec!["check", &history_s, "--json", &history_s], "--json"),
        (
            vec![
                "check", &history_s, "--config", &config_s, "--json", &config_s,
            ],
            "--json",
        ),
        (
            vec![
                "explore", "--config", &config_s, "--seeds", "1", "--json", &config_s,
            ],
            "--json",
        ),
        (
            vec!["breakpoint", "--config", &config_s, "--json", &config_s],
            "--json",
        ),
    ];
    for (args, flag) in cases {
        let r = run(&args);
        r.assert_exit(2);
        assert!(
            r.stderr.contains(&format!("{flag} ")) && r.stderr.contains("is the file"),
            "{args:?}: {}",
            r.describe()
        );
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), config_text);
    assert_eq!(std::fs::read_to_string(&base).unwrap(), base_text);
    assert_eq!(std::fs::read_to_string(&history).unwrap(), history_text);
}

#[test]
fn a_quiet_failing_run_says_in_one_line_what_failed() {
    let r = run(&[
        "run",
        "--seed",
        "42",
        "--duration",
        "2",
        "--quiet",
        "--inject",
        "wrong-winner",
    ]);
    r.assert_exit(EXIT_INTEGRITY);
    assert!(r.stdout.is_empty(), "{}", r.describe());
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.describe());
    assert!(
        lines[0].contains("FAILED (exit 3)") && lines[0].contains("priority_rule"),
        "{}",
        r.describe()
    );
}

#[test]
fn a_workload_of_versions_only_is_real_work() {
    let dir = TempDir::new().unwrap();
    let cfg = write_config(
        &dir,
        "[operation_types]\n\
         version_entity = 1.0\nmodify_field = 0.0\nborrow_attribute = 0.0\n\
         complex_update = 0.0\npromote_to_root = 0.0\ndetach_entity = 0.0\n",
    );
    let r = run_json_in(
        dir.path(),
        &["--config", &cfg, "--duration", "2", "--seed", "42"],
    );
    r.run.assert_exit(0);
    let t = threshold(&r.json, "min_real_work");
    assert!(boolean(t, "passed"), "{t}");
    assert_eq!(
        num(t, "observed"),
        uint(&r.json, "operations.succeeded") as f64
    );
    assert_eq!(uint(&r.json, "config.thresholds.min_real_work"), 1);

    // The limit is a setting like the others, shown by print-config.
    let printed = run(&["print-config"]);
    printed.assert_exit(0);
    assert!(
        printed.stdout.contains("min_real_work = 1"),
        "{}",
        printed.describe()
    );
}

#[test]
fn a_rate_the_engine_cannot_keep_fails_the_rate_gate_and_stops_at_the_deadline() {
    let r = run_json(&["--rate", "20000000", "--duration", "2", "--seed", "42"]);
    r.run.assert_exit(1);
    let t = threshold(&r.json, "min_rate_accuracy");
    assert!(!boolean(t, "passed"), "{t}");
    assert!(num(t, "observed") < 0.95, "{t}");
    // Achieved is measured over the real submission time, which ended at
    // the deadline: batches not sent by then are missed, not sent late.
    let achieved = num(&r.json, "rates.achieved_ops_per_s");
    let submitted = uint(&r.json, "operations.submitted") as f64;
    let submission = num(&r.json, "duration_s.submission");
    assert!(submission < 10.0, "submission ran {submission} s");
    assert!((achieved - submitted / submission).abs() < 1e-6 * achieved.max(1.0));
    assert!(uint(&r.json, "rates.missed_ops") > 0);
    assert!(r.run.stdout.contains("missed:"), "{}", r.run.describe());
}

#[test]
fn an_in_flight_limit_that_stalls_submission_fails_the_rate_and_lateness_gates() {
    let dir = TempDir::new().unwrap();
    // Every winner holds its permit for a second; eight permits cannot
    // carry 100 ops/s.
    let cfg = write_config(
        &dir,
        "max_in_flight = 8\n\
         [batch]\nmin_size = 3\nmax_size = 3\n\
         [faults]\nstall_probability = 1.0\nstall_ms = 1000\n\
         [thresholds]\nmin_completion_rate = 0.0\nmax_submission_lateness_ms = 50\n",
    );
    let r = run_json_in(
        dir.path(),
        &["--config", &cfg, "--duration", "3", "--seed", "42"],
    );
    r.run.assert_exit(1);
    let accuracy = threshold(&r.json, "min_rate_accuracy");
    assert!(!boolean(accuracy, "passed"), "{accuracy}");
    let lateness = threshold(&r.json, "max_submission_lateness_ms");
    assert!(!boolean(lateness, "passed"), "{lateness}");
    assert!(uint(&r.json, "latency_us.submission_lateness.p99") > 50_000);
    assert!(
        r.run.stdout.contains("submission lateness: p99"),
        "{}",
        r.run.describe()
    );
    assert!(num(&r.json, "duration_s.submission") < 10.0);
}

#[test]
fn the_memory_gate_judges_the_kernel_peak_not_the_samples() {
    // 96 MB are written and freed between two samples.
    let dir = TempDir::new().unwrap();
    let cfg = write_config(&dir, "[thresholds]\nmax_memory_mb = 90\n");
    let r = run_json_in(
        dir.path(),
        &[
            "--config",
            &cfg,
            "--duration",
            "2",
            "--seed",
            "42",
            "--inject",
            "memory-spike",
        ],
    );
    r.run.assert_exit(1);
    let peak = num(&r.json, "resources.rss_mb_max");
    assert!(peak >= 96.0, "peak {peak} MB");
    assert!(num(&r.json, "resources.rss_mb_max_sampled") < peak);
    let t = threshold(&r.json, "max_memory_mb");
    assert!(!boolean(t, "passed"), "{t}");
    assert_eq!(num(t, "observed"), peak);
    // Touching 96 MB is mostly page faults, kernel time; the kernel
    // samples user and system time by ticks, so only their sum is sure to
    // have counted some.
    let cpu = num(&r.json, "resources.cpu_user_s") + num(&r.json, "resources.cpu_sys_s");
    assert!(cpu > 0.0, "cpu {cpu} s");
}
