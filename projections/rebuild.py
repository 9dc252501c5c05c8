"""Rebuild a projection from position 0 without readers ever seeing an empty
or half-built table.

PostgreSQL: build into shadow tables (``<table>__rebuild``) from a cut of
the log (in SQL where a projection can be: set_based.py; else through its
Python fold: rebuild_bulk.py) while the live tables keep serving and
catching up; then, in one transaction holding the projection's lock, apply
the last events, swap the tables (and their index names) and move the
checkpoint. SQLite: replay in place in one transaction (readers see the old
tables until it commits).
"""

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import psycopg
from django.db import connections, transaction

from eventstore import START, EventStore, GlobalPosition
from eventstore.cut import readable_cut
from projections import checkpoints, failures, locks, metrics, rebuild_bulk, set_based
from projections.base import Projection, registry
from projections.rebuild_bulk import REBUILD_BATCH, RebuildError

SUFFIX = "__rebuild"
__all__ = ["REBUILD_BATCH", "RebuildError", "RebuildResult", "rebuild", "snapshot"]


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
    jobs: int = 1,
    in_sql: bool = True,
) -> RebuildResult:
    """Rebuild one projection, or several in a single pass over the log.

    On PostgreSQL, projections that can be built in SQL are (``in_sql``);
    with ``jobs`` > 1, the others' bulk is replayed by that many processes
    at once, each for a share of them (each reads the log itself); the
    final catch-up and the swap stay one transaction."""
    if jobs < 1:
        raise RebuildError(f"jobs must be 1 or more, not {jobs}")
    if not isinstance(projections, list):
        projections = [projections]
    for projection in projections:
        if not isinstance(projection, Projection):
            raise RebuildError(f"{projection.name} issues commands; replaying it would issue them again")
    # A partition is rebuilt as its whole projection (they share the tables).
    projections = list({getattr(p, "base", p).name: getattr(p, "base", p) for p in projections}.values())
    checkpoints.ensure(using)
    started = time.perf_counter()
    # Progress is published for /metrics (after the lock: not over another rebuild's).
    published = metrics.RebuildProgress([p.name for p in projections], progress)
    if connections[using].vendor == "postgresql":
        with _rebuilding(projections, using), published:
            events, applied, checkpoint = _rebuild_postgres(projections, using, published, jobs, in_sql)
    else:
        with published:
            events, applied, checkpoint = _rebuild_in_place(projections, using, published)
    return RebuildResult(events, sum(applied.values()), time.perf_counter() - started, checkpoint)


@contextmanager
def _rebuilding(projections: list[Projection], using: str) -> Iterator[None]:
    """One rebuild of a projection at a time (a second would drop the first's
    shadow tables): advisory locks held by a transaction of a connection of
    its own for as long as the rebuild runs, gone when it ends or its process
    dies. Transaction-scoped, so they hold through PgBouncer in transaction
    pooling too (the open transaction keeps its server connection, which a
    session-level lock would not); the transaction writes nothing, so it
    takes no transaction id and holds back no reader of the log."""
    names = sorted(p.name for p in projections)
    params = {**connections[using].get_connection_params(), "prepare_threshold": None}
    with psycopg.connect(**params) as guard:
        # Idle in its transaction for the whole rebuild, on purpose: the
        # server's (or the role's) idle timeout must not end it.
        guard.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        guard.execute("SET LOCAL application_name = 'projections rebuild guard'")
        for name in names:
            [(taken,)] = guard.execute(
                "SELECT pg_try_advisory_xact_lock(%s)", [locks.lock_key(f"rebuild:{name}")]
            ).fetchall()
            if not taken:
                raise RebuildError(
                    f"{name} is being rebuilt by another process; try again when that rebuild has finished"
                )
        yield


# Rebuilding creates tables and swaps them for the live ones: only their owner may.
_NOT_OWNED = (
    "SELECT c.relname FROM pg_class c WHERE c.oid = ANY(%s::regclass[])"
    " AND NOT pg_has_role(c.relowner, 'USAGE')"
    " UNION ALL SELECT current_schema() WHERE NOT has_schema_privilege(current_schema(), 'CREATE')"
    # Set-based rebuilds keep the streams to replay in a temporary table.
    " UNION ALL SELECT 'temporary tables' WHERE NOT has_database_privilege(current_database(), 'TEMP')"
)


def _check_owner(cursor, tables: list[str]) -> None:
    cursor.execute(_NOT_OWNED, [tables])
    if missing := [name for (name,) in cursor.fetchall()]:
        cursor.execute("SELECT current_user")
        [(role,)] = cursor.fetchall()
        raise RebuildError(
            f"a rebuild creates tables and swaps them in, which {role} may not do here"
            f" ({', '.join(missing)}): run it as the owner of the tables, with DATABASE_DIRECT_URL"
            " set to the owner's direct connection (the one `migrate` uses)"
        )


def _shadow(projection: Projection, using: str) -> dict[str, str]:
    return {logical: f"{spec.table}{SUFFIX}" for logical, spec in projection.tables(using).specs.items()}


