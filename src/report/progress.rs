//! Live progress while a run is going, on stderr.
//!
//! A person at a terminal gets an indicatif bar that fills over the
//! submission phase (its length is that phase in milliseconds, so the bar
//! and the clock agree) with the running counts beside it. A CI log gets
//! [`status_line`] instead, one plain line every few seconds, because a
//! redrawn bar in a log file is noise. Both show the same figures from the
//! same [`ProgressSnapshot`], so the two views cannot tell different
//! stories.
//!
//! The bar draws only through indicatif's stderr target, which hides itself
//! when stderr is not a terminal; stdout stays free for the report.

use std::time::Duration;

use indicatif::{ProgressDrawTarget, ProgressStyle};

use super::format::{count, rate};

/// The figures shown at one moment of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProgressSnapshot {
    /// Time since the submission phase started.
    pub elapsed: Duration,
    /// Planned length of the submission phase.
    pub total: Duration,
    pub submitted: u64,
    pub succeeded: u64,
    pub rejected: u64,
    /// Recent submission rate.
    pub ops_per_s: f64,
    /// Submission is over; in-flight ops are finishing.
    pub draining: bool,
}

/// A progress bar on stderr over the submission phase.
pub struct ProgressBar {
    bar: indicatif::ProgressBar,
    emoji: bool,
}

impl ProgressBar {
    /// A bar whose length is `total` (the submission phase) in milliseconds.
    pub fn new(total: Duration, emoji: bool) -> Self {
        ProgressBar::with_target(total, emoji, ProgressDrawTarget::stderr())
    }

    fn with_target(total: Duration, emoji: bool, target: ProgressDrawTarget) -> Self {
        let (template, chars) = if emoji {
            ("{prefix} {bar:30} {msg}", "█▉▊▋▌▍▎▏ ")
        } else {
            ("{prefix} [{bar:30}] {msg}", "=> ")
        };
        // The template is a constant; should indicatif ever refuse it, a
        // plain default bar still shows progress.
        let style = ProgressStyle::with_template(template)
            .map(|s| s.progress_chars(chars))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar =
            indicatif::ProgressBar::with_draw_target(Some(millis(total)), target).with_style(style);
        ProgressBar { bar, emoji }
    }

    /// Show `s`: position = elapsed, message = the running counts.
    pub fn update(&self, s: &ProgressSnapshot) {
        let len = self.bar.length().unwrap_or(0);
        let position = if s.draining {
            len
        } else {
            millis(s.elapsed).min(len)
        };
        self.bar.set_position(position);
        self.bar.set_prefix(clock(s));
        self.bar.set_message(message(s, self.emoji));
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// One plain line for a stderr that is not a terminal, e.g.
/// `[  10.0s/15.0s] submitted 1,002 · completed 182 · rejected 820 · 100.2 ops/s`.
pub fn status_line(s: &ProgressSnapshot, emoji: bool) -> String {
    format!("[{}] {}", clock(s), message(s, emoji))
}

/// `  10.0s/15.0s`: elapsed of total, padded so successive lines align.
fn clock(s: &ProgressSnapshot) -> String {
    format!(
        "{:>6.1}s/{:.1}s",
        s.elapsed.as_secs_f64(),
        s.total.as_secs_f64()
    )
}

fn message(s: &ProgressSnapshot, emoji: bool) -> String {
    let sep = if emoji { " · " } else { " | " };
    let mut m = String::new();
    if s.draining {
        m.push_str("draining");
        m.push_str(sep);
    }
    m.push_str(&format!(
        "submitted {}{sep}completed {}{sep}rejected {}{sep}{} ops/s",
        count(s.submitted),
        count(s.succeeded),
        count(s.rejected),
        rate(s.ops_per_s)
    ));
    m
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> ProgressSnapshot {
        ProgressSnapshot {
            elapsed: Duration::from_millis(10_000),
            total: Duration::from_secs(15),
            submitted: 1_002,
            succeeded: 182,
            rejected: 820,
            ops_per_s: 100.24,
            draining: false,
        }
    }

    #[test]
    fn status_line_shows_every_figure() {
        assert_eq!(
            status_line(&snapshot(), true),
            "[  10.0s/15.0s] submitted 1,002 · completed 182 · rejected 820 · 100.2 ops/s"
        );
    }

    #[test]
    fn ascii_status_line_is_ascii() {
        let line = status_line(&snapshot(), false);
        assert!(line.is_ascii(), "{line}");
        assert_eq!(
            line,
            "[  10.0s/15.0s] submitted 1,002 | completed 182 | rejected 820 | 100.2 ops/s"
        );
    }

    #[test]
    fn status_line_says_when_draining() {
        let s = ProgressSnapshot {
            elapsed: Duration::from_millis(15_400),
            draining: true,
            ..snapshot()
        };
        let line = status_line(&s, true);
        assert!(
            line.starts_with("[  15.4s/15.0s] draining · submitted"),
            "{line}"
        );
    }

    #[test]
    fn bar_tracks_elapsed_in_milliseconds() {
        let bar =
            ProgressBar::with_target(Duration::from_secs(15), true, ProgressDrawTarget::hidden());
        assert_eq!(bar.bar.length(), Some(15_000));
        bar.update(&snapshot());
        assert_eq!(bar.bar.position(), 10_000);
        assert_eq!(
            bar.bar.message(),
            "submitted 1,002 · completed 182 · rejected 820 · 100.2 ops/s"
        );
        assert_eq!(bar.bar.prefix(), "  10.0s/15.0s");

        // Past the end (a late tick) or draining: the bar is full, no more.
        bar.update(&ProgressSnapshot {
            elapsed: Duration::from_secs(16),
            ..snapshot()
        });
        assert_eq!(bar.bar.position(), 15_000);
        bar.update(&ProgressSnapshot {
            elapsed: Duration::from_secs(1),
            draining: true,
            ..snapshot()
        });
        assert_eq!(bar.bar.position(), 15_000);
        assert!(bar.bar.message().starts_with("draining"));

        bar.finish();
        assert!(bar.bar.is_finished());
    }

    #[test]
    fn ascii_bar_message_is_ascii() {
        let bar =
            ProgressBar::with_target(Duration::from_secs(5), false, ProgressDrawTarget::hidden());
        bar.update(&snapshot());
        assert!(bar.bar.message().is_ascii());
    }
}
