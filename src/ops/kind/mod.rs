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

use crate::ecs::{Arg, Phrase, Store, Txn, What};
use crate::events::Effect;
use crate::ops::FailReason;
#[cfg(test)]
use crate::ops::OpId;
use crate::ops::exec::{Attempt, Executed};

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
            pub const fn name(self) -> &'static str {
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
    let (what, at_us) = match *effect {
        Effect::Versioned => return None,
        Effect::Modified { write, at_us } => (modify_field::describe(write), at_us),
        Effect::Borrowed(ref b) => (borrow_attribute::describe(b.field, b.from), b.at_us),
        Effect::ComplexUpdate { at_us, .. } => (complex_update::describe(counter_after), at_us),
        Effect::Structural {
            op: op_type,
            changed,
            at_us,
        } => (describe_structural(op_type, changed), at_us),
    };
    let entry = crate::ecs::Entry::op(what, op.0, at_us);
    Some(entry.text().into_owned())
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
    attempt.history(&mut txn, describe_structural(op_type, changed))?;
    let effect = Effect::Structural {
        op: op_type,
        changed,
        at_us: attempt.at_us(),
    };
    Ok(attempt.commit(txn, effect, &["modification_history"]))
}

/// A structural op's entry: its name, and `no-op` if the target already
/// was where the op would put it.
fn describe_structural(op_type: OpType, changed: bool) -> What {
    What {
        phrase: &STRUCTURAL_PHRASES[op_type.index()][usize::from(!changed)],
        arg: Arg::None,
    }
}

/// Per type, the entry phrases of a structural commit that moved the target
/// and of one that did not.
static STRUCTURAL_PHRASES: [[Phrase; 2]; OpType::COUNT] = {
    let mut out =
        [const { [Phrase { head: "", tail: "" }, Phrase { head: "", tail: "" }] }; OpType::COUNT];
    let mut i = 0;
    while i < OpType::COUNT {
        let head = OpType::ALL[i].name();
        out[i] = [
            Phrase { head, tail: "" },
            Phrase {
                head,
                tail: " no-op",
            },
        ];
        i += 1;
    }
    out
};

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
    fn each_commit_reads_in_the_history_as_it_always_has() {
        let from = uuid::Uuid::from_u128(0x67e5_5044_10b1_426f_9247_bb68_0e5f_e0c8);
        let cases = [
            (
                Effect::Modified {
                    write: FieldWrite::Counter(42),
                    at_us: 5,
                },
                "modify_field counter=42 op-0000000a t=5",
            ),
            (
                Effect::Modified {
                    write: FieldWrite::DataValue(125.3524420627421),
                    at_us: -1,
                },
                "modify_field data_value=125.3524420627421 op-0000000a t=-1",
            ),
            (
                Effect::Modified {
                    write: FieldWrite::Text(u32::MAX),
                    at_us: 1_732_000_000_000_000,
                },
                "modify_field text_content=text_4294967295 op-0000000a t=1732000000000000",
            ),
            (
                Effect::borrowed(BorrowField::Counter, crate::ecs::Value::Int(1), from, 3),
                "borrow counter <- @67e55044-10b1-426f-9247-bb680e5fe0c8.source_counter op-0000000a t=3",
            ),
            (
                Effect::borrowed(BorrowField::Data, crate::ecs::Value::Float(1.0), from, 3),
                "borrow data_value <- @67e55044-10b1-426f-9247-bb680e5fe0c8.source_data op-0000000a t=3",
            ),
            (
                Effect::borrowed(BorrowField::Text, crate::ecs::Value::str("x"), from, 3),
                "borrow text_content <- @67e55044-10b1-426f-9247-bb680e5fe0c8.source_text op-0000000a t=3",
            ),
            (
                Effect::ComplexUpdate {
                    data_value: 1.0,
                    at_us: 9,
                },
                "complex_update counter=-7 op-0000000a t=9",
            ),
            (
                Effect::Structural {
                    op: OpType::PromoteToRoot,
                    changed: true,
                    at_us: 2,
                },
                "promote_to_root op-0000000a t=2",
            ),
            (
                Effect::Structural {
                    op: OpType::DetachEntity,
                    changed: false,
                    at_us: 2,
                },
                "detach_entity no-op op-0000000a t=2",
            ),
        ];
        for (effect, text) in cases {
            assert_eq!(
                history_entry(OpId(10), &effect, -7).as_deref(),
                Some(text),
                "{effect:?}"
            );
        }
        assert_eq!(history_entry(OpId(10), &Effect::Versioned, 0), None);
        let structural = Effect::Structural {
            op: OpType::PromoteToRoot,
            changed: false,
            at_us: 1,
        };
        for id in [0, 1, 0xabc, 0xffff_ffff, 0x1_0000_0000, u64::MAX] {
            let text = history_entry(OpId(id), &structural, 0).unwrap_or_default();
            assert_eq!(text, format!("promote_to_root no-op {} t=1", OpId(id)));
        }
        for v in [
            0.0,
            1.5,
            999.999_999_999,
            1e-7,
            123_456_789.123,
            f64::MIN_POSITIVE,
        ] {
            let effect = Effect::Modified {
                write: FieldWrite::DataValue(v),
                at_us: 0,
            };
            let text = history_entry(OpId(1), &effect, 0).unwrap_or_default();
            let written = text
                .strip_prefix("modify_field data_value=")
                .and_then(|t| t.split(' ').next());
            assert_eq!(
                written.and_then(|t| t.parse::<f64>().ok()),
                Some(v),
                "{text}"
            );
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
