"""The store's statements run on Django's connection, whatever its state:
errors come out as Django's, a transaction marked for rollback is refused
before anything is sent, and a closed connection is opened again. On
PostgreSQL the store keeps a psycopg cursor of its own on that connection
(eventstore.sql), and these hold it to Django's behaviour; SQLite's test
database lives in memory and ignores ``close()``."""

import uuid

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, ProgrammingError, connection, transaction
from django.db.transaction import TransactionManagementError

from eventstore import NEW_STREAM, ConcurrencyError
from eventstore.sql import dialect_for
from tests.support import counted, event_count

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.postgres
def test_a_failing_statement_raises_djangos_error_and_marks_the_connection(store):
    store.stream_version(uuid.uuid4())  # the store's cursor exists
    dialect = dialect_for(connection)
    with pytest.raises(ProgrammingError):
        dialect.fetch(connection, "SELECT * FROM no_such_table", [])
    # Django closes a connection that saw such an error at the end of a request.
    assert connection.errors_occurred
    shelf = uuid.uuid4()
    assert store.append("Shelf", shelf, [counted()], NEW_STREAM).version == 1


def test_a_lost_race_on_the_unique_index_is_a_concurrency_error_not_a_driver_error(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    with pytest.raises(ConcurrencyError) as err:
        store.append("Shelf", shelf, [counted()], NEW_STREAM)
    assert isinstance(err.value.__cause__, IntegrityError)


def test_a_transaction_marked_for_rollback_is_refused_before_any_statement(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    before = event_count()
    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError):
            store.append("Shelf", shelf, [counted()], expected_version=1)
        with pytest.raises(TransactionManagementError):
            store.load(shelf)
    assert event_count() == before
    assert store.stream_version(shelf) == 1


@pytest.mark.postgres
def test_after_the_connection_is_closed_the_store_opens_a_new_one(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    old = connection.connection
    connection.close()
    assert store.append("Shelf", shelf, [counted()], expected_version=1).version == 2
    assert connection.connection is not None and connection.connection is not old
    assert [e.version for e in store.load(shelf)] == [1, 2]


@pytest.mark.postgres
def test_a_connection_broken_under_the_store_gives_a_database_error_then_recovers(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    connection.connection.close()  # the socket goes, Django's wrapper does not know
    with pytest.raises(DatabaseError):
        store.load(shelf)
    assert connection.errors_occurred
    connection.close_if_unusable_or_obsolete()  # what the end of a request does
    assert [e.version for e in store.load(shelf)] == [1]


@pytest.mark.postgres
def test_a_connection_the_server_ended_between_requests_is_replaced_by_the_health_check(store):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [counted()], NEW_STREAM)
    old = connection.connection
    with psycopg.connect(old.info.dsn, autocommit=True) as other:  # e.g. the server restarted
        other.execute("SELECT pg_terminate_backend(%s)", [old.info.backend_pid])
    connection.health_check_enabled = True  # CONN_HEALTH_CHECKS, on for persistent connections
    connection.health_check_done = False  # what the start of a request or task sets
    assert [e.version for e in store.load(shelf)] == [1]
    assert connection.connection is not old
