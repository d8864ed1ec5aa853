//! `promote_to_root`: the target made the root of its own tree.
//!
//! Draws nothing. Its transaction stages the move (a no-op if the target
//! already is a root; otherwise the parent it leaves is versioned too),
//! then appends a history entry. Structural: it gets the structural retry
//! budget. Records [`Effect::Structural`](crate::events::Effect).

use rand::rngs::SmallRng;

use super::{DrawContext, OpKind, OpType, commit_structural};
use crate::ecs::Store;
use crate::ops::FailReason;
use crate::ops::exec::{Attempt, Executed, store_err};

pub(super) const STRUCTURAL: bool = true;
pub(super) const STEPS: u8 = 2;

pub(super) fn draw(_: &mut SmallRng, _: &DrawContext) -> OpKind {
    OpKind::PromoteToRoot
}

pub(super) fn execute(store: &mut Store, attempt: &mut Attempt) -> Result<Executed, FailReason> {
    let mut txn = attempt.begin(store)?;
    let changed = txn.promote_to_root().map_err(store_err)?;
    attempt.staged()?;
    commit_structural(attempt, txn, OpType::PromoteToRoot, changed)
}
