"""The SQL that differs between PostgreSQL and SQLite, in one place."""

from datetime import UTC, datetime
from uuid import UUID

import orjson
from django.db import IntegrityError

COLUMNS = (
    "position, tx_id, event_id, aggregate_type, aggregate_id, event_type,"
    " schema_version, event_data, metadata, version, created_at"
)

_INSERT = (
    "WITH v (event_id, event_type, schema_version, event_data, metadata, version) AS (VALUES {rows})"
    " INSERT INTO events (event_id, aggregate_type, aggregate_id, event_type, schema_version,"
    " event_data, metadata, version, created_at)"
    " SELECT v.event_id, %s, %s, v.event_type, v.schema_version, v.event_data, v.metadata, v.version, %s"
    " FROM v"
    # The expected-version check: no rows are inserted unless the stream is
    # exactly where the writer thinks it is. A concurrent writer that passed
    # the same check loses on the UNIQUE (aggregate_id, version) index.
    " WHERE (SELECT COALESCE(MAX(e.version), 0) FROM events e WHERE e.aggregate_id = %s) = %s"
    " RETURNING position, tx_id"
)


class Dialect:
    json_placeholder = "%s"
    row_placeholder = "(%s, %s, %s, %s, %s, %s)"

    def __init__(self):
        self._insert_sql: dict[int, str] = {}

    def append(self, aggregate_type, aggregate_id, rows, expected_version, created_at):
        query = self._insert_sql.get(len(rows))
        if query is None:
            query = _INSERT.format(rows=", ".join([self.row_placeholder] * len(rows)))
            self._insert_sql[len(rows)] = query
        params: list = []
        uuid = self.param_uuid
        for event_id, event_type, schema_version, data, meta, version in rows:
            params += (
                uuid(event_id),
                event_type,
                schema_version,
                orjson.dumps(data).decode(),
                orjson.dumps(meta).decode(),
                version,
            )
        agg = uuid(aggregate_id)
        params += (aggregate_type, agg, self.param_datetime(created_at), agg, expected_version)
        return query, params

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


class Postgres(Dialect):
    json_placeholder = "%s::jsonb"
    row_placeholder = "(%s::uuid, %s, %s::int, %s::jsonb, %s::jsonb, %s::int)"

    # Gap safety: only events of transactions older than the oldest one still
    # running (the snapshot's xmin) are returned; no event can still appear
    # before them in (tx_id, position) order. Readers never block writers.
    _READ_ALL = (
        f"SELECT {COLUMNS} FROM events"
        " WHERE (tx_id, position) > (%s, %s)"
        " AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"
        " ORDER BY tx_id, position LIMIT %s"
    )

    def read_all(self, after, limit):
        return self._READ_ALL, [after.tx_id, after.position, limit]

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
    """SQLite has one writer at a time, so position order is commit order."""

    _READ_ALL = f"SELECT {COLUMNS} FROM events WHERE position > %s ORDER BY position LIMIT %s"

    def read_all(self, after, limit):
        return self._READ_ALL, [after.position, limit]

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


_POSTGRES = Postgres()
_SQLITE = SQLite()


def dialect_for(connection) -> Dialect:
    if connection.vendor == "postgresql":
        return _POSTGRES
    if connection.vendor == "sqlite":
        return _SQLITE
    raise NotImplementedError(f"the event store does not support {connection.vendor}")
