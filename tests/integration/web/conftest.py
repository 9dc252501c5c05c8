"""Setup for the server-rendered web UI tests."""

import pytest


@pytest.fixture(autouse=True)
def short_read_your_writes_wait(settings):
    """Tests run the projections themselves; a page never needs to wait long."""
    settings.READ_YOUR_WRITES_TIMEOUT = 1.0
