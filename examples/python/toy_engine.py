"""A toy priority engine, simulated on a virtual clock, that records its
history through `dynstress_history`.

Batches of operations of mixed priority arrive on a few targets. Per
target, the Pending op with the highest priority wins (the earliest
submitted on ties) and the others are rejected; an executing op is
protected for the grace period, then preempted by a strictly higher
priority. Executions sometimes fail on purpose and are retried with
exponential backoff and equal jitter, within a budget.

    python3 toy_engine.py sample_history.ndjson

The same seed gives the same file.
"""

import heapq
import random
import sys

from dynstress_history import HistoryWriter

MS = 1_000_000
GRACE = 200 * MS
BACKOFF_BASE, BACKOFF_MAX = 10 * MS, 100 * MS
BUDGET = 2
PRIORITIES = (2, 5, 8, 10)


class Op:
    def __init__(self, id, target, priority):
        self.id, self.target, self.priority = id, target, priority
        self.retries, self.attempt = 0, 0
        self.started = None


class Engine:
    def __init__(self, targets, seed):
        self.rng = random.Random(seed)
        self.targets = [{"executing": None, "pending": []} for _ in range(targets)]
        self.queue, self.seq = [], 0
        self.listeners = []
        self.next_id = 0

    # The event bus: every listener sees every event, in order.
    def subscribe(self, listener):
        self.listeners.append(listener)

    def emit(self, t, event, op, **fields):
        for listener in self.listeners:
            listener(t, event, op.id, op.target, op.priority, **fields)

    def at(self, t, action, *args):
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, action, args))

    def run(self, batches, spacing):
        for b in range(batches):
            self.at(b * spacing, self.batch)
        while self.queue:
            t, _, action, args = heapq.heappop(self.queue)
            action(t, *args)

    def batch(self, t):
        target = self.rng.randrange(len(self.targets))
        for _ in range(self.rng.randint(1, 3)):
            op = Op(self.next_id, target, self.rng.choice(PRIORITIES))
            self.next_id += 1
            self.emit(t, "OperationSubmitted", op, effective=op.priority, budget=BUDGET)
            self.targets[target]["pending"].append(op)
        self.resolve(t, target)

    def resolve(self, t, target):
        tr = self.targets[target]
        if not tr["pending"]:
            return
        winner = max(tr["pending"], key=lambda o: (o.priority, -o.id))
        running = tr["executing"]
        if running is None:
            decision = "start"
        elif winner.priority > running.priority:
            decision = "preempt" if t - running.started >= GRACE else "grace_save"
        else:
            decision = "wait"
        if len(tr["pending"]) + (running is not None) >= 2:
            self.emit(t, "OperationConflict", winner,
                      pending=[o.id for o in tr["pending"]],
                      executing=running.id if running else None, decision=decision)
        for loser in tr["pending"]:
            if loser is not winner:
                self.emit(t, "OperationRejected", loser, **{"from": "pending"},
                          reason={"outranked": {"winner": winner.id}}, retries=loser.retries)
        tr["pending"] = [winner]
        if decision == "grace_save":
            self.emit(t, "GraceProtected", winner, executing=running.id,
                      elapsed_ns=t - running.started)
            self.at(running.started + GRACE, self.grace_over, target, running, running.attempt)
        elif decision == "preempt":
            self.emit(t, "OperationPreempted", running, by=winner.id,
                      elapsed_ns=t - running.started)
            tr["executing"] = None
            self.failed(t, running)
            self.start(t, winner)
        elif decision == "start":
            self.start(t, winner)

    def grace_over(self, t, target, op, attempt):
        if self.targets[target]["executing"] is op and op.attempt == attempt:
            self.resolve(t, target)

    def start(self, t, op):
        tr = self.targets[op.target]
        tr["pending"].remove(op)
        tr["executing"] = op
        op.attempt += 1
        op.started = t
        self.emit(t, "OperationStarted", op, attempt=op.attempt)
        # A few executions stall past the grace period; some fail.
        duration = (self.rng.choice((250, 300)) if self.rng.random() < 0.3
                    else self.rng.randint(5, 60)) * MS
        fails = self.rng.random() < 0.25
        self.at(t + duration, self.finish, op, op.attempt, fails)

    def finish(self, t, op, attempt, fails):
        tr = self.targets[op.target]
        if tr["executing"] is not op or op.attempt != attempt:
            return  # preempted meanwhile
        tr["executing"] = None
        if fails:
            self.emit(t, "OperationFailed", op, reason={"injected_fault": {"step": 1}},
                      attempt=attempt, injected=True)
            self.failed(t, op)
        else:
            self.emit(t, "OperationCompleted", op, execution_ns=t - op.started)
        self.resolve(t, op.target)

    def failed(self, t, op):
        if op.retries >= BUDGET:
            self.emit(t, "OperationRejected", op, **{"from": "failed"},
                      reason="budget_spent", retries=op.retries)
            return
        ceiling = min(BACKOFF_BASE * 2 ** op.retries, BACKOFF_MAX)
        backoff = ceiling // 2 + self.rng.randint(0, ceiling // 2)
        self.at(t + backoff, self.retry, op, backoff)

    def retry(self, t, op, backoff):
        op.retries += 1
        self.emit(t, "OperationRetry", op, retry=op.retries, max=BUDGET, backoff_ns=backoff)
        self.targets[op.target]["pending"].append(op)
        self.resolve(t, op.target)


def main(path):
    engine = Engine(targets=2, seed=7)
    with HistoryWriter(path, engine="toy_engine.py", grace_period_seconds=GRACE / 1e9,
                       backoff_base_ms=BACKOFF_BASE / MS, backoff_max_ms=BACKOFF_MAX / MS,
                       failures_injected=True) as history:
        engine.subscribe(history.record)
        engine.run(batches=200, spacing=40 * MS)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sample_history.ndjson")
