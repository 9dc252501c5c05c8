"""Set-based rebuilds (PostgreSQL): a read model that can say how to build
its tables from the log in SQL (``Projection.set_based``) is rebuilt by
INSERT ... SELECT statements run in the database, instead of every event
travelling to Python and its rows travelling back.

The SQL is a second statement of the projection's fold, so it is used only
where it is known to agree with the Python one:

- every event of the projection's types in the cut is at a schema version
  the SQL reads (``versions``, whose newest must be the current one: a new
  version takes the Python fold, with its upcasters, until the SQL reads it);
- the projection's ``checks`` find nothing the statements cannot fold (a
  stream that does not start as the fold expects, say): else the Python
  fold rebuilds it, and says what is wrong;
- the streams its ``replay`` query names are left out of the statements and
  folded by Python instead (what the SQL would get wrong).

The work is cut into slices of the streams (by id), each in a transaction
of its own: a transaction that writes holds back every reader of the log
(the gap-safe bound waits for it), so none may last long. ``jobs``
connections take the slices in turn. Everything reads the same cut of the
log (eventstore.cut): the rebuild's other projections, streamed through
Python, stop at the same event.
"""

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from uuid import UUID

import psycopg
from django.db import connections

from eventstore import EventStore
from eventstore.cut import LogCut
from eventstore.sql import COLUMNS, COLUMNS_NO_METADATA, FAST_TIMESTAMPTZ, TIMESTAMPTZ_OID

# Each slice of the streams is a transaction of its own: readers of the log
# wait on one slice's work at most (some 0.2-0.4 s here), however long the log.
EVENTS_PER_SLICE = 32_000
REPLAY_BATCH = 5000
APPLICATION_NAME = "projections rebuild (sql)"
_EVERY_STREAM = (UUID(int=0), UUID(int=2**128 - 1))


@dataclass(frozen=True)
class SetBased:
    """How a projection builds its (empty) tables from a cut of the log.

    Every statement takes ``%(tx)s``, ``%(pos)s`` (the cut), ``%(types)s``
    (the projection's event types) and ``%(lo)s``, ``%(hi)s`` (a slice: the
    streams whose ids lie between, inclusive), and names tables by their
    logical names (``{order_lines}``).

    - ``statements`` run for each slice (rows that belong to one stream);
    - ``totals`` run once, after every slice (rows that gather streams);
    - ``shared``: (name, SELECT) of tables filled slice by slice from the
      cut, once per rebuild for every projection that names them
      (projections that share one share their event types), named
      ``{name}``: in ``statements`` and ``checks``, the slice's rows; in
      ``totals``, all of them;
    - a row from any of ``checks`` (on a slice) hands the projection to the
      Python fold;
    - ``replay`` selects the stream ids of a slice that the statements leave
      out (they are in the temporary table ``rebuild_replay``): the Python
      fold takes them;
    - ``versions``: the schema versions of each of the projection's event
      types that the statements read."""

    versions: dict[str, tuple[int, ...]]
    statements: tuple[str, ...]
    totals: tuple[str, ...] = ()
    shared: tuple[tuple[str, str], ...] = ()
    checks: tuple[str, ...] = ()
    replay: str | None = None


def split(projections: list, cut: LogCut, registry) -> tuple[list, list]:
    """(those to build in SQL, the rest): a projection qualifies when its
    statements read the current schema version of each of its event types
    and every version the cut holds."""
    current = registry.current_versions
    in_sql, rest = [], []
    for projection in projections:
        spec = getattr(projection, "set_based", None)
        qualifies = (
            spec is not None
            and set(spec.versions) == set(projection.event_types)
            and all(
                current.get(t) == max(vs) and cut.versions(t) <= set(vs) for t, vs in spec.versions.items()
            )
        )
        (in_sql if qualifies else rest).append(projection)
    return in_sql, rest


