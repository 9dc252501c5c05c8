"""Advances projections through the global log.

One batch = one transaction: take the projection's lock, read events after
its checkpoint (gap-safe), apply them, move the checkpoint. A crash anywhere
rolls the whole batch back, so an event is never skipped nor applied twice.
A failing event is retried with backoff, then the projection is held at it
(other projections go on) until an operator retries or skips it.
"""

import bisect
import logging
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from eventstore import EventStore, GlobalPosition, RecordedEvent
from projections.base import Projection, registry
from projections.models import ProjectionCheckpoint, ProjectionFailure

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def batch_size() -> int:
    return getattr(settings, "PROJECTION_BATCH_SIZE", 2000)


def _lock_key(name: str) -> int:
    return zlib.crc32(f"projection:{name}".encode()) - 2**31  # fits a signed 32-bit key


def _try_lock(name: str, using: str) -> bool:
    """Transaction-scoped advisory lock: one runner per projection at a time.
    (An advisory lock takes no transaction id, unlike SELECT ... FOR UPDATE,
    so it does not hold back this runner's own gap-safe read.)"""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return True  # SQLite has one writer at a time anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_key(name)])
        return cursor.fetchone()[0]


def _try_locks(names: list[str], using: str) -> list[str]:
    """``_try_lock`` for several projections in one round trip: those taken."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return list(names)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS t(name, key, n)"
            " WHERE pg_try_advisory_xact_lock(key) ORDER BY n",
            [list(names), [_lock_key(name) for name in names]],
        )
        return [row[0] for row in cursor.fetchall()]


def wait_for_runners(names: set[str], timeout: float, using: str = "default") -> bool:
    """Wait (without spinning) until no other runner holds any of ``names``;
    False if one still does after ``timeout`` seconds."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not names:
        return True
    from django.db import OperationalError

    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{max(1, int(timeout * 1000))}ms'")
            for name in sorted(names):  # the order every runner takes them in
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(name)])
    except OperationalError:  # lock_timeout: still held
        return False
    return True


# The runner's own bookkeeping runs on every nudge: plain SQL, since the
# ORM spends several times a round trip's CPU compiling each query.


class _Checkpoint(NamedTuple):
    name: str
    tx_id: int
    position: int
    events_seen: int
    events_applied: int


def _now(using: str):
    """timezone.now() as the database backend stores a DateTimeField."""
    return connections[using].ops.adapt_datetimefield_value(timezone.now())


def _in(names) -> str:
    return ", ".join(["%s"] * len(names))


def _checkpoints(names: list[str], using: str) -> dict[str, _Checkpoint]:
    if not names:
        return {}
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT name, tx_id, position, events_seen, events_applied FROM projection_checkpoints"
            f" WHERE name IN ({_in(names)})",
            list(names),
        )
        return {row[0]: _Checkpoint(*row) for row in cursor.fetchall()}


def ensure_checkpoints(using: str = "default") -> None:
    wanted = {p.name: p for p in registry.all()}
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT name FROM projection_checkpoints")
        present = {row[0] for row in cursor.fetchall()}
    for name in wanted.keys() - present:
        ProjectionCheckpoint.objects.using(using).get_or_create(
            name=name, defaults={"projection_version": wanted[name].version}
        )


def open_failure(name: str, using: str = "default") -> ProjectionFailure | None:
    return open_failures([name], using).get(name)


def open_failures(names: list[str], using: str = "default") -> dict[str, ProjectionFailure]:
    """The latest unresolved failure of each of ``names`` that has one."""
    out: dict[str, ProjectionFailure] = {}
    if not names:
        return out
    with connections[using].cursor() as cursor:  # the usual answer, cheaply: none
        cursor.execute(
            "SELECT 1 FROM projection_failures"
            f" WHERE resolved_at IS NULL AND projection IN ({_in(names)}) LIMIT 1",
            list(names),
        )
        if cursor.fetchone() is None:
            return out
    for failure in (
        ProjectionFailure.objects.using(using)
        .filter(projection__in=names, resolved_at__isnull=True)
        .order_by("-id")
    ):
        out.setdefault(failure.projection, failure)
    return out


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 300))


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


def _is_waiting(failure: ProjectionFailure | None) -> bool:
    """Held for good (out of retries) or backing off before the next try."""
    return failure is not None and (
        failure.attempts >= MAX_ATTEMPTS
        or (failure.next_attempt_at is not None and failure.next_attempt_at > timezone.now())
    )


