"""The SQL that differs between PostgreSQL and SQLite, in one place."""

from datetime import UTC, datetime
from uuid import UUID

import orjson
import psycopg
from django.db import IntegrityError

from eventstore.errors import ReadOnReplicaError
from eventstore.ids import new_event_id

COLUMNS = (
    "position, tx_id, event_id, aggregate_type, aggregate_id, event_type,"
    " schema_version, event_data, metadata, version, created_at"
)
# The same without the metadata, for readers that do not need it (projections).
COLUMNS_NO_METADATA = COLUMNS.replace("metadata", "NULL")

# The expected-version check, shared by both shapes below: no row is inserted
# unless the stream is exactly where the writer thinks it is. Two writers that
# pass it at once both try the same next version, and the UNIQUE
# (aggregate_id, version) index lets exactly one of them commit.
_CHECK = " WHERE (SELECT COALESCE(MAX(e.version), 0) FROM events e WHERE e.aggregate_id = {agg}) = {expected}"
# PostgreSQL also keeps each stream's events in version order in the global
# (tx_id, position) order: a transaction that got its id before the stream's
# last event was written by a newer one may not append after it (it would be
# read before that event). It is refused like a lost race, and retrying in a
# new transaction succeeds. This only happens to transactions that write
# several streams, or write something else before appending.
_PG_CHECK = (
    " WHERE COALESCE((SELECT CASE WHEN e.tx_id <= pg_current_xact_id()::text::bigint"
    " THEN e.version ELSE -1 END"
    " FROM events e WHERE e.aggregate_id = {agg} ORDER BY e.version DESC LIMIT 1), 0) = {expected}"
)
_INSERT_COLUMNS = (
    "INSERT INTO events (event_id, aggregate_type, aggregate_id, event_type, schema_version,"
    " event_data, metadata, version, created_at)"
)
_INSERT_MANY = (
    "WITH v (event_id, event_type, schema_version, event_data, metadata, version) AS (VALUES {{rows}}) "
    + _INSERT_COLUMNS
    + " SELECT v.event_id, %s, %s, v.event_type, v.schema_version, v.event_data, v.metadata, v.version, %s"
    " FROM v{check} RETURNING position, tx_id, event_id"
)


class Dialect:
    # True when the driver returns UUID and aware datetime objects as they are.
    native_types = False
    json_placeholder = "%s"
    row_placeholder = "(%s, %s, %s, %s, %s, %s)"
    one_row_select = "%s, %s, %s, %s, %s, %s, %s, %s, %s"

    check = _CHECK

    def __init__(self):
        self._insert_many = _INSERT_MANY.format(check=self.check.format(agg="%s", expected="%s"))
        # Several events starting a stream: no check either (as below).
        self._insert_many_new = _INSERT_MANY.format(check="")
        self._insert_new_sql: dict[int, str] = {}
        self._insert_sql: dict[int, str] = {
            1: _INSERT_COLUMNS
            + f" SELECT {self.one_row_select}"
            + self.check.format(agg="%s", expected="%s")
            + " RETURNING position, tx_id, event_id"
        }
        # A new stream needs no check: version 1 already existing is exactly
        # what the UNIQUE index refuses.
        self._insert_new_stream = (
            _INSERT_COLUMNS + f" VALUES ({self.one_row_select}) RETURNING position, tx_id, event_id"
        )

    @staticmethod
    def param_event_id(value: UUID | None) -> str:
        """The event's id as 32 hex digits (both databases take them), drawn
        here when the writer gave none (eventstore.ids)."""
        return new_event_id() if value is None else value.hex

    @staticmethod
    def any_of(column: str, values: list[int]) -> tuple[str, list]:
        """A clause and its parameters: ``column`` is one of the integers ``values``."""
        return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)

    def fetch(self, connection, query: str, params) -> list[tuple]:
        """Run one statement and return its rows."""
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def ensure_primary(self, connection) -> None:
        """Raise ``ReadOnReplicaError`` if ``connection`` is to a standby."""

    def append(self, aggregate_type, aggregate_id, rows, expected_version, created_at):
        """The statement and parameters that append ``rows`` (event_id,
        event_type, schema_version, data, metadata, version) to one stream."""
        uuid, dumps = self.param_uuid, orjson.dumps
        agg, at = uuid(aggregate_id), self.param_datetime(created_at)
        if len(rows) == 1:
            ((event_id, event_type, schema_version, data, meta, version),) = rows
            params = (
                self.param_event_id(event_id),
                aggregate_type,
                agg,
                event_type,
                schema_version,
                dumps(data).decode(),
                dumps(meta).decode(),
                version,
                at,
            )
            if expected_version == 0:
                return self._insert_new_stream, params
            return self._insert_sql[1], (*params, agg, expected_version)
        new_stream = expected_version == 0
        cache = self._insert_new_sql if new_stream else self._insert_sql
        query = cache.get(len(rows))
        if query is None:
            query = cache[len(rows)] = (self._insert_many_new if new_stream else self._insert_many).format(
                rows=", ".join([self.row_placeholder] * len(rows))
            )
        params: list = []
        last_meta, meta_json = None, ""
        for event_id, event_type, schema_version, data, meta, version in rows:
            if meta is not last_meta:  # events of one append usually share it
                last_meta, meta_json = meta, dumps(meta).decode()
            params += (
                self.param_event_id(event_id),
                event_type,
                schema_version,
                dumps(data).decode(),
                meta_json,
                version,
            )
        params += (aggregate_type, agg, at)
        if not new_stream:
            params += (agg, expected_version)
        return query, params

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


