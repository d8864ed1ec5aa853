//! Golden test scripts for the harness's state machines.
//!
//! A script is a text file under `src/harness/testscripts/<machine>/`:
//! blocks of one or more input lines, a `----` line, and the output the
//! machine must produce for them, up to a blank line. Lines starting with
//! `#` and blank lines between blocks are comments.
//!
//! ```text
//! # Two ops arrive together; the higher one wins.
//! @0 submit 1:p5 2:p8
//! ----
//! ev conflict op=2 t0 pending=[2 1] executing=- decision=start
//! ...
//! ```
//!
//! An input line is a command, `key=value` arguments and positional ones;
//! a leading `@<ms>` moves the script's clock forward first (it never goes
//! back). Time exists only as that clock: the machines are handed it as a
//! parameter. The runner executes every block and rebuilds the file from
//! what came out; any difference fails the test. With
//! `UPDATE_GOLDENFILES=1` in the environment it writes the new output
//! instead, for review with `git diff`.
//!
//! An op is written `<id>:p<priority>` with optional `:e<effective>`,
//! `:t<target>`, `:r<retries>` and `:b<budget>` (defaults: effective = own
//! priority, target 0, no retries, budget 3).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::events::{Event, EventKind, RejectReason};
use crate::ops::{Op, OpId, OpKind, Priority, RetryBudgets};

/// One input line.
#[derive(Debug)]
pub(crate) struct Command {
    pub name: String,
    pub args: Vec<String>,
    pub kv: Vec<(String, String)>,
}

impl Command {
    pub fn arg(&self, i: usize) -> Result<&str, String> {
        self.args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("{}: missing argument {}", self.name, i + 1))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the bare word `flag` is among the positional arguments.
    pub fn flag(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }
}

/// A machine under test: runs one command at time `now_ns` and returns its
/// output, one item per line.
pub(crate) trait Machine {
    fn run(&mut self, cmd: &Command, now_ns: u64) -> Result<String, String>;
}

/// Run every script of `testscripts/<machine>`, each with a fresh machine.
/// Fails listing every script whose output differs.
pub(crate) fn run_dir<M: Machine>(machine: &str, new: impl Fn() -> M) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/harness/testscripts")
        .join(machine);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {}", dir.display());
    let update = std::env::var_os("UPDATE_GOLDENFILES").is_some();
    let mut failures = String::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        let got = run_script(&text, &mut new()).unwrap_or_else(|e| {
            panic!("{}: {e}", path.display());
        });
        if got != text {
            if update {
                std::fs::write(path, &got).unwrap_or_else(|e| panic!("{e}"));
            } else {
                let _ = writeln!(failures, "{}", first_difference(path, &text, &got));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scripts differ (UPDATE_GOLDENFILES=1 rewrites them):\n{failures}"
    );
}

