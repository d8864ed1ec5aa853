//! One history line into one [`Event`].
//!
//! A line is parsed into a flat [`Raw`] record of optional fields (serde,
//! borrowing the line's strings), then the event kind decides which fields
//! it requires. A missing field, a field of the wrong type or range, and an
//! unknown event kind are [`LineError`]s naming the field.
//!
//! The offline checks do not replay commits, so a completion's `effect` and
//! a modification's field names are not parsed: they are carried as
//! [`Effect::Versioned`] and an empty list, which no stream check reads.

use std::borrow::Cow;

use serde::Deserialize;
use uuid::Uuid;

use crate::events::{Decision, Effect, Event, EventKind, Kind, RejectReason};
use crate::ops::{FailReason, OpClass, OpId, OpState, OpType, Priority};

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LineError {
    /// Not a JSON object (or a field of the wrong JSON type).
    Json(String),
    /// A field the event kind requires is absent (or null).
    Missing { event: String, field: &'static str },
    /// A field is present with a value the format does not allow.
    Invalid {
        field: &'static str,
        allowed: &'static str,
    },
    /// The `event` field names no event kind of the format.
    UnknownKind(String),
}

/// Every field any event may carry, all optional at this level.
#[derive(Default, Deserialize)]
pub(super) struct Raw<'a> {
    pub(super) t_ns: Option<u64>,
    pub(super) op: Option<u64>,
    pub(super) target: Option<u32>,
    #[serde(borrow)]
    pub(super) op_type: Option<Cow<'a, str>>,
    pub(super) priority: Option<u64>,
    #[serde(borrow)]
    pub(super) event: Option<Cow<'a, str>>,
    pub(super) effective: Option<u64>,
    #[serde(borrow)]
    pub(super) class: Option<Cow<'a, str>>,
    pub(super) parent: Option<u64>,
    pub(super) budget: Option<u32>,
    pub(super) batch_size: Option<u32>,
    pub(super) pending: Option<Vec<u64>>,
    pub(super) executing: Option<u64>,
    #[serde(borrow)]
    pub(super) decision: Option<Cow<'a, str>>,
    pub(super) resolution_ns: Option<u64>,
    #[serde(borrow)]
    pub(super) from: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) reason: Option<Reason<'a>>,
    pub(super) retries: Option<u32>,
    pub(super) attempt: Option<u32>,
    pub(super) elapsed_ns: Option<u64>,
    pub(super) by: Option<u64>,
    pub(super) injected: Option<bool>,
    pub(super) retry: Option<u32>,
    pub(super) max: Option<u32>,
    pub(super) backoff_ns: Option<u64>,
    pub(super) execution_ns: Option<u64>,
    pub(super) end_to_end_ns: Option<u64>,
    #[serde(borrow)]
    pub(super) ecs_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) previous: Option<Cow<'a, str>>,
    pub(super) number: Option<u64>,
}

/// The reason of a rejection or a failure: a name, or an object with one
/// key.
pub(super) enum Reason<'a> {
    Name(Cow<'a, str>),
    Object(ReasonObject),
}

