"""Where each projection is in the global log.

A checkpoint is the (transaction id, position) of the last event a
projection has passed; it moves in the same transaction as the read-model
rows it covers. This bookkeeping runs on every nudge, so it is plain SQL:
the ORM spends several times a round trip's CPU compiling each query.
"""

from typing import NamedTuple

from django.db import connections
from django.utils import timezone

from eventstore import GlobalPosition, RecordedEvent
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


def read(names: list[str], using: str) -> dict[str, Checkpoint]:
    """The checkpoints of ``names`` that exist."""
    if not names:
        return {}
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT name, tx_id, position, events_seen, events_applied FROM projection_checkpoints"
            f" WHERE name IN ({placeholders(names)})",
            list(names),
        )
        return {row[0]: Checkpoint(*row) for row in cursor.fetchall()}


def position_of(name: str, using: str) -> GlobalPosition:
    return read([name], using)[name].global_position


def ensure(using: str = "default") -> None:
    """A checkpoint row (at the start of the log) for every registered projection."""
    wanted = {p.name: p for p in registry.all()}
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT name FROM projection_checkpoints")
        present = {row[0] for row in cursor.fetchall()}
    for name in wanted.keys() - present:
        ProjectionCheckpoint.objects.using(using).get_or_create(
            name=name, defaults={"projection_version": wanted[name].version}
        )


def move(name: str, event: RecordedEvent, seen: int, applied: int, using: str) -> None:
    """Move one checkpoint to ``event``, counting what it passed and applied."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "UPDATE projection_checkpoints SET tx_id = %s, position = %s, events_seen = events_seen + %s,"
            " events_applied = events_applied + %s, updated_at = %s WHERE name = %s",
            [event.tx_id, event.position, seen, applied, db_now(using), name],
        )
    metrics.moved(name, seen, applied, using)


def move_together(applied: dict[str, int], event: RecordedEvent, seen: int, using: str) -> None:
    """Move the checkpoints of several projections to ``event`` in one
    statement; ``applied`` is how many events each applied."""
    cases = " ".join("WHEN %s THEN %s" for _ in applied)
    with connections[using].cursor() as cursor:
        cursor.execute(
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
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT name, events_seen FROM projection_checkpoints")
        return dict(cursor.fetchall())


def all_reached(target: GlobalPosition, names: tuple[str, ...], using: str = "default") -> bool:
    """Whether each of ``names`` has applied ``target``."""
    found = read(list(names), using)
    return len(found) == len(names) and all(cp.global_position >= target for cp in found.values())
