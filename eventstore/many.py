"""Reads of several streams at once: whole streams in one query, and a
stream with the events of other streams that name it. Part of EventStore."""

import re
from collections.abc import Iterable
from uuid import UUID

import orjson

from eventstore import sql
from eventstore.types import RecordedEvent, Snapshot

_KEY_ROW = -1  # the position of a row that carries a data key, not an event


def load_sql(pg: bool, *, with_schema_version: bool, others: int = 0, keys: bool = False) -> str:
    """One statement: the latest snapshot (as a row with position 0) and
    the stream's events after it; with ``others``, also every event of
    that many more streams (their ids follow), each stream's events
    together in version order; with ``keys`` (PostgreSQL), also the data
    keys their envelopes need (personal event types' top-level values, a
    snapshot's personal values; the types are the last parameter), as
    rows of the same shape: position -1, the key id as event_type, the
    master key's id as aggregate_type, the wrapped key as event_data."""
    uuid, json = ("::uuid", "::jsonb") if pg else ("", "")
    snapshot = (
        "WITH s AS (SELECT aggregate_type, version, schema_version, state, created_at FROM snapshots"
        f" WHERE aggregate_id = %s{' AND schema_version = %s' if with_schema_version else ''}"
        " ORDER BY version DESC LIMIT 1)"
    )
    snapshot_row = (
        f"SELECT 0, 0, NULL{uuid}, s.aggregate_type, NULL{uuid}, '', s.schema_version, s.state,"
        f" NULL{json}, s.version, s.created_at FROM s"
    )
    events = (
        f"SELECT {sql.COLUMNS} FROM events"
        " WHERE aggregate_id = %s AND version > COALESCE((SELECT version FROM s), 0)"
    )
    if others:
        in_list = ", ".join(["%s"] * others)
        events += f" UNION ALL SELECT {sql.COLUMNS} FROM events WHERE aggregate_id IN ({in_list})"
    # Rows without a stream (the snapshot, keys) first, then stream by stream.
    order = " ORDER BY 5 NULLS FIRST, 10" if others else " ORDER BY 10"
    if not keys:
        return f"{snapshot} {snapshot_row} UNION ALL {events}{order}"
    envelopes = "jsonb_typeof(x.v) = 'object' AND x.v ? '$pii'"
    key_rows = (
        " UNION ALL SELECT -1, 0, NULL::uuid, k.kek_id, NULL::uuid, k.key_id, 0, to_jsonb(k.wrapped_key),"
        # ANY(ARRAY(...)): the few ids first, then the key_id index (whatever the table's size).
        " NULL::jsonb, 0, k.created_at FROM personal_data_keys k WHERE k.key_id = ANY(ARRAY("
        "SELECT x.v->>'kid' FROM e, jsonb_each(CASE WHEN jsonb_typeof(e.event_data) = 'object'"
        f" THEN e.event_data ELSE '{{}}' END) AS x(n, v) WHERE e.event_type = ANY(%s) AND {envelopes}"
        " UNION SELECT x.v->>'kid' FROM s, jsonb_each(CASE WHEN jsonb_typeof(s.state->'$personal'->'values')"
        f" = 'object' THEN s.state->'$personal'->'values' ELSE '{{}}' END) AS x(n, v) WHERE {envelopes}))"
    )
    return f"{snapshot}, e AS ({events}) {snapshot_row} UNION ALL SELECT * FROM e{key_rows}{order}"


