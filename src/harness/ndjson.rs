//! One event as one line of JSON, written by hand.
//!
//! The events file is the largest output of a run: in capacity mode the
//! engine settles over a million operations a second, a few events each.
//! `serde_json` renders an [`Event`] through the generic `Serialize`
//! machinery, and the `#[serde(flatten)]` of its kind goes through a
//! map serializer on every event. This writer emits the same bytes
//! directly into a `Vec<u8>`: field names are literals, integers go
//! through `itoa` and floats through `zmij` (the formatter `serde_json`
//! itself uses), and strings are escaped by the rules `serde_json`
//! follows.
//!
//! The derived `Serialize` of `Event` stays the definition of the format.
//! The tests below render every variant both ways and require identical
//! bytes, so a change to an event type that this file does not follow
//! fails there, not in someone's log parser.

use uuid::Uuid;

use crate::ecs::Value;
use crate::events::{Decision, Effect, Event, EventKind, RejectReason};
use crate::ops::{BorrowField, FailReason, FieldWrite, OpClass, OpId, OpState, OpType};

/// Append `ev` as one JSON object and a newline, byte for byte what
/// `serde_json::to_writer` and `"\n"` produce.
pub fn write_event(out: &mut Vec<u8>, ev: &Event) {
    out.extend_from_slice(b"{\"t_ns\":");
    uint(out, ev.t_ns);
    out.extend_from_slice(b",\"op\":");
    uint(out, ev.op.0);
    out.extend_from_slice(b",\"target\":");
    uint(out, u64::from(ev.target));
    out.extend_from_slice(b",\"op_type\":\"");
    out.extend_from_slice(op_type(ev.op_type).as_bytes());
    out.extend_from_slice(b"\",\"priority\":");
    uint(out, u64::from(ev.priority.get()));
    out.extend_from_slice(b",\"event\":\"");
    match &ev.kind {
        EventKind::OperationSubmitted {
            effective,
            class,
            parent,
            budget,
            batch_size,
        } => {
            out.extend_from_slice(b"OperationSubmitted\",\"effective\":");
            uint(out, u64::from(effective.get()));
            out.extend_from_slice(b",\"class\":\"");
            out.extend_from_slice(op_class(*class).as_bytes());
            out.extend_from_slice(b"\",\"parent\":");
            opt_op(out, *parent);
            out.extend_from_slice(b",\"budget\":");
            uint(out, u64::from(*budget));
            out.extend_from_slice(b",\"batch_size\":");
            uint(out, u64::from(*batch_size));
        }
        EventKind::OperationConflict {
            pending,
            executing,
            decision,
            resolution_ns,
        } => {
            out.extend_from_slice(b"OperationConflict\",\"pending\":[");
            for (i, id) in pending.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                uint(out, id.0);
            }
            out.extend_from_slice(b"],\"executing\":");
            opt_op(out, *executing);
            out.extend_from_slice(b",\"decision\":\"");
            out.extend_from_slice(decision_name(*decision).as_bytes());
            out.extend_from_slice(b"\",\"resolution_ns\":");
            uint(out, *resolution_ns);
        }
        EventKind::OperationRejected {
            from,
            reason,
            retries,
        } => {
            out.extend_from_slice(b"OperationRejected\",\"from\":\"");
            out.extend_from_slice(op_state(*from).as_bytes());
            out.extend_from_slice(b"\",\"reason\":");
            match reason {
                RejectReason::Outranked { winner } => {
                    out.extend_from_slice(b"{\"outranked\":{\"winner\":");
                    uint(out, winner.0);
                    out.extend_from_slice(b"}}");
                }
                RejectReason::BudgetSpent => out.extend_from_slice(b"\"budget_spent\""),
            }
            out.extend_from_slice(b",\"retries\":");
            uint(out, u64::from(*retries));
        }
        EventKind::OperationStarted { attempt } => {
            out.extend_from_slice(b"OperationStarted\",\"attempt\":");
            uint(out, u64::from(*attempt));
        }
        EventKind::GraceProtected {
            executing,
            elapsed_ns,
        } => {
            out.extend_from_slice(b"GraceProtected\",\"executing\":");
            uint(out, executing.0);
            out.extend_from_slice(b",\"elapsed_ns\":");
            uint(out, *elapsed_ns);
        }
        EventKind::OperationPreempted { by, elapsed_ns } => {
            out.extend_from_slice(b"OperationPreempted\",\"by\":");
            uint(out, by.0);
            out.extend_from_slice(b",\"elapsed_ns\":");
            uint(out, *elapsed_ns);
        }
        EventKind::OperationFailed {
            reason,
            attempt,
            injected,
        } => {
            out.extend_from_slice(b"OperationFailed\",\"reason\":");
            fail_reason(out, *reason);
            out.extend_from_slice(b",\"attempt\":");
            uint(out, u64::from(*attempt));
            out.extend_from_slice(if *injected {
                b",\"injected\":true"
            } else {
                b",\"injected\":false"
            });
        }
        EventKind::OperationRetry {
            retry,
            max,
            backoff_ns,
        } => {
            out.extend_from_slice(b"OperationRetry\",\"retry\":");
            uint(out, u64::from(*retry));
            out.extend_from_slice(b",\"max\":");
            uint(out, u64::from(*max));
            out.extend_from_slice(b",\"backoff_ns\":");
            uint(out, *backoff_ns);
        }
        EventKind::OperationCompleted {
            execution_ns,
            end_to_end_ns,
            effect,
        } => {
            out.extend_from_slice(b"OperationCompleted\",\"execution_ns\":");
            uint(out, *execution_ns);
            out.extend_from_slice(b",\"end_to_end_ns\":");
            uint(out, *end_to_end_ns);
            out.extend_from_slice(b",\"effect\":");
            write_effect(out, effect);
        }
        EventKind::OperationCancelled { from } => {
            out.extend_from_slice(b"OperationCancelled\",\"from\":\"");
            out.extend_from_slice(op_state(*from).as_bytes());
            out.push(b'"');
        }
        EventKind::EntityVersioned {
            ecs_id,
            previous,
            number,
        } => {
            out.extend_from_slice(b"EntityVersioned\",\"ecs_id\":");
            uuid(out, ecs_id);
            out.extend_from_slice(b",\"previous\":");
            uuid(out, previous);
            out.extend_from_slice(b",\"number\":");
            uint(out, *number);
        }
        EventKind::EntityModified { fields } => {
            out.extend_from_slice(b"EntityModified\",\"fields\":[");
            for (i, name) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, name);
            }
            out.push(b']');
        }
    }
    out.extend_from_slice(b"}\n");
}

