//! Task 6, the progress reporter: a bar on a terminal, a status line every
//! 10 s otherwise, nothing when quiet.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Clock, ProgressMode};
use crate::metrics::Counters;
use crate::report::progress::{ProgressBar, ProgressSnapshot, status_line};

const BAR_EVERY: Duration = Duration::from_millis(100);
const LINE_EVERY: Duration = Duration::from_secs(10);

pub async fn run(
    mode: ProgressMode,
    emoji: bool,
    counters: Arc<Counters>,
    clock: Clock,
    total: Duration,
    stop: CancellationToken,
) {
    let every = match mode {
        ProgressMode::Off => return,
        ProgressMode::Bar => BAR_EVERY,
        ProgressMode::Lines => LINE_EVERY,
    };
    let bar = (mode == ProgressMode::Bar).then(|| ProgressBar::new(total, emoji));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                let c = counters.snapshot();
                let elapsed = Duration::from_nanos(clock.now_ns());
                let snapshot = ProgressSnapshot {
                    elapsed: elapsed.min(total),
                    total,
                    submitted: c.submitted,
                    succeeded: c.succeeded,
                    rejected: c.rejected,
                    ops_per_s: c.submitted as f64 / elapsed.as_secs_f64().max(1e-9),
                    draining: elapsed >= total,
                };
                match &bar {
                    Some(bar) => bar.update(&snapshot),
                    None => eprintln!("{}", status_line(&snapshot, emoji)),
                }
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
}
