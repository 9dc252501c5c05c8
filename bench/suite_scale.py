"""``python manage.py bench scale``: beyond one machine (issue 14).

- Live projection throughput on a partitioned order list
  (PROJECTION_PARTITIONS=order_list=4) with 1, 2 and 4 Celery workers
  (one process each, PROJECTION_FOLLOWERS = workers): a backlog of events is
  written first, every other read model is caught up, then the order list is
  emptied and its partitions put back to the start; the time until every
  partition is at the head, and the CPU the workers and PostgreSQL spent.
- W5 (the ``bench http`` load, event-sourced commands) through PgBouncer in
  transaction pooling mode and directly, on the same stack shape.

On a machine with few cores the worker curve flattens early: the CPU
figures say where the time went.
"""

import tempfile
import time
from pathlib import Path
from typing import Any

from django.db import connections
from django.test.utils import override_settings

from bench.http_load import caught_up, drive
from bench.http_stack import Stack, cpu_by_process, cpu_spent
from bench.pgbouncer import PgBouncer
from bench.suite_http import ITEMS_PER_ORDER, _token
from bench.support import as_default_database, progress

PARTITIONS = 4


def run(options: dict[str, Any]) -> dict[str, Any]:
    scale = options.get("scale", 1.0)
    events = options.get("events") or int(60_000 * scale)
    out: dict[str, Any] = {"partitions": PARTITIONS}
    alias = "default"  # the fulfilment process manager's ORM works on it
    with as_default_database(), tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        out.update(_workers(alias, Path(tmp), max(200, events // 5)))
        out.update(_pooler(alias, Path(tmp), int(options.get("clients") or 4), max(10, int(60 * scale))))
    return out


def _write_backlog(alias: str, orders: int) -> int:
    from bench.suite_projections import _order_events
    from eventstore import EventStore
    from eventstore.metadata import message_context
    from projections import checkpoints
    from projections.runner import run_all

    progress(f"writing {orders} orders x 5 events")
    store = EventStore(using=alias)
    with connections[alias].cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    with message_context(correlation_id="bench-scale", user_id="bench", command="Bench"):
        for i in range(orders):
            order_id, events = _order_events(i)
            store.append("Order", order_id, events, 0)
    with connections[alias].cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
    progress("catching every read model up (the measured runs redo the order list only)")
    checkpoints.ensure(alias)
    run_all(using=alias)
    return orders * 5


def _reset_order_list(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("DELETE FROM order_lines")
        cursor.execute("DELETE FROM order_list")
        cursor.execute(
            "UPDATE projection_checkpoints SET tx_id = 0, position = 0, events_seen = 0, events_applied = 0"
            " WHERE name LIKE 'order_list.%%'"
        )


def _partitions(alias: str) -> list[tuple]:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT name, tx_id, position, events_seen FROM projection_checkpoints ORDER BY name")
        return cursor.fetchall()


def _partitions_at_head(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1")
        head = cursor.fetchone()
        cursor.execute("SELECT tx_id, position FROM projection_checkpoints WHERE name LIKE 'order_list.%%'")
        rows = cursor.fetchall()
    return len(rows) == PARTITIONS and all(tuple(r) >= tuple(head) for r in rows)


def _workers(alias: str, tmp: Path, orders: int) -> dict[str, Any]:
    from celery import current_app

    from projections import nudge

    out: dict[str, Any] = {}
    with override_settings(PROJECTION_PARTITIONS={"order_list": PARTITIONS}, PROJECTIONS_MODE="off"):
        total = _write_backlog(alias, orders)
    out["scale_events"] = total
    for workers in (1, 2, 4):
        env = {
            "PROJECTION_PARTITIONS": f"order_list={PARTITIONS}",
            "PROJECTION_FOLLOWERS": str(workers),
        }
        stack = Stack(alias, tmp / f"workers{workers}", env=env, workers=workers, concurrency=1, beat=False)
        with stack:
            # Nothing left over (a queued run, a follow flag) may start early.
            redis = nudge.redis_client()
            for _ in range(2):
                redis.delete(current_app.conf.task_default_queue, nudge.NUDGE_KEY, nudge.FOLLOW_KEY)
                redis.delete(*(f"{nudge.FOLLOW_KEY}:{n}" for n in range(1, 8)))
                time.sleep(1.5)  # a run started from a leftover task hands back
            _reset_order_list(alias)
            progress(f"{workers} worker(s): the order list's {PARTITIONS} partitions from the start")
            before = cpu_by_process(alias)
            start = time.perf_counter()
            current_app.send_task(nudge.RUN_TASK)
            deadline = start + 900
            while not _partitions_at_head(alias):
                if time.perf_counter() > deadline:
                    raise RuntimeError("the partitions did not reach the head in 15 minutes")
                time.sleep(0.05)
            seconds = time.perf_counter() - start
            spent = cpu_spent(before, cpu_by_process(alias))
            runs = stack.projection_runs()
        out[f"scale_{workers}w_events_per_s"] = round(total / seconds)
        out[f"scale_{workers}w_s"] = round(seconds, 2)
        for group in ("worker", "postgres"):
            out[f"scale_{workers}w_cpu_s_{group}"] = round(spent.get(group, 0.0), 2)
        out[f"scale_{workers}w_task_runs"] = runs
    with connections[alias].cursor() as cursor:
        # Back to one order list checkpoint (at the head) for the W5 stacks.
        cursor.execute(
            "INSERT INTO projection_checkpoints (name, tx_id, position, events_seen, events_applied,"
            " projection_version, updated_at) SELECT 'order_list', tx_id, position, events_seen,"
            " events_applied, projection_version, updated_at FROM projection_checkpoints"
            " WHERE name = 'order_list.0of4'"
            " ON CONFLICT (name) DO NOTHING"
        )
        cursor.execute("DELETE FROM projection_checkpoints WHERE name LIKE 'order_list.%%'")
    out["scale_2w_speedup"] = round(out["scale_2w_events_per_s"] / out["scale_1w_events_per_s"], 2)
    out["scale_4w_speedup"] = round(out["scale_4w_events_per_s"] / out["scale_1w_events_per_s"], 2)
    return out


def _pooler(alias: str, tmp: Path, clients: int, orders: int) -> dict[str, Any]:
    db = connections.databases[alias]
    token = _token(alias)
    out: dict[str, Any] = {}
    bouncer = PgBouncer(
        db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432), db.get("USER") or "postgres"
    )
    with bouncer:
        shapes = {
            "direct": {},
            "pgbouncer": {
                "DATABASE_URL": bouncer.url(db["NAME"]),
                "DATABASE_PREPARED_STATEMENTS": "false",  # Debian 12's PgBouncer is older than 1.21
                "DB_IDLE_IN_TRANSACTION_TIMEOUT": "0",
            },
        }
        for name, env in shapes.items():
            with Stack(alias, tmp / f"w5-{name}", env=env) as stack:
                progress(f"W5 {name}: {clients} clients x {orders} orders x 5 commands")
                drive(
                    stack.base_url, "/api/orders/", token, clients, 3, ITEMS_PER_ORDER, alias=alias
                )  # warm-up
                figures = drive(
                    stack.base_url, "/api/orders/", token, clients, orders, ITEMS_PER_ORDER, alias=alias
                )
                caught_up(alias)
            out[f"w5_{name}_commands_per_s"] = round(figures["commands_per_s"], 1)
            out[f"w5_{name}_p50_ms"] = figures["p50_ms"]
            out[f"w5_{name}_p99_ms"] = figures["p99_ms"]
            for key, value in figures["cpu"].items():
                out[f"w5_{name}_{key}"] = value
    out["w5_pgbouncer_vs_direct"] = round(
        out["w5_pgbouncer_commands_per_s"] / out["w5_direct_commands_per_s"], 2
    )
    return out
