//! `--events FILE`: the event stream as NDJSON, written off the observer's
//! hot path.
//!
//! ```text
//!   observer ──Arc<EventBatch>──▶ bounded channel ──▶ "events-file" thread
//!   (checks each event,            (back-pressure:     render lines into a
//!    then hands the batch on)       the observer waits  1 MiB buffer, write
//!                                   when it is full)    it whole [→ zstd]
//! ```
//!
//! The observer used to render and write every event itself, between its
//! checks, through an 8 KiB `BufWriter`; in capacity mode that made the
//! events file the bottleneck of the whole engine. Now it passes each batch
//! on (an `Arc` clone, no copy) and goes back to checking; a dedicated
//! thread renders the lines with the hand-written serializer of `ndjson.rs`
//! and writes them in large chunks. One channel and one consumer keep the
//! file in exactly the order the observer received the events, and the
//! channel is bounded, so a slow disk slows the run down instead of losing
//! events or growing memory. A regular file is written past the page cache
//! where the file system allows it (`crate::report::direct`): the kernel's
//! copy of every byte into the page cache cost more CPU than rendering
//! the lines.
//!
//! A name ending in `.zst` is written through zstd (level 1: the stream is
//! repetitive, so the fastest level already shrinks it about tenfold, and
//! any CPU spent here is taken from the engine).
//!
//! On the virtual clock the lines are the event digest's canonical lines
//! ([`crate::digest::canonical_line`]), so that a seed gives the same file
//! byte for byte, and the observer writes them itself: waiting on a
//! thread would let the paused clock jump by however long the thread took.
//!
//! A write error stops the thread and cancels the run's `failed` token at
//! once, so the run stops early (drain, checks, report) instead of running
//! on without its record; the observer notices the closed channel, stops
//! handing batches on, and the error comes back from
//! [`EventsWriter::finish`], which the run reports.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use tokio_util::sync::CancellationToken;

use super::ndjson;
use crate::digest::canonical_line;
use crate::events::EventBatch;

/// Bytes rendered before they are written: large writes, few syscalls.
const CHUNK: usize = 1 << 20;

/// Batches queued for the writer thread before the observer waits.
const QUEUE: usize = 64;

/// zstd level for `.zst` files.
const ZSTD_LEVEL: i32 = 1;

/// Where the event stream goes: a plain writer, or a zstd stream around
/// one.
pub struct EventsFile {
    sink: Sink,
}

enum Sink {
    Plain(Box<dyn Write + Send>),
    Zstd(zstd::Encoder<'static, Box<dyn Write + Send>>),
}

impl EventsFile {
    /// The events file named `path`, opened as `out`: compressed with
    /// zstd when the name ends in `.zst`, plain NDJSON otherwise.
    pub fn create(path: &Path, out: impl Write + Send + 'static) -> io::Result<EventsFile> {
        let zst = path.extension().is_some_and(|ext| ext == "zst");
        if zst {
            EventsFile::zstd(out)
        } else {
            Ok(EventsFile::plain(out))
        }
    }

    /// Plain NDJSON into `out`. Writes come in chunks of about a MiB, so
    /// `out` needs no buffer of its own.
    pub fn plain(out: impl Write + Send + 'static) -> EventsFile {
        EventsFile {
            sink: Sink::Plain(Box::new(out)),
        }
    }

    /// NDJSON compressed as one zstd frame into `out`.
    pub fn zstd(out: impl Write + Send + 'static) -> io::Result<EventsFile> {
        let out: Box<dyn Write + Send> = Box::new(out);
        Ok(EventsFile {
            sink: Sink::Zstd(zstd::Encoder::new(out, ZSTD_LEVEL)?),
        })
    }

    /// Start the file with `line` (a header line, newline included).
    pub fn with_first_line(mut self, line: &[u8]) -> io::Result<EventsFile> {
        self.write_all(line)?;
        Ok(self)
    }

    /// Write an events stream rendered elsewhere (a replayed run's lines),
    /// then end and flush the file.
    pub fn write_whole(mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.finish()
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(w) => w.write_all(bytes),
            Sink::Zstd(w) => w.write_all(bytes),
        }
    }

