//! The checks that run after the drain, over the final state.
//!
//! They combine three independent sources: the engine's counters, what the
//! online [`Checker`] saw in the event stream (per-op final states, the
//! replayed shadows, the version chains), and the store itself. Each check
//! returns a [`CheckResult`] with its figures, or the first violations.

use super::online::Checker;
use super::{CHECKS, Violations};
use crate::ecs::{EntityId, Store};
use crate::events::Continuity;
use crate::metrics::{CounterSnapshot, Metrics};
use crate::report::format::count;
use crate::report::model::CheckResult;

/// Everything the final checks look at.
pub struct FinalState<'a> {
    pub store: &'a Store,
    pub checker: &'a Checker,
    pub counters: CounterSnapshot,
    pub metrics: &'a Metrics,
    pub continuity: &'a Continuity,
    /// Events the publishers numbered in total.
    pub published: u64,
    pub num_targets: u32,
}

/// Run all nine checks; results in [`CHECKS`] order.
pub fn run_all(s: &FinalState<'_>) -> Vec<CheckResult> {
    let c = s.checker;
    let results = vec![
        accounting(s),
        c.legal.result(
            CHECKS[1],
            format!(
                "{} ops followed the lifecycle through {} events",
                count(s.counters.submitted),
                count(s.continuity.received)
            ),
        ),
        c.exclusive.result(
            CHECKS[2],
            format!(
                "{} starts, never two executing on one target",
                count(s.counters.started)
            ),
        ),
        c.priority.result(
            CHECKS[3],
            format!(
                "{} conflicts and {} rejections checked",
                count(c.resolutions_checked),
                count(c.rejections_checked)
            ),
        ),
        c.grace_rule.result(
            CHECKS[4],
            format!(
                "{} grace saves and {} preemptions checked",
                count(c.grace_saves_checked),
                count(c.preemptions_checked)
            ),
        ),
        replay(s),
        versions(s),
        trees(s),
        events(s),
    ];
    debug_assert!(results.iter().zip(CHECKS).all(|(r, n)| r.name == n));
    results
}

fn accounting(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::default();
    let c = s.counters;
    let t = s.checker.terminals;
    let settled = c.settled();
    if c.submitted != settled {
        v.push(|| {
            format!(
                "submitted {} != succeeded {} + rejected {} + cancelled {} ({} unaccounted)",
                c.submitted,
                c.succeeded,
                c.rejected,
                c.cancelled,
                c.submitted as i128 - settled as i128
            )
        });
    }
    if s.checker.submitted != c.submitted {
        v.push(|| {
            format!(
                "the engine counted {} submissions, the observer saw {}",
                c.submitted, s.checker.submitted
            )
        });
    }
    for (name, engine, seen) in [
        ("succeeded", c.succeeded, t.succeeded),
        ("rejected", c.rejected, t.rejected),
        ("cancelled", c.cancelled, t.cancelled),
    ] {
        if engine != seen {
            v.push(|| format!("the engine counted {engine} {name}, the per-op records say {seen}"));
        }
    }
    let m = s.metrics;
    let by_type: u64 = m.by_type.iter().map(|t| t.succeeded).sum();
    if by_type != t.succeeded {
        v.push(|| {
            format!(
                "per-type succeeded counts sum to {by_type}, the per-op records say {}",
                t.succeeded
            )
        });
    }
    for (id, target, state) in s.checker.active_sample(super::MAX_DESCRIBED) {
        v.push(|| {
            format!("{id} on target {target} never reached a final state (last seen {state:?})")
        });
    }
    // Described above up to the limit; count the rest.
    v.count += (s.checker.active() as u64).saturating_sub(super::MAX_DESCRIBED as u64);
    v.result(
        "accounting",
        format!(
            "{} submitted = {} succeeded + {} rejected + {} cancelled; 0 in flight; engine, per-op records and metrics agree",
            count(c.submitted),
            count(t.succeeded),
            count(t.rejected),
            count(t.cancelled)
        ),
    )
}

fn replay(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::default();
    for (i, shadow) in s.checker.shadows().iter().enumerate() {
        for diff in shadow.diff(s.store, EntityId(i as u32)) {
            v.push(|| format!("target {i}: {diff}"));
        }
    }
    // Violations found online (effects that contradict the shadow).
    let online = &s.checker.replay;
    v.count += online.count;
    for d in &online.first {
        if v.first.len() < super::MAX_DESCRIBED {
            v.first.push(d.clone());
        }
    }
    v.result(
        "replay",
        format!(
            "{} commits replayed on shadow copies of {} targets reproduce the store exactly",
            count(s.checker.commits_replayed),
            count(u64::from(s.num_targets))
        ),
    )
}

fn versions(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::default();
    let online = &s.checker.versions;
    v.count += online.count;
    v.first.extend(online.first.iter().cloned());
    let mut created_total = 0u64;
    // Every entity that was versioned during the run: the store's lineage
    // length must be its initial version plus every version seen.
    for (entity, created, last_number) in s.checker.chains() {
        created_total += created;
        let e = EntityId(entity);
        let have = s.store.version_count(e);
        if have != last_number || have != 1 + created {
            v.push(|| {
                format!(
                    "entity {entity}: lineage has {have} versions, events show 1 + {created} created (last number {last_number})"
                )
            });
        }
    }
    // Targets: the replayed count of version-creating commits.
    for (i, shadow) in s.checker.shadows().iter().enumerate() {
        let e = EntityId(i as u32);
        let have = s.store.version_count(e);
        if have != shadow.versions {
            v.push(|| {
                format!(
                    "target {i}: lineage has {have} versions, committed version-creating ops imply {}",
                    shadow.versions
                )
            });
        }
    }
    // Chains and immutability of every retained old version.
    let mut audited = 0u64;
    for i in 0..s.store.len() {
        let e = EntityId(i as u32);
        audited += 1;
        if let Err(problems) = s.store.audit_lineage(e) {
            for p in problems {
                v.push(|| format!("entity {i}: {p}"));
            }
        }
    }
    v.result(
        "versions",
        format!(
            "{} versions created; lineage lengths match the commits; previous_ecs_id chains and old versions of {} entities intact",
            count(created_total),
            count(audited)
        ),
    )
}

fn trees(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::default();
    let figures = match s.store.check_trees() {
        Ok(stats) => format!(
            "{} trees, {} children, {} orphans; one root each, no cycles, index agrees",
            count(stats.trees as u64),
            count(stats.children as u64),
            count(stats.orphans as u64)
        ),
        Err(problems) => {
            for p in problems {
                v.push(|| p);
            }
            String::new()
        }
    };
    v.result("trees", figures)
}

fn events(s: &FinalState<'_>) -> CheckResult {
    let mut v = Violations::default();
    let k = s.continuity;
    if k.lost > 0 || k.gaps > 0 {
        v.push(|| {
            format!(
                "{} events lost between the engine and the observer ({} gaps)",
                k.lost, k.gaps
            )
        });
    }
    if k.received + k.lost != s.published {
        v.push(|| {
            format!(
                "publishers numbered {} events, the observer received {}",
                s.published, k.received
            )
        });
    }
    if s.checker.active() > 0 {
        let n = s.checker.active();
        v.push(|| format!("the observer did not see the whole life of {n} ops"));
    }
    v.result(
        "events",
        format!(
            "{} events received in order from every publisher, none lost; every op seen from submission to its final state",
            count(k.received)
        ),
    )
}
