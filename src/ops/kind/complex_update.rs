//! `complex_update`: five fields, a history entry and a forced version in
//! one commit.
//!
//! At submission it draws the new `data_value`, a float in 0..100. Its
//! transaction increments `counter`, writes `data_value`, writes
//! `text_content` from the new counter and the commit time, sets
//! `timestamp` to the commit time, increments `version_count`, appends a
//! history entry and forces a version: seven steps, the most of any type,
//! which is what makes it the test of atomicity. Records
//! [`Effect::ComplexUpdate`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::RngExt;
use rand::rngs::SmallRng;

use super::{DrawContext, OpKind};
use crate::ecs::{Arg, Phrase, Store, Value, What};
use crate::events::Effect;
use crate::ops::FailReason;
use crate::ops::exec::{Attempt, Executed, int_field};
use crate::ops::text::Line;

pub(super) const STRUCTURAL: bool = false;
pub(super) const STEPS: u8 = 7;

/// Target fields the commit changes.
const CHANGED_FIELDS: &[&str] = &[
    "counter",
    "data_value",
    "text_content",
    "timestamp",
    "version_count",
    "modification_history",
];

pub(super) fn draw(rng: &mut SmallRng, _: &DrawContext) -> OpKind {
    OpKind::ComplexUpdate {
        data_value: rng.random_range(0.0..100.0),
    }
}

pub(super) fn execute(
    store: &mut Store,
    attempt: &mut Attempt,
    data_value: f64,
) -> Result<Executed, FailReason> {
    let at_us = attempt.at_us();
    let mut txn = attempt.begin(store)?;
    let counter = int_field(&txn, "counter")? + 1;
    attempt.set(&mut txn, "counter", Value::Int(counter))?;
    attempt.set(&mut txn, "data_value", Value::Float(data_value))?;
    let text = complex_text(counter, at_us);
    attempt.set(&mut txn, "text_content", Value::Str(Arc::from(text)))?;
    attempt.set(&mut txn, "timestamp", Value::Time(time_from_us(at_us)))?;
    let versions = int_field(&txn, "version_count")?;
    attempt.set(&mut txn, "version_count", Value::Int(versions + 1))?;
    attempt.history(&mut txn, describe(counter))?;
    txn.force_version();
    attempt.staged()?;
    let effect = Effect::ComplexUpdate { data_value, at_us };
    Ok(attempt.commit(txn, effect, CHANGED_FIELDS))
}

/// The history entry's description of the update, with the counter it
/// left.
pub(super) fn describe(counter_after: i64) -> What {
    What {
        phrase: &Phrase {
            head: "complex_update counter=",
            tail: "",
        },
        arg: Arg::Int(counter_after),
    }
}

/// The text a `complex_update` writes into `text_content`.
pub(crate) fn complex_text(counter: i64, at_us: i64) -> String {
    Line::new()
        .str("Updated_")
        .int(counter)
        .str("_")
        .int(at_us)
        .finish()
}

/// Wall-clock microseconds as the store's time type. Out-of-range values
/// (not reachable from a real clock) fall back to the epoch.
fn time_from_us(at_us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at_us).unwrap_or_default()
}
