//! The document: reading a config file into text, and turning byte spans
//! of that text into the places that error messages name.
//!
//! Reading refuses what is plainly not a config before any parsing
//! (missing, a directory, over 1 MiB, not UTF-8), each with its own
//! message. [`Doc`] pairs the text with its origin (a path, or "built-in
//! default") and is the only code that computes line and column, so every
//! message spells a place the same way: `origin, line L, column C`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;

use super::error::ConfigError;

/// A config is a small text file; anything larger is a mistake (or
/// `/dev/zero`).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// The text of the config file at `path`.
pub(super) fn read_text(path: &Path) -> Result<String, ConfigError> {
    let fail = |problem: String| ConfigError::File {
        path: path.display().to_string(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(io_problem(&e)))?;
    if meta.is_dir() {
        return Err(fail("is a directory, not a config file".into()));
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(io_problem(&e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(
            "is larger than 1 MiB; a config is a small TOML text file".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(format!(
            "is not UTF-8 text (invalid byte at offset {}); a config is a TOML text file",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn io_problem(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "is a directory, not a config file".into(),
        _ => format!("cannot be read: {e}"),
    }
}

/// The text being parsed and what to call it.
pub(super) struct Doc<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
}

/// Where a key's value is written, and how.
#[derive(Clone, Debug)]
pub(super) struct Located {
    span: Range<usize>,
    line: usize,
    column: usize,
    /// The value as written (first line, shortened).
    pub(super) text: String,
}

/// Where each value of the document is written, by dotted key
/// (`batch.min_size`); filled by the schema walk.
pub(super) type Places = HashMap<String, Located>;

impl Doc<'_> {
    pub(super) fn locate(&self, span: Range<usize>) -> Located {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        let written = self.text.get(span.clone()).unwrap_or("");
        Located {
            span,
            line,
            column,
            text: snippet(written),
        }
    }

    /// `origin, line L, column C`.
    pub(super) fn at(&self, located: &Located) -> String {
        format!(
            "{}, line {}, column {}",
            self.origin, located.line, located.column
        )
    }

    pub(super) fn syntax_error(&self, e: &toml::de::Error) -> ConfigError {
        let at = match e.span() {
            Some(span) => self.at(&self.locate(span)),
            None => self.origin.to_string(),
        };
        ConfigError::Syntax {
            at,
            message: one_line(e.message()),
        }
    }

    /// A serde error the schema walk did not foresee: name the innermost
    /// key whose value contains the span.
    pub(super) fn serde_error(&self, e: &toml::de::Error, places: &Places) -> ConfigError {
        let message = one_line(e.message());
        let Some(span) = e.span() else {
            return ConfigError::Syntax {
                at: self.origin.to_string(),
                message,
            };
        };
        let key = places
            .iter()
            .filter(|(_, l)| l.span.start <= span.start && span.end <= l.span.end)
            .min_by_key(|(_, l)| l.span.len());
        match key {
            Some((key, l)) => ConfigError::Invalid {
                at: self.at(l),
                key: key.clone(),
                value: l.text.clone(),
                allowed: message,
            },
            None => ConfigError::Syntax {
                at: self.at(&self.locate(span)),
                message,
            },
        }
    }
}

/// The first line of `s`, at most 40 characters.
fn snippet(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let short: String = line.chars().take(40).collect();
    if short.len() < s.trim().len() {
        format!("{short}…")
    } else {
        short
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let e = read_text(&missing).unwrap_err();
        assert!(e.to_string().ends_with("missing.toml: no such file"), "{e}");
        let e = read_text(dir.path()).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, [0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0]).unwrap();
        let e = read_text(&binary).unwrap_err();
        assert!(e.to_string().contains("not UTF-8 text"), "{e}");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = read_text(&big).unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        let empty = dir.path().join("empty.toml");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(read_text(&empty).unwrap(), "");
    }

    #[test]
    fn places_count_lines_and_characters_from_one() {
        let doc = Doc {
            origin: "f.toml",
            text: "a = 1\n[t]\nname = \"é\" # x\nb = \"\"\"\nsecond\n\"\"\"\n",
        };
        let start = doc.text.find("# x").unwrap();
        // `é` is two bytes but one column.
        let l = doc.locate(start..start + 3);
        assert_eq!(doc.at(&l), "f.toml, line 3, column 12");
        assert_eq!(l.text, "# x");
        let start = doc.text.find("\"\"\"").unwrap();
        let l = doc.locate(start..doc.text.len() - 1);
        assert_eq!((l.line, l.column), (4, 5));
        assert_eq!(l.text, "\"\"\"…", "a multi-line value shows its first line");
    }

    #[test]
    fn a_long_value_is_shortened_to_forty_characters() {
        let long = "x".repeat(50);
        assert_eq!(snippet(&long), format!("{}…", "x".repeat(40)));
        assert_eq!(snippet("  short  "), "short");
    }
}
