"""The runner: running it again, applying a batch again or replaying from an
earlier checkpoint changes nothing; two runners at once apply every event
exactly once; a run that finds a projection busy asks for a second look."""

import os
import threading
import time
from contextlib import ExitStack

import pytest
from django.db import transaction

from projections import checkpoints, locks, runner
from projections.base import registry
from projections.models import ProjectionCheckpoint
from tests.integration.projections.support import (
    Workload,
    all_states,
    assert_a_rebuild_changes_nothing,
    at,
    catch_up,
    checkpoint,
    events,
    head,
    order_events_in_log,
    order_projections,
    place_at_list_prices,
    readable,
    state,
)
from tests.support import other_connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def checkpoints_now() -> dict[str, tuple]:
    """Every checkpoint: where it stands, what it has seen and applied."""
    return {
        cp.name: (cp.tx_id, cp.position, cp.events_seen, cp.events_applied)
        for cp in ProjectionCheckpoint.objects.all()
    }


def test_running_the_runner_again_changes_nothing(clock):
    Workload(2, clock).orders(40)
    catch_up()
    before, cps = all_states(), checkpoints_now()
    assert catch_up() == {p.name: 0 for p in order_projections()}
    assert all_states() == before
    assert checkpoints_now() == cps


@pytest.mark.parametrize("name", ["order_list", "customer_summary", "daily_sales"])
def test_applying_the_same_batch_twice_leaves_the_tables_as_applying_it_once(name, clock):
    Workload(3, clock).orders(40)
    projection = registry.get(name)
    batch = [e for e in events() if e.event_type in projection.event_types]
    with transaction.atomic():
        tables = projection.tables()
        assert projection.apply(batch, tables) == len(batch)
        once = state(projection)
        assert projection.apply(batch, tables) == 0
        assert state(projection) == once
        # an overlapping batch (the tail of the first plus nothing new) too
        assert projection.apply(batch[len(batch) // 2 :], tables) == 0
        assert state(projection) == once
    assert once == state(projection)  # committed as applied once
    assert all(once.values())


def test_moving_a_checkpoint_back_replays_the_events_without_changing_anything(clock):
    Workload(4, clock).orders(40)
    catch_up()
    before = all_states()
    last, count = head()
    log = events()

    ProjectionCheckpoint.objects.update(tx_id=0, position=0)
    assert catch_up() == {p.name: count for p in order_projections()}  # read everything again
    assert all_states() == before
    for p in order_projections():
        cp = checkpoint(p.name)
        applied = order_events_in_log()
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, 2 * count, applied)  # none re-applied

    middle = log[len(log) // 2]
    ProjectionCheckpoint.objects.update(tx_id=middle.tx_id, position=middle.position)
    assert catch_up() == {p.name: len(log) - len(log) // 2 - 1 for p in order_projections()}
    assert all_states() == before
    assert {at(checkpoint(p.name)) for p in order_projections()} == {last}


# -- concurrent runners ------------------------------------------------------------------


def test_two_runners_on_the_same_projections_apply_every_event_exactly_once(settings, run_in_threads):
    settings.PROJECTION_BATCH_SIZE = 15
    Workload(61).orders(60)
    checkpoints.ensure()
    stop = threading.Event()

    def write():
        try:
            Workload(62).orders(150)
        finally:
            stop.set()

    def run():
        read = dict.fromkeys((p.name for p in order_projections()), 0)
        while True:
            last_round = stop.is_set()
            for p in order_projections():
                read[p.name] += runner.run_projection(p)
            if last_round:
                return read
            time.sleep(0.001)

    _, first, second = run_in_threads(write, run, run)
    final = catch_up()
    last, count = head()
    assert sum(first.values()) > 0 and sum(second.values()) > 0  # both did work
    for p in order_projections():
        assert first[p.name] + second[p.name] + final[p.name] == count, p.name
        cp = checkpoint(p.name)
        assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, order_events_in_log()), p.name
    assert_a_rebuild_changes_nothing()


def test_a_run_that_finds_a_projection_held_by_another_runner_queues_a_second_look(settings, monkeypatch):
    """The other runner may have read the log before the commit that sent
    this nudge and stop there: the task waits for it a moment, and if it
    keeps the projection, asks for another run later, once."""
    import redis

    from projections import nudge, tasks

    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL (make test sets it)")
    place_at_list_prices("cust_busy", ("WIDGET-A", 1))
    readable()
    settings.REDIS_URL = os.environ["REDIS_URL"]
    monkey = redis.Redis.from_url(settings.REDIS_URL)
    from config.celery import app

    assert app.conf.broker_url == settings.REDIS_URL  # the broker: the same server
    queue = app.conf.task_default_queue
    monkey.delete(nudge.NUDGE_KEY, queue)
    nudge._redis = None
    monkeypatch.setattr(tasks, "BUSY_WAIT_SECONDS", 0.1)
    with ExitStack() as stack:
        holder = stack.enter_context(other_connection(autocommit=True))
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key("daily_sales")])
        busy: set[str] = set()
        runner.run_all(busy=busy)
        assert busy == {"daily_sales"}
        assert checkpoint("daily_sales").events_seen == 0  # not advanced by this run
        assert checkpoint("order_list").events_seen == head()[1]  # the others were

        tasks.run_projections()  # what the worker runs on a nudge
        assert monkey.exists(nudge.NUDGE_KEY)  # a second look is pending...
        assert monkey.llen(queue) == 1  # ...as one queued task
        nudge.nudge_later(0.1)  # more nudges meanwhile do not queue more runs
        nudge._send()
        assert monkey.llen(queue) == 1
        monkey.lpop(queue)  # the worker takes it: still held, so it asks again
        tasks.run_projections()
        assert monkey.llen(queue) == 1
        holder.execute("ROLLBACK")
    monkey.delete(nudge.NUDGE_KEY, queue)

    # Let go while the task waits: it does the work itself, nothing is queued.
    place_at_list_prices("cust_busy", ("WIDGET-A", 2))
    readable()
    monkeypatch.setattr(tasks, "BUSY_WAIT_SECONDS", 10)
    with other_connection(autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [locks.lock_key("daily_sales")])
        threading.Timer(0.3, holder.execute, ["ROLLBACK"]).start()
        counts = tasks.run_projections()
    assert counts["daily_sales"] == head()[1]  # both orders' events, once it could
    assert checkpoint("daily_sales").events_seen == head()[1]
    assert monkey.llen(queue) == 0
    monkey.delete(nudge.NUDGE_KEY, queue)
    nudge._redis = None
