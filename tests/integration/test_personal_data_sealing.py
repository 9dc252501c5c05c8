"""Sealing personal fields on append (eventstore.sealing): a returning
subject's key is kept by the process, and still never used once forgotten;
a new subject's key goes in with its events or not at all. And reading
them back: a stream's load brings the keys it needs in the same statement."""

import threading
import uuid

import pytest
from django.db import connection

from eventstore import NEW_STREAM, ConcurrencyError, EventStore, NewEvent, sealing, sql
from eventstore.master_key import verify_master_key
from eventstore.models import Event, PersonalDataKey
from eventstore.personal import ERASED, PersonalData
from tests.support import other_connection, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def fresh_cache():
    sealing._cache.clear()
    yield
    sealing._cache.clear()


def details(customer: str, name: str = "Ada Lovelace") -> NewEvent:
    return NewEvent(
        "ShippingDetailsGiven",
        {
            "customer_id": customer,
            "name": name,
            "email": "ada@example.com",
            "address_line1": "12 Analytical Row",
            "address_line2": None,
            "postcode": "N1 9GU",
            "city": "London",
            "country": "GB",
        },
    )


def give(customer: str, name: str = "Ada Lovelace", stream: uuid.UUID | None = None) -> uuid.UUID:
    stream = stream or uuid.uuid4()
    EventStore().append("Order", stream, [details(customer, name)], NEW_STREAM)
    return stream


def name_of(stream: uuid.UUID) -> str:
    return EventStore().load(stream)[0].data["name"]


def key_of(stream: uuid.UUID) -> str:
    """The id of the data key the stream's details are sealed under (as stored)."""
    return Event.objects.get(aggregate_id=stream).event_data["name"]["kid"]


def statements(monkeypatch) -> list[str]:
    """Every statement the event store and the data keys run from here on."""
    seen: list[str] = []
    fetch, rows = sql.Postgres.fetch, PersonalData._rows
    monkeypatch.setattr(sql.Postgres, "fetch", lambda self, c, q, p: seen.append(q) or fetch(self, c, q, p))
    monkeypatch.setattr(PersonalData, "_rows", lambda self, q, p: seen.append(q) or rows(self, q, p))
    return seen


def test_a_new_and_then_a_returning_customers_details_each_take_one_lookup_at_most(monkeypatch):
    verify_master_key()  # as at any server's start: the database's master key is on record
    seen = statements(monkeypatch)
    first = give("cust_ada")
    assert len(seen) == 2  # the key lookup (none yet), then the events and the new key together
    seen.clear()
    second = give("cust_ada", "Ada King")
    assert len(seen) == 1  # the key this process holds: checked by the append itself
    assert (name_of(first), name_of(second)) == ("Ada Lovelace", "Ada King")
    assert key_of(first) == key_of(second)
    assert PersonalDataKey.objects.filter(subject_id="cust_ada").count() == 1


def test_a_customer_forgotten_by_another_process_is_never_sealed_under_the_old_key():
    first = give("cust_ada")
    with other_connection(autocommit=True) as other:  # ForgetCustomer, in another process
        other.execute("DELETE FROM personal_data_keys WHERE subject_id = 'cust_ada'")

    second = give("cust_ada", "Ada King")

    assert name_of(first) == ERASED
    assert name_of(second) == "Ada King"
    assert key_of(second) != key_of(first)
    assert PersonalDataKey.objects.get(subject_id="cust_ada").key_id == key_of(second)


def test_a_forget_while_an_append_holds_the_key_waits_for_it_then_erases_what_it_wrote():
    from django.db import connections, transaction

    give("cust_ada")  # the key is held by this process from here
    appended, release, stream = threading.Event(), threading.Event(), uuid.uuid4()

    def append_and_wait():
        try:
            with transaction.atomic():
                give("cust_ada", "Ada King", stream)
                appended.set()
                release.wait(30)
        finally:
            connections.close_all()

    writer = threading.Thread(target=append_and_wait)
    writer.start()
    try:
        assert appended.wait(30)
        with other_connection(autocommit=True) as other:
            forget = threading.Thread(
                target=other.execute, args=("DELETE FROM personal_data_keys WHERE subject_id = 'cust_ada'",)
            )
            forget.start()
            with other_connection(autocommit=True) as probe:
                wait_until(
                    lambda: probe.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE 'DELETE FROM personal_data_keys%%'"
                    ).fetchone(),
                    10,
                    "the forget to wait for the append's lock on the key",
                )
            release.set()
            forget.join(30)
    finally:
        release.set()
        writer.join(30)
    assert name_of(stream) == ERASED
    assert not PersonalDataKey.objects.filter(subject_id="cust_ada").exists()


def test_a_new_customers_key_goes_in_with_its_events_or_not_at_all():
    stream = give("cust_other")
    with pytest.raises(ConcurrencyError):
        EventStore().append("Order", stream, [details("cust_new")], NEW_STREAM)  # the stream exists
    assert not PersonalDataKey.objects.filter(subject_id="cust_new").exists()
    assert sealing._slot(PersonalData(), "cust_new") not in sealing._cache


def test_two_first_orders_of_a_new_customer_at_once_share_one_key(run_in_threads):
    start = threading.Barrier(2)

    def first_order():
        sealing._cache.clear()
        start.wait(10)
        return give("cust_grace", "Grace Hopper")

    one, two = run_in_threads(first_order, first_order)

    assert name_of(one) == name_of(two) == "Grace Hopper"
    assert key_of(one) == key_of(two) == PersonalDataKey.objects.get(subject_id="cust_grace").key_id


def test_a_master_check_written_by_another_writer_after_the_append_refused_it_is_no_lost_race(monkeypatch):
    # The first personal data of a database: this writer's append found no
    # master check (so wrote nothing), and another writer stored the check
    # before this one looked at why. The stream is where it expected: seal again.
    from eventstore import master_key

    PersonalData()._verify_once()  # this process counts the database as checked
    with connection.cursor() as cursor:  # as before its first personal data
        cursor.execute("DELETE FROM personal_data_master_check")
    still_valid = sealing.still_valid

    def checked_meanwhile(personal, keys):
        master_key.ensure_master_check(personal.using, personal.ring)  # the other writer's
        return still_valid(personal, keys)

    monkeypatch.setattr(sealing, "still_valid", checked_meanwhile)

    stream = give("cust_grace", "Grace Hopper")

    assert name_of(stream) == "Grace Hopper"
    assert key_of(stream) == PersonalDataKey.objects.get(subject_id="cust_grace").key_id


def test_loading_a_stream_with_personal_fields_brings_its_keys_in_the_same_statement(monkeypatch):
    from eventstore import Snapshot

    stream = give("cust_ada")
    store = EventStore()
    sealed = {"subject": "cust_ada", "values": {"name": "Ada Lovelace"}}
    store.save_snapshot(Snapshot(stream, "Order", 1, 1, {"$personal": sealed}))
    store.append("Order", stream, [details("cust_ada", "Ada King")], 1)
    seen = statements(monkeypatch)

    snapshot, tail = store.load_from_snapshot(stream, schema_version=1)

    assert len(seen) == 1
    assert snapshot.state["$personal"]["values"] == {"name": "Ada Lovelace"}
    assert [e.data["name"] for e in tail] == ["Ada King"]
    PersonalData().forget("cust_ada")
    seen.clear()
    snapshot, tail = store.load_from_snapshot(stream, schema_version=1)
    assert len(seen) == 1
    assert snapshot.state["$personal"]["values"] == {"name": ERASED}
    assert [e.data["name"] for e in tail] == [ERASED]
