"""W1-W3 of BENCHMARKS.md through the event store's own API, plus the same
workloads on plain psycopg (the "raw" baseline) measured in the same run."""

import time
import uuid
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connections

from bench.support import (
    Timer,
    backend_cpu_seconds,
    bench_database,
    median_ms,
    progress,
    run_in_processes,
)
from eventstore import hooks
from eventstore.metadata import message_context
from eventstore.registry import EventTypeRegistry
from eventstore.store import EventStore
from eventstore.types import START, NewEvent, Snapshot

LINE_SCHEMA = {
    "type": "object",
    "properties": {
        "sku": {"type": "string", "maxLength": 40},
        "quantity": {"type": "integer", "minimum": 1},
        "price_cents": {"type": "integer", "minimum": 0},
        "name": {"type": "string"},
        "warehouse": {"type": "string"},
        "note": {"type": "string"},
    },
    "required": ["sku", "quantity", "price_cents"],
}


def bench_registry() -> EventTypeRegistry:
    reg = EventTypeRegistry()
    reg.register("BenchItemAdded", LINE_SCHEMA, aggregate_type="BenchOrder")
    return reg


def payload(i: int) -> dict[str, Any]:
    # About 200 bytes of JSON, like an order line.
    return {
        "sku": f"WIDGET-{i % 50:03d}",
        "quantity": 1 + i % 7,
        "price_cents": 1999 + i,
        "name": "Widget, anodised aluminium, 40 mm",
        "warehouse": "BER-2",
        "note": "gift wrap; leave at the front desk if nobody answers",
    }


def _w1_orders(store: EventStore, n_orders: int, per_order: int, batched: bool) -> int:
    written = 0
    with message_context(correlation_id=str(uuid.uuid4()), user_id="bench", command="BenchAddItem"):
        for _ in range(n_orders):
            order = uuid.uuid4()
            if batched:
                store.append(
                    "BenchOrder", order, [NewEvent("BenchItemAdded", payload(i)) for i in range(per_order)], 0
                )
            else:
                for version in range(per_order):
                    store.append("BenchOrder", order, [NewEvent("BenchItemAdded", payload(version))], version)
            written += per_order
    return written


W1_ROUNDS = 10


def w1_one_client(store: EventStore, raw: str | None, n_orders: int, per_order: int) -> dict[str, Any]:
    """W1 with one client, and (given ``raw``, a conninfo) the raw baseline in
    the same run: in rounds of a tenth of the orders each, alternating which
    goes first, each side's rate over the sum of its rounds. On a shared
    machine the speed drifts over minutes; measured side by side, both see
    the same drift and their ratio keeps still. Also where an append's time
    goes, on each side: this process's CPU, its PostgreSQL backend's CPU,
    and the rest (waiting: on the network, and on the WAL's flush at commit),
    in microseconds per append."""
    store.stream_version(uuid.uuid4())  # connected before the clock starts
    sides = {"w1": _Side(connections[store.using].connection.info.backend_pid)}
    if raw:
        conn = psycopg.connect(raw, autocommit=True)
        sides["raw_w1"] = _Side(conn.info.backend_pid)
    try:
        for n, share in enumerate(s for s in _shares(n_orders, W1_ROUNDS) if s):
            for name in sides if n % 2 == 0 else reversed(sides):
                with sides[name].measuring():
                    if name == "w1":
                        sides[name].appends += _w1_orders(store, share, per_order, batched=False)
                    else:
                        sides[name].appends += _raw_w1_on(conn, share, per_order)
    finally:
        if raw:
            conn.close()
    out: dict[str, Any] = {}
    for name, side in sides.items():
        out[f"{name}_events_per_s_1client"] = round(side.appends / side.wall)
        out.update({f"{name}_1client_{key}_us_per_append": value for key, value in side.split().items()})
    return out


class _Side:
    """One side of W1's one-client rounds: its appends, and the time they
    took. The backend's CPU comes from /proc in 10 ms ticks (a few percent
    at full scale); without it (PostgreSQL not on this machine) the split
    has the client's CPU only. "Waiting" also holds any time the machine
    kept either process from running."""

    def __init__(self, backend_pid: int):
        self.pid = backend_pid
        self.appends, self.wall, self.client = 0, 0.0, 0.0
        self.server: float | None = 0.0

    @contextmanager
    def measuring(self):
        wall, client, server = time.perf_counter(), time.process_time(), backend_cpu_seconds(self.pid)
        yield
        self.wall += time.perf_counter() - wall
        self.client += time.process_time() - client
        after = backend_cpu_seconds(self.pid)
        if self.server is not None and server is not None and after is not None:
            self.server += after - server
        else:
            self.server = None

    def split(self) -> dict[str, float]:
        per = 1e6 / self.appends
        out = {"client_cpu": round(self.client * per, 1)}
        if self.server is not None:
            out["server_cpu"] = round(self.server * per, 1)
            out["waiting"] = round((self.wall - self.client - self.server) * per, 1)
        return out


