"""Suite-wide setup: refuse to start, with one clear line, when the services
the tests need are not reachable; the settings every test starts from; the
users tests act as; helpers for tests that need real threads."""

import os
import threading

import pytest
from django.conf import settings

from tests.support import STANDARD_CATALOGUE, create_user, stock_catalogue, token_headers

# The master key of personal data the tests run with: the configured one if
# any, else a fixed test key; the same for this process and the servers and
# workers the tests start (they inherit the environment).
TEST_PII_MASTER_KEY = "dGVzdC1vbmx5LXBpaS1tYXN0ZXIta2V5LTMyYnl0ZXM="
os.environ["PII_MASTER_KEY"] = (
    os.environ.get("PII_MASTER_KEY") or settings.PII_MASTER_KEY or TEST_PII_MASTER_KEY
)
settings.PII_MASTER_KEY = os.environ["PII_MASTER_KEY"]


def _check_postgres() -> str | None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    import psycopg

    try:
        psycopg.connect(
            host=db.get("HOST") or None,
            port=db.get("PORT") or None,
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            dbname=db.get("NAME") or "postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"PostgreSQL is not reachable at {where} ({first_line}). "
            "Start it, or point DATABASE_URL at a server the tests may use."
        )
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    problem = _check_postgres()
    if problem:
        pytest.exit(problem, returncode=3)


@pytest.fixture
def run_in_threads():
    """Run callables in real threads (each gets its own database connection,
    closed when it finishes) and return their results or raise their errors."""

    def run(*callables, timeout: float = 120):
        from django.db import connections

        results: list = [None] * len(callables)
        errors: list = [None] * len(callables)

        def wrap(i, fn):
            try:
                results[i] = fn()
            except BaseException as exc:  # reported to the test below
                errors[i] = exc
            finally:
                connections.close_all()

        threads = [threading.Thread(target=wrap, args=(i, fn), daemon=True) for i, fn in enumerate(callables)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
            if t.is_alive():
                raise TimeoutError("a worker thread did not finish in time")
        for err in errors:
            if err is not None:
                raise err
        return results

    return run


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (DATABASE_URL points elsewhere)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's deliberate slowness is not what these tests measure."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def projections_off_unless_asked(settings):
    """Tests choose when projections run (settings.PROJECTIONS_MODE =
    "inprocess", or projections.runner.run_all()); none publish to Celery."""
    settings.PROJECTIONS_MODE = "off"


@pytest.fixture(autouse=True)
def readyz_judges_every_time(settings):
    """Tests change the state and ask /readyz again at once (the caching
    itself is tested in tests/integration/observability/test_probes.py)."""
    from config import health

    settings.READYZ_CACHE_SECONDS = 0
    health.forget()  # nor an answer judged under another test's clock or settings


@pytest.fixture(autouse=True)
def empty_cache():
    """The cache is shared by every process (Redis under the tests): sign-in
    and token throttles count there, so each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def orders_ship_without_inventory_unless_asked(settings):
    """Most tests are about one thing; stock reservation is tested where it
    is the subject (settings.INVENTORY_RESERVATION = True)."""
    settings.INVENTORY_RESERVATION = False


# -- users (each needs a test with database access) -------------------------------------


@pytest.fixture
def reader():
    """A signed-in user who is neither staff nor an order manager: may look, not change."""
    return create_user("reader")


@pytest.fixture
def manager():
    """An order manager ("manager"): may send order commands; not staff."""
    return create_user("manager", manager=True)


@pytest.fixture
def other():
    """A second order manager ("other"), for changes made by someone else."""
    return create_user("other", manager=True)


@pytest.fixture
def staff():
    """A staff user ("boss"): may send commands and see the audit trail and
    the projection pages."""
    return create_user("boss", staff=True)


@pytest.fixture
def staff_headers(staff):
    """Request headers that authenticate as ``staff`` with an API token."""
    return token_headers(staff)


@pytest.fixture
def catalogue():
    """The catalogue sells the SKUs tests use at the prices they expect
    (tests.support.STANDARD_CATALOGUE: WIDGET-A 19.99, GADGET-B 5.00,
    NEW-1 2.50, EXTRA-9 3.00, BASE 0.10, NUT-8 0.10, BOLT-7 0.25)."""
    stock_catalogue(STANDARD_CATALOGUE)
