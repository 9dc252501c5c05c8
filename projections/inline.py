"""Inline projections: applied inside the command's transaction, so the read
model changes atomically with the events. The async runner still passes over
the same events later (to advance their checkpoint); per-row versions make
that a no-op.

Each inline write holds the projection's advisory lock in shared mode, so a
rebuild (which takes it exclusively for its final catch-up and swap) waits
for commands in flight and holds new ones until the new tables are in place.
"""

from eventstore import RecordedEvent
from projections import locks
from projections.base import registry


def apply_inline(events: list[RecordedEvent], using: str) -> None:
    for projection in registry.inline():
        relevant = projection.relevant(events)
        if not relevant:
            continue
        locks.lock_shared(projection.name, using)
        projection.apply(relevant, projection.tables(using))
