//! `dynstress check`: recorded histories judged offline.
//!
//! Three kinds of evidence. Round trips: the events file of a brutal, a
//! chaos and a capacity run checks clean, with the same verdict per check
//! as the run gave online. Faults: for each injected fault the events
//! show, the offline check of the run's events fails the same check.
//! Fixtures: malformed and violating histories under
//! `tests/fixtures/history/`, each with its exit code and the message that
//! names the line and field or the broken rule. And the sample recorded by
//! the Python adapter in `examples/python/` checks clean.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn dynstress() -> Command {
    let mut cmd = Command::cargo_bin("dynstress").unwrap();
    cmd.timeout(TIMEOUT).env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// `dynstress check ARGS --json OUT`: the exit code, stdout, stderr and the
/// JSON (when one was written).
struct Checked {
    code: i32,
    stdout: String,
    stderr: String,
    json: Option<Value>,
}

fn check(dir: &Path, args: &[&str]) -> Checked {
    let json = dir.join("check.json");
    let _ = std::fs::remove_file(&json);
    let out = dynstress()
        .arg("check")
        .args(args)
        .args(["--json", &path_str(&json), "--no-emoji", "--width", "200"])
        .output()
        .unwrap();
    Checked {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: std::fs::read(&json)
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap()),
    }
}

/// `dynstress run ARGS --events EVENTS --json REPORT`: its exit code and
/// report.
fn run(dir: &Path, args: &[&str], events: &Path) -> (i32, Value) {
    let report = dir.join("run.json");
    let out = dynstress()
        .arg("run")
        .args(args)
        .args([
            "--events",
            &path_str(events),
            "--json",
            &path_str(&report),
            "--quiet",
        ])
        .output()
        .unwrap();
    let json = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), json)
}

