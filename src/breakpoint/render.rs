//! The search as people and machines read it: a progress line per step,
//! the summary and step table, and the JSON document.
//!
//! The table is Markdown with padded columns, so it reads on a terminal and
//! pastes into a document as it stands. The JSON is [`Search`] serialised
//! as it stands (`schema_version` [`super::SCHEMA_VERSION`]): nothing is
//! computed here that the JSON lacks. Every renderer takes a `Write`.

use std::io::{self, Write};

use super::{Condition, Growth, Plan, Search, Step, Stop, Verdict};
use crate::report::format::{count, micros, number, rate};

/// One line on the step just judged:
/// `step 3/15: 4,000 ops/s for 2 s: achieved ..., held`.
pub fn progress(plan: &Plan, n: usize, step: &Step, out: &mut dyn Write) -> io::Result<()> {
    let total = plan.rates().count();
    writeln!(
        out,
        "step {n}/{total}: {} ops/s for {} s: achieved {}/s, committed {}/s, \
         lateness p99 {}, e2e p99 {}, in flight {} of {}: {}{}",
        number(step.target_ops_per_s),
        number(plan.step_seconds),
        rate(step.achieved_ops_per_s),
        rate(step.committed_ops_per_s),
        ms(step.lateness_p99_ms),
        ms(step.e2e_p99_ms),
        count(step.in_flight_peak),
        count(step.in_flight_limit),
        verdict(step.verdict),
        match reasons(step).as_str() {
            "" => String::new(),
            r => format!(" ({r})"),
        },
    )
}

/// The summary line, the plan, and the table of steps.
pub fn table(search: &Search, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", summary(search))?;
    let p = &search.plan;
    let growth = match p.growth {
        Growth::Factor(f) => format!("x{}", number(f)),
        Growth::Step(s) => format!("+{} ops/s", number(s)),
    };
    writeln!(
        out,
        "steps of {} s from {} ops/s, {growth} each, up to {} ops/s; limits: lateness p99 {}, \
         e2e p99 {}, the in-flight limit, the config's thresholds; seed {}",
        number(p.step_seconds),
        number(p.start),
        number(p.ceiling),
        ms(p.max_lateness_ms),
        ms(p.max_e2e_p99_ms),
        search.seed,
    )?;
    writeln!(out)?;
    let header = [
        "target ops/s",
        "achieved ops/s",
        "committed/s",
        "settled/s",
        "lateness p99",
        "e2e p99",
        "in flight peak",
        "verdict",
        "stopped by",
    ];
    let rows: Vec<[String; 9]> = search
        .steps
        .iter()
        .map(|s| {
            [
                number(s.target_ops_per_s),
                rate(s.achieved_ops_per_s),
                rate(s.committed_ops_per_s),
                rate(s.settled_ops_per_s),
                ms(s.lateness_p99_ms),
                ms(s.e2e_p99_ms),
                format!("{} / {}", count(s.in_flight_peak), count(s.in_flight_limit)),
                verdict(s.verdict).to_string(),
                reasons(s),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "| {} |", padded.join(" | ").trim_end())
    };
    line(out, &header)?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, &rule.iter().map(String::as_str).collect::<Vec<_>>())?;
    for row in &rows {
        line(out, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
    }
    Ok(())
}

/// The search as pretty JSON, then a newline.
pub fn json(search: &Search, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, search)?;
    writeln!(out)
}

/// What the search found, in one line (and a line per failed check).
fn summary(search: &Search) -> String {
    let o = &search.outcome;
    let last = search.steps.last();
    let held = match o.highest_held_ops_per_s {
        Some(r) => format!("held up to {} ops/s", number(r)),
        None => "no step held".to_string(),
    };
    let at = o.stopped_at_ops_per_s.map(number).unwrap_or_default();
    match o.stop {
        Stop::Broke => format!(
            "breaking point: {held}; broke at {at} ops/s: {}",
            last.map(reasons).unwrap_or_default()
        ),
        Stop::Ceiling => format!(
            "no breaking point below the ceiling: every step held, up to {} ops/s",
            number(search.plan.ceiling)
        ),
        Stop::Integrity => {
            let mut text = format!("integrity failure at {at} ops/s (exit 3)");
            for c in last.iter().flat_map(|s| &s.failed_checks) {
                text.push_str(&format!("\n  {}: {}", c.name, c.detail));
            }
            text
        }
        Stop::RunFailed => format!(
            "the run at {at} ops/s could not be carried out (exit 4): {}; {held}",
            o.error.as_deref().unwrap_or("unknown error")
        ),
        Stop::Interrupted => format!("interrupted (exit 130); {held}"),
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Held => "held",
        Verdict::Broke => "broke",
        Verdict::IntegrityFailed => "INTEGRITY FAILED",
        Verdict::Interrupted => "interrupted",
    }
}

