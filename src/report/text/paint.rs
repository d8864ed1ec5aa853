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
use super::layout::{GLUE, Node, Section, width, wrap};
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

/// Judgement attached to a line: ✅, ❌, or ⚠️ for a figure to read with
/// care that fails nothing.
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

/// Draws nodes with one style's glyphs and colours, within a width.
pub(super) struct Painter {
    pub(super) glyphs: &'static Glyphs,
    /// Columns a line may take.
    width: usize,
    pub(super) bold: Style,
    pub(super) green: Style,
    pub(super) red: Style,
    pub(super) warn: Style,
}

/// Indentation of a section's top-level lines.
pub(super) const INDENT: &str = "   ";

/// The narrowest width the report is laid out for.
const MIN_WIDTH: usize = 40;

impl Painter {
    pub(super) fn new(style: TextStyle) -> Painter {
        // Styling is forced on or off: the caller decided from flags and
        // environment, and the renderer must not second-guess it.
        let base = Style::new().force_styling(style.color);
        Painter {
            glyphs: if style.emoji { &FANCY } else { &ASCII },
            // Below this nothing reads as a tree any more.
            width: style.width.max(MIN_WIDTH),
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
        let fine = |c: char| !c.is_control() && (!ascii || c.is_ascii() || c == GLUE);
        if s.chars().all(fine) {
            return Cow::Borrowed(s);
        }
        let mut clean = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_control() {
                clean.push(' ');
            } else if !ascii || c.is_ascii() || c == GLUE {
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
            self.paragraph(out, &banner, &self.warn)?;
        }
        for error in &report.outcome.errors {
            let banner = format!(
                "{} STOPPED EARLY{}{error}; every figure below covers only what ran",
                g.warn, g.dash
            );
            self.paragraph(out, &banner, &self.warn)?;
        }
        Ok(())
    }

    /// A line of its own (a banner, the verdict), wrapped with its
    /// continuation lines indented.
    fn paragraph(&self, out: &mut dyn Write, text: &str, style: &Style) -> io::Result<()> {
        let text = self.clean(text);
        let room = self.width - INDENT.len();
        for (i, line) in wrap(&text, self.width, room).iter().enumerate() {
            let indent = if i == 0 { "" } else { INDENT };
            let line = line.replace(GLUE, " ");
            writeln!(out, "{indent}{}", style.apply_to(line))?;
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
        // Tables are laid out now that their indentation is known.
        let indent = width(prefix) + INDENT.len();
        let nodes: Vec<Cow<'_, Node>> = nodes
            .iter()
            .flat_map(|n| match &n.table {
                Some(t) => t
                    .lay_out(n, indent, self.width, self.glyphs.sep)
                    .into_iter()
                    .map(Cow::Owned)
                    .collect(),
                None => vec![Cow::Borrowed(n)],
            })
            .collect();
        let last_drawn = nodes.iter().rposition(|n| !n.bare);
        for (i, node) in nodes.iter().enumerate() {
            let text = self.clean(&node.text);
            if node.bare {
                writeln!(out, "{prefix}{INDENT}{}", text.replace(GLUE, " "))?;
                continue;
            }
            let last = Some(i) == last_drawn;
            let branch = if last {
                self.glyphs.last
            } else {
                self.glyphs.branch
            };
            let below = if last { INDENT } else { self.glyphs.pipe };
            let (glyph, style) = match node.mark {
                None => ("", None),
                Some(Mark::Ok) => (self.glyphs.ok, Some(&self.green)),
                Some(Mark::Fail) => (self.glyphs.fail, Some(&self.red)),
                Some(Mark::Warn) => (self.glyphs.warn, Some(&self.warn)),
            };
            // Continuation lines hang three columns in, under the tree's
            // line to the children if there are any.
            let hang = if node.children.is_empty() {
                INDENT
            } else {
                self.glyphs.pipe
            };
            let cont = format!("{prefix}{below}{hang}");
            let lead = width(prefix) + width(branch) + 1 + glyph_width(glyph);
            let room = |used: usize| self.width.saturating_sub(used).max(MIN_WIDTH / 2);
            let lines = if node.nowrap {
                vec![text.to_string()]
            } else {
                wrap(&text, room(lead), room(width(&cont)))
            };
            for (n, line) in lines.iter().enumerate() {
                let line = line.replace(GLUE, " ");
                let body = match (n, style) {
                    (0, Some(style)) => style.apply_to(format!("{glyph} {line}")).to_string(),
                    (_, Some(style)) => style.apply_to(line).to_string(),
                    (_, None) => line,
                };
                if n == 0 {
                    writeln!(out, "{prefix}{branch} {body}")?;
                } else {
                    writeln!(out, "{cont}{body}")?;
                }
            }
            if !node.children.is_empty() {
                self.nodes(out, &node.children, &format!("{prefix}{below}"))?;
            }
        }
        Ok(())
    }

    /// A closing line that passed or failed, marked and coloured.
    pub(super) fn outcome(&self, out: &mut dyn Write, passed: bool, text: &str) -> io::Result<()> {
        let (glyph, style) = if passed {
            (self.glyphs.ok, &self.green)
        } else {
            (self.glyphs.fail, &self.red)
        };
        self.paragraph(out, &format!("{glyph} {text}"), &style.clone().bold())
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
        self.paragraph(out, &line, &style.clone().bold())
    }
}

/// Columns a mark and the space after it take.
fn glyph_width(glyph: &str) -> usize {
    if glyph.is_empty() {
        0
    } else {
        width(glyph) + 1
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
