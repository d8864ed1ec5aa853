//! The verdict as JUnit XML: one test case per integrity check and per
//! threshold, so a CI server (GitHub, GitLab, Jenkins) lists them with its
//! own test results and shows what failed.
//!
//! Two suites, `dynstress.integrity` and `dynstress.thresholds`. A failed
//! check carries its first violations; a failed threshold its observed
//! value against the limit. A passed check's figures go to the case's
//! `system-out`. The seed and the replay command are suite properties.
//! Every text is escaped, and characters XML cannot hold are dropped.

use std::io::{self, Write};

use super::format::count;
use super::markup::{escape, threshold_figure, threshold_limit};
use super::model::RunReport;

/// One test case, before it is written.
struct Case {
    name: String,
    /// `(message, body)` of a failure.
    failure: Option<(String, String)>,
    /// Held on nothing: no case of the rule occurred, so nothing was
    /// proven. Reported as skipped, never as a pass.
    skipped: bool,
    out: String,
}

/// Write the document.
pub(crate) fn render(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let checks: Vec<Case> = report
        .integrity
        .checks
        .iter()
        .map(|c| Case {
            name: c.id.name().to_owned(),
            failure: (!c.passed).then(|| {
                (
                    format!("{} violations", count(c.violations)),
                    c.first_violations
                        .iter()
                        .map(|v| v.to_string())
                        .chain((c.violations > c.first_violations.len() as u64).then(|| {
                            format!(
                                "and {} more",
                                count(c.violations - c.first_violations.len() as u64)
                            )
                        }))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            }),
            skipped: c.passed && !c.exercised,
            out: c.detail.clone(),
        })
        .collect();
    let thresholds: Vec<Case> = report
        .thresholds
        .iter()
        .map(|t| {
            let line = format!(
                "observed {} (limit {})",
                threshold_figure(&t.name, t.observed),
                threshold_limit(t)
            );
            Case {
                name: t.name.clone(),
                failure: (!t.passed).then(|| (line.clone(), line.clone())),
                skipped: false,
                out: line,
            }
        })
        .collect();

    let total = checks.len() + thresholds.len();
    let failures = checks
        .iter()
        .chain(&thresholds)
        .filter(|c| c.failure.is_some())
        .count();
    let time = report.duration_s.total;
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="dynstress" tests="{total}" failures="{failures}" errors="0" time="{time:.3}">"#
    )?;
    suite(out, report, "dynstress.integrity", &checks)?;
    suite(out, report, "dynstress.thresholds", &thresholds)?;
    writeln!(out, "</testsuites>")
}

fn suite(out: &mut dyn Write, report: &RunReport, name: &str, cases: &[Case]) -> io::Result<()> {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped).count();
    writeln!(
        out,
        r#"  <testsuite name="{name}" tests="{}" failures="{failures}" errors="0" skipped="{skipped}" time="0">"#,
        cases.len()
    )?;
    writeln!(out, "    <properties>")?;
    for (key, value) in [
        ("seed", report.seed.to_string()),
        ("rerun", report.rerun.clone()),
        ("exit_code", report.outcome.exit_code.to_string()),
        ("interrupted", report.outcome.interrupted.to_string()),
    ] {
        writeln!(
            out,
            r#"      <property name="{key}" value="{}"/>"#,
            escape(&value)
        )?;
    }
    writeln!(out, "    </properties>")?;
    for case in cases {
        writeln!(
            out,
            r#"    <testcase classname="{name}" name="{}" time="0">"#,
            escape(&case.name)
        )?;
        if case.skipped {
            writeln!(
                out,
                r#"      <skipped message="not exercised: no case of this rule occurred"/>"#
            )?;
        }
        if let Some((message, body)) = &case.failure {
            writeln!(
                out,
                r#"      <failure message="{}" type="{name}">{}</failure>"#,
                escape(message),
                escape(body)
            )?;
        }
        writeln!(out, "      <system-out>{}</system-out>", escape(&case.out))?;
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    #[test]
    fn a_check_that_examined_nothing_is_skipped_not_passed() {
        let mut report = sample_report();
        report.integrity.checks[4].exercised = false;
        let mut out = Vec::new();
        render(&report, &mut out).unwrap();
        let xml = String::from_utf8(out).unwrap();
        let case = xml
            .split("<testcase ")
            .find(|c| c.contains("name=\"grace_rule\""))
            .expect("a grace_rule case");
        assert!(case.contains("<skipped message=\"not exercised"), "{case}");
        assert!(xml.contains("skipped=\"1\""), "{xml}");
    }
}