/// Run one script and return it with the outputs as produced.
fn run_script(text: &str, machine: &mut impl Machine) -> Result<String, String> {
    let mut out = String::new();
    let mut now_ns = 0u64;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // A block: input lines up to `----`, then the old output up to a
        // blank line (dropped: it is produced again).
        let mut produced = String::new();
        let mut input = Some(line);
        while let Some(line) = input {
            out.push_str(line);
            out.push('\n');
            if line.trim() == "----" {
                break;
            }
            if line.trim().is_empty() {
                return Err("a blank line before ----".to_string());
            }
            let (at, cmd) = parse_line(line).map_err(|e| format!("{line:?}: {e}"))?;
            if let Some(at) = at {
                if at < now_ns {
                    return Err(format!("{line:?}: the clock does not go back"));
                }
                now_ns = at;
            }
            produced.push_str(
                &machine
                    .run(&cmd, now_ns)
                    .map_err(|e| format!("{line:?}: {e}"))?,
            );
            input = lines.next();
        }
        if input.is_none() {
            return Err(format!("block without ----: {line:?}"));
        }
        while lines.peek().is_some_and(|l| !l.trim().is_empty()) {
            lines.next();
        }
        out.push_str(if produced.is_empty() {
            "ok\n"
        } else {
            &produced
        });
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<(Option<u64>, Command), String> {
    let mut words = line.split_whitespace().peekable();
    let mut at = None;
    if let Some(ms) = words.peek().and_then(|w| w.strip_prefix('@')) {
        let ms: u64 = ms.parse().map_err(|_| format!("bad time {ms:?}"))?;
        at = Some(ms * 1_000_000);
        words.next();
    }
    let name = words.next().ok_or("no command")?.to_string();
    let mut cmd = Command {
        name,
        args: Vec::new(),
        kv: Vec::new(),
    };
    for w in words {
        match w.split_once('=') {
            Some((k, v)) => cmd.kv.push((k.to_string(), v.to_string())),
            None => cmd.args.push(w.to_string()),
        }
    }
    Ok((at, cmd))
}

fn first_difference(path: &Path, want: &str, got: &str) -> String {
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
    let show = |s: &str| {
        s.lines()
            .skip(line)
            .take(6)
            .collect::<Vec<_>>()
            .join("\n    ")
    };
    format!(
        "{}:{}:\n  want:\n    {}\n  got:\n    {}",
        path.display(),
        line + 1,
        show(want),
        show(got)
    )
}

/// An op from its script form, e.g. `3:p8:e9:t1:r1:b2`; Pending.
pub(crate) fn parse_op(word: &str) -> Result<Op, String> {
    let mut parts = word.split(':');
    let id: u64 = parts
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("op {word:?}: no id"))?;
    let (mut priority, mut effective) = (None, None);
    let (mut target, mut retries, mut budget) = (0, 0, 3);
    for part in parts {
        let (key, value) = part.split_at(1);
        let n: u32 = value
            .parse()
            .map_err(|_| format!("op {word:?}: bad {part:?}"))?;
        let level = || {
            u8::try_from(n)
                .ok()
                .and_then(Priority::new)
                .ok_or_else(|| format!("op {word:?}: priority {n} not in 1-10"))
        };
        match key {
            "p" => priority = Some(level()?),
            "e" => effective = Some(level()?),
            "t" => target = n,
            "r" => retries = n,
            "b" => budget = n,
            _ => return Err(format!("op {word:?}: unknown part {part:?}")),
        }
    }
    let priority = priority.ok_or_else(|| format!("op {word:?}: no :p<priority>"))?;
    let budgets = RetryBudgets {
        structural: budget,
        normal: budget,
        low_priority: budget,
    };
    let mut op = Op::new(
        OpId(id),
        OpKind::VersionEntity,
        priority,
        target,
        &budgets,
        0,
    );
    op.effective = effective.unwrap_or(priority);
    op.retries = retries;
    Ok(op)
}

/// A target from its script form, `t<n>`.
pub(crate) fn parse_target(word: &str) -> Result<u32, String> {
    word.strip_prefix('t')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad target {word:?}"))
}

/// An op id from its script form, a number.
pub(crate) fn parse_id(word: &str) -> Result<OpId, String> {
    word.parse()
        .map(OpId)
        .map_err(|_| format!("bad op id {word:?}"))
}

/// Milliseconds from a script argument.
pub(crate) fn parse_ms(word: &str) -> Result<std::time::Duration, String> {
    word.parse()
        .map(std::time::Duration::from_millis)
        .map_err(|_| format!("bad milliseconds {word:?}"))
}

/// A time or duration in nanoseconds, in whole milliseconds when it is one.
pub(crate) fn ns(t: u64) -> String {
    if t.is_multiple_of(1_000_000) {
        format!("{}ms", t / 1_000_000)
    } else {
        format!("{t}ns")
    }
}

fn ids(ids: &[OpId]) -> String {
    let v: Vec<String> = ids.iter().map(|id| id.0.to_string()).collect();
    format!("[{}]", v.join(" "))
}

