"""Rows of the events table into ``RecordedEvent``s: the hot loop of every
replay, catch-up and rebuild."""

from types import MappingProxyType

import orjson

from eventstore.types import RecordedEvent

NO_METADATA = MappingProxyType({})


def decode_rows(registry, dialect, rows: list[tuple]) -> list[RecordedEvent]:
    """One comprehension, the tuple built directly, upcasting only for rows
    stored at an older schema version."""
    current = registry.current_versions
    upcast = registry.upcast
    loads = orjson.loads
    new = tuple.__new__
    cls = RecordedEvent
    if dialect.native_types:
        return [
            new(
                cls,
                (
                    pos, tx, eid, agg_type, agg_id, etype, current.get(etype, sv),
                    loads(data) if sv == current.get(etype, sv) else upcast(etype, sv, loads(data)),
                    loads(meta) if meta is not None else NO_METADATA, version, at, sv,
                ),
            )
            for pos, tx, eid, agg_type, agg_id, etype, sv, data, meta, version, at in rows
        ]  # fmt: skip
    to_uuid, to_datetime = dialect.to_uuid, dialect.to_datetime
    return [
        new(
            cls,
            (
                pos, tx, to_uuid(eid), agg_type, to_uuid(agg_id), etype, current.get(etype, sv),
                loads(data) if sv == current.get(etype, sv) else upcast(etype, sv, loads(data)),
                loads(meta) if meta is not None else NO_METADATA, version, to_datetime(at), sv,
            ),
        )
        for pos, tx, eid, agg_type, agg_id, etype, sv, data, meta, version, at in rows
    ]  # fmt: skip
