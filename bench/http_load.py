"""The load of ``bench http``: client processes that place orders and add
items over REST, each command timed, and the W6 prober that reads each of
its commands back with the command's consistency token."""

import multiprocessing
import statistics
import time
from typing import Any

from django.db import connections

from bench.http_stack import cpu_by_process, cpu_spent

WARMUP = 10  # commands per client not timed
FIRST_LINE = {"sku": "BASE-1", "quantity": 1, "price_cents": 999}
SKUS = ["BASE-1", "SKU-0", "SKU-1", "SKU-2", "SKU-3"]


# -- the load ------------------------------------------------------------------------------


def _client(
    base_url: str, place_path: str, token: str, n: int, orders: int, items: int, go, out, stop=None
) -> None:
    """Place ``orders`` orders and add ``items`` items to each, or, with
    ``orders=0``, until ``stop`` is set; time each command."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    samples: list[float] = []
    placed: list[str] = []
    go.wait()
    started = time.perf_counter()
    done = 0
    k = -1
    while (k := k + 1) < orders or (orders == 0 and not stop.is_set()):
        body = {
            "customer_id": f"cust_{n}_{k % 50}",
            "items": [FIRST_LINE],
        }
        t = time.perf_counter()
        response = session.post(f"{base_url}{place_path}", json=body, timeout=60)
        elapsed = time.perf_counter() - t
        if response.status_code != 201:
            raise RuntimeError(f"place: {response.status_code} {response.text[:300]}")
        order = response.json()["order_id"]
        placed.append(order)
        done += 1
        if done > WARMUP:
            samples.append(elapsed)
        for i in range(items):
            line = {"sku": f"SKU-{i}", "quantity": 1 + i, "price_cents": 250}
            t = time.perf_counter()
            response = session.post(f"{base_url}{place_path}{order}/items", json=line, timeout=60)
            elapsed = time.perf_counter() - t
            if response.status_code != 200:
                raise RuntimeError(f"add item: {response.status_code} {response.text[:300]}")
            done += 1
            if done > WARMUP:
                samples.append(elapsed)
    out.put({"samples": samples, "placed": placed, "seconds": time.perf_counter() - started, "done": done})


def _prober(base_url: str, token: str, go, stop, out) -> None:
    """Command, then read it back with the command's consistency token."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    lags: list[float] = []
    placed: list[str] = []
    commands = 0
    go.wait()
    order, i = None, 0
    while not stop.is_set():
        if order is None or i == 4:
            body = {"customer_id": "cust_probe", "items": [FIRST_LINE]}
            response = session.post(f"{base_url}/api/orders/", json=body, timeout=60)
        else:
            line = {"sku": f"SKU-{i}", "quantity": 1, "price_cents": 250}
            response = session.post(f"{base_url}/api/orders/{order}/items", json=line, timeout=60)
        answered = time.perf_counter()
        if response.status_code not in (200, 201):
            raise RuntimeError(f"probe: {response.status_code} {response.text[:300]}")
        result = response.json()
        if response.status_code == 201:
            order, i = result["order_id"], 0
            placed.append(order)
        else:
            i += 1
        commands += 1
        # The read waits on the server (read-your-writes) until the read
        # models have applied the command's event, then answers.
        headers = {"X-Min-Position": str(result["position"])}
        while True:
            read = session.get(f"{base_url}/api/orders/{order}", headers=headers, timeout=60)
            if read.status_code == 200 and read.json()["version"] >= result["version"]:
                lags.append(time.perf_counter() - answered)
                break
            if read.status_code != 503 or time.perf_counter() - answered > 60:
                raise RuntimeError(f"order {order} version {result['version']}: {read.status_code}")
    out.put({"lags": lags, "placed": placed, "commands": commands})


def drive(
    base_url, place_path, token, clients, orders, items, *, alias, probe=False, seconds=None, sample=None
) -> dict[str, Any]:
    """Run ``clients`` client processes (and the W6 prober) against the
    stack: ``orders`` orders each, or for ``seconds`` (calling
    ``sample(elapsed)`` every few seconds meanwhile); the figures."""
    ctx = multiprocessing.get_context("fork")
    connections.close_all()  # the children only speak HTTP
    go, stop, out, probe_out = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    client_stop = ctx.Event()
    orders = 0 if seconds else orders
    procs = [
        ctx.Process(
            target=_client, args=(base_url, place_path, token, n, orders, items, go, out, client_stop)
        )
        for n in range(clients)
    ]
    prober = ctx.Process(target=_prober, args=(base_url, token, go, stop, probe_out)) if probe else None
    everyone = procs + ([prober] if prober else [])
    for p in everyone:
        p.start()
    time.sleep(1.0)  # let them import
    caught_up(alias)
    cpu_before = cpu_by_process(alias)
    start = time.perf_counter()
    go.set()
    if seconds:
        while (elapsed := time.perf_counter() - start) < seconds:
            if any(p.exitcode not in (None, 0) for p in everyone):
                break  # _collect reports it
            if sample:
                sample(elapsed)
            time.sleep(min(5.0, max(0.1, seconds - elapsed)))
        client_stop.set()
    results = [_collect(out, everyone) for _ in procs]
    wall = time.perf_counter() - start
    stop.set()
    probed = _collect(probe_out, everyone) if prober else {"lags": [], "placed": [], "commands": 0}
    caught_up(alias)  # the projections' share of the work is part of the cost
    cpu_after = cpu_by_process(alias)
    for p in everyone:
        p.join(30)
        if p.exitcode != 0:
            raise RuntimeError(f"a client process exited with {p.exitcode}")
    samples = sorted(s for r in results for s in r["samples"])
    lags = sorted(probed["lags"])
    total = sum(r["done"] for r in results)
    commands = total + probed["commands"]
    spent = cpu_spent(cpu_before, cpu_after)
    cpu = {
        f"cpu_ms_per_command_{group}": round(spent.get(group, 0.0) * 1000 / commands, 2)
        for group in ("web", "worker", "postgres", "pgbouncer")
        if group in spent or group != "pgbouncer"
    }
    return {
        "cpu": cpu,
        "commands": total,
        "commands_per_s": total / wall,
        "p50_ms": _ms(statistics.median(samples)),
        "p99_ms": _ms(_quantile(samples, 0.99)),
        "lag_p50_ms": _ms(statistics.median(lags)) if lags else None,
        "lag_p99_ms": _ms(_quantile(lags, 0.99)) if lags else None,
        "lag_samples": len(lags),
        "placed": [o for r in results for o in r["placed"]] + probed["placed"],
        "extra_commands": probed["commands"],
    }


def _collect(queue, processes, timeout: float = 900) -> dict[str, Any]:
    """The next result, or an error as soon as a client process has died."""
    import queue as queues

    deadline = time.monotonic() + timeout
    while True:
        try:
            return queue.get(timeout=1)
        except queues.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"a client process failed (exit codes {dead})") from None


def caught_up(alias: str, timeout: float = 600) -> None:
    """Wait until every projection has reached the head of the log, in
    (transaction id, position) order."""
    deadline = time.monotonic() + timeout
    with connections[alias].cursor() as cursor:
        while True:
            cursor.execute("SELECT tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1")
            head = cursor.fetchone()
            cursor.execute("SELECT tx_id, position FROM projection_checkpoints")
            checkpoints = cursor.fetchall()
            if head is None or (checkpoints and all(tuple(cp) >= tuple(head) for cp in checkpoints)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"projections did not reach {head} in {timeout} s")
            time.sleep(0.05)


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
