//! `version_entity`: a new version of the target, no field changed.
//!
//! Draws nothing. Its transaction stages one thing, a version forced at
//! commit, and appends no history entry. Records [`Effect::Versioned`].

use rand::rngs::SmallRng;

use super::{DrawContext, OpKind};
use crate::ecs::Store;
use crate::events::Effect;
use crate::ops::FailReason;
use crate::ops::exec::{Attempt, Executed};

pub(super) const STRUCTURAL: bool = false;
pub(super) const STEPS: u8 = 1;

pub(super) fn draw(_: &mut SmallRng, _: &DrawContext) -> OpKind {
    OpKind::VersionEntity
}

pub(super) fn execute(store: &mut Store, attempt: &mut Attempt) -> Result<Executed, FailReason> {
    let mut txn = attempt.begin(store)?;
    txn.force_version();
    attempt.staged()?;
    Ok(attempt.commit(txn, Effect::Versioned, &[]))
}
