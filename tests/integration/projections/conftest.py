"""Fixtures of the projection tests: the event store's clock. (Making a
projection fail on one order's events, break_projection, is shared: in
tests/integration/conftest.py.)"""

from datetime import UTC, datetime

import pytest

from tests.integration.projections.support import Clock


@pytest.fixture
def clock():
    """The event store's clock, frozen at 2025-03-01 08:00 UTC; set ``clock.now`` to move it."""
    c = Clock(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))
    yield c
    c.close()
