"""The embedded SQLite default, end to end in a fresh process: migrate a new
database file, append, load, read the global log, and see history refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, uuid
from django.db import connection
from eventstore import EventStore, EventTypeRegistry, NewEvent, ConcurrencyError, START, Snapshot

reg = EventTypeRegistry()
reg.register("Noted", {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
store = EventStore(registry=reg)
a, b = uuid.uuid4(), uuid.uuid4()
r1 = store.append("Note", a, [NewEvent("Noted", {"n": 1}), NewEvent("Noted", {"n": 2})], 0)
r2 = store.append("Note", b, [NewEvent("Noted", {"n": 3})], 0)
r3 = store.append("Note", a, [NewEvent("Noted", {"n": 4})], 2)
try:
    store.append("Note", a, [NewEvent("Noted", {"n": 5})], 2)
    stale = "accepted"
except ConcurrencyError:
    stale = "refused"
store.save_snapshot(Snapshot(a, "Note", 2, 1, {"sum": 3}))
snap, tail = store.load_from_snapshot(a)
refused = []
for statement in ("UPDATE events SET version = 9", "DELETE FROM events"):
    try:
        with connection.cursor() as c:
            c.execute(statement)
    except Exception as exc:
        refused.append("immutable" in str(exc))
print(json.dumps({
    "versions": [r1.version, r2.version, r3.version],
    "positions": [r1.position, r2.position, r3.position],
    "stream": [e.data["n"] for e in store.load(a)],
    "log": [e.data["n"] for e in store.read_all(START, limit=10)],
    "log_after_2": [e.data["n"] for e in store.read_all(START._replace(position=2))],
    "stale": stale,
    "snapshot": [snap.version, snap.state, [e.data["n"] for e in tail]],
    "refused": refused,
}))
"""


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_sqlite_mode_migrates_appends_loads_and_reads_the_log(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}", "VAR_DIR": str(tmp_path)}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    run = manage("shell", "-c", SCRIPT, env=env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {
        "versions": [2, 1, 3],
        "positions": [2, 3, 4],
        "stream": [1, 2, 4],
        "log": [1, 2, 3, 4],
        "log_after_2": [3, 4],
        "stale": "refused",
        "snapshot": [2, {"sum": 3}, [4]],
        "refused": [True, True],
    }
    assert (tmp_path / "app.sqlite3").exists()


ORDERS_SCRIPT = """
import json
from django.conf import settings
settings.EVENTSTORE_SNAPSHOT_EVERY = 2
from orders import commands
from orders.domain import Line
from orders.repository import OrderRepository
from projections.models import InventoryLevel, OrderSummary
commands.execute(commands.AddProduct("A", "Product A", 100))
commands.execute(commands.AddProduct("B", "Product B", 50))
commands.execute(commands.ReceiveStock("A", 10))
commands.execute(commands.ReceiveStock("B", 10))
placed = commands.execute(commands.PlaceOrder("cust_1", (Line("A", 2, 100),)))
# In-process projections: the fulfilment process reserved and confirmed it already.
after_place = OrderRepository().get(placed.order_id).status
added = commands.execute(commands.AddItem(placed.order_id, "B", 1, 50))
version = OrderRepository().get(placed.order_id).version
commands.execute(commands.AddItem(placed.order_id, "A", 1, 100), expected_version=version)
try:
    commands.execute(commands.ShipOrder(placed.order_id), expected_version=1)
    stale = "accepted"
except Exception as exc:
    stale = type(exc).__name__
commands.execute(commands.ShipOrder(placed.order_id, "DHL"))
state = OrderRepository().get(placed.order_id).state()
row = OrderSummary.objects.get(order_id=placed.order_id)
stock = {lv.sku: [lv.on_hand, lv.reserved] for lv in InventoryLevel.objects.all()}
from django.contrib.auth.models import User
from django.test import Client
from eventstore.models import Event
staff = User.objects.create_user("auditor", is_staff=True)
client = Client()
client.force_login(staff)
correlation = Event.objects.filter(event_type="OrderPlaced").first().metadata["correlation_id"]
trace = client.get("/audit/", {"correlation_id": correlation})
by_user = client.get("/audit/", {"user": "nobody"})
print(json.dumps({
    "audit": [
        trace.status_code,
        "OrderPlaced" in trace.content.decode(),
        "StockReserved" in trace.content.decode(),
        by_user.status_code,
    ],
    "after_place": after_place,
    "state": [state["status"], state["total_cents"]],
    "read_model": [row.status, row.total_cents, row.version == state["version"]],
    "stock": stock,
    "stale": stale,
}))
"""


def test_sqlite_mode_runs_orders_fulfilment_and_projections_in_process(tmp_path):
    """The default `make run` shape: SQLite, stock reservation on, projections
    and the fulfilment process run in-process after each commit."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "PROJECTIONS_MODE": "inprocess",
        "INVENTORY_RESERVATION": "true",
    }
    assert manage("migrate", "--noinput", env=env).returncode == 0
    run = manage("shell", "-c", ORDERS_SCRIPT, env=env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result == {
        "after_place": "confirmed",
        "state": ["shipped", 350],
        "read_model": ["shipped", 350, True],
        "stock": {"A": [7, 0], "B": [9, 0]},
        "stale": "StaleVersionError",
        "audit": [200, True, True, 200],
    }
