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

use super::direct::DirectSink;
use super::model::RunReport;
use super::text::{self, TextStyle};
use super::{csv, html, json, junit, markdown};

/// One output format.
pub(crate) trait Exporter {
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

/// A format that is one render function.
struct Render(fn(&RunReport, &mut dyn Write) -> io::Result<()>);

impl Exporter for Render {
    fn export(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        (self.0)(report, out)
    }
}

/// The formats the binary can write: the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Text(TextStyle),
    Json,
    /// The summary for a CI page (see `markdown`).
    Markdown,
    /// One test case per check and threshold (see `junit`).
    Junit,
    /// The timeline (see `csv`).
    Csv,
    /// The page with charts (see `html`).
    Html,
}

impl ExportFormat {
    fn exporter(self) -> Box<dyn Exporter> {
        match self {
            ExportFormat::Text(style) => Box::new(TextExporter { style }),
            ExportFormat::Json => Box::new(JsonExporter),
            ExportFormat::Markdown => Box::new(Render(markdown::render)),
            ExportFormat::Junit => Box::new(Render(junit::render)),
            ExportFormat::Csv => Box::new(Render(csv::render)),
            ExportFormat::Html => Box::new(Render(html::render)),
        }
    }

    /// Named in messages: "the JSON report".
    pub(crate) fn name(self) -> &'static str {
        match self {
            ExportFormat::Text(_) => "text",
            ExportFormat::Json => "JSON",
            ExportFormat::Markdown => "Markdown",
            ExportFormat::Junit => "JUnit",
            ExportFormat::Csv => "CSV",
            ExportFormat::Html => "HTML",
        }
    }
}

/// Where an output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportTarget {
    Stdout,
    Stderr,
    File(PathBuf),
    /// Added to the end of the file, which is created if missing (a CI
    /// step summary that several steps write to).
    Append(PathBuf),
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
            ExportTarget::File(p) | ExportTarget::Append(p) => write!(f, "{}", p.display()),
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
    /// An output on a file the command reads: it would destroy its input.
    #[error("{output} {path} is the file {input} reads; give the output a different destination")]
    Overwrite {
        output: &'static str,
        input: &'static str,
        path: String,
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
    file: Option<PendingFile>,
}

/// A report file being written: a temporary file beside its destination,
/// renamed over it once complete and removed otherwise, so a reader never
/// finds an empty or half-written report under the real name. A
/// destination that exists and is not a regular file (`/dev/stdout`, a
/// pipe) is written in place: renaming over it would replace the device.
pub struct PendingFile {
    /// `None` when writing in place.
    temp: Option<PathBuf>,
    dest: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    /// Create the temporary file beside `dest`; `origin` names the flag
    /// in errors.
    pub fn create(dest: &Path, origin: &'static str) -> Result<PendingFile, ExportError> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match dest.metadata() {
            Ok(m) if m.is_dir() => {
                // Refuse what the rename would fail on, before the run.
                return Err(ExportError::Create {
                    origin,
                    path: dest.display().to_string(),
                    reason: "is a directory".to_string(),
                });
            }
            Ok(m) if !m.is_file() => {
                return Ok(PendingFile {
                    temp: None,
                    dest: dest.to_path_buf(),
                    file: Some(create(dest, origin)?),
                });
            }
            _ => {}
        }
        let temp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = create(&temp, origin).map_err(|e| match e {
            ExportError::Create { reason, .. } => ExportError::Create {
                origin,
                path: dest.display().to_string(),
                reason,
            },
            e => e,
        })?;
        unfinished().push(temp.clone());
        Ok(PendingFile {
            temp: Some(temp),
            dest: dest.to_path_buf(),
            file: Some(file),
        })
    }

    /// Open `dest` to add to its end, creating it if missing.
    fn append(dest: &Path, origin: &'static str) -> Result<PendingFile, ExportError> {
        let file = File::options()
            .append(true)
            .create(true)
            .open(dest)
            .map_err(|e| create_error(dest, origin, e))?;
        Ok(PendingFile {
            temp: None,
            dest: dest.to_path_buf(),
            file: Some(file),
        })
    }

    /// Write through `write`, then move the file into place.
    pub fn finish(
        mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("the report file was already written"))?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        match self.temp.take() {
            Some(temp) => {
                forget_unfinished(&temp);
                file.sync_all()?;
                let renamed = std::fs::rename(&temp, &self.dest);
                if renamed.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                renamed
            }
            None => Ok(()),
        }
    }
}

