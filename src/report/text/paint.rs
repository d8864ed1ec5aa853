//! Painting: the glyphs, colours and character hygiene of the text report.
//!
//! A [`Painter`] draws the [`Section`] trees the section builders made,
//! with the glyphs of one style (emoji and box drawing, or plain ASCII) and
//! colours forced on or off. It also guards the terminal: control
//! characters in data become spaces, and in ASCII mode every other
//! non-ASCII character is folded to a stand-in.

use std::borrow::Cow;
use std::io::{self, Write};

use console::Style;

use super::TextStyle;
use super::layout::{Node, Section};
use super::sections::failure_reason;
use crate::report::format;
use crate::report::model::{ExitCode, RunReport};

/// The characters a style draws with. Section builders use the few that
/// appear inside sentences (separators, relations); the painter the rest.
pub(super) struct Glyphs {
    pub(super) ascii: bool,
    pub(super) branch: &'static str,
    pub(super) last: &'static str,
    pub(super) pipe: &'static str,
    pub(super) ok: &'static str,
    pub(super) fail: &'static str,
    pub(super) warn: &'static str,
    /// Between figures on one line.
    pub(super) sep: &'static str,
    /// Inside a range, `3–8`.
    pub(super) range: &'static str,
    /// Between a statement and its explanation.
    pub(super) dash: &'static str,
    pub(super) at_least: &'static str,
    pub(super) at_most: &'static str,
    pub(super) not_equal: &'static str,
}

pub(super) const FANCY: Glyphs = Glyphs {
    ascii: false,
    branch: "├─",
    last: "└─",
    pipe: "│  ",
    ok: "✅",
    fail: "❌",
    // Two columns wide in most terminals but one in some; the trailing
    // space keeps the text after it clear either way.
    warn: "⚠️ ",
    sep: " · ",
    range: "–",
    dash: " — ",
    at_least: "≥",
    at_most: "≤",
    not_equal: "≠",
};

pub(super) const ASCII: Glyphs = Glyphs {
    ascii: true,
    branch: "|-",
    last: "`-",
    pipe: "|  ",
    ok: "[ok]",
    fail: "[FAIL]",
    warn: "[!!]",
    sep: " | ",
    range: "-",
    dash: " - ",
    at_least: ">=",
    at_most: "<=",
    not_equal: "!=",
};

impl Glyphs {
    pub(super) fn micros(&self, us: f64) -> String {
        format::micros(us, self.ascii)
    }
}

/// Pass/fail judgement attached to a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mark {
    Ok,
    Fail,
    /// Nothing wrong, but nothing proven either: a check or rule path the
    /// run did not exercise.
    Warn,
}

impl Mark {
    pub(super) fn of(passed: bool) -> Mark {
        if passed { Mark::Ok } else { Mark::Fail }
    }
}

/// Draws nodes with one style's glyphs and colours.
pub(super) struct Painter {
    pub(super) glyphs: &'static Glyphs,
    pub(super) bold: Style,
    pub(super) green: Style,
    pub(super) red: Style,
    pub(super) warn: Style,
}

/// Indentation of a section's top-level lines.
pub(super) const INDENT: &str = "   ";

impl Painter {
    pub(super) fn new(style: TextStyle) -> Painter {
        // Styling is forced on or off: the caller decided from flags and
        // environment, and the renderer must not second-guess it.
        let base = Style::new().force_styling(style.color);
        Painter {
            glyphs: if style.emoji { &FANCY } else { &ASCII },
            bold: base.clone().bold(),
            green: base.clone().green(),
            red: base.clone().red(),
            warn: base.yellow().bold(),
        }
    }