fn write_effect(out: &mut Vec<u8>, effect: &Effect) {
    match effect {
        Effect::Versioned => out.extend_from_slice(b"{\"type\":\"versioned\"}"),
        Effect::Modified { write, at_us } => {
            out.extend_from_slice(b"{\"type\":\"modified\",\"write\":");
            match write {
                FieldWrite::Counter(i) => {
                    out.extend_from_slice(b"{\"counter\":");
                    int(out, *i);
                }
                FieldWrite::DataValue(f) => {
                    out.extend_from_slice(b"{\"data_value\":");
                    float(out, *f);
                }
                FieldWrite::Text(n) => {
                    out.extend_from_slice(b"{\"text\":");
                    uint(out, u64::from(*n));
                }
            }
            out.extend_from_slice(b"},\"at_us\":");
            int(out, *at_us);
            out.push(b'}');
        }
        Effect::Borrowed(b) => {
            out.extend_from_slice(b"{\"type\":\"borrowed\",\"field\":\"");
            out.extend_from_slice(borrow_field(b.field).as_bytes());
            out.extend_from_slice(b"\",\"value\":");
            match &b.value {
                Value::Int(i) => int(out, *i),
                Value::Float(f) => float(out, *f),
                Value::Str(s) => string(out, s),
                other => string(out, &format!("{other:?}")),
            }
            out.extend_from_slice(b",\"from\":");
            uuid(out, &b.from);
            out.extend_from_slice(b",\"at_us\":");
            int(out, b.at_us);
            out.push(b'}');
        }
        Effect::ComplexUpdate { data_value, at_us } => {
            out.extend_from_slice(b"{\"type\":\"complex_update\",\"data_value\":");
            float(out, *data_value);
            out.extend_from_slice(b",\"at_us\":");
            int(out, *at_us);
            out.push(b'}');
        }
        Effect::Structural { op, changed, at_us } => {
            out.extend_from_slice(b"{\"type\":\"structural\",\"op\":\"");
            out.extend_from_slice(op_type(*op).as_bytes());
            out.extend_from_slice(b"\",\"changed\":");
            out.extend_from_slice(if *changed { b"true" } else { b"false" });
            out.extend_from_slice(b",\"at_us\":");
            int(out, *at_us);
            out.push(b'}');
        }
    }
}

