//! The baseline comparison as text: one row per metric with the better
//! direction, both figures and the change, then one line saying whether
//! anything regressed. Drawn by the same painter as the run report, so it
//! fits the same widths and folds to ASCII the same way.

use std::io::{self, Write};

use super::TextStyle;
use super::layout::{Node, Section, Table};
use super::paint::{Glyphs, Painter};
use crate::report::compare::{Better, Comparison, Delta, Unit};
use crate::report::format::{NOT_AVAILABLE, compact, decimal, percent};

/// Render `comparison` of `base` (a path, as given) against `new`.
pub fn render_comparison(
    comparison: &Comparison,
    base: &str,
    new: &str,
    out: &mut dyn Write,
    style: TextStyle,
) -> io::Result<()> {
    let painter = Painter::new(style);
    let g = painter.glyphs;
    let table = Table {
        head: vec!["better", "base", "new", "change", "verdict"],
        rows: comparison.deltas.iter().map(|d| row(d, g)).collect(),
    };
    let section = Section {
        icon: "📈",
        tag: "BASELINE",
        title: "Baseline comparison",
        nodes: vec![
            Node::new(format!("base: {base}")),
            Node::new(format!("new: {new}")),
            Node::new(format!(
                "limit: {} worse than the base, per metric",
                percent(comparison.max_regression)
            )),
            table.bare(),
        ],
    };
    painter.section(out, &section)?;
    writeln!(out)?;
    let regressed: Vec<String> = comparison
        .regressed()
        .map(|d| format!("{} ({})", d.metric.label, change(d)))
        .collect();
    painter.outcome(
        out,
        regressed.is_empty(),
        &if regressed.is_empty() {
            format!(
                "no metric regressed by more than {}",
                percent(comparison.max_regression)
            )
        } else {
            format!("REGRESSED (exit 1): {}", regressed.join(", "))
        },
    )
}

fn row(d: &Delta, g: &Glyphs) -> Vec<String> {
    let value = |v: Option<f64>| match v {
        None => NOT_AVAILABLE.to_owned(),
        Some(v) => match d.metric.unit {
            Unit::PerSecond => compact(v),
            Unit::Fraction => percent(v),
            Unit::Micros => g.micros(v),
            Unit::Megabytes => format!("{} MB", decimal(v, 1)),
        },
    };
    let better = match d.metric.better {
        Better::Higher => "higher",
        Better::Lower => "lower",
        Better::Either => "either",
    };
    let verdict = if d.metric.better == Better::Either {
        "not judged"
    } else if d.regressed {
        "REGRESSED"
    } else if d.base.is_none() || d.new.is_none() {
        NOT_AVAILABLE
    } else {
        "ok"
    };
    vec![
        d.metric.label.to_owned(),
        better.to_owned(),
        value(d.base),
        value(d.new),
        change(d),
        verdict.to_owned(),
    ]
}

/// `+12.5%`, `-3.0%`, or `n/a` without a base.
fn change(d: &Delta) -> String {
    match d.change() {
        Some(c) if c > 0.0 => format!("+{}", percent(c)),
        Some(c) => percent(c),
        None if d.regression.is_infinite() => "from 0".to_owned(),
        None => NOT_AVAILABLE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::compare::compare;

    fn rendered(width: usize, emoji: bool) -> String {
        let base = json!({
            "duration_s": { "total": 10.0 },
            "operations": { "succeeded": 1000.0, "rejected": 4000.0, "cancelled": 0.0 },
            "latency_us": { "execution": { "p99": 14 } },
        });
        let mut new = base.clone();
        new["operations"]["succeeded"] = json!(800.0);
        let c = compare(&base, &new, 0.10);
        let mut out = Vec::new();
        let style = TextStyle {
            emoji,
            color: false,
            width,
        };
        render_comparison(&c, "base.json", "new.json", &mut out, style).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_names_the_regression() {
        let out = rendered(100, true);
        let line = out.lines().find(|l| l.contains("succeeded/s")).unwrap();
        assert!(line.contains("higher") && line.contains("100.0"), "{line}");
        assert!(line.contains("80.0") && line.contains("-20.0%"), "{line}");
        assert!(line.contains("REGRESSED"), "{line}");
        assert!(
            out.contains("❌ REGRESSED (exit 1): succeeded/s (-20.0%)"),
            "{out}"
        );
        let ascii = rendered(100, false);
        assert!(ascii.is_ascii(), "{ascii}");
    }

    #[test]
    fn a_narrow_terminal_stacks_the_rows() {
        let out = rendered(60, true);
        assert!(
            out.lines().all(|l| super::super::layout::width(l) <= 60),
            "{out}"
        );
        assert!(out.contains("succeeded/s: better higher"), "{out}");
    }
}
