"""Append, load and follow events.

Every statement here is plain SQL on Django's connection, so an append joins
the caller's transaction when there is one (a command handler storing its
idempotency record beside the events) and is a single atomic statement when
there is not.
"""

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from functools import partial
from uuid import UUID, uuid4

import orjson
from django.db import IntegrityError, connections, router, transaction

from eventstore import clock, hooks, personal, sealing, sql
from eventstore.decoding import decode_rows
from eventstore.errors import ConcurrencyError
from eventstore.many import ManyStreamReads
from eventstore.metadata import build_metadata
from eventstore.registry import EventTypeRegistry
from eventstore.registry import registry as default_registry
from eventstore.snapshots import Snapshots
from eventstore.types import (
    NEW_STREAM,
    START,
    AppendResult,
    GlobalPosition,
    NewEvent,
    RecordedEvent,
)

_VERSION_CONSTRAINT = "events_aggregate_version_uniq"


class EventStore(ManyStreamReads, Snapshots):
    """The event store on one database alias."""

    def __init__(self, using: str | None = None, registry: EventTypeRegistry | None = None):
        """Without ``using``, writes and the global log use the primary, other
        reads go where the router sends them (a replica in a read request)."""
        self.using = using or "default"
        self._read_alias = using
        self.registry = registry or default_registry
        self._dialect_cache: sql.Dialect | None = None
        self.personal = personal.PersonalData(self.using)

    @property
    def _connection(self):
        return connections[self.using]

    @property
    def _read_connection(self):
        if self._read_alias is not None:
            return connections[self._read_alias]
        if not router.routers:  # no replicas: the usual case, and the command path
            return connections["default"]
        from eventstore.models import Event  # the app registry is ready by the first read

        return connections[router.db_for_read(Event) or "default"]

    @property
    def _dialect(self) -> sql.Dialect:
        if self._dialect_cache is None:
            self._dialect_cache = sql.dialect_for(connections[self.using])
        return self._dialect_cache

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
        personal_types = self.registry.personal_types
        personal = personal_types and any(e.event_type in personal_types for e in events)
        if personal and self._dialect.native_types:
            # PostgreSQL: the events and any new data key in one statement
            # that checks the keys it sealed with (eventstore.sealing).
            return sealing.append(self, aggregate_type, aggregate_id, events, expected_version)
        if personal and not self._connection.in_atomic_block:
            # A subject's first data key and the events it encrypts commit
            # together (one commit, and no key without its events).
            with transaction.atomic(using=self.using):
                return self._append(aggregate_type, aggregate_id, events, expected_version)
        return self._append(aggregate_type, aggregate_id, events, expected_version)

    def _append(self, aggregate_type, aggregate_id, events, expected_version, keys=None) -> AppendResult:
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < NEW_STREAM:
            raise ValueError("expected_version must be 0 (new stream) or a stream version")
        validate = self.registry.validate
        personal_types = self.registry.personal_types
        now = clock.now()
        # Events without metadata of their own share one dict (written once).
        shared = build_metadata(None, now)
        rows = []
        for offset, event in enumerate(events, start=1):
            schema_version = validate(event.event_type, event.data)
            event_id, data = event.event_id, event.data
            if event.event_type in personal_types and (
                spec := self.registry.personal_fields(event.event_type)
            ):
                # Personal fields are stored encrypted under their subject's
                # key, bound to the event's id (drawn here for that).
                event_id = event_id or uuid4()
                data = personal.seal_event(self.personal, spec, data, event_id, keys and keys.keys)
            rows.append(
                (
                    event_id,
                    event.event_type,
                    schema_version,
                    data,
                    build_metadata(event.metadata, now) if event.metadata else shared,
                    expected_version + offset,
                )
            )
        dialect = self._dialect
        if keys is None:
            query, params = dialect.append(aggregate_type, aggregate_id, rows, expected_version, now)
        else:
            query, params = sealing.append_statement(
                dialect, aggregate_type, aggregate_id, rows, expected_version, now, keys
            )
        connection = self._connection
        try:
            written = dialect.fetch(connection, query, params)
        except IntegrityError as exc:
            if dialect.is_constraint_violation(exc, _VERSION_CONSTRAINT):
                raise ConcurrencyError(aggregate_id, expected_version) from exc
            raise
        if not written:
            valid = keys is None or sealing.still_valid(self.personal, keys)  # first: it mends the cache
            actual = self.stream_version(aggregate_id)
            if not valid or (keys is not None and actual == expected_version):
                # A key, or the database's master check, refused it (the
                # check may have been written since): seal again.
                raise sealing.KeysChanged()
            raise ConcurrencyError(aggregate_id, expected_version, actual)
        if keys is not None and keys.new:
            connection.on_commit(lambda: sealing.appended(self.personal, keys))
        position, tx_id, _ = max(written)
        if hooks.append_listeners:
            clear = [(*row[:3], event.data, *row[4:]) for row, event in zip(rows, events, strict=True)]
            recorded = self._recorded(aggregate_type, aggregate_id, clear, sorted(written), now)
            for listener in hooks.append_listeners:
                listener(recorded, self.using)
        if hooks.append_observers or hooks.commit_listeners:
            # On the connection in hand: looking a connection up by alias
            # costs more than the counting does.
            appended = GlobalPosition(tx_id, position)
            if connection.in_atomic_block or not connection.autocommit:
                connection.on_commit(partial(_committed, self.using, aggregate_type, events, appended))
            else:  # committed already (what on_commit does, less its checks)
                _committed(self.using, aggregate_type, events, appended)
        return AppendResult(version=expected_version + len(events), position=position, tx_id=tx_id)

    def _recorded(self, aggregate_type, aggregate_id, rows, written, created_at) -> list[RecordedEvent]:
        to_uuid = self._dialect.to_uuid
        return [
            RecordedEvent(
                position, tx_id, to_uuid(event_id), aggregate_type, aggregate_id, event_type,
                schema_version, data, meta, version, created_at, schema_version,
            )
            for (position, tx_id, event_id), (_, event_type, schema_version, data, meta, version) in zip(
                written, rows, strict=True
            )
        ]  # fmt: skip

    # -- reading one stream ------------------------------------------------

    def stream_version(self, aggregate_id: UUID) -> int:
        """The stream's current version, 0 when it does not exist."""
        dialect = self._dialect
        [(version,)] = dialect.fetch(
            self._read_connection,
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE aggregate_id = %s",
            [dialect.param_uuid(aggregate_id)],
        )
        return version

    def load(
        self,
        aggregate_id: UUID,
        *,
        after_version: int = 0,
        up_to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[RecordedEvent]:
        """A stream's events in version order: those after ``after_version``,
        up to ``up_to_version`` and, with ``until``, as the stream was at that
        moment (a temporal query).

        ``until`` cuts the stream before its first event (in version order)
        recorded after that moment, so the answer is always a prefix of the
        stream. ``created_at`` comes from the writing server's clock and may go
        backwards within a stream (skew between servers, an NTP step); filtering
        on it alone could return v1 and v3 without v2, a state that never was.
        """
        dialect = self._dialect
        agg = dialect.param_uuid(aggregate_id)
        clauses = ["aggregate_id = %s", "version > %s"]
        params: list = [agg, after_version]
        if up_to_version is not None:
            clauses.append("version <= %s")
            params.append(up_to_version)
        if until is not None:
            # Uncorrelated, so evaluated once per statement, not per row.
            clauses.append(
                "version < COALESCE((SELECT MIN(later.version) FROM events later"
                " WHERE later.aggregate_id = %s AND later.created_at > %s), version + 1)"
            )
            params += (agg, dialect.param_datetime(until))
        query = f"SELECT {sql.COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY version"
        return self.decode(dialect.fetch(self._read_connection, query, params))

    # -- the global log ----------------------------------------------------

    def read_all(
        self,
        after: GlobalPosition = START,
        limit: int = 1000,
        *,
        metadata: bool = True,
        include_recent: bool = False,
        fresh_transaction: bool = False,
    ) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after``, in global order, gap-safe.

        On PostgreSQL an event is returned only once every transaction that
        could still commit an event ordered before it has finished, so a
        reader that checkpoints the last event it saw never skips one. Events
        are ordered by (transaction id, position); pass the last event's
        ``global_position`` as the next ``after``. With ``metadata=False``
        events carry an empty, read-only metadata mapping (cheaper to read).

        ``include_recent=True`` drops the gap-safety filter and returns every
        committed event: only correct when the caller knows no writer it cares
        about is still in flight (e.g. they all hold a lock it now holds).
        ``fresh_transaction=True``: the caller's transaction has not looked
        at the server's activity yet (saves a statement). Raises
        ``ReadOnReplicaError`` on a standby, whose snapshots do not show the
        primary's running transactions: the log is followed on the primary.
        """
        dialect = self._dialect
        query, params = dialect.read_all(after, limit, metadata, include_recent)
        connection = self._connection
        dialect.ensure_primary(connection)
        pg = connection.vendor == "postgresql"
        if pg and not include_recent and not fresh_transaction and connection.in_atomic_block:
            # PostgreSQL keeps the pg_stat_activity it read for the rest of a
            # transaction; the bound must see the backends as they are now.
            dialect.fetch(self._connection, "SELECT pg_stat_clear_snapshot()", [])
        return self.decode(dialect.fetch(self._connection, query, params))

    def stream_all(
        self,
        after: GlobalPosition = START,
        *,
        batch: int = 5000,
        metadata: bool = False,
        until: GlobalPosition | None = None,
        types: Collection[str] | None = None,
    ) -> Iterator[list[RecordedEvent]]:
        """Every event after ``after`` readable now (or up to a cut's ``until``;
        of ``types`` only, if given), gap-safe, in batches, for a rebuild: one
        snapshot on a connection of its own (``sql.stream_rows``), flat memory."""
        if (connection := self._connection).vendor == "postgresql":
            self._dialect.ensure_primary(connection)
            yield from map(self.decode, sql.stream_rows(connection, after, batch, metadata, until, types))
            return
        if until is not None or types is not None:
            raise NotImplementedError("reading up to a cut, or by type, needs PostgreSQL")
        while events := self.read_all(after, batch, metadata=metadata, include_recent=True):
            yield events
            after = events[-1].global_position

    def with_metadata(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """``events`` read without metadata, with it (one query)."""
        if not events:
            return events
        dialect = self._dialect
        clause, params = dialect.any_of("position", [e.position for e in events])
        rows = dialect.fetch(
            self._read_connection, f"SELECT position, metadata FROM events WHERE {clause}", params
        )
        metadata = {position: orjson.loads(meta) for position, meta in rows}
        return [e._replace(metadata=metadata[e.position]) for e in events]

    def global_position_of(self, position: int) -> GlobalPosition | None:
        """The global-order key of the event at ``position`` (a consistency
        token handed out by ``append``), or None if there is no such event."""
        rows = self._dialect.fetch(
            self._read_connection, "SELECT tx_id, position FROM events WHERE position = %s", [position]
        )
        return GlobalPosition(*rows[0]) if rows else None

    # -- decoding ----------------------------------------------------------

    def decode(self, rows: list[tuple], known=None) -> list[RecordedEvent]:
        """Rows of ``sql.COLUMNS`` (or ``COLUMNS_NO_METADATA``) as events."""
        events = self._decode_rows(rows)
        if self.registry.personal_types:
            # Personal fields come back decrypted, or ERASED once their subject's
            # key is gone: one query per read (none when it brought the keys: ``known``).
            return personal.reveal_events(self.personal, events, self.registry.personal_types, known)
        return events

    def _decode_rows(self, rows: list[tuple]) -> list[RecordedEvent]:
        return decode_rows(self.registry, self._dialect, rows)


def _committed(using, aggregate_type, events, appended) -> None:
    """An append has committed: its observers, then its commit listeners."""
    for observer in hooks.append_observers:
        observer(aggregate_type, events, using)
    for listener in hooks.commit_listeners:
        listener(using, appended)
