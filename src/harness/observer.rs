//! Task 4, the lifecycle observer: checks every event as it arrives, and
//! optionally prints live event lines and hands the event stream to the
//! events-file writer (see `events_file.rs`). Every event is also folded
//! into the run's event digest ([`crate::digest`]); on the virtual clock
//! the events file is written as the digest's canonical lines, so it is
//! reproducible byte for byte.
//!
//! On the real clock the digest is folded on a thread of its own, fed the
//! batches in the order the observer receives them, so hashing every event
//! stays off the checks' path and the value is the one an inline fold
//! gives. On the virtual clock it is folded inline: a task waiting on a
//! thread would let the paused clock jump, and the run must depend on its
//! inputs alone.

use std::io;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::events_file::{EventsFile, EventsWriter};
use crate::check::online::Checker;
use crate::digest::EventDigest;
use crate::events::{Continuity, EventBatch, Subscription};
use crate::report::live::{LiveStyle, LiveWriter};
use crate::report::progress::AboveBar;

pub struct Observer {
    pub sub: Subscription,
    pub checker: Checker,
    /// `--events`: every event, one line each.
    pub events: Option<EventsFile>,
    /// Cancelled on the first failure writing the events file, so the run
    /// stops early instead of running on without its record.
    pub failed: CancellationToken,
    pub verbose: Option<LiveStyle>,
    /// Times are part of the digest and of the events file as the digest
    /// writes them: the virtual clock.
    pub digest: EventDigest,
    /// Write the events file from the digest's canonical lines.
    pub canonical_events: bool,
    /// Fold the digest on a thread of its own (the real clock).
    pub digest_thread: bool,
}

/// Batches queued for the digest thread before the observer waits.
const DIGEST_QUEUE: usize = 256;

/// The event digest, folded inline or on a thread of its own.
enum Digest {
    Inline(EventDigest),
    Thread {
        batches: mpsc::Sender<Arc<EventBatch>>,
        value: oneshot::Receiver<EventDigest>,
    },
}

impl Digest {
    fn new(digest: EventDigest, thread: bool) -> Digest {
        if !thread {
            return Digest::Inline(digest);
        }
        let fallback = digest.clone();
        let (batches, mut rx) = mpsc::channel::<Arc<EventBatch>>(DIGEST_QUEUE);
        let (done, value) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("event-digest".into())
            .spawn(move || {
                let mut digest = digest;
                while let Some(batch) = rx.blocking_recv() {
                    for ev in &batch.events {
                        digest.fold(ev);
                    }
                }
                let _ = done.send(digest);
            });
        match spawned {
            Ok(_) => Digest::Thread { batches, value },
            // No thread to be had: fold inline, the value is the same.
            Err(_) => Digest::Inline(fallback),
        }
    }

    async fn fold(&mut self, batch: &Arc<EventBatch>) {
        match self {
            Digest::Inline(digest) => {
                for ev in &batch.events {
                    digest.fold(ev);
                }
            }
            Digest::Thread { batches, .. } => {
                // The thread only stops when this sender is dropped.
                let _ = batches.send(Arc::clone(batch)).await;
            }
        }
    }

    async fn finish(self) -> Option<EventDigest> {
        match self {
            Digest::Inline(digest) => Some(digest),
            Digest::Thread { batches, value } => {
                drop(batches);
                value.await.ok()
            }
        }
    }
}

impl Observer {
    /// Runs until every publisher is gone; returns what it learned and the
    /// first error writing the events file, if any.
    pub async fn run(mut self) -> (Checker, Continuity, Option<io::Error>, EventDigest) {
        let mut continuity = Continuity::default();
        let (canonical, failed) = (self.canonical_events, self.failed.clone());
        let spawned = self
            .events
            .take()
            .map(|file| EventsWriter::spawn(file, canonical, failed));
        let (mut events, mut error) = match spawned {
            None => (None, None),
            Some(Ok(writer)) => (Some(writer), None),
            Some(Err(e)) => {
                self.failed.cancel();
                (None, Some(e))
            }
        };
        let mut live = self
            .verbose
            .map(|style| LiveWriter::new(style, AboveBar::default()));
        let fresh = EventDigest::new(false);
        let mut digest = Digest::new(
            std::mem::replace(&mut self.digest, fresh),
            self.digest_thread,
        );
        while let Some(batch) = self.sub.recv().await {
            continuity.observe(&batch);
            self.checker.observe_all(&batch.events);
            if let Some(live) = live.as_mut() {
                for ev in &batch.events {
                    // A closed stderr must not stop the run.
                    let _ = live.event(ev);
                }
            }
            digest.fold(&batch).await;
            if let Some(writer) = events.as_mut() {
                writer.send(&batch).await;
            }
        }
        if let Some(writer) = events {
            error = writer.finish().await;
        }
        // The digest thread only ends by handing its value back.
        if let Some(value) = digest.finish().await {
            self.digest = value;
        }
        (self.checker, continuity, error, self.digest)
    }
}
