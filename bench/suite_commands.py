"""``python manage.py bench commands``: the cost of one command on the write
path, through the handler and through HTTP (Django's test client, in
process), in a database of its own."""

import json
import time
from functools import partial
from typing import Any

from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

from bench.support import as_default_database, backend_cpu_seconds, median_ms, progress
from eventstore.master_key import new_master_key
from orders import commands
from orders.domain import Line
from orders.domain.shipping import Contact, ShippingAddress

BODY = {"customer_id": "cust_456", "items": [{"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}]}


def run(options: dict[str, Any]) -> dict[str, Any]:
    n = max(50, int(1000 * options.get("scale", 1.0)))
    result: dict[str, Any] = {}
    # The command itself: no projections run in this process meanwhile.
    # A database of its own: any master key of personal data will do.
    key = settings.PII_MASTER_KEY or new_master_key()
    with as_default_database(), override_settings(PROJECTIONS_MODE="off", PII_MASTER_KEY=key):
        result.update(_measure(n))
        result.update(_measure_personal(n))
    return result


class _Cpu:
    """CPU per command, this process's and its PostgreSQL backend's (Linux
    /proc): steadier than wall time on a shared machine."""

    def __init__(self) -> None:
        from django.db import connection

        connection.ensure_connection()
        self.pid = connection.connection.info.backend_pid

    def __enter__(self) -> "_Cpu":
        self.started = (time.process_time(), backend_cpu_seconds(self.pid))
        return self

    def per(self, n: int) -> dict[str, float | None]:
        """Per call in ms; the server's None when it is not on this machine."""
        client, server = time.process_time() - self.started[0], backend_cpu_seconds(self.pid)
        known = server is not None and self.started[1] is not None
        return {
            "client": round(client * 1000 / n, 3),
            "server": round((server - self.started[1]) * 1000 / n, 3) if known else None,
        }

    def __exit__(self, *exc) -> None:
        pass


def _timed(out: dict[str, Any], key: str, calls) -> None:
    """Run each of ``calls`` (a list of callables), timing each: the median
    as ``key``, CPU per call as ``key`` with ``_cpu_ms`` (this process and
    PostgreSQL)."""
    samples = []
    with _Cpu() as cpu:
        for call in calls:
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        spent = cpu.per(len(calls))
    out[key] = median_ms(samples)
    base = key.removesuffix("_p50_ms")
    out[f"{base}_cpu_ms"] = spent["client"]
    out[f"{base}_server_cpu_ms"] = spent["server"]


def _measure(n: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    items = (Line("WIDGET-A", 2, 1999),)
    for sku in ("WIDGET-A", *(f"SKU-{k}" for k in range(5))):  # orders take their prices from it
        commands.execute(commands.AddProduct(sku, f"Bench {sku}", 1999))
    commands.execute(commands.AddProduct("GADGET-B", "Bench GADGET-B", 500))
    out: dict[str, Any] = {}
    progress(f"{n} PlaceOrder through the handler")
    _timed(
        out,
        "place_order_handler_p50_ms",
        [lambda: commands.execute(commands.PlaceOrder("cust_456", items))] * n,
    )

    # Realistic streams: each order gets a handful of items.
    orders = [commands.execute(commands.PlaceOrder("cust_456", items)).order_id for _ in range(n // 5)]
    adds = [
        partial(
            commands.execute, commands.AddItem(orders[i % len(orders)], f"SKU-{i // len(orders)}", 1, 1999)
        )
        for i in range(len(orders) * 5)
    ]
    _timed(out, "add_item_handler_p50_ms", adds)

    progress(f"{n} POST /api/orders/ through the test client")
    user = User.objects.create_user("bench", is_staff=True)
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    client = Client()
    body = json.dumps(BODY)

    def post():
        response = client.post("/api/orders/", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 201, response.content

    with override_settings(DEBUG=False):
        _timed(out, "place_order_http_p50_ms", [post] * n)
    return out


DETAILS = {
    "contact": Contact("Ada Lovelace", "ada@example.com"),
    "shipping_address": ShippingAddress("12 Analytical Row", None, "N1 9GU", "London", "GB"),
}


def _measure_personal(n: int) -> dict[str, Any]:
    """The same commands on orders with the customer's details (encrypted on
    append under a per-customer key; decrypted on every load): a new
    customer per order (each placement also makes a data key), then a
    second order from each of them (their key exists)."""
    items = (Line("WIDGET-A", 2, 1999),)
    out: dict[str, Any] = {}
    progress(f"{n} PlaceOrder with details through the handler")
    orders: list = []

    def place(customer: str) -> None:
        orders.append(commands.execute(commands.PlaceOrder(customer, items, **DETAILS)).order_id)

    _timed(
        out, "place_order_with_details_handler_p50_ms", [partial(place, f"cust_pii_{i}") for i in range(n)]
    )
    adds = [partial(commands.execute, commands.AddItem(order, "GADGET-B", 1, 500)) for order in orders]
    _timed(out, "add_item_with_details_handler_p50_ms", adds)
    again = [partial(place, f"cust_pii_{i}") for i in range(n)]
    _timed(out, "place_order_returning_customer_handler_p50_ms", again)
    return out
