//! What the markup outputs (Markdown, JUnit XML, HTML) share: escaping for
//! XML and HTML text, and a threshold's figures in the unit its name
//! implies, so a limit reads the same in every one of them.

use super::format::{count, decimal, micros, number, percent};
use super::model::{CheckResult, ThresholdResult};

/// `text` made safe inside XML or HTML text and attribute values. The
/// characters XML 1.0 forbids even escaped (control characters other than
/// tab, newline and carriage return) are dropped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A threshold figure (limit or observed) in the unit its name implies.
pub(crate) fn threshold_figure(name: &str, v: f64) -> String {
    if name.starts_with("max_regression_") {
        // How much worse than the baseline, a fraction, whatever the
        // metric's own unit.
        percent(v)
    } else if name.ends_with("_mb") {
        let mb = if v.fract() == 0.0 {
            number(v)
        } else {
            decimal(v, 1)
        };
        format!("{mb} MB")
    } else if name.ends_with("_us") {
        micros(v, false)
    } else if name.ends_with("_ms") {
        micros(v * 1000.0, false)
    } else if name.contains("rate") || name.contains("accuracy") {
        percent(v)
    } else {
        number(v)
    }
}

/// The limit with its direction: `≥ 15.0%`, `≤ 1,000 MB`.
pub(crate) fn threshold_limit(t: &ThresholdResult) -> String {
    let relation = if t.name.starts_with("min_") {
        "≥ "
    } else if t.name.starts_with("max_") {
        "≤ "
    } else {
        ""
    };
    format!("{relation}{}", threshold_figure(&t.name, t.limit))
}

/// A check's outcome in one line, as the summaries show it: what it
/// covered when it passed (marked "not exercised" when it examined
/// nothing), else its violations.
pub(super) fn check_outcome(check: &CheckResult) -> String {
    if check.passed && !check.exercised {
        format!("not exercised: {}", check.detail)
    } else if check.passed {
        check.detail.clone()
    } else {
        format!(
            "{} violations: {}",
            count(check.violations),
            check.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_and_no_forbidden_characters() {
        assert_eq!(
            escape("a<b> & \"c\" 'd'\u{1}\n"),
            "a&lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;\n"
        );
    }

    #[test]
    fn threshold_figures_carry_their_unit() {
        assert_eq!(
            threshold_figure("max_regression_succeeded_per_s", 0.117),
            "11.7%"
        );
        assert_eq!(threshold_figure("max_regression_peak_rss", 0.1), "10.0%");
        assert_eq!(threshold_figure("max_memory_mb", 1000.0), "1,000 MB");
        assert_eq!(threshold_figure("max_memory_mb", 11.24), "11.2 MB");
        assert_eq!(threshold_figure("min_completion_rate", 0.15), "15.0%");
        assert_eq!(threshold_figure("max_execution_p99_us", 1234.0), "1.2 ms");
        assert_eq!(threshold_figure("min_real_work", 1.0), "1");
    }
}
