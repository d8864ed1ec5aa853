//! Live progress while a run is going, on stderr.
//!
//! A person at a terminal gets an indicatif bar that fills over the
//! submission phase (its length is that phase in milliseconds, so the bar
//! and the clock agree) with the running counts, in compact figures, and
//! the time left beside it; the line is fitted to the terminal's width,
//! dropping the least useful figures first. A CI log gets [`status_line`]
//! instead, one plain line every few seconds, because a redrawn bar in a
//! log file is noise. Both show the same figures from the same
//! [`ProgressSnapshot`], so the two views cannot tell different stories.
//!
//! Anything else written to stderr while the bar is up (`--verbose` lines,
//! the acknowledgement of Ctrl-C) goes through [`AboveBar`] or
//! [`print_above`]: the bar is lifted, the lines printed, the bar drawn
//! again below them, so no copy of the bar is left in the scrollback.
//!
//! The bar draws only through indicatif's stderr target, which hides itself
//! when stderr is not a terminal; stdout stays free for the report.

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressDrawTarget, ProgressStyle};

use super::format::{compact, compact_count};

/// The figures shown at one moment of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct ProgressSnapshot {
    /// Time since the submission phase started.
    pub(crate) elapsed: Duration,
    /// Planned length of the submission phase.
    pub(crate) total: Duration,
    pub(crate) submitted: u64,
    pub(crate) succeeded: u64,
    pub(crate) rejected: u64,
    /// Recent submission rate.
    pub(crate) ops_per_s: f64,
    /// Submission is over; in-flight ops are finishing.
    pub(crate) draining: bool,
}

/// The bar on screen, if one is: stderr has one terminal, so one bar.
static ACTIVE: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

fn active() -> Option<indicatif::ProgressBar> {
    ACTIVE.lock().ok().and_then(|bar| bar.clone())
}

/// Print `text` (whole lines) on stderr, above the progress bar if one is
/// drawn. Errors are ignored: a closed stderr must not stop the run.
pub fn print_above(text: &[u8]) {
    let write = || {
        let mut err = io::stderr().lock();
        let _ = err.write_all(text).and_then(|()| err.flush());
    };
    match active() {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// A writer to stderr that prints each complete line above the progress
/// bar (see [`print_above`]); what is left of a line waits for its end or
/// for `flush`.
#[derive(Debug, Default)]
pub(crate) struct AboveBar {
    pending: Vec<u8>,
}

impl Write for AboveBar {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(data);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            print_above(&lines);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            print_above(&std::mem::take(&mut self.pending));
        }
        Ok(())
    }
}

/// A progress bar on stderr over the submission phase.
pub(crate) struct ProgressBar {
    bar: indicatif::ProgressBar,
    emoji: bool,
    /// Columns of the terminal.
    width: usize,
}

/// Columns the bar itself keeps, however narrow the terminal.
const MIN_BAR: usize = 10;

impl ProgressBar {
    /// A bar whose length is `total` (the submission phase) in
    /// milliseconds, fitted to stderr's terminal.
    pub(crate) fn new(total: Duration, emoji: bool) -> Self {
        let width = console::Term::stderr()
            .size_checked()
            .map_or(80, |(_, cols)| usize::from(cols));
        let bar = ProgressBar::with_target(total, emoji, width, ProgressDrawTarget::stderr());
        if let Ok(mut active) = ACTIVE.lock() {
            *active = Some(bar.bar.clone());
        }
        bar
    }

    fn with_target(total: Duration, emoji: bool, width: usize, target: ProgressDrawTarget) -> Self {
        let (template, chars) = if emoji {
            ("{prefix} {wide_bar} {msg}", "█▉▊▋▌▍▎▏ ")
        } else {
            ("{prefix} [{wide_bar}] {msg}", "=> ")
        };
        // The template is a constant; should indicatif ever refuse it, a
        // plain default bar still shows progress.
        let style = ProgressStyle::with_template(template)
            .map(|s| s.progress_chars(chars))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar =
            indicatif::ProgressBar::with_draw_target(Some(millis(total)), target).with_style(style);
        ProgressBar { bar, emoji, width }
    }

    /// Show `s`: position = elapsed, message = the running counts, as many
    /// as fit beside the clock and a bar of at least ten columns.
    pub(crate) fn update(&self, s: &ProgressSnapshot) {
        let len = self.bar.length().unwrap_or(0);
        let position = if s.draining {
            len
        } else {
            millis(s.elapsed).min(len)
        };
        let prefix = clock(s);
        let brackets = if self.emoji { 0 } else { 2 };
        let room = self
            .width
            .saturating_sub(prefix.len() + MIN_BAR + brackets + 3);
        self.bar.set_position(position);
        self.bar.set_prefix(prefix);
        self.bar.set_message(fitted(s, self.emoji, room));
    }

    /// Remove the bar from the terminal.
    pub(crate) fn finish(&self) {
        if let Ok(mut active) = ACTIVE.lock() {
            *active = None;
        }
        self.bar.finish_and_clear();
    }
}

