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

from dataclasses import dataclass, field

import psycopg

from eventstore import EventStore
from eventstore.cut import LogCut
from eventstore.sql import COLUMNS, COLUMNS_NO_METADATA, FAST_TIMESTAMPTZ, TIMESTAMPTZ_OID

REPLAY_BATCH = 5000


@dataclass(frozen=True)
class SetBased:
    """How a projection builds its (empty) tables from a cut of the log.

    Statements name tables by their logical names (``{order_lines}``) and
    take ``%(tx)s``, ``%(pos)s`` (the cut) and ``%(types)s`` (the
    projection's event types); so do ``prepare``, run first, and the
    ``checks``. ``replay`` selects stream ids whose events
    the statements must leave out (they are in the temporary table
    ``rebuild_replay``): the Python fold takes them. A row from any of
    ``checks`` hands the whole projection to the Python fold."""

    statements: list[str]
    # Run first (e.g. temporary tables the checks and statements read).
    prepare: list[str] = field(default_factory=list)
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


def build(projections: list, using: str, connection_params: dict, cut: LogCut, shadow) -> tuple[dict, list]:
    """Build each projection's shadow tables (``shadow(projection)``: logical
    name -> table) from the cut, in one transaction of a connection of its
    own. Returns (events applied per projection, the projections handed
    back to the Python fold)."""
    applied, handed_back = {}, []
    params = {**connection_params, "prepare_threshold": None}
    with psycopg.connect(**params) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            # Room to sort and group a long log in memory.
            conn.execute("SET LOCAL work_mem = '256MB'")
            conn.execute("CREATE TEMP TABLE rebuild_replay (id uuid PRIMARY KEY) ON COMMIT DROP")
            for projection in projections:
                args = {
                    "tx": cut.checkpoint.tx_id,
                    "pos": cut.checkpoint.position,
                    "types": sorted(projection.event_types),
                }
                if _build_one(conn, projection, using, args, shadow(projection)):
                    applied[projection.name] = cut.of_types(projection.event_types)
                else:
                    handed_back.append(projection)
    return applied, handed_back


def _build_one(conn, projection, using: str, args: dict, tables: dict[str, str]) -> bool:
    spec = projection.set_based
    with conn.transaction():  # a savepoint: a projection handed back leaves nothing behind
        for statement in spec.prepare:
            conn.execute(statement, args)
        for check in spec.checks:
            if conn.execute(check, args).fetchone() is not None:
                return False
        conn.execute("TRUNCATE rebuild_replay")
        if spec.replay:
            conn.execute(f"INSERT INTO rebuild_replay {spec.replay}", args)
        for statement in spec.statements:
            conn.execute(statement.format(**tables), args)
        if spec.replay:
            _replay(conn, projection, using, args, tables)
    return True


def _replay(conn, projection, using: str, args: dict, tables: dict[str, str]) -> None:
    """Fold the events of the streams in ``rebuild_replay`` in Python, into
    the shadow tables (by the rebuild's own connection: the rows are not
    those the statements wrote, so neither waits on the other)."""
    store = EventStore(using=using)
    columns = COLUMNS if projection.needs_metadata else COLUMNS_NO_METADATA
    buffered = projection.buffered_tables(using, rename=tables)
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