    /// Control characters become spaces; in ASCII mode every other
    /// non-ASCII character is folded to an ASCII stand-in.
    pub(super) fn clean<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let ascii = self.glyphs.ascii;
        let fine = |c: char| !c.is_control() && (!ascii || c.is_ascii());
        if s.chars().all(fine) {
            return Cow::Borrowed(s);
        }
        let mut clean = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_control() {
                clean.push(' ');
            } else if !ascii || c.is_ascii() {
                clean.push(c);
            } else {
                clean.push_str(fold(c));
            }
        }
        Cow::Owned(clean)
    }

    pub(super) fn title(&self, out: &mut dyn Write, report: &RunReport) -> io::Result<()> {
        let g = self.glyphs;
        let title = format!("dynstress {}{}run report", report.dynstress_version, g.dash);
        writeln!(out, "{}", self.bold.apply_to(self.clean(&title)))?;
        if report.outcome.interrupted {
            let banner = format!(
                "{} INTERRUPTED{}partial run: submission was stopped early ({}); \
                 every figure below covers only what ran",
                g.warn,
                g.dash,
                stopped_by(report)
            );
            writeln!(out, "{}", self.warn.apply_to(self.clean(&banner)))?;
        }
        for error in &report.outcome.errors {
            let banner = format!(
                "{} STOPPED EARLY{}{error}; every figure below covers only what ran",
                g.warn, g.dash
            );
            writeln!(out, "{}", self.warn.apply_to(self.clean(&banner)))?;
        }
        Ok(())
    }

    pub(super) fn section(&self, out: &mut dyn Write, section: &Section) -> io::Result<()> {
        let header = if self.glyphs.ascii {
            format!("[{}] {}", section.tag, section.title)
        } else {
            // An icon with a variation selector is drawn one column wide
            // by many terminals; an extra space keeps titles apart.
            let gap = if section.icon.contains('\u{fe0f}') {
                "  "
            } else {
                " "
            };
            format!("{}{gap}{}", section.icon, section.title)
        };
        writeln!(out, "{}", self.bold.apply_to(self.clean(&header)))?;
        self.nodes(out, &section.nodes, INDENT)
    }

    fn nodes(&self, out: &mut dyn Write, nodes: &[Node], prefix: &str) -> io::Result<()> {
        let last_drawn = nodes.iter().rposition(|n| !n.bare);
        for (i, node) in nodes.iter().enumerate() {
            let text = self.clean(&node.text);
            if node.bare {
                writeln!(out, "{prefix}{INDENT}{text}")?;
                continue;
            }
            let last = Some(i) == last_drawn;
            let branch = if last {
                self.glyphs.last
            } else {
                self.glyphs.branch
            };
            match node.mark {
                None => writeln!(out, "{prefix}{branch} {text}")?,
                Some(mark) => {
                    let (glyph, style) = match mark {
                        Mark::Ok => (self.glyphs.ok, &self.green),
                        Mark::Fail => (self.glyphs.fail, &self.red),
                        Mark::Warn => (self.glyphs.warn, &self.warn),
                    };
                    let line = format!("{glyph} {text}");
                    writeln!(out, "{prefix}{branch} {}", style.apply_to(line))?;
                }
            }
            if !node.children.is_empty() {
                let below = if last { INDENT } else { self.glyphs.pipe };
                self.nodes(out, &node.children, &format!("{prefix}{below}"))?;
            }
        }
        Ok(())
    }

    pub(super) fn verdict(&self, out: &mut dyn Write, report: &RunReport) -> io::Result<()> {
        let g = self.glyphs;
        let outcome = &report.outcome;
        let (line, style) = if outcome.interrupted {
            let line = format!(
                "{} INTERRUPTED (exit {}){}partial run, stopped by {}; \
                 thresholds and checks above cover only what ran",
                g.warn,
                outcome.exit_code,
                g.dash,
                stopped_by(report)
            );
            (line, &self.warn)
        } else if outcome.passed {
            let line = format!(
                "{} PASSED (exit {}){}every threshold held and every integrity check passed",
                g.ok, outcome.exit_code, g.dash
            );
            (line, &self.green)
        } else {
            let line = format!(
                "{} FAILED (exit {}){}{}",
                g.fail,
                outcome.exit_code,
                g.dash,
                failure_reason(report)
            );
            (line, &self.red)
        };
        writeln!(out, "{}", style.clone().bold().apply_to(self.clean(&line)))
    }
}

/// The signal that stopped an interrupted run, as people name it.
fn stopped_by(report: &RunReport) -> &'static str {
    match report.outcome.exit_code {
        ExitCode::Terminated => "SIGTERM",
        _ => "Ctrl-C",
    }
}

/// An ASCII stand-in for a non-ASCII character.
fn fold(c: char) -> &'static str {
    match c {
        'µ' | 'μ' => "u",
        '≥' => ">=",
        '≤' => "<=",
        '≠' => "!=",
        '→' => "->",
        '←' => "<-",
        '—' | '–' | '−' => "-",
        '·' | '•' => "|",
        '×' => "x",
        '…' => "...",
        '‘' | '’' => "'",
        '“' | '”' => "\"",
        '✅' => "[ok]",
        '❌' => "[FAIL]",
        '\u{fe0f}' | '\u{200d}' => "",
        _ => "?",
    }
}
