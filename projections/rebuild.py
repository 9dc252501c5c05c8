"""Rebuild a projection from position 0 without readers ever seeing an empty
or half-built table.

PostgreSQL: build into shadow tables (``<table>__rebuild``) while the live
tables keep serving and catching up; then, in one transaction holding the
projection's lock, apply the last events, swap the tables (and their index
names) and move the checkpoint. SQLite: replay in place in one transaction
(readers see the old tables until it commits).
"""

import multiprocessing
import queue
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from django.db import connections, transaction

from eventstore import START, EventStore, GlobalPosition
from projections import checkpoints, failures, locks, metrics
from projections.base import Projection, registry

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
    jobs: int = 1,
) -> RebuildResult:
    """Rebuild one projection, or several in a single pass over the log.

    With ``jobs`` > 1 (PostgreSQL), the bulk of the log is replayed by that
    many processes at once, each for a share of the projections (each reads
    the log itself); the final catch-up and the swap stay one transaction."""
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
            events, applied, checkpoint = _rebuild_postgres(projections, using, published, jobs)
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


def _total_events(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events")
        return cursor.fetchone()[0]


def _apply(targets, batch, applied: dict[str, int]) -> None:
    for projection, tables in targets:
        applied[projection.name] = applied.get(projection.name, 0) + projection.apply(
            projection.relevant(batch), tables
        )


@dataclass
class _Bulk:
    """What replaying the bulk of the log into shadow tables left: where it
    stopped, how many events it passed, what each projection applied."""

    checkpoint: GlobalPosition
    seen: int
    applied: dict[str, int]


def _shadow(projection: Projection, using: str) -> dict[str, str]:
    return {logical: f"{spec.table}{SUFFIX}" for logical, spec in projection.tables(using).specs.items()}


def _bulk(projections: list[Projection], using: str, progress, total: int) -> _Bulk:
    """Replay every event readable now into the shadow tables, streaming
    the log (flat memory) and writing rows by COPY."""
    store = EventStore(using=using)
    metadata = any(p.needs_metadata for p in projections)
    targets = [(p, p.buffered_tables(using, rename=_shadow(p, using))) for p in projections]
    checkpoint, seen, applied = START, 0, {}
    for batch in store.stream_all(START, batch=REBUILD_BATCH, metadata=metadata):
        _apply(targets, batch, applied)
        for _, tables in targets:
            tables.maybe_flush()
        checkpoint = batch[-1].global_position
        seen += len(batch)
        if progress:
            progress(seen, max(total, seen))
    for _, tables in targets:
        tables.flush()
    return _Bulk(checkpoint, seen, applied)


def _bulk_in_processes(shares: list[list[Projection]], using: str, progress, total: int) -> list[_Bulk]:
    """``_bulk`` for each share of the projections in a process of its own
    (forked: each opens its own connections)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()

    def child(n: int, share: list[Projection]) -> None:
        # The parent's connections (one holds the rebuild lock) are not to be
        # touched here, nor closed: keep them referenced, open new ones.
        _INHERITED.extend(connections[alias] for alias in connections)
        for alias in list(connections):
            del connections[alias]
        try:
            out.put((n, _bulk(share, using, progress if n == 0 else None, total)))
        except BaseException as exc:
            out.put((n, RebuildError(f"rebuilding {', '.join(p.name for p in share)}: {exc!r}")))

    procs = [ctx.Process(target=child, args=(n, share), daemon=True) for n, share in enumerate(shares)]
    for proc in procs:
        proc.start()
    results: dict[int, _Bulk] = {}
    try:
        while len(results) < len(procs):
            try:
                n, found = out.get(timeout=1)
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RebuildError("a rebuild process died") from None
                continue
            if isinstance(found, Exception):
                raise found
            results[n] = found
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return [results[n] for n in range(len(procs))]


_INHERITED: list = []


def _shares(projections: list[Projection], jobs: int) -> list[list[Projection]]:
    """Split the projections into ``jobs`` shares of about equal work."""
    shares: list[list[Projection]] = [[] for _ in range(min(jobs, len(projections)))]
    work = [0] * len(shares)
    for projection in sorted(projections, key=lambda p: -p.rebuild_weight):
        n = work.index(min(work))
        shares[n].append(projection)
        work[n] += projection.rebuild_weight
    return shares


def _rebuild_postgres(projections: list[Projection], using: str, progress, jobs: int = 1):
    connection = connections[using]
    group_keys = {
        spec.table: p.group_keys[logical]
        for p in projections
        for logical, spec in p.tables(using).specs.items()
    }
    live_tables = list(group_keys)
    deferred: list[str] = []
    with connection.cursor() as cursor:
        _check_owner(cursor, live_tables)
        for table in live_tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}{SUFFIX}")
            # Unlogged while it is built (no WAL per row), logged before it goes live.
            cursor.execute(f"CREATE UNLOGGED TABLE {table}{SUFFIX} (LIKE {table} INCLUDING ALL)")
            deferred += _defer_indexes(cursor, f"{table}{SUFFIX}", group_keys[table])
    try:
        total = _total_events(using)
        # The bulk, while the live tables keep serving and catching up.
        shares = _shares(projections, jobs)
        if len(shares) > 1:
            bulks = _bulk_in_processes(shares, using, progress, total)
        else:
            bulks = [_bulk(projections, using, progress, total)]
        with connection.cursor() as cursor:
            for table in live_tables:
                cursor.execute(f"ALTER TABLE {table}{SUFFIX} SET LOGGED")
            # Built from the finished table (a sort), not row by row; after
            # SET LOGGED, which would otherwise rebuild them again.
            for create_index in deferred:
                cursor.execute(create_index)
        store = EventStore(using=using)
        applied: dict[str, int] = {}
        with transaction.atomic(using=using):
            # Wait for live runners to finish their batch, then keep them out
            # (partitions' runners too: they hold the projection's lock shared).
            names = {n for p in projections for n in (p.name, *registry.checkpoint_names(p.name))}
            locks.lock(list(names), using)
            # The tail that arrived meanwhile, then the swap, in one transaction.
            # The read stays gap-safe whatever this process thinks about inline
            # mode: events it cannot see yet are applied by the runner later.
            # One read of the tail for every share, each applying what it has
            # not had yet (the shares' bulk reads may have stopped apart).
            groups = []
            for share, bulk in zip(shares, bulks, strict=True):
                applied.update(bulk.applied)
                targets = [(p, p.tables(using, rename=_shadow(p, using))) for p in share]
                groups.append((targets, bulk.checkpoint))
            first = min(bulks, key=lambda b: b.checkpoint)
            checkpoint, seen = first.checkpoint, first.seen
            metadata = any(p.needs_metadata for p in projections)
            # As far as the live tables (their runners are locked out now, so
            # their checkpoints stay put) and every share's bulk got, no
            # further: commands may keep appending faster than this applies,
            # and what comes after is the runners' once the lock is gone.
            live = checkpoints.read(sorted(names), using).values()
            target = max([cp.global_position for cp in live] + [b.checkpoint for b in bulks])
            while checkpoint < target and (
                batch := store.read_all(checkpoint, REBUILD_BATCH, metadata=metadata)
            ):
                for targets, had in groups:
                    fresh = batch if had <= checkpoint else [e for e in batch if e.global_position > had]
                    _apply(targets, fresh, applied)
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
