"""Append, load and follow events.

Every statement here is plain SQL on Django's connection, so an append joins
the caller's transaction when there is one (a command handler storing its
idempotency record beside the events) and is a single atomic statement when
there is not.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import orjson
from django.db import IntegrityError, connections

from eventstore import sql
from eventstore.errors import ConcurrencyError
from eventstore.metadata import build_metadata
from eventstore.registry import EventTypeRegistry
from eventstore.registry import registry as default_registry
from eventstore.types import (
    NEW_STREAM,
    START,
    AppendResult,
    GlobalPosition,
    NewEvent,
    RecordedEvent,
    Snapshot,
)

_VERSION_CONSTRAINT = "events_aggregate_version_uniq"


class EventStore:
    """The event store on one database alias."""

    def __init__(self, using: str = "default", registry: EventTypeRegistry | None = None):
        self.using = using
        self.registry = registry or default_registry

    @property
    def _connection(self):
        return connections[self.using]

    @property
    def _dialect(self) -> sql.Dialect:
        return sql.dialect_for(self._connection)

    # -- writing -----------------------------------------------------------

    def append(
        self,
        aggregate_type: str,
        aggregate_id: UUID,
        events: Sequence[NewEvent],
        expected_version: int,
    ) -> AppendResult:
        """Append ``events`` to one stream, atomically, if the stream is at
        ``expected_version`` (``NEW_STREAM`` = 0 for a stream that must not exist).

        Raises ``ConcurrencyError`` (nothing stored) when the stream is at any
        other version, ``UnknownEventTypeError`` / ``EventSchemaError`` when an
        event is not registered or its data does not match its schema.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < NEW_STREAM:
            raise ValueError("expected_version must be 0 (new stream) or a stream version")
        validate = self.registry.validate
        now = datetime.now(UTC)
        rows = []
        for offset, event in enumerate(events, start=1):
            schema_version = validate(event.event_type, event.data)
            rows.append(
                (
                    event.event_id,
                    event.event_type,
                    schema_version,
                    event.data,
                    build_metadata(event.metadata, now),
                    expected_version + offset,
                )
            )
        dialect = self._dialect
        query, params = dialect.append(aggregate_type, aggregate_id, rows, expected_version, now)
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(query, params)
                written = cursor.fetchall()
        except IntegrityError as exc:
            if dialect.is_constraint_violation(exc, _VERSION_CONSTRAINT):
                raise ConcurrencyError(aggregate_id, expected_version) from exc
            raise
        if not written:
            raise ConcurrencyError(aggregate_id, expected_version, self.stream_version(aggregate_id))
        position, tx_id = max(written)
        return AppendResult(version=expected_version + len(events), position=position, tx_id=tx_id)

    # -- reading one stream ------------------------------------------------

    def stream_version(self, aggregate_id: UUID) -> int:
        """The stream's current version, 0 when it does not exist."""
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_id = %s",
                [self._dialect.param_uuid(aggregate_id)],
            )
            return cursor.fetchone()[0]

    def load(
        self,
        aggregate_id: UUID,
        *,
        after_version: int = 0,
        up_to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[RecordedEvent]:
        """A stream's events in version order: those after ``after_version``,
        up to ``up_to_version`` and recorded at or before ``until`` (a temporal
        query: the stream as it was at that moment)."""
        dialect = self._dialect
        clauses = ["aggregate_id = %s", "version > %s"]
        params: list = [dialect.param_uuid(aggregate_id), after_version]
        if up_to_version is not None:
            clauses.append("version <= %s")
            params.append(up_to_version)
        if until is not None:
            clauses.append("created_at <= %s")
            params.append(dialect.param_datetime(until))
        query = f"SELECT {sql.COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY version"
        with self._connection.cursor() as cursor:
            cursor.execute(query, params)
            return self._decode(cursor.fetchall())

    # -- the global log ----------------------------------------------------

    def read_all(self, after: GlobalPosition = START, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after``, in global order, gap-safe.

        On PostgreSQL an event is returned only once every transaction that
        could still commit an event ordered before it has finished, so a
        reader that checkpoints the last event it saw never skips one. Events
        are ordered by (transaction id, position); pass the last event's
        ``global_position`` as the next ``after``.
        """
        query, params = self._dialect.read_all(after, limit)
        with self._connection.cursor() as cursor:
            cursor.execute(query, params)
            return self._decode(cursor.fetchall())

    def global_position_of(self, position: int) -> GlobalPosition | None:
        """The global-order key of the event at ``position`` (a consistency
        token handed out by ``append``), or None if there is no such event."""
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT tx_id, position FROM events WHERE position = %s", [position])
            row = cursor.fetchone()
        return GlobalPosition(*row) if row else None

    # -- snapshots ---------------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store a snapshot; saving one that exists already is a no-op."""
        dialect = self._dialect
        with self._connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO snapshots"
                " (aggregate_id, aggregate_type, version, schema_version, state, created_at)"
                f" VALUES (%s, %s, %s, %s, {dialect.json_placeholder}, %s)"
                " ON CONFLICT (aggregate_id, version) DO NOTHING",
                [
                    dialect.param_uuid(snapshot.aggregate_id),
                    snapshot.aggregate_type,
                    snapshot.version,
                    snapshot.schema_version,
                    orjson.dumps(snapshot.state).decode(),
                    dialect.param_datetime(dialect.now()),
                ],
            )

    def load_snapshot(
        self, aggregate_id: UUID, *, max_version: int | None = None, schema_version: int | None = None
    ) -> Snapshot | None:
        """The latest snapshot at or below ``max_version``; with ``schema_version``
        only snapshots written in that state format count."""
        dialect = self._dialect
        clauses = ["aggregate_id = %s"]
        params: list = [dialect.param_uuid(aggregate_id)]
        if max_version is not None:
            clauses.append("version <= %s")
            params.append(max_version)
        if schema_version is not None:
            clauses.append("schema_version = %s")
            params.append(schema_version)
        with self._connection.cursor() as cursor:
            cursor.execute(
                "SELECT aggregate_id, aggregate_type, version, schema_version, state, created_at"
                f" FROM snapshots WHERE {' AND '.join(clauses)} ORDER BY version DESC LIMIT 1",
                params,
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return Snapshot(
            aggregate_id=dialect.to_uuid(row[0]),
            aggregate_type=row[1],
            version=row[2],
            schema_version=row[3],
            state=orjson.loads(row[4]),
            created_at=dialect.to_datetime(row[5]),
        )

    def load_from_snapshot(
        self, aggregate_id: UUID, *, schema_version: int | None = None
    ) -> tuple[Snapshot | None, list[RecordedEvent]]:
        """The latest snapshot and the events after it: everything needed to
        rebuild the current state without replaying the whole stream."""
        snapshot = self.load_snapshot(aggregate_id, schema_version=schema_version)
        events = self.load(aggregate_id, after_version=snapshot.version if snapshot else 0)
        return snapshot, events

    # -- decoding ----------------------------------------------------------

    def _decode(self, rows: list[tuple]) -> list[RecordedEvent]:
        current_versions = self.registry.current_versions
        upcast = self.registry.upcast
        to_uuid = self._dialect.to_uuid
        to_datetime = self._dialect.to_datetime
        loads = orjson.loads
        out = []
        append = out.append
        for position, tx_id, event_id, agg_type, agg_id, event_type, stored, data, meta, version, at in rows:
            data = loads(data)
            current = current_versions.get(event_type, stored)
            if stored != current:
                data = upcast(event_type, stored, data)
            append(
                RecordedEvent(
                    position,
                    tx_id,
                    to_uuid(event_id),
                    agg_type,
                    to_uuid(agg_id),
                    event_type,
                    current,
                    data,
                    loads(meta),
                    version,
                    to_datetime(at),
                    stored,
                )
            )
        return out
