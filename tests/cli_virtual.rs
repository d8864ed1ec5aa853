//! The virtual clock end to end: a seed reproduces a run byte for byte,
//! `--check-determinism` passes on the healthy engine and names the first
//! diverging event when a run is made to differ, and `explore` finds a
//! failing seed whose printed replay command fails the same way.
//!
//! Virtual runs of several seconds take milliseconds, so these tests run
//! the real configs at their real rates.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);
const EXIT_INTEGRITY: i32 = 3;

fn configs(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
        .display()
        .to_string()
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn dynstress(args: &[&str]) -> Out {
    let out = Command::cargo_bin("dynstress")
        .unwrap_or_else(|e| panic!("{e}"))
        .args(args)
        .timeout(RUN_TIMEOUT)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One quiet virtual run: its events file and its JSON report.
fn virtual_run(dir: &TempDir, name: &str, config: &str, seed: u64) -> (Vec<u8>, Value) {
    let events = dir.path().join(format!("{name}.jsonl"));
    let json = dir.path().join(format!("{name}.json"));
    let seed = seed.to_string();
    let out = dynstress(&[
        "run",
        "--config",
        config,
        "--clock",
        "virtual",
        "--duration",
        "5",
        "--seed",
        &seed,
        "--quiet",
        "--events",
        &events.display().to_string(),
        "--json",
        &json.display().to_string(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}"));
    (
        std::fs::read(&events).unwrap_or_else(|e| panic!("{e}")),
        serde_json::from_str(&report).unwrap_or_else(|e| panic!("{e}")),
    )
}

/// The JSON report without the fields a run measures rather than decides.
fn decided(mut report: Value) -> Value {
    report["latency_us"]["execution"] = Value::Null;
    report["resources"] = Value::Null;
    for point in report["timeline"].as_array_mut().into_iter().flatten() {
        point["rss_mb"] = Value::Null;
        point["execution_p50_us"] = Value::Null;
        point["execution_p99_us"] = Value::Null;
    }
    for t in report["thresholds"].as_array_mut().into_iter().flatten() {
        if t["name"] == "max_memory_mb" || t["name"] == "max_execution_p99_us" {
            t["observed"] = Value::Null;
        }
    }
    report
}

#[test]
fn a_seed_reproduces_a_virtual_run_byte_for_byte() {
    let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let parents = dir.path().join("parents.toml");
    std::fs::write(
        &parents,
        "num_targets = 3\n[batch]\nparent_probability = 0.6\n[faults]\n\
         failure_probability = 0.1\nstall_probability = 0.2\nstall_ms = 300\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("brutal", configs("brutal.toml")),
        ("chaos", configs("chaos.toml")),
        ("parents", parents.display().to_string()),
    ];
    for (name, config) in &cases {
        let (events_a, report_a) = virtual_run(&dir, &format!("{name}-a"), config, 21);
        let (events_b, report_b) = virtual_run(&dir, &format!("{name}-b"), config, 21);
        let (_, report_c) = virtual_run(&dir, &format!("{name}-c"), config, 22);
        let lines = events_a.iter().filter(|b| **b == b'\n').count();
        assert!(lines > 500, "{name}: {lines} events");
        assert!(events_a == events_b, "{name}: the events files differ");
        let digests = &report_a["digests"];
        assert_eq!(digests["clock"], "virtual");
        assert_eq!(digests, &report_b["digests"], "{name}");
        assert_ne!(digests["events"], report_c["digests"]["events"], "{name}");
        assert_ne!(digests["store"], report_c["digests"]["store"], "{name}");
        assert_eq!(decided(report_a), decided(report_b), "{name}");
    }
}

#[test]
fn the_parent_config_links_parents() {
    // The case above must exercise parent links, or it proves less than it
    // says: some submissions name a parent.
    let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let parents = dir.path().join("parents.toml");
    std::fs::write(&parents, "[batch]\nparent_probability = 0.6\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (events, _) = virtual_run(&dir, "p", &parents.display().to_string(), 3);
    let text = String::from_utf8(events).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.lines()
            .any(|l| l.contains("\"parent\":") && !l.contains("\"parent\":null"))
    );
}

#[test]
fn check_determinism_passes_on_the_healthy_engine() {
    let out = dynstress(&[
        "run",
        "--config",
        &configs("chaos.toml"),
        "--duration",
        "5",
        "--seed",
        "5",
        "--check-determinism",
        "--quiet",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("two runs of seed 5 on the virtual clock gave the same"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_determinism_names_the_first_diverging_event() {
    // Commits dated by the wall clock: the two runs differ at the first
    // commit that records a date.
    let out = dynstress(&[
        "run",
        "--config",
        &configs("chaos.toml"),
        "--duration",
        "5",
        "--seed",
        "5",
        "--check-determinism",
        "--quiet",
        "--inject",
        "wall-clock",
    ]);
    assert_eq!(out.code, EXIT_INTEGRITY, "{}", out.stderr);
    let err = &out.stderr;
    assert!(err.contains("diverge at event "), "{err}");
    let first = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("first:"))
        .unwrap_or_else(|| panic!("{err}"));
    let second = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("second:"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_ne!(first.trim(), second.trim());
    assert!(
        first.contains("OperationCompleted") && first.contains("at_us"),
        "{err}"
    );
}

/// A determinism check is still a gated run: its baseline is judged and
/// its replay command names the virtual clock it ran on.
#[test]
fn check_determinism_keeps_the_baseline_and_the_replay_command() {
    let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let config = configs("chaos.toml");
    let (_, mut base) = virtual_run(&dir, "base", &config, 4);
    // A baseline ten times as fast: every rate regresses by 90 %.
    for rate in ["succeeded_ops_per_s", "settled_ops_per_s"] {
        let v = base["rates"][rate]
            .as_f64()
            .unwrap_or_else(|| panic!("{base}"));
        base["rates"][rate] = serde_json::json!(v * 10.0);
    }
    let fast = dir.path().join("fast.json");
    std::fs::write(&fast, base.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let json = dir.path().join("out.json");
    let out = dynstress(&[
        "run",
        "--config",
        &config,
        "--duration",
        "5",
        "--seed",
        "4",
        "--check-determinism",
        "--quiet",
        "--baseline",
        &fast.display().to_string(),
        "--json",
        &json.display().to_string(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    let failed: Vec<&str> = report["thresholds"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .filter(|t| t["passed"] == Value::Bool(false))
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        failed.iter().any(|n| n.starts_with("max_regression_")),
        "{failed:?}"
    );
    assert_eq!(
        report["rerun"].as_str(),
        Some(
            format!("dynstress run --config {config} --duration 5 --clock virtual --seed 4")
                .as_str()
        ),
        "{report}"
    );
}

#[test]
fn check_determinism_refuses_the_real_clock() {
    let out = dynstress(&["run", "--check-determinism", "--clock", "real"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("virtual clock"), "{}", out.stderr);
}

#[test]
fn capacity_mode_is_refused_on_the_virtual_clock() {
    let out = dynstress(&["run", "--clock", "virtual", "--rate", "max"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("needs the real clock"),
        "{}",
        out.stderr
    );
    // explore chose the virtual clock, not the user: it says so.
    let out = dynstress(&["explore", "--config", &configs("max.toml"), "--seeds", "1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("explore runs every seed on the virtual clock")
            && !out.stderr.contains("--clock"),
        "{}",
        out.stderr
    );
}

#[test]
fn explore_finds_a_failing_seed_and_its_replay_fails_the_same_way() {
    let dir = TempDir::new().unwrap_or_else(|e| panic!("{e}"));
    let summary_path = dir.path().join("summary.json");
    let out = dynstress(&[
        "explore",
        "--config",
        &configs("chaos.toml"),
        "--seeds",
        "1..6",
        "--jobs",
        "2",
        "--duration",
        "2",
        "--no-progress",
        "--inject",
        "partial-write",
        "--json",
        &summary_path.display().to_string(),
    ]);
    assert_eq!(out.code, EXIT_INTEGRITY, "{}", out.stderr);
    assert!(out.stdout.contains("explored 6 seeds"), "{}", out.stdout);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(&summary_path).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary["seeds_run"], 6);
    assert_eq!(summary["exit_code"], EXIT_INTEGRITY);
    let failure = &summary["failures"][0];
    let checks = failure["outcome"]["failed_checks"].clone();
    assert!(
        checks
            .as_array()
            .is_some_and(|c| c.contains(&Value::from("replay"))),
        "{checks}"
    );

    // Both printed commands, the full one and the smallest, fail the same
    // way when run.
    for key in ["replay", "smallest_replay"] {
        let cmd = failure[key].as_str().unwrap_or_else(|| panic!("{failure}"));
        assert!(
            out.stdout.contains(cmd),
            "{cmd} not printed:\n{}",
            out.stdout
        );
        let json = dir.path().join(format!("{key}.json"));
        let mut args: Vec<String> = cmd.split_whitespace().skip(1).map(str::to_string).collect();
        args.extend([
            "--quiet".into(),
            "--json".into(),
            json.display().to_string(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let replay = dynstress(&args);
        assert_eq!(replay.code, EXIT_INTEGRITY, "{cmd}: {}", replay.stderr);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"));
        let failed: Vec<&Value> = report["integrity"]["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["passed"] == false)
            .map(|c| &c["name"])
            .collect();
        assert!(
            failed.contains(&&Value::from("replay")),
            "{cmd}: {failed:?}"
        );
        if key == "replay" {
            assert_eq!(
                Value::from(failed.into_iter().cloned().collect::<Vec<_>>()),
                checks,
                "{cmd}"
            );
        }
    }
}

#[test]
fn explore_over_a_healthy_engine_passes_and_sums_coverage() {
    let out = dynstress(&[
        "explore",
        "--config",
        &configs("chaos.toml"),
        "--seeds",
        "1..4",
        "--duration",
        "5",
        "--no-progress",
        "--json",
        "-",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summary: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (summary["passed"].as_u64(), summary["failed"].as_u64()),
        (Some(4), Some(0))
    );
    assert!(
        summary["coverage"]["conflicts"].as_u64() > Some(0),
        "{summary}"
    );
    assert!(
        out.stderr.contains("explored 4 seeds: 4 passed, 0 failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn explore_refuses_a_bad_seed_range() {
    let out = dynstress(&["explore", "--seeds", "9..3"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--seeds 9..3"), "{}", out.stderr);
}
