//! Task 4, the lifecycle observer: checks every event as it arrives, and
//! optionally prints live event lines and writes the event stream to a
//! file.

use std::io::{self, Write};

use tokio_util::sync::CancellationToken;

use crate::check::online::Checker;
use crate::events::{Continuity, Subscription};
use crate::report::live::{LiveStyle, LiveWriter};
use crate::report::progress::AboveBar;

pub struct Observer {
    pub sub: Subscription,
    pub checker: Checker,
    /// `--events`: should be buffered; one line per event.
    pub events: Option<Box<dyn Write + Send>>,
    /// Cancelled on the first failure writing the events file, so the run
    /// stops early instead of running on without its record.
    pub failed: CancellationToken,
    pub verbose: Option<LiveStyle>,
}

impl Observer {
    /// Runs until every publisher is gone; returns what it learned and the
    /// first error writing the events file, if any.
    pub async fn run(mut self) -> (Checker, Continuity, Option<io::Error>) {
        let mut continuity = Continuity::default();
        // The caller hands a buffered writer (the binary wraps the file in
        // a BufWriter); it is flushed here so an error is reported, not
        // lost in a drop.
        let mut events = self.events.take();
        let mut live = self
            .verbose
            .map(|style| LiveWriter::new(style, AboveBar::default()));
        let mut error = None;
        while let Some(batch) = self.sub.recv().await {
            continuity.observe(&batch);
            for ev in &batch.events {
                self.checker.observe(ev);
                if let Some(w) = events.as_mut()
                    && error.is_none()
                {
                    let line = serde_json::to_writer(&mut *w, ev)
                        .map_err(io::Error::from)
                        .and_then(|()| w.write_all(b"\n"));
                    if let Err(e) = line {
                        error = Some(e);
                        self.failed.cancel();
                    }
                }
                if let Some(live) = live.as_mut() {
                    // A closed stderr must not stop the run.
                    let _ = live.event(ev);
                }
            }
        }
        if let Some(mut w) = events
            && error.is_none()
            && let Err(e) = w.flush()
        {
            error = Some(e);
            self.failed.cancel();
        }
        (self.checker, continuity, error)
    }
}
