//! Runs the monitor's golden scripts (`testscripts/monitor/`).
//!
//! Commands (see `harness/script.rs` for the file format and op syntax):
//!
//! ```text
//! init targets=<n> grace=<ms> [inject=<fault>] [seed=<n>]
//! submit <op>...      one batch from the submitter
//! done t<n> <id>      the driver: op <id> on target t<n> finished
//! requeue <op>        the driver: a failed op is back from its backoff
//! grace-end t<n>      the grace timer of target t<n> expired
//! close               the drain deadline
//! status              every target: executing op and Pending ones
//! ```
//!
//! Each input prints what the machine decided, in order: `ev` lines (events
//! for the bus), `cmd` lines (commands for the driver), `timer` lines
//! (grace timers to arm) and one `tally` line of the non-zero counts.

use std::fmt::Write as _;
use std::time::Duration;

use super::state::{Outputs, State};
use crate::harness::script::{self, Command, Machine, ns, parse_id, parse_op, parse_target};
use crate::harness::{Cmd, Inject};
use crate::ops::{Op, Priority};

#[derive(Default)]
struct Script {
    st: Option<State>,
}

impl Script {
    fn state(&mut self) -> Result<&mut State, String> {
        self.st.as_mut().ok_or_else(|| "init first".to_string())
    }
}

impl Machine for Script {
    fn run(&mut self, cmd: &Command, now: u64) -> Result<String, String> {
        let mut out = Outputs::default();
        match cmd.name.as_str() {
            "init" => {
                let num = |key: &str, default: u64| {
                    cmd.get(key)
                        .map_or(Ok(default), str::parse)
                        .map_err(|_| format!("bad {key}"))
                };
                let inject = match cmd.get("inject") {
                    Some(name) => {
                        Some(Inject::from_name(name).ok_or(format!("no fault {name:?}"))?)
                    }
                    None => None,
                };
                self.st = Some(State::new(
                    num("targets", 1)? as u32,
                    Duration::from_millis(num("grace", 500)?),
                    inject,
                    num("seed", 1)?,
                ));
                return Ok(String::new());
            }
            "submit" => {
                let ops = cmd
                    .args
                    .iter()
                    .map(|w| parse_op(w))
                    .collect::<Result<Vec<Op>, String>>()?;
                self.state()?.batch(ops.into_iter(), now, now, &mut out);
            }
            "done" => {
                let t = parse_target(cmd.arg(0)?)?;
                let id = parse_id(cmd.arg(1)?)?;
                self.state()?.done(t, id, now, now, &mut out);
            }
            "requeue" => {
                let op = parse_op(cmd.arg(0)?)?;
                self.state()?.requeue(op, now, now, &mut out);
            }
            "grace-end" => {
                let t = parse_target(cmd.arg(0)?)?;
                self.state()?.grace_end(t, now, &mut out);
            }
            "close" => self.state()?.close(now, &mut out),
            "status" => {
                let st = self.state()?;
                let mut s = String::new();
                for t in 0..st.targets() {
                    let (executing, pending) = st.describe(t);
                    let executing = executing.map_or("-".to_string(), |(id, p, since)| {
                        format!("{}:p{p}@{}", id.0, ns(since))
                    });
                    let pending: Vec<String> = pending.iter().map(|id| id.0.to_string()).collect();
                    let _ = writeln!(
                        s,
                        "t{t} executing={executing} pending=[{}]",
                        pending.join(" ")
                    );
                }
                return Ok(s);
            }
            other => return Err(format!("unknown command {other:?}")),
        }
        Ok(render(&out, now))
    }
}

