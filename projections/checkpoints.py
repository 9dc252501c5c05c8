"""Where each projection is in the global log.

A checkpoint is the (transaction id, position) of the last event a
projection has passed; it moves in the same transaction as the read-model
rows it covers. This bookkeeping runs on every nudge, so it is plain SQL
through the event store's prepared-statement path: the ORM spends several
times a round trip's CPU compiling each query, Django's client-side cursor
re-plans each statement.
"""

from typing import NamedTuple

from django.db import connections
from django.utils import timezone

from eventstore import GlobalPosition, RecordedEvent
from eventstore.sql import dialect_for
from projections import metrics
from projections.base import registry
from projections.models import ProjectionCheckpoint


class Checkpoint(NamedTuple):
    name: str
    tx_id: int
    position: int
    events_seen: int
    events_applied: int

    @property
    def global_position(self) -> GlobalPosition:
        return GlobalPosition(self.tx_id, self.position)


def db_now(using: str):
    """timezone.now() as the database backend stores a DateTimeField."""
    return connections[using].ops.adapt_datetimefield_value(timezone.now())


def placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


def fetch(using: str, query: str, params=()) -> list[tuple]:
    """Run one statement (prepared on PostgreSQL) in the caller's transaction."""
    connection = connections[using]
    return dialect_for(connection).fetch(connection, query, params)


def read(names: list[str], using: str) -> dict[str, Checkpoint]:
    """The checkpoints of ``names`` that exist."""
    if not names:
        return {}
    clause, params = name_in(using, names)
    rows = fetch(
        using,
        "SELECT name, tx_id, position, events_seen, events_applied FROM projection_checkpoints"
        f" WHERE {clause}",
        params,
    )
    return {row[0]: Checkpoint(*row) for row in rows}


def read_with_failures(names: list[str], using: str) -> dict[str, tuple[Checkpoint, bool]]:
    """The checkpoints of ``names`` and whether each has an unresolved
    failure, in one statement (a runner's bookkeeping on every batch)."""
    if not names:
        return {}
    clause, params = name_in(using, names, "c.name")
    rows = fetch(
        using,
        "SELECT c.name, c.tx_id, c.position, c.events_seen, c.events_applied,"
        " EXISTS (SELECT 1 FROM projection_failures f WHERE f.projection = c.name AND f.resolved_at IS NULL)"
        f" FROM projection_checkpoints c WHERE {clause}",
        params,
    )
    return {row[0]: (Checkpoint(*row[:5]), bool(row[5])) for row in rows}


def name_in(using: str, names, column: str = "name") -> tuple[str, list]:
    """``column IN names`` as SQL and parameters: one array parameter on
    PostgreSQL, so one prepared statement whatever the count."""
    names = list(names)
    if connections[using].vendor == "postgresql":
        return f"{column} = ANY(%s::text[])", [names]
    return f"{column} IN ({placeholders(names)})", names


def position_of(name: str, using: str) -> GlobalPosition:
    return read([name], using)[name].global_position


def ensure(using: str = "default") -> None:
    """A checkpoint row (at the start of the log) for every registered
    projection. A new partition of a projection starts where the furthest
    behind of its projection's other checkpoints is (the tables are the
    same; events it sees again change nothing), not at the start."""
    wanted = {p.name: p for p in registry.all()}
    present = {
        row[0]: row[1:]
        for row in fetch(using, "SELECT name, tx_id, position, events_seen FROM projection_checkpoints")
    }
    for name in wanted.keys() - present.keys():
        follower, defaults = wanted[name], {"projection_version": wanted[name].version}
        base = getattr(follower, "base", None)
        related = [
            cp
            for n, cp in present.items()
            if base is not None and (n == base.name or n.startswith(f"{base.name}."))
        ]
        if related:
            tx_id, position, seen = min(related)
            defaults.update(tx_id=tx_id, position=position, events_seen=seen)
        ProjectionCheckpoint.objects.using(using).get_or_create(name=name, defaults=defaults)


def move(name: str, event: RecordedEvent, seen: int, applied: int, using: str) -> None:
    """Move one checkpoint to ``event``, counting what it passed and applied."""
    fetch(
        using,
        "UPDATE projection_checkpoints SET tx_id = %s, position = %s, events_seen = events_seen + %s,"
        " events_applied = events_applied + %s, updated_at = %s WHERE name = %s",
        [event.tx_id, event.position, seen, applied, db_now(using), name],
    )
    metrics.moved(name, seen, applied, using)


def move_together(applied: dict[str, int], event: RecordedEvent, seen: int, using: str) -> None:
    """Move the checkpoints of several projections to ``event`` in one
    statement; ``applied`` is how many events each applied."""
    if connections[using].vendor == "postgresql":
        # Arrays: one prepared statement whatever the number of projections.
        fetch(
            using,
            "UPDATE projection_checkpoints c SET tx_id = %s, position = %s,"
            " events_seen = c.events_seen + %s, events_applied = c.events_applied + a.n, updated_at = %s"
            " FROM unnest(%s::text[], %s::bigint[]) AS a(name, n) WHERE c.name = a.name",
            [event.tx_id, event.position, seen, db_now(using), list(applied), list(applied.values())],
        )
    else:
        cases = " ".join("WHEN %s THEN %s" for _ in applied)
        fetch(
            using,
            "UPDATE projection_checkpoints SET tx_id = %s, position = %s,"
            " events_seen = events_seen + %s,"
            f" events_applied = events_applied + CASE name {cases} ELSE 0 END,"
            f" updated_at = %s WHERE name IN ({placeholders(applied)})",
            [event.tx_id, event.position, seen]
            + [x for pair in applied.items() for x in pair]
            + [db_now(using), *applied],
        )
    for name, count in applied.items():
        metrics.moved(name, seen, count, using)


def set_to(
    name: str,
    position: GlobalPosition,
    *,
    using: str,
    seen: int | None = None,
    applied: int | None = None,
    version: int | None = None,
) -> None:
    """Put a checkpoint at ``position`` (a skip, a rebuild), optionally
    resetting its counters and the projection version it was built by."""
    fields = {"tx_id": position.tx_id, "position": position.position, "updated_at": timezone.now()}
    for column, value in (
        ("events_seen", seen),
        ("events_applied", applied),
        ("projection_version", version),
    ):
        if value is not None:
            fields[column] = value
    ProjectionCheckpoint.objects.using(using).filter(name=name).update(**fields)


def events_seen(using: str) -> dict[str, int]:
    """How many events each projection has passed so far."""
    return dict(fetch(using, "SELECT name, events_seen FROM projection_checkpoints"))


def all_reached(target: GlobalPosition, names: tuple[str, ...], using: str = "default") -> bool:
    """Whether each of ``names`` has applied ``target``."""
    found = read(list(names), using)
    return len(found) == len(names) and all(cp.global_position >= target for cp in found.values())
