"""Runners that disagree on PROJECTION_PARTITIONS (a worker started with
``order_list=2`` beside one with ``order_list=3``, or with none) can both
apply an order's events: the read model must never go backwards. A row is
only replaced by a newer version, and the runner of a whole projection and
its partitions' runners exclude each other (its advisory lock, exclusive
for the one, shared for the others)."""

import threading

import pytest
from django.db import connection, connections

from eventstore import EventStore
from projections import checkpoints, locks, runner
from projections.base import Partition, partition_of, registry
from projections.batches import run_batch
from projections.models import OrderLine, OrderSummary
from tests.integration.projections.support import (
    add_at_list_price,
    at,
    checkpoint,
    head,
    place_at_list_prices,
    readable,
)
from tests.support import other_connection, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def in_thread(work) -> tuple[threading.Thread, list]:
    """Run ``work`` on a connection of its own; what it raised lands in the list."""
    raised: list[BaseException] = []

    def run():
        try:
            work()
        except BaseException as exc:  # reported by the test
            raised.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, raised


def test_runners_that_disagree_on_partitions_never_put_an_order_back(settings):
    # Checkpoints for two partitionings of order_list, as two workers started
    # with order_list=3 and order_list=2 would make.
    settings.PROJECTION_PARTITIONS = {"order_list": 3}
    checkpoints.ensure()
    settings.PROJECTION_PARTITIONS = {"order_list": 2}
    checkpoints.ensure()
    order_id = place_at_list_prices("cust_overlap", ("WIDGET-A", 1)).order_id
    base = registry.get("order_list")
    two = Partition(base, partition_of(order_id, 2), 2)
    three = Partition(base, partition_of(order_id, 3), 3)
    readable()
    run_batch(two)
    run_batch(three)
    assert OrderSummary.objects.get(order_id=order_id).version == 1
    add_at_list_price(order_id, "BOLT-7", 1)
    add_at_list_price(order_id, "NUT-8", 1)
    readable()
    # The runner of the three partitions stops its batch at version 2.
    after = EventStore().read_all(at(checkpoint(three.name)), limit=1000)
    upto_v2 = next(n for n, e in enumerate(after, 1) if e.aggregate_id == order_id and e.version == 2)

    with other_connection() as blocker:
        # Both runners read the row at version 1, then queue for it: the one
        # with versions 2 and 3 first, the one with only version 2 behind.
        blocker.execute("SELECT 1 FROM order_list WHERE order_id = %s FOR UPDATE", [order_id])
        newer, newer_raised = in_thread(lambda: run_batch(two))
        wait_until(lambda: waiting_on_locks() >= 1, 30, "the first runner to wait for the row")
        older, older_raised = in_thread(lambda: run_batch(three, limit=upto_v2))
        wait_until(lambda: waiting_on_locks() >= 2, 30, "the second runner to wait for the row")
        blocker.rollback()
    newer.join(30)
    older.join(30)
    assert newer_raised == older_raised == []

    row = OrderSummary.objects.get(order_id=order_id)
    assert row.version == 3  # not put back to version 2 by the runner that committed last
    assert row.line_count == 3
    assert sorted(OrderLine.objects.filter(order_id=order_id).values_list("sku", flat=True)) == [
        "BOLT-7",
        "NUT-8",
        "WIDGET-A",
    ]
    # Only what changed a row counts as applied: the other runner had written it each time.
    assert (checkpoint(two.name).events_applied, checkpoint(three.name).events_applied) == (3, 0)


def test_partitions_wait_while_a_runner_of_the_whole_projection_has_it(settings):
    settings.PROJECTION_PARTITIONS = {"order_list": 2}
    checkpoints.ensure()
    place_at_list_prices("cust_whole", ("WIDGET-A", 1))
    readable()
    with other_connection(autocommit=True) as whole:
        # A worker without PROJECTION_PARTITIONS, in the middle of a batch.
        whole.execute("BEGIN")
        whole.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key("order_list")])
        busy: set[str] = set()
        runner.run_all(busy=busy)
        assert busy == {"order_list"}  # what tasks wait for before they look again
        assert checkpoint("order_list.0of2").events_seen == checkpoint("order_list.1of2").events_seen == 0
        whole.execute("ROLLBACK")
    runner.run_all()
    assert at(checkpoint("order_list.0of2")) == at(checkpoint("order_list.1of2")) == head()[0]


def test_the_whole_projection_waits_while_a_partition_is_being_advanced(settings):
    settings.PROJECTION_PARTITIONS = {"order_list": 2}
    checkpoints.ensure()
    settings.PROJECTION_PARTITIONS = {}
    checkpoints.ensure()
    place_at_list_prices("cust_part", ("WIDGET-A", 1))
    readable()
    with other_connection(autocommit=True) as partition:
        partition.execute("BEGIN")
        partition.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key("order_list.0of2")])
        partition.execute("SELECT pg_advisory_xact_lock_shared(%s)", [locks.lock_key("order_list")])
        result = run_batch(registry.get("order_list"))
        assert (result.read, result.busy) == (0, {"order_list"})
        partition.execute("ROLLBACK")
    assert run_batch(registry.get("order_list")).read > 0
