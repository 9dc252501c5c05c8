"""Rebuild a projection from position 0 without readers ever seeing an empty
or half-built table.

PostgreSQL: build into shadow tables (``<table>__rebuild``) while the live
tables keep serving and catching up; then, in one transaction holding the
projection's lock, apply the last events, swap the tables (and their index
names) and move the checkpoint. SQLite: replay in place in one transaction
(readers see the old tables until it commits).
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections, transaction
from django.utils import timezone

from eventstore import START, EventStore, GlobalPosition
from projections.base import Projection
from projections.models import ProjectionCheckpoint, ProjectionFailure
from projections.runner import _lock_key, ensure_checkpoints

REBUILD_BATCH = 5000
SUFFIX = "__rebuild"


class RebuildError(Exception):
    pass


@dataclass
class RebuildResult:
    events: int
    applied: int
    seconds: float
    checkpoint: GlobalPosition


def rebuild(
    projection: Projection, *, using: str = "default", progress: Callable[[int, int], None] | None = None
) -> RebuildResult:
    ensure_checkpoints(using)
    started = time.perf_counter()
    connection = connections[using]
    if connection.vendor == "postgresql":
        events, applied, checkpoint = _rebuild_postgres(projection, using, progress)
    else:
        events, applied, checkpoint = _rebuild_in_place(projection, using, progress)
    return RebuildResult(events, applied, time.perf_counter() - started, checkpoint)


def _total_events(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events")
        return cursor.fetchone()[0]


def _replay(projection, tables, store, start, using, progress, total, seen=0, applied=0, lock=False):
    """Apply every readable event after ``start`` to ``tables``; one
    transaction per batch unless already inside one."""
    checkpoint = start
    while True:
        with transaction.atomic(using=using):
            batch = store.read_all(checkpoint, REBUILD_BATCH)
            if not batch:
                return checkpoint, seen, applied
            relevant = [e for e in batch if e.event_type in projection.event_types]
            applied += projection.apply(relevant, tables)
        checkpoint = batch[-1].global_position
        seen += len(batch)
        if progress:
            progress(seen, max(total, seen))


def _rebuild_postgres(projection: Projection, using: str, progress):
    live = projection.tables(using)
    names = {logical: spec.table for logical, spec in live.specs.items()}
    shadow = projection.tables(
        using, rename={logical: f"{table}{SUFFIX}" for logical, table in names.items()}
    )
    connection = connections[using]
    store = EventStore(using=using)
    with connection.cursor() as cursor:
        for table in names.values():
            cursor.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")
            cursor.execute(f"CREATE TABLE {table}{SUFFIX} (LIKE {table} INCLUDING ALL)")
    try:
        total = _total_events(using)
        checkpoint, seen, applied = _replay(projection, shadow, store, START, using, progress, total)
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                # Wait for the live runner to finish its batch, then keep it out.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(projection.name)])
            # The tail that arrived meanwhile, inside this transaction.
            while batch := store.read_all(checkpoint, REBUILD_BATCH):
                applied += projection.apply(
                    [e for e in batch if e.event_type in projection.event_types], shadow
                )
                checkpoint = batch[-1].global_position
                seen += len(batch)
            with connection.cursor() as cursor:
                for table in names.values():
                    _swap(cursor, table, f"{table}{SUFFIX}")
            _set_checkpoint(projection, checkpoint, seen, applied, using)
        if progress:
            progress(seen, seen)
        return seen, applied, checkpoint
    finally:
        with connection.cursor() as cursor:
            for table in names.values():
                cursor.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")


def _indexes(cursor, table: str) -> dict[str, str]:
    """index definition (with the table and index names taken out) -> name"""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
        [table],
    )
    out = {}
    for name, definition in cursor.fetchall():
        shape = re.sub(r"INDEX \S+ ON \S+", "INDEX ON", definition)
        out[shape] = name
    return out


def _swap(cursor, live: str, shadow: str) -> None:
    live_indexes, shadow_indexes = _indexes(cursor, live), _indexes(cursor, shadow)
    if set(live_indexes) != set(shadow_indexes):
        raise RebuildError(f"{shadow} does not have the indexes of {live}; migrate first")
    cursor.execute(f"ALTER TABLE {live} RENAME TO {live}__old")
    cursor.execute(f"ALTER TABLE {shadow} RENAME TO {live}")
    cursor.execute(f"DROP TABLE {live}__old")
    for shape, name in shadow_indexes.items():
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{live_indexes[shape]}"')


def _rebuild_in_place(projection: Projection, using: str, progress):
    tables = projection.tables(using)
    store = EventStore(using=using)
    total = _total_events(using)
    with transaction.atomic(using=using):
        for logical in tables.specs:
            tables.truncate(logical)
        checkpoint, seen, applied = START, 0, 0
        while batch := store.read_all(checkpoint, REBUILD_BATCH):
            applied += projection.apply([e for e in batch if e.event_type in projection.event_types], tables)
            checkpoint = batch[-1].global_position
            seen += len(batch)
            if progress:
                progress(seen, max(total, seen))
        _set_checkpoint(projection, checkpoint, seen, applied, using)
    return seen, applied, checkpoint


def _set_checkpoint(projection, checkpoint: GlobalPosition, seen: int, applied: int, using: str) -> None:
    ProjectionCheckpoint.objects.using(using).filter(name=projection.name).update(
        tx_id=checkpoint.tx_id,
        position=checkpoint.position,
        events_seen=seen,
        events_applied=applied,
        projection_version=projection.version,
        updated_at=timezone.now(),
    )
    # The rebuilt tables include every event, so earlier failures are moot.
    ProjectionFailure.objects.using(using).filter(
        projection=projection.name, resolved_at__isnull=True
    ).update(resolved_at=timezone.now(), resolution="rebuilt", resolved_by="rebuild")