impl Drop for PendingFile {
    /// Whatever did not make it into place is removed.
    fn drop(&mut self) {
        if let Some(temp) = &self.temp {
            forget_unfinished(temp);
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// The temporary files of every [`PendingFile`] not yet finished: what a
/// process leaving at once (a second Ctrl-C) must not leave behind.
fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    UNFINISHED.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget_unfinished(temp: &Path) {
    unfinished().retain(|p| p != temp);
}

/// Remove the temporary file of every output not yet finished. For a
/// process about to exit without running destructors; the outputs keep
/// whatever they held before.
pub fn remove_unfinished() {
    for temp in unfinished().drain(..) {
        let _ = std::fs::remove_file(temp);
    }
}

/// Every output of a run: planned and checked before it, written after.
#[derive(Default)]
pub struct ExportManager {
    exports: Vec<Export>,
    /// Destinations taken so far, with the flag that took each.
    taken: Vec<(ExportTarget, &'static str)>,
    /// Files the command reads, with the flag that names each: no output
    /// may go there.
    inputs: Vec<(PathBuf, &'static str)>,
}

/// Refuse `output` (asked for by `origin`) if it is one of the files the
/// command reads (`inputs`, each with the flag that names it): writing it
/// would destroy the input before, or while, it is read.
pub fn refuse_input<P: AsRef<Path>>(
    output: &Path,
    origin: &'static str,
    inputs: &[(P, &'static str)],
) -> Result<(), ExportError> {
    match inputs
        .iter()
        .find(|(input, _)| same_file(input.as_ref(), output))
    {
        Some((_, input)) => Err(ExportError::Overwrite {
            output: origin,
            input,
            path: output.display().to_string(),
        }),
        None => Ok(()),
    }
}

impl ExportManager {
    pub fn new() -> ExportManager {
        ExportManager::default()
    }

    /// A file the command reads, named by `origin`: every output claimed
    /// after this is refused there.
    pub fn input(&mut self, path: &Path, origin: &'static str) {
        self.inputs.push((path.to_path_buf(), origin));
    }

    /// Claim `target` for `origin`; refuses a destination already taken,
    /// or one the command reads.
    fn claim(&mut self, target: &ExportTarget, origin: &'static str) -> Result<(), ExportError> {
        let path = |t: &ExportTarget| match t {
            ExportTarget::File(p) | ExportTarget::Append(p) => Some(p.clone()),
            _ => None,
        };
        if let Some(out) = path(target) {
            refuse_input(&out, origin, &self.inputs)?;
        }
        let same = |t: &ExportTarget| match (path(t), path(target)) {
            (Some(a), Some(b)) => same_file(&a, &b),
            _ => t == target,
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
            ExportTarget::File(path) => Some(PendingFile::create(path, origin)?),
            ExportTarget::Append(path) => Some(PendingFile::append(path, origin)?),
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
    /// goes; it always ends on a whole line (see [`LineSink`]). A regular
    /// file is written past the page cache where it can be (see
    /// `report/direct.rs`).
    pub fn events(
        &mut self,
        target: ExportTarget,
        origin: &'static str,
    ) -> Result<Box<dyn Write + Send>, ExportError> {
        self.claim(&target, origin)?;
        if let ExportTarget::File(path) = &target
            && let Some(sink) = DirectSink::create(path)
        {
            return Ok(Box::new(sink));
        }
        Ok(Box::new(match &target {
            ExportTarget::File(path) | ExportTarget::Append(path) => {
                let file = create(path, origin)?;
                let truncate = file.try_clone().ok();
                LineSink::new(Box::new(file), truncate)
            }
            ExportTarget::Stdout => LineSink::new(Box::new(io::stdout()), None),
            ExportTarget::Stderr => LineSink::new(Box::new(io::stderr()), None),
        }))
    }

    /// Write every planned export, in the order planned. A failed one does
    /// not stop the others; every failure is returned.
    pub fn write_all(self, report: &RunReport) -> Vec<ExportError> {
        let mut errors = Vec::new();
        for export in self.exports {
            let exporter = export.format.exporter();
            let written = match export.file {
                Some(file) => file.finish(|out| exporter.export(report, out)),
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

/// A streamed output that holds whole lines only.
///
/// Lines are buffered and handed to the destination up to the last
/// complete one. When a write fails part way (a full disk), a file is cut
/// back to the end of the last line known to be written whole, so whatever
/// the stream holds parses line by line; the run is told through the error.
pub(crate) struct LineSink {
    out: Box<dyn Write + Send>,
    /// The destination file again, to cut it back after a failed write.
    truncate: Option<File>,
    buf: Vec<u8>,
    /// Bytes written whole, up to a line end.
    committed: u64,
}

impl LineSink {
    /// Bytes buffered before they are written out.
    const CAPACITY: usize = 64 * 1024;

    fn new(out: Box<dyn Write + Send>, truncate: Option<File>) -> LineSink {
        LineSink {
            out,
            truncate,
            buf: Vec::with_capacity(LineSink::CAPACITY),
            committed: 0,
        }
    }

    /// Write out every complete line buffered so far.
    fn push_lines(&mut self) -> io::Result<()> {
        let Some(end) = self.buf.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        match self.out.write_all(&self.buf[..=end]) {
            Ok(()) => {
                self.committed += end as u64 + 1;
                self.buf.drain(..=end);
                Ok(())
            }
            Err(e) => {
                self.buf.clear();
                if let Some(file) = &self.truncate {
                    // Best effort: a device that took nothing needs no cut.
                    let _ = file.set_len(self.committed);
                }
                Err(e)
            }
        }
    }
}

impl Write for LineSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.is_empty() && data.len() >= LineSink::CAPACITY && data.ends_with(b"\n") {
            // Whole lines in a large chunk (the events writer's): no copy.
            return match self.out.write_all(data) {
                Ok(()) => {
                    self.committed += data.len() as u64;
                    Ok(data.len())
                }
                Err(e) => {
                    if let Some(file) = &self.truncate {
                        let _ = file.set_len(self.committed);
                    }
                    Err(e)
                }
            };
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= LineSink::CAPACITY {
            self.push_lines()?;
        }
        Ok(data.len())
    }

    /// Write out everything buffered. Only a finished writer flushes: the
    /// events writer ends on a line, and a zstd stream ends wherever its
    /// last block does (holding back the bytes after its last `\n` byte
    /// would cut the frame short).
    fn flush(&mut self) -> io::Result<()> {
        self.push_lines()?;
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            if let Err(e) = self.out.write_all(&rest) {
                if let Some(file) = &self.truncate {
                    let _ = file.set_len(self.committed);
                }
                return Err(e);
            }
            self.committed += rest.len() as u64;
        }
        self.out.flush()
    }
}

/// Whether two paths name one file: equal as written, or once their
/// directories are resolved (the files need not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    fn resolved(p: &Path) -> Option<PathBuf> {
        if let Ok(p) = p.canonicalize() {
            return Some(p);
        }
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(dir.join(p.file_name()?))
    }
    a == b || matches!((resolved(a), resolved(b)), (Some(a), Some(b)) if a == b)
}

/// Create (truncate) an output file asked for by `origin`.
fn create(path: &Path, origin: &'static str) -> Result<File, ExportError> {
    File::create(path).map_err(|e| create_error(path, origin, e))
}

fn create_error(path: &Path, origin: &'static str, e: io::Error) -> ExportError {
    ExportError::Create {
        origin,
        path: path.display().to_string(),
        reason: match e.kind() {
            io::ErrorKind::NotFound => "its directory does not exist".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            io::ErrorKind::IsADirectory => "is a directory".to_string(),
            _ => e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes, then fails like a full disk.
    struct FillsUp {
        file: File,
        room: usize,
    }

    impl Write for FillsUp {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from(io::ErrorKind::StorageFull));
            }
            let n = data.len().min(self.room);
            self.room -= n;
            self.file.write(&data[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.file.flush()
        }
    }

    #[test]
    fn a_failed_stream_is_cut_back_to_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let file = File::create(&path).unwrap();
        let truncate = file.try_clone().ok();
        let line = b"{\"event\":\"x\"}\n";
        // Room for two lines and a half.
        let room = line.len() * 2 + line.len() / 2;
        let mut sink = LineSink::new(Box::new(FillsUp { file, room }), truncate);
        for _ in 0..2 {
            sink.write_all(line).unwrap();
        }
        sink.flush().unwrap();
        for _ in 0..3 {
            sink.write_all(line).unwrap();
        }
        assert!(sink.flush().is_err());
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written, line.repeat(2));
    }

    #[test]
    fn a_report_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("report.json");
        let pending = PendingFile::create(&dest, "--json").unwrap();
        assert!(!dest.exists());
        let failed = pending.finish(|out| {
            out.write_all(b"{\"half\":")?;
            Err(io::Error::other("the exporter failed"))
        });
        assert!(failed.is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");

        let pending = PendingFile::create(&dest, "--json").unwrap();
        pending.finish(|out| out.write_all(b"{}\n")).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"{}\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn two_outputs_on_one_destination_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("out.json");
        let mut exports = ExportManager::new();
        exports
            .add(ExportFormat::Json, ExportTarget::File(a.clone()), "--json")
            .unwrap();
        let again = dir.path().join(".").join("out.json");
        let e = exports
            .events(ExportTarget::File(again), "--events")
            .err()
            .unwrap();
        assert!(matches!(e, ExportError::Clash { .. }), "{e}");
        let mut exports = ExportManager::new();
        exports
            .add(ExportFormat::Json, ExportTarget::Stdout, "--json")
            .unwrap();
        assert!(exports.events(ExportTarget::Stdout, "--events").is_err());
    }
}