fn fail_reason(out: &mut Vec<u8>, reason: FailReason) {
    match reason {
        FailReason::InjectedFault { step } => {
            out.extend_from_slice(b"{\"injected_fault\":{\"step\":");
            uint(out, u64::from(step));
            out.extend_from_slice(b"}}");
        }
        FailReason::Panic => out.extend_from_slice(b"\"panic\""),
        FailReason::Store => out.extend_from_slice(b"\"store\""),
        FailReason::Preempted { by } => {
            out.extend_from_slice(b"{\"preempted\":{\"by\":");
            uint(out, by.0);
            out.extend_from_slice(b"}}");
        }
    }
}

fn op_type(t: OpType) -> &'static str {
    match t {
        OpType::VersionEntity => "version_entity",
        OpType::ModifyField => "modify_field",
        OpType::BorrowAttribute => "borrow_attribute",
        OpType::ComplexUpdate => "complex_update",
        OpType::PromoteToRoot => "promote_to_root",
        OpType::DetachEntity => "detach_entity",
    }
}

fn op_class(c: OpClass) -> &'static str {
    match c {
        OpClass::Structural => "Structural",
        OpClass::Normal => "Normal",
        OpClass::LowPriority => "LowPriority",
    }
}

fn op_state(s: OpState) -> &'static str {
    match s {
        OpState::Pending => "pending",
        OpState::Executing => "executing",
        OpState::Succeeded => "succeeded",
        OpState::Failed => "failed",
        OpState::Rejected => "rejected",
        OpState::Cancelled => "cancelled",
    }
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Start => "start",
        Decision::Wait => "wait",
        Decision::GraceSave => "grace_save",
        Decision::Preempt => "preempt",
    }
}

fn borrow_field(f: BorrowField) -> &'static str {
    match f {
        BorrowField::Counter => "counter",
        BorrowField::Data => "data",
        BorrowField::Text => "text",
    }
}

fn uint(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn opt_op(out: &mut Vec<u8>, id: Option<OpId>) {
    match id {
        Some(id) => uint(out, id.0),
        None => out.extend_from_slice(b"null"),
    }
}

/// `serde_json` writes a non-finite float as `null`.
fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn uuid(out: &mut Vec<u8>, id: &Uuid) {
    out.push(b'"');
    out.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b'"');
}

/// A JSON string as `serde_json` escapes it: `"` and `\` with a
/// backslash, the five short control escapes, other control characters
/// as `\u00xx` (lowercase hex), everything else verbatim.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::events::samples::{ID, event, every_kind};

    /// The reference: what the derived `Serialize` writes.
    fn serde_line(ev: &Event) -> String {
        let mut line = serde_json::to_string(ev).unwrap();
        line.push('\n');
        line
    }

    fn ours(ev: &Event) -> String {
        let mut out = Vec::new();
        write_event(&mut out, ev);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_event_kind_is_byte_for_byte_what_serde_writes() {
        let events = every_kind();
        assert!(events.len() > 40, "{}", events.len());
        for ev in &events {
            assert_eq!(ours(ev), serde_line(ev), "{ev:?}");
        }
    }

    #[test]
    fn a_batch_is_the_concatenation_of_its_lines() {
        let events = every_kind();
        let mut out = Vec::new();
        for ev in &events {
            write_event(&mut out, ev);
        }
        let expected: String = events.iter().map(serde_line).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    proptest! {
        #[test]
        fn any_string_and_number_matches_serde(
            text in any::<String>(),
            value in any::<f64>(),
            counter in any::<i64>(),
            t_ns in any::<u64>(),
        ) {
            let borrowed = event(EventKind::OperationCompleted {
                execution_ns: t_ns,
                end_to_end_ns: t_ns,
                effect: Effect::borrowed(BorrowField::Text, Value::Str(Arc::from(text)), ID, counter),
            });
            prop_assert_eq!(ours(&borrowed), serde_line(&borrowed));
            let modified = event(EventKind::OperationCompleted {
                execution_ns: t_ns,
                end_to_end_ns: 0,
                effect: Effect::Modified { write: FieldWrite::DataValue(value), at_us: counter },
            });
            prop_assert_eq!(ours(&modified), serde_line(&modified));
            let counted = event(EventKind::OperationCompleted {
                execution_ns: 0,
                end_to_end_ns: t_ns,
                effect: Effect::Modified { write: FieldWrite::Counter(counter), at_us: 0 },
            });
            prop_assert_eq!(ours(&counted), serde_line(&counted));
        }
    }
}
