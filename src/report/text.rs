//! The text report: a run told as ten sections of tree lines.
//!
//! The look follows the original tool (an emoji header per section, `├─` /
//! `└─` / `│` under it) because people already read reports in that shape;
//! what changed is that every ✅ and ❌ here is computed from the numbers in
//! the [`RunReport`], never printed as decoration. The accounting equation
//! is re-added from its terms, each integrity check and threshold shows the
//! figure it was judged on, and the verdict comes from the run's `outcome`,
//! the same one that sets the exit code.
//!
//! Rendering happens in two steps. Each section is first built as a small
//! tree of [`Node`]s holding plain text and an optional pass/fail mark; a
//! [`Painter`] then draws the trees with the glyphs and colours of the
//! chosen [`TextStyle`]. Section builders therefore never think about emoji,
//! ASCII or ANSI codes, and the two styles cannot drift apart: `--no-emoji`
//! is the same report, drawn with `|-`, `` `- ``, `[ok]` and `[FAIL]`. As a
//! last guard, ASCII mode folds whatever non-ASCII character a piece of data
//! (a check's detail, a config key) might carry, and both modes replace
//! control characters, so data can never smuggle an escape sequence into a
//! report rendered without colour.

use std::borrow::Cow;
use std::io::{self, Write};

use console::Style;
use serde_json::Value;

use super::format::{self, NOT_AVAILABLE, count, decimal, number, percent, rate, ratio, seconds};
use super::model::{LatencySummary, RunReport};
use crate::ops::{OpType, Priority};

/// How the text report is styled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextStyle {
    /// Emoji and tree-drawing characters; `false` gives plain ASCII.
    pub emoji: bool,
    /// ANSI colours.
    pub color: bool,
}

/// Render the full report.
pub fn render(report: &RunReport, out: &mut dyn Write, style: TextStyle) -> io::Result<()> {
    let painter = Painter::new(style);
    let g = painter.glyphs;
    painter.title(out, report)?;
    let sections = [
        configuration(report, g),
        performance(report, g),
        work(report, g),
        conflicts(report, g),
        grace(report, g),
        latency(report, g),
        resources(report, g),
        accounting(report, g),
        integrity(report, g),
        assessment(report, g),
    ];
    for section in &sections {
        writeln!(out)?;
        painter.section(out, section)?;
    }
    writeln!(out)?;
    painter.verdict(out, report)
}

// ---------------------------------------------------------------------------
// Glyphs and painting

/// The characters a style draws with. Section builders use the few that
/// appear inside sentences (separators, relations); the painter the rest.
struct Glyphs {
    ascii: bool,
    branch: &'static str,
    last: &'static str,
    pipe: &'static str,
    ok: &'static str,
    fail: &'static str,
    warn: &'static str,
    /// Between figures on one line.
    sep: &'static str,
    /// Inside a range, `3–8`.
    range: &'static str,
    /// Between a statement and its explanation.
    dash: &'static str,
    at_least: &'static str,
    at_most: &'static str,
    not_equal: &'static str,
}

const FANCY: Glyphs = Glyphs {
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

const ASCII: Glyphs = Glyphs {
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
    fn micros(&self, us: f64) -> String {
        format::micros(us, self.ascii)
    }
}

/// Pass/fail judgement attached to a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Ok,
    Fail,
}

impl Mark {
    fn of(passed: bool) -> Mark {
        if passed { Mark::Ok } else { Mark::Fail }
    }
}

/// One line of a section and the lines under it.
#[derive(Debug, Default)]
struct Node {
    text: String,
    mark: Option<Mark>,
    children: Vec<Node>,
    /// Drawn without a branch glyph, aligned with its siblings' text: a
    /// table header above the rows.
    bare: bool,
}

impl Node {
    fn new(text: impl Into<String>) -> Node {
        Node {
            text: text.into(),
            ..Node::default()
        }
    }

    fn marked(passed: bool, text: impl Into<String>) -> Node {
        Node {
            mark: Some(Mark::of(passed)),
            ..Node::new(text)
        }
    }
}

struct Section {
    icon: &'static str,
    tag: &'static str,
    title: &'static str,
    nodes: Vec<Node>,
}

/// Draws nodes with one style's glyphs and colours.
struct Painter {
    glyphs: &'static Glyphs,
    bold: Style,
    green: Style,
    red: Style,
    warn: Style,
}

/// Indentation of a section's top-level lines.
const INDENT: &str = "   ";

impl Painter {
    fn new(style: TextStyle) -> Painter {
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
    fn clean<'a>(&self, s: &'a str) -> Cow<'a, str> {
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

    fn title(&self, out: &mut dyn Write, report: &RunReport) -> io::Result<()> {
        let g = self.glyphs;
        let title = format!("dynstress {}{}run report", report.dynstress_version, g.dash);
        writeln!(out, "{}", self.bold.apply_to(self.clean(&title)))?;
        if report.outcome.interrupted {
            let banner = format!(
                "{} INTERRUPTED{}partial run: submission was stopped early (Ctrl-C); \
                 every figure below covers only what ran",
                g.warn, g.dash
            );
            writeln!(out, "{}", self.warn.apply_to(self.clean(&banner)))?;
        }
        Ok(())
    }

