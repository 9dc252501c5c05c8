"""Which replicas the read side trusts, against a real streaming pair
(``tests.replica``): a standby cut off from its primary has replayed all it
received, so it looks fresh while the primary moves on; it must be skipped
until it streams again. One that streams and has replayed what the primary
flushed is used, however long ago its last commit was."""

import pytest

from config import replicas
from tests.replica import database_alias, streaming_pair  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.postgres]

DB = "orders_replica_health"


@pytest.fixture
def pair_aliases(streaming_pair, django_db_blocker):  # noqa: F811
    pair = streaming_pair
    with pair.primary.connect(autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    with pair.primary.connect(DB, autocommit=True) as conn:
        conn.execute("CREATE TABLE writes (n int)")
    with (
        django_db_blocker.unblock(),
        database_alias("health_primary", pair.primary, DB) as primary,
        database_alias("health_standby", pair.standby, DB) as standby,
    ):
        pair.wait_replayed()
        yield pair, primary, standby


def test_a_standby_cut_off_from_its_primary_is_skipped_until_it_streams_again(pair_aliases, settings):
    pair, primary, standby = pair_aliases
    settings.REPLICA_MAX_LAG_SECONDS = 30
    assert replicas._check(standby, primary)

    with pair.standby_cut_off():
        # Nothing new yet: it has all it received, and the primary's last commit is old news.
        assert not replicas._check(standby, primary)
        with pair.primary.connect(DB, autocommit=True) as conn:
            conn.execute("INSERT INTO writes VALUES (1)")  # moves on
        assert not replicas._check(standby, primary)

    assert replicas._check(standby, primary)  # streaming again, and caught up


def test_a_standby_that_has_replayed_what_the_primary_flushed_has_no_lag(pair_aliases, settings):
    pair, primary, standby = pair_aliases
    with pair.primary.connect(DB, autocommit=True) as conn:
        conn.execute("INSERT INTO writes VALUES (1)")
    pair.wait_replayed()
    settings.REPLICA_MAX_LAG_SECONDS = 0  # no replayed commit is that young: only "caught up" passes
    assert replicas._check(standby, primary)
    with pair.standby.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        with pair.primary.connect(DB, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = on")  # flushed at commit (the pair's default is off)
            conn.execute("INSERT INTO writes VALUES (1)")
        assert not replicas._check(standby, primary)  # streaming, but behind what the primary flushed
    finally:
        with pair.standby.connect(autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
    pair.wait_replayed()
    assert replicas._check(standby, primary)
