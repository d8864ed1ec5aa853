//! Live event lines for `--verbose`: a brutal batch with one line per op, conflicts with their resolution, rejections,
//! starts, grace saves, preemptions, failures, retries and commits.

use std::io::{self, Write};

use console::Style;

use crate::events::{Decision, Event, EventKind, RejectReason};

/// How live lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LiveStyle {
    pub(crate) emoji: bool,
    pub(crate) color: bool,
}

/// Writes one or more lines per event.
pub(crate) struct LiveWriter<W: Write> {
    style: LiveStyle,
    out: W,
    /// Ops of the current batch still to list.
    batch_left: u32,
    green: Style,
    bold: Style,
}

impl<W: Write> LiveWriter<W> {
    pub(crate) fn new(style: LiveStyle, out: W) -> LiveWriter<W> {
        let s = |st: Style| st.force_styling(style.color);
        LiveWriter {
            style,
            out,
            batch_left: 0,
            green: s(Style::new().green()),
            bold: s(Style::new().bold()),
        }
    }

    fn icon(&self, emoji: &'static str, ascii: &'static str) -> &'static str {
        if self.style.emoji { emoji } else { ascii }
    }

    pub(crate) fn event(&mut self, ev: &Event) -> io::Result<()> {
        let (branch, last) = if self.style.emoji {
            ("├─", "└─")
        } else {
            ("|-", "`-")
        };
        match &ev.kind {
            EventKind::OperationSubmitted { batch_size, .. } => {
                if self.batch_left == 0 {
                    self.batch_left = *batch_size;
                    let head = self.bold.apply_to(format!(
                        "{} BRUTAL BATCH: {batch_size} operations to target {} at once",
                        self.icon("🔥", "[BATCH]"),
                        ev.target
                    ));
                    writeln!(self.out, "{head}")?;
                }
                self.batch_left = self.batch_left.saturating_sub(1);
                let b = if self.batch_left == 0 { last } else { branch };
                writeln!(
                    self.out,
                    "   {b} {} {} (priority {}) -> target {}",
                    ev.op_type, ev.op, ev.priority, ev.target
                )
            }
            EventKind::OperationConflict {
                pending,
                executing,
                decision,
                ..
            } => {
                let exec = executing.map_or(String::new(), |e| format!(", {e} executing"));
                writeln!(
                    self.out,
                    "{} CONFLICT DETECTED: {} pending ops compete for target {}{exec}",
                    self.icon("⚔️ ", "[CONFLICT]"),
                    pending.len(),
                    ev.target
                )?;
                let what = match decision {
                    Decision::Start => "starts now",
                    Decision::Wait => "waits for the target",
                    Decision::GraceSave => "waits: the executing op is in its grace period",
                    Decision::Preempt => "preempts the executing op",
                };
                writeln!(
                    self.out,
                    "{} RESOLUTION: winner {} (priority {}) {what}; {} rejected",
                    self.icon("🏆", "[RESOLVED]"),
                    ev.op,
                    ev.priority,
                    pending.len().saturating_sub(1)
                )
            }
            EventKind::OperationRejected { reason, .. } => {
                let why = match reason {
                    RejectReason::Outranked { winner } => format!("outranked by {winner}"),
                    RejectReason::BudgetSpent => "retry budget spent".to_string(),
                };
                let line = format!(
                    "{} REJECTED: {} {} (priority {}): {why}",
                    // Losing a conflict is the rule at work, not an error:
                    // ❌ is kept for real problems.
                    self.icon("↪️ ", "[REJECTED]"),
                    ev.op_type,
                    ev.op,
                    ev.priority
                );
                writeln!(self.out, "{line}")
            }
            EventKind::OperationStarted { attempt } => {
                let again = if *attempt > 1 {
                    format!(", attempt {attempt}")
                } else {
                    String::new()
                };
                writeln!(
                    self.out,
                    "{} OPERATION: started {} {} (priority {}) on target {}{again}",
                    self.icon("🚀", "[START]"),
                    ev.op_type,
                    ev.op,
                    ev.priority,
                    ev.target
                )
            }
            EventKind::GraceProtected {
                executing,
                elapsed_ns,
            } => writeln!(
                self.out,
                "{} GRACE: {executing} protected from {} after {:.1} ms",
                self.icon("🛡️ ", "[GRACE]"),
                ev.op,
                *elapsed_ns as f64 / 1e6
            ),
            EventKind::OperationPreempted { by, elapsed_ns } => writeln!(
                self.out,
                "{} PREEMPTED: {} by {by} after {:.1} ms",
                self.icon("⚡", "[PREEMPT]"),
                ev.op,
                *elapsed_ns as f64 / 1e6
            ),
            EventKind::OperationFailed {
                reason, attempt, ..
            } => writeln!(
                self.out,
                "{} FAILED: {} {} attempt {attempt}: {reason}",
                self.icon("💥", "[FAILED]"),
                ev.op_type,
                ev.op
            ),
            EventKind::OperationRetry {
                retry,
                max,
                backoff_ns,
            } => writeln!(
                self.out,
                "{} RETRY: {} retry {retry} of {max} after {:.1} ms backoff",
                self.icon("↩️ ", "[RETRY]"),
                ev.op,
                *backoff_ns as f64 / 1e6
            ),
            EventKind::OperationCompleted { execution_ns, .. } => {
                let line = format!(
                    "{} SUCCEEDED: {} {} in {:.1} µs",
                    self.icon("✅", "[SUCCEEDED]"),
                    ev.op_type,
                    ev.op,
                    *execution_ns as f64 / 1e3
                );
                writeln!(self.out, "{}", self.green.apply_to(line))
            }
            EventKind::OperationCancelled { .. } => writeln!(
                self.out,
                "{} CANCELLED: {} {} at the drain deadline",
                self.icon("🚫", "[CANCELLED]"),
                ev.op_type,
                ev.op
            ),
            EventKind::EntityVersioned { .. } | EventKind::EntityModified { .. } => Ok(()),
        }
    }
}
