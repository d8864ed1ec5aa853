//! `dynstress check`: a recorded history's verdict, drawn with the run
//! report's integrity and coverage sections.

use std::io::{self, Write};

use super::TextStyle;
use super::layout::{Node, Section};
use super::paint::Painter;
use super::sections::{coverage_of, integrity_of};
use crate::history::{HistoryReport, Origin};
use crate::report::format::{count, decimal};

/// Render a checked history: what was read, the parameters, the
/// integrity checks, the coverage and the verdict.
pub fn render_history(
    report: &HistoryReport,
    out: &mut dyn Write,
    style: TextStyle,
) -> io::Result<()> {
    let painter = Painter::new(style);
    let g = painter.glyphs;
    writeln!(
        out,
        "{}",
        painter
            .bold
            .apply_to(format!("dynstress{}history check", g.dash))
    )?;
    let p = &report.parameters;
    let origin = match p.grace_period_from {
        Origin::Flag => "--grace-period",
        Origin::Config => "--config",
        Origin::Header => "the header",
    };
    let backoff = match (p.backoff_base_ms, p.backoff_max_ms) {
        (Some(b), Some(m)) => format!(
            "backoff: {} ms base, {} ms ceiling",
            decimal(b, 1),
            decimal(m, 1)
        ),
        _ => "backoff: unknown".to_string(),
    };
    let mut nodes = vec![
        Node::new(format!("source: {}", report.source)),
        Node::new(format!(
            "{} lines, {} events, {} ops submitted, at most {} in flight at once",
            count(report.lines),
            count(report.events),
            count(report.submitted),
            count(report.peak_in_flight)
        )),
        Node::new(format!(
            "grace period: {} s (from {origin})",
            decimal(p.grace_period_seconds, 3)
        )),
        Node::new(backoff),
        Node::new(format!(
            "failures may be injected: {}",
            if p.failures_injected { "yes" } else { "no" }
        )),
    ];
    if let Some(engine) = report.header.as_ref().and_then(|h| h.engine.as_deref()) {
        nodes.insert(1, Node::new(format!("engine: {engine}")));
    }
    let sections = [
        Section {
            icon: "📜",
            tag: "HISTORY",
            title: "History",
            nodes,
        },
        integrity_of(&report.integrity),
        coverage_of(&report.coverage, g),
    ];
    for section in &sections {
        writeln!(out)?;
        painter.section(out, section)?;
    }
    writeln!(out)?;
    let o = &report.outcome;
    let failed: Vec<&str> = report
        .integrity
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.id.name())
        .collect();
    let text = if o.passed {
        format!(
            "HOLDS (exit {}){}every check the history allows held",
            o.exit_code, g.dash
        )
    } else {
        format!(
            "VIOLATED (exit {}){}integrity check failed: {}",
            o.exit_code,
            g.dash,
            failed.join(", ")
        )
    };
    painter.outcome(out, o.passed, &text)
}
