//! Sample events for tests of everything that renders or folds events.

use uuid::Uuid;

use super::*;
use crate::ecs::Value;
use crate::ops::{BorrowField, FailReason, FieldWrite, OpClass, OpState};

pub(crate) fn event(kind: EventKind) -> Event {
    Event {
        t_ns: 1_234_567_890,
        op: OpId(42),
        target: 7,
        op_type: OpType::ModifyField,
        priority: Priority::HIGH,
        kind,
    }
}

pub(crate) const ID: Uuid = Uuid::from_u128(0x0123_4567_89ab_4cde_8f01_2345_6789_abcd);

/// Every event kind, every nested variant, the extremes of the
/// integers and floats that print differently.
pub(crate) fn every_kind() -> Vec<Event> {
    let mut kinds = Vec::new();
    for (class, parent) in [
        (OpClass::Structural, None),
        (OpClass::Normal, Some(OpId(3))),
        (OpClass::LowPriority, Some(OpId(u64::MAX))),
    ] {
        kinds.push(EventKind::OperationSubmitted {
            effective: Priority::CRITICAL,
            class,
            parent,
            budget: 5,
            batch_size: 8,
        });
    }
    for (pending, executing, decision) in [
        (vec![], None, Decision::Start),
        (vec![OpId(1)], Some(OpId(9)), Decision::Wait),
        (vec![OpId(1), OpId(2), OpId(3)], None, Decision::GraceSave),
        (vec![OpId(0)], Some(OpId(0)), Decision::Preempt),
    ] {
        kinds.push(EventKind::OperationConflict {
            pending: pending.into(),
            executing,
            decision,
            resolution_ns: 0,
        });
    }
    for (from, reason) in [
        (
            OpState::Pending,
            RejectReason::Outranked { winner: OpId(5) },
        ),
        (OpState::Failed, RejectReason::BudgetSpent),
    ] {
        kinds.push(EventKind::OperationRejected {
            from,
            reason,
            retries: 2,
        });
    }
    kinds.push(EventKind::OperationStarted { attempt: 1 });
    kinds.push(EventKind::GraceProtected {
        executing: OpId(8),
        elapsed_ns: 150_000_000,
    });
    kinds.push(EventKind::OperationPreempted {
        by: OpId(11),
        elapsed_ns: u64::MAX,
    });
    for reason in [
        FailReason::InjectedFault { step: 2 },
        FailReason::Panic,
        FailReason::Store,
        FailReason::Preempted { by: OpId(4) },
    ] {
        for injected in [false, true] {
            kinds.push(EventKind::OperationFailed {
                reason,
                attempt: 3,
                injected,
            });
        }
    }
    kinds.push(EventKind::OperationRetry {
        retry: 1,
        max: 5,
        backoff_ns: 12_345,
    });
    let effects = [
        Effect::Versioned,
        Effect::Modified {
            write: FieldWrite::Counter(-17),
            at_us: i64::MIN,
        },
        Effect::Modified {
            write: FieldWrite::DataValue(0.1 + 0.2),
            at_us: 1,
        },
        Effect::Modified {
            write: FieldWrite::DataValue(f64::NAN),
            at_us: 1,
        },
        Effect::Modified {
            write: FieldWrite::Text(u32::MAX),
            at_us: i64::MAX,
        },
        Effect::borrowed(BorrowField::Counter, Value::Int(i64::MIN), ID, 5),
        Effect::borrowed(BorrowField::Data, Value::Float(1e300), ID, 5),
        Effect::borrowed(BorrowField::Data, Value::Float(-0.0), ID, 5),
        Effect::borrowed(
            BorrowField::Text,
            Value::str("quote \" back \\ nl \n tab \t bell \u{7} del \u{7f} é 🎯"),
            Uuid::nil(),
            5,
        ),
        Effect::borrowed(BorrowField::Text, Value::int_list(&[1, 2]), ID, 5),
        Effect::ComplexUpdate {
            data_value: 5e-324,
            at_us: 0,
        },
        Effect::ComplexUpdate {
            data_value: f64::INFINITY,
            at_us: 0,
        },
        Effect::Structural {
            op: OpType::PromoteToRoot,
            changed: true,
            at_us: 9,
        },
        Effect::Structural {
            op: OpType::DetachEntity,
            changed: false,
            at_us: 9,
        },
    ];
    for effect in effects {
        kinds.push(EventKind::OperationCompleted {
            execution_ns: 800,
            end_to_end_ns: 90_000,
            effect,
        });
    }
    for from in [OpState::Pending, OpState::Failed] {
        kinds.push(EventKind::OperationCancelled { from });
    }
    kinds.push(EventKind::EntityVersioned {
        ecs_id: ID,
        previous: Uuid::nil(),
        number: 2,
    });
    kinds.push(EventKind::EntityModified { fields: &[] });
    kinds.push(EventKind::EntityModified {
        fields: &["counter", "modification_history"],
    });
    let mut events: Vec<Event> = kinds.into_iter().map(event).collect();
    for (op_type, priority) in OpType::ALL.into_iter().zip([
        Priority::BACKGROUND,
        Priority::LOW,
        Priority::NORMAL,
        Priority::HIGH,
        Priority::CRITICAL,
        Priority::NORMAL,
    ]) {
        let mut ev = event(EventKind::OperationStarted { attempt: 0 });
        ev.op_type = op_type;
        ev.priority = priority;
        ev.t_ns = u64::MAX;
        ev.target = u32::MAX;
        events.push(ev);
    }
    events
}
