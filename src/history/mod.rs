//! Histories: an engine's recorded event stream, read back and checked
//! offline.
//!
//! A history is one JSON object per line (`docs/HISTORY.md` states the
//! format, `docs/history.schema.json` its lines). `dynstress run --events`
//! writes one; any engine, in any language, can write one from its own
//! event bus, and `dynstress check` judges it with the same online rules a
//! run uses ([`crate::check::offline`]).
//!
//! The [`Reader`] streams: it holds one line at a time and, per op still in
//! flight, the line it was submitted on and the time of its last event. So
//! memory follows the ops in flight, not the length of the file. It refuses
//! what is not a history, naming the line and the field: a line that is not
//! JSON, an unknown event kind, a missing required field, an op whose time
//! goes backwards, a last line cut short. A name ending in `.zst` is read
//! through zstd; `-` is stdin.

mod parse;
mod report;
mod scan;

pub use self::report::{CheckOptions, HistoryReport, Origin, check};

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::check::CheckConfig;
use crate::config::Config;
use crate::events::{Event, EventKind};

pub use self::parse::KINDS as EVENT_KINDS;
use self::parse::LineError;

/// The format version this reader understands (the header's `history`).
pub const FORMAT_VERSION: u64 = 1;

/// The optional first line: the run's parameters. Every field but
/// `history` is optional; keys this reader does not know are ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version, [`FORMAT_VERSION`].
    pub history: u64,
    /// What wrote the history (free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The grace period an executing op is protected for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<f64>,
    /// The backoff policy: base and ceiling of the wait before a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_base_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max_ms: Option<f64>,
    /// Whether executions may fail on purpose (a fault injector is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_injected: Option<bool>,
    /// How many ops back (by id) a parent link may reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_horizon: Option<u64>,
    /// The seed of the run that wrote the history, in decimal digits (not
    /// read by the checks: it says how to run it again). A string, as in
    /// the run report: readers that hold numbers as doubles would round a
    /// seed above 2^53.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
}

impl Header {
    /// The header of a `dynstress run --events` file: the rule parameters
    /// of the run's config, so that the file is checked alone, and its
    /// seed. Nothing in it depends on the clock, so a seed on the virtual
    /// clock still gives the same file byte for byte.
    pub fn of_run(config: &Config, seed: u64) -> Header {
        let c = CheckConfig::of(config);
        let ms = |d: Duration| d.as_nanos() as f64 / 1e6;
        Header {
            history: FORMAT_VERSION,
            engine: Some(format!("dynstress {}", env!("CARGO_PKG_VERSION"))),
            grace_period_seconds: Some(c.grace.as_nanos() as f64 / 1e9),
            backoff_base_ms: Some(ms(c.backoff_base)),
            backoff_max_ms: Some(ms(c.backoff_max)),
            failures_injected: Some(c.failures_injected),
            parent_horizon: Some(c.parent_horizon),
            seed: Some(seed.to_string()),
        }
    }

    /// The header as its line, newline included.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a header serializes");
        line.push(b'\n');
        line
    }
}

/// Why a history cannot be read.
#[derive(Debug)]
pub enum HistoryError {
    /// The file (or stdin) could not be opened or read.
    Io { error: io::Error },
    /// Line `line` is not a history line.
    Line { line: u64, problem: String },
    /// A rule parameter is missing or invalid.
    Parameters(String),
    /// Not one event: nothing to judge, so nothing may pass.
    Empty,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Io { error } => write!(f, "cannot read: {error}"),
            HistoryError::Line { line, problem } => write!(f, "line {line}: {problem}"),
            HistoryError::Parameters(problem) => f.write_str(problem),
            HistoryError::Empty => f.write_str(
                "the history has no events (an empty file, or a header alone); \
                 an empty history proves nothing",
            ),
        }
    }
}

impl std::error::Error for HistoryError {}

impl HistoryError {
    fn line(line: u64, problem: impl Into<String>) -> HistoryError {
        HistoryError::Line {
            line,
            problem: problem.into(),
        }
    }
}

fn describe(e: LineError) -> String {
    match e {
        LineError::Json(m) => format!("not a history line: {m}"),
        LineError::Missing { event, field } if event == "all" => {
            format!("field `{field}`: missing (every line needs it)")
        }
        LineError::Missing { event, field } => {
            format!("field `{field}`: missing (required in {event} events)")
        }
        LineError::Invalid { field, allowed } => {
            format!("field `{field}`: invalid value; allowed: {allowed}")
        }
        LineError::UnknownKind(kind) => format!(
            "field `event`: unknown event kind {kind:?}; known kinds: {}",
            parse::KINDS.join(", ")
        ),
    }
}

/// Open `path` (`-`: stdin) for reading, through zstd when the name ends
/// in `.zst`.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, HistoryError> {
    let io_error = |error| HistoryError::Io { error };
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(io_error)?)
    };
    let zst = path.extension().is_some_and(|ext| ext == "zst");
    Ok(if zst {
        Box::new(BufReader::with_capacity(
            1 << 16,
            zstd::Decoder::new(raw).map_err(io_error)?,
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, raw))
    })
}