def slices(count: int) -> list[tuple[UUID, UUID]]:
    """``count`` ranges of stream ids, inclusive, that cover them all."""
    edges = [n * 2**128 // count for n in range(count + 1)]
    return [(UUID(int=edges[n]), UUID(int=edges[n + 1] - 1)) for n in range(count)]


def build(
    projections: list, using: str, connection_params: dict, cut: LogCut, shadow, jobs: int = 1, progress=None
) -> tuple[dict, list]:
    """Build each projection's shadow tables (``shadow(projection)``: logical
    name -> table) from the cut. Returns (events applied per projection,
    the projections handed back to the Python fold)."""
    params = {**connection_params, "prepare_threshold": None, "application_name": APPLICATION_NAME}
    # Named by what is rebuilt (the rebuild's guard keeps out another of
    # the same), so a rebuild that died leaves nothing the next one misses.
    digest = hashlib.sha1(" ".join(sorted(p.name for p in projections)).encode()).hexdigest()[:10]
    shared = {name: f"{name}__rebuild_{digest}" for p in projections for name, _ in p.set_based.shared}
    failed: set[str] = set()  # filled in by the slices' checks
    with psycopg.connect(**params, autocommit=True) as conn:
        _drop(conn, shared)
        try:
            fills = {}
            for projection in projections:
                for name, select in projection.set_based.shared:
                    if name not in fills:
                        conn.execute(
                            f"CREATE UNLOGGED TABLE {shared[name]} AS {select} WITH NO DATA",
                            _args(cut, projection),
                        )
                        fills[name] = (select, _args(cut, projection))
            events = cut.of_types(frozenset().union(*(p.event_types for p in projections)))
            count = max(1, jobs) * max(1, -(-events // (EVENTS_PER_SLICE * max(1, jobs))))  # as many per job
            work = partial(_build_slice, projections, fills, shared, shadow, failed, using, cut)
            _in_slices(params, jobs, count, work, _Progress(progress, count, cut.total))
            for projection in projections:
                if projection.name in failed:  # some slices may have built theirs first
                    conn.execute(f"TRUNCATE {', '.join(shadow(projection).values())}")
                    continue
                for total in projection.set_based.totals:
                    with _transaction(conn):
                        conn.execute(total.format(**shadow(projection), **shared), _args(cut, projection))
        finally:
            _drop(conn, shared)
    built = [p for p in projections if p.name not in failed]
    return {p.name: cut.of_types(p.event_types) for p in built}, [p for p in projections if p.name in failed]


def _args(cut: LogCut, projection, piece: tuple[UUID, UUID] = _EVERY_STREAM) -> dict:
    return {
        "tx": cut.checkpoint.tx_id,
        "pos": cut.checkpoint.position,
        "types": sorted(projection.event_types),
        "lo": piece[0],
        "hi": piece[1],
    }


def _drop(conn, shared: dict[str, str]) -> None:
    if shared:
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(shared.values())}")


class _Progress:
    """Reports the events of the slices done so far (an estimate: slices
    hold about as many events each), from whichever thread finishes one."""

    def __init__(self, report, count: int, total: int):
        self.report, self.count, self.total = report, count, total
        self.done, self.lock = 0, threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.done += 1
            if self.report:
                self.report(self.total * self.done // self.count, self.total)


def _in_slices(params: dict, jobs: int, count: int, work, done=lambda: None) -> None:
    """``work(conn, lo, hi)`` for each of ``count`` slices, each in a
    transaction of its own, on ``jobs`` connections, calling ``done()`` after
    each; the first error stops the others after their slice, and is raised."""
    todo = slices(count)
    workers = max(1, min(jobs, len(todo)))
    stop = threading.Event()

    def worker(k: int) -> None:
        try:
            with psycopg.connect(**params) as conn:
                for lo, hi in todo[k::workers]:
                    if stop.is_set():
                        return
                    with _transaction(conn):
                        work(conn, lo, hi)
                    done()
        except BaseException:
            stop.set()
            raise

    if workers == 1:
        worker(0)
        return
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_in_thread, worker, k) for k in range(workers)]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.result()  # an error, once every worker has stopped
        except BaseException:  # a worker's error, or Ctrl-C here: the others stop after their slice
            stop.set()
            raise


@contextmanager
def _transaction(conn) -> Iterator[None]:
    with conn.transaction():
        conn.execute("SET LOCAL TIME ZONE 'UTC'")
        conn.execute("SET LOCAL work_mem = '64MB'")  # per sort or hash; a slice is small
        conn.execute("SET LOCAL jit = off")  # compiling a slice's plan costs more than running it
        yield


def _in_thread(worker, k: int) -> None:
    try:
        worker(k)
    finally:
        connections.close_all()  # this thread's own (a replay opens one)


def _build_slice(
    projections, fills, shared, shadow, failed: set, using: str, cut: LogCut, conn, lo, hi
) -> None:
    """One slice: its rows of the shared tables (kept whole for the totals,
    and as temporary tables of the slice for its statements and checks),
    then each projection's statements, unless a check refuses it."""
    piece = {}
    for name, (select, args) in fills.items():
        piece[name] = f"rebuild_slice_{name}"
        conn.execute(
            f"CREATE TEMP TABLE {piece[name]} ON COMMIT DROP AS {select}", {**args, "lo": lo, "hi": hi}
        )
        conn.execute(f"INSERT INTO {shared[name]} SELECT * FROM {piece[name]}")
    # Temporary, and dropped at commit: the next slice may be on another
    # server connection (PgBouncer in transaction pooling).
    conn.execute("CREATE TEMP TABLE rebuild_replay (id uuid PRIMARY KEY) ON COMMIT DROP")
    for projection in projections:
        spec, args = projection.set_based, _args(cut, projection, (lo, hi))
        tables = {**shadow(projection), **piece}
        if projection.name in failed or any(
            conn.execute(c.format(**piece), args).fetchone() for c in spec.checks
        ):
            failed.add(projection.name)
            continue
        replays = 0
        conn.execute("TRUNCATE rebuild_replay")  # none left from another projection
        if spec.replay:
            replays = conn.execute(f"INSERT INTO rebuild_replay {spec.replay}", args).rowcount
            conn.execute("ANALYZE rebuild_replay")  # a handful: the planner must know
        for statement in spec.statements:
            conn.execute(statement.format(**tables), args)
        if replays:
            _replay(conn, projection, using, args, tables)


def _replay(conn, projection, using: str, args: dict, tables: dict[str, str]) -> None:
    """Fold the events of the streams in ``rebuild_replay`` in Python, into
    the shadow tables (through this thread's Django connection: the rows are
    not those the statements write, so neither waits on the other)."""
    store = EventStore(using=using)
    columns = COLUMNS if projection.needs_metadata else COLUMNS_NO_METADATA
    buffered = projection.buffered_tables(using, rename={t: tables[t] for t in projection.models})
    with conn.cursor(name="rebuild_replay") as cursor:
        cursor.adapters.register_loader(TIMESTAMPTZ_OID, FAST_TIMESTAMPTZ)
        cursor.execute(
            f"SELECT {columns} FROM events WHERE aggregate_id IN (SELECT id FROM rebuild_replay)"
            " AND (tx_id, position) <= (%(tx)s, %(pos)s) AND event_type = ANY(%(types)s)"
            " ORDER BY tx_id, position",
            args,
        )
        while rows := cursor.fetchmany(REPLAY_BATCH):
            projection.apply(store.decode(rows), buffered)
            buffered.maybe_flush()
    buffered.flush()
