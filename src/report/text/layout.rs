//! Layout: a section as a small tree of lines, and tables inside trees.
//!
//! Section builders produce [`Node`]s holding plain text and an optional
//! pass/fail [`Mark`]; they never think about glyphs or colours, which the
//! painter adds. A [`Table`] lays rows out in aligned columns and hands them
//! back as nodes, under a labelled line or under a bare heading.

use super::paint::Mark;

/// One line of a section and the lines under it.
#[derive(Debug, Default)]
pub(super) struct Node {
    pub(super) text: String,
    pub(super) mark: Option<Mark>,
    pub(super) children: Vec<Node>,
    /// Drawn without a branch glyph, aligned with its siblings' text: a
    /// table header above the rows.
    pub(super) bare: bool,
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

    /// One node: `label` with the headings on its line, the rows under it.
    pub(super) fn under(self, label: &str) -> Node {
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
    pub(super) fn bare(self) -> Vec<Node> {
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