impl<'de: 'a, 'a> Deserialize<'de> for Reason<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Reason<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a reason: a string or an object with one key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Reason::Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Reason::Name(Cow::Owned(v.to_string())))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                m: M,
            ) -> Result<Self::Value, M::Error> {
                ReasonObject::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(Reason::Object)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The object forms of a reason.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ReasonObject {
    Outranked { winner: u64 },
    InjectedFault { step: u8 },
    Preempted { by: u64 },
}

/// The event kinds of the format, in the order `docs/HISTORY.md` lists
/// them (the order of [`Kind`]).
pub const KINDS: [&str; Kind::COUNT] = {
    let mut names = [""; Kind::COUNT];
    let mut i = 0;
    while i < Kind::COUNT {
        names[i] = Kind::ALL[i].name();
        i += 1;
    }
    names
};

// Indices into [`KINDS`].
const SUBMITTED: usize = 0;
const CONFLICT: usize = 1;
const REJECTED: usize = 2;
const STARTED: usize = 3;
const GRACE_PROTECTED: usize = 4;
const PREEMPTED: usize = 5;
const FAILED: usize = 6;
const RETRY: usize = 7;
const COMPLETED: usize = 8;
const CANCELLED: usize = 9;
const VERSIONED: usize = 10;
const MODIFIED: usize = 11;

/// The index in [`KINDS`] of the kind `name`: by its length first, so
/// that most names are told apart without comparing them whole.
pub(super) fn kind_index(b: &[u8]) -> Option<usize> {
    // The byte that tells the kinds of one length apart.
    let candidates: &[usize] = match (b.len(), b.get(9)) {
        (14, _) => &[GRACE_PROTECTED, RETRY, MODIFIED],
        (15, _) => &[FAILED, VERSIONED],
        (16, _) => &[STARTED],
        (17, _) => &[CONFLICT, REJECTED],
        (18, Some(b'S')) => &[SUBMITTED],
        (18, Some(b'P')) => &[PREEMPTED],
        (18, Some(b'C')) => &[COMPLETED, CANCELLED],
        _ => &[],
    };
    candidates
        .iter()
        .copied()
        .find(|&i| KINDS[i].as_bytes() == b)
}

/// Parse one line (without its newline).
pub(crate) fn event(line: &[u8]) -> Result<Event, LineError> {
    if line.trim_ascii_start().first() != Some(&b'{') {
        return Err(LineError::Json("expected a JSON object".to_string()));
    }
    let mut raw: Raw<'_> = match super::scan::scan(line) {
        Some(raw) => raw,
        None => serde_json::from_slice(line).map_err(|e| blame(line, &e))?,
    };
    from_raw(&mut raw)
}

/// The event a parsed line describes.
/// (Taken by reference, a large record is not copied: its list and its
/// reason are moved out.)
pub(super) fn from_raw(raw: &mut Raw<'_>) -> Result<Event, LineError> {
    let kind_name = raw.event.as_deref().ok_or(LineError::Missing {
        event: "all".into(),
        field: "event",
    })?;
    let Some(kind) = kind_index(kind_name.as_bytes()) else {
        return Err(LineError::UnknownKind(kind_name.to_string()));
    };
    let need = |field: &'static str| LineError::Missing {
        event: kind_name.to_string(),
        field,
    };
    macro_rules! req {
        ($f:ident) => {
            raw.$f.ok_or_else(|| need(stringify!($f)))?
        };
    }
    let t_ns = req!(t_ns);
    let op = OpId(req!(op));
    let target = req!(target);
    let priority = priority(req!(priority), "priority")?;
    let op_type = match raw.op_type.as_deref() {
        // No stream check reads the type; an engine without ours may
        // leave it out.
        None => OpType::ALL[0],
        Some(name) => OpType::from_name(name).unwrap_or(OpType::ALL[0]),
    };
    let kind = match kind {
        SUBMITTED => EventKind::OperationSubmitted {
            effective: priority_of(raw.effective, priority, "effective")?,
            class: match raw.class.as_deref() {
                Some("Structural") => OpClass::Structural,
                Some("LowPriority") => OpClass::LowPriority,
                _ => OpClass::Normal,
            },
            parent: raw.parent.map(OpId),
            budget: req!(budget),
            batch_size: raw.batch_size.unwrap_or(1),
        },
        CONFLICT => EventKind::OperationConflict {
            pending: raw
                .pending
                .take()
                .ok_or_else(|| need("pending"))?
                .into_iter()
                .map(OpId)
                .collect(),
            executing: raw.executing.map(OpId),
            decision: match raw.decision.as_deref().ok_or_else(|| need("decision"))? {
                "start" => Decision::Start,
                "wait" => Decision::Wait,
                "grace_save" => Decision::GraceSave,
                "preempt" => Decision::Preempt,
                _ => {
                    return Err(LineError::Invalid {
                        field: "decision",
                        allowed: "start, wait, grace_save or preempt",
                    });
                }
            },
            resolution_ns: raw.resolution_ns.unwrap_or(0),
        },
        REJECTED => EventKind::OperationRejected {
            from: state(raw.from.as_deref(), OpState::Pending)?,
            reason: match raw.reason.take() {
                None => return Err(need("reason")),
                Some(Reason::Name(name)) if name == "budget_spent" => RejectReason::BudgetSpent,
                Some(reason) => match reason {
                    Reason::Object(ReasonObject::Outranked { winner }) => RejectReason::Outranked {
                        winner: OpId(winner),
                    },
                    _ => {
                        return Err(LineError::Invalid {
                            field: "reason",
                            allowed: "{\"outranked\":{\"winner\":ID}} or \"budget_spent\"",
                        });
                    }
                },
            },
            retries: raw.retries.unwrap_or(0),
        },
        STARTED => EventKind::OperationStarted {
            attempt: raw.attempt.unwrap_or(1),
        },
        GRACE_PROTECTED => EventKind::GraceProtected {
            executing: OpId(req!(executing)),
            elapsed_ns: raw.elapsed_ns.unwrap_or(0),
        },
        PREEMPTED => EventKind::OperationPreempted {
            by: OpId(req!(by)),
            elapsed_ns: raw.elapsed_ns.unwrap_or(0),
        },
        FAILED => {
            let injected = req!(injected);
            EventKind::OperationFailed {
                reason: fail_reason(raw.reason.take(), injected)?,
                attempt: raw.attempt.unwrap_or(1),
                injected,
            }
        }
        RETRY => EventKind::OperationRetry {
            retry: req!(retry),
            max: req!(max),
            backoff_ns: req!(backoff_ns),
        },
        COMPLETED => EventKind::OperationCompleted {
            execution_ns: raw.execution_ns.unwrap_or(0),
            end_to_end_ns: raw.end_to_end_ns.unwrap_or(0),
            effect: Effect::Versioned,
        },
        CANCELLED => EventKind::OperationCancelled {
            from: state(raw.from.as_deref(), OpState::Pending)?,
        },
        VERSIONED => EventKind::EntityVersioned {
            ecs_id: uuid(raw.ecs_id.as_deref(), "ecs_id", kind_name)?,
            previous: uuid(raw.previous.as_deref(), "previous", kind_name)?,
            number: req!(number),
        },
        _ => EventKind::EntityModified { fields: &[] },
    };
    Ok(Event {
        t_ns,
        op,
        target,
        op_type,
        priority,
        kind,
    })
}

