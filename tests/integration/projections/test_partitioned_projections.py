"""A projection split into partitions by a hash of the stream id: each
partition has its own checkpoint and lock and applies only its streams'
events; together they give the tables a rebuild gives, and runners that hold
some partitions do not stop others from advancing the rest."""

from contextlib import ExitStack

import pytest

from projections import checkpoints, locks, runner
from projections.base import Partition, partition_of, registry
from projections.consistency import expand, wait_for
from tests.integration.projections.support import (
    Workload,
    all_states,
    at,
    catch_up,
    checkpoint,
    head,
    readable,
    rebuilt,
    state,
)
from tests.support import other_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NAMES = ("order_list.0of3", "order_list.1of3", "order_list.2of3")


@pytest.fixture
def three_partitions(settings):
    settings.PROJECTION_PARTITIONS = {"order_list": 3}
    checkpoints.ensure()


def test_partitions_each_apply_their_streams_and_together_equal_a_rebuild(three_partitions):
    Workload(7).orders(120)
    readable()
    runner.run_all()
    last, count = head()
    parts = [registry.get(name) for name in NAMES]
    assert all(isinstance(p, Partition) for p in parts)
    applied = 0
    for part in parts:
        cp = checkpoint(part.name)
        assert (at(cp), cp.events_seen) == (last, count)  # every partition passes every event...
        applied += cp.events_applied
    order_events = [e for e in readable_events() if e.aggregate_type == "Order"]
    assert applied == len(order_events)  # ...and applies its own streams' once
    assert {partition_of(e.aggregate_id, 3) for e in order_events} == {0, 1, 2}

    live = all_states()
    rebuilt(registry.get("order_list"))  # the whole projection, over all its partitions
    assert all_states() == live
    for name in NAMES:
        assert at(checkpoint(name)) == last


def test_a_runner_holding_one_partition_does_not_hold_back_the_others(three_partitions):
    Workload(8).orders(30)
    readable()
    with ExitStack() as stack:
        holder = stack.enter_context(other_connection(autocommit=True))
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key(NAMES[1])])
        busy: set[str] = set()
        runner.run_all(busy=busy)
        assert busy == {NAMES[1]}
        assert checkpoint(NAMES[1]).events_seen == 0
        assert checkpoint(NAMES[0]).events_seen == checkpoint(NAMES[2]).events_seen == head()[1]
        holder.execute("ROLLBACK")
    runner.run_all()
    assert checkpoint(NAMES[1]).events_seen == head()[1]
    live = state(registry.get("order_list"))
    rebuilt(registry.get("order_list"))
    assert state(registry.get("order_list")) == live


def test_read_your_writes_waits_for_every_partition(three_partitions):
    assert expand(("order_list",)) == NAMES
    Workload(9).orders(5)
    readable()
    target, _ = head()
    assert not wait_for(("order_list",), target, timeout=0.05)
    runner.run_all()
    assert wait_for(("order_list",), target, timeout=0.05)


def test_new_partitions_start_where_the_projection_was(settings):
    Workload(10).orders(10)
    catch_up()  # unpartitioned
    before = at(checkpoint("order_list"))
    settings.PROJECTION_PARTITIONS = {"order_list": 2}
    checkpoints.ensure()
    assert [at(checkpoint(f"order_list.{k}of2")) for k in range(2)] == [before, before]


def readable_events():
    from eventstore import START, EventStore

    return EventStore().read_all(START, limit=1_000_000)
