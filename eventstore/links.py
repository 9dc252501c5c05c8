"""Events that also belong to other streams.

An event type may name data fields that hold another stream's id
(``EventTypeRegistry.register(..., links=...)``): each such event is
recorded in ``event_links`` against that stream, by the statement that
appends it, and ``load_linked`` reads a stream together with the events
linked to it (the per-order trace: an order and the stock events made for
it). A primary key serves that read; an index on the events' data would
cost every append, linking or not. A field that does not hold a UUID links
nothing."""

from uuid import UUID

# PostgreSQL: the links are written by the appending statement itself.
_WITH_LINKS = (
    "WITH appended AS ({append}), linked AS ("
    "INSERT INTO event_links (stream_id, position)"
    " SELECT l.stream_id, a.position FROM (VALUES {values}) AS l (event_id, stream_id)"
    " JOIN appended AS a ON a.event_id = l.event_id)"
    " SELECT position, tx_id, event_id FROM appended"
)


def named(fields: tuple[str, ...], data: dict, event_id: UUID) -> list[tuple[UUID, UUID]]:
    """(event id, stream id) for each stream the event's ``fields`` name."""
    found = []
    for name in fields:
        value = data.get(name)
        if isinstance(value, str):
            try:
                found.append((event_id, UUID(value)))
            except ValueError:
                continue
    return list(dict.fromkeys(found))  # two fields naming one stream: one link


def in_statement(append: str, params, links: list[tuple[UUID, UUID]]) -> tuple[str, list]:
    """The append statement ``append`` that also records ``links`` (PostgreSQL)."""
    values = ", ".join(["(%s::uuid, %s::uuid)"] * len(links))
    return _WITH_LINKS.format(append=append, values=values), [
        *params,
        *[value.hex for link in links for value in link],
    ]


def write_after(dialect, connection, written: list[tuple], links: list[tuple[UUID, UUID]]) -> None:
    """Record ``links`` of events just appended (``written``: their
    position, tx_id and id), in the same transaction (SQLite)."""
    positions = {dialect.to_uuid(event_id): position for position, _, event_id in written}
    dialect.fetch(
        connection,
        "INSERT INTO event_links (stream_id, position) VALUES " + ", ".join(["(%s, %s)"] * len(links)),
        [
            value
            for event_id, stream_id in links
            for value in (dialect.param_uuid(stream_id), positions[event_id])
        ],
    )