/// Every failed check (by name; the summary gives the violations) and
/// condition of a step, `; `-separated.
fn reasons(step: &Step) -> String {
    let checks = step
        .failed_checks
        .iter()
        .map(|c| format!("integrity check {} failed", c.name));
    let conditions = step.stopped_by.iter().map(|c| match c {
        Condition::LatenessP99 {
            observed_ms,
            limit_ms,
        } => format!("lateness p99 {} > {}", ms(*observed_ms), ms(*limit_ms)),
        Condition::E2eP99 {
            observed_ms,
            limit_ms,
        } => format!("e2e p99 {} > {}", ms(*observed_ms), ms(*limit_ms)),
        Condition::InFlightLimit { waits, limit } => format!(
            "in-flight limit {} reached ({} waits)",
            count(*limit),
            count(*waits)
        ),
        Condition::Threshold {
            name,
            observed,
            limit,
        } => format!(
            "threshold {name} failed ({} against {})",
            number(*observed),
            number(*limit)
        ),
    });
    checks.chain(conditions).collect::<Vec<_>>().join("; ")
}

/// Milliseconds with a unit picked from their size.
fn ms(ms: f64) -> String {
    micros(ms * 1_000.0, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breakpoint::{PlanFlags, SearchOutcome, judge};
    use crate::report::model::ExitCode;
    use crate::report::sample_report;

    fn search() -> Search {
        let plan = Plan::new(&PlanFlags {
            start: 100.0,
            ceiling: 400.0,
            step_seconds: 1.0,
            ..PlanFlags::default()
        })
        .unwrap();
        let held = judge(&sample_report(), &plan, 100.0);
        let mut late = sample_report();
        late.latency_us.submission_lateness.p99 = 81_200;
        let broke = judge(&late, &plan, 200.0);
        Search {
            schema_version: 1,
            dynstress_version: "0.1.0".into(),
            seed: 42,
            config: serde_json::json!({}),
            plan,
            steps: vec![held, broke],
            outcome: SearchOutcome {
                stop: Stop::Broke,
                exit_code: ExitCode::Passed,
                highest_held_ops_per_s: Some(100.0),
                stopped_at_ops_per_s: Some(200.0),
                error: None,
            },
        }
    }

    fn text(f: impl Fn(&mut dyn Write) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_names_the_rate_that_held_and_what_broke_the_next() {
        let s = search();
        let t = text(|o| table(&s, o));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "breaking point: held up to 100 ops/s; broke at 200 ops/s: \
             lateness p99 81.2 ms > 50.0 ms"
        );
        assert!(
            lines[3].starts_with("| target ops/s | achieved ops/s |"),
            "{t}"
        );
        assert!(lines[4].starts_with("| ------------ | -"), "{t}");
        assert!(lines[5].starts_with("| 100          | 100.1 "), "{t}");
        assert!(lines[5].contains("| held"), "{t}");
        assert!(
            lines[6].ends_with("| broke   | lateness p99 81.2 ms > 50.0 ms |"),
            "{t}"
        );
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn progress_is_one_line_per_step() {
        let s = search();
        let line = text(|o| progress(&s.plan, 2, &s.steps[1], o));
        assert!(
            line.starts_with("step 2/3: 200 ops/s for 1 s: achieved 100.1/s"),
            "{line}"
        );
        assert!(
            line.ends_with(": broke (lateness p99 81.2 ms > 50.0 ms)\n"),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let v: serde_json::Value = serde_json::from_str(&text(|o| json(&search(), o))).unwrap();
        assert_eq!(v["plan"]["growth"], serde_json::json!({"factor": 2.0}));
        assert_eq!(v["plan"]["ceiling_ops_per_s"], 400.0);
        assert_eq!(v["outcome"]["stop"], "broke");
        assert_eq!(v["outcome"]["highest_held_ops_per_s"], 100.0);
        assert_eq!(v["steps"][0]["verdict"], "held");
        assert_eq!(
            v["steps"][1]["stopped_by"],
            serde_json::json!([{"condition": "lateness_p99", "observed_ms": 81.2, "limit_ms": 50.0}])
        );
        for key in [
            "target_ops_per_s",
            "achieved_ops_per_s",
            "committed_ops_per_s",
            "settled_ops_per_s",
            "lateness_p99_ms",
            "e2e_p99_ms",
            "in_flight_peak",
            "in_flight_limit",
            "run_exit_code",
            "failed_checks",
        ] {
            assert!(v["steps"][1].get(key).is_some(), "{key} missing");
        }
    }
}