def w1_parallel(alias: str, clients: int, n_orders: int, per_order: int) -> float:
    def connect():
        store = EventStore(using=alias, registry=bench_registry())
        store.stream_version(uuid.uuid4())  # connected before the clock starts
        return store

    def client(n, store):
        return _w1_orders(store, n, per_order, batched=False)

    return run_in_processes(client, _shares(n_orders, clients), prepare=connect)


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def rebuild(events) -> dict[str, int]:
    state = {"lines": 0, "units": 0, "total_cents": 0}
    for e in events:
        d = e.data
        state["lines"] += 1
        state["units"] += d["quantity"]
        state["total_cents"] += d["quantity"] * d["price_cents"]
    return state


def run(options: dict[str, Any]) -> dict[str, Any]:
    """The store alone: listeners that apps built on it hang on appends
    (projection nudges, inline read models) are detached for the run."""
    saved = hooks.append_listeners[:], hooks.commit_listeners[:]
    hooks.append_listeners.clear()
    hooks.commit_listeners.clear()
    try:
        return _run(options)
    finally:
        hooks.append_listeners[:], hooks.commit_listeners[:] = saved


def _run(options: dict[str, Any]) -> dict[str, Any]:
    scale = options.get("scale", 1.0)
    n_orders, per_order = max(8, int(2000 * scale)), 5
    w2_events = max(100, int(10_000 * scale))
    result: dict[str, Any] = {}
    with bench_database() as alias:
        store = EventStore(using=alias, registry=bench_registry())
        store.stream_version(uuid.uuid4())

        raw = None if options.get("no_raw") else _raw_conninfo(alias)
        if raw:
            with psycopg.connect(raw, autocommit=True) as conn:
                conn.execute(RAW_SCHEMA)
        progress(
            f"W1: {n_orders} orders x {per_order} events, one append per event, 1 client"
            + (", in rounds alternating with the raw baseline" if raw else "")
        )
        result.update(w1_one_client(store, raw, n_orders, per_order))

        progress("W1: the same with 8 client processes")
        result["w1_events_per_s_8clients"] = round(w1_parallel(alias, 8, n_orders, per_order))

        progress("W1: 5 events per append")
        with Timer() as t:
            written = _w1_orders(store, n_orders, per_order, batched=True)
        result["w1_batched_events_per_s"] = round(written / t.seconds)

        expected = 3 * n_orders * per_order
        with connections[alias].cursor() as c:
            c.execute("SELECT COUNT(*), COUNT(DISTINCT aggregate_id), MAX(version) FROM events")
            count, streams, max_version = c.fetchone()
        assert (count, streams, max_version) == (expected, 3 * n_orders, per_order), (count, streams)

        progress(f"W3: read the {expected} events of W1 through the gap-safe read, pages of 1,000")
        with Timer() as t:
            checkpoint, seen = START, 0
            while batch := store.read_all(checkpoint, limit=1000):
                seen += len(batch)
                checkpoint = batch[-1].global_position
        assert seen == expected, (seen, expected)
        result["w3_events_per_s"] = round(seen / t.seconds)

        progress(f"W2: one stream of {w2_events} events; median of 20 loads")
        order = uuid.uuid4()
        for v in range(0, w2_events, 100):
            store.append(
                "BenchOrder", order, [NewEvent("BenchItemAdded", payload(v + i)) for i in range(100)], v
            )
        samples, state = [], None
        for _ in range(20):
            with Timer() as t:
                state = rebuild(store.load(order))
            samples.append(t.seconds)
        assert state["lines"] == w2_events
        result["w2_load_ms_10k"] = median_ms(samples)

        store.save_snapshot(Snapshot(order, "BenchOrder", w2_events, 1, state))
        samples = []
        for _ in range(20):
            with Timer() as t:
                snapshot, tail = store.load_from_snapshot(order, schema_version=1)
                snap_state = dict(snapshot.state)
                if tail:
                    snap_state = rebuild(tail)
            samples.append(t.seconds)
        assert snap_state == state and not tail
        result["w2_snapshot_load_ms"] = median_ms(samples)

        if raw:
            result.update(raw_baseline(raw, n_orders, per_order, w2_events))
    return result


