"""``python manage.py bench projections``: W4 of BENCHMARKS.md. 20,000 orders
with 5 events each (``--events N``: N / 5 orders), projected by the live
incremental path and by a rebuild from position 0; the two must give
identical tables. Reports the rebuild with one process and with one per
core (``--jobs``), and the peak resident memory of the processes doing it.

Peak memory is ``getrusage``'s maxrss: of this process, which also writes
the log and runs the live path, and of the rebuild processes (children)."""

import os
import resource
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
    events = options.get("events") or int(100_000 * options.get("scale", 1.0))
    n_orders = max(200, events // 5)
    jobs = options.get("jobs") or os.cpu_count() or 1
    # Only the measured paths may run projections here.
    with as_default_database(), override_settings(PROJECTIONS_MODE="off"):
        return _run(n_orders, jobs, live=n_orders <= 40_000 or bool(options.get("live")))


def _digest(projections) -> tuple[int, list[str]]:
    """The read models' rows: their count and, per table, a digest of them
    (surrogate ids left out, as ``rebuild.snapshot`` does), computed by
    the database: the comparisons need no copy of a million rows in this
    process, which the rebuild processes fork from (their memory would
    count it)."""
    from django.db import connection

    rows, digests = 0, []
    with connection.cursor() as cursor:
        for projection in projections:
            tables = projection.tables()
            for logical, spec in sorted(tables.specs.items()):
                cursor.execute(
                    "SELECT COUNT(*), md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), ''))"
                    f" FROM (SELECT {', '.join(spec.kinds)} FROM {tables.name(logical)}) r"
                )
                count, digest = cursor.fetchone()
                rows += count
                digests.append(f"{spec.table}:{count}:{digest}")
    return rows, digests


def _rss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def _run(n_orders: int, jobs: int, live: bool) -> dict[str, Any]:
    from django.db import connection

    from projections import checkpoints, rebuild, runner
    from projections.base import registry

    progress(f"W4: writing {n_orders} orders x 5 events")
    with connection.cursor() as cursor:
        # Bulk writes in few transactions: the appends are not what W4 measures.
        cursor.execute("SET synchronous_commit = off")
    store = EventStore()
    with message_context(correlation_id=str(uuid.uuid4()), user_id="bench", command="Bench"):
        for i in range(n_orders):
            order_id, events = _order_events(i)
            store.append("Order", order_id, events, 0)
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
        cursor.execute("VACUUM ANALYZE events")
    total = n_orders * 5
    projections = registry.projections()
    checkpoints.ensure()
    out: dict[str, Any] = {"w4_events": total, "w4_projections": len(projections)}
    rss_before = _rss_mb(resource.RUSAGE_SELF)

    live_tables = None
    if live:
        progress("W4: the live, incremental path (Celery's code path, in this process)")
        start = time.perf_counter()
        runner.run_all()  # what the Celery task runs: batches, one transaction each
        live_seconds = time.perf_counter() - start
        live_tables = _digest(projections)
        out["w4_live_events_per_s"] = round(total / live_seconds)
        out["w4_live_s"] = round(live_seconds, 2)

    first = None
    for n in sorted({1, jobs}):
        progress(f"W4: rebuild every read model from position 0 with {n} process(es) (shadow tables, swap)")
        self_before = _rss_mb(resource.RUSAGE_SELF)
        start = time.perf_counter()
        result = rebuild.rebuild(projections, jobs=n)
        seconds = time.perf_counter() - start
        assert result.events == total, (result.events, total)
        key = "w4_rebuild" if n == 1 else f"w4_rebuild_{n}jobs"
        out[f"{key}_events_per_s"] = round(total / seconds)
        out[f"{key}_s"] = round(seconds, 2)
        if n == 1:
            out["w4_rebuild_peak_rss_mb"] = _rss_mb(resource.RUSAGE_SELF)
            out["w4_rebuild_rss_growth_mb"] = round(out["w4_rebuild_peak_rss_mb"] - self_before, 1)
        else:
            # Child processes (the Python folds) or this one (SQL on threads).
            out[f"{key}_peak_rss_mb"] = max(_rss_mb(resource.RUSAGE_CHILDREN), _rss_mb(resource.RUSAGE_SELF))
        rebuilt = _digest(projections)
        first = first or rebuilt
        assert rebuilt == first, f"the rebuild with {n} processes differs"
        if live_tables is not None:
            assert rebuilt == live_tables, "a rebuild differs from the live read models"
    rows = first[0]
    progress(f"W4: {rows} read-model rows, every rebuild equal" + (" to the live path" if live else ""))
    out["rss_mb_before_rebuilds"] = rss_before
    return out