/// A line that did not parse: name the field whose value has the wrong
/// type, when the line is valid JSON (each field is parsed alone to find
/// it; this runs only on the error path).
fn blame(line: &[u8], e: &serde_json::Error) -> LineError {
    let message = json_message(e);
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(line) else {
        return LineError::Json(message);
    };
    for (key, value) in fields {
        let alone = serde_json::Value::Object([(key.clone(), value)].into_iter().collect());
        if let Err(e) = Raw::deserialize(&alone) {
            let why = e.to_string();
            return LineError::Json(format!("field `{key}`: {why}"));
        }
    }
    LineError::Json(message)
}

/// serde's message without its "at line 1 column N" (the caller names
/// the line; the column is kept).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &text[..at], e.column()),
        None => text,
    }
}

fn priority(value: u64, field: &'static str) -> Result<Priority, LineError> {
    u8::try_from(value)
        .ok()
        .and_then(Priority::new)
        .ok_or(LineError::Invalid {
            field,
            allowed: "an integer from 1 to 10",
        })
}

fn priority_of(
    value: Option<u64>,
    own: Priority,
    field: &'static str,
) -> Result<Priority, LineError> {
    // Without an effective priority the op has no parent to inherit from:
    // its own is its effective one.
    value.map_or(Ok(own), |v| priority(v, field))
}

fn state(name: Option<&str>, default: OpState) -> Result<OpState, LineError> {
    Ok(match name {
        None => default,
        Some("pending") => OpState::Pending,
        Some("executing") => OpState::Executing,
        Some("failed") => OpState::Failed,
        Some(_) => {
            return Err(LineError::Invalid {
                field: "from",
                allowed: "pending, executing or failed",
            });
        }
    })
}

fn fail_reason(raw: Option<Reason<'_>>, injected: bool) -> Result<FailReason, LineError> {
    let invalid = LineError::Invalid {
        field: "reason",
        allowed: "\"panic\", \"store\", {\"injected_fault\":{\"step\":N}} or {\"preempted\":{\"by\":ID}}",
    };
    Ok(match raw {
        // Without a reason, the `injected` flag says which kind it was.
        None if injected => FailReason::InjectedFault { step: 0 },
        None => FailReason::Store,
        Some(Reason::Name(name)) => match &*name {
            "panic" => FailReason::Panic,
            "store" => FailReason::Store,
            "injected_fault" => FailReason::InjectedFault { step: 0 },
            _ => return Err(invalid),
        },
        Some(Reason::Object(ReasonObject::InjectedFault { step })) => {
            FailReason::InjectedFault { step }
        }
        Some(Reason::Object(ReasonObject::Preempted { by })) => {
            FailReason::Preempted { by: OpId(by) }
        }
        Some(Reason::Object(ReasonObject::Outranked { .. })) => return Err(invalid),
    })
}

