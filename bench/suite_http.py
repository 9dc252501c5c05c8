"""``python manage.py bench http``: W5 and W6 through the real stack.

It starts gunicorn (as ``make run`` does), a Celery worker and beat on Redis,
against a PostgreSQL database of its own, and drives it over loopback HTTP
from separate client processes (``bench.http_load``):

- W5: clients place orders and add items over REST, each command timed from
  request to response, in rounds that alternate with the same mix against a
  plain CRUD Django view that INSERTs or UPDATEs one row (``bench.crud``) on
  the same server, the yardstick for what event sourcing costs the caller.
  Ratios are taken within each round (the machine's load changes between
  rounds) and their median is reported, with CPU per command by process
  (web, worker, PostgreSQL) and the worker's resident memory.
- W6: a prober issues commands under the W5 load and reads each back with
  ``GET /api/orders/{id}`` and the command's ``X-Min-Position`` (the server
  answers once the read models have applied it): the time from the
  command's response to its effect being readable.
- The same W5/W6 with stock reservation on (the fulfilment process
  manager's work included), unless ``--no-reservation``.
- ``--soak SECONDS``: the W5 load for that long (ten minutes: 600), sampling
  the worker's resident memory; reports its growth.

Then it checks the result: every command's event is stored once and the
read models, caught up, agree with the log.
"""

import statistics
import tempfile
from pathlib import Path
from typing import Any

import requests
from django.db import connections

from bench.http_load import FIRST_LINE, SKUS, caught_up, drive
from bench.http_stack import Stack, rss_mb
from bench.support import bench_database, progress

ITEMS_PER_ORDER = 4


def run(options: dict[str, Any]) -> dict[str, Any]:
    scale = options.get("scale", 1.0)
    clients = int(options.get("clients") or 4)
    rounds = int(options.get("rounds") or 3)
    orders = max(10, int(100 * scale))
    out: dict[str, Any] = {"clients": clients, "rounds": rounds}
    with bench_database() as alias, tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        _create_baseline_table(alias)
        token = _token(alias)
        phases: list[dict[str, Any]] = []
        with Stack(alias, Path(tmp) / "off") as stack:
            _catalogue(stack, token)
            out.update(_w5_w6(stack, alias, token, clients, orders, rounds, phases))
            if options.get("soak"):
                out.update(_soak(stack, alias, token, clients, float(options["soak"]), phases))
        progress("waiting for the projections to catch up, then checking")
        _check(alias, phases)
        if not options.get("no_reservation"):
            progress("stock reservation ON: the fulfilment process manager reserves and confirms")
            try:
                with Stack(alias, Path(tmp) / "on", reservation=True) as stack:
                    _receive_stock(stack, token)
                    on = _w5_w6(stack, alias, token, clients, orders, 1, phases)
                out.update({f"reservation_{key}": value for key, value in on.items()})
            except RuntimeError as exc:  # e.g. the worker did not keep up: say so, keep the rest
                out["reservation_error"] = str(exc)
                progress(f"stock reservation ON: {exc}")
    return out


def _w5_w6(stack, alias, token, clients, orders, rounds, phases) -> dict[str, Any]:
    url = stack.base_url
    single = (token, 1, orders, ITEMS_PER_ORDER)
    load = (token, clients, orders, ITEMS_PER_ORDER)
    progress("one client alone: the latency a caller sees on an idle stack")
    es_alone = drive(url, "/api/orders/", *single, alias=alias)
    crud_alone = drive(url, "/bench/crud/orders/", *single, alias=alias)
    phases.append(es_alone)
    rss_start = rss_mb("worker")
    es_rounds, crud_rounds = [], []
    for n in range(rounds):
        # Alternate which goes first, so a trend in the machine's load
        # favours neither.
        order = ("es", "crud") if n % 2 == 0 else ("crud", "es")
        for kind in order:
            progress(f"W5 round {n + 1}/{rounds}, {kind}: {clients} clients x {orders} orders x 5 commands")
            path = "/api/orders/" if kind == "es" else "/bench/crud/orders/"
            figures = drive(url, path, *load, alias=alias)
            (es_rounds if kind == "es" else crud_rounds).append(figures)
            if kind == "es":
                phases.append(figures)
    progress(f"W6: {clients} clients and the prober")
    runs_before = stack.projection_runs()
    probed = drive(url, "/api/orders/", *load, alias=alias, probe=True)
    runs = stack.projection_runs() - runs_before
    phases.append(probed)
    rss_end = rss_mb("worker")

    def median(rows, key):
        return round(statistics.median(r[key] for r in rows), 2)

    def median_cpu(rows, key):
        return round(statistics.median(r["cpu"][key] for r in rows), 2)

    ratios = [(e, c) for e, c in zip(es_rounds, crud_rounds, strict=True)]
    out = {
        "w5_commands_per_s": median(es_rounds, "commands_per_s"),
        "w5_p50_ms": median(es_rounds, "p50_ms"),
        "w5_p99_ms": median(es_rounds, "p99_ms"),
        "crud_commands_per_s": median(crud_rounds, "commands_per_s"),
        "crud_p50_ms": median(crud_rounds, "p50_ms"),
        "crud_p99_ms": median(crud_rounds, "p99_ms"),
        "w5_throughput_vs_crud": round(
            statistics.median(e["commands_per_s"] / c["commands_per_s"] for e, c in ratios), 2
        ),
        "w5_p50_vs_crud": round(statistics.median(e["p50_ms"] / c["p50_ms"] for e, c in ratios), 2),
        "w5_p99_vs_crud": round(statistics.median(e["p99_ms"] / c["p99_ms"] for e, c in ratios), 2),
        "w5_rounds_throughput_vs_crud": [
            round(e["commands_per_s"] / c["commands_per_s"], 2) for e, c in ratios
        ],
        "w6_lag_p50_ms": probed["lag_p50_ms"],
        "w6_lag_p99_ms": probed["lag_p99_ms"],
        "w6_samples": probed["lag_samples"],
        "w6_commands_per_s": round(probed["commands_per_s"], 1),
        "w5_1client_p50_ms": es_alone["p50_ms"],
        "crud_1client_p50_ms": crud_alone["p50_ms"],
        "w6_events_per_projection_run": round(
            (probed["commands"] + probed["extra_commands"]) / max(runs, 1), 1
        ),
        "worker_rss_mb_start": rss_start,
        "worker_rss_mb_end": rss_end,
    }
    for group in ("web", "worker", "postgres"):
        key = f"cpu_ms_per_command_{group}"
        out[key] = median_cpu(es_rounds, key)
        out[f"crud_{key}"] = median_cpu(crud_rounds, key)
    out["web_cpu_vs_crud"] = round(
        statistics.median(
            e["cpu"]["cpu_ms_per_command_web"] / c["cpu"]["cpu_ms_per_command_web"] for e, c in ratios
        ),
        2,
    )
    return out


