//! Layout: a section as a small tree of lines, tables inside trees, and
//! the wrapping of lines to the width of the terminal.
//!
//! Section builders produce [`Node`]s holding plain text and an optional
//! [`Mark`]; they never think about glyphs, colours or widths, which the
//! painter adds. A [`Table`] rides in its node until the painter knows how
//! far in it is drawn: then it lays its rows out in aligned columns when
//! they fit, or stacks each row as one `name: heading value · …` line when
//! they do not. [`wrap`] breaks a long line between words.

use super::paint::Mark;

/// One line of a section and the lines under it.
#[derive(Clone, Debug, Default)]
pub(super) struct Node {
    pub(super) text: String,
    pub(super) mark: Option<Mark>,
    pub(super) children: Vec<Node>,
    /// Drawn without a branch glyph, aligned with its siblings' text: a
    /// table header above the rows.
    pub(super) bare: bool,
    /// A table to lay out once its indentation is known: under this
    /// node's text, or (for a bare node) in place of the node.
    pub(super) table: Option<Table>,
    /// Never wrapped: a command to copy whole.
    pub(super) nowrap: bool,
}

impl Node {
    pub(super) fn new(text: impl Into<String>) -> Node {
        Node {
            text: text.into(),
            ..Node::default()
        }
    }

    pub(super) fn marked(passed: bool, text: impl Into<String>) -> Node {
        Node {
            mark: Some(Mark::of(passed)),
            ..Node::new(text)
        }
    }
}

pub(super) struct Section {
    pub(super) icon: &'static str,
    pub(super) tag: &'static str,
    pub(super) title: &'static str,
    pub(super) nodes: Vec<Node>,
}

/// Columns inside a tree: the first left-aligned (row names), the rest
/// right-aligned under their headings.
#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) head: Vec<&'static str>,
    pub(super) rows: Vec<Vec<String>>,
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

    /// A node that lays the table out under `label`.
    pub(super) fn under(self, label: &str) -> Node {
        Node {
            table: Some(self),
            ..Node::new(label)
        }
    }

    /// A node that lays the table out in its own place, rows as siblings.
    pub(super) fn bare(self) -> Node {
        Node {
            bare: true,
            table: Some(self),
            ..Node::default()
        }
    }

    /// The nodes `node` (which holds this table) stands for, laid out for
    /// lines that start `indent` columns in and may be `width` wide: in
    /// aligned columns when they fit, stacked otherwise. `sep` goes
    /// between the figures of a stacked row.
    pub(super) fn lay_out(&self, node: &Node, indent: usize, width: usize, sep: &str) -> Vec<Node> {
        // A labelled table's rows sit one level (three columns) deeper.
        let (wide, depth) = if node.bare {
            (self.wide_bare(), 0)
        } else {
            (vec![self.wide_under(&node.text)], 3)
        };
        let fits = |n: &Node, extra: usize| Table::width(&n.text) + indent + extra <= width;
        let all_fit = wide
            .iter()
            .all(|n| fits(n, 0) && n.children.iter().all(|c| fits(c, depth)));
        if all_fit {
            return wide;
        }
        let rows: Vec<Node> = self.rows.iter().map(|r| self.stacked(r, sep)).collect();
        if node.bare {
            rows
        } else {
            vec![Node {
                children: rows,
                table: None,
                ..node.clone()
            }]
        }
    }

    /// One row as a line: `name: heading value · heading value`, which
    /// wraps between figures only.
    fn stacked(&self, row: &[String], sep: &str) -> Node {
        let name = row.first().map_or("", String::as_str);
        let cells: Vec<String> = self
            .head
            .iter()
            .zip(row.iter().skip(1))
            .map(|(h, v)| format!("{h} {v}"))
            .collect();
        Node::new(format!("{name}: {}", items(&cells, sep)))
    }

    /// One node: `label` with the headings on its line, the rows under it.
    fn wide_under(&self, label: &str) -> Node {
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
    fn wide_bare(&self) -> Vec<Node> {
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

/// A space that [`wrap`] never breaks at; the painter draws it as a space.
pub(super) const GLUE: char = '\u{a0}';

/// `items` joined by `sep` (` · `), to wrap between items only: the spaces
/// inside an item, and before the separator, are glued, so a continuation
/// line never starts with a separator nor splits `1,000 MB`.
pub(super) fn items<S: AsRef<str>>(items: &[S], sep: &str) -> String {
    let glued_sep = format!("{GLUE}{}", sep.trim_start());
    items
        .iter()
        .map(|i| i.as_ref().replace(' ', &GLUE.to_string()))
        .collect::<Vec<_>>()
        .join(&glued_sep)
}

/// Display width of `s` in a terminal (emoji count two columns).
pub(super) fn width(s: &str) -> usize {
    console::measure_text_width(s)
}

/// `text` broken between words into lines: the first at most `first`
/// columns wide, the others at most `rest`. A line that fits comes back
/// as it is (spacing included); a word longer than a line is never cut.
pub(super) fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    if width(text) <= first {
        return vec![text.to_owned()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut room = first;
    // Empty words are runs of spaces: kept inside a line (an emoji's
    // padding), dropped where a line breaks.
    for word in text.split(' ') {
        if !line.is_empty() && width(&line) + 1 + width(word) > room {
            lines.push(std::mem::take(&mut line).trim_end().to_owned());
            room = rest;
        }
        if line.is_empty() && word.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_between_words_only() {
        let text = "the quick brown fox jumps over the lazy dog";
        assert_eq!(wrap(text, 100, 100), vec![text]);
        let lines = wrap(text, 15, 10);
        assert_eq!(
            lines,
            ["the quick brown", "fox jumps", "over the", "lazy dog"]
        );
        // A word wider than a line stands alone, uncut.
        assert_eq!(
            wrap("a supercalifragilistic b", 5, 5),
            ["a", "supercalifragilistic", "b"]
        );
        assert_eq!(wrap("", 5, 5), [""]);
        assert_eq!(
            wrap("!  two spaces kept", 12, 12),
            ["!  two", "spaces kept"]
        );
        let list = items(&["LOW 25.0%", "HIGH 75.0%"], " · ");
        assert_eq!(
            wrap(&list, 12, 12),
            ["LOW\u{a0}25.0%\u{a0}·", "HIGH\u{a0}75.0%"]
        );
    }

    #[test]
    fn a_table_stacks_when_its_columns_do_not_fit() {
        let table = Table {
            head: vec!["p50", "p99"],
            rows: vec![
                vec![
                    "execution".to_owned(),
                    "3 µs".to_owned(),
                    "14 µs".to_owned(),
                ],
                vec![
                    "end-to-end".to_owned(),
                    "11 µs".to_owned(),
                    "1.8 ms".to_owned(),
                ],
            ],
        };
        let node = table.clone().under("latency");
        let wide = table.lay_out(&node, 6, 80, " · ");
        assert_eq!(wide[0].text, "latency          p50     p99");
        assert_eq!(wide[0].children[1].text, "end-to-end  11 µs  1.8 ms");
        let narrow = table.lay_out(&node, 6, 30, " · ");
        assert_eq!(narrow[0].text, "latency");
        assert_eq!(
            narrow[0].children[0].text.replace(GLUE, " "),
            "execution: p50 3 µs · p99 14 µs"
        );
        let bare = table.clone().bare();
        assert_eq!(table.lay_out(&bare, 6, 80, " · ").len(), 3);
        assert_eq!(table.lay_out(&bare, 6, 20, " · ").len(), 2);
    }
}
