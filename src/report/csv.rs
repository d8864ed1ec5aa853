//! The timeline as CSV: one row per span, the columns of
//! [`TimelinePoint`] in its order, for a spreadsheet or a plotting script.
//!
//! Every field is a number, so nothing needs quoting; a figure the span
//! does not have (no commit, hence no percentile; no schedule, hence no
//! target rate) is an empty field.

use std::io::{self, Write};

use super::model::{RunReport, TimelinePoint};

/// The header row, in the order [`row`] writes the fields.
const COLUMNS: [&str; 17] = [
    "t_s",
    "span_s",
    "submitted",
    "committed",
    "rejected",
    "cancelled",
    "settled",
    "in_flight",
    "retries",
    "grace_saves",
    "preemptions",
    "execution_p50_us",
    "execution_p99_us",
    "end_to_end_p50_us",
    "end_to_end_p99_us",
    "rss_mb",
    "target_rate",
];

/// Write the header and one row per timeline point.
pub(crate) fn render(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", COLUMNS.join(","))?;
    for p in &report.timeline {
        writeln!(out, "{}", row(p))?;
    }
    Ok(())
}

fn row(p: &TimelinePoint) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let fields = [
        p.t_s.to_string(),
        p.span_s.to_string(),
        p.submitted.to_string(),
        p.committed.to_string(),
        p.rejected.to_string(),
        p.cancelled.to_string(),
        p.settled.to_string(),
        p.in_flight.to_string(),
        p.retries.to_string(),
        p.grace_saves.to_string(),
        p.preemptions.to_string(),
        opt(p.execution_p50_us),
        opt(p.execution_p99_us),
        opt(p.end_to_end_p50_us),
        opt(p.end_to_end_p99_us),
        p.rss_mb.to_string(),
        p.target_rate.map(|r| r.to_string()).unwrap_or_default(),
    ];
    fields.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    #[test]
    fn every_row_has_every_column() {
        let mut report = sample_report();
        report.timeline[0].execution_p99_us = None;
        let mut out = Vec::new();
        render(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), report.timeline.len() + 1);
        assert!(rows.iter().all(|r| r.len() == COLUMNS.len()));
        assert_eq!(rows[1][12], "");
        assert_eq!(rows[2][0], "2");
    }
}
