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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, transaction

from eventstore import START, EventStore, GlobalPosition
from projections import checkpoints, failures, locks, metrics
from projections.base import Projection

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
    projections: Projection | list[Projection],
    *,
    using: str = "default",
    progress: Callable[[int, int], None] | None = None,
) -> RebuildResult:
    """Rebuild one projection, or several in a single pass over the log."""
    if not isinstance(projections, list):
        projections = [projections]
    for projection in projections:
        if not isinstance(projection, Projection):
            raise RebuildError(f"{projection.name} issues commands; replaying it would issue them again")
    checkpoints.ensure(using)
    started = time.perf_counter()
    # Progress is published for /metrics (after the lock: not over another rebuild's).
    published = metrics.RebuildProgress([p.name for p in projections], progress)
    if connections[using].vendor == "postgresql":
        with _rebuilding(projections, using), published:
            events, applied, checkpoint = _rebuild_postgres(projections, using, published)
    else:
        with published:
            events, applied, checkpoint = _rebuild_in_place(projections, using, published)
    return RebuildResult(events, sum(applied.values()), time.perf_counter() - started, checkpoint)


@contextmanager
def _rebuilding(projections: list[Projection], using: str) -> Iterator[None]:
    """One rebuild of a projection at a time (a second would drop the first's
    shadow tables): a session-level advisory lock, released when the rebuild
    ends or its process dies. Rebuilds need a session of their own, so
    behind a transaction-pooling PgBouncer they run on DATABASE_DIRECT_URL."""
    keys = [locks.lock_key(f"rebuild:{p.name}") for p in sorted(projections, key=lambda p: p.name)]
    taken: list[int] = []
    with connections[using].cursor() as cursor:
        try:
            for key, projection in zip(keys, sorted(projections, key=lambda p: p.name), strict=True):
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                if not cursor.fetchone()[0]:
                    raise RebuildError(
                        f"{projection.name} is being rebuilt by another process; "
                        "try again when that rebuild has finished"
                    )
                taken.append(key)
            yield
        finally:
            for key in taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _total_events(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events")
        return cursor.fetchone()[0]


def _apply(targets, batch, applied: dict[str, int]) -> None:
    for projection, tables in targets:
        applied[projection.name] = applied.get(projection.name, 0) + projection.apply(
            projection.relevant(batch), tables
        )


def _rebuild_postgres(projections: list[Projection], using: str, progress):
    metadata = any(p.needs_metadata for p in projections)
    connection = connections[using]
    store = EventStore(using=using)
    targets, live_tables = [], []
    for projection in projections:
        names = {logical: spec.table for logical, spec in projection.tables(using).specs.items()}
        rename = {logical: f"{table}{SUFFIX}" for logical, table in names.items()}
        targets.append((projection, projection.buffered_tables(using, rename=rename)))
        live_tables += names.values()
    with connection.cursor() as cursor:
        for table in live_tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")
            # Unlogged while it is built (no WAL per row), logged before it goes live.
            cursor.execute(f"CREATE UNLOGGED TABLE {table}{SUFFIX} (LIKE {table} INCLUDING ALL)")
    try:
        total = _total_events(using)
        checkpoint, seen, applied = START, 0, {}
        # The bulk, while the live tables keep serving and catching up. Rows
        # collect in memory and go to the shadow tables by COPY.
        while batch := store.read_all(checkpoint, REBUILD_BATCH, metadata=metadata):
            _apply(targets, batch, applied)
            for _, tables in targets:
                tables.maybe_flush()
            checkpoint = batch[-1].global_position
            seen += len(batch)
            if progress:
                progress(seen, max(total, seen))
        with connection.cursor() as cursor:
            for _, tables in targets:
                tables.flush()
            for table in live_tables:
                cursor.execute(f"ALTER TABLE {table}{SUFFIX} SET LOGGED")
        with transaction.atomic(using=using):
            # Wait for live runners to finish their batch, then keep them out.
            locks.lock([p.name for p in projections], using)
            # The tail that arrived meanwhile, then the swap, in one transaction.
            # The read stays gap-safe whatever this process thinks about inline
            # mode: events it cannot see yet are applied by the runner later.
            while batch := store.read_all(checkpoint, REBUILD_BATCH, metadata=metadata):
                _apply(targets, batch, applied)
                checkpoint = batch[-1].global_position
                seen += len(batch)
            for _, tables in targets:
                tables.flush()
            with connection.cursor() as cursor:
                for table in live_tables:
                    _swap(cursor, table, f"{table}{SUFFIX}")
            for projection in projections:
                _set_checkpoint(projection, checkpoint, seen, applied.get(projection.name, 0), using)
        if progress:
            progress(seen, seen)
        return seen, applied, checkpoint
    finally:
        with connection.cursor() as cursor:
            for table in live_tables:
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


def _rebuild_in_place(projections: list[Projection], using: str, progress):
    metadata = any(p.needs_metadata for p in projections)
    targets = [(projection, projection.tables(using)) for projection in projections]
    store = EventStore(using=using)
    total = _total_events(using)
    with transaction.atomic(using=using):
        for _, tables in targets:
            for logical in tables.specs:
                tables.truncate(logical)
        checkpoint, seen, applied = START, 0, {}
        while batch := store.read_all(checkpoint, REBUILD_BATCH, metadata=metadata):
            _apply(targets, batch, applied)
            checkpoint = batch[-1].global_position
            seen += len(batch)
            if progress:
                progress(seen, max(total, seen))
        for projection in projections:
            _set_checkpoint(projection, checkpoint, seen, applied.get(projection.name, 0), using)
    return seen, applied, checkpoint


def snapshot(projection: Projection, using: str = "default") -> dict[str, list[tuple]]:
    """Every row of the projection's tables (surrogate ids left out), sorted:
    two tables with the same content give equal snapshots."""
    out = {}
    tables = projection.tables(using)
    with connections[using].cursor() as cursor:
        for logical, spec in tables.specs.items():
            columns = list(spec.kinds)
            cursor.execute(f"SELECT {', '.join(columns)} FROM {tables.name(logical)}")
            out[spec.table] = sorted(tuple(str(v) for v in row) for row in cursor.fetchall())
    return out


def _set_checkpoint(projection, checkpoint: GlobalPosition, seen: int, applied: int, using: str) -> None:
    checkpoints.set_to(
        projection.name, checkpoint, using=using, seen=seen, applied=applied, version=projection.version
    )
    # The rebuilt tables include every event, so earlier failures are moot.
    failures.resolve_all(projection.name, "rebuilt", "rebuild", using)
