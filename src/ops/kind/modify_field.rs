//! `modify_field`: one field of the target written through its address.
//!
//! At submission it draws which field, each with equal chance, and the
//! value: `counter` ← an int in 1..=10000, `data_value` ← a float in
//! 0..1000, `text_content` ← `text_<n>` for a drawn `u32` n. Its
//! transaction writes through the address of the target's current version
//! (a stale one is refused), then appends a history entry. Records
//! [`Effect::Modified`].

use std::sync::Arc;

use rand::RngExt;
use rand::rngs::SmallRng;
use serde::Serialize;

use super::{DrawContext, OpKind};
use crate::ecs::{Arg, Phrase, Store, Value, What};
use crate::events::Effect;
use crate::ops::FailReason;
use crate::ops::exec::{Attempt, Executed, store_err};
use crate::ops::text::Line;

/// The field a `modify_field` op writes, with the value drawn at submission.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldWrite {
    /// `counter` ← int in 1..=10000.
    Counter(i64),
    /// `data_value` ← float in 0..1000.
    DataValue(f64),
    /// `text_content` ← `text_<n>`; the number is drawn, the text derived.
    Text(u32),
}

pub(super) const STRUCTURAL: bool = false;
pub(super) const STEPS: u8 = 2;

pub(super) fn draw(rng: &mut SmallRng, _: &DrawContext) -> OpKind {
    OpKind::ModifyField(match rng.random_range(0..3u8) {
        0 => FieldWrite::Counter(rng.random_range(1..=10_000)),
        1 => FieldWrite::DataValue(rng.random_range(0.0..1000.0)),
        _ => FieldWrite::Text(rng.random()),
    })
}

pub(super) fn execute(
    store: &mut Store,
    attempt: &mut Attempt,
    write: FieldWrite,
) -> Result<Executed, FailReason> {
    let mut txn = attempt.begin(store)?;
    let (field, value) = match write {
        FieldWrite::Counter(v) => ("counter", Value::Int(v)),
        FieldWrite::DataValue(v) => ("data_value", Value::Float(v)),
        FieldWrite::Text(n) => ("text_content", Value::Str(Arc::from(text_value(n)))),
    };
    let address = crate::ecs::address(txn.current_id(), field);
    txn.put(&address, value).map_err(store_err)?;
    attempt.staged()?;
    attempt.history(&mut txn, describe(write))?;
    let effect = Effect::Modified {
        write,
        at_us: attempt.at_us(),
    };
    Ok(attempt.commit(txn, effect, changed_fields(write)))
}

/// Target fields the commit changes.
fn changed_fields(write: FieldWrite) -> &'static [&'static str] {
    match write {
        FieldWrite::Counter(_) => &["counter", "modification_history"],
        FieldWrite::DataValue(_) => &["data_value", "modification_history"],
        FieldWrite::Text(_) => &["text_content", "modification_history"],
    }
}

/// The history entry's description of the write.
pub(super) fn describe(write: FieldWrite) -> What {
    match write {
        FieldWrite::Counter(v) => What {
            phrase: &Phrase {
                head: "modify_field counter=",
                tail: "",
            },
            arg: Arg::Int(v),
        },
        FieldWrite::DataValue(v) => What {
            phrase: &Phrase {
                head: "modify_field data_value=",
                tail: "",
            },
            arg: Arg::Float(v),
        },
        FieldWrite::Text(n) => What {
            phrase: &Phrase {
                head: "modify_field text_content=text_",
                tail: "",
            },
            arg: Arg::Uint(u64::from(n)),
        },
    }
}

/// The text a `modify_field` op writes into `text_content`.
pub fn text_value(n: u32) -> String {
    Line::new().str("text_").uint(u64::from(n)).finish()
}
