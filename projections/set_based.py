"""Set-based rebuilds (PostgreSQL): a read model that can say how to build
its tables from the log in SQL (``Projection.set_based``) is rebuilt by a
few INSERT ... SELECT statements run in the database, instead of every
event travelling to Python and its rows travelling back.

The SQL is a second statement of the projection's fold, so it is used only
where it is known to agree with the Python one:

- every event of the projection's types in the cut is at its type's current
  schema version (upcasters are Python; older events take the Python fold);
- the projection's ``checks`` find nothing the statements cannot fold (a
  stream that does not start as the fold expects, say): else the Python
  fold rebuilds it, and says what is wrong;
- the streams its ``replay`` query names are left out of the statements and
  folded by Python instead (what the SQL would get wrong).

Everything reads the same cut of the log (eventstore.cut): the rebuild's
other projections, streamed through Python, stop at the same event.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from uuid import uuid4

import psycopg
from django.db import connections

from eventstore import EventStore
from eventstore.cut import LogCut
from eventstore.sql import COLUMNS, COLUMNS_NO_METADATA, FAST_TIMESTAMPTZ, TIMESTAMPTZ_OID

REPLAY_BATCH = 5000


@dataclass(frozen=True)
class SetBased:
    """How a projection builds its (empty) tables from a cut of the log.

    ``statements`` name tables by their logical names (``{order_lines}``)
    and take ``%(tx)s``, ``%(pos)s`` (the cut), ``%(types)s`` (the
    projection's event types) and ``%(part)s`` of ``%(parts)s`` (the share
    of the streams this connection builds). ``shared`` are tables built
    once per rebuild from the whole cut, for every projection that names
    them (name -> ``CREATE UNLOGGED TABLE {name} AS ...``; projections that
    share one share their event types); statements and ``checks`` name them
    as ``{name}``. A row from any of ``checks`` hands the projection to the
    Python fold. ``replay`` selects stream ids the statements leave out
    (they are in the temporary table ``rebuild_replay``): the Python fold
    takes them."""

    statements: list[str]
    shared: dict[str, str] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    replay: str | None = None


def split(projections: list, cut: LogCut, registry) -> tuple[list, list]:
    """(those to build in SQL, the rest): a projection qualifies when it has
    statements and the cut holds its event types at their current schema
    version only."""
    current = registry.current_versions
    in_sql, rest = [], []
    for projection in projections:
        qualifies = getattr(projection, "set_based", None) is not None and all(
            cut.versions(event_type) <= {current.get(event_type)} for event_type in projection.event_types
        )
        (in_sql if qualifies else rest).append(projection)
    return in_sql, rest


def build(
    projections: list, using: str, connection_params: dict, cut: LogCut, shadow, jobs: int = 1
) -> tuple[dict, list]:
    """Build each projection's shadow tables (``shadow(projection)``: logical
    name -> table) from the cut. Returns (events applied per projection,
    the projections handed back to the Python fold).

    With ``jobs`` > 1, a projection whose rows each belong to one stream is
    built by that many connections at once, each for a share of the
    streams, beside one for the others: the database does the work, on as
    many cores."""
    params = {**connection_params, "prepare_threshold": None}
    token = uuid4().hex[:12]
    shared = {name: f"rebuild_{name}_{token}" for p in projections for name in p.set_based.shared}
    try:
        failed = _prepare(projections, params, cut, shared)
        building = [p for p in projections if p.name not in failed]
        split = [p for p in building if jobs > 1 and p.supports_inline]
        whole = [p for p in building if p not in split]
        groups = [(whole, 0, 1)] if whole else []
        groups += [(split, part, jobs) for part in range(jobs)] if split else []
        run = partial(_build_group, using=using, params=params, cut=cut, shadow=shadow, shared=shared)
        if len(groups) == 1:
            run(*groups[0])
        elif groups:
            with ThreadPoolExecutor(len(groups)) as pool:
                list(pool.map(lambda group: _in_thread(run, *group), groups))
    finally:
        if shared:
            with psycopg.connect(**params, autocommit=True) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {', '.join(shared.values())}")
    applied = {p.name: cut.of_types(p.event_types) for p in building}
    return applied, [p for p in projections if p.name in failed]


def _args(cut: LogCut, projection, part: int = 0, parts: int = 1) -> dict:
    return {
        "tx": cut.checkpoint.tx_id,
        "pos": cut.checkpoint.position,
        "types": sorted(projection.event_types),
        "part": part,
        "parts": parts,
    }


def _session(conn) -> None:
    conn.execute("SET LOCAL TIME ZONE 'UTC'")
    # Room to sort and group a long log in memory.
    conn.execute("SET LOCAL work_mem = '256MB'")


def _prepare(projections: list, params: dict, cut: LogCut, shared: dict[str, str]) -> set[str]:
    """Build the shared tables and run the checks; the names of the
    projections the checks hand back to the Python fold."""
    failed, made = set(), set()
    with psycopg.connect(**params) as conn, conn.transaction():
        _session(conn)
        for projection in projections:
            spec, args = projection.set_based, _args(cut, projection)
            for name, create in spec.shared.items():
                if name not in made:
                    conn.execute(create.format(**shared), args)
                    conn.execute(f"ANALYZE {shared[name]}")
                    made.add(name)
            if any(conn.execute(check.format(**shared), args).fetchone() for check in spec.checks):
                failed.add(projection.name)
    return failed


def _in_thread(run, *args) -> None:
    try:
        run(*args)
    finally:
        connections.close_all()  # this thread's own (a replay may have opened one)


def _build_group(projections: list, part: int, parts: int, *, using, params, cut, shadow, shared) -> None:
    """Build ``projections`` for share ``part`` of ``parts`` of the streams,
    in one transaction of a connection of its own."""
    with psycopg.connect(**params) as conn, conn.transaction():
        _session(conn)
        conn.execute("CREATE TEMP TABLE rebuild_replay (id uuid PRIMARY KEY) ON COMMIT DROP")
        for projection in projections:
            tables = {**shadow(projection), **shared}
            _build_one(conn, projection, using, _args(cut, projection, part, parts), tables)


def _build_one(conn, projection, using: str, args: dict, tables: dict[str, str]) -> None:
    spec = projection.set_based
    conn.execute("TRUNCATE rebuild_replay")
    if spec.replay:
        conn.execute(f"INSERT INTO rebuild_replay {spec.replay}", args)
        conn.execute("ANALYZE rebuild_replay")  # a handful: the planner must know
    for statement in spec.statements:
        conn.execute(statement.format(**tables), args)
    if spec.replay:
        _replay(conn, projection, using, args, tables)


def _replay(conn, projection, using: str, args: dict, tables: dict[str, str]) -> None:
    """Fold the events of the streams in ``rebuild_replay`` in Python, into
    the shadow tables (by the rebuild's own connection: the rows are not
    those the statements wrote, so neither waits on the other)."""
    store = EventStore(using=using)
    columns = COLUMNS if projection.needs_metadata else COLUMNS_NO_METADATA
    buffered = projection.buffered_tables(using, rename={t: tables[t] for t in projection.models})
    with conn.cursor(name="rebuild_replay") as cursor:
        cursor.adapters.register_loader(TIMESTAMPTZ_OID, FAST_TIMESTAMPTZ)
        cursor.execute(
            f"SELECT {columns} FROM events WHERE aggregate_id IN (SELECT id FROM rebuild_replay)"
            " AND (tx_id, position) <= (%(tx)s, %(pos)s) AND event_type = ANY(%(types)s)"
            " AND mod(get_byte(uuid_send(aggregate_id), 15), %(parts)s) = %(part)s"
            " ORDER BY tx_id, position",
            args,
        )
        while rows := cursor.fetchmany(REPLAY_BATCH):
            projection.apply(store.decode(rows), buffered)
            buffered.maybe_flush()
    buffered.flush()
