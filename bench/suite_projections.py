"""``python manage.py bench projections``: W4 of BENCHMARKS.md. 20,000 orders
with 5 events each, projected by the live incremental path and by a rebuild
from position 0; the two must give identical tables."""

import time
import uuid
from typing import Any

from django.test.utils import override_settings

from bench.support import as_default_database, progress
from eventstore import EventStore, NewEvent
from eventstore.metadata import message_context
from orders.domain import OrderAggregate


def _order_events(i: int) -> tuple[uuid.UUID, list[NewEvent]]:
    order = OrderAggregate(uuid.uuid4())
    order.place(f"cust_{i % 2000}", [("WIDGET-A", 1 + i % 3, 1999)])
    order.add_item("GADGET-B", 1, 500)
    order.add_item("WIDGET-A", 1, 1999)
    order.add_item(f"EXTRA-{i % 7}", 2, 250)
    if i % 5 == 0:
        order.cancel("customer changed their mind")
    elif i % 2 == 0:
        order.ship("DHL", f"JD{i:08d}")
    else:
        order.remove_item("GADGET-B")
    return order.id, [NewEvent(e.event_type, e.to_data()) for e in order.pending]


def run(options: dict[str, Any]) -> dict[str, Any]:
    n_orders = max(200, int(20_000 * options.get("scale", 1.0)))
    # Only the measured paths may run projections here.
    with as_default_database(), override_settings(PROJECTIONS_MODE="off"):
        return _run(n_orders)


def _run(n_orders: int) -> dict[str, Any]:
    from projections import checkpoints, rebuild, runner
    from projections.base import registry

    store = EventStore()
    progress(f"W4: writing {n_orders} orders x 5 events")
    with message_context(correlation_id=str(uuid.uuid4()), user_id="bench", command="Bench"):
        for i in range(n_orders):
            order_id, events = _order_events(i)
            store.append("Order", order_id, events, 0)
    total = n_orders * 5
    projections = registry.projections()
    checkpoints.ensure()

    progress("W4: the live, incremental path (Celery's code path, in this process)")
    start = time.perf_counter()
    runner.run_all()  # what the Celery task runs: batches, one transaction each
    live_seconds = time.perf_counter() - start
    live = {p.name: rebuild.snapshot(p) for p in projections}

    progress("W4: rebuild every read model from position 0 (one pass, shadow tables, swap)")
    start = time.perf_counter()
    result = rebuild.rebuild(projections)
    rebuild_seconds = time.perf_counter() - start
    rebuilt = {p.name: rebuild.snapshot(p) for p in projections}
    assert result.events == total, (result.events, total)
    assert rebuilt == live, "a rebuild differs from the live read models"
    rows = sum(len(t) for snap in rebuilt.values() for t in snap.values())
    progress(f"W4: {rows} read-model rows, rebuild equals live")
    return {
        "w4_events": total,
        "w4_projections": len(projections),
        "w4_rebuild_events_per_s": round(total / rebuild_seconds),
        "w4_live_events_per_s": round(total / live_seconds),
        "w4_rebuild_s": round(rebuild_seconds, 2),
        "w4_live_s": round(live_seconds, 2),
    }
