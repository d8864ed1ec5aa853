//! Task 4, the lifecycle observer: checks every event as it arrives, and
//! optionally prints live event lines and hands the event stream to the
//! events-file writer (see `events_file.rs`).

use std::io;

use super::events_file::{EventsFile, EventsWriter};
use crate::check::online::Checker;
use crate::events::{Continuity, Subscription};
use crate::report::live::{LiveStyle, LiveWriter};

pub struct Observer {
    pub sub: Subscription,
    pub checker: Checker,
    /// `--events`: every event, one line each.
    pub events: Option<EventsFile>,
    pub verbose: Option<LiveStyle>,
}

impl Observer {
    /// Runs until every publisher is gone; returns what it learned and the
    /// first error writing the events file, if any.
    pub async fn run(mut self) -> (Checker, Continuity, Option<io::Error>) {
        let mut continuity = Continuity::default();
        let (mut events, mut error) = match self.events.take().map(EventsWriter::spawn) {
            None => (None, None),
            Some(Ok(writer)) => (Some(writer), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let mut live = self
            .verbose
            .map(|style| LiveWriter::new(style, io::stderr()));
        while let Some(batch) = self.sub.recv().await {
            continuity.observe(&batch);
            for ev in &batch.events {
                self.checker.observe(ev);
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
        (self.checker, continuity, error)
    }
}