fn render(out: &Outputs, now: u64) -> String {
    let mut s = String::new();
    for ev in &out.events {
        s.push_str(&script::event(ev, now));
    }
    for cmd in &out.cmds {
        let _ = match cmd {
            Cmd::Start { op, started_ns } => writeln!(
                s,
                "cmd start op={} t{} at={} state={:?}",
                op.id.0,
                op.target,
                ns(*started_ns),
                op.state
            ),
            Cmd::Preempt {
                victim,
                winner,
                decided_ns,
            } => writeln!(
                s,
                "cmd preempt victim={} winner={} t{} at={} state={:?}",
                victim.0,
                winner.id.0,
                winner.target,
                ns(*decided_ns),
                winner.state
            ),
            Cmd::Close => writeln!(s, "cmd close"),
        };
    }
    for (t, after) in &out.timers {
        let _ = writeln!(s, "timer t{t} after={}", ns(after.as_nanos() as u64));
    }
    let t = out.tally;
    s.push_str(&script::tally(&[
        ("settled", t.settled),
        ("rejected", t.rejected),
        ("cancelled", t.cancelled),
        ("grace-saves", t.grace_saves),
        ("conflicts", t.conflicts),
        ("illegal", t.illegal),
    ]));
    s
}

#[test]
fn scripts() {
    script::run_dir("monitor", Script::default);
}

/// The wrong-winner fault is random (seeded): over many two-op conflicts
/// it must pick the lower op sometimes, and the right one most of the time.
#[test]
fn wrong_winner_sometimes_picks_the_lower_op() {
    let mut st = State::new(1, Duration::ZERO, Some(Inject::WrongWinner), 7);
    let (mut right, mut wrong) = (0, 0);
    for i in 0..200u64 {
        let mut out = Outputs::default();
        let high = parse_op(&format!("{}:p8", 2 * i + 1)).unwrap_or_else(|e| panic!("{e}"));
        let low = parse_op(&format!("{}:p2", 2 * i + 2)).unwrap_or_else(|e| panic!("{e}"));
        st.batch([high, low].into_iter(), 0, 0, &mut out);
        let Some(Cmd::Start { op, .. }) = out.cmds.first() else {
            panic!("no start: {:?}", out.cmds);
        };
        if op.effective == Priority::HIGH {
            right += 1;
        } else {
            wrong += 1;
        }
        st.done(0, op.id, 0, 0, &mut out);
    }
    assert!(wrong > 0, "the fault never fired");
    assert!(right > wrong, "right {right}, wrong {wrong}");
}

/// A conflict's resolution latency runs from the arrival of the message
/// that caused it to the time of the decision, both given as parameters.
#[test]
fn resolution_latency_counts_from_arrival() {
    use crate::events::EventKind;
    let mut st = State::new(1, Duration::from_millis(500), None, 1);
    let mut out = Outputs::default();
    let ops = ["1:p5", "2:p8"].map(|w| parse_op(w).unwrap_or_else(|e| panic!("{e}")));
    st.batch(ops.into_iter(), 1_000, 1_250, &mut out);
    let latencies: Vec<u64> = out
        .events
        .iter()
        .filter_map(|ev| match ev.kind {
            EventKind::OperationConflict { resolution_ns, .. } => Some(resolution_ns),
            _ => None,
        })
        .collect();
    assert_eq!(latencies, [250]);
}

/// Only busy targets hold a slot; an idle target's slot is reused by the
/// next one that gets busy.
#[test]
fn slots_are_held_by_busy_targets_only() {
    let op = |w: &str| parse_op(w).unwrap_or_else(|e| panic!("{e}"));
    let mut st = State::new(1_000, Duration::from_millis(500), None, 1);
    let mut out = Outputs::default();
    assert_eq!(st.slots_held(), (0, 0));
    st.batch([op("1:p5:t3"), op("2:p8:t3")].into_iter(), 0, 0, &mut out);
    st.batch([op("3:p5:t900")].into_iter(), 0, 0, &mut out);
    assert_eq!(st.slots_held(), (2, 0));
    st.done(3, crate::ops::OpId(2), 1, 1, &mut out);
    assert_eq!(st.slots_held(), (1, 1));
    assert_eq!(st.describe(3), (None, vec![]));
    st.batch([op("4:p5:t7")].into_iter(), 2, 2, &mut out);
    assert_eq!(st.slots_held(), (2, 0));
    st.close(3, &mut out);
    assert_eq!(st.slots_held(), (2, 0), "both still execute");
    st.done(900, crate::ops::OpId(3), 4, 4, &mut out);
    st.done(7, crate::ops::OpId(4), 4, 4, &mut out);
    assert_eq!(st.slots_held(), (0, 2));
}