class Postgres(Dialect):
    @staticmethod
    def json_text(key: str) -> str:
        """A top-level field of event_data as text (the form an index can match)."""
        return f"(event_data->>'{key}')"

    check = _PG_CHECK
    native_types = True
    json_placeholder = "%s::jsonb"
    row_placeholder = "(%s::uuid, %s, %s::int, %s::jsonb, %s::jsonb, %s::int)"
    one_row_select = "%s::uuid, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s"

    @staticmethod
    def any_of(column: str, values: list[int]) -> tuple[str, list]:
        # One parameter, so one query text however many values: psycopg
        # parses and the server plans it once (prepared), not per length.
        return f"{column} = ANY(%s::bigint[])", [list(values)]

    def fetch(self, connection, query: str, params) -> list[tuple]:
        """Run one statement on Django's connection (so it joins the caller's
        transaction) through a server-side-binding psycopg cursor, as a
        prepared statement: Django's default client-side cursor re-plans every
        statement, which doubles the cost of an append.

        The usual call (connected, the cursor made, the transaction sound,
        the connection's health checked in this request) checks that in one
        expression and converts errors only when one is raised: Django's own
        checks and its error wrapper cost a tenth of a short statement's
        client CPU."""
        cursor = getattr(connection, "_eventstore_cursor", None)
        if (
            not _reusable(cursor, connection)
            or connection.needs_rollback
            or (connection.health_check_enabled and not connection.health_check_done)
        ):
            # What Django's cursor() does first: CONN_HEALTH_CHECKS, once per
            # request or task; (re)connect; refuse a broken transaction.
            connection.close_if_health_check_failed()
            connection.ensure_connection()
            connection.validate_no_broken_transaction()
            cursor = raw_cursor(connection)
        try:
            cursor.execute(query, params, prepare=PREPARE)
            return rows_of(cursor)
        except Exception:
            with connection.wrap_database_errors:  # as Django's errors, the connection marked
                raise

    def ensure_primary(self, connection) -> None:
        """Raise ``ReadOnReplicaError`` if ``connection`` is to a standby.

        Asked once per database connection, not per read: the answer is
        remembered with the psycopg connection it was asked on, so a
        reconnect (perhaps to another server) asks again. A primary does not
        become a standby without a restart, which ends the connection."""
        connection.ensure_connection()
        raw = connection.connection
        if getattr(connection, "_eventstore_primary", None) is raw:
            return
        [(in_recovery,)] = self.fetch(connection, "SELECT pg_is_in_recovery()", [])
        if in_recovery:
            raise ReadOnReplicaError(connection.alias)
        connection._eventstore_primary = raw

    # Gap safety: only events of transactions older than the oldest one still
    # running are returned; no event can still appear before them in
    # (tx_id, position) order. Readers never block writers. Transaction ids
    # are cluster-wide, so the plain snapshot xmin would let a long
    # transaction in ANY database of the server hold the log back; those
    # running in another database (pg_stat_activity, looked at only when
    # something is running) cannot write these events and are left out.
    # Everything unknown (a hidden backend, a prepared transaction) still
    # counts: the error can only be a delay, never a skipped event.
    READABLE_BOUND = (
        "SELECT LEAST(pg_snapshot_xmax(snap.s), ("
        "SELECT MIN(x) FROM pg_snapshot_xip(snap.s) AS x WHERE x::xid NOT IN ("
        "SELECT a.backend_xid FROM pg_stat_activity AS a"
        " WHERE a.backend_xid IS NOT NULL AND a.datid IS NOT NULL"
        " AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))"
        "))::text::bigint FROM (SELECT pg_current_snapshot() AS s) AS snap"
    )
    _READ_ALL = (
        "SELECT {columns} FROM events"
        " WHERE (tx_id, position) > (%s, %s)"
        f" AND tx_id < ({READABLE_BOUND})"
        " ORDER BY tx_id, position LIMIT %s"
    )
    _READ_ALL_QUERIES = {
        True: _READ_ALL.format(columns=COLUMNS),
        False: _READ_ALL.format(columns=COLUMNS_NO_METADATA),
    }
    _READ_COMMITTED = (
        "SELECT {columns} FROM events WHERE (tx_id, position) > (%s, %s) ORDER BY tx_id, position LIMIT %s"
    )

    def read_all(self, after, limit, metadata=True, include_recent=False):
        if include_recent:
            query = self._READ_COMMITTED.format(columns=COLUMNS if metadata else COLUMNS_NO_METADATA)
            return query, [after.tx_id, after.position, limit]
        return self._READ_ALL_QUERIES[metadata], [after.tx_id, after.position, limit]

    @staticmethod
    def param_uuid(value: UUID) -> UUID:
        return value

    @staticmethod
    def to_uuid(value: UUID) -> UUID:
        return value

    @staticmethod
    def param_datetime(value: datetime) -> datetime:
        return value

    @staticmethod
    def to_datetime(value: datetime) -> datetime:
        return value

    @staticmethod
    def is_constraint_violation(exc: IntegrityError, name: str) -> bool:
        diag = getattr(exc.__cause__, "diag", None)
        return getattr(diag, "constraint_name", None) == name