def _bulk(projections: list[Projection], using: str, progress, jobs: int, in_sql: bool):
    """Fill the shadow tables from a cut of the log (every event readable
    now): in SQL where a projection can be (set_based.py, ``jobs``
    connections), else through the Python folds (``jobs`` processes).
    Returns (the cut, events applied per projection)."""
    cut = readable_cut(using)
    shadow = partial(_shadow, using=using)
    applied: dict[str, int] = {}
    rest = projections
    if in_sql:
        building, rest = set_based.split(projections, cut, EventStore(using=using).registry)
        if building:
            params = connections[using].get_connection_params()
            applied, handed_back = set_based.build(building, using, params, cut, shadow, jobs, progress)
            rest = rest + handed_back
    # Read models with no event in the cut stay empty: nothing to stream.
    if rest := [p for p in rest if cut.of_types(p.event_types)]:
        found = rebuild_bulk.shares(rest, jobs)
        if len(found) > 1:
            for share in rebuild_bulk.in_processes(found, using, cut, shadow, progress):
                applied.update(share)
        else:
            applied.update(rebuild_bulk.stream(rest, using, cut, shadow, progress))
    return cut, applied


def _rebuild_postgres(
    projections: list[Projection], using: str, progress, jobs: int = 1, in_sql: bool = True
):
    connection = connections[using]
    group_keys = {
        spec.table: p.group_keys[logical]
        for p in projections
        for logical, spec in p.tables(using).specs.items()
    }
    live_tables = list(group_keys)
    deferred: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        _check_owner(cursor, live_tables)
        for table in live_tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")
            # Unlogged while it is built (no WAL per row), logged before it goes live.
            cursor.execute(f"CREATE UNLOGGED TABLE {table}{SUFFIX} (LIKE {table} INCLUDING ALL)")
            deferred[table] = _defer_indexes(cursor, f"{table}{SUFFIX}", group_keys[table])
    try:
        # The bulk, while the live tables keep serving and catching up.
        cut, applied = _bulk(projections, using, progress, jobs, in_sql)
        # Logged before they go live; then the indexes, built from the
        # finished table (a sort), not row by row, after SET LOGGED, which
        # would otherwise rebuild them again. ``jobs`` connections at once.
        run = partial(_run_alone, connection.get_connection_params())
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            list(pool.map(run, [f"ALTER TABLE {table}{SUFFIX} SET LOGGED" for table in live_tables]))
            list(pool.map(run, [index for table in live_tables for index in deferred[table]]))
        store = EventStore(using=using)
        with transaction.atomic(using=using):
            # Wait for live runners to finish their batch, then keep them out
            # (partitions' runners too: they hold the projection's lock shared).
            names = {n for p in projections for n in (p.name, *registry.checkpoint_names(p.name))}
            locks.lock(list(names), using)
            # The tail that arrived meanwhile, then the swap, in one transaction.
            # The read stays gap-safe whatever this process thinks about inline
            # mode: events it cannot see yet are applied by the runner later.
            targets = [(p, p.tables(using, rename=_shadow(p, using))) for p in projections]
            checkpoint, seen = cut.checkpoint, cut.total
            metadata = any(p.needs_metadata for p in projections)
            # As far as the live tables (their runners are locked out now, so
            # their checkpoints stay put) and the bulk got, no further:
            # commands may keep appending faster than this applies, and what
            # comes after is the runners' once the lock is gone.
            live = checkpoints.read(sorted(names), using).values()
            target = max([cp.global_position for cp in live] + [checkpoint])
            while checkpoint < target and (
                batch := store.read_all(checkpoint, REBUILD_BATCH, metadata=metadata)
            ):
                rebuild_bulk.apply(targets, batch, applied)
                checkpoint = batch[-1].global_position
                seen += len(batch)
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


def _run_alone(params: dict, statement: str) -> None:
    """One statement on a connection of its own."""
    with psycopg.connect(**{**params, "prepare_threshold": None}, autocommit=True) as conn:
        conn.execute(statement)


def _defer_indexes(cursor, table: str, group_key: str) -> list[str]:
    """Drop the shadow table's indexes that the bulk replay does not need
    (those backing no constraint and not led by its group key, the column
    it reads and deletes rows by); the statements that make them again."""
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        " AND COALESCE((SELECT a.attname FROM pg_attribute a"
        " WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]), '') <> %s",
        [table, group_key],
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]


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
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events")
        total = cursor.fetchone()[0]
    with transaction.atomic(using=using):
        for _, tables in targets:
            for logical in tables.specs:
                tables.truncate(logical)
        checkpoint, seen, applied = START, 0, {}
        while batch := store.read_all(checkpoint, REBUILD_BATCH, metadata=metadata):
            rebuild_bulk.apply(targets, batch, applied)
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
    names = registry.checkpoint_names(projection.name)
    for name in names:  # each partition counts what it applied: the total is the projection's
        checkpoints.set_to(
            name,
            checkpoint,
            using=using,
            seen=seen,
            applied=applied if len(names) == 1 else 0,
            version=projection.version,
        )
        # The rebuilt tables include every event, so earlier failures are moot.
        failures.resolve_all(name, "rebuilt", "rebuild", using)