def run_batch(
    projections: Projection | list[Projection], *, using: str = "default", limit: int | None = None
) -> BatchResult:
    """Process one batch; read=0 when there is nothing to do (caught up, held,
    or other runners have them).

    Given several projections, those furthest behind that share a checkpoint
    are advanced together from one read of the log, each applying in its own
    savepoint (so one failing does not stop the others).
    """
    if isinstance(projections, Projection):
        projections = [projections]
    projections = [p for p in projections if not p.transaction_per_event]  # see run_events
    store = EventStore(using=using)
    with transaction.atomic(using=using):
        ready, held = [], False
        names = _try_locks(sorted(p.name for p in projections), using)
        busy = {p.name for p in projections} - set(names)
        checkpoints = _checkpoints(names, using)
        failures = open_failures(names, using)
        by_name = {p.name: p for p in projections}
        for name in names:
            checkpoint = checkpoints.get(name)
            if checkpoint is None:
                continue
            failure = failures.get(name)
            if _is_waiting(failure):
                held = True
                continue
            ready.append((by_name[name], checkpoint, failure))
        if not ready:
            return BatchResult(held=held, busy=busy)
        start = min(GlobalPosition(cp.tx_id, cp.position) for _, cp, _ in ready)
        group = [(p, cp, f) for p, cp, f in ready if GlobalPosition(cp.tx_id, cp.position) == start]
        limit = limit or batch_size()
        events = store.read_all(start, limit, metadata=any(p.needs_metadata for p, _, _ in group))
        # More to do: the read was full, or some are at another checkpoint.
        more = len(events) == limit or len(group) < len(ready)
        if not events:  # the furthest behind is at the head: so are the others
            return BatchResult(held=held, busy=busy)
        result = BatchResult(held=held, more=more, busy=busy)
        if _advance_together(group, events, using, result):
            return result
        # One of them failed: each on its own, so only that one stops.
        for projection, checkpoint, failure in group:
            done, applied = _advance(projection, checkpoint, failure, events, using)
            result.read = max(result.read, len(done))
            result.applied += applied
            if len(done) < len(events):
                result.held = True
                result.stopped.add(projection.name)
        return result


def _advance_together(group, events, using, result: BatchResult) -> bool:
    """The usual case, in few round trips: every projection of the group
    applies the batch in one savepoint and all checkpoints move in one
    statement. False (and nothing changed) if any of them failed."""
    applied: dict[str, int] = {}
    try:
        with transaction.atomic(using=using):
            for projection, _, _ in group:
                relevant = [e for e in events if e.event_type in projection.event_types]
                applied[projection.name] = projection.apply(relevant, projection.tables(using))
    except Exception:
        return False
    for _, _, failure in group:
        if failure is not None:
            _resolve(failure, "retried", "runner")
    last = events[-1]
    cases = " ".join("WHEN %s THEN %s" for _ in applied)
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE projection_checkpoints SET tx_id = %s, position = %s,"
            " events_seen = events_seen + %s,"
            f" events_applied = events_applied + CASE name {cases} ELSE 0 END,"
            f" updated_at = %s WHERE name IN ({_in(applied)})",
            [last.tx_id, last.position, len(events)]
            + [x for pair in applied.items() for x in pair]
            + [_now(using), *applied],
        )
    result.read = len(events)
    result.applied += sum(applied.values())
    return True


def _advance(projection, checkpoint, failure, events, using) -> tuple[list[RecordedEvent], int]:
    relevant = [e for e in events if e.event_type in projection.event_types]
    tables = projection.tables(using)
    done, applied = events, 0
    try:
        with transaction.atomic(using=using):
            applied = projection.apply(relevant, tables)
    except Exception:
        done, applied = _apply_until_failure(projection, events, relevant, tables, failure, using)
    else:
        if failure is not None:
            _resolve(failure, "retried", "runner")
    if done:
        last = done[-1]
        ProjectionCheckpoint.objects.using(using).filter(name=projection.name).update(
            tx_id=last.tx_id,
            position=last.position,
            events_seen=checkpoint.events_seen + len(done),
            events_applied=checkpoint.events_applied + applied,
            updated_at=timezone.now(),
        )
    return done, applied


# -- process managers: one transaction per event -----------------------------------

EVENT_ATTEMPTS = 8