/// One event as a line: `ev <kind> op=<id> t<target> <details>`, with
/// `at=` when it happened at another time than `now_ns`.
pub(crate) fn event(ev: &Event, now_ns: u64) -> String {
    let details = match &ev.kind {
        EventKind::OperationSubmitted { .. } => "submitted".to_string(),
        EventKind::OperationConflict {
            pending,
            executing,
            decision,
            ..
        } => format!(
            "conflict pending={} executing={} decision={decision:?}",
            ids(pending),
            executing.map_or("-".to_string(), |e| e.0.to_string()),
        ),
        EventKind::OperationRejected {
            from,
            reason,
            retries,
        } => {
            let reason = match reason {
                RejectReason::Outranked { winner } => format!("outranked-by={}", winner.0),
                RejectReason::BudgetSpent => "budget-spent".to_string(),
            };
            format!("rejected from={from:?} {reason} retries={retries}")
        }
        EventKind::OperationStarted { attempt } => format!("started attempt={attempt}"),
        EventKind::GraceProtected {
            executing,
            elapsed_ns,
        } => format!(
            "grace-protected executing={} elapsed={}",
            executing.0,
            ns(*elapsed_ns)
        ),
        EventKind::OperationPreempted { by, elapsed_ns } => {
            format!("preempted by={} elapsed={}", by.0, ns(*elapsed_ns))
        }
        EventKind::OperationFailed {
            reason,
            attempt,
            injected,
        } => {
            let injected = if *injected { " injected" } else { "" };
            format!("failed reason={reason:?} attempt={attempt}{injected}")
        }
        EventKind::OperationRetry {
            retry,
            max,
            backoff_ns,
        } => format!("retry {retry}/{max} backoff={}", ns(*backoff_ns)),
        EventKind::OperationCompleted { effect, .. } => format!("completed effect={effect:?}"),
        EventKind::OperationCancelled { from } => format!("cancelled from={from:?}"),
        EventKind::EntityVersioned { number, .. } => format!("versioned number={number}"),
        EventKind::EntityModified { fields } => format!("modified fields={fields:?}"),
    };
    let (kind, rest) = details.split_once(' ').unwrap_or((&details, ""));
    let mut line = format!("ev {kind} op={} t{}", ev.op.0, ev.target);
    if !rest.is_empty() {
        line.push(' ');
        line.push_str(rest);
    }
    if ev.t_ns != now_ns {
        let _ = write!(line, " at={}", ns(ev.t_ns));
    }
    line.push('\n');
    line
}

/// Non-zero counters as one line, `tally a=1 b=2`; nothing if all are 0.
pub(crate) fn tally(fields: &[(&str, u64)]) -> String {
    let set: Vec<String> = fields
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("tally {}\n", set.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echoes each command with the clock, so the runner itself is tested.
    struct Echo;

    impl Machine for Echo {
        fn run(&mut self, cmd: &Command, now_ns: u64) -> Result<String, String> {
            match cmd.name.as_str() {
                "quiet" => Ok(String::new()),
                "fail" => Err("asked to".to_string()),
                _ => Ok(format!("{} {:?} at={}\n", cmd.name, cmd.args, ns(now_ns))),
            }
        }
    }

    #[test]
    fn a_script_is_rebuilt_from_what_the_machine_produces() {
        let text = "# comment\n\n@5 a x y=1\nb\n----\nstale\nlines\n\nquiet\n----\n";
        let got = run_script(text, &mut Echo).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            "# comment\n\n@5 a x y=1\nb\n----\na [\"x\"] at=5ms\nb [] at=5ms\n\nquiet\n----\nok\n"
        );
        // Unchanged output reproduces the file exactly.
        assert_eq!(run_script(&got, &mut Echo).as_deref(), Ok(got.as_str()));
    }

    #[test]
    fn malformed_scripts_are_errors() {
        for bad in [
            "a\n",
            "a\n\n----\n",
            "@5 a\n----\n\n@4 a\n----\n",
            "fail\n----\n",
        ] {
            assert!(run_script(bad, &mut Echo).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ops_parse_with_defaults_and_every_part() {
        let op = parse_op("7:p2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                op.id,
                op.priority,
                op.effective,
                op.target,
                op.retries,
                op.budget
            ),
            (OpId(7), Priority::LOW, Priority::LOW, 0, 0, 3)
        );
        let op = parse_op("8:p1:e9:t3:r2:b5").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (op.effective.get(), op.target, op.retries, op.budget),
            (9, 3, 2, 5)
        );
        for bad in ["x:p2", "7", "7:p11", "7:p2:z1", "7:q"] {
            assert!(parse_op(bad).is_err(), "{bad:?}");
        }
    }
}