# -- the raw baseline: plain psycopg on the seed's table, no framework ---------

RAW_SCHEMA = """
CREATE TABLE raw_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    aggregate_type VARCHAR(100) NOT NULL,
    aggregate_id UUID NOT NULL,
    event_type VARCHAR(100) NOT NULL,
    event_data JSONB NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (aggregate_id, version)
);
CREATE INDEX raw_events_type_created ON raw_events (event_type, created_at);
"""
RAW_INSERT = (
    "INSERT INTO raw_events (aggregate_type, aggregate_id, event_type, event_data, metadata, version)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)


def _raw_conninfo(alias: str) -> str:
    settings = connections.databases[alias]
    return psycopg.conninfo.make_conninfo(
        host=settings.get("HOST") or None,
        port=settings.get("PORT") or None,
        user=settings.get("USER") or None,
        password=settings.get("PASSWORD") or None,
        dbname=settings["NAME"],
    )


def _raw_w1(conninfo: str, n_orders: int, per_order: int, batched: bool = False) -> int:
    """One INSERT per append in autocommit (one round trip, one commit),
    auto-prepared by psycopg: the floor for one commit per append. Its only
    version check is the UNIQUE constraint, and it is not gap-safe."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return _raw_w1_on(conn, n_orders, per_order, batched)


def _raw_w1_on(conn: psycopg.Connection, n_orders: int, per_order: int, batched: bool = False) -> int:
    from psycopg.types.json import Jsonb

    meta = Jsonb({"correlation_id": str(uuid.uuid4()), "user_id": "bench", "command": "BenchAddItem"})
    with conn.cursor() as cur:
        for _ in range(n_orders):
            order = uuid.uuid4()
            if batched:
                with conn.transaction():
                    cur.executemany(
                        RAW_INSERT,
                        [
                            ("BenchOrder", order, "BenchItemAdded", Jsonb(payload(v)), meta, v)
                            for v in range(1, per_order + 1)
                        ],
                    )
                continue
            for version in range(1, per_order + 1):
                cur.execute(
                    RAW_INSERT,
                    ("BenchOrder", order, "BenchItemAdded", Jsonb(payload(version)), meta, version),
                )
    return n_orders * per_order


def _raw_parallel(conninfo: str, clients: int, n_orders: int, per_order: int) -> float:
    return run_in_processes(lambda n: _raw_w1(conninfo, n, per_order), _shares(n_orders, clients))


def raw_baseline(conninfo: str, n_orders: int, per_order: int, w2_events: int) -> dict[str, Any]:
    """The rest of the raw baseline (W1 with one client ran beside ours),
    into the raw_events table already made."""
    from psycopg.types.json import Jsonb

    out: dict[str, Any] = {}
    progress("raw baseline W1, 8 clients")
    out["raw_w1_events_per_s_8clients"] = round(_raw_parallel(conninfo, 8, n_orders, per_order))
    progress("raw baseline W1, 5 events per transaction")
    with Timer() as t:
        written = _raw_w1(conninfo, n_orders, per_order, batched=True)
    out["raw_w1_batched_events_per_s"] = round(written / t.seconds)

    progress("raw baseline W3")
    with psycopg.connect(conninfo) as conn, Timer() as t:
        last, seen = 0, 0
        while True:
            rows = conn.execute(
                "SELECT id, aggregate_type, aggregate_id, event_type, event_data, metadata, version,"
                " created_at FROM raw_events WHERE id > %s ORDER BY id LIMIT 1000",
                (last,),
            ).fetchall()
            if not rows:
                break
            seen += len(rows)
            last = rows[-1][0]
    out["raw_w3_events_per_s"] = round(seen / t.seconds)

    progress("raw baseline W2")
    order = uuid.uuid4()
    with psycopg.connect(conninfo) as conn:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                RAW_INSERT,
                [
                    ("BenchOrder", order, "BenchItemAdded", Jsonb(payload(v)), Jsonb({}), v + 1)
                    for v in range(w2_events)
                ],
            )
        samples = []
        for _ in range(20):
            with Timer() as t:
                rows = conn.execute(
                    "SELECT event_type, event_data, version FROM raw_events"
                    " WHERE aggregate_id = %s ORDER BY version",
                    (order,),
                ).fetchall()
                state = {"lines": 0, "units": 0, "total_cents": 0}
                for _type, d, _v in rows:
                    state["lines"] += 1
                    state["units"] += d["quantity"]
                    state["total_cents"] += d["quantity"] * d["price_cents"]
            samples.append(t.seconds)
        conn.rollback()
    out["raw_w2_load_ms_10k"] = median_ms(samples)
    return out