def _soak(stack, alias, token, clients, seconds, phases) -> dict[str, Any]:
    """The W5 load for ``seconds``; the worker's resident memory along the way."""
    progress(f"soak: {clients} clients for {seconds:.0f} s, sampling the worker's memory")
    samples: list[tuple[float, float]] = []

    def sample(elapsed: float) -> None:
        if not samples or elapsed - samples[-1][0] >= 10:
            samples.append((elapsed, rss_mb("worker")))
            progress(f"soak: {elapsed:.0f} s, worker RSS {samples[-1][1]} MiB")

    figures = drive(
        stack.base_url, "/api/orders/", token, clients, 0, ITEMS_PER_ORDER,
        alias=alias, seconds=seconds, sample=sample,
    )  # fmt: skip
    phases.append(figures)
    samples.append((seconds, rss_mb("worker")))
    # The first minute is warm-up (imports, caches, connection pools).
    warm = next((rss for at, rss in samples if at >= min(60.0, seconds / 5)), samples[0][1])
    return {
        "soak_seconds": round(seconds),
        "soak_commands": figures["commands"],
        "soak_commands_per_s": round(figures["commands_per_s"], 1),
        "soak_cpu_ms_per_command_worker": figures["cpu"]["cpu_ms_per_command_worker"],
        "soak_worker_rss_mb": [rss for _, rss in samples],
        "soak_worker_rss_growth_pct": round((samples[-1][1] / samples[0][1] - 1) * 100, 1),
        "soak_worker_rss_growth_after_warmup_pct": round((samples[-1][1] / warm - 1) * 100, 1),
    }


def _catalogue(stack, token: str) -> None:
    """The products the clients order, at the prices they state (orders take
    their prices from the catalogue)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    for sku in SKUS:
        price = FIRST_LINE["price_cents"] if sku == FIRST_LINE["sku"] else 250
        body = {"sku": sku, "name": f"Bench {sku}", "price_cents": price}
        response = session.post(f"{stack.base_url}/api/products/", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"catalogue {sku}: {response.status_code} {response.text[:300]}")


def _receive_stock(stack, token: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    for sku in SKUS:
        response = session.post(f"{stack.base_url}/api/inventory/{sku}/receive", json={"quantity": 1_000_000})
        if response.status_code != 200:
            raise RuntimeError(f"receive {sku}: {response.status_code} {response.text[:300]}")


def _create_baseline_table(alias: str) -> None:
    from bench.crud import CREATE_TABLE

    with connections[alias].cursor() as cursor:
        cursor.execute(CREATE_TABLE)


def _token(alias: str) -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.db_manager(alias).create_user("bench-http", is_staff=True)
    return Token.objects.using(alias).create(user=user).key


def _check(alias: str, phases: list[dict[str, Any]]) -> None:
    """Every command stored once; the read models reach the head and agree."""
    expected_events = sum(p["commands"] + p["extra_commands"] for p in phases)
    placed = sum(len(p["placed"]) for p in phases)
    with connections[alias].cursor() as cursor:
        # Commands' own events: the fulfilment step's (OrderConfirmed) come on top.
        cursor.execute(
            "SELECT COUNT(*) FROM events WHERE aggregate_type = 'Order' AND event_type <> 'OrderConfirmed'"
        )
        (stored,) = cursor.fetchone()
        if stored != expected_events:
            raise RuntimeError(f"{expected_events} commands answered but {stored} order events stored")
        caught_up(alias)
        cursor.execute(
            "SELECT COUNT(*) FROM order_list o WHERE o.version ="
            " (SELECT MAX(version) FROM events e WHERE e.aggregate_id = o.order_id)"
        )
        (agreeing,) = cursor.fetchone()
        if agreeing != placed:
            raise RuntimeError(f"order_list agrees with the log on {agreeing} of {placed} orders")
    progress(f"checked: {stored} events, {agreeing} orders in the read model at their latest version")
