"""Inline read models: the change is in the read model when the command
returns; a failing inline projection fails the command; a rebuild's swap
does not lose a command that arrives during it."""

import threading
import time
import uuid

import pytest
from django.db import connections

from eventstore import EventStore, hooks
from orders import commands
from orders.domain import Line
from projections import inline, rebuild
from projections.base import registry
from tests.integration.projections.support import (
    add_at_list_price,
    catch_up,
    checkpoint,
    place_at_list_prices,
    rebuilt,
    rows,
    state,
)
from tests.support import stock_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inline_order_list(settings):
    """order_list inline, as ProjectionsConfig.ready() sets it up when
    PROJECTION_CONSISTENCY names it at start-up."""
    settings.PROJECTION_CONSISTENCY = {"order_list": "inline"}
    settings.PROJECTIONS_MODE = "off"
    added = inline.apply_inline not in hooks.append_listeners
    if added:
        hooks.append_listeners.append(inline.apply_inline)
    yield registry.get("order_list")
    if added:
        hooks.append_listeners.remove(inline.apply_inline)


def order_row(order_id):
    found = [r for r in rows("order_list") if r["order_id"] == order_id]
    return found[0] if found else None


def test_an_inline_read_model_has_the_change_when_the_command_returns(inline_order_list, run_in_threads):
    assert registry.get("order_list").consistency == "inline"
    placed = place_at_list_prices("erin", ("WIDGET-A", 2))
    # committed: another connection sees it at once
    [seen] = run_in_threads(lambda: order_row(placed.order_id))
    assert (seen["status"], seen["total_cents"], seen["version"], seen["last_position"]) == (
        "placed",
        3998,
        1,
        placed.position,
    )
    added = add_at_list_price(placed.order_id, "BOLT-7", 4)
    row = order_row(placed.order_id)
    assert (row["total_cents"], row["item_count"], row["version"], row["last_position"]) == (
        4098,
        6,
        2,
        added.position,
    )
    assert rows("customer_summary") == [] and rows("daily_sales") == []  # the async ones did not run

    catch_up()  # passes over the same events: nothing left to apply for order_list
    cp = checkpoint("order_list")
    assert (cp.events_seen, cp.events_applied) == (4, 0)  # and the two catalogue events before them
    assert checkpoint("customer_summary").events_applied == 2
    live = state(inline_order_list)
    rebuilt(inline_order_list)
    assert state(inline_order_list) == live


def test_a_failing_inline_projection_fails_the_command_and_appends_nothing(
    inline_order_list, break_projection
):
    order_id = uuid.uuid4()
    stock_catalogue([("WIDGET-A", 1, 1999)])
    break_projection("order_list", order_id)
    with pytest.raises(RuntimeError, match="cannot project"):
        commands.execute(commands.PlaceOrder("frank", (Line("WIDGET-A", 1, 1999),), order_id=order_id))
    assert EventStore().load(order_id) == []
    assert rows("order_list") == []


def test_rebuilding_an_inline_projection_keeps_a_command_committed_during_the_swap(
    inline_order_list, monkeypatch
):
    """A command arriving during the rebuild's final swap waits for it (the
    inline write takes the projection's lock in shared mode) and then writes
    into the new tables."""
    placed = place_at_list_prices("gina", ("WIDGET-A", 1))
    real_swap = rebuild._swap
    outcome: list = []

    def concurrent_add():
        try:
            outcome.append(add_at_list_price(placed.order_id, "BOLT-7", 2))
        except BaseException as exc:  # reported below
            outcome.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=concurrent_add)

    def swap(cursor, live, shadow):
        if not worker.is_alive() and not outcome:
            worker.start()
            # Wait until the command is blocked on the projection's lock.
            deadline = time.monotonic() + 20
            while True:
                cursor.execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                if cursor.fetchone()[0] or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        real_swap(cursor, live, shadow)

    monkeypatch.setattr(rebuild, "_swap", swap)
    rebuilt(inline_order_list)
    worker.join(30)
    assert not isinstance(outcome[0], BaseException), outcome[0]
    assert outcome[0].version == 2
    row = order_row(placed.order_id)
    assert (row["version"], row["line_count"]) == (2, 2)

    nxt = add_at_list_price(placed.order_id, "NUT-8", 1)
    row = order_row(placed.order_id)
    assert (row["version"], row["total_cents"], row["last_position"]) == (3, 1999 + 50 + 10, nxt.position)
