"""Advancing projections one batch (one transaction) at a time.

Take the projections' locks, read the events after their checkpoint
(gap-safe), apply them, move the checkpoints. A crash anywhere rolls the
whole batch back, so an event is never skipped nor applied twice.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from eventstore import EventStore, RecordedEvent
from projections import checkpoints, failures, locks, metrics
from projections.base import Follower, Partition, ProcessManager, Projection


def batch_size() -> int:
    return getattr(settings, "PROJECTION_BATCH_SIZE", 2000)


@dataclass
class BatchResult:
    read: int = 0
    applied: int = 0
    held: bool = False
    # Whether another batch may find more (False: this one reached the head).
    more: bool = False
    # Projections another runner had locked: it may stop before events
    # committed after its read, so whoever nudged needs a run again later.
    busy: set[str] = field(default_factory=set)
    # Projections that stopped at a failing event in this batch.
    stopped: set[str] = field(default_factory=set)
    # Events each projection (or process manager) passed in this batch.
    passed: dict[str, int] = field(default_factory=dict)


def run_batch(
    projections: Projection | list[Projection],
    *,
    using: str = "default",
    limit: int | None = None,
    managers: list[ProcessManager] = (),
) -> BatchResult:
    """Process one batch; read=0 when there is nothing to do (caught up, held,
    or other runners have them).

    Given several projections, those furthest behind that share a checkpoint
    are advanced together from one read of the log, each applying in its own
    savepoint (so one failing does not stop the others). ``managers``
    (process managers) at that same checkpoint that have nothing to handle
    in the batch pass it in the same transaction, from the same read; the
    others are left to ``process_runner``.

    The bookkeeping costs four statements whatever the number of
    projections: take the locks, read the checkpoints (and whether any is
    held by a failure), read the log, move the checkpoints.
    """
    if isinstance(projections, Projection):
        projections = [projections]
    store = EventStore(using=using)
    fresh = not transaction.get_connection(using).in_atomic_block
    started = time.perf_counter()
    with transaction.atomic(using=using):
        followers: dict[str, Follower] = {f.name: f for f in [*projections, *managers]}
        bases = {f.name: f.base.name for f in projections if isinstance(f, Partition)}
        names, held = locks.try_runner_locks(sorted(followers), bases, using)
        # Another runner has these (or a runner of the whole projection has a
        # partition's base): a run that nudged may need another look later.
        busy = {name for name in held if not isinstance(followers.get(name), ProcessManager)}
        found = checkpoints.read_with_failures(names, using)
        if len(found) < len(names):  # a projection registered since the last run
            checkpoints.ensure(using)
            found = checkpoints.read_with_failures(names, using)
        open_ = failures.open_failures([n for n, (_, failing) in found.items() if failing], using)
        ready, held = [], False
        for name in names:
            if name not in found or not isinstance(followers[name], Projection):
                continue
            failure = open_.get(name)
            if failures.is_waiting(failure):
                held = True
                continue
            ready.append((followers[name], found[name][0], failure))
        if not ready:
            return BatchResult(held=held, busy=busy)
        start = min(cp.global_position for _, cp, _ in ready)
        group = [(p, cp, f) for p, cp, f in ready if cp.global_position == start]
        limit = limit or batch_size()
        events = store.read_all(
            start,
            limit,
            metadata=any(p.needs_metadata for p, _, _ in group),
            fresh_transaction=fresh,
        )
        # More to do: the read was full, or some are at another checkpoint.
        more = len(events) == limit or len(group) < len(ready)
        if not events:  # the furthest behind is at the head: so are the others
            return BatchResult(held=held, busy=busy)
        result = BatchResult(held=held, more=more, busy=busy)
        idle = [
            m
            for m in managers
            if m.name in found
            and found[m.name][0].global_position == start
            and m.name not in open_
            and not found[m.name][1]
            and not m.select(events)
        ]
        if _advance_together(group, events, using, result, idle):
            metrics.batch_done([p.name for p, _, _ in group], started, using)
            return result
        # One of them failed: each on its own, so only that one stops.
        for projection, _, failure in group:
            done, applied = _advance(projection, failure, events, using)
            result.read = max(result.read, len(done))
            result.applied += applied
            result.passed[projection.name] = len(done)
            if len(done) < len(events):
                result.held = True
                result.stopped.add(projection.name)
        metrics.batch_done([p.name for p, _, _ in group], started, using)
        return result


def _advance_together(
    group, events: list[RecordedEvent], using: str, result: BatchResult, idle: list[ProcessManager]
) -> bool:
    """The usual case, in few round trips: every projection of the group
    applies the batch in one savepoint and all checkpoints (and those of the
    ``idle`` process managers) move in one statement. False (and nothing
    changed) if any of them failed."""
    applied: dict[str, int] = {m.name: 0 for m in idle}
    try:
        with transaction.atomic(using=using):
            for projection, _, _ in group:
                applied[projection.name] = projection.apply(
                    projection.relevant(events), projection.tables(using)
                )
    except Exception:
        return False
    for _, _, failure in group:
        if failure is not None:
            failures.resolve(failure, "retried", "runner")
    checkpoints.move_together(applied, events[-1], len(events), using)
    result.read = len(events)
    result.applied += sum(applied.values())
    result.passed.update(dict.fromkeys(applied, len(events)))
    return True


def _advance(projection: Projection, failure, events: list[RecordedEvent], using: str):
    """One projection alone: the batch, or the events before the first that
    fails (which is recorded). Returns (events passed, events applied)."""
    relevant = projection.relevant(events)
    tables = projection.tables(using)
    done, applied = events, 0
    try:
        with transaction.atomic(using=using):
            applied = projection.apply(relevant, tables)
    except Exception:
        done, applied = _apply_until_failure(projection, events, relevant, tables, failure, using)
    else:
        if failure is not None:
            failures.resolve(failure, "retried", "runner")
    if done:
        checkpoints.move(projection.name, done[-1], len(done), applied, using)
    return done, applied


def _apply_until_failure(projection, events, relevant, tables, failure, using):
    """Apply events one by one to find the first that fails; keep the ones
    before it, record the failure, stop at it."""
    applied = 0
    for event in relevant:
        try:
            with transaction.atomic(using=using):
                applied += projection.apply([event], tables)
        except Exception as exc:
            failures.record(projection.name, event, exc, failure, using)
            index = next(i for i, e in enumerate(events) if e.position == event.position)
            return events[:index], applied
    # The batch failed as a whole but every event passes alone: keep them all.
    return events, applied
