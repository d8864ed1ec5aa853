//! `borrow_attribute`: a field of a source entity copied into the target,
//! with its provenance.
//!
//! At submission it draws the source, one of the workload's source
//! entities, then which field pair, each with equal chance (see
//! [`BorrowField`]). Its transaction stages the copy, increments
//! `borrow_count` and appends a history entry naming the source's version.
//! Records [`Effect::Borrowed`] with the value copied, which was not known
//! at submission.

use rand::RngExt;
use rand::rngs::SmallRng;
use serde::Serialize;
use uuid::Uuid;

use super::{DrawContext, OpKind};
use crate::ecs::{Arg, EntityId, Phrase, Store, Value, What};
use crate::events::Effect;
use crate::ops::FailReason;
use crate::ops::exec::{Attempt, Executed, int_field, store_err};

/// Which source field a `borrow_attribute` op copies into which target field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BorrowField {
    /// source_counter → counter
    Counter,
    /// source_data → data_value
    Data,
    /// source_text → text_content
    Text,
}

impl BorrowField {
    /// `(source_field, target_field)`.
    pub(crate) fn fields(self) -> (&'static str, &'static str) {
        match self {
            BorrowField::Counter => ("source_counter", "counter"),
            BorrowField::Data => ("source_data", "data_value"),
            BorrowField::Text => ("source_text", "text_content"),
        }
    }
}

pub(super) const STRUCTURAL: bool = false;
pub(super) const STEPS: u8 = 3;

pub(super) fn draw(rng: &mut SmallRng, cx: &DrawContext) -> OpKind {
    OpKind::BorrowAttribute {
        source: cx.first_source + rng.random_range(0..cx.num_sources),
        field: match rng.random_range(0..3u8) {
            0 => BorrowField::Counter,
            1 => BorrowField::Data,
            _ => BorrowField::Text,
        },
    }
}

pub(super) fn execute(
    store: &mut Store,
    attempt: &mut Attempt,
    source: u32,
    field: BorrowField,
) -> Result<Executed, FailReason> {
    // Read before the transaction begins: it holds the store exclusively.
    let from = store.current_id(EntityId(source)).map_err(store_err)?;
    let mut txn = attempt.begin(store)?;
    let (source_field, target_field) = field.fields();
    let value = txn
        .borrow_attribute_from(EntityId(source), source_field, target_field)
        .map_err(store_err)?;
    attempt.staged()?;
    let borrows = int_field(&txn, "borrow_count")?;
    attempt.set(&mut txn, "borrow_count", Value::Int(borrows + 1))?;
    attempt.history(&mut txn, describe(field, from))?;
    let effect = Effect::borrowed(field, value, from, attempt.at_us());
    Ok(attempt.commit(txn, effect, changed_fields(field)))
}

/// Target fields the commit changes.
fn changed_fields(field: BorrowField) -> &'static [&'static str] {
    match field {
        BorrowField::Counter => &["counter", "borrow_count", "modification_history"],
        BorrowField::Data => &["data_value", "borrow_count", "modification_history"],
        BorrowField::Text => &["text_content", "borrow_count", "modification_history"],
    }
}

/// The history entry's description of the borrow, from the source's
/// version `from`.
pub(super) fn describe(field: BorrowField, from: Uuid) -> What {
    let phrase = match field {
        BorrowField::Counter => &Phrase {
            head: "borrow counter <- @",
            tail: ".source_counter",
        },
        BorrowField::Data => &Phrase {
            head: "borrow data_value <- @",
            tail: ".source_data",
        },
        BorrowField::Text => &Phrase {
            head: "borrow text_content <- @",
            tail: ".source_text",
        },
    };
    What {
        phrase,
        arg: Arg::Uuid(from),
    }
}
