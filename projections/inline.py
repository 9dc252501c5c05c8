"""Inline projections: applied inside the command's transaction, so the read
model changes atomically with the events. The async runner still passes over
the same events later (to advance their checkpoint); per-row versions make
that a no-op."""

from eventstore import RecordedEvent
from projections.base import registry


def apply_inline(events: list[RecordedEvent], using: str) -> None:
    for projection in registry.inline():
        relevant = [e for e in events if e.event_type in projection.event_types]
        if relevant:
            projection.apply(relevant, projection.tables(using))