class ManyStreamReads:
    """Mixed into EventStore (which provides ``_dialect``, ``_connection``,
    ``_read_connection``, ``decode`` and, from Snapshots, ``_revealed``)."""

    def load_with_streams(
        self, aggregate_id: UUID, other_ids: Iterable[UUID], *, schema_version: int | None = None
    ) -> tuple[Snapshot | None, list[RecordedEvent], dict[UUID, list[RecordedEvent]]]:
        """``load_from_snapshot`` of one stream and, in the same statement,
        the whole streams ``other_ids`` as ``load_streams`` reads them: what
        a command deciding on one aggregate and a few small others reads (an
        order and the catalogue entries of the lines it adds), in one round trip."""
        others = [i for i in dict.fromkeys(other_ids) if i != aggregate_id]
        dialect = self._dialect
        agg = dialect.param_uuid(aggregate_id)
        params = [agg, schema_version, agg] if schema_version is not None else [agg, agg]
        params += [dialect.param_uuid(i) for i in others]
        connection = self._read_connection
        # The data keys the personal fields read need, in the same
        # statement (only on the primary: where a forget deletes them).
        types = sorted(self.registry.personal_types)
        keys = bool(types) and dialect.native_types and connection is self._connection
        query = load_sql(
            dialect.native_types,
            with_schema_version=schema_version is not None,
            others=len(others),
            keys=keys,
        )
        if keys:
            params.append(types)
        rows = dialect.fetch(connection, query, params)
        known = None
        if keys:  # every key the envelopes read name, if it still exists
            known = {}
            if key_rows := [row for row in rows if row[0] == _KEY_ROW]:
                # The master key only when there is personal data to read: a
                # product or an order without any needs none.
                unwrap = self.personal.ring.unwrap
                known = {row[5]: unwrap(row[3], row[5], orjson.loads(row[7])) for row in key_rows}
                rows = [row for row in rows if row[0] != _KEY_ROW]
        snapshot = None
        if rows and rows[0][0] == 0:  # the snapshot row; events have positions >= 1
            _, _, _, agg_type, _, _, snap_schema, state, _, version, at = rows.pop(0)
            snapshot = self._revealed(
                Snapshot(
                    aggregate_id=aggregate_id,
                    aggregate_type=agg_type,
                    version=version,
                    schema_version=snap_schema,
                    state=orjson.loads(state),
                    created_at=dialect.to_datetime(at),
                ),
                known,
            )
        events = self.decode(rows, known)
        if not others:
            return snapshot, events, {}
        found: dict[UUID, list[RecordedEvent]] = {other: [] for other in others}
        tail = []
        for event in events:
            (tail if event.aggregate_id == aggregate_id else found[event.aggregate_id]).append(event)
        return snapshot, tail, found

    def load_streams(self, aggregate_ids) -> dict[UUID, list[RecordedEvent]]:
        """Several whole streams in one query: ``{id: events in version
        order}``, with an empty list for an id that has no events. For deciding
        on a handful of small streams at once (the catalogue entries an
        order's lines name); it reads no snapshots."""
        ids = list(dict.fromkeys(aggregate_ids))
        found: dict[UUID, list[RecordedEvent]] = {aggregate_id: [] for aggregate_id in ids}
        if not ids:
            return found
        dialect = self._dialect
        placeholders = ", ".join(["%s"] * len(ids))
        query = (
            f"SELECT {sql.COLUMNS} FROM events WHERE aggregate_id IN ({placeholders})"
            " ORDER BY aggregate_id, version"
        )
        rows = dialect.fetch(self._connection, query, [dialect.param_uuid(i) for i in ids])
        for event in self.decode(rows):
            found[event.aggregate_id].append(event)
        return found

    def load_with_related(
        self, aggregate_id: UUID, *, related_type: str, data_key: str
    ) -> list[RecordedEvent]:
        """One stream's events and the events of ``related_type`` streams
        whose data names it (``data[data_key] == str(aggregate_id)``), in
        global order: e.g. an order and the stock events made for it."""
        if not re.fullmatch(r"[a-z_]{1,40}", data_key) or not re.fullmatch(r"[A-Za-z]{1,60}", related_type):
            raise ValueError("data_key and related_type must be plain names")
        dialect = self._dialect
        field = dialect.json_text(data_key)
        agg = dialect.param_uuid(aggregate_id)
        query = (
            f"SELECT {sql.COLUMNS} FROM events WHERE aggregate_id = %s"
            # Literal names (checked above), so a partial expression index can serve it.
            f" UNION ALL SELECT {sql.COLUMNS} FROM events"
            f" WHERE aggregate_type = '{related_type}' AND {field} = %s"
            " ORDER BY 2, 1"
        )
        rows = dialect.fetch(self._connection, query, [agg, str(aggregate_id)])
        return self.decode(rows)
