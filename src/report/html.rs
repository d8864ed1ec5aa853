//! The HTML report: one self-contained page a person opens in a browser.
//!
//! Everything is inline: the styles, the charts (SVG from [`charts`]) and
//! a few lines of script that count the charts once the page is loaded and
//! write the count into the page, which is how a headless browser test
//! knows they rendered. Nothing is fetched: no network, no CDN, no font
//! file (text uses the browser's own sans-serif and monospace).
//!
//! The page shows the verdict, the headline figures, five charts
//! (throughput, latency, in flight and memory, outcomes by priority,
//! conflict sizes), the integrity checks as a grid, the thresholds with
//! their observed values, the configuration and the command that replays
//! the run. A check or threshold is green when it passed, red when it
//! failed, and amber when it passed on a partial run (interrupted, or
//! stopped early by a failed output), whose figures cover less than the
//! whole workload.

use std::io::{self, Write};

use super::charts;
use super::format::{count, decimal, micros, percent, rate, seconds};
use super::markup::{check_outcome, escape, threshold_figure, threshold_limit};
use super::model::{ExitCode, RunReport};
use super::text;

/// The charts of the page, by id, in order.
type Chart = fn(&RunReport) -> io::Result<String>;
const CHARTS: [(&str, Chart); 5] = [
    ("throughput", charts::throughput),
    ("latency", charts::latency),
    ("in-flight-memory", charts::in_flight_and_memory),
    ("by-priority", charts::by_priority),
    ("conflict-sizes", charts::conflict_sizes),
];

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 0 auto; max-width: 1220px; padding: 16px 20px 40px; color: #212121; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid #e0e0e0; padding-bottom: 4px; }
.verdict { padding: 14px 18px; border-radius: 6px; margin: 12px 0; font-size: 18px; }
.pass { background: #e8f5e9; border-left: 6px solid #2e7d32; }
.warn { background: #fff8e1; border-left: 6px solid #f9a825; }
.fail { background: #ffebee; border-left: 6px solid #c62828; }
.meta { color: #616161; font-size: 14px; }
table { border-collapse: collapse; background: white; }
td, th { border: 1px solid #e0e0e0; padding: 6px 10px; text-align: left; font-size: 14px; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure.chart { margin: 0 0 16px; background: white; border: 1px solid #e0e0e0; }
figure.chart > svg { display: block; max-width: 100%; height: auto; }
.grid { display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px; }
.cell { padding: 10px 12px; border-radius: 4px; font-size: 13px; overflow-wrap: anywhere; }
.cell b { display: block; font-size: 15px; margin-bottom: 4px; }
pre { background: #263238; color: #eceff1; padding: 12px 14px; border-radius: 4px; overflow-x: auto; font-size: 13px; }
#render-check { color: #9e9e9e; font-size: 12px; }
"#;

/// Counts the chart figures and the `<svg>` drawn in them once the page
/// has loaded, and writes both into `#render-check`; a script error is
/// written there too.
const CHECK_SCRIPT: &str = r#"
(function () {
  var out = document.getElementById('render-check');
  window.addEventListener('error', function (e) {
    out.setAttribute('data-error', String(e.message));
  });
  document.addEventListener('DOMContentLoaded', function () {
    var figures = document.querySelectorAll('figure.chart').length;
    var drawn = document.querySelectorAll('figure.chart > svg').length;
    out.setAttribute('data-charts', String(figures));
    out.setAttribute('data-svgs', String(drawn));
    out.textContent = drawn === figures
      ? 'all ' + drawn + ' charts rendered'
      : (figures - drawn) + ' of ' + figures + ' charts missing';
  });
})();
"#;

/// Write the page.
pub(crate) fn render(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let code = report.outcome.exit_code;
    let partial = report.outcome.interrupted || !report.outcome.errors.is_empty();
    let class = |passed: bool| match (passed, partial) {
        (false, _) => "fail",
        (true, true) => "warn",
        (true, false) => "pass",
    };
    let verdict_class = match code {
        ExitCode::Passed => "pass",
        ExitCode::Interrupted | ExitCode::Terminated => "warn",
        _ => "fail",
    };

    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>dynstress: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        escape(&text::summary(report, code))
    )?;
    writeln!(out, "<h1>dynstress run report</h1>")?;
    writeln!(
        out,
        "<p class=\"meta\">dynstress {} · schema {} · seed {} · {} submission, {} drain</p>",
        escape(&report.dynstress_version),
        report.schema_version,
        report.seed,
        seconds(report.duration_s.submission),
        seconds(report.duration_s.drain)
    )?;
    writeln!(
        out,
        "<div class=\"verdict {verdict_class}\" id=\"verdict\">{}</div>",
        escape(&text::summary(report, code))
    )?;
    for error in &report.outcome.errors {
        writeln!(out, "<div class=\"verdict fail\">{}</div>", escape(error))?;
    }

    figures(report, out)?;

    writeln!(out, "<h2>Charts</h2>")?;
    for (id, draw) in CHARTS {
        writeln!(
            out,
            "<figure class=\"chart\" id=\"chart-{id}\">{}</figure>",
            draw(report)?.trim()
        )?;
    }

    writeln!(
        out,
        "<h2>Integrity checks</h2>\n<div class=\"grid\" id=\"checks\">"
    )?;
    for check in &report.integrity.checks {
        let idle = check.passed && !check.exercised;
        let what = check_outcome(check);
        writeln!(
            out,
            "<div class=\"cell {}\"><b>{}</b>{}</div>",
            if idle { "warn" } else { class(check.passed) },
            check.id.name(),
            escape(&what)
        )?;
    }
    writeln!(out, "</div>")?;

    // Coverage: how many cases of each rule path the checks examined;
    // amber when a path was not exercised.
    writeln!(
        out,
        "<h2>Coverage</h2>\n<div class=\"grid\" id=\"coverage\">"
    )?;
    for p in &report.coverage.paths {
        writeln!(
            out,
            "<div class=\"cell {}\"><b>{}</b>{}</div>",
            if p.exercised { "pass" } else { "warn" },
            escape(&p.name),
            if p.exercised {
                format!("{} cases", count(p.cases))
            } else {
                "not exercised".to_string()
            }
        )?;
    }
    writeln!(out, "</div>")?;

    writeln!(
        out,
        "<h2>Thresholds</h2>\n<table id=\"thresholds\">\n\
         <tr><th>threshold</th><th>observed</th><th>limit</th><th>result</th></tr>"
    )?;
    for t in &report.thresholds {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"{}\">{}</td></tr>",
            escape(&t.name),
            escape(&threshold_figure(&t.name, t.observed)),
            escape(&threshold_limit(t)),
            class(t.passed),
            if t.passed { "passed" } else { "FAILED" }
        )?;
    }
    writeln!(out, "</table>")?;

    let config = serde_json::to_string_pretty(&report.config).map_err(io::Error::other)?;
    writeln!(
        out,
        "<h2>Replay</h2>\n<pre id=\"rerun\">{}</pre>\n\
         <h2>Configuration</h2>\n<pre id=\"config\">{}</pre>",
        escape(&report.rerun),
        escape(&config)
    )?;
    writeln!(
        out,
        "<p id=\"render-check\">charts not counted: the page's script did not run</p>\n\
         <script>{CHECK_SCRIPT}</script>\n</body>\n</html>"
    )
}

/// The headline figures as a two-column table.
fn figures(report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
    let ops = &report.operations;
    let r = &report.rates;
    let c = &report.conflicts;
    let l = &report.latency_us;
    let target = r.target_ops_per_s.map_or("capacity mode".to_owned(), |t| {
        format!("target {} ops/s", rate(t))
    });
    let us = |v: u64| micros(v as f64, false);
    let rows = [
        (
            "submitted",
            format!(
                "{} ops, {} ops/s ({target})",
                count(ops.submitted),
                rate(r.achieved_ops_per_s)
            ),
        ),
        (
            "committed / rejected / cancelled",
            format!(
                "{} / {} / {} — completion {} (model {})",
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
                "{} detected, {} ops each on average; {} grace saves, {} preemptions",
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
        (
            "latency p50 / p99",
            format!(
                "execution {} / {}; end to end {} / {}",
                us(l.execution.p50),
                us(l.execution.p99),
                us(l.end_to_end.p50),
                us(l.end_to_end.p99)
            ),
        ),
        (
            "memory",
            format!(
                "peak RSS {} MB (samples: average {} MB)",
                decimal(report.resources.rss_mb_max, 1),
                decimal(report.resources.rss_mb_avg, 1)
            ),
        ),
    ];
    writeln!(out, "<h2>Figures</h2>\n<table id=\"figures\">")?;
    for (name, value) in rows {
        writeln!(out, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value))?;
    }
    writeln!(out, "</table>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    fn page(report: &RunReport) -> String {
        let mut out = Vec::new();
        render(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_page_holds_every_chart_and_fetches_nothing() {
        let html = page(&sample_report());
        for (id, _) in CHARTS {
            let at = html
                .find(&format!("id=\"chart-{id}\"><svg"))
                .unwrap_or_else(|| panic!("no svg for chart {id}"));
            assert!(html[at..].contains("</svg></figure>"));
        }
        for fetch in ["<link", "src=", "@import", "url(", "@font-face"] {
            assert!(!html.contains(fetch), "the page fetches through {fetch}");
        }
    }

    #[test]
    fn a_chart_without_data_says_so() {
        let mut report = sample_report();
        report.timeline.clear();
        report.conflicts.by_size.clear();
        let html = page(&report);
        assert!(html.contains("no timeline"));
        assert!(html.contains("no conflict happened"));
        assert_eq!(html.matches("<svg").count(), CHARTS.len());
    }

    #[test]
    fn a_partial_run_marks_its_passed_checks_amber() {
        let mut report = sample_report();
        report.outcome = crate::report::model::Outcome::new(ExitCode::Interrupted, true);
        let html = page(&report);
        assert!(html.contains("<div class=\"cell warn\"><b>accounting</b>"));
        assert!(!html.contains("cell pass"));
    }

    #[test]
    fn what_was_not_exercised_is_amber_never_green() {
        let mut report = sample_report();
        report.integrity.checks[4].exercised = false;
        report.coverage.paths = vec![
            crate::report::model::CoveragePath {
                name: "ties".into(),
                cases: 7,
                exercised: true,
            },
            crate::report::model::CoveragePath {
                name: "preemptions".into(),
                cases: 0,
                exercised: false,
            },
        ];
        let html = page(&report);
        assert!(html.contains("<div class=\"cell warn\"><b>grace_rule</b>not exercised"));
        assert!(html.contains("<div class=\"cell pass\"><b>ties</b>7 cases"));
        assert!(html.contains("<div class=\"cell warn\"><b>preemptions</b>not exercised"));
    }
}