    /// End the stream (the zstd frame's epilogue) and flush it.
    fn finish(self) -> io::Result<()> {
        match self.sink {
            Sink::Plain(mut w) => w.flush(),
            Sink::Zstd(w) => w.finish()?.flush(),
        }
    }
}

/// The observer's handle on the writer thread.
pub(crate) enum EventsWriter {
    /// The real clock: a thread renders and writes, off the observer's
    /// hot path.
    Thread {
        to_thread: Option<mpsc::Sender<Arc<EventBatch>>>,
        done: oneshot::Receiver<io::Result<()>>,
    },
    /// The virtual clock: the observer renders and writes itself. Waiting
    /// on an OS thread would leave every task idle, and a paused clock
    /// would jump forward while the thread caught up: how far would depend
    /// on the machine's load, and a seed would no longer repeat the run.
    Inline {
        file: Option<EventsFile>,
        buf: Vec<u8>,
        line: Vec<u8>,
        error: Option<io::Error>,
        failed: CancellationToken,
    },
}

impl EventsWriter {
    /// Start the writer.
    /// `canonical`: write the digest's canonical lines, in the observer
    /// itself (virtual clock). `failed` is cancelled on the first write
    /// error.
    pub(crate) fn spawn(
        file: EventsFile,
        canonical: bool,
        failed: CancellationToken,
    ) -> io::Result<EventsWriter> {
        if canonical {
            return Ok(EventsWriter::Inline {
                file: Some(file),
                buf: Vec::with_capacity(CHUNK + (64 << 10)),
                line: Vec::with_capacity(512),
                error: None,
                failed,
            });
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("events-file".to_owned())
            .spawn(move || {
                let result = write_stream(rx, file);
                if result.is_err() {
                    failed.cancel();
                }
                // The observer may be gone by now; then nobody is left to
                // tell.
                let _ = done_tx.send(result);
            })?;
        Ok(EventsWriter::Thread {
            to_thread: Some(tx),
            done,
        })
    }

    /// Hand a batch on (waiting while the thread's queue is full), or
    /// write it now. After a write error the batch is dropped: the error
    /// is reported by `finish`.
    pub(crate) async fn send(&mut self, batch: &Arc<EventBatch>) {
        match self {
            EventsWriter::Thread { to_thread, .. } => {
                if let Some(tx) = to_thread.as_ref()
                    && tx.send(Arc::clone(batch)).await.is_err()
                {
                    *to_thread = None;
                }
            }
            EventsWriter::Inline {
                file,
                buf,
                line,
                error,
                failed,
            } => {
                let Some(f) = file.as_mut() else { return };
                if error.is_some() {
                    return;
                }
                for ev in &batch.events {
                    canonical_line(ev, line);
                    buf.extend_from_slice(line);
                    buf.push(b'\n');
                }
                if buf.len() >= CHUNK {
                    if let Err(e) = f.write_all(buf) {
                        *error = Some(e);
                        failed.cancel();
                    }
                    buf.clear();
                }
            }
        }
    }

    /// Wait until everything is written and the file flushed; the first
    /// error, if any.
    pub(crate) async fn finish(self) -> Option<io::Error> {
        match self {
            EventsWriter::Thread {
                to_thread, done, ..
            } => {
                drop(to_thread);
                match done.await {
                    Ok(result) => result.err(),
                    Err(_) => Some(io::Error::other("the events writer thread stopped")),
                }
            }
            EventsWriter::Inline {
                file,
                buf,
                error,
                failed,
                ..
            } => {
                if error.is_some() {
                    return error;
                }
                let file = file?;
                let mut file = file;
                let result = file.write_all(&buf).and_then(|()| file.finish());
                if result.is_err() {
                    failed.cancel();
                }
                result.err()
            }
        }
    }
}

/// The writer thread: render every batch, write in chunks, end the
/// stream. Stops at the first error.
fn write_stream(
    mut batches: mpsc::Receiver<Arc<EventBatch>>,
    mut file: EventsFile,
) -> io::Result<()> {
    // A line is far below 64 KiB, so the buffer never grows.
    let mut buf = Vec::with_capacity(CHUNK + (64 << 10));
    while let Some(batch) = batches.blocking_recv() {
        for ev in &batch.events {
            ndjson::write_event(&mut buf, ev);
            if buf.len() >= CHUNK {
                file.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    file.write_all(&buf)?;
    file.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::events::{Event, EventKind};
    use crate::ops::{OpId, OpType, Priority};

    /// A `Write` the test can read back after the writer is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Accepts `room` bytes, then fails every write.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn batches(count: u64, per_batch: u64) -> Vec<Arc<EventBatch>> {
        (0..count)
            .map(|b| {
                let events = (0..per_batch)
                    .map(|i| Event {
                        t_ns: b * 1000 + i,
                        op: OpId(b * per_batch + i),
                        target: (i % 5) as u32,
                        op_type: OpType::VersionEntity,
                        priority: Priority::NORMAL,
                        kind: EventKind::OperationStarted { attempt: 1 },
                    })
                    .collect();
                Arc::new(EventBatch {
                    publisher: 0,
                    first_seq: b * per_batch,
                    numbered: per_batch,
                    events,
                })
            })
            .collect()
    }

    fn expected(batches: &[Arc<EventBatch>]) -> String {
        batches
            .iter()
            .flat_map(|b| b.events.iter())
            .map(|ev| serde_json::to_string(ev).unwrap() + "\n")
            .collect()
    }

    async fn write_all(file: EventsFile, batches: &[Arc<EventBatch>]) -> Option<io::Error> {
        let mut w = EventsWriter::spawn(file, false, CancellationToken::new()).unwrap();
        for b in batches {
            w.send(b).await;
        }
        w.finish().await
    }

    #[tokio::test]
    async fn every_event_arrives_in_order_across_many_chunks() {
        // About 10 MiB of lines: the buffer is written many times over.
        let input = batches(400, 250);
        let out = Shared::default();
        let error = write_all(EventsFile::plain(out.clone()), &input).await;
        assert!(error.is_none(), "{error:?}");
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(written.len() > 4 * CHUNK, "{}", written.len());
        assert!(
            written == expected(&input),
            "the file differs from the stream"
        );
    }

    #[tokio::test]
    async fn a_zst_name_writes_one_zstd_frame_of_the_same_lines() {
        let input = batches(50, 100);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.ndjson.zst");
        let file = EventsFile::create(&path, std::fs::File::create(&path).unwrap()).unwrap();
        let error = write_all(file, &input).await;
        assert!(error.is_none(), "{error:?}");
        let compressed = std::fs::read(&path).unwrap();
        let plain = zstd::decode_all(compressed.as_slice()).unwrap();
        assert!(compressed.len() * 4 < plain.len(), "{}", compressed.len());
        assert!(String::from_utf8(plain).unwrap() == expected(&input));
    }

    #[tokio::test]
    async fn another_name_writes_plain_lines() {
        let input = batches(3, 10);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let file = EventsFile::create(&path, std::fs::File::create(&path).unwrap()).unwrap();
        assert!(write_all(file, &input).await.is_none());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected(&input));
    }

    #[tokio::test]
    async fn a_write_error_comes_back_from_finish_and_never_blocks_the_sender() {
        // Far more than the queue holds after the error: `send` must not
        // wait on a thread that has stopped.
        let input = batches(2000, 50);
        for file in [
            EventsFile::plain(Full { room: 100 }),
            EventsFile::zstd(Full { room: 100 }).unwrap(),
            EventsFile::plain(Full { room: 0 }),
        ] {
            let error = write_all(file, &input).await.expect("an error");
            assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{error}");
        }
    }

    #[tokio::test]
    async fn an_empty_stream_is_an_empty_file_or_an_empty_frame() {
        let out = Shared::default();
        assert!(
            write_all(EventsFile::plain(out.clone()), &[])
                .await
                .is_none()
        );
        assert!(out.0.lock().unwrap().is_empty());
        let out = Shared::default();
        let file = EventsFile::zstd(out.clone()).unwrap();
        assert!(write_all(file, &[]).await.is_none());
        let plain = zstd::decode_all(out.0.lock().unwrap().as_slice()).unwrap();
        assert!(plain.is_empty());
    }
}
