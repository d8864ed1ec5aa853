//! The operation types: one module each, tied together by one registry.
//!
//! Each type's module holds everything about it:
//!
//! * `STRUCTURAL` — whether it moves the target in the trees (such ops get
//!   the structural retry budget, see [`OpClass`](crate::ops::OpClass));
//! * `STEPS` — how many writes it stages before its commit (an injected
//!   fault strikes after one of them);
//! * `draw` — its parameters, drawn at submission from the workload's RNG,
//!   so the op's effect is fixed before it runs;
//! * `execute` — its transaction: begin, stage every write (each followed
//!   by [`Attempt::staged`](crate::ops::exec::Attempt)), commit once;
//! * the [`Effect`] it records, and how that effect reads in the target's
//!   history (`describe`, used by [`history_entry`]).
//!
//! The `registry!` table below is the only list of the types. From it come
//! [`OpType`] (its variants, [`OpType::ALL`], [`OpType::COUNT`],
//! [`OpType::name`] — the module's name — and [`OpType::is_structural`]),
//! [`OpKind`] (one variant per type, carrying the drawn parameters), and the
//! matches that hand each concern to the type's module.
//!
//! ## Adding an operation type
//!
//! 1. Write `src/ops/kind/<name>.rs` with `STRUCTURAL`, `STEPS`, `draw` and
//!    `execute` as `pub(super)` items, shaped like those of its siblings
//!    (`execute` takes the store, the [`Attempt`], then the parameters in
//!    the order the registry line names them).
//! 2. Add `mod <name>;` and one line to the `registry!` table: the variant
//!    name, the parameters its `OpKind` variant carries (none, a tuple with
//!    named fields, or a struct), and `=> <name>`. The config and report
//!    name of the type is `<name>`; its place in the table is its index in
//!    per-type arrays and its rank in the report. (The `mod` line stays
//!    outside the macro so that rustfmt and the editor find the file.)
//! 3. Give it a weight in `src/config.rs`: a field named `<name>` in
//!    `OpTypeWeights`, its entry in `entries` and `from_array` (registry
//!    order), and its default weight; the config tests that pin the default
//!    weights gain one. Per-type arrays elsewhere are sized by
//!    [`OpType::COUNT`] and follow; the report lists the new type, so its
//!    snapshots change.
//!
//! If its commit is described by an existing [`Effect`] variant (as the
//! two structural types share `Effect::Structural`), that is all. A new kind
//! of effect also needs its variant in `events::Effect`, an arm in
//! [`history_entry`], and its replay in `Shadow::apply` and the checks:
//! written there by hand on purpose, as a check must not borrow the code it
//! checks.

mod borrow_attribute;
mod complex_update;
mod detach_entity;
mod modify_field;
mod promote_to_root;
mod version_entity;

use std::fmt;

use rand::rngs::SmallRng;
use serde::Serialize;

pub use borrow_attribute::BorrowField;
#[cfg(test)]
pub(crate) use complex_update::complex_text;
pub use modify_field::FieldWrite;
#[cfg(test)]
pub(crate) use modify_field::text_value;

use crate::ecs::{Store, Txn};
use crate::events::Effect;
use crate::ops::exec::{Attempt, Executed};
use crate::ops::text::Line;
use crate::ops::{FailReason, OpId};

registry! {
    /// A new version of the target, no field changed.
    VersionEntity => version_entity,
    /// One field written through its address.
    ModifyField(write: FieldWrite) => modify_field,
    /// A source field copied into a target field, with provenance.
    BorrowAttribute {
        /// Store entity index of the source.
        source: u32,
        field: BorrowField,
    } => borrow_attribute,
    /// Five fields, a history entry and a forced version in one commit.
    ComplexUpdate {
        /// The new `data_value`, drawn in 0..100.
        data_value: f64,
    } => complex_update,
    /// The target made a root of its own tree.
    PromoteToRoot => promote_to_root,
    /// The target taken out of its tree.
    DetachEntity => detach_entity,
}

