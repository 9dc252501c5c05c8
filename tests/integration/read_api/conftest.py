"""Setup for the read API tests: projections run in-process after each
commit (and the API clients settle them before each read, for the rare time
another transaction held the gap-safe read back at commit). Projections read
only committed events, so every test commits for real."""

import pytest

from tests.support import ApiClient


@pytest.fixture(autouse=True)
def projections_in_process(settings):
    """Each command is projected right after it commits."""
    settings.PROJECTIONS_MODE = "inprocess"


@pytest.fixture
def staff_api(staff):
    """The API as a staff user, who may send commands and read everything;
    each read first settles the projections."""
    return ApiClient(staff, settle_reads=True)


@pytest.fixture
def reader_api(reader):
    """The API as a signed-in user who is neither staff nor an order manager;
    each read first settles the projections."""
    return ApiClient(reader, settle_reads=True)
