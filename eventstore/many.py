"""Reads of several streams at once: whole streams in one query, and a
stream with the events of other streams that name it. Part of EventStore."""

import re
from uuid import UUID

from eventstore import sql
from eventstore.types import RecordedEvent


class ManyStreamReads:
    """Mixed into EventStore (which provides ``_dialect``, ``_connection``
    and ``_decode``)."""

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