class SQLite(Dialect):
    @staticmethod
    def json_text(key: str) -> str:
        return f"json_extract(event_data, '$.{key}')"

    """SQLite has one writer at a time, so position order is commit order."""

    _READ_ALL = "SELECT {columns} FROM events WHERE position > %s ORDER BY position LIMIT %s"
    _READ_ALL_QUERIES = {
        True: _READ_ALL.format(columns=COLUMNS),
        False: _READ_ALL.format(columns=COLUMNS_NO_METADATA),
    }

    def read_all(self, after, limit, metadata=True, include_recent=False):
        return self._READ_ALL_QUERIES[metadata], [after.position, limit]

    @staticmethod
    def param_uuid(value: UUID) -> str:
        return value.hex  # Django's UUIDField storage on SQLite

    @staticmethod
    def to_uuid(value: str) -> UUID:
        return UUID(value)

    @staticmethod
    def param_datetime(value: datetime) -> str:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")

    @staticmethod
    def to_datetime(value: datetime | str) -> datetime:
        # Django registers a converter for "datetime" columns; raw text is
        # possible only for rows written by other tools.
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)

    @staticmethod
    def is_constraint_violation(exc: IntegrityError, name: str) -> bool:
        return "events.aggregate_id, events.version" in str(exc)


TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
FAST_TIMESTAMPTZ = psycopg.postgres.adapters.get_loader(TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)

