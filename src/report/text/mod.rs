//! The text report: a run told as ten sections of tree lines.
//!
//! The look is an emoji header per section with `├─` / `└─` / `│` tree
//! lines under it, a shape people already know how to read;
//! what changed is that every ✅ and ❌ here is computed from the numbers in
//! the [`RunReport`], never printed as decoration. The accounting equation
//! is re-added from its terms, each integrity check and threshold shows the
//! figure it was judged on, and the verdict comes from the run's `outcome`,
//! the same one that sets the exit code.
//!
//! Rendering happens in two steps. Each section is first built as a small
//! tree of [`Node`]s holding plain text and an optional pass/fail mark; a
//! [`Painter`] then draws the trees with the glyphs and colours of the
//! chosen [`TextStyle`]. Section builders therefore never think about emoji,
//! ASCII or ANSI codes, and the two styles cannot drift apart: `--no-emoji`
//! is the same report, drawn with `|-`, `` `- ``, `[ok]` and `[FAIL]`. As a
//! last guard, ASCII mode folds whatever non-ASCII character a piece of data
//! (a check's detail, a config key) might carry, and both modes replace
//! control characters, so data can never smuggle an escape sequence into a
//! report rendered without colour.
//!
//! The parts: [`paint`] (glyphs, colour, character hygiene), [`layout`]
//! (nodes and tables) and [`sections`] (what each section says).

mod compare;
mod history;
mod layout;
mod paint;
mod sections;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use self::compare::render_comparison;
pub use self::history::render_history;
use self::layout::Section;
use self::paint::Painter;
use self::sections::*;
use super::model::{ExitCode, RunReport};

/// How the text report is styled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextStyle {
    /// Emoji and tree-drawing characters; `false` gives plain ASCII.
    pub emoji: bool,
    /// ANSI colours.
    pub color: bool,
    /// Columns a line may take: long lines wrap between words, and tables
    /// that do not fit stack their rows.
    pub width: usize,
}

impl TextStyle {
    /// The width when the output is not a terminal (a file, a pipe, CI).
    pub const DEFAULT_WIDTH: usize = 100;
}

/// Render the full report.
pub fn render(report: &RunReport, out: &mut dyn Write, style: TextStyle) -> io::Result<()> {
    let painter = Painter::new(style);
    let g = painter.glyphs;
    painter.title(out, report)?;
    let mut sections: Vec<Section> = vec![
        configuration(report, g),
        performance(report, g),
        work(report, g),
        conflicts(report, g),
    ];
    sections.extend(targets(report, g));
    sections.extend([
        grace(report, g),
        latency(report, g),
        resources(report, g),
        accounting(report, g),
        integrity(report, g),
        coverage(report, g),
        assessment(report, g),
    ]);
    for section in &sections {
        writeln!(out)?;
        painter.section(out, section)?;
    }
    writeln!(out)?;
    painter.verdict(out, report)
}

/// The verdict in one plain line, for a quiet run that failed:
/// `FAILED (exit 3): integrity check failed: priority_rule`. `code` is the
/// code the process exits with, which an output failure may have raised
/// above the report's own.
pub fn summary(report: &RunReport, code: ExitCode) -> String {
    let word = match code {
        ExitCode::Passed => "PASSED",
        ExitCode::Interrupted | ExitCode::Terminated => "INTERRUPTED",
        _ => "FAILED",
    };
    let reason = if code == report.outcome.exit_code {
        failure_reason(report)
    } else if report.outcome.passed {
        // Only what came after the run failed (an output not written).
        format!(
            "{}; the run itself passed its checks and thresholds",
            code.meaning()
        )
    } else {
        format!("{}; {}", code.meaning(), failure_reason(report))
    };
    format!("{word} (exit {code}): {reason}")
}
