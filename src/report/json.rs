//! The JSON report. (skeleton; to be implemented)

use std::io::{self, Write};

use super::model::RunReport;

/// Write the report as pretty JSON followed by a newline.
pub fn render(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
