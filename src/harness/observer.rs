//! Task 4, the lifecycle observer: checks every event as it arrives, and
//! optionally prints live event lines and hands the event stream to the
//! events-file writer (see `events_file.rs`). Every event is also folded
//! into the run's event digest ([`crate::digest`]); on the virtual clock
//! the events file is written as the digest's canonical lines, so it is
//! reproducible byte for byte.
//!
//! On the real clock the digest is folded on a thread of its own, fed the
//! batches in the order the observer receives them (a group of them at a
//! time, so the thread wakes once per group), so hashing every event stays
//! off the checks' path and the value is the one an inline fold gives. On
//! the virtual clock it is folded inline: a task waiting on a thread would
//! let the paused clock jump, and the run must depend on its inputs alone.

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

/// Groups of batches queued for the digest thread before the observer
/// waits: with [`DIGEST_GROUP`], 256 batches at most, as many as the
/// bus queues for a subscriber, so a lagging digest holds no more memory.
const DIGEST_QUEUE: usize = 8;

/// Batches handed to the digest thread at a time. The thread folds a
/// batch faster than the observer checks it, so handed one batch at a
/// time it went back to sleep after each, and every hand-over woke it: a
/// system call and two context switches on the observer's core, thousands
/// of times a second at capacity.
const DIGEST_GROUP: usize = 32;

/// The event digest, folded inline or on a thread of its own.
enum Digest {
    Inline(EventDigest),
    Thread {
        /// Batches not yet handed over, in the order received.
        group: Vec<Arc<EventBatch>>,
        batches: mpsc::Sender<Vec<Arc<EventBatch>>>,
        value: oneshot::Receiver<EventDigest>,
    },
}

impl Digest {
    fn new(digest: EventDigest, thread: bool) -> Digest {
        if !thread {
            return Digest::Inline(digest);
        }
        let fallback = digest.clone();
        let (batches, mut rx) = mpsc::channel::<Vec<Arc<EventBatch>>>(DIGEST_QUEUE);
        let (done, value) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("event-digest".into())
            .spawn(move || {
                let mut digest = digest;
                while let Some(group) = rx.blocking_recv() {
                    for batch in group {
                        for ev in &batch.events {
                            digest.fold(ev);
                        }
                    }
                }
                let _ = done.send(digest);
            });
        match spawned {
            Ok(_) => Digest::Thread {
                group: Vec::with_capacity(DIGEST_GROUP),
                batches,
                value,
            },
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
            Digest::Thread { group, batches, .. } => {
                group.push(Arc::clone(batch));
                if group.len() == DIGEST_GROUP {
                    let full = std::mem::replace(group, Vec::with_capacity(DIGEST_GROUP));
                    // The thread only stops when this sender is dropped.
                    let _ = batches.send(full).await;
                }
            }
        }
    }

    /// The digest once every batch is folded; `None` if the thread
    /// stopped without handing it back.
    async fn finish(self) -> Option<EventDigest> {
        match self {
            Digest::Inline(digest) => Some(digest),
            Digest::Thread {
                group,
                batches,
                value,
            } => {
                if !group.is_empty() {
                    let _ = batches.send(group).await;
                }
                drop(batches);
                value.await.ok()
            }
        }
    }
}

impl Observer {
    /// Runs until every publisher is gone; returns what it learned, the
    /// first error writing the events file, if any, and the event digest
    /// (`None` if its thread stopped: then there is none to report).
    pub async fn run(mut self) -> (Checker, Continuity, Option<io::Error>, Option<EventDigest>) {
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
        let mut digest = Digest::new(self.digest, self.digest_thread);
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
        (self.checker, continuity, error, digest.finish().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::samples::every_kind;

    /// Batches of every kind of event, each a little different, in an
    /// order that matters to the digest.
    fn batches_of_every_kind(n: usize) -> Vec<Arc<EventBatch>> {
        (0..n)
            .map(|i| {
                let mut events = every_kind();
                let len = events.len();
                events.rotate_left(i % len);
                for ev in &mut events {
                    ev.t_ns = ev.t_ns.wrapping_add(i as u64);
                }
                Arc::new(EventBatch {
                    publisher: (i % 2) as u16,
                    first_seq: 0,
                    numbered: events.len() as u64,
                    events,
                })
            })
            .collect()
    }

    async fn digest_of(batches: &[Arc<EventBatch>], thread: bool) -> u64 {
        let mut digest = Digest::new(EventDigest::new(true), thread);
        assert_eq!(matches!(digest, Digest::Thread { .. }), thread);
        for batch in batches {
            digest.fold(batch).await;
        }
        let value = digest.finish().await;
        value
            .unwrap_or_else(|| panic!("the digest thread gave no value"))
            .value()
    }

    /// A digest thread that stopped without handing its value back leaves
    /// no digest (which fails the run), not the value it started from.
    #[tokio::test]
    async fn a_digest_thread_that_stopped_gives_no_value() {
        let (batches, _rx) = mpsc::channel(1);
        let (done, value) = oneshot::channel::<EventDigest>();
        drop(done);
        let mut digest = Digest::Thread {
            group: Vec::new(),
            batches,
            value,
        };
        digest.fold(&batches_of_every_kind(1)[0]).await;
        assert!(digest.finish().await.is_none());
    }

    /// The digest thread takes batches in groups: whatever the count (a
    /// partial group left at the end included), its value is the inline
    /// fold's, which depends on every event and their order.
    #[tokio::test]
    async fn the_digest_thread_folds_what_the_inline_fold_does() {
        for n in [0, 1, DIGEST_GROUP - 1, DIGEST_GROUP, 2 * DIGEST_GROUP + 5] {
            let batches = batches_of_every_kind(n);
            let inline = digest_of(&batches, false).await;
            assert_eq!(digest_of(&batches, true).await, inline, "{n} batches");
            if n > 1 {
                let mut reordered = batches.clone();
                reordered.swap(0, n - 1);
                assert_ne!(digest_of(&reordered, false).await, inline, "{n} batches");
            }
        }
    }
}
