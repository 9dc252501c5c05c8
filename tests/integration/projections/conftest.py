"""Fixtures of the projection tests: the event store's clock, and a way to
make a projection fail on one order's events."""

import uuid
from datetime import UTC, datetime

import pytest

from projections.base import registry
from tests.integration.projections.support import Clock


@pytest.fixture
def clock():
    """The event store's clock, frozen at 2025-03-01 08:00 UTC; set ``clock.now`` to move it."""
    c = Clock(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    yield c
    c.close()


@pytest.fixture
def break_projection():
    """Make one projection's apply raise for any batch holding an event of
    ``bad_id``; the returned function fixes it again."""
    patched = []

    def breaker(name: str, bad_id: uuid.UUID):
        projection = registry.get(name)
        real_apply = type(projection).apply

        def apply(batch, tables):
            if any(e.aggregate_id == bad_id for e in batch):
                raise RuntimeError(f"cannot project order {bad_id}")
            return real_apply(projection, batch, tables)

        projection.apply = apply
        patched.append(projection)
        return lambda: vars(projection).pop("apply", None)

    yield breaker
    for projection in patched:
        vars(projection).pop("apply", None)
