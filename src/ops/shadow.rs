//! The shadow: a plain model of one target, changed only by replaying the
//! recorded effects of committed ops.
//!
//! [`Shadow`] is the other half of the proof that execution is atomic: a
//! copy of a target's fields to which the recorded
//! [`Effect`] of every committed op is applied in commit order, without the
//! store. If the store lost an update, leaked a partial write or versioned
//! wrongly, the two disagree at the end ([`Shadow::diff`]).
//!
//! It serves the executor's tests only: a run's replay is the `replay`
//! check (`check/rules/replay.rs`), which models the targets lazily so that
//! a million of them cost no copy each.

use std::sync::Arc;

use crate::ecs::{EcsError, EntityId, Placement, Store, Value};
use crate::events::Effect;
use crate::ops::kind::{complex_text, history_entry, text_value};
use crate::ops::{BorrowField, FieldWrite, OpId, OpType};

/// Where a target sits in the trees, as the replay models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShadowPlacement {
    Root,
    Child,
    Orphan,
}

/// A plain copy of a target's fields, changed only by replaying recorded
/// effects. Compared with the store at the end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Shadow {
    pub(crate) counter: i64,
    pub(crate) data_value: f64,
    pub(crate) text_content: Arc<str>,
    /// `timestamp`, in microseconds.
    pub(crate) timestamp_us: i64,
    pub(crate) version_count: i64,
    pub(crate) borrow_count: i64,
    pub(crate) history_len: u64,
    pub(crate) history_digest: u64,
    /// Versions in the lineage (1 = only the initial version).
    pub(crate) versions: u64,
    pub(crate) placement: ShadowPlacement,
}

impl Shadow {
    /// The shadow of a target as the store holds it now.
    pub(crate) fn capture(store: &Store, target: EntityId) -> Result<Shadow, EcsError> {
        let int = |name: &str| -> Result<i64, EcsError> {
            match store.field(target, name)? {
                Value::Int(i) => Ok(i),
                _ => Ok(0),
            }
        };
        let data_value = match store.field(target, "data_value")? {
            Value::Float(f) => f,
            _ => 0.0,
        };
        let timestamp_us = match store.field(target, "timestamp")? {
            Value::Time(t) => t.timestamp_micros(),
            _ => 0,
        };
        let text_content = match store.field(target, "text_content")? {
            Value::Str(s) => s,
            _ => Arc::from(""),
        };
        let placement = match store.placement(target) {
            Placement::Root { .. } => ShadowPlacement::Root,
            Placement::Child { .. } => ShadowPlacement::Child,
            Placement::Orphan => ShadowPlacement::Orphan,
        };
        Ok(Shadow {
            counter: int("counter")?,
            data_value,
            text_content,
            timestamp_us,
            version_count: int("version_count")?,
            borrow_count: int("borrow_count")?,
            history_len: store.history_len(target),
            history_digest: store.history_digest(target),
            versions: store.version_count(target),
            placement,
        })
    }

    /// Replay one committed effect. Returns a description of a mismatch
    /// between what the effect claims and what the shadow predicts (only
    /// structural ops can disagree: whether the change was a no-op).
    pub(crate) fn apply(&mut self, op: OpId, effect: &Effect) -> Result<(), String> {
        let mut result = Ok(());
        match effect {
            Effect::Versioned => self.versions += 1,
            Effect::Modified { write, .. } => match *write {
                FieldWrite::Counter(v) => self.counter = v,
                FieldWrite::DataValue(v) => self.data_value = v,
                FieldWrite::Text(n) => self.text_content = Arc::from(text_value(n)),
            },
            Effect::Borrowed(b) => {
                match (&b.field, &b.value) {
                    (BorrowField::Counter, Value::Int(v)) => self.counter = *v,
                    (BorrowField::Data, Value::Float(v)) => self.data_value = *v,
                    (BorrowField::Text, Value::Str(v)) => self.text_content = Arc::clone(v),
                    (f, v) => {
                        result = Err(format!(
                            "borrow into {f:?} recorded a value of another type: {v:?}"
                        ));
                    }
                }
                self.borrow_count += 1;
            }
            Effect::ComplexUpdate { data_value, at_us } => {
                self.counter += 1;
                self.data_value = *data_value;
                self.text_content = Arc::from(complex_text(self.counter, *at_us));
                self.timestamp_us = *at_us;
                self.version_count += 1;
                self.versions += 1;
            }
            Effect::Structural {
                op: kind, changed, ..
            } => {
                let (next, expect_change) = match (kind, self.placement) {
                    (OpType::PromoteToRoot, ShadowPlacement::Root) => {
                        (ShadowPlacement::Root, false)
                    }
                    (OpType::PromoteToRoot, _) => (ShadowPlacement::Root, true),
                    (_, ShadowPlacement::Orphan) => (ShadowPlacement::Orphan, false),
                    (_, _) => (ShadowPlacement::Orphan, true),
                };
                if expect_change != *changed {
                    result = Err(format!(
                        "{kind} on a {:?} target should {}be a no-op, the commit says changed={changed}",
                        self.placement,
                        if expect_change { "not " } else { "" }
                    ));
                }
                self.placement = next;
                if *changed {
                    self.versions += 1;
                }
            }
        }
        if let Some(entry) = history_entry(op, effect, self.counter) {
            self.history_len += 1;
            self.history_digest = crate::ecs::history_digest_step(self.history_digest, &entry);
        }
        result
    }

    /// Differences between this shadow and the store's live target.
    pub(crate) fn diff(&self, store: &Store, target: EntityId) -> Vec<String> {
        let mut out = Vec::new();
        let live = match Shadow::capture(store, target) {
            Ok(live) => live,
            Err(e) => return vec![format!("cannot read target: {e}")],
        };
        let mut cmp = |name: &str, want: String, got: String| {
            if want != got {
                out.push(format!("{name}: replay {want}, store {got}"));
            }
        };
        cmp(
            "counter",
            self.counter.to_string(),
            live.counter.to_string(),
        );
        cmp(
            "data_value",
            self.data_value.to_string(),
            live.data_value.to_string(),
        );
        cmp(
            "text_content",
            self.text_content.to_string(),
            live.text_content.to_string(),
        );
        cmp(
            "timestamp",
            self.timestamp_us.to_string(),
            live.timestamp_us.to_string(),
        );
        cmp(
            "version_count",
            self.version_count.to_string(),
            live.version_count.to_string(),
        );
        cmp(
            "borrow_count",
            self.borrow_count.to_string(),
            live.borrow_count.to_string(),
        );
        cmp(
            "history length",
            self.history_len.to_string(),
            live.history_len.to_string(),
        );
        cmp(
            "history digest",
            format!("{:016x}", self.history_digest),
            format!("{:016x}", live.history_digest),
        );
        cmp(
            "versions",
            self.versions.to_string(),
            live.versions.to_string(),
        );
        cmp(
            "placement",
            format!("{:?}", self.placement),
            format!("{:?}", live.placement),
        );
        out
    }
}
