//! Task 5, the metrics collector: rebuilds the run's numbers from the event
//! stream, tallies them per target, and samples the process's memory once
//! a second.

use std::time::Duration;

use super::Clock;
use crate::events::Subscription;
use crate::metrics::{Metrics, ResourceSampler};
use crate::workload::contention::ContentionTally;

const SAMPLE_EVERY: Duration = Duration::from_secs(1);

pub async fn run(
    mut sub: Subscription,
    clock: Clock,
    num_targets: u32,
) -> (Metrics, ContentionTally) {
    let mut metrics = Metrics::default();
    let mut tally = ContentionTally::new(num_targets);
    let prefetch = crate::prefetch::pays(num_targets as usize);
    let mut sampler = ResourceSampler::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        // Biased, for determinism on the virtual clock; the tick goes first
        // so a busy stream cannot starve the once-a-second sample.
        tokio::select! {
            biased;
            _ = tick.tick() => {
                let t_s = clock.now_ns() / 1_000_000_000 + 1;
                metrics.record_rss(t_s, sampler.rss_mb());
            }
            batch = sub.recv() => match batch {
                Some(batch) if !prefetch => {
                    for ev in &batch.events {
                        metrics.observe(ev);
                        tally.observe(ev);
                    }
                }
                Some(batch) => {
                    crate::prefetch::ahead(
                        &mut tally,
                        &batch.events,
                        ContentionTally::prefetch,
                        |_, _| {},
                        |tally, ev| {
                            metrics.observe(ev);
                            tally.observe(ev);
                        },
                    );
                }
                None => break,
            },
        }
    }
    let t_s = clock.now_ns() / 1_000_000_000 + 1;
    metrics.record_rss(t_s, sampler.rss_mb());
    (metrics, tally)
}
