//! The text report. (skeleton; to be implemented)

use std::io::{self, Write};

use super::model::RunReport;

/// How the text report is styled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextStyle {
    /// Emoji and tree-drawing characters; `false` gives plain ASCII.
    pub emoji: bool,
    /// ANSI colours.
    pub color: bool,
}

/// Render the full report.
pub fn render(report: &RunReport, out: &mut dyn Write, style: TextStyle) -> io::Result<()> {
    let _ = (report, style);
    writeln!(out, "report rendering is not built yet")
}