/// One plain line for a stderr that is not a terminal, e.g.
/// `[  10.0s/15.0s] submitted 1.00 k · succeeded 182 · rejected 820 ·
/// 100.2 ops/s · ETA 0:05`.
pub(crate) fn status_line(s: &ProgressSnapshot, emoji: bool) -> String {
    format!("[{}] {}", clock(s), fitted(s, emoji, usize::MAX))
}

/// `  10.0s/15.0s`: elapsed of total, padded so successive lines align.
fn clock(s: &ProgressSnapshot) -> String {
    format!(
        "{:>6.1}s/{:.1}s",
        s.elapsed.as_secs_f64(),
        s.total.as_secs_f64()
    )
}

/// The figures, most useful first: what is left, the rate, then the
/// counts. Those that do not fit in `room` columns are left out, the
/// counts first.
fn fitted(s: &ProgressSnapshot, emoji: bool, room: usize) -> String {
    let sep = if emoji { " · " } else { " | " };
    let eta = if s.draining {
        "draining".to_owned()
    } else {
        let left = s.total.saturating_sub(s.elapsed).as_secs_f64().ceil() as u64;
        format!("ETA {}:{:02}", left / 60, left % 60)
    };
    let figures = [
        (0, format!("submitted {}", compact_count(s.submitted))),
        (2, format!("succeeded {}", compact_count(s.succeeded))),
        (3, format!("rejected {}", compact_count(s.rejected))),
        (1, format!("{} ops/s", compact(s.ops_per_s))),
        (0, eta),
    ];
    // Drop the least useful figure (highest rank) until the line fits.
    for keep in (0..=3).rev() {
        let line = figures
            .iter()
            .filter(|(rank, _)| *rank <= keep)
            .map(|(_, f)| f.as_str())
            .collect::<Vec<_>>()
            .join(sep);
        if console::measure_text_width(&line) <= room || keep == 0 {
            return line;
        }
    }
    String::new()
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
            "[  10.0s/15.0s] submitted 1.00 k · succeeded 182 · rejected 820 · 100.2 ops/s · ETA 0:05"
        );
    }

    #[test]
    fn ascii_status_line_is_ascii() {
        let line = status_line(&snapshot(), false);
        assert!(line.is_ascii(), "{line}");
        assert!(line.contains(" | succeeded 182 | "), "{line}");
    }

    #[test]
    fn status_line_says_when_draining() {
        let s = ProgressSnapshot {
            elapsed: Duration::from_millis(15_400),
            draining: true,
            ..snapshot()
        };
        let line = status_line(&s, true);
        assert!(line.ends_with("100.2 ops/s · draining"), "{line}");
    }

    #[test]
    fn a_narrow_terminal_keeps_the_most_useful_figures() {
        let s = ProgressSnapshot {
            submitted: 40_597_457,
            succeeded: 1_203_311,
            rejected: 39_394_146,
            ops_per_s: 4_059_745.7,
            elapsed: Duration::from_secs(75),
            total: Duration::from_secs(200),
            ..snapshot()
        };
        let wide = fitted(&s, true, 200);
        assert_eq!(
            wide,
            "submitted 40.6 M · succeeded 1.20 M · rejected 39.4 M · 4.06 M ops/s · ETA 2:05"
        );
        let narrow = fitted(&s, true, 50);
        assert_eq!(narrow, "submitted 40.6 M · 4.06 M ops/s · ETA 2:05");
        assert_eq!(fitted(&s, true, 5), "submitted 40.6 M · ETA 2:05");
    }

    #[test]
    fn bar_tracks_elapsed_in_milliseconds() {
        let bar = ProgressBar::with_target(
            Duration::from_secs(15),
            true,
            120,
            ProgressDrawTarget::hidden(),
        );
        assert_eq!(bar.bar.length(), Some(15_000));
        bar.update(&snapshot());
        assert_eq!(bar.bar.position(), 10_000);
        assert_eq!(
            bar.bar.message(),
            "submitted 1.00 k · succeeded 182 · rejected 820 · 100.2 ops/s · ETA 0:05"
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
        assert!(bar.bar.message().ends_with("draining"));

        bar.finish();
        assert!(bar.bar.is_finished());
    }

    #[test]
    fn the_bar_line_fits_an_80_column_terminal() {
        let bar = ProgressBar::with_target(
            Duration::from_secs(5),
            false,
            80,
            ProgressDrawTarget::hidden(),
        );
        bar.update(&snapshot());
        let line = format!(
            "{} [{}] {}",
            bar.bar.prefix(),
            "=".repeat(MIN_BAR),
            bar.bar.message()
        );
        assert!(line.len() <= 80, "{line}");
        assert!(bar.bar.message().is_ascii());
    }

    #[test]
    fn lines_above_the_bar_are_written_whole() {
        let mut w = AboveBar::default();
        w.write_all(b"half a li").unwrap();
        assert_eq!(w.pending, b"half a li");
        w.write_all(b"ne\nand more").unwrap();
        assert_eq!(w.pending, b"and more");
        w.flush().unwrap();
        assert!(w.pending.is_empty());
    }
}
