//! `versions`: lineages agree with the versions the commits reported.
//!
//! Online, each `EntityVersioned` event must follow the previous version
//! seen for its entity (its `previous` id and the next number). After the
//! drain, every entity's lineage length must be its initial version plus
//! the versions seen (an entity never seen versioned still has one), and
//! every retained old version must be unchanged with an intact
//! `previous_ecs_id` chain (the store's audit).

use uuid::Uuid;

use super::{Kinds, Rule};
use crate::check::Violations;
use crate::check::state::FinalState;
use crate::check::table::Table;
use crate::ecs::EntityId;
use crate::events::{Event, EventKind, Kind};
use crate::prefetch::Stage;
use crate::report::format::count;
use crate::report::model::{CheckId, CheckResult};

/// Version chain of one entity as seen in `EntityVersioned` events: 32
/// bytes, as a run may hold a million entities.
#[derive(Clone, Copy, Debug, Default)]
struct Chain {
    /// The last version seen; meaningful once `created > 0`.
    last: Uuid,
    number: u64,
    created: u64,
}

impl Chain {
    fn last(&self) -> Option<Uuid> {
        (self.created > 0).then_some(self.last)
    }
}

#[derive(Debug)]
pub struct Versions {
    v: Violations,
    /// By entity index (entities are dense; grown on demand).
    chains: Vec<Chain>,
}

impl Versions {
    /// A chain for each of a store's `entities`, allocated once: growing
    /// on demand would double the vector, and a million entities would pay
    /// for two million chains.
    pub fn with_entities(entities: usize) -> Versions {
        Versions {
            chains: vec![Chain::default(); entities],
            ..Versions::default()
        }
    }
}

impl Default for Versions {
    fn default() -> Self {
        Versions {
            v: Violations::new(CheckId::Versions),
            chains: Vec::new(),
        }
    }
}

impl Rule for Versions {
    fn observes(&self) -> Kinds {
        Kinds::of(&[Kind::Versioned])
    }

    fn prefetches(&self) -> Kinds {
        Kinds::of(&[Kind::Versioned])
    }

    fn prefetch(&self, ev: &Event, stage: Stage) {
        if stage == Stage::Far
            && let Some(chain) = self.chains.get(ev.target as usize)
        {
            crate::prefetch::read(chain);
        }
    }

    fn observe(&mut self, ev: &Event, _table: &Table) {
        let EventKind::EntityVersioned {
            ecs_id,
            previous,
            number,
        } = ev.kind
        else {
            return;
        };
        let i = ev.target as usize;
        if self.chains.len() <= i {
            self.chains.resize_with(i + 1, Chain::default);
        }
        let chain = &mut self.chains[i];
        let broken = match chain.last() {
            Some(last) => last != previous || number != chain.number + 1,
            None => false,
        };
        let (last, expect) = (chain.last(), chain.number + 1);
        chain.last = ecs_id;
        chain.number = number;
        chain.created += 1;
        if broken {
            self.v.record(Some(ev.op.0), Some(ev.target), "broken version chain", || {
                format!(
                    "version {number} follows {previous}, but the previous version seen was {} (expected number {expect})",
                    last.map_or_else(|| "none".to_string(), |u| u.to_string())
                )
            });
        }
    }

    fn found(&self) -> u64 {
        self.v.count
    }

    fn verdict(&self, s: &FinalState<'_>) -> CheckResult {
        let mut v = self.v.clone();
        let mut created_total = 0u64;
        for i in 0..s.store.len() {
            let e = EntityId(i as u32);
            let chain = self.chains.get(i).copied().unwrap_or_default();
            created_total += chain.created;
            let have = s.store.version_count(e);
            let seen_last = if chain.created > 0 { chain.number } else { 1 };
            if have != 1 + chain.created || have != seen_last {
                v.record(None, Some(i as u32), "lineage length", || {
                    format!(
                        "entity {i}: lineage has {have} versions, events show 1 + {} created (last number {seen_last})",
                        chain.created
                    )
                });
            }
            if let Err(problems) = s.store.audit_lineage(e) {
                for p in problems {
                    v.record(None, Some(i as u32), "lineage audit", || {
                        format!("entity {i}: {p}")
                    });
                }
            }
        }
        v.result(
            format!(
                "{} versions created; lineage lengths match the events; previous_ecs_id chains and old versions of {} entities intact",
                count(created_total),
                count(s.store.len() as u64)
            ),
            s.store.len() as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_costs_32_bytes_and_the_chains_are_allocated_once() {
        assert_eq!(std::mem::size_of::<Chain>(), 32);
        let v = Versions::with_entities(1000);
        assert_eq!(v.chains.capacity(), 1000);
        assert!(v.chains.iter().all(|c| c.last().is_none()));
    }
}