def run_events(projection: Projection, *, using: str = "default", limit: int | None = None) -> BatchResult:
    """Advance a process manager: each relevant event is handled in its own
    transaction together with its checkpoint, retried in a fresh
    transaction when it loses a race, and recorded as a failure if it keeps
    failing (the process manager is then held at it)."""
    from eventstore import ConcurrencyError

    retryable: tuple[type[Exception], ...] = (ConcurrencyError,)
    try:
        from orders.commands import ContentionError

        retryable = (ConcurrencyError, ContentionError)
    except ImportError:  # pragma: no cover - orders is always installed here
        pass
    store = EventStore(using=using)
    result = BatchResult()
    checkpoint = _checkpoints([projection.name], using).get(projection.name)
    if checkpoint is None:
        return result
    failure = open_failure(projection.name, using)
    if _is_waiting(failure):
        result.held = True
        return result
    if not transaction.get_connection(using).in_atomic_block and not _try_lock(projection.name, using):
        # Another runner is at it (the probe's lock ends with its statement):
        # no use reading the log only to find that out at the first event.
        result.busy.add(projection.name)
        return result
    # Read light; fetch metadata only for the few events it will handle.
    limit = limit or batch_size()
    events = store.read_all(GlobalPosition(checkpoint.tx_id, checkpoint.position), limit, metadata=False)
    result.more = len(events) == limit
    selected = projection.select(events)
    if projection.needs_metadata:
        selected = store.with_metadata(selected)
    wanted = {e.position: e for e in selected}
    # Another runner may have moved the checkpoint meanwhile (its batch can
    # end anywhere in this one): count what each step passes from where the
    # checkpoint really is, so events_seen stays exact.
    positions = [e.global_position for e in events]

    def passed(upto: GlobalPosition) -> int:
        return bisect.bisect_right(positions, upto) - bisect.bisect_right(
            positions, _checkpoint_at(projection.name, using)
        )

    skipped = 0
    for event in events:
        if event.position not in wanted:
            skipped += 1
            continue
        event = wanted[event.position]
        for attempt in range(1, EVENT_ATTEMPTS + 1):
            try:
                with transaction.atomic(using=using):
                    # One runner at a time, held per event transaction (so it works
                    # through PgBouncer's transaction pooling too); another runner
                    # may have done this event meanwhile: then skip it.
                    if not _try_lock(projection.name, using):
                        result.busy.add(projection.name)
                        result.more = False  # the other runner goes on with it
                        return result
                    seen = passed(event.global_position)
                    if seen <= 0:
                        applied = 0
                        break
                    applied = projection.apply([event], projection.tables(using))
                    _move_checkpoint(projection.name, event, seen, applied, using)
                break
            except retryable:
                if attempt == EVENT_ATTEMPTS:
                    raise
                time.sleep(0.002 * attempt)
            except Exception as exc:
                with transaction.atomic(using=using):
                    _record_failure(projection, event, exc, failure, using)
                result.held = True
                result.stopped.add(projection.name)
                return result
        if failure is not None:
            _resolve(failure, "retried", "runner")
            failure = None
        result.read += skipped + 1
        result.applied += applied
        skipped = 0
    if skipped:
        with transaction.atomic(using=using):
            if not _try_lock(projection.name, using):
                result.busy.add(projection.name)
                result.more = False
            elif (seen := passed(events[-1].global_position)) > 0:
                _move_checkpoint(projection.name, events[-1], seen, 0, using)
        result.read += skipped
    return result


def _checkpoint_at(name: str, using: str) -> GlobalPosition:
    checkpoint = _checkpoints([name], using)[name]
    return GlobalPosition(checkpoint.tx_id, checkpoint.position)


def _move_checkpoint(name: str, event: RecordedEvent, seen: int, applied: int, using: str) -> None:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE projection_checkpoints SET tx_id = %s, position = %s, events_seen = events_seen + %s,"
            " events_applied = events_applied + %s, updated_at = %s WHERE name = %s",
            [event.tx_id, event.position, seen, applied, _now(using), name],
        )


def _apply_until_failure(projection, events, relevant, tables, failure, using):
    """Apply events one by one to find the first that fails; keep the ones
    before it, record the failure, stop at it."""
    applied = 0
    for event in relevant:
        try:
            with transaction.atomic(using=using):
                applied += projection.apply([event], tables)
        except Exception as exc:
            _record_failure(projection, event, exc, failure, using)
            index = next(i for i, e in enumerate(events) if e.position == event.position)
            return events[:index], applied
    # The batch failed as a whole but every event passes alone: keep them all.
    return events, applied


