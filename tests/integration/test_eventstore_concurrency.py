"""Races and gap safety with real concurrent PostgreSQL connections.

Every thread gets its own Django connection, so these are real concurrent
transactions, committed for real (``transaction=True``)."""

import random
import threading
import time
import uuid

import pytest
from django.db import connection, transaction

from eventstore import NEW_STREAM, START, ConcurrencyError, NewEvent
from tests.support import counted, other_connection, wait_visible

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def counted_by(writer: int, sku: str = "RACE") -> NewEvent:
    """One unit of ``sku`` counted, stamped with the writer that appends it
    and with an id chosen here, so a test knows which events it wrote."""
    return counted(sku, writer=writer, event_id=uuid.uuid4())


def head(store):
    """The global position of the newest readable event (START if none)."""
    checkpoint = START
    while batch := store.read_all(checkpoint, limit=1000):
        checkpoint = batch[-1].global_position
    return checkpoint


def test_eight_writers_racing_for_the_next_version_store_each_version_once(store, run_in_threads):
    shelf = uuid.uuid4()
    store.append("Shelf", shelf, [NewEvent("ShelfOpened", {})], NEW_STREAM)
    writers, rounds = 8, 40
    barrier = threading.Barrier(writers)
    outcomes: list[tuple[int, int, bool]] = []
    lock = threading.Lock()

    def writer(w: int):
        for r in range(rounds):
            barrier.wait()
            version = store.stream_version(shelf)
            barrier.wait()  # everyone read the same version; now race
            try:
                # A batch of two: a loser must store neither.
                store.append("Shelf", shelf, [counted_by(w), counted_by(w)], expected_version=version)
                won = True
            except ConcurrencyError:
                won = False
            with lock:
                outcomes.append((r, w, won))

    run_in_threads(*[lambda w=w: writer(w) for w in range(writers)])

    winners_per_round = {r: [w for (rr, w, won) in outcomes if rr == r and won] for r in range(rounds)}
    assert all(len(ws) == 1 for ws in winners_per_round.values()), winners_per_round
    assert sum(not won for (_, _, won) in outcomes) == rounds * (writers - 1)

    events = store.load(shelf)
    assert [e.version for e in events] == list(range(1, 2 * rounds + 2))
    batches = [events[i : i + 2] for i in range(1, len(events), 2)]
    for r, (a, b) in enumerate(batches):
        # each batch is whole and belongs to that round's single winner
        assert a.data["writer"] == b.data["writer"] == winners_per_round[r][0]
        assert a.tx_id == b.tx_id


def test_a_reader_never_passes_an_uncommitted_earlier_event(store, run_in_threads):
    checkpoint = head(store)
    a_appended, commit_a = threading.Event(), threading.Event()
    slow, fast = uuid.uuid4(), uuid.uuid4()

    def transaction_a():
        with transaction.atomic():
            result = store.append("Shelf", slow, [counted_by(1, "SLOW")], NEW_STREAM)
            a_appended.set()
            assert commit_a.wait(30)
        return result

    holder = threading.Thread(target=lambda: results.append(run_in_threads(transaction_a)[0]))
    results: list = []
    holder.start()
    assert a_appended.wait(30)

    b = store.append("Shelf", fast, [counted_by(2, "FAST")], NEW_STREAM)  # commits at once
    try:
        a_position = None
        with connection.cursor() as cursor:
            cursor.execute("SELECT MAX(position) FROM events")
            assert cursor.fetchone()[0] == b.position
        # While A is open, B (committed, later position) must not be returned:
        # a reader that checkpointed B would skip A forever.
        assert store.read_all(checkpoint) == []
    finally:
        commit_a.set()
        holder.join(30)
    a = results[0]
    a_position = a.position
    assert a_position < b.position

    wait_visible(store, b.position)
    seen = store.read_all(checkpoint)
    assert [e.position for e in seen] == [a_position, b.position]
    assert store.read_all(seen[-1].global_position) == []


