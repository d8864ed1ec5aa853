"""Record an engine's history in the format `dynstress check` reads.

The format is one JSON object per line (docs/HISTORY.md in the dynstress
repository). An engine calls `HistoryWriter.record` from its event bus,
once per event, in the order the events happened; the writer adds nothing
of its own but the optional header line with the run's parameters.

    with HistoryWriter("history.ndjson", grace_period_seconds=0.2,
                       backoff_base_ms=10, backoff_max_ms=100) as history:
        engine.subscribe(history.record)
        engine.run()

then

    dynstress check history.ndjson

Only the standard library is used.
"""

import json

# The event kinds of the format, and the fields each one requires beyond
# the common five (t_ns, op, target, priority, event).
REQUIRED = {
    "OperationSubmitted": ("budget",),
    "OperationConflict": ("pending", "decision"),
    "OperationRejected": ("reason",),
    "OperationStarted": (),
    "GraceProtected": ("executing",),
    "OperationPreempted": ("by",),
    "OperationFailed": ("injected",),
    "OperationRetry": ("retry", "max", "backoff_ns"),
    "OperationCompleted": (),
    "OperationCancelled": (),
    "EntityVersioned": ("ecs_id", "previous", "number"),
    "EntityModified": (),
}


class HistoryWriter:
    """Writes a history file: the header, then one line per event."""

    def __init__(self, path, engine=None, **parameters):
        self._file = open(path, "w", encoding="utf-8", newline="\n")
        header = {"history": 1}
        if engine is not None:
            header["engine"] = engine
        header.update(parameters)
        self._write(header)

    def record(self, t_ns, event, op, target, priority, **fields):
        """One event. `t_ns` is the time since the run started, in
        nanoseconds; `op` an integer id given in submission order."""
        missing = [f for f in REQUIRED[event] if f not in fields]
        if missing:
            raise ValueError(f"{event} needs {', '.join(missing)}")
        line = {"t_ns": int(t_ns), "op": op, "target": target,
                "priority": priority, "event": event}
        line.update(fields)
        self._write(line)

    def _write(self, obj):
        self._file.write(json.dumps(obj, separators=(",", ":")))
        self._file.write("\n")

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
