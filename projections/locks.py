"""One runner per projection at a time: PostgreSQL transaction-scoped
advisory locks, keyed by projection name.

An advisory lock takes no transaction id (unlike SELECT ... FOR UPDATE), so
holding one does not hold back the runner's own gap-safe read, and being
transaction-scoped it works through PgBouncer's transaction pooling. SQLite
has one writer at a time, so every lock is granted there.
"""

import zlib

from django.db import OperationalError, connections, transaction

from eventstore.sql import dialect_for


def lock_key(name: str) -> int:
    """The advisory-lock key of a projection (a signed 32-bit value)."""
    return zlib.crc32(f"projection:{name}".encode()) - 2**31


def try_lock(name: str, using: str) -> bool:
    """Take the projection's lock for the current transaction, if free."""
    return name in try_locks([name], using)


def try_locks(names: list[str], using: str) -> list[str]:
    """``try_lock`` for several projections in one round trip: those taken."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return list(names)
    rows = dialect_for(connection).fetch(
        connection,
        "SELECT name FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS t(name, key, n)"
        " WHERE pg_try_advisory_xact_lock(key) ORDER BY n",
        [list(names), [lock_key(name) for name in names]],
    )
    return [row[0] for row in rows]


def try_runner_locks(names: list[str], bases: dict[str, str], using: str) -> tuple[list[str], set[str]]:
    """``try_locks`` for runners, in one round trip: a partition (``bases``:
    its projection's name) also needs its projection's lock in shared mode,
    which the whole projection's runner takes exclusively. So partitions
    advance side by side, but never beside a runner of the whole projection
    (a process started with other PROJECTION_PARTITIONS), nor during its
    rebuild's swap. Returns the names taken, and the locks found held (a
    name, or a projection's name when a runner of the whole has it)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return list(names), set()
    based = [bases.get(name) for name in names]
    # CASE evaluates in order: the shared lock is only asked for once the
    # partition's own is held.
    rows = dialect_for(connection).fetch(
        connection,
        "SELECT name, CASE WHEN NOT pg_try_advisory_xact_lock(key) THEN name"
        " WHEN base_key IS NOT NULL AND NOT pg_try_advisory_xact_lock_shared(base_key) THEN base END"
        " FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bigint[]) WITH ORDINALITY"
        " AS t(name, key, base, base_key, n) ORDER BY n",
        [
            list(names),
            [lock_key(name) for name in names],
            based,
            [lock_key(base) if base else None for base in based],
        ],
    )
    return [name for name, held in rows if held is None], {held for _, held in rows if held is not None}


def lock(names: list[str], using: str) -> None:
    """Wait for the locks of ``names`` (in name order, as every runner takes
    them) and hold them for the current transaction."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in sorted(names):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(name)])


def lock_shared(name: str, using: str) -> None:
    """Hold the projection's lock in shared mode for the current transaction:
    inline writers do, so a rebuild (exclusive) waits for them and holds
    new ones off until its tables are in place."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [lock_key(name)])


def wait_for_runners(names: set[str], timeout: float, using: str = "default") -> bool:
    """Wait (without spinning) until no other runner holds any of ``names``;
    False if one still does after ``timeout`` seconds."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not names:
        return True
    try:
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{max(1, int(timeout * 1000))}ms'")
            lock(list(names), using)
    except OperationalError:  # lock_timeout: still held
        return False
    return True
