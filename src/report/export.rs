//! Output formats behind one seam, and all the output-file I/O.
//!
//! A format is an [`Exporter`]: it writes a finished [`RunReport`] to the
//! writer it is handed and knows nothing of files or terminals. An
//! [`ExportTarget`] says where the output goes (a file, stdout or stderr).
//! The [`ExportManager`] owns the rest: it refuses two outputs on one
//! destination before the run starts, creates the files early (so a bad
//! path costs nothing), and after the run writes every export in turn,
//! carrying on past a failed one so that one broken destination never hides
//! the report from the others. The events stream is opened here too, since
//! it is an output file like the reports.
//!
//! Adding a format (HTML, Markdown, JUnit, CSV) is one file with its
//! `Exporter` and one line in [`ExportFormat::exporter`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::json;
use super::model::RunReport;
use super::text::{self, TextStyle};

/// One output format.
pub trait Exporter {
    /// Write the whole report to `out`.
    fn export(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()>;
}

/// The JSON document (see `model::SCHEMA_VERSION`).
struct JsonExporter;

impl Exporter for JsonExporter {
    fn export(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        json::render(report, out)
    }
}

/// The sectioned text report.
struct TextExporter {
    style: TextStyle,
}

impl Exporter for TextExporter {
    fn export(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        text::render(report, out, self.style)
    }
}

/// The formats the binary can write: the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Text(TextStyle),
    Json,
}

impl ExportFormat {
    fn exporter(self) -> Box<dyn Exporter> {
        match self {
            ExportFormat::Text(style) => Box::new(TextExporter { style }),
            ExportFormat::Json => Box::new(JsonExporter),
        }
    }

    /// Named in messages: "the JSON report".
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Text(_) => "text",
            ExportFormat::Json => "JSON",
        }
    }
}

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportTarget {
    Stdout,
    Stderr,
    File(PathBuf),
}

impl ExportTarget {
    /// A path given on the command line: `-` is stdout.
    pub fn from_arg(path: &Path) -> ExportTarget {
        if path == Path::new("-") {
            ExportTarget::Stdout
        } else {
            ExportTarget::File(path.to_path_buf())
        }
    }
}

impl std::fmt::Display for ExportTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportTarget::Stdout => f.write_str("stdout"),
            ExportTarget::Stderr => f.write_str("stderr"),
            ExportTarget::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why an output could not be prepared or written. `origin` is the flag
/// that asked for it (`--json`), or the stream it defaults to.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file could not be created before the run.
    #[error("{origin} {path}: cannot create the file: {reason}")]
    Create {
        origin: &'static str,
        path: String,
        reason: String,
    },
    /// Two outputs on one destination.
    #[error("{first} and {second} both write to {target}; give them different destinations")]
    Clash {
        first: &'static str,
        second: &'static str,
        target: String,
    },
    /// Writing after the run failed.
    #[error("cannot write the {format} report to {target}: {source}")]
    Write {
        format: &'static str,
        target: String,
        source: io::Error,
    },
}

/// One planned output.
struct Export {
    format: ExportFormat,
    target: ExportTarget,
    /// Created before the run.
    file: Option<File>,
}

/// Every output of a run: planned and checked before it, written after.
#[derive(Default)]
pub struct ExportManager {
    exports: Vec<Export>,
    /// Destinations taken so far, with the flag that took each.
    taken: Vec<(ExportTarget, &'static str)>,
}

impl ExportManager {
    pub fn new() -> ExportManager {
        ExportManager::default()
    }

    /// Claim `target` for `origin`; refuses a destination already taken.
    fn claim(&mut self, target: &ExportTarget, origin: &'static str) -> Result<(), ExportError> {
        let same = |t: &ExportTarget| match (t, target) {
            (ExportTarget::File(a), ExportTarget::File(b)) => same_file(a, b),
            (a, b) => a == b,
        };
        if let Some((_, first)) = self.taken.iter().find(|(t, _)| same(t)) {
            return Err(ExportError::Clash {
                first,
                second: origin,
                target: target.to_string(),
            });
        }
        self.taken.push((target.clone(), origin));
        Ok(())
    }

    /// Plan `format` to `target`, asked for by `origin`; a file is created
    /// now.
    pub fn add(
        &mut self,
        format: ExportFormat,
        target: ExportTarget,
        origin: &'static str,
    ) -> Result<(), ExportError> {
        self.claim(&target, origin)?;
        let file = match &target {
            ExportTarget::File(path) => Some(create(path, origin)?),
            _ => None,
        };
        self.exports.push(Export {
            format,
            target,
            file,
        });
        Ok(())
    }

    /// Open the events stream (`--events`), which the run writes while it
    /// goes.
    pub fn events(
        &mut self,
        target: ExportTarget,
        origin: &'static str,
    ) -> Result<Box<dyn Write + Send>, ExportError> {
        self.claim(&target, origin)?;
        Ok(match &target {
            ExportTarget::File(path) => Box::new(BufWriter::new(create(path, origin)?)),
            ExportTarget::Stdout => Box::new(BufWriter::new(io::stdout())),
            ExportTarget::Stderr => Box::new(BufWriter::new(io::stderr())),
        })
    }

    /// Write every planned export, in the order planned. A failed one does
    /// not stop the others; every failure is returned.
    pub fn write_all(self, report: &RunReport) -> Vec<ExportError> {
        let mut errors = Vec::new();
        for export in self.exports {
            let exporter = export.format.exporter();
            let written = match export.file {
                Some(file) => {
                    let mut out = BufWriter::new(file);
                    exporter.export(report, &mut out).and_then(|()| out.flush())
                }
                None => {
                    let mut out: Box<dyn Write> = match export.target {
                        ExportTarget::Stderr => Box::new(BufWriter::new(io::stderr().lock())),
                        _ => Box::new(BufWriter::new(io::stdout().lock())),
                    };
                    exporter.export(report, &mut out).and_then(|()| out.flush())
                }
            };
            if let Err(source) = written {
                errors.push(ExportError::Write {
                    format: export.format.name(),
                    target: export.target.to_string(),
                    source,
                });
            }
        }
        errors
    }
}

/// Whether two paths name one file: equal as written, or as resolved when
/// both exist.
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Create (truncate) an output file asked for by `origin`.
fn create(path: &Path, origin: &'static str) -> Result<File, ExportError> {
    File::create(path).map_err(|e| ExportError::Create {
        origin,
        path: path.display().to_string(),
        reason: match e.kind() {
            io::ErrorKind::NotFound => "its directory does not exist".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            io::ErrorKind::IsADirectory => "is a directory".to_string(),
            _ => e.to_string(),
        },
    })
}
