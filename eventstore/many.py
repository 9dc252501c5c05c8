"""Reads of several streams at once: whole streams in one query, and a
stream with the events of other streams that name it. Part of EventStore."""

import re
from collections.abc import Iterable
from uuid import UUID

import orjson

from eventstore import sql
from eventstore.types import RecordedEvent, Snapshot


class ManyStreamReads:
    """Mixed into EventStore (which provides ``_dialect``, ``_connection``,
    ``_read_connection``, ``_decode`` and ``_revealed``)."""

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
        query = sql.load_from_snapshot_sql(
            dialect, with_schema_version=schema_version is not None, others=len(others)
        )
        params = [agg, schema_version, agg] if schema_version is not None else [agg, agg]
        params += [dialect.param_uuid(i) for i in others]
        rows = dialect.fetch(self._read_connection, query, params)
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
                )
            )
        events = self._decode(rows)
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
        for event in self._decode(rows):
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
        return self._decode(rows)
