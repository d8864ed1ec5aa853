//! Ctrl-C (SIGINT) and SIGTERM, sent to the built binary.
//!
//! The first signal stops submission and the run still drains, checks and
//! reports: exit 130 (SIGINT) or 143 (SIGTERM), a report marked
//! interrupted, and accounting as exact as in a run that ended on time. The
//! second signal leaves at once, even while the drain waits for ops that
//! will hold their targets for another twenty seconds.
//!
//! The child's output is read on threads while it runs, so a full pipe can
//! never block it, and every wait has a deadline: a run that hangs is killed
//! and fails the test instead of blocking the suite. The deadlines are
//! generous because two cores are shared with other tests; what the tests
//! compare against (a 30 s submission phase, 20 s stalls) is far longer.
#![cfg(unix)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// A run that has not exited this long after it should have has hung.
const HANG: Duration = Duration::from_secs(15);

/// A running `dynstress` with its output being collected.
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// How it ended.
struct Ended {
    status: ExitStatus,
    /// From the signal that should have ended it to its exit.
    after: Duration,
    stdout: String,
    stderr: String,
}

impl Ended {
    fn describe(&self) -> String {
        format!(
            "status: {:?}, {:?} after the signal\nstderr:\n{}\nstdout:\n{}",
            self.status, self.after, self.stderr, self.stdout
        )
    }
}

fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("dynstress"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().map(collect);
        let stderr = child.stderr.take().map(collect);
        Running {
            child,
            stdout,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running (the test fails if it ended early).
    fn assert_alive(&mut self, when: &str) {
        if let Some(status) = self.child.try_wait().unwrap() {
            let ended = self.finish(status, Duration::ZERO);
            panic!("dynstress ended {when}: {}", ended.describe());
        }
    }

    /// Send `signal` (`INT`, `TERM`).
    fn signal(&mut self, signal: &str) -> Instant {
        self.assert_alive(&format!("before SIG{signal}"));
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} failed: {sent:?}");
        Instant::now()
    }

    /// Wait for the exit, at most `HANG` from `since`; a hang is killed and
    /// fails the test.
    fn wait(mut self, since: Instant) -> Ended {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let after = since.elapsed();
                return self.finish(status, after);
            }
            if since.elapsed() > HANG {
                let _ = self.child.kill();
                let status = self.child.wait().unwrap();
                let ended = self.finish(status, since.elapsed());
                panic!(
                    "dynstress did not exit within {HANG:?} of the signal; killed\n{}",
                    ended.describe()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn finish(&mut self, status: ExitStatus, after: Duration) -> Ended {
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        Ended {
            status,
            after,
            stdout: join(self.stdout.take()),
            stderr: join(self.stderr.take()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a 30 s run behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_json(path: &Path, ended: &Ended) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JSON report ({e})\n{}", ended.describe()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the JSON report does not parse ({e})\n{}", ended.describe()))
}

fn uint(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} should be an unsigned integer"))
}

#[test]
fn the_first_sigint_drains_checks_and_reports_an_interrupted_run() {
    first_signal_drains_checks_and_reports("INT", 130);
}

#[test]
fn the_first_sigterm_drains_checks_and_reports_an_interrupted_run() {
    first_signal_drains_checks_and_reports("TERM", 143);
}

fn first_signal_drains_checks_and_reports(signal: &str, code: i32) {
    let dir = TempDir::new().unwrap();
    let report = dir.path().join("report.json");
    let report_s = report.display().to_string();
    let mut run = Running::start(&[
        "run",
        "--duration",
        "30",
        "--seed",
        "42",
        "--no-progress",
        "--json",
        &report_s,
    ]);
    thread::sleep(Duration::from_millis(1500));
    let sent = run.signal(signal);
    let ended = run.wait(sent);
    assert_eq!(ended.status.code(), Some(code), "{}", ended.describe());
    assert!(!ended.stderr.contains("panicked"), "{}", ended.describe());
    assert!(ended.stdout.contains("INTERRUPTED"), "{}", ended.describe());

    let json = read_json(&report, &ended);
    assert_eq!(
        json.pointer("/outcome/interrupted"),
        Some(&Value::Bool(true))
    );
    assert_eq!(uint(&json, "/outcome/exit_code"), code as u64);
    assert_eq!(json.pointer("/outcome/passed"), Some(&Value::Bool(false)));

    let submitted = uint(&json, "/operations/submitted");
    assert!(submitted > 0, "nothing was submitted before the signal");
    assert_eq!(
        submitted,
        uint(&json, "/operations/succeeded")
            + uint(&json, "/operations/rejected")
            + uint(&json, "/operations/cancelled"),
        "{}",
        json["operations"]
    );
    assert_eq!(uint(&json, "/operations/in_flight_at_end"), 0);
    let accounting = json["integrity"]["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == "accounting"))
        .unwrap_or_else(|| panic!("no accounting check: {}", json["integrity"]));
    assert_eq!(accounting["passed"], Value::Bool(true), "{accounting}");

    let submission = json
        .pointer("/duration_s/submission")
        .and_then(Value::as_f64)
        .unwrap();
    assert!(
        submission < 30.0,
        "submission ran {submission} s, the signal did not stop it"
    );
}

#[test]
fn the_second_sigint_exits_at_once_without_waiting_for_the_drain() {
    second_signal_exits_at_once("INT", 130);
}

#[test]
fn the_second_sigterm_exits_at_once_without_waiting_for_the_drain() {
    second_signal_exits_at_once("TERM", 143);
}

fn second_signal_exits_at_once(signal: &str, code: i32) {
    let dir = TempDir::new().unwrap();
    // Every started op holds its target for 20 s and the drain would wait
    // for them for up to 30 s.
    let config = dir.path().join("stall.toml");
    std::fs::write(
        &config,
        "operation_rate_per_second = 100.0\n\
         drain_timeout_seconds = 30.0\n\
         [faults]\n\
         stall_probability = 1.0\n\
         stall_ms = 20000\n",
    )
    .unwrap();
    let config_s = config.display().to_string();
    let json_s = dir.path().join("report.json").display().to_string();
    let mut run = Running::start(&[
        "run",
        "--config",
        &config_s,
        "--duration",
        "30",
        "--seed",
        "42",
        "--no-progress",
        "--json",
        &json_s,
    ]);
    thread::sleep(Duration::from_millis(1000));
    run.signal(signal);
    thread::sleep(Duration::from_millis(500));
    // Draining: the stalled ops keep it from finishing on its own.
    run.assert_alive("after the first signal, while the drain waits for stalled ops");
    let second = run.signal(signal);
    let ended = run.wait(second);
    assert_eq!(ended.status.code(), Some(code), "{}", ended.describe());
    assert!(
        ended.after < Duration::from_secs(5),
        "took {:?} after the second signal\n{}",
        ended.after,
        ended.describe()
    );
    assert!(
        !ended.stdout.contains("run report"),
        "the second signal leaves without a report\n{}",
        ended.describe()
    );
    // Nor a half-made one: the report's temporary file is gone too.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["stall.toml"], "{}", ended.describe());
}

/// `explore` on the first signal: no new seed starts, the seeds under way
/// finish, and the seeds explored so far are reported, in the text and in
/// the JSON, with the signal's exit code.
#[test]
fn explore_reports_the_seeds_so_far_on_the_first_signal() {
    let dir = TempDir::new().unwrap();
    let summary = dir.path().join("explore.json");
    let summary_s = summary.display().to_string();
    let mut run = Running::start(&[
        "explore",
        "--seeds",
        "1..100000000",
        "--jobs",
        "1",
        "--duration",
        "1",
        "--no-progress",
        "--json",
        &summary_s,
    ]);
    thread::sleep(Duration::from_millis(1500));
    let sent = run.signal("INT");
    let ended = run.wait(sent);
    assert_eq!(ended.status.code(), Some(130), "{}", ended.describe());
    assert!(
        ended.stdout.contains("INTERRUPTED (exit 130)"),
        "{}",
        ended.describe()
    );
    let json = read_json(&summary, &ended);
    assert_eq!(json["interrupted"], Value::from("SIGINT"), "{json}");
    let run_seeds = uint(&json, "/seeds_run");
    assert!(
        run_seeds > 0 && run_seeds < 100_000_000,
        "{run_seeds} seeds run\n{}",
        ended.describe()
    );
    assert_eq!(uint(&json, "/passed") + uint(&json, "/failed"), run_seeds);
}