/// Generates [`OpType`], [`OpKind`] and their dispatch from the table
/// above; see the module documentation.
macro_rules! registry {
    ($(
        $(#[$doc:meta])*
        $Type:ident
        $( ( $( $tname:ident : $tty:ty ),* $(,)? ) )?
        $( { $( $(#[$fdoc:meta])* $fname:ident : $fty:ty ),* $(,)? } )?
        => $module:ident,
    )*) => {
        /// The operation types of the workload, in registry order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum OpType {
            $( $(#[$doc])* $Type, )*
        }

        impl OpType {
            /// Number of operation types: the size of per-type arrays.
            pub(crate) const COUNT: usize = [$( OpType::$Type ),*].len();

            /// Every type, in registry order (the order of per-type arrays).
            pub const ALL: [OpType; OpType::COUNT] = [$( OpType::$Type ),*];

            /// The config / report name, e.g. `"version_entity"`.
            pub fn name(self) -> &'static str {
                match self {
                    $( OpType::$Type => stringify!($module), )*
                }
            }

            pub fn is_structural(self) -> bool {
                match self {
                    $( OpType::$Type => $module::STRUCTURAL, )*
                }
            }

            /// An op of this type with its parameters drawn from `rng`.
            pub fn draw(self, rng: &mut SmallRng, cx: &DrawContext) -> OpKind {
                match self {
                    $( OpType::$Type => $module::draw(rng, cx), )*
                }
            }
        }

        /// What an op does, with every random parameter drawn at submission.
        #[derive(Clone, Copy, Debug, PartialEq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum OpKind {
            $(
                $(#[$doc])*
                $Type
                $( ( $( $tty ),* ) )?
                $( { $( $(#[$fdoc])* $fname: $fty ),* } )?,
            )*
        }

        impl OpKind {
            pub fn op_type(&self) -> OpType {
                match self {
                    $( OpKind::$Type { .. } => OpType::$Type, )*
                }
            }

            /// Number of write steps the op stages before its commit.
            pub(crate) fn steps(&self) -> u8 {
                match self {
                    $( OpKind::$Type { .. } => $module::STEPS, )*
                }
            }

            /// Run the op's transaction (see [`crate::ops::exec::execute`]).
            pub(crate) fn execute(
                &self,
                store: &mut Store,
                attempt: &mut Attempt,
            ) -> Result<Executed, FailReason> {
                match *self {
                    $(
                        OpKind::$Type
                        $( ( $( $tname ),* ) )?
                        $( { $( $fname ),* } )?
                        => $module::execute(
                            store,
                            attempt
                            $( $( , $tname )* )?
                            $( $( , $fname )* )?
                        ),
                    )*
                }
            }
        }
    };
}
use registry;

/// What drawing an op's parameters may depend on besides the RNG.
#[derive(Clone, Copy, Debug)]
pub struct DrawContext {
    /// Store entity index of the first source entity.
    pub first_source: u32,
    pub num_sources: u32,
}

impl OpType {
    /// The type named `name` (its config / report name).
    pub(crate) fn from_name(name: &str) -> Option<OpType> {
        OpType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Index into per-type arrays (`0..COUNT`, in [`OpType::ALL`] order).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
/// The history entry a committed op appends to its target, from its
/// effect: `None` if it appends none. The executor writes entries with the
/// same `describe` functions, so the replay reads them back identically.
/// `counter_after` is the target's counter after the commit.
pub(crate) fn history_entry(op: OpId, effect: &Effect, counter_after: i64) -> Option<String> {
    let mut line = Line::new();
    let at_us = match *effect {
        Effect::Versioned => return None,
        Effect::Modified { write, at_us } => {
            modify_field::describe(&mut line, write);
            at_us
        }
        Effect::Borrowed {
            field, from, at_us, ..
        } => {
            borrow_attribute::describe(&mut line, field, from);
            at_us
        }
        Effect::ComplexUpdate { at_us, .. } => {
            complex_update::describe(&mut line, counter_after);
            at_us
        }
        Effect::Structural {
            op: op_type,
            changed,
            at_us,
        } => {
            describe_structural(&mut line, op_type, changed);
            at_us
        }
    };
    Some(finish_entry(&mut line, op, at_us))
}

/// The tail every history entry shares: who committed it, and when.
pub(crate) fn finish_entry(line: &mut Line, op: OpId, at_us: i64) -> String {
    line.str(" ").op(op).str(" t=").int(at_us).finish()
}

/// The end of a structural op's transaction, shared by `promote_to_root`
/// and `detach_entity` once the move is staged: its history entry (`no-op`
/// if the target already was where the op would put it) and the commit.
fn commit_structural(
    attempt: &mut Attempt,
    mut txn: Txn<'_>,
    op_type: OpType,
    changed: bool,
) -> Result<Executed, FailReason> {
    attempt.history(&mut txn, |line| describe_structural(line, op_type, changed))?;
    let effect = Effect::Structural {
        op: op_type,
        changed,
        at_us: attempt.at_us(),
    };
    Ok(attempt.commit(txn, effect, &["modification_history"]))
}

fn describe_structural(line: &mut Line, op_type: OpType, changed: bool) {
    line.str(op_type.name())
        .str(if changed { "" } else { " no-op" });
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_seed_draws_the_same_parameters_in_the_same_order() {
        // Pinned values: a change here changes every seeded run's workload.
        let mut rng = SmallRng::seed_from_u64(42);
        let cx = DrawContext {
            first_source: 10,
            num_sources: 3,
        };
        let drawn: Vec<String> = (0..6)
            .flat_map(|_| OpType::ALL)
            .map(|t| format!("{:?}", t.draw(&mut rng, &cx)))
            .collect();
        let expected = [
            "VersionEntity",
            "ModifyField(Text(1369325940))",
            "BorrowAttribute { source: 12, field: Text }",
            "ComplexUpdate { data_value: 79.35044896917289 }",
            "PromoteToRoot",
            "DetachEntity",
            "VersionEntity",
            "ModifyField(DataValue(125.3524420627421))",
            "BorrowAttribute { source: 11, field: Counter }",
            "ComplexUpdate { data_value: 93.33471176448307 }",
            "PromoteToRoot",
            "DetachEntity",
            "VersionEntity",
            "ModifyField(DataValue(850.0298262744622))",
            "BorrowAttribute { source: 12, field: Counter }",
            "ComplexUpdate { data_value: 40.30733008256138 }",
            "PromoteToRoot",
            "DetachEntity",
            "VersionEntity",
            "ModifyField(DataValue(212.8102419658493))",
            "BorrowAttribute { source: 10, field: Data }",
            "ComplexUpdate { data_value: 46.68700420027394 }",
            "PromoteToRoot",
            "DetachEntity",
            "VersionEntity",
            "ModifyField(Counter(8628))",
            "BorrowAttribute { source: 11, field: Data }",
            "ComplexUpdate { data_value: 81.58415486602526 }",
            "PromoteToRoot",
            "DetachEntity",
            "VersionEntity",
            "ModifyField(Counter(4262))",
            "BorrowAttribute { source: 12, field: Data }",
            "ComplexUpdate { data_value: 87.18584905225168 }",
            "PromoteToRoot",
            "DetachEntity",
        ];
        assert_eq!(drawn, expected);
    }

    #[test]
    fn every_type_draws_its_own_kind_within_the_sources() {
        let mut rng = SmallRng::seed_from_u64(7);
        let cx = DrawContext {
            first_source: 4,
            num_sources: 2,
        };
        for t in OpType::ALL {
            for _ in 0..50 {
                let kind = t.draw(&mut rng, &cx);
                assert_eq!(kind.op_type(), t, "{kind:?}");
                if let OpKind::BorrowAttribute { source, .. } = kind {
                    assert!((4..6).contains(&source), "{kind:?}");
                }
            }
        }
    }

    #[test]
    fn names_indices_and_serialized_names_agree() {
        assert_eq!(OpType::ALL.len(), OpType::COUNT);
        for (i, t) in OpType::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(OpType::from_name(t.name()), Some(t));
            let json = serde_json::to_string(&t).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, format!("\"{}\"", t.name()));
        }
        assert_eq!(OpType::from_name("no_such_type"), None);
        let structural: Vec<&str> = OpType::ALL
            .into_iter()
            .filter(|t| t.is_structural())
            .map(OpType::name)
            .collect();
        assert_eq!(structural, ["promote_to_root", "detach_entity"]);
    }
}