/// What the reader remembers of an op in flight.
#[derive(Clone, Copy, Debug)]
pub struct InFlight {
    /// The line it was submitted on.
    pub line: u64,
    /// The time of its latest event.
    pub t_ns: u64,
    pub target: u32,
}

/// A streaming reader of history lines.
pub struct Reader<R> {
    input: R,
    buf: Vec<u8>,
    line: u64,
    header: Option<Header>,
    started: bool,
    in_flight: FxHashMap<u64, InFlight>,
}

impl<R: BufRead> Reader<R> {
    /// Read from `input`.
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            buf: Vec::with_capacity(512),
            line: 0,
            header: None,
            started: false,
            in_flight: FxHashMap::default(),
        }
    }

    /// The header line, read if it is there. Call before the first
    /// [`Reader::next_event`] (which reads it otherwise).
    pub fn header(&mut self) -> Result<Option<&Header>, HistoryError> {
        if !self.started {
            self.start()?;
        }
        Ok(self.header.as_ref())
    }

    /// Ops submitted and not yet seen in a final state, by id.
    pub fn in_flight(&self) -> &FxHashMap<u64, InFlight> {
        &self.in_flight
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// Read the next physical line into `buf` (without its newline);
    /// false at the end.
    fn fill(&mut self) -> Result<bool, HistoryError> {
        self.buf.clear();
        let n = self
            .input
            .read_until(b'\n', &mut self.buf)
            .map_err(|error| HistoryError::Io { error })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        if self.buf.last() != Some(&b'\n') {
            return Err(HistoryError::line(
                self.line,
                "truncated: the last line has no newline (was the history cut short?)",
            ));
        }
        self.buf.pop();
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    /// The first physical line, as [`Reader::fill`]; compressed input is
    /// named as such rather than as a line that is not history.
    fn fill_start(&mut self) -> Result<bool, HistoryError> {
        const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
        let compressed = self
            .input
            .fill_buf()
            .map_err(|error| HistoryError::Io { error })?;
        if compressed.starts_with(&ZSTD_MAGIC) {
            return Err(HistoryError::line(
                1,
                "zstd-compressed data: give the file's name ending in .zst, or decompress it",
            ));
        }
        self.fill()
    }

    /// Look at the first line: a header is taken, an event is kept for
    /// the first `next_event`.
    fn start(&mut self) -> Result<(), HistoryError> {
        self.started = true;
        if !self.fill_start()? {
            return Ok(());
        }
        let trimmed = self.buf.trim_ascii_start();
        if !trimmed.starts_with(b"{\"history\"") {
            return Ok(());
        }
        let header: Header = serde_json::from_slice(&self.buf).map_err(|e| {
            HistoryError::line(
                self.line,
                format!(
                    "header: {}",
                    e.to_string().split(" at line ").next().unwrap_or("")
                ),
            )
        })?;
        if header.history != FORMAT_VERSION {
            return Err(HistoryError::line(
                self.line,
                format!(
                    "field `history`: format version {} is not known (this reader reads {FORMAT_VERSION})",
                    header.history
                ),
            ));
        }
        if let Some(g) = header.grace_period_seconds
            && !(g.is_finite() && g >= 0.0)
        {
            return Err(HistoryError::line(
                self.line,
                "field `grace_period_seconds`: must be a number of seconds, 0 or more",
            ));
        }
        self.header = Some(header);
        self.buf.clear();
        Ok(())
    }

    /// The next event; `None` at the end of the history.
    pub fn next_event(&mut self) -> Result<Option<Event>, HistoryError> {
        if !self.started {
            self.start()?;
        }
        // The common case: a plain line whole in the input's buffer, read
        // in place (no copy, no search for its newline).
        if self.buf.is_empty() {
            let bytes = self
                .input
                .fill_buf()
                .map_err(|error| HistoryError::Io { error })?;
            let mut raw = parse::Raw::default();
            if let Some(len) = scan::scan_line(bytes, &mut raw) {
                self.line += 1;
                let ev = parse::from_raw(&mut raw)
                    .map_err(|e| HistoryError::line(self.line, describe(e)))?;
                self.input.consume(len);
                self.track(&ev)?;
                return Ok(Some(ev));
            }
        }
        // Anything else (a line across the buffer's end, a blank line, a
        // line the scanner leaves to serde, the end) line by line.
        loop {
            // A line kept from `start` is still in `buf`.
            if self.buf.is_empty() && !self.fill()? {
                return Ok(None);
            }
            if self.buf.trim_ascii().is_empty() {
                self.buf.clear();
                continue;
            }
            let ev =
                parse::event(&self.buf).map_err(|e| HistoryError::line(self.line, describe(e)))?;
            self.buf.clear();
            self.track(&ev)?;
            return Ok(Some(ev));
        }
    }

    /// Keep each op's time in order, and remember the ops in flight.
    fn track(&mut self, ev: &Event) -> Result<(), HistoryError> {
        let id = ev.op.0;
        match ev.kind {
            EventKind::OperationSubmitted { .. } => {
                self.in_flight.entry(id).or_insert(InFlight {
                    line: self.line,
                    t_ns: ev.t_ns,
                    target: ev.target,
                });
                return Ok(());
            }
            // About the entity a commit changed; the op's own events
            // carry its times.
            EventKind::EntityVersioned { .. } | EventKind::EntityModified { .. } => return Ok(()),
            _ => {}
        }
        let Some(rec) = self.in_flight.get_mut(&id) else {
            // An event of an op never submitted: the lifecycle check
            // reports it.
            return Ok(());
        };
        if ev.t_ns < rec.t_ns {
            return Err(HistoryError::line(
                self.line,
                format!(
                    "field `t_ns`: time goes backwards for op {id}: {} ns after {} ns",
                    ev.t_ns, rec.t_ns
                ),
            ));
        }
        rec.t_ns = ev.t_ns;
        if matches!(
            ev.kind,
            EventKind::OperationCompleted { .. }
                | EventKind::OperationRejected { .. }
                | EventKind::OperationCancelled { .. }
        ) {
            self.in_flight.remove(&id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str) -> Result<(Option<Header>, usize), HistoryError> {
        let mut r = Reader::new(text.as_bytes());
        let header = r.header()?.cloned();
        let mut n = 0;
        while r.next_event()?.is_some() {
            n += 1;
        }
        Ok((header, n))
    }

    const SUBMIT: &str =
        r#"{"t_ns":5,"op":1,"target":0,"priority":5,"event":"OperationSubmitted","budget":0}"#;

    #[test]
    fn a_header_is_optional() {
        let (h, n) = read_all(&format!("{SUBMIT}\n")).unwrap();
        assert_eq!((h, n), (None, 1));
        let (h, n) = read_all(&format!(
            "{{\"history\":1,\"grace_period_seconds\":0.5}}\n{SUBMIT}\n"
        ))
        .unwrap();
        assert_eq!(h.unwrap().grace_period_seconds, Some(0.5));
        assert_eq!(n, 1);
    }

    #[test]
    fn bad_lines_name_their_number_and_field() {
        let err = read_all(&format!("{SUBMIT}\n{{\"t_ns\":1")).unwrap_err();
        assert!(err.to_string().starts_with("line 2: truncated"), "{err}");
        let back = r#"{"t_ns":4,"op":1,"target":0,"priority":5,"event":"OperationStarted"}"#;
        let err = read_all(&format!("{SUBMIT}\n\n{back}\n")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 3: field `t_ns`: time goes backwards"),
            "{err}"
        );
        let err = read_all("{\"history\":2}\n").unwrap_err();
        assert!(err.to_string().contains("field `history`"), "{err}");
    }

    /// Lines across the input buffer's end read as whole ones: the same
    /// events, and the same line numbers in errors, at any buffer size.
    #[test]
    fn any_buffer_size_reads_the_same() {
        let start = r#"{"t_ns":6,"op":1,"target":0,"priority":5,"event":"OperationStarted"}"#;
        let done = r#"{"t_ns":7,"op":1,"target":0,"priority":5,"event":"OperationCompleted","effect":{"type":"x","v":[1,{"a":"b"}]}}"#;
        let text = format!(
            "{{\"history\":1}}\n{SUBMIT}\n\n  {start}  \r\n{done}\n{}\n",
            r#"{"t_ns":8,"op":2,"target":0,"priority":5,"event":"OperationStarted","x":"\u0041"}"#
        );
        let read = |cap: usize, text: &str| {
            let mut r = Reader::new(io::BufReader::with_capacity(cap, text.as_bytes()));
            let mut out = Vec::new();
            loop {
                match r.next_event() {
                    Ok(Some(ev)) => out.push(format!("{}: {ev:?}", r.lines())),
                    Ok(None) => return out,
                    Err(e) => {
                        out.push(e.to_string());
                        return out;
                    }
                }
            }
        };
        let whole = read(1 << 16, &text);
        assert_eq!(whole.len(), 4, "{whole:?}");
        let bad = format!(
            "{SUBMIT}\n{start}\n{}\n",
            r#"{"t_ns":9,"op":1,"event":"Nope"}"#
        );
        let bad_whole = read(1 << 16, &bad);
        assert!(bad_whole[2].starts_with("line 3: "), "{bad_whole:?}");
        for cap in [1, 2, 7, 64, 100] {
            assert_eq!(read(cap, &text), whole, "buffer of {cap}");
            assert_eq!(read(cap, &bad), bad_whole, "buffer of {cap}");
        }
    }

    #[test]
    fn settled_ops_are_forgotten() {
        let done = r#"{"t_ns":6,"op":1,"target":0,"priority":5,"event":"OperationCancelled"}"#;
        let text = format!("{SUBMIT}\n{done}\n");
        let mut r = Reader::new(text.as_bytes());
        r.next_event().unwrap();
        assert_eq!(r.in_flight().len(), 1);
        r.next_event().unwrap();
        assert!(r.in_flight().is_empty());
        assert!(r.next_event().unwrap().is_none());
    }
}
