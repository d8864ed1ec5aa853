//! Setup: the entities a run works on.
//!
//! Targets come first in the store, so target `i` is entity `i` and the
//! harness can index per-target state by entity index. They are placed as
//! children in a few group trees (at most 64 children per tree), so
//! structural operations change real structure. Sources follow.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::config::Config;
use crate::ecs::{EntityId, Schema, Store, Value};

/// Children per group tree at most.
const CHILDREN_PER_GROUP: u32 = 64;

/// The store as a run starts, with what the observers need to know of it.
pub struct World {
    pub store: Store,
    /// Store index of the first source.
    pub first_source: u32,
}

impl World {
    pub fn build(config: &Config, seed: u64) -> anyhow::Result<World> {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x7365_7475);
        let mut store = Store::new(config.retention, seed ^ 0x7374_6f72);
        // Dated by the run's clock, not by the store reading the wall clock,
        // so a virtual-clock run's store is a function of its seed.
        let created = Value::Time(
            chrono::DateTime::from_timestamp_micros(super::epoch_us(config.clock))
                .unwrap_or_default(),
        );
        let n = config.num_targets;
        let groups = n.div_ceil(CHILDREN_PER_GROUP).max(2).min(n);
        store.reserve(n as usize + groups as usize + config.num_sources as usize);
        let mut name = String::new();
        for i in 0..n {
            name.clear();
            let _ = write!(name, "target_{i}");
            let id = store
                .create(
                    Schema::TestDataEntity,
                    &[
                        ("name", Value::Str(Arc::from(name.as_str()))),
                        ("timestamp", created.clone()),
                    ],
                )
                .context("creating a target")?;
            debug_assert_eq!(id, EntityId(i));
        }
        let mut roots = Vec::with_capacity(groups as usize);
        for g in 0..groups {
            let root = store
                .create(
                    Schema::TestDataEntity,
                    &[
                        ("name", Value::Str(Arc::from(format!("group_{g}")))),
                        ("timestamp", created.clone()),
                    ],
                )
                .context("creating a group root")?;
            roots.push(root);
        }
        for i in 0..n {
            let root = roots[(i % groups) as usize];
            store
                .add_child(root, EntityId(i))
                .context("placing a target in its group tree")?;
        }
        let first_source = n + groups;
        for s in 0..config.num_sources {
            store
                .create(
                    Schema::TestDataSource,
                    &[
                        ("source_name", Value::Str(Arc::from(format!("source_{s}")))),
                        ("source_counter", Value::Int(rng.random_range(0..10_000))),
                        ("source_data", Value::Float(rng.random_range(0.0..1000.0))),
                        (
                            "source_text",
                            Value::Str(Arc::from(format!("borrowed_content_{s}"))),
                        ),
                    ],
                )
                .context("creating a source")?;
        }
        Ok(World {
            store,
            first_source,
        })
    }
}
