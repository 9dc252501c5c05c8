"""The gap-safe global read refuses a hot standby, against a real one
(``tests.replica``): a standby's snapshot does not list the primary's running
transactions, so the read bound there passes a transaction that is still
open on the primary and may yet commit an event before the ones returned."""

import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from eventstore import NEW_STREAM, START, EventStore, NewEvent, ReadOnReplicaError
from eventstore.sql import Postgres
from tests.replica import database_alias, streaming_pair  # noqa: F401 (a fixture)

BOUND = f"SELECT ({Postgres.READABLE_BOUND})"


def noted(n: int) -> NewEvent:
    return NewEvent("ShelfOpened", {"n": n})


def test_the_gap_safe_read_refuses_a_standby_and_works_on_its_primary(
    streaming_pair,  # noqa: F811
    django_db_blocker,
    test_registry,
):
    pair = streaming_pair
    with (
        django_db_blocker.unblock(),
        database_alias("es_primary", pair.primary) as primary,
        database_alias("es_standby", pair.standby) as standby,
    ):
        call_command("migrate", database=primary, verbosity=0)
        on_primary = EventStore(using=primary, registry=test_registry)
        on_standby = EventStore(using=standby, registry=test_registry)
        shelf = uuid.uuid4()

        with pair.primary.connect() as still_open:
            # A transaction of the primary that could still append.
            [(open_xid,)] = still_open.execute("SELECT pg_current_xact_id()::text::bigint").fetchall()
            written = on_primary.append("Shelf", shelf, [noted(1)], NEW_STREAM)
            pair.wait_replayed()
            with pair.standby.connect(autocommit=True) as s, pair.primary.connect(autocommit=True) as p:
                [(standby_bound,)] = s.execute(BOUND).fetchall()
                [(primary_bound,)] = p.execute(BOUND).fetchall()
            assert primary_bound <= open_xid < written.tx_id  # held back on the primary
            assert standby_bound > written.tx_id  # a standby would have passed it

            with pytest.raises(ReadOnReplicaError, match="es_standby"):
                on_standby.read_all(START)
            with pytest.raises(ReadOnReplicaError):
                on_standby.read_all(START, include_recent=True)
            assert on_primary.read_all(START) == []
            still_open.rollback()

        # One stream's history is fine to read on a standby.
        assert [e.position for e in on_standby.load(shelf)] == [written.position]
        [event] = on_primary.read_all(START)
        assert event.position == written.position


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_primary_check_runs_once_per_connection(store, monkeypatch):
    asked = []
    real = Postgres.fetch

    def counting_fetch(self, conn, query, params):
        if "pg_is_in_recovery" in query:
            asked.append(conn.connection)
        return real(self, conn, query, params)

    monkeypatch.setattr(Postgres, "fetch", counting_fetch)
    store.append("Shelf", uuid.uuid4(), [noted(1)], NEW_STREAM)
    for _ in range(3):
        store.read_all(START)
    assert len(asked) == 1
    connection.close()  # a new connection, perhaps to another server: ask again
    store.read_all(START)
    store.read_all(START)
    assert len(asked) == 2 and asked[0] is not asked[1]