fn uuid(text: Option<&str>, field: &'static str, event: &str) -> Result<Uuid, LineError> {
    let text = text.ok_or_else(|| LineError::Missing {
        event: event.to_string(),
        field,
    })?;
    Uuid::parse_str(text).map_err(|_| LineError::Invalid {
        field,
        allowed: "a UUID",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::ndjson::write_event;

    fn round_trip(kind: EventKind) -> Event {
        let ev = Event {
            t_ns: 42,
            op: OpId(7),
            target: 3,
            op_type: OpType::ALL[1],
            priority: Priority::HIGH,
            kind,
        };
        let mut line = Vec::new();
        write_event(&mut line, &ev);
        line.pop();
        event(&line).unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&line)))
    }

    #[test]
    fn our_own_lines_read_back() {
        let ev = round_trip(EventKind::OperationSubmitted {
            effective: Priority::CRITICAL,
            class: OpClass::Structural,
            parent: Some(OpId(3)),
            budget: 4,
            batch_size: 6,
        });
        assert_eq!((ev.t_ns, ev.op, ev.target), (42, OpId(7), 3));
        assert_eq!(ev.op_type, OpType::ALL[1]);
        assert!(matches!(
            ev.kind,
            EventKind::OperationSubmitted {
                effective: Priority::CRITICAL,
                class: OpClass::Structural,
                parent: Some(OpId(3)),
                budget: 4,
                batch_size: 6
            }
        ));
        let ev = round_trip(EventKind::OperationRejected {
            from: OpState::Failed,
            reason: RejectReason::Outranked { winner: OpId(9) },
            retries: 2,
        });
        assert!(matches!(
            ev.kind,
            EventKind::OperationRejected {
                from: OpState::Failed,
                reason: RejectReason::Outranked { winner: OpId(9) },
                retries: 2
            }
        ));
        let ev = round_trip(EventKind::OperationFailed {
            reason: FailReason::InjectedFault { step: 2 },
            attempt: 3,
            injected: true,
        });
        assert!(matches!(
            ev.kind,
            EventKind::OperationFailed {
                reason: FailReason::InjectedFault { step: 2 },
                attempt: 3,
                injected: true
            }
        ));
        let ev = round_trip(EventKind::OperationConflict {
            pending: vec![OpId(7), OpId(8)].into(),
            executing: None,
            decision: Decision::GraceSave,
            resolution_ns: 5,
        });
        assert!(
            matches!(ev.kind, EventKind::OperationConflict { decision: Decision::GraceSave, ref pending, .. } if pending.len() == 2)
        );
    }

    #[test]
    fn every_kind_is_found_by_its_name() {
        for (i, name) in KINDS.into_iter().enumerate() {
            assert_eq!(kind_index(name.as_bytes()), Some(i), "{name}");
        }
        for name in [
            "",
            "OperationExploded",
            "OperationSubmittex",
            "operationStarted",
        ] {
            assert_eq!(kind_index(name.as_bytes()), None, "{name}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let base = r#""t_ns":1,"op":1,"target":0,"priority":5"#;
        let line = |rest: &str| format!("{{{base}{rest}}}");
        assert_eq!(
            event(line(r#","event":"OperationSubmitted""#).as_bytes()).unwrap_err(),
            LineError::Missing {
                event: "OperationSubmitted".into(),
                field: "budget"
            }
        );
        assert_eq!(
            event(line(r#","event":"OperationExploded""#).as_bytes()).unwrap_err(),
            LineError::UnknownKind("OperationExploded".into())
        );
        assert!(matches!(
            event(br#"{"t_ns":1,"op":1,"target":0,"priority":11,"event":"OperationStarted"}"#)
                .unwrap_err(),
            LineError::Invalid {
                field: "priority",
                ..
            }
        ));
        assert!(matches!(
            event(b"{\"t_ns\":\"soon\"}").unwrap_err(),
            LineError::Json(m) if m.contains("invalid type")
        ));
    }
}
