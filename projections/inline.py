"""Inline projections: applied inside the command's transaction, so the read
model changes atomically with the events. The async runner still passes over
the same events later (to advance their checkpoint); per-row versions make
that a no-op.

Each inline write holds the projection's advisory lock in shared mode, so a
rebuild (which takes it exclusively for its final catch-up and swap) waits
for commands in flight and holds new ones until the new tables are in place.

An inline projection that is behind (its checkpoint lags, so the row a new
event builds on is not there yet) or held at a failing event stays async
for those events: the command succeeds and the runner applies them in
order. A read with X-Min-Position waits for the checkpoint either way.
"""

import logging

from django.db import transaction

from eventstore import RecordedEvent
from projections import failures, locks
from projections.base import ProjectionError, registry

log = logging.getLogger(__name__)


def apply_inline(events: list[RecordedEvent], using: str) -> None:
    for projection in registry.inline():
        relevant = projection.relevant(events)
        if not relevant:
            continue
        locks.lock_shared(projection.name, using)
        if failures.open_failure(projection.name, using) is not None:
            continue  # held: the runner applies these once it is released
        try:
            with transaction.atomic(using=using):
                projection.apply(relevant, projection.tables(using))
        except ProjectionError as exc:
            log.info("%s is behind (%s); the runner will apply these events", projection.name, exc)