def _record_failure(
    projection: Projection, event: RecordedEvent, exc: Exception, failure, using: str
) -> None:
    now = timezone.now()
    text = f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(exc))
    if failure is not None and failure.position == event.position:
        failure.attempts += 1
        failure.error, failure.traceback, failure.last_failed_at = text, tb, now
        failure.next_attempt_at = now + backoff(failure.attempts)
        failure.save(using=using)
        attempts = failure.attempts
    else:
        if failure is not None:
            _resolve(failure, "retried", "runner")
        ProjectionFailure.objects.using(using).create(
            projection=projection.name,
            position=event.position,
            tx_id=event.tx_id,
            event_type=event.event_type,
            aggregate_id=event.aggregate_id,
            error=text,
            traceback=tb,
            attempts=1,
            first_failed_at=now,
            last_failed_at=now,
            next_attempt_at=now + backoff(1),
        )
        attempts = 1
    level = logging.ERROR if attempts >= MAX_ATTEMPTS else logging.WARNING
    log.log(
        level,
        "projection %s failed at position %s (attempt %s): %s",
        projection.name,
        event.position,
        attempts,
        text,
    )


def _resolve(failure: ProjectionFailure, resolution: str, by: str) -> None:
    failure.resolved_at = timezone.now()
    failure.resolution = resolution
    failure.resolved_by = by
    failure.save(using=failure._state.db)


def run_projection(
    projection: Projection,
    *,
    using: str = "default",
    time_budget: float | None = None,
    max_batches: int | None = None,
) -> int:
    """Run batches until caught up, held, out of time or out of batches; the
    number of events read."""
    ensure_checkpoints(using)
    deadline = time.monotonic() + time_budget if time_budget else None
    total, batches = 0, 0
    step = run_events if projection.transaction_per_event else run_batch
    while True:
        result = step(projection, using=using)
        total += result.read
        batches += 1
        if result.read == 0 or result.held:
            return total
        if (deadline and time.monotonic() > deadline) or (max_batches and batches >= max_batches):
            return total


def run_all(
    *, using: str = "default", time_budget: float | None = None, busy: set[str] | None = None
) -> dict[str, int]:
    """Catch every projection up, sharing reads of the log between those at
    the same checkpoint; a failing one does not stop the others. Those that
    another runner was advancing are added to ``busy``."""
    if getattr(_running, "active", False):
        return {}  # called again from a commit inside a run: the outer loop goes on
    ensure_checkpoints(using)
    projections = registry.all()
    before = _positions(using)
    deadline = time.monotonic() + time_budget if time_budget else None
    active = [p for p in projections if not p.transaction_per_event]
    managers = [p for p in projections if p.transaction_per_event]
    _running.active = True
    try:
        while active or managers:
            # Another round only while a batch was full, some projection is
            # still behind, or a process manager appended events in this run
            # (in-process mode counts on this loop for them); other commits
            # after this run started nudge a run of their own.
            progress = False
            if active:
                result = run_batch(active, using=using)
                if busy is not None:
                    busy |= result.busy
                # One stopping at a failing event must not hold the others back.
                active = [p for p in active if p.name not in result.stopped]
                progress = result.more or bool(result.stopped)
            for manager in list(managers):
                outcome = run_events(manager, using=using)
                if busy is not None:
                    busy |= outcome.busy
                if outcome.stopped:
                    managers.remove(manager)
                progress = progress or outcome.more or outcome.applied > 0
            if not progress or (deadline and time.monotonic() > deadline):
                break
    except Exception:  # e.g. the database went away: log, let the next run retry
        log.exception("projections could not run")
    finally:
        _running.active = False
    after = _positions(using)
    return {name: after.get(name, 0) - before.get(name, 0) for name in (p.name for p in projections)}


def caught_up_to(
    target: GlobalPosition, using: str = "default", names: tuple[str, ...] | None = None
) -> bool:
    """Whether every projection (or each of ``names``) has applied ``target``."""
    names = names or tuple(p.name for p in registry.all())
    rows = list(
        ProjectionCheckpoint.objects.using(using).filter(name__in=names).values_list("tx_id", "position")
    )
    return len(rows) == len(names) and all(GlobalPosition(*row) >= target for row in rows)