# Ask for prepared statements; psycopg honours it when the connection has a
# prepare_threshold (settings.py sets one unless DB_PREPARED_STATEMENTS=false).
PREPARE = True


_TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK


def rows_of(cursor: psycopg.Cursor) -> list[tuple]:
    """The rows of the statement ``cursor`` just ran ([] for one that returns
    none). Asks the result's status: ``cursor.description`` would build a
    Column object per column on every call, a third of a short query's CPU."""
    result = cursor.pgresult
    return cursor.fetchall() if result is not None and result.status == _TUPLES_OK else []


def raw_cursor(connection) -> psycopg.Cursor:
    """A server-side-binding psycopg cursor on a Django PostgreSQL connection
    (so it joins Django's transaction), reused per connection: creating a
    psycopg cursor costs about as much CPU as the rest of an append. Django
    connections are per thread, so the cursor is too. Call it after
    ``ensure_connection()``, and run statements on it inside
    ``connection.wrap_database_errors`` (or convert errors as ``fetch``
    does), so they raise Django's exceptions."""
    cursor = getattr(connection, "_eventstore_cursor", None)
    if not _reusable(cursor, connection):
        cursor = psycopg.Cursor(connection.connection)
        # Django loads timestamptz through a Python loader; psycopg's own (in
        # C, UTC on Django's connections) is ~10x faster per row.
        cursor.adapters.register_loader(TIMESTAMPTZ_OID, FAST_TIMESTAMPTZ)
        connection._eventstore_cursor = cursor
    return cursor


def _reusable(cursor: psycopg.Cursor | None, connection) -> bool:
    """Whether ``cursor`` is open on the psycopg connection Django's
    ``connection`` has now (a reconnect makes a new one)."""
    return cursor is not None and cursor.connection is connection.connection and not cursor.closed


_POSTGRES = Postgres()
_SQLITE = SQLite()


def dialect_for(connection) -> Dialect:
    if connection.vendor == "postgresql":
        return _POSTGRES
    if connection.vendor == "sqlite":
        return _SQLITE
    raise NotImplementedError(f"the event store does not support {connection.vendor}")


def stream_rows(connection, after, batch: int, metadata: bool, until=None, types=None):
    """The rows of every event after ``after`` readable now, gap-safe, as
    lists of ``batch``: a server-side cursor in a read-only REPEATABLE READ
    transaction on a connection of its own (it takes no transaction id, so
    it holds back no reader of the log). With ``until`` (a cut's checkpoint,
    eventstore.cut), those up to it instead; with ``types``, only events of
    those types."""
    params = {**connection.get_connection_params(), "prepare_threshold": None}
    columns = COLUMNS if metadata else COLUMNS_NO_METADATA
    where, args = "(tx_id, position) > (%s, %s)", [after.tx_id, after.position]
    if until is None:
        where += f" AND tx_id < ({Postgres.READABLE_BOUND})"
    else:
        where, args = where + " AND (tx_id, position) <= (%s, %s)", [*args, until.tx_id, until.position]
    if types is not None:
        where, args = where + " AND event_type = ANY(%s)", [*args, sorted(types)]
    with psycopg.connect(**params) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction(), conn.cursor(name="eventstore_stream") as cursor:
            # Times in UTC as on Django's connections (LOCAL: this may be a
            # pooled server connection).
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            cursor.adapters.register_loader(TIMESTAMPTZ_OID, FAST_TIMESTAMPTZ)
            cursor.itersize = batch
            cursor.execute(f"SELECT {columns} FROM events WHERE {where} ORDER BY tx_id, position", args)
            while rows := cursor.fetchmany(batch):
                yield rows
