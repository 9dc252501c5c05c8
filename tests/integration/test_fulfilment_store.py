"""The fulfilment process manager's memory (orders.fulfilment_store) on both
databases: a process saved and loaded back is the same, the process manager
reserves and confirms through it, and a second run changes nothing."""

import time
import uuid
from datetime import UTC, datetime

import pytest

from orders import commands, fulfilment_store
from orders.models import FulfilmentProcess
from projections import runner
from projections.models import OrderSummary
from tests.support import place_order, stock_catalogue

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_saved_process_loads_back_the_same_and_a_second_save_replaces_it():
    at = datetime(2026, 12, 7, 3, 4, 5, 678901, tzinfo=UTC)
    order_id = uuid.uuid4()
    lines = {"WIDGET-A": {"wanted": 2, "reserved": 1, "refused": False, "refs": ["e1:WIDGET-A"]}}
    process = FulfilmentProcess(
        order_id=order_id, status="reserving", lines=lines, order_version=3, correlation_id="corr-1",
        outcome="", handled=["e1", "e2"], created_at=at, updated_at=at,
    )  # fmt: skip
    assert fulfilment_store.load(order_id) is None
    fulfilment_store.save(process)
    loaded = fulfilment_store.load(order_id)
    fields = ["order_id", "status", "lines", "order_version", "correlation_id", "outcome", "handled"]
    assert [getattr(loaded, f) for f in fields] == [getattr(process, f) for f in fields]
    assert loaded.created_at == at and loaded.updated_at == at
    assert fulfilment_store.followed({order_id, uuid.uuid4()}) == {order_id}

    loaded.status, loaded.outcome, loaded.updated_at = "cancelled", "no stock", at.replace(second=9)
    loaded.lines["WIDGET-A"]["refused"] = True
    fulfilment_store.save(loaded)
    stored = FulfilmentProcess.objects.get(order_id=order_id)  # what the pages read, through the ORM
    assert (stored.status, stored.outcome, stored.lines["WIDGET-A"]["refused"]) == (
        "cancelled",
        "no stock",
        True,
    )
    assert stored.created_at == at and stored.updated_at == at.replace(second=9)
    assert FulfilmentProcess.objects.count() == 1


def test_the_process_manager_reserves_and_confirms_through_it_once(settings):
    settings.INVENTORY_RESERVATION = True
    stock_catalogue([("WIDGET-A", 5, 100)])
    commands.execute(commands.ReceiveStock("WIDGET-A", 5))
    order_id = place_order("cust_store", [("WIDGET-A", 2, 100)]).order_id
    for _ in range(200):  # the order, its reservation, its confirmation (as they become readable)
        runner.run_all()
        if OrderSummary.objects.filter(order_id=order_id, status="confirmed").exists():
            break
        time.sleep(0.02)
    process = fulfilment_store.load(order_id)
    assert process.status == "confirmed" and process.lines["WIDGET-A"]["reserved"] == 2
    assert OrderSummary.objects.get(order_id=order_id).status == "confirmed"
    handled = list(process.handled)
    runner.run_all()  # nothing new: nothing handled again
    assert fulfilment_store.load(order_id).handled == handled