def catch_up_to(target: GlobalPosition | None, *, using: str = "default", timeout: float = 2.0) -> bool:
    """Run the projections until they have applied ``target`` (in-process mode)."""
    if getattr(_running, "active", False):
        return True  # committed from inside a run: that run goes on to the new events
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        run_all(using=using, time_budget=timeout)
        if target is None or caught_up_to(target, using):
            return True
        if time.monotonic() >= deadline:
            log.warning("projections have not reached %s after %.1f s; the next run will", target, timeout)
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


_running = threading.local()


def running_here() -> bool:
    """Whether this thread is inside ``run_all`` (its loop picks up what is
    committed meanwhile)."""
    return getattr(_running, "active", False)


def _positions(using: str) -> dict[str, int]:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT name, events_seen FROM projection_checkpoints")
        return dict(cursor.fetchall())


# -- operator actions ------------------------------------------------------------


def retry(name: str, by: str, using: str = "default") -> ProjectionFailure | None:
    """Release a held projection: its next run tries the failed event again."""
    registry.get(name)
    failure = open_failure(name, using)
    if failure is not None:
        _resolve(failure, "retried", by)
    return failure


class SkipError(Exception):
    pass


def skip(name: str, position: int, by: str, using: str = "default") -> ProjectionFailure:
    """Move a held projection past the failed event at ``position``; the skip
    is recorded with who did it."""
    registry.get(name)
    with transaction.atomic(using=using):
        if not _try_lock(name, using):
            raise SkipError(f"projection {name} is running; try again in a moment")
        failure = open_failure(name, using)
        if failure is None or failure.position != position:
            held = f"it is held at position {failure.position}" if failure else "it is not held"
            raise SkipError(f"projection {name} cannot skip position {position}: {held}")
        ProjectionCheckpoint.objects.using(using).filter(name=name).update(
            tx_id=failure.tx_id, position=failure.position, updated_at=timezone.now()
        )
        _resolve(failure, "skipped", by)
    log.warning("projection %s: %s skipped the event at position %s", name, by, position)
    return failure


# -- status --------------------------------------------------------------------------


def status(using: str = "default") -> list[dict]:
    """Each projection with its checkpoint, lag (events and seconds) and
    failures."""
    checkpoints = {c.name: c for c in ProjectionCheckpoint.objects.using(using).all()}
    connection = connections[using]
    pg = connection.vendor == "postgresql"
    now = timezone.now()
    out = []
    for projection in registry.all():
        cp = checkpoints.get(projection.name) or ProjectionCheckpoint(name=projection.name)
        with connection.cursor() as cursor:
            if pg:
                cursor.execute(
                    "SELECT COUNT(*), MIN(created_at) FROM events WHERE (tx_id, position) > (%s, %s)",
                    [cp.tx_id, cp.position],
                )
            else:
                cursor.execute(
                    "SELECT COUNT(*), MIN(created_at) FROM events WHERE position > %s", [cp.position]
                )
            lag_events, oldest = cursor.fetchone()
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        failures = list(
            ProjectionFailure.objects.using(using).filter(projection=projection.name).order_by("-id")[:5]
        )
        open_ = next((f for f in failures if f.resolved_at is None), None)
        out.append(
            {
                "name": projection.name,
                "description": projection.description,
                "event_types": sorted(projection.event_types),
                "consistency": projection.consistency,
                "version": projection.version,
                "checkpoint": {"tx_id": cp.tx_id, "position": cp.position, "updated_at": cp.updated_at},
                "events_seen": cp.events_seen,
                "events_applied": cp.events_applied,
                "lag_events": lag_events,
                "lag_seconds": round((now - oldest).total_seconds(), 3) if oldest else 0.0,
                "state": (
                    "held" if open_ and open_.attempts >= MAX_ATTEMPTS else "retrying" if open_ else "running"
                ),
                "failures": [
                    {
                        "id": f.id,
                        "position": f.position,
                        "event_type": f.event_type,
                        "aggregate_id": str(f.aggregate_id),
                        "error": f.error,
                        "attempts": f.attempts,
                        "first_failed_at": f.first_failed_at,
                        "last_failed_at": f.last_failed_at,
                        "next_attempt_at": f.next_attempt_at,
                        "resolved_at": f.resolved_at,
                        "resolution": f.resolution,
                        "resolved_by": f.resolved_by,
                    }
                    for f in failures
                ],
            }
        )
    return out
