//! The Markdown summary: the verdict, the headline figures, every
//! threshold and integrity check, and the command that replays the run,
//! as GitHub-flavoured Markdown tables.
//!
//! It is written for a CI job's page: GitHub shows it as the step summary
//! (`GITHUB_STEP_SUMMARY`), and a merge-request comment or a wiki takes it
//! as it is. Table cells are escaped so that a violation's text never
//! breaks the table.

use std::io::{self, Write};

use super::format::{count, decimal, micros, percent, rate, seconds};
use super::markup::{check_outcome, threshold_figure, threshold_limit};
use super::model::{ExitCode, LatencySummary, RunReport};
use super::text;

/// Write the summary.
pub(crate) fn render(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let outcome = &report.outcome;
    let icon = match outcome.exit_code {
        ExitCode::Passed => "✅",
        ExitCode::Interrupted | ExitCode::Terminated => "⚠️",
        _ => "❌",
    };
    writeln!(
        out,
        "## {icon} dynstress: {}\n",
        cell(&text::summary(report, outcome.exit_code))
    )?;
    for error in &outcome.errors {
        writeln!(out, "> {}\n", cell(error))?;
    }

    let ops = &report.operations;
    let r = &report.rates;
    let c = &report.conflicts;
    let target = r.target_ops_per_s.map_or("capacity mode".to_owned(), |t| {
        format!("target {} ops/s", rate(t))
    });
    let latency = |l: &LatencySummary| {
        format!(
            "{} / {}",
            micros(l.p50 as f64, false),
            micros(l.p99 as f64, false)
        )
    };
    let rows = [
        (
            "submitted",
            format!(
                "{} ops in {} ({} ops/s, {target})",
                count(ops.submitted),
                seconds(report.duration_s.submission),
                rate(r.achieved_ops_per_s)
            ),
        ),
        (
            "committed / rejected / cancelled",
            format!(
                "{} / {} / {} (completion {}, model {})",
                count(ops.succeeded),
                count(ops.rejected),
                count(ops.cancelled),
                percent(r.completion_rate),
                percent(r.model_completion_rate)
            ),
        ),
        (
            "conflicts",
            format!(
                "{} ({} ops each), {} grace saves, {} preemptions",
                count(c.detected),
                decimal(c.ops_per_conflict, 1),
                count(c.grace_saves),
                count(c.preemptions)
            ),
        ),
        (
            "retries",
            format!(
                "{} failed attempts, {} retried",
                count(ops.failed_attempts),
                count(ops.retried)
            ),
        ),
        ("execution p50 / p99", latency(&report.latency_us.execution)),
        (
            "end to end p50 / p99",
            latency(&report.latency_us.end_to_end),
        ),
        (
            "peak RSS",
            format!("{} MB", decimal(report.resources.rss_mb_max, 1)),
        ),
    ];
    writeln!(out, "| figure | value |\n|---|---|")?;
    for (name, value) in rows {
        writeln!(out, "| {name} | {} |", cell(&value))?;
    }

    writeln!(
        out,
        "\n### Thresholds\n\n| | threshold | observed | limit |\n|---|---|---|---|"
    )?;
    for t in &report.thresholds {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            mark(t.passed),
            cell(&t.name),
            cell(&threshold_figure(&t.name, t.observed)),
            cell(&threshold_limit(t))
        )?;
    }

    writeln!(
        out,
        "\n### Integrity checks\n\n| | check | result |\n|---|---|---|"
    )?;
    for check in &report.integrity.checks {
        let idle = check.passed && !check.exercised;
        let result = check_outcome(check);
        writeln!(
            out,
            "| {} | {} | {} |",
            if idle { "⚠️" } else { mark(check.passed) },
            check.id.name(),
            cell(&result)
        )?;
    }

    writeln!(
        out,
        "\nSeed `{}`. Replay:\n\n```sh\n{}\n```",
        report.seed, report.rerun
    )
}

fn mark(passed: bool) -> &'static str {
    if passed { "✅" } else { "❌" }
}

/// Text made safe inside a table cell: one line, no column breaks, no
/// inline HTML.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{CheckId, Violation};
    use crate::report::sample_report;

    #[test]
    fn a_violation_with_markup_stays_inside_its_cell() {
        let mut report = sample_report();
        let check = &mut report.integrity.checks[3];
        check.passed = false;
        check.violations = 1;
        check.first_violations.push(Violation {
            check: CheckId::PriorityRule,
            op: Some(12),
            target: Some(3),
            rule: "winner | outranked".to_owned(),
            detail: "<b>line one\nline two".to_owned(),
        });
        let mut out = Vec::new();
        render(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let row = text
            .lines()
            .find(|l| l.contains("priority_rule"))
            .expect("a row for the check");
        assert!(row.starts_with("| ❌ | priority_rule |"), "{row}");
        assert!(row.contains("winner \\| outranked: &lt;b&gt;line one line two"));
        // Three cells: four unescaped bars.
        assert_eq!(row.replace("\\|", "").matches('|').count(), 4, "{row}");
    }

    #[test]
    fn a_check_that_examined_nothing_is_a_warning_not_a_pass() {
        let mut report = sample_report();
        report.integrity.checks[4].exercised = false;
        let mut out = Vec::new();
        render(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("| grace_rule |"))
            .expect("a grace_rule row");
        assert!(line.starts_with("| ⚠️ |"), "{line}");
        assert!(line.contains("not exercised"), "{line}");
    }
}