/// Each check's (name, passed, exercised).
fn checks(json: &Value) -> Vec<(String, bool, bool)> {
    json["integrity"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["passed"].as_bool().unwrap(),
                c["exercised"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn failed(json: &Value) -> Vec<String> {
    checks(json)
        .into_iter()
        .filter(|c| !c.1)
        .map(|c| c.0)
        .collect()
}

/// The checks a history cannot decide: shown as not checkable, never as
/// passed on nothing.
const STORE_CHECKS: [&str; 3] = ["replay", "trees", "events"];

/// The offline verdict of a run's events file agrees with the run's own:
/// every check the history can decide has the same pass/fail, and the
/// checks it cannot decide are not exercised.
fn assert_same_verdict(run_json: &Value, offline: &Checked) {
    let json = offline.json.as_ref().unwrap_or_else(|| {
        panic!(
            "no JSON; exit {}\n{}{}",
            offline.code, offline.stdout, offline.stderr
        )
    });
    let online: Vec<_> = checks(run_json);
    for (name, passed, exercised) in checks(json) {
        let (_, run_passed, _) = online.iter().find(|c| c.0 == name).unwrap();
        if STORE_CHECKS.contains(&name.as_str()) {
            assert!(passed && !exercised, "{name} decided offline");
            continue;
        }
        assert_eq!(
            passed, *run_passed,
            "{name}: offline {passed}, online {run_passed}"
        );
    }
}

#[test]
fn brutal_chaos_and_capacity_runs_check_clean_offline() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let brutal = path_str(&root().join("configs/brutal.toml"));
    let chaos = path_str(&root().join("configs/chaos.toml"));
    let max = path_str(&root().join("configs/max.toml"));
    let cases: [(&str, Vec<&str>, &str); 4] = [
        (
            "brutal",
            vec!["--config", &brutal, "--duration", "2"],
            "b.ndjson",
        ),
        (
            "chaos",
            vec![
                "--config",
                &chaos,
                "--duration",
                "5",
                "--clock",
                "virtual",
                "--seed",
                "42",
            ],
            "c.ndjson.zst",
        ),
        (
            "chaos-real",
            vec!["--config", &chaos, "--duration", "2", "--seed", "7"],
            "cr.ndjson",
        ),
        (
            "capacity",
            vec!["--config", &max, "--duration", "0.3", "--targets", "50"],
            "m.ndjson.zst",
        ),
    ];
    for (name, args, file) in cases {
        let events = d.join(file);
        let (code, report) = run(d, &args, &events);
        // The capacity run may fail a threshold on a loaded machine; its
        // integrity is what is compared.
        assert!(code == 0 || code == 1, "{name}: run exit {code}");
        assert!(failed(&report).is_empty(), "{name}: {:?}", failed(&report));
        // The file's header carries the config's rule parameters: no
        // --config needed.
        let offline = check(d, &[&path_str(&events)]);
        assert_eq!(
            offline.code, 0,
            "{name}\n{}{}",
            offline.stdout, offline.stderr
        );
        assert_same_verdict(&report, &offline);
        assert!(offline.stdout.contains("not checkable from this history"));
        let json = offline.json.unwrap();
        assert_eq!(json["parameters"]["grace_period_from"], "header", "{name}");
        assert_eq!(json["header"]["seed"], report["seed"], "{name}");
        // And the same parameters as the config that ran it.
        let cfg = &args[1];
        let with_config = check(d, &[&path_str(&events), "--config", cfg]);
        let with_config = with_config.json.unwrap();
        let params = |j: &Value| {
            let mut p = j["parameters"].clone();
            p["grace_period_from"] = Value::Null;
            p
        };
        assert_eq!(params(&json), params(&with_config), "{name}");
        assert_eq!(
            json["submitted"], report["operations"]["submitted"],
            "{name}: ops read back"
        );
        std::fs::remove_file(&events).unwrap();
    }
}

/// A fault injected into a run, and the check that must fail on the run's
/// events file offline as it failed online.
fn injected(fault: &str, config: &str, seconds: &str, expect: &[&str]) {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let events = d.join("events.ndjson");
    let (code, report) = run(
        d,
        &[
            "--config",
            config,
            "--duration",
            seconds,
            "--seed",
            "42",
            "--inject",
            fault,
        ],
        &events,
    );
    assert_eq!(code, 3, "{fault}: the run itself must fail");
    let offline = check(d, &[&path_str(&events)]);
    assert_eq!(
        offline.code, 3,
        "{fault}\n{}{}",
        offline.stdout, offline.stderr
    );
    let offline_failed = failed(offline.json.as_ref().unwrap());
    let online_failed = failed(&report);
    for check in expect {
        assert!(
            online_failed.iter().any(|c| c == check),
            "{fault}: online {online_failed:?}"
        );
        assert!(
            offline_failed.iter().any(|c| c == check),
            "{fault}: offline {offline_failed:?}\n{}",
            offline.stdout
        );
    }
}

fn brutal() -> String {
    path_str(&root().join("configs/brutal.toml"))
}

fn contest() -> String {
    path_str(&root().join("tests/fixtures/grace_contest.toml"))
}

#[test]
fn a_wrong_winner_fails_the_priority_rule_offline() {
    injected("wrong-winner", &brutal(), "2", &["priority_rule"]);
}

#[test]
fn a_double_start_fails_exclusive_execution_offline() {
    injected("double-start", &contest(), "3", &["exclusive_execution"]);
}

#[test]
fn ignoring_grace_fails_the_grace_rule_offline() {
    injected("ignore-grace", &contest(), "3", &["grace_rule"]);
}

#[test]
fn an_op_that_never_ends_fails_accounting_offline() {
    injected("never-terminate", &brutal(), "2", &["accounting"]);
}

/// A lost event fails `events` online (by its sequence numbers); a
/// history has none, so offline it shows as the op whose life the lost
/// event broke.
#[test]
fn a_lost_event_breaks_an_ops_life_offline() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let events = d.join("events.ndjson");
    let config = brutal();
    let (code, _) = run(
        d,
        &[
            "--config",
            &config,
            "--duration",
            "2",
            "--seed",
            "42",
            "--inject",
            "lose-event",
        ],
        &events,
    );
    assert_eq!(code, 3);
    let offline = check(d, &[&path_str(&events)]);
    assert_eq!(offline.code, 3, "{}{}", offline.stdout, offline.stderr);
    let f = failed(offline.json.as_ref().unwrap());
    assert!(
        f.iter()
            .any(|c| ["accounting", "legal_transitions", "priority_rule"].contains(&c.as_str())),
        "{f:?}"
    );
}

/// Every fixture: its exit code and a piece of the message it must give
/// (stderr for an unreadable history, the report for a violated one).
const FIXTURES: [(&str, i32, &str); 45] = [
    ("valid", 0, "HOLDS (exit 0)"),
    ("not_json", 2, "line 3: not a history line"),
    (
        "array_line",
        2,
        "line 3: not a history line: expected a JSON object",
    ),
    (
        "unknown_kind",
        2,
        "line 6: field `event`: unknown event kind \"OperationExploded\"",
    ),
    ("missing_t_ns", 2, "line 6: field `t_ns`: missing"),
    ("missing_op", 2, "line 6: field `op`: missing"),
    ("missing_target", 2, "line 6: field `target`: missing"),
    ("missing_priority", 2, "line 6: field `priority`: missing"),
    ("missing_event", 2, "line 6: field `event`: missing"),
    (
        "submitted_without_budget",
        2,
        "line 2: field `budget`: missing (required in OperationSubmitted events)",
    ),
    (
        "conflict_without_pending",
        2,
        "line 4: field `pending`: missing",
    ),
    (
        "conflict_without_decision",
        2,
        "line 4: field `decision`: missing",
    ),
    (
        "conflict_bad_decision",
        2,
        "line 4: field `decision`: invalid value",
    ),
    (
        "rejected_without_reason",
        2,
        "line 5: field `reason`: missing",
    ),
    (
        "rejected_bad_reason",
        2,
        "line 5: field `reason`: invalid value",
    ),
    (
        "priority_out_of_range",
        2,
        "line 6: field `priority`: invalid value; allowed: an integer from 1 to 10",
    ),
    (
        "effective_zero",
        2,
        "line 2: field `effective`: invalid value",
    ),
    (
        "header_unknown_version",
        2,
        "line 1: field `history`: format version 2 is not known",
    ),
    (
        "header_negative_grace",
        2,
        "line 1: field `grace_period_seconds`",
    ),
    ("no_grace_period", 2, "the grace period is unknown"),
    ("empty", 2, "the history has no events"),
    ("header_only", 2, "the history has no events"),
    ("text_without_header", 2, "line 1: not a history line"),
    ("zstd_unnamed", 2, "line 1: zstd-compressed data"),
    (
        "time_not_a_number",
        2,
        "line 6: not a history line: field `t_ns`: invalid type",
    ),
    (
        "negative_op",
        2,
        "line 6: not a history line: field `op`: invalid value",
    ),
    (
        "time_goes_backwards",
        2,
        "line 7: field `t_ns`: time goes backwards for op 2",
    ),
    (
        "failed_without_injected",
        2,
        "line 7: field `injected`: missing",
    ),
    (
        "retry_without_backoff",
        2,
        "line 8: field `backoff_ns`: missing",
    ),
    ("preempted_without_by", 2, "line 7: field `by`: missing"),
    (
        "grace_without_executing",
        2,
        "line 7: field `executing`: missing",
    ),
    (
        "versioned_bad_uuid",
        2,
        "line 8: field `ecs_id`: invalid value; allowed: a UUID",
    ),
    (
        "cancelled_bad_from",
        2,
        "line 7: field `from`: invalid value",
    ),
    (
        "reason_wrong_shape",
        2,
        "line 7: field `reason`: invalid value",
    ),
    (
        "truncated_last_line",
        2,
        "line 8: truncated: the last line has no newline",
    ),
    (
        "never_ends",
        3,
        "op-00000003 on target 0: never final: submitted on line 8",
    ),
    ("wrong_winner", 3, "[FAIL] priority_rule"),
    ("tie_won_by_later_op", 3, "winner outranked"),
    ("double_start", 3, "[FAIL] exclusive_execution"),
    ("preempted_inside_grace", 3, "inside grace"),
    ("start_without_submission", 3, "[FAIL] legal_transitions"),
    (
        "completed_while_pending",
        3,
        "OperationCompleted from Pending",
    ),
    ("engine_error_failure", 3, "engine error"),
    ("retry_beyond_budget", 3, "retry beyond budget"),
    ("broken_version_chain", 3, "broken version chain"),
];

#[test]
fn every_fixture_gets_its_exit_code_and_message() {
    let dir = TempDir::new().unwrap();
    let fixtures = root().join("tests/fixtures/history");
    let on_disk = std::fs::read_dir(&fixtures).unwrap().count();
    assert_eq!(on_disk, FIXTURES.len(), "a fixture without an expectation");
    for (name, code, needle) in FIXTURES {
        let file = fixtures.join(format!("{name}.ndjson"));
        let c = check(dir.path(), &[&path_str(&file)]);
        let text = if code == 2 { &c.stderr } else { &c.stdout };
        assert_eq!(c.code, code, "{name}\n{}{}", c.stdout, c.stderr);
        assert!(text.contains(needle), "{name}: no {needle:?} in\n{text}");
        if code == 2 {
            assert!(
                c.json.is_none(),
                "{name}: a JSON verdict on an unreadable history"
            );
        } else {
            let json = c.json.unwrap();
            assert_eq!(json["outcome"]["exit_code"], code, "{name}");
        }
    }
}

#[test]
fn the_flag_wins_over_the_header_and_stdin_and_zstd_read_the_same() {
    let dir = TempDir::new().unwrap();
    let valid = root().join("tests/fixtures/history/valid.ndjson");
    let text = std::fs::read(&valid).unwrap();
    let c = check(dir.path(), &[&path_str(&valid), "--grace-period", "0.05"]);
    assert_eq!(c.code, 0);
    let p = &c.json.unwrap()["parameters"];
    assert_eq!(
        (
            p["grace_period_seconds"].as_f64(),
            p["grace_period_from"].as_str()
        ),
        (Some(0.05), Some("flag"))
    );

    let zst = dir.path().join("valid.ndjson.zst");
    let mut enc = zstd::stream::Encoder::new(std::fs::File::create(&zst).unwrap(), 1).unwrap();
    enc.write_all(&text).unwrap();
    enc.finish().unwrap();
    let c = check(dir.path(), &[&path_str(&zst)]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert_eq!(c.json.unwrap()["events"], 6);

    let out = dynstress()
        .args(["check", "-", "--json", "-", "--quiet"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["source"], "-");
    assert_eq!(json["header"]["grace_period_seconds"], 0.2);
}

/// The sample the Python adapter recorded from its toy engine is a
/// history that holds, and exercises the rules it claims to.
#[test]
fn the_python_adapters_sample_checks_clean() {
    let dir = TempDir::new().unwrap();
    let sample = root().join("examples/python/sample_history.ndjson");
    let c = check(dir.path(), &[&path_str(&sample)]);
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    let json = c.json.unwrap();
    assert_eq!(json["header"]["engine"], "toy_engine.py");
    let exercised: Vec<String> = checks(&json)
        .into_iter()
        .filter(|c| c.2)
        .map(|c| c.0)
        .collect();
    for needed in [
        "accounting",
        "legal_transitions",
        "exclusive_execution",
        "priority_rule",
        "grace_rule",
        "retries",
    ] {
        assert!(
            exercised.iter().any(|c| c == needed),
            "{needed} not exercised: {exercised:?}"
        );
    }
}

/// `docs/history.schema.json` accepts every line of the valid fixture, of
/// the Python sample and of a run's events file, and refuses the lines the
/// reader refuses for their shape.
#[test]
fn the_json_schema_describes_the_lines() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/history.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let dir = TempDir::new().unwrap();
    let events = dir.path().join("events.ndjson");
    let chaos = path_str(&root().join("configs/chaos.toml"));
    let (code, _) = run(
        dir.path(),
        &[
            "--config",
            &chaos,
            "--duration",
            "2",
            "--clock",
            "virtual",
            "--seed",
            "3",
        ],
        &events,
    );
    assert_eq!(code, 0);
    for file in [
        root().join("tests/fixtures/history/valid.ndjson"),
        root().join("examples/python/sample_history.ndjson"),
        events,
    ] {
        for (i, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert!(
                validator.is_valid(&v),
                "{}:{}: {line}",
                file.display(),
                i + 1
            );
        }
    }
    for name in [
        "unknown_kind",
        "missing_op",
        "submitted_without_budget",
        "conflict_bad_decision",
        "rejected_bad_reason",
        "priority_out_of_range",
        "failed_without_injected",
        "versioned_bad_uuid",
        "header_unknown_version",
    ] {
        let text =
            std::fs::read_to_string(root().join(format!("tests/fixtures/history/{name}.ndjson")))
                .unwrap();
        let refused = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| !validator.is_valid(&v));
        assert!(refused, "{name}: the schema accepts every line");
    }
}

/// `dynstress check` of a fixed history, in the terminal's layout, with
/// colours off: the bytes a pipe receives.
fn check_text(fixture: &str, emoji: bool) -> (i32, String) {
    let mut cmd = dynstress();
    cmd.current_dir(root())
        .arg("check")
        .arg(format!("tests/fixtures/history/{fixture}.ndjson"))
        .args(["--color", "never", "--width", "100"])
        .env("NO_COLOR", "1");
    if !emoji {
        cmd.arg("--no-emoji");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn the_check_report_keeps_its_text() {
    for (fixture, code, emoji) in [
        ("valid", 0, false),
        ("valid", 0, true),
        ("wrong_winner", 3, false),
    ] {
        let (got, text) = check_text(fixture, emoji);
        assert_eq!(got, code, "{fixture}\n{text}");
        assert!(!text.contains('\u{1b}'), "{fixture}: colour codes");
        // Nothing measured while checking is printed (no time, no rate):
        // the report is a function of the file, so nothing needs
        // redacting. Should one be added, this says where to redact it.
        for timing in ["events/s", "elapsed", "took"] {
            assert!(
                !text.contains(timing),
                "{fixture}: a timing to redact\n{text}"
            );
        }
        let name = format!("check_{fixture}{}", if emoji { "_emoji" } else { "" });
        insta::assert_snapshot!(name, text);
    }
}
