"""Inline projections: applied inside the command's transaction, so the read
model changes atomically with the events. The async runner still passes over
the same events later (to advance their checkpoint); per-row versions make
that a no-op.

Each inline write holds the projection's advisory lock in shared mode, so a
rebuild (which takes it exclusively for its final catch-up and swap) waits
for commands in flight and holds new ones until the new tables are in place.
"""

from django.db import connections

from eventstore import RecordedEvent
from projections.base import registry
from projections.runner import _lock_key


def apply_inline(events: list[RecordedEvent], using: str) -> None:
    connection = connections[using]
    for projection in registry.inline():
        relevant = [e for e in events if e.event_type in projection.event_types]
        if not relevant:
            continue
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_lock_key(projection.name)])
        projection.apply(relevant, projection.tables(using))