def test_only_transactions_of_this_database_hold_the_log_back(store):
    """Transaction ids are cluster-wide: a long transaction in another
    database of the server (another app, a test run, a report) must not stall
    the projections; one in this database that holds an xid must, since it
    could still append events that sort before the newer ones."""
    checkpoint = head(store)
    with other_connection("postgres") as elsewhere, other_connection() as here:
        elsewhere.execute("SELECT pg_current_xact_id()")  # an xid, left open
        b = store.append("Shelf", uuid.uuid4(), [counted_by(1, "B")], NEW_STREAM)
        assert [e.position for e in store.read_all(checkpoint)] == [b.position]

        here.execute("SELECT pg_current_xact_id()")  # open, no event yet
        c = store.append("Shelf", uuid.uuid4(), [counted_by(2, "C")], NEW_STREAM)
        after_b = store.global_position_of(b.position)
        time.sleep(0.05)
        assert store.read_all(after_b) == []  # held back while `here` could still append
        here.rollback()
        wait_visible(store, c.position)
        assert [e.position for e in store.read_all(after_b)] == [c.position]
        elsewhere.rollback()


def test_soak_a_following_reader_sees_every_committed_event_exactly_once(store, run_in_threads):
    start = head(store)
    writers, appends_per_writer = 4, 120
    done = threading.Event()
    rolled_back: set[uuid.UUID] = set()
    committed: set[uuid.UUID] = set()
    lock = threading.Lock()

    class Abort(Exception):
        pass

    def writer(w: int):
        rng = random.Random(w)
        for _ in range(appends_per_writer):
            stream = uuid.uuid4()
            events = [counted_by(w) for _ in range(rng.randint(1, 3))]
            mode = rng.random()
            if mode < 0.5:
                store.append("Shelf", stream, events, NEW_STREAM)
            elif mode < 0.9:
                # Hold the transaction open for a while after appending, so
                # later positions commit before this one does.
                with transaction.atomic():
                    store.append("Shelf", stream, events, NEW_STREAM)
                    time.sleep(rng.uniform(0, 0.01))
            else:
                try:
                    with transaction.atomic():
                        store.append("Shelf", stream, events, NEW_STREAM)
                        raise Abort
                except Abort:
                    with lock:
                        rolled_back.update(e.event_id for e in events)
                    continue
            with lock:
                committed.update(e.event_id for e in events)

    def reader():
        rng = random.Random(99)
        checkpoint, seen = start, []
        deadline = None
        while True:
            finished = done.is_set()  # read before the batch: no event can follow it
            batch = store.read_all(checkpoint, limit=rng.randint(1, 40))
            if batch:
                seen.extend(batch)
                checkpoint = batch[-1].global_position
            elif finished:
                # A transaction open elsewhere on the server may still hold
                # the last events back (never lost): give it time.
                with lock:
                    if len(seen) >= len(committed):
                        return seen
                deadline = deadline or time.monotonic() + 30
                if time.monotonic() > deadline:
                    return seen
                time.sleep(0.02)

    def writers_then_done():
        try:
            run_in_threads(*[lambda w=w: writer(w) for w in range(writers)])
        finally:
            done.set()

    _, seen = run_in_threads(writers_then_done, reader, timeout=300)

    ids = [e.event_id for e in seen]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert set(ids) == committed, "the reader missed committed events"
    assert not rolled_back & set(ids)
    assert [e.global_position for e in seen] == sorted(e.global_position for e in seen)
    assert len(committed) > writers * appends_per_writer  # batches of 1-3 events


def test_a_transaction_older_than_a_streams_last_writer_cannot_append_to_it(store, run_in_threads):
    """Keeps each stream's events in version order in the global order: an
    older transaction appending after a newer one's commit would be read
    before it."""
    shelf, other = uuid.uuid4(), uuid.uuid4()
    store.append("Shelf", shelf, [counted_by(1)], NEW_STREAM)
    older_has_id, newer_done = threading.Event(), threading.Event()

    def older():
        with transaction.atomic():
            store.append("Shelf", other, [counted_by(1)], NEW_STREAM)  # takes its transaction id now
            older_has_id.set()
            assert newer_done.wait(30)
            with pytest.raises(ConcurrencyError):
                store.append("Shelf", shelf, [counted_by(1)], expected_version=2)

    def newer():
        assert older_has_id.wait(30)
        store.append("Shelf", shelf, [counted_by(2)], expected_version=1)
        newer_done.set()

    run_in_threads(older, newer)
    # Retried in a new transaction, it goes through, after the newer event.
    store.append("Shelf", shelf, [counted_by(1)], expected_version=2)
    events = store.load(shelf)
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.global_position for e in events] == sorted(e.global_position for e in events)
