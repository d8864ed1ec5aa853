//! Task 4, the lifecycle observer: checks every event as it arrives, and
//! optionally prints live event lines and hands the event stream to the
//! events-file writer (see `events_file.rs`). It also folds every event
//! into the run's event digest ([`crate::digest`]); on the virtual clock
//! the events file is written as the digest's canonical lines, so it is
//! reproducible byte for byte.

use std::io;

use tokio_util::sync::CancellationToken;

use super::events_file::{EventsFile, EventsWriter};
use crate::check::online::Checker;
use crate::digest::EventDigest;
use crate::events::{Continuity, Subscription};
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
        while let Some(batch) = self.sub.recv().await {
            continuity.observe(&batch);
            for ev in &batch.events {
                self.checker.observe(ev);
                self.digest.fold(ev);
                if let Some(live) = live.as_mut() {
                    // A closed stderr must not stop the run.
                    let _ = live.event(ev);
                }
            }
            if let Some(writer) = events.as_mut() {
                writer.send(&batch).await;
            }
        }
        if let Some(writer) = events {
            error = writer.finish().await;
        }
        (self.checker, continuity, error, self.digest)
    }
}