    fn section(&self, out: &mut dyn Write, section: &Section) -> io::Result<()> {
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

    fn verdict(&self, out: &mut dyn Write, report: &RunReport) -> io::Result<()> {
        let g = self.glyphs;
        let outcome = &report.outcome;
        let (line, style) = if outcome.interrupted {
            let line = format!(
                "{} INTERRUPTED (exit {}){}partial run, stopped by Ctrl-C; \
                 thresholds and checks above cover only what ran",
                g.warn, outcome.exit_code, g.dash
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

/// Why a failed run failed: the class its exit code stands for, then the
/// names of what failed.
fn failure_reason(report: &RunReport) -> String {
    let failed_checks: Vec<&str> = report
        .integrity
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.id.name())
        .collect();
    let failed_thresholds: Vec<&str> = report
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| t.name.as_str())
        .collect();
    let integrity = if failed_checks.is_empty() {
        "an integrity check failed: the engine did something wrong".to_owned()
    } else {
        format!("integrity check failed: {}", failed_checks.join(", "))
    };
    let threshold = if failed_thresholds.is_empty() {
        "a threshold was not met".to_owned()
    } else {
        format!("threshold not met: {}", failed_thresholds.join(", "))
    };
    match report.outcome.exit_code {
        3 if failed_thresholds.is_empty() => integrity,
        3 => format!("{integrity}; {threshold}"),
        1 => threshold,
        code => format!("exit code {code}"),
    }
}

// ---------------------------------------------------------------------------
// Tables

/// Columns inside a tree: the first left-aligned (row names), the rest
/// right-aligned under their headings.
struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

const COLUMN_GAP: &str = "  ";

impl Table {
    fn width(s: &str) -> usize {
        s.chars().count()
    }

    /// Width of each value column (heading included).
    fn widths(&self) -> Vec<usize> {
        self.head
            .iter()
            .enumerate()
            .map(|(i, h)| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i + 1))
                    .map(|c| Table::width(c))
                    .chain([Table::width(h)])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn name_width(&self) -> usize {
        self.rows
            .iter()
            .filter_map(|r| r.first())
            .map(|c| Table::width(c))
            .max()
            .unwrap_or(0)
    }

    fn line(first: &str, first_width: usize, cells: &[&str], widths: &[usize]) -> String {
        let mut line = format!("{first:<first_width$}");
        for (cell, w) in cells.iter().zip(widths) {
            line.push_str(COLUMN_GAP);
            line.push_str(&format!("{cell:>w$}"));
        }
        line
    }

    fn rows(&self, name_width: usize, widths: &[usize]) -> Vec<Node> {
        self.rows
            .iter()
            .map(|r| {
                let first = r.first().map_or("", String::as_str);
                let cells: Vec<&str> = r.iter().skip(1).map(String::as_str).collect();
                Node::new(Table::line(first, name_width, &cells, widths))
            })
            .collect()
    }

    /// One node: `label` with the headings on its line, the rows under it.
    fn under(self, label: &str) -> Node {
        let widths = self.widths();
        // Rows are drawn one level deeper, three columns to the right.
        let name_width = self.name_width().max(Table::width(label).saturating_sub(3));
        let header = Table::line(label, name_width + 3, &self.head, &widths);
        Node {
            children: self.rows(name_width, &widths),
            ..Node::new(header)
        }
    }

    /// Top-level rows with a bare heading line above them.
    fn bare(self) -> Vec<Node> {
        let widths = self.widths();
        let name_width = self.name_width();
        let mut nodes = vec![Node {
            bare: true,
            ..Node::new(Table::line("", name_width, &self.head, &widths))
        }];
        nodes.extend(self.rows(name_width, &widths));
        nodes
    }
}

// ---------------------------------------------------------------------------
// Reading the config

/// A number at `path` in the config, if it is there and is a number.
fn cfg_num(config: &Value, path: &[&str]) -> Option<f64> {
    path.iter()
        .try_fold(config, |v, key| v.get(key))
        .and_then(Value::as_f64)
}

/// `(name, percentage)` for each entry of a table of weights, in `rank`
/// order.
fn weights(table: Option<&Value>, rank: impl Fn(&str) -> usize) -> Option<Vec<(String, String)>> {
    let map = table?.as_object()?;
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
    let parts = entries
        .into_iter()
        .map(|(name, w)| {
            let weight = w.as_f64().map_or_else(|| w.to_string(), percent);
            (name.clone(), weight)
        })
        .collect();
    Some(parts)
}

/// Order of priority names: by level, lowest first; unknown names last.
fn priority_rank(name: &str) -> usize {
    Priority::from_name(name)
        .map(Priority::get)
        .or_else(|| name.parse::<u8>().ok())
        .map_or(usize::MAX, usize::from)
}

/// Order of operation type names: as the spec lists them; unknown last.
fn type_rank(name: &str) -> usize {
    OpType::from_name(name).map_or(usize::MAX, OpType::index)
}

/// Capacity mode: no target rate.
fn capacity_mode(report: &RunReport) -> bool {
    report.rates.target_ops_per_s.is_none() || report.work.capacity_mode
}

// ---------------------------------------------------------------------------
// The sections

fn configuration(report: &RunReport, g: &Glyphs) -> Section {
    let c = &report.config;
    let num = |key: &str| cfg_num(c, &[key]);
    let mut nodes = Vec::new();
    let seconds_line =
        |label: &str, key: &str| num(key).map(|v| Node::new(format!("{label}: {} s", number(v))));
    nodes.extend(seconds_line("duration", "duration_seconds"));
    nodes.extend(seconds_line("drain timeout", "drain_timeout_seconds"));
    if let Some(v) = num("num_targets") {
        nodes.push(Node::new(format!("targets: {}", number(v))));
    }
    if let Some(v) = num("num_sources") {
        nodes.push(Node::new(format!("sources: {}", number(v))));
    }
    let in_flight = num("max_in_flight")
        .map(|n| format!(", at most {} in flight", number(n)))
        .unwrap_or_default();
    match c.get("operation_rate_per_second") {
        Some(Value::String(s)) if s == "max" => {
            nodes.push(Node::new(format!("rate: max (capacity mode{in_flight})")));
        }
        Some(v) => match v.as_f64() {
            Some(r) => nodes.push(Node::new(format!("rate: {} ops/s", rate(r)))),
            None => nodes.push(Node::new(format!("rate: {v}"))),
        },
        None if capacity_mode(report) => {
            nodes.push(Node::new(format!("rate: max (capacity mode{in_flight})")));
        }
        None => {}
    }
    nodes.extend(seconds_line("grace period", "grace_period_seconds"));
    let batch_min = cfg_num(c, &["batch", "min_size"]);
    let batch_max = cfg_num(c, &["batch", "max_size"]);
    match (batch_min, batch_max) {
        (Some(lo), Some(hi)) => nodes.push(Node::new(format!(
            "batch size: {}{}{} ops, all on one target",
            number(lo),
            g.range,
            number(hi)
        ))),
        (Some(v), None) => nodes.push(Node::new(format!("batch size: at least {}", number(v)))),
        (None, Some(v)) => nodes.push(Node::new(format!("batch size: at most {}", number(v)))),
        (None, None) => {}
    }
    if let Some(p) = cfg_num(c, &["batch", "parent_probability"]).filter(|p| *p > 0.0) {
        nodes.push(Node::new(format!(
            "parent links: {} of ops name an earlier op of their batch as parent",
            percent(p)
        )));
    }
    if let Some(levels) = weights(c.get("priority_distribution"), priority_rank) {
        let levels: Vec<String> = levels
            .into_iter()
            .map(|(n, w)| format!("{n} {w}"))
            .collect();
        nodes.push(Node::new(format!(
            "priority distribution: {}",
            levels.join(g.sep)
        )));
    }
    if let Some(mix) = weights(c.get("operation_types"), type_rank) {
        // Six long names: one per line, or the line would not fit a terminal.
        let table = Table {
            head: vec!["weight"],
            rows: mix.into_iter().map(|(name, w)| vec![name, w]).collect(),
        };
        nodes.push(table.under("operation mix"));
    }
    let budgets: Vec<String> = [
        ("structural", "structural"),
        ("normal", "normal"),
        ("low_priority", "low priority"),
    ]
    .into_iter()
    .filter_map(|(key, label)| {
        cfg_num(c, &["retries", key]).map(|v| format!("{label} {}", number(v)))
    })
    .collect();
    if !budgets.is_empty() {
        nodes.push(Node::new(format!("retries: {}", budgets.join(g.sep))));
    }
    let base = cfg_num(c, &["retries", "backoff_base_ms"]);
    let max = cfg_num(c, &["retries", "backoff_max_ms"]);
    match (base, max) {
        (Some(b), Some(m)) => nodes.push(Node::new(format!(
            "backoff: {} ms doubling per retry, capped at {} ms",
            number(b),
            number(m)
        ))),
        (Some(b), None) => nodes.push(Node::new(format!("backoff: {} ms base", number(b)))),
        (None, Some(m)) => nodes.push(Node::new(format!("backoff: capped at {} ms", number(m)))),
        (None, None) => {}
    }
    if c.get("faults").is_some() {
        let fail = cfg_num(c, &["faults", "failure_probability"]).unwrap_or(0.0);
        let stall = cfg_num(c, &["faults", "stall_probability"]).unwrap_or(0.0);
        let stall_ms = cfg_num(c, &["faults", "stall_ms"]).unwrap_or(0.0);
        let mut parts = Vec::new();
        if fail > 0.0 {
            parts.push(format!("{} of executions fail", percent(fail)));
        }
        if stall > 0.0 {
            parts.push(format!(
                "{} stall for {} ms",
                percent(stall),
                number(stall_ms)
            ));
        }
        let faults = if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(g.sep)
        };
        nodes.push(Node::new(format!("faults: {faults}")));
    }
    let kept: Vec<String> = [("versions", "versions"), ("history", "history entries")]
        .into_iter()
        .filter_map(|(key, label)| {
            cfg_num(c, &["retention", key]).map(|v| format!("{} {label}", number(v)))
        })
        .collect();
    if !kept.is_empty() {
        nodes.push(Node::new(format!(
            "retention: last {} per entity",
            kept.join(g.sep)
        )));
    }
    if let Some(v) = num("target_completion_rate") {
        nodes.push(Node::new(format!("target completion rate: {}", percent(v))));
    }
    if let Some(v) = num("max_memory_mb") {
        nodes.push(Node::new(format!("memory limit: {} MB", number(v))));
    }
    nodes.push(Node::new(format!(
        "seed: {seed} (rerun with --seed {seed})",
        seed = report.seed
    )));
    // On the virtual clock the digests identify the run: a replay of the
    // seed shows the same. On the real clock they are in the JSON only.
    if let Some(d) = report.digests.as_ref().filter(|d| d.clock == "virtual") {
        nodes.push(Node::new(format!(
            "digests ({} clock): events {}, store {}",
            d.clock, d.events, d.store
        )));
    }
    Section {
        icon: "📋",
        tag: "CONFIG",
        title: "Configuration",
        nodes,
    }
}

fn performance(report: &RunReport, g: &Glyphs) -> Section {
    let o = &report.operations;
    let r = &report.rates;
    let mut nodes = Vec::new();
    match r.target_ops_per_s {
        Some(target) if !capacity_mode(report) => {
            let accuracy = if target > 0.0 {
                percent(r.achieved_ops_per_s / target)
            } else {
                NOT_AVAILABLE.to_owned()
            };
            nodes.push(Node::new(format!(
                "rate: {} ops/s achieved of {} ops/s target ({accuracy})",
                rate(r.achieved_ops_per_s),
                rate(target)
            )));
            nodes.push(Node::new(format!(
                "settled: {} ops/s",
                rate(r.settled_ops_per_s)
            )));
        }
        _ => {
            nodes.push(Node::new(format!(
                "rate: max (capacity mode){}{} settled ops/s",
                g.sep,
                rate(r.settled_ops_per_s)
            )));
            nodes.push(Node::new(format!(
                "submitted at: {} ops/s",
                rate(r.achieved_ops_per_s)
            )));
        }
    }
    for (label, n) in [
        ("submitted", o.submitted),
        ("started", o.started),
        ("completed", o.succeeded),
        ("rejected", o.rejected),
        ("cancelled", o.cancelled),
        ("failed attempts", o.failed_attempts),
        ("retried", o.retried),
        ("preempted", o.preempted),
        ("in flight at end", o.in_flight_at_end),
    ] {
        nodes.push(Node::new(format!("{label}: {}", count(n))));
    }
    let model = match (
        cfg_num(&report.config, &["batch", "min_size"]),
        cfg_num(&report.config, &["batch", "max_size"]),
    ) {
        (Some(lo), Some(hi)) => format!(
            "model 2/({}+{}) = {}",
            number(lo),
            number(hi),
            percent(r.model_completion_rate)
        ),
        _ => format!("model {}", percent(r.model_completion_rate)),
    };
    nodes.push(Node::new(format!(
        "completion rate: {} ({model})",
        percent(r.completion_rate)
    )));
    let rejection = ratio(o.rejected, o.submitted).map_or(NOT_AVAILABLE.to_owned(), percent);
    nodes.push(Node::new(format!("rejection rate: {rejection}")));
    let d = &report.duration_s;
    nodes.push(Node::new(format!(
        "time: submission {}{}drain {}{}total {}",
        seconds(d.submission),
        g.sep,
        seconds(d.drain),
        g.sep,
        seconds(d.total)
    )));
    if !o.by_priority.is_empty() {
        let mut levels: Vec<_> = o.by_priority.iter().collect();
        levels.sort_by(|a, b| {
            priority_rank(a.0)
                .cmp(&priority_rank(b.0))
                .then(a.0.cmp(b.0))
        });
        let table = Table {
            head: vec!["submitted", "succeeded", "rejected", "cancelled"],
            rows: levels
                .into_iter()
                .map(|(name, p)| {
                    vec![
                        name.clone(),
                        count(p.submitted),
                        count(p.succeeded),
                        count(p.rejected),
                        count(p.cancelled),
                    ]
                })
                .collect(),
        };
        nodes.push(table.under("by priority"));
    }
    Section {
        icon: "⏱️",
        tag: "PERFORMANCE",
        title: "Performance",
        nodes,
    }
}

fn work(report: &RunReport, g: &Glyphs) -> Section {
    let w = &report.work;
    let mut nodes = vec![
        Node::new(format!("modifications: {}", count(w.modifications))),
        Node::new(format!("versions created: {}", count(w.versions))),
        Node::new(format!("borrows: {}", count(w.borrows))),
        Node::new(format!(
            "structural changes: {} changed{}{} no-ops",
            count(w.structural_changes),
            g.sep,
            count(w.structural_noops)
        )),
    ];
    let panics = format!("panics caught: {}", count(w.panics_caught));
    nodes.push(if w.panics_caught == 0 {
        Node::new(panics)
    } else {
        Node::marked(false, panics)
    });
    let by_type = &report.operations.by_type;
    if !by_type.is_empty() {
        let mut types: Vec<_> = by_type.iter().collect();
        types.sort_by(|a, b| type_rank(a.0).cmp(&type_rank(b.0)).then(a.0.cmp(b.0)));
        let table = Table {
            head: vec![
                "submitted",
                "succeeded",
                "rejected",
                "cancelled",
                "failed",
                "success",
            ],
            rows: types
                .into_iter()
                .map(|(name, t)| {
                    vec![
                        name.clone(),
                        count(t.submitted),
                        count(t.succeeded),
                        count(t.rejected),
                        count(t.cancelled),
                        count(t.failed_attempts),
                        ratio(t.succeeded, t.submitted).map_or(NOT_AVAILABLE.to_owned(), percent),
                    ]
                })
                .collect(),
        };
        nodes.push(table.under("by type"));
    }
    Section {
        icon: "🔧",
        tag: "WORK",
        title: "Real operation results",
        nodes,
    }
}

fn conflicts(report: &RunReport, g: &Glyphs) -> Section {
    let c = &report.conflicts;
    let res = &report.latency_us.resolution;
    let nodes = vec![
        Node::new(format!("detected: {}", count(c.detected))),
        Node::new(format!("resolved: {}", count(c.resolved))),
        Node::new(format!(
            "ops per conflict: {}",
            decimal(c.ops_per_conflict, 1)
        )),
        Node::new(format!(
            "resolution time: p50 {}{}p99 {}{}max {} ({} samples)",
            g.micros(res.p50 as f64),
            g.sep,
            g.micros(res.p99 as f64),
            g.sep,
            g.micros(res.max as f64),
            count(res.count)
        )),
    ];
    Section {
        icon: "⚔️",
        tag: "CONFLICTS",
        title: "Conflict resolution",
        nodes,
    }
}

fn grace(report: &RunReport, _g: &Glyphs) -> Section {
    let c = &report.conflicts;
    let mut nodes = Vec::new();
    if let Some(v) = cfg_num(&report.config, &["grace_period_seconds"]) {
        nodes.push(Node::new(format!("grace period: {} s", number(v))));
    }
    nodes.push(Node::new(format!(
        "grace saves: {} (executing ops shielded from a higher priority)",
        count(c.grace_saves)
    )));
    nodes.push(Node::new(format!(
        "preemptions: {} (executing ops aborted once their grace ended)",
        count(c.preemptions)
    )));
    Section {
        icon: "🛡️",
        tag: "GRACE",
        title: "Grace periods",
        nodes,
    }
}

fn latency(report: &RunReport, g: &Glyphs) -> Section {
    let l = &report.latency_us;
    let row = |name: &str, s: &LatencySummary| {
        vec![
            name.to_owned(),
            g.micros(s.p50 as f64),
            g.micros(s.p90 as f64),
            g.micros(s.p99 as f64),
            g.micros(s.p999 as f64),
            g.micros(s.max as f64),
            g.micros(s.mean),
            count(s.count),
        ]
    };
    let table = Table {
        head: vec!["p50", "p90", "p99", "p99.9", "max", "mean", "samples"],
        rows: vec![
            row("execution", &l.execution),
            row("end-to-end", &l.end_to_end),
        ],
    };
    Section {
        icon: "⏲️",
        tag: "LATENCY",
        title: "Latency",
        nodes: table.bare(),
    }
}

fn resources(report: &RunReport, g: &Glyphs) -> Section {
    let r = &report.resources;
    let mut nodes = vec![Node::new(format!(
        "memory (RSS): avg {} MB{}max {} MB",
        decimal(r.rss_mb_avg, 1),
        g.sep,
        decimal(r.rss_mb_max, 1)
    ))];
    let limit = report
        .thresholds
        .iter()
        .find(|t| t.name == "max_memory_mb")
        .map(|t| t.limit)
        .or_else(|| cfg_num(&report.config, &["thresholds", "max_memory_mb"]))
        .or_else(|| cfg_num(&report.config, &["max_memory_mb"]));
    if let Some(limit) = limit {
        let within = r.rss_mb_max <= limit;
        let relation = if within { "within" } else { "over" };
        nodes.push(Node::marked(
            within,
            format!(
                "memory status: max {} MB, {relation} the {} MB limit",
                decimal(r.rss_mb_max, 1),
                number(limit)
            ),
        ));
    }
    let total = report.duration_s.total;
    let share = if total > 0.0 {
        format!(
            " ({} of one core)",
            percent((r.cpu_user_s + r.cpu_sys_s) / total)
        )
    } else {
        String::new()
    };
    nodes.push(Node::new(format!(
        "cpu: user {}{}sys {}{share}",
        seconds(r.cpu_user_s),
        g.sep,
        seconds(r.cpu_sys_s)
    )));
    Section {
        icon: "💾",
        tag: "RESOURCES",
        title: "System resources",
        nodes,
    }
}

fn accounting(report: &RunReport, g: &Glyphs) -> Section {
    let o = &report.operations;
    // Added in u128 so that no set of u64 counters can overflow the check.
    let settled = u128::from(o.succeeded) + u128::from(o.rejected) + u128::from(o.cancelled);
    let submitted = u128::from(o.submitted);
    let balanced = settled == submitted;
    let terms = format!(
        "{} + {} + {}",
        count(o.succeeded),
        count(o.rejected),
        count(o.cancelled)
    );
    let equation = if balanced {
        format!("{} = {terms}", count(o.submitted))
    } else if submitted > settled {
        format!(
            "{} {} {terms} ({} unaccounted)",
            count(o.submitted),
            g.not_equal,
            submitted - settled
        )
    } else {
        format!(
            "{} {} {terms} ({} more settled than submitted)",
            count(o.submitted),
            g.not_equal,
            settled - submitted
        )
    };
    let nodes = vec![
        Node::marked(
            balanced,
            format!("submitted = succeeded + rejected + cancelled: {equation}"),
        ),
        Node::marked(
            o.in_flight_at_end == 0,
            format!("in flight at end: {}", count(o.in_flight_at_end)),
        ),
        Node::new(format!(
            "transient, not final states: failed attempts {}{}retried {}{}preempted {}",
            count(o.failed_attempts),
            g.sep,
            count(o.retried),
            g.sep,
            count(o.preempted)
        )),
    ];
    Section {
        icon: "📊",
        tag: "ACCOUNTING",
        title: "Operation accounting",
        nodes,
    }
}

fn integrity(report: &RunReport, _g: &Glyphs) -> Section {
    let i = &report.integrity;
    let mut nodes: Vec<Node> = i
        .checks
        .iter()
        .map(|check| {
            let mut text = check.id.name().to_string();
            if check.passed {
                // What the check covered; a failed check never shows it.
                let mut lines = check.detail.lines().filter(|l| !l.trim().is_empty());
                if let Some(first) = lines.next() {
                    text.push_str(": ");
                    text.push_str(first.trim());
                }
                return Node {
                    children: lines.map(|l| Node::new(l.trim())).collect(),
                    ..Node::marked(true, text)
                };
            }
            let noun = if check.violations == 1 {
                "violation"
            } else {
                "violations"
            };
            text.push_str(&format!(" ({} {noun})", count(check.violations)));
            let mut children: Vec<Node> = check
                .first_violations
                .iter()
                .map(|v| Node::new(v.to_string()))
                .collect();
            let more = check
                .violations
                .saturating_sub(check.first_violations.len() as u64);
            if more > 0 {
                children.push(Node::new(format!("and {} more", count(more))));
            }
            Node {
                children,
                ..Node::marked(false, text)
            }
        })
        .collect();
    if nodes.is_empty() {
        nodes.push(Node::new("no checks were recorded"));
    }
    nodes.push(Node::marked(
        i.violations == 0,
        format!("violations: {}", count(i.violations)),
    ));
    nodes.push(Node::new(format!(
        "entities modified: {}",
        count(i.entities_modified)
    )));
    nodes.push(Node::new(format!(
        "versions created: {}",
        count(i.versions_created)
    )));
    Section {
        icon: "🔍",
        tag: "INTEGRITY",
        title: "Data integrity",
        nodes,
    }
}

/// A threshold figure in the unit its name implies.
fn threshold_value(name: &str, v: f64, g: &Glyphs) -> String {
    if name.ends_with("_mb") {
        // A configured limit is usually whole; a measured peak is not.
        let mb = if v.fract() == 0.0 {
            number(v)
        } else {
            decimal(v, 1)
        };
        format!("{mb} MB")
    } else if name.ends_with("_us") {
        g.micros(v)
    } else if name.contains("rate") || name.contains("accuracy") {
        percent(v)
    } else {
        number(v)
    }
}

fn assessment(report: &RunReport, g: &Glyphs) -> Section {
    let mut nodes: Vec<Node> = report
        .thresholds
        .iter()
        .map(|t| {
            let relation = if t.name.starts_with("min_") {
                format!("{} ", g.at_least)
            } else if t.name.starts_with("max_") {
                format!("{} ", g.at_most)
            } else {
                String::new()
            };
            Node::marked(
                t.passed,
                format!(
                    "{}: {} (limit {relation}{})",
                    t.name,
                    threshold_value(&t.name, t.observed, g),
                    threshold_value(&t.name, t.limit, g)
                ),
            )
        })
        .collect();
    let checks = &report.integrity.checks;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.id.name())
        .collect();
    let clean = failed.is_empty() && report.integrity.violations == 0 && !checks.is_empty();
    let summary = if failed.is_empty() {
        format!(
            "integrity: {} of {} checks passed",
            checks.len(),
            checks.len()
        )
    } else {
        format!(
            "integrity: {} of {} checks failed ({})",
            failed.len(),
            checks.len(),
            failed.join(", ")
        )
    };
    nodes.push(Node::marked(clean, summary));
    Section {
        icon: "🎯",
        tag: "ASSESSMENT",
        title: "System assessment",
        nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{CheckId, CheckResult, ThresholdResult, Violation};
    use crate::report::sample_report;

    const PLAIN: TextStyle = TextStyle {
        emoji: true,
        color: false,
    };
    const ASCII_PLAIN: TextStyle = TextStyle {
        emoji: false,
        color: false,
    };

    fn text(report: &RunReport, style: TextStyle) -> String {
        let mut out = Vec::new();
        render(report, &mut out, style).expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("the report is UTF-8")
    }

    fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line contains {needle:?} in:\n{text}"))
    }

    fn failed_integrity() -> RunReport {
        let mut r = sample_report();
        let violation = |op, target, detail: &str| Violation {
            check: CheckId::PriorityRule,
            op: Some(op),
            target: Some(target),
            rule: "winner outranked".to_owned(),
            detail: detail.to_owned(),
        };
        r.integrity.checks[3] = CheckResult {
            id: CheckId::PriorityRule,
            passed: false,
            detail: "273 resolutions checked".to_owned(),
            violations: 2,
            first_violations: vec![
                violation(42, 3, "winner priority 5 below pending 8"),
                violation(49, 1, "winner priority 2 below pending 10"),
            ],
        };
        r.integrity.violations = 2;
        r.outcome.passed = false;
        r.outcome.exit_code = 3;
        r
    }

    #[test]
    fn ascii_mode_is_pure_ascii() {
        let mut r = failed_integrity();
        // Data may carry non-ASCII text of its own; it must be folded too.
        r.integrity.checks[0].detail = "p99 12 µs → fine · ok ✅".to_owned();
        r.config["priority_distribution"]["NIEDRIG_Ä"] = serde_json::json!(0.0);
        for report in [sample_report(), r] {
            let out = text(&report, ASCII_PLAIN);
            let bad: Vec<char> = out.chars().filter(|c| !c.is_ascii()).collect();
            assert!(bad.is_empty(), "non-ASCII {bad:?} in:\n{out}");
            assert!(out.contains("[CONFIG] Configuration"));
            assert!(out.contains("|- "));
            assert!(out.contains("`- "));
        }
    }

    #[test]
    fn emoji_mode_draws_trees_and_icons() {
        let out = text(&sample_report(), PLAIN);
        for icon in ["📋", "⏱️", "🔧", "⚔️", "🛡️", "⏲️", "💾", "📊", "🔍", "🎯"]
        {
            assert!(out.contains(icon), "missing {icon}");
        }
        assert!(out.contains("├─ "));
        assert!(out.contains("└─ "));
        // A pipe continues past a line whose siblings follow its children.
        let failed = text(&failed_integrity(), PLAIN);
        assert!(failed.contains("   │  └─ "), "{failed}");
    }

    #[test]
    fn sections_come_in_order() {
        let out = text(&sample_report(), ASCII_PLAIN);
        let tags = [
            "[CONFIG]",
            "[PERFORMANCE]",
            "[WORK]",
            "[CONFLICTS]",
            "[GRACE]",
            "[LATENCY]",
            "[RESOURCES]",
            "[ACCOUNTING]",
            "[INTEGRITY]",
            "[ASSESSMENT]",
        ];
        let positions: Vec<usize> = tags
            .iter()
            .map(|t| out.find(t).unwrap_or_else(|| panic!("missing {t}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }

    #[test]
    fn no_color_means_no_escape_codes() {
        for report in [sample_report(), failed_integrity()] {
            for emoji in [true, false] {
                let out = text(
                    &report,
                    TextStyle {
                        emoji,
                        color: false,
                    },
                );
                assert!(!out.contains('\x1b'), "escape code in:\n{out}");
            }
        }
    }

    #[test]
    fn escape_codes_in_data_are_neutralised() {
        let mut r = sample_report();
        r.integrity.checks[0].detail = "sneaky \x1b[31mred\x1b[0m".to_owned();
        let out = text(&r, PLAIN);
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn color_means_escape_codes() {
        let out = text(
            &sample_report(),
            TextStyle {
                emoji: true,
                color: true,
            },
        );
        assert!(out.contains('\x1b'));
        // Green for the verdict of a passed run (ANSI 32).
        assert!(line_with(&out, "PASSED").contains("\x1b[32"), "{out}");
        let failed = text(
            &failed_integrity(),
            TextStyle {
                emoji: false,
                color: true,
            },
        );
        assert!(line_with(&failed, "FAILED (exit 3)").contains("\x1b[31"));
    }

    #[test]
    fn verdict_for_each_outcome() {
        let passed = text(&sample_report(), PLAIN);
        assert!(passed.contains("✅ PASSED (exit 0)"), "{passed}");
        assert!(!passed.contains("FAILED"));
        assert!(!passed.contains("INTERRUPTED"));

        let integrity = text(&failed_integrity(), PLAIN);
        let verdict = line_with(&integrity, "FAILED");
        assert!(verdict.starts_with("❌ FAILED (exit 3)"), "{verdict}");
        assert!(verdict.contains("integrity check failed: priority_rule"));

        let mut threshold = sample_report();
        threshold.thresholds[0].passed = false;
        threshold.thresholds[0].observed = 0.12;
        threshold.outcome.passed = false;
        threshold.outcome.exit_code = 1;
        let out = text(&threshold, ASCII_PLAIN);
        let verdict = line_with(&out, "FAILED");
        assert!(verdict.starts_with("[FAIL] FAILED (exit 1)"), "{verdict}");
        assert!(verdict.contains("threshold not met: min_completion_rate"));
        assert!(out.contains("[FAIL] min_completion_rate: 12.0% (limit >= 15.0%)"));

        let mut interrupted = sample_report();
        interrupted.outcome = crate::report::model::Outcome {
            passed: false,
            exit_code: 130,
            interrupted: true,
        };
        let out = text(&interrupted, PLAIN);
        let first_lines: Vec<&str> = out.lines().take(2).collect();
        assert!(
            first_lines[1].contains("INTERRUPTED — partial run"),
            "{first_lines:?}"
        );
        assert!(line_with(&out, "(exit 130)").contains("INTERRUPTED"));
        assert!(!out.contains("PASSED"));
        let ascii = text(&interrupted, ASCII_PLAIN);
        assert!(ascii.contains("INTERRUPTED - partial run"));
    }

    #[test]
    fn accounting_balances_from_the_numbers() {
        let out = text(&sample_report(), PLAIN);
        let line = line_with(&out, "submitted = succeeded");
        assert!(line.contains("✅"), "{line}");
        assert!(line.contains("1,502 = 273 + 1,229 + 0"), "{line}");

        // The outcome claims a pass, but the numbers do not add up.
        let mut r = sample_report();
        r.operations.rejected -= 1;
        let out = text(&r, PLAIN);
        let line = line_with(&out, "submitted = succeeded");
        assert!(line.contains("❌"), "{line}");
        assert!(
            line.contains("1,502 ≠ 273 + 1,228 + 0 (1 unaccounted)"),
            "{line}"
        );

        r.operations.rejected += 2;
        let out = text(&r, ASCII_PLAIN);
        let line = line_with(&out, "submitted = succeeded");
        assert!(line.contains("[FAIL]"), "{line}");
        assert!(line.contains("!="), "{line}");
    }

    #[test]
    fn in_flight_at_end_is_judged() {
        let mut r = sample_report();
        r.operations.in_flight_at_end = 4;
        let accounting = |r: &RunReport| {
            let out = text(r, PLAIN);
            let start = out.find("Operation accounting").unwrap_or(0);
            out[start..].to_owned()
        };
        assert!(line_with(&accounting(&r), "in flight at end: 4").contains("❌"));
        let passed = accounting(&sample_report());
        assert!(line_with(&passed, "in flight at end: 0").contains("✅"));
    }

    #[test]
    fn failing_checks_show_their_violations() {
        let out = text(&failed_integrity(), PLAIN);
        let line = line_with(&out, "priority_rule (2 violations)");
        assert!(line.contains("❌"), "{line}");
        // A failed check never shows what it would have covered.
        assert!(!line.contains("resolutions checked"), "{line}");
        // Each violation sits under the check, naming op, target and rule.
        assert!(
            out.contains("│  ├─ op-0000002a on target 3: winner outranked: winner priority 5"),
            "{out}"
        );
        assert!(out.contains("│  └─ op-00000031 on target 1"), "{out}");
        assert!(line_with(&out, "violations: 2").contains("❌"));
        assert!(line_with(&out, "integrity: 1 of 9 checks failed (priority_rule)").contains("❌"));
        assert!(line_with(&out, "replay").contains("✅"));
    }

    #[test]
    fn configuration_shows_seed_and_tolerates_missing_keys() {
        let out = text(&sample_report(), PLAIN);
        assert!(out.contains("seed: 42 (rerun with --seed 42)"));
        assert!(out.contains("rate: 100.0 ops/s"));
        assert!(out.contains("batch size: 3–8 ops"));
        assert!(out.contains(
            "priority distribution: LOW 25.0% · NORMAL 25.0% · HIGH 25.0% · CRITICAL 25.0%"
        ));
        assert!(out.contains("faults: none"));

        let mut r = sample_report();
        r.config = serde_json::json!({ "operation_rate_per_second": "max" });
        r.rates.target_ops_per_s = None;
        r.seed = 7;
        let out = text(&r, PLAIN);
        assert!(out.contains("rate: max (capacity mode)"));
        assert!(out.contains("seed: 7 (rerun with --seed 7)"));
        assert!(!out.contains("duration:"));
        // Without a batch table the model is shown without its formula.
        assert!(out.contains("(model 18.2%)"));

        r.config = Value::Null;
        let out = text(&r, PLAIN);
        assert!(out.contains("seed: 7"));
    }

    #[test]
    fn performance_shows_model_beside_completion_rate() {
        let out = text(&sample_report(), PLAIN);
        assert!(
            out.contains("completion rate: 18.2% (model 2/(3+8) = 18.2%)"),
            "{out}"
        );
        assert!(out.contains("rejection rate: 81.8%"));
        assert!(out.contains("rate: 100.1 ops/s achieved of 100.0 ops/s target (100.1%)"));
    }

    #[test]
    fn tables_align_their_columns() {
        let full = text(&sample_report(), PLAIN);
        let at = full.find("by priority").unwrap_or(0);
        let out = &full[full[..at].rfind('\n').map_or(0, |i| i + 1)..];
        let header = line_with(out, "by priority");
        let low = line_with(out, "LOW ");
        let critical = line_with(out, "CRITICAL ");
        // Right-aligned columns end at the same character position.
        let end = |l: &str| l.chars().count();
        assert_eq!(end(header), end(low), "\n{header}\n{low}");
        assert_eq!(end(low), end(critical));
        let col = |l: &str, needle: &str| {
            let byte = l.find(needle).unwrap_or(0) + needle.len();
            l[..byte].chars().count()
        };
        assert_eq!(col(header, "submitted"), col(low, "376"));
    }

    #[test]
    fn thresholds_use_their_units() {
        let g = &FANCY;
        assert_eq!(threshold_value("max_memory_mb", 11.24, g), "11.2 MB");
        assert_eq!(threshold_value("max_execution_p99_us", 14.0, g), "14 µs");
        assert_eq!(threshold_value("min_completion_rate", 0.15, g), "15.0%");
        assert_eq!(threshold_value("min_rate_accuracy", 0.95, g), "95.0%");
        assert_eq!(threshold_value("min_settled_ops", 3.0, g), "3");
        let mut r = sample_report();
        r.thresholds.push(ThresholdResult {
            name: "max_execution_p99_us".to_owned(),
            limit: 20.0,
            observed: 14.0,
            passed: true,
        });
        let out = text(&r, PLAIN);
        assert!(out.contains("✅ max_execution_p99_us: 14 µs (limit ≤ 20 µs)"));
    }

    #[test]
    fn memory_status_judges_the_peak() {
        let mut r = sample_report();
        let out = text(&r, PLAIN);
        assert!(line_with(&out, "memory status").contains("✅"));
        r.resources.rss_mb_max = 1_200.0;
        let out = text(&r, PLAIN);
        let line = line_with(&out, "memory status");
        assert!(
            line.contains("❌") && line.contains("over the 1,000 MB limit"),
            "{line}"
        );
    }

    #[test]
    fn panics_are_flagged() {
        let mut r = sample_report();
        assert!(!line_with(&text(&r, PLAIN), "panics caught").contains("❌"));
        r.work.panics_caught = 2;
        assert!(line_with(&text(&r, PLAIN), "panics caught: 2").contains("❌"));
    }

    #[test]
    fn zero_submissions_do_not_divide_by_zero() {
        let mut r = sample_report();
        r.operations = Default::default();
        r.duration_s.total = 0.0;
        let out = text(&r, PLAIN);
        assert!(out.contains("rejection rate: n/a"));
        assert!(!out.contains("NaN") && !out.contains("inf"));
    }

    #[test]
    fn ascii_fold_covers_common_symbols() {
        let p = Painter::new(ASCII_PLAIN);
        assert_eq!(p.clean("12 µs ≥ 3 → x · y — z"), "12 us >= 3 -> x | y - z");
        assert_eq!(p.clean("a\tb\nc"), "a b c");
        assert_eq!(p.clean("日本"), "??");
        let fancy = Painter::new(PLAIN);
        assert_eq!(fancy.clean("12 µs"), "12 µs");
    }
}
