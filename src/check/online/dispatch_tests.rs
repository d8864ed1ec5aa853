//! Calling each rule only for the kinds of event it names is a saving,
//! never a change of finding, and so is prefetching: real runs (clean and
//! with every injected fault) and the history fixtures (valid and faulty)
//! are checked three times, once by kind, once with every rule seeing
//! every event, and once by kind in batches with prefetching on (however
//! few the targets), and every rule must end in the same state.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Checker;
use crate::check::CheckConfig;
use crate::check::offline::{OfflineChecker, OfflineParams};
use crate::config::{Overrides, parse_str};
use crate::events::Event;
use crate::harness::{Inject, World};
use crate::history::Reader;

/// Check `events` the three ways; the checkers must agree rule by rule.
/// Returns the violations found, so callers can show the faulty streams
/// were faulty.
fn both_ways(make: impl Fn() -> Checker, events: &[Event], what: &str) -> u64 {
    let (mut by_kind, mut every) = (make(), make());
    for ev in events {
        by_kind.observe(ev);
        every.observe_with_every_rule(ev);
    }
    let mut prefetching = make();
    prefetching.prefetch = true;
    // Batches of an odd size, some shorter than the prefetch distance.
    for batch in events
        .chunks(37)
        .flat_map(|c| [&c[..3.min(c.len())], &c[3.min(c.len())..]])
    {
        prefetching.observe_all(batch);
    }
    same_rules(&by_kind, &prefetching, &format!("{what} (prefetching)"));
    same_rules(&by_kind, &every, what)
}

/// The two checkers' rules must be in the same state.
fn same_rules(by_kind: &Checker, every: &Checker, what: &str) -> u64 {
    for (a, b) in by_kind.rules.iter().zip(&every.rules) {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let start = at.saturating_sub(120);
            panic!(
                "{what}: a rule ends differently when called only for its kinds\n by kind: …{}\n   every: …{}",
                &a[start..(at + 120).min(a.len())],
                &b[start..(at + 120).min(b.len())],
            );
        }
    }
    let coverage = |c: &Checker| format!("{:?}", c.coverage());
    assert_eq!(coverage(by_kind), coverage(every), "{what}: coverage");
    assert_eq!(
        by_kind.violations_so_far(),
        every.violations_so_far(),
        "{what}: violations"
    );
    by_kind.violations_so_far()
}

/// Every event of a history, up to its first unreadable line.
fn read(bytes: &[u8]) -> Vec<Event> {
    let mut reader = Reader::new(bytes);
    let mut events = Vec::new();
    while let Ok(Some(ev)) = reader.next_event() {
        events.push(ev);
    }
    events
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn runs_with_and_without_faults_are_judged_alike() {
    let config = parse_str(
        include_str!("../../../configs/chaos.toml"),
        "chaos.toml",
        &Overrides {
            duration: Some(5.0),
            ..Overrides::default()
        },
    )
    .unwrap_or_else(|e| panic!("chaos config: {e}"));
    let mut found = 0;
    let faults = [None].into_iter().chain(
        Inject::NAMES
            .iter()
            .map(|&(_, f)| Some(f))
            .filter(|f| *f != Some(Inject::MemorySpike)),
    );
    for (seed, inject) in (1..).zip(faults) {
        let out = Shared::default();
        crate::explore::run_seed(&config, seed, inject, Some(Box::new(out.clone())))
            .unwrap_or_else(|e| panic!("run {inject:?}: {e}"));
        let events = read(&out.0.lock().unwrap_or_else(|e| e.into_inner()));
        assert!(events.len() > 500, "{inject:?}: {} events", events.len());
        let mut seeded = config.clone();
        seeded.seed = Some(seed);
        let world = World::build(&seeded, seed).unwrap_or_else(|e| panic!("world: {e}"));
        let make = || Checker::new(CheckConfig::of(&seeded), &world.store, seeded.num_targets);
        found += both_ways(make, &events, &format!("chaos seed {seed} {inject:?}"));
    }
    assert!(found > 0, "the faulty runs found nothing online");
}

#[test]
fn history_fixtures_are_judged_alike() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/history");
    let params = OfflineParams {
        grace: Duration::from_millis(200),
        backoff: Some((Duration::from_millis(10), Duration::from_secs(1))),
        failures_injected: false,
        parent_horizon: 1_000,
    };
    let (mut files, mut found) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let events = read(&bytes);
        if events.is_empty() {
            continue;
        }
        files += 1;
        let make = || OfflineChecker::new(params).into_checker();
        found += both_ways(make, &events, &path.display().to_string());
    }
    assert!(files >= 20, "only {files} fixtures had events");
    assert!(found > 0, "the faulty fixtures found nothing");
}
