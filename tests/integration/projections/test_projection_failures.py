"""Poison events: a failing event is recorded and stops only its projection,
just before it; retried after a backoff, then held; released by an
operator's retry (after the fix) or skipped, each recorded with who did it."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from projections import batches, failures
from projections.base import registry
from projections.models import ProjectionFailure
from tests.integration.projections.support import (
    add_at_list_price,
    at,
    catch_up,
    checkpoint,
    events,
    head,
    order_events_in_log,
    place_at_list_prices,
    rebuilt,
    rows,
    state,
    status_of,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def poisoned(break_projection, clock):
    """daily_sales cannot apply the events of one order; the others can.
    The log: ok, BAD placed, ok, ok."""
    p = SimpleNamespace()
    p.first = place_at_list_prices("alice", ("WIDGET-A", 1))
    p.bad = place_at_list_prices("mallory", ("NUT-8", 3))
    add_at_list_price(p.first.order_id, "BOLT-7", 2)
    place_at_list_prices("bob", ("PIPE-3", 1))
    p.fix = break_projection("daily_sales", p.bad.order_id)
    p.log = events()
    index = next(i for i, e in enumerate(p.log) if e.aggregate_id == p.bad.order_id)
    p.poison, p.before = p.log[index], p.log[index - 1]
    catch_up()
    return p


def fail_until_held(monkeypatch) -> None:
    """No waiting between attempts: run until the projection is held."""
    monkeypatch.setattr(failures, "backoff", lambda attempts: timedelta(0))
    ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    for _ in range(failures.MAX_ATTEMPTS + 2):
        catch_up()


def test_a_poison_event_is_recorded_and_stops_only_its_projection_just_before_it(poisoned):
    p = poisoned
    [failure] = ProjectionFailure.objects.all()
    assert (failure.projection, failure.position, failure.tx_id) == (
        "daily_sales",
        p.poison.position,
        p.poison.tx_id,
    )
    assert (failure.event_type, failure.aggregate_id, failure.attempts) == ("OrderPlaced", p.bad.order_id, 1)
    assert failure.error == f"RuntimeError: cannot project order {p.bad.order_id}"
    assert "Traceback" in failure.traceback and "RuntimeError: cannot project order" in failure.traceback
    assert failure.resolved_at is None and failure.next_attempt_at > timezone.now()

    assert at(checkpoint("daily_sales")) == p.before.global_position
    assert checkpoint("daily_sales").events_seen == p.log.index(p.poison)  # all before it
    assert [r["order_id"] for r in rows("daily_sales_orders")] == [p.first.order_id]  # kept what came before

    last, count = head()
    for name in ("order_list", "customer_summary"):
        assert (at(checkpoint(name)), checkpoint(name).events_seen) == (last, count)
    assert p.bad.order_id in {r["order_id"] for r in rows("order_list")}

    s = status_of("daily_sales")
    assert (s["state"], s["lag_events"]) == ("retrying", count - p.log.index(p.poison))
    assert s["failures"][0]["position"] == p.poison.position


def test_a_failing_event_is_retried_after_its_backoff_and_then_held_while_the_others_go_on(
    poisoned, monkeypatch
):
    p = poisoned
    catch_up()  # inside the backoff: no new attempt
    assert ProjectionFailure.objects.get().attempts == 1

    fail_until_held(monkeypatch)
    failure = ProjectionFailure.objects.get()
    assert failure.attempts == failures.MAX_ATTEMPTS  # held: no attempts beyond the limit
    assert status_of("daily_sales")["state"] == "held"
    assert batches.run_batch(registry.get("daily_sales")).held

    later = place_at_list_prices("dave", ("LAMP-9", 1))
    catch_up()
    last, _ = head()
    assert at(checkpoint("order_list")) == at(checkpoint("customer_summary")) == last
    assert at(checkpoint("daily_sales")) == p.before.global_position
    assert later.order_id in {r["order_id"] for r in rows("customer_summary_orders")}


def test_a_projection_due_to_retry_its_poison_event_does_not_hold_the_others_back(poisoned):
    ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))  # retry is due
    later = place_at_list_prices("dave", ("LAMP-9", 1))
    catch_up()
    assert ProjectionFailure.objects.get().attempts == 2  # daily_sales tried again, and failed again
    assert at(checkpoint("daily_sales")) == poisoned.before.global_position
    assert at(checkpoint("order_list")) == at(checkpoint("customer_summary")) == head()[0]
    assert later.order_id in {r["order_id"] for r in rows("order_list")}


def test_after_the_fix_an_operator_retry_resumes_at_the_poison_event_and_equals_a_rebuild(
    poisoned, monkeypatch
):
    p = poisoned
    fail_until_held(monkeypatch)
    add_at_list_price(p.bad.order_id, "NUT-8", 1)  # more for the poisoned order while held
    p.fix()

    catch_up()
    assert status_of("daily_sales")["state"] == "held"  # fixed code alone does not release it

    released = failures.retry("daily_sales", by="ops-alice")
    assert (released.resolution, released.resolved_by) == ("retried", "ops-alice")
    assert released.resolved_at is not None
    catch_up()
    last, count = head()
    cp = checkpoint("daily_sales")
    assert (at(cp), cp.events_seen, cp.events_applied) == (last, count, order_events_in_log())  # each once
    assert status_of("daily_sales")["state"] == "running"
    assert failures.open_failure("daily_sales") is None

    live = state(registry.get("daily_sales"))
    assert {r["order_id"]: r["total_cents"] for r in live["daily_sales_orders"]}[p.bad.order_id] == 40
    rebuilt(registry.get("daily_sales"))
    assert state(registry.get("daily_sales")) == live


def test_a_retry_after_the_backoff_that_succeeds_resolves_the_failure_by_the_runner(poisoned):
    poisoned.fix()
    ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    catch_up()
    failure = ProjectionFailure.objects.get()
    assert (failure.resolution, failure.resolved_by, failure.attempts) == ("retried", "runner", 1)
    assert at(checkpoint("daily_sales")) == head()[0]


def test_skipping_the_poison_event_moves_past_it_and_records_who_did_it(poisoned, monkeypatch):
    p = poisoned
    fail_until_held(monkeypatch)

    skipped = failures.skip("daily_sales", p.poison.position, by="ops-bob")
    assert (skipped.resolution, skipped.resolved_by, skipped.position) == (
        "skipped",
        "ops-bob",
        p.poison.position,
    )
    stored = ProjectionFailure.objects.get()
    assert (stored.resolution, stored.resolved_by) == ("skipped", "ops-bob") and stored.resolved_at
    assert at(checkpoint("daily_sales")) == p.poison.global_position

    p.fix()
    catch_up()
    assert at(checkpoint("daily_sales")) == head()[0]
    assert status_of("daily_sales")["state"] == "running"
    sales = state(registry.get("daily_sales"))
    assert p.bad.order_id not in {r["order_id"] for r in sales["daily_sales_orders"]}
    assert len(sales["daily_sales_orders"]) == 2
    [day] = sales["daily_sales"]
    assert (day["orders_placed"], day["booked_cents"]) == (2, 1999 + 700)


def test_skipping_a_position_the_projection_is_not_held_at_is_refused(poisoned, monkeypatch):
    p = poisoned
    with pytest.raises(failures.SkipError):
        failures.skip("order_list", p.poison.position, by="ops")  # not held at all
    fail_until_held(monkeypatch)
    with pytest.raises(failures.SkipError):
        failures.skip("daily_sales", p.before.position, by="ops")
    assert at(checkpoint("daily_sales")) == p.before.global_position
    assert ProjectionFailure.objects.get().resolved_at is None
    assert status_of("daily_sales")["state"] == "held"
