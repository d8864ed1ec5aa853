//! Runs the driver's golden scripts (`testscripts/driver/`).
//!
//! Commands (see `harness/script.rs` for the file format and op syntax):
//!
//! ```text
//! init stall=<ms> backoff=<ms> backoff-max=<ms> [inject=<fault>]
//! start <op> [stall] [then=<end>]         the monitor: start the winner
//! preempt <victim id> <op> [stall] [then=<end>]
//! stall-end <id> [then=<end>]             the stall timer of <id> expired
//! backoff-end <id>                        the backoff timer of <id> expired
//! close                                   the drain deadline
//! status                                  stalled and backing-off ops
//! ```
//!
//! The script decides the draws a run makes at random: `stall` makes the
//! started op stall, `then=commit|fail|panic` (default commit) is how an
//! execution attempt the input causes ends, and a backoff lasts its
//! un-jittered ceiling. Each input prints, in order: `ev` lines (events),
//! `execute` when an attempt runs (the outcome follows as events), `msg`
//! lines (for the monitor), `timer` lines and one `tally` line.

use std::fmt::Write as _;
use std::time::Duration;

use super::state::{Chance, Outcome, Outputs, State, Timer};
use crate::events::Effect;
use crate::harness::script::{self, Command, Machine, ns, parse_id, parse_ms, parse_op};
use crate::harness::{DriverMsg, Inject};
use crate::ops::backoff::Backoff;
use crate::ops::exec::{Executed, Fault};
use crate::ops::{FailReason, Op};

/// The draws, as the current input line sets them.
struct Scripted {
    stall: bool,
    fault: Option<Fault>,
    backoff: Backoff,
}

impl Chance for Scripted {
    fn stalls(&mut self, _op: &Op) -> bool {
        self.stall
    }

    fn fault(&mut self, _op: &Op) -> Option<Fault> {
        self.fault
    }

    fn backoff(&mut self, op: &Op) -> Duration {
        self.backoff.ceiling(op.retries)
    }
}

#[derive(Default)]
struct Script {
    st: Option<State<Scripted>>,
}

impl Machine for Script {
    fn run(&mut self, cmd: &Command, now: u64) -> Result<String, String> {
        if cmd.name == "init" {
            let ms = |key: &str, default: &str| parse_ms(cmd.get(key).unwrap_or(default));
            let inject = match cmd.get("inject") {
                Some(name) => Some(Inject::from_name(name).ok_or(format!("no fault {name:?}"))?),
                None => None,
            };
            let chance = Scripted {
                stall: false,
                fault: None,
                backoff: Backoff {
                    base: ms("backoff", "10")?,
                    max: ms("backoff-max", "40")?,
                },
            };
            self.st = Some(State::new(chance, ms("stall", "1000")?, inject));
            return Ok(String::new());
        }
        let st = self.st.as_mut().ok_or("init first")?;
        let chance = st.chance_mut();
        chance.stall = cmd.flag("stall");
        chance.fault = match cmd.get("then").unwrap_or("commit") {
            "commit" => None,
            "fail" => Some(Fault {
                step: 1,
                panic: false,
            }),
            "panic" => Some(Fault {
                step: 1,
                panic: true,
            }),
            other => return Err(format!("then={other:?}: commit, fail or panic")),
        };
        let mut out = Outputs::default();
        let mut executions = String::new();
        match cmd.name.as_str() {
            "start" => st.start(parse_op(cmd.arg(0)?)?, now, &mut out),
            "preempt" => {
                let victim = parse_id(cmd.arg(0)?)?;
                st.preempt(victim, parse_op(cmd.arg(1)?)?, now, &mut out);
            }
            "stall-end" => st.stall_end(parse_id(cmd.arg(0)?)?, &mut out),
            "backoff-end" => st.backoff_end(parse_id(cmd.arg(0)?)?, now, &mut out),
            "close" => st.close(now, &mut out),
            "status" => return Ok(format!("{}\n", st.describe())),
            other => return Err(format!("unknown command {other:?}")),
        }
        // What the task does with an execution: run it, feed the outcome
        // back at once. The outcome is the drawn fault's.
        while let Some(x) = out.execute.take() {
            let _ = write!(executions, "execute op={}", x.op.id.0);
            if let Some(f) = x.fault {
                let _ = write!(
                    executions,
                    " fault=step{}{}",
                    f.step,
                    if f.panic { "+panic" } else { "" }
                );
            }
            if x.leak {
                executions.push_str(" leak");
            }
            executions.push('\n');
            let outcome = match x.fault {
                None => Outcome::Committed(Executed {
                    effect: Effect::Versioned,
                    versions: Vec::new(),
                    fields: &[],
                }),
                Some(f) if f.panic => Outcome::Panicked { injected: true },
                Some(f) => Outcome::Failed {
                    reason: FailReason::InjectedFault { step: f.step },
                    injected: true,
                },
            };
            let before = out.events.len();
            st.executed(x.op, outcome, 0, now, &mut out);
            for ev in &out.events[before..] {
                executions.push_str(&script::event(ev, now));
            }
            out.events.truncate(before);
        }
        Ok(render(&out, &executions, now))
    }
}

fn render(out: &Outputs, executions: &str, now: u64) -> String {
    let mut s = String::new();
    for ev in &out.events {
        s.push_str(&script::event(ev, now));
    }
    s.push_str(executions);
    for msg in &out.msgs {
        let _ = match msg {
            DriverMsg::Done { target, op } => writeln!(s, "msg done op={} t{target}", op.0),
            DriverMsg::Requeue(op) => writeln!(
                s,
                "msg requeue op={} t{} retries={} state={:?}",
                op.id.0, op.target, op.retries, op.state
            ),
        };
    }
    for timer in &out.timers {
        let _ = match timer {
            Timer::Stall(id, after) => writeln!(
                s,
                "timer stall op={} after={}",
                id.0,
                ns(after.as_nanos() as u64)
            ),
            Timer::Backoff(id, after) => writeln!(
                s,
                "timer backoff op={} after={}",
                id.0,
                ns(after.as_nanos() as u64)
            ),
            Timer::CancelStall(id) => writeln!(s, "timer cancel-stall op={}", id.0),
            Timer::CancelBackoff(id) => writeln!(s, "timer cancel-backoff op={}", id.0),
        };
    }
    let t = out.tally;
    s.push_str(&script::tally(&[
        ("started", t.started),
        ("succeeded", t.succeeded),
        ("failed", t.failed),
        ("retried", t.retried),
        ("preempted", t.preempted),
        ("panics", t.panics),
        ("rejected", t.rejected),
        ("cancelled", t.cancelled),
        ("settled", t.settled),
        ("illegal", t.illegal),
    ]));
    s
}

#[test]
fn scripts() {
    script::run_dir("driver", Script::default);
}
