"""Plain helpers shared by the whole test suite (fixtures live in the
conftest files): waiting on a condition, reading the event log and the read
models, test users and their tokens, placing orders through the command
handler, and the JSON API as one user.

Helpers that only one area needs live next to it (tests/integration/web/
pages.py, tests/integration/projections/support.py).."""

import base64
import json
import time
import uuid
from contextlib import ExitStack
from datetime import datetime

import orjson
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from eventstore import NewEvent
from eventstore.clock import frozen
from eventstore.metadata import message_context
from orders import commands
from orders.domain import Line

# -- waiting ---------------------------------------------------------------------------


def wait_until(condition, timeout: float, what: str, interval: float = 0.1):
    """Call ``condition`` until it returns something true, and return that;
    fail naming ``what`` was awaited if ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- the event log ---------------------------------------------------------------------


def event_head() -> tuple[int, int]:
    """How many events the log holds, and the position of the last one (0 if none)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events")
        return cursor.fetchone()


def event_count() -> int:
    """How many order and stock events the log holds: what a refused request
    must leave unchanged. The catalogue's own events (Product streams, which
    tests set up as they go) are not counted: see catalogue_event_count."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events WHERE aggregate_type <> 'Product'")
        return cursor.fetchone()[0]


def catalogue_event_count() -> int:
    """How many catalogue (Product) events the log holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM events WHERE aggregate_type = 'Product'")
        return cursor.fetchone()[0]


def last_position() -> int:
    """The position of the last event in the log (0 if none)."""
    return event_head()[1]


def wait_visible(store, position: int, timeout: float = 30.0) -> None:
    """Wait until the event at ``position`` is readable by the gap-safe global
    read. Any transaction still open on the PostgreSQL server (another test
    run, a backup) holds new events back for a while: by design, never lost."""
    deadline = time.monotonic() + timeout
    while True:
        target = store.global_position_of(position)
        if target is not None:
            batch = store.read_all(target._replace(position=target.position - 1), limit=1)
            if batch and batch[0].position == position:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"event {position} did not become readable in {timeout}s")
        time.sleep(0.02)


def other_connection(dbname: str | None = None, *, autocommit: bool = False):
    """A psycopg connection of its own (outside Django's), to the test
    database or to ``dbname`` on the same server: another session."""
    import psycopg
    from django.db import connection as django_connection

    params = django_connection.settings_dict
    return psycopg.connect(
        dbname=dbname or params["NAME"],
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        autocommit=autocommit,
    )


def counted(sku: str = "WIDGET-A", quantity: int = 1, *, event_id=None, **extra) -> NewEvent:
    """An ItemCounted event of the test event types (the ``test_registry``
    fixture of tests/integration/conftest.py), with any extra fields; its id
    is drawn by the store unless given."""
    return NewEvent("ItemCounted", {"sku": sku, "quantity": quantity, **extra}, event_id=event_id)


def old_store(version_of: dict[str, int]):
    """An event store whose registry knows only the given (older) schema
    versions of OrderPlaced and ItemAdded: what it appends is stored at them,
    as before those versions existed."""
    from eventstore import EventStore, EventTypeRegistry
    from orders.domain.events import ItemAdded, OrderPlaced

    registry = EventTypeRegistry()
    for cls in (OrderPlaced, ItemAdded):
        schemas = [*cls.previous_schemas, cls.schema][: version_of[cls.event_type]]
        for version, schema in enumerate(schemas, 1):
            upcast = getattr(cls, f"upcast_v{version - 1}") if version > 1 else None
            registry.register(
                cls.event_type, schema, version=version, aggregate_type="Order", upcast_from_previous=upcast
            )
    return EventStore(registry=registry)


# -- the read models -------------------------------------------------------------------

READ_MODEL_TABLES = {
    "products": "sku",
    "inventory_levels": "sku",
    "order_list": "order_id",
    "order_lines": "order_id, sku",
    "customer_summary": "customer_id",
    "customer_summary_orders": "order_id",
    "daily_sales": "day",
    "daily_sales_orders": "order_id",
    "order_shipping": "order_id",
    "customer_details": "customer_id",
}


def read_model_snapshot() -> dict[str, list[tuple]]:
    """Every read-model row (without surrogate ids), in a stable order."""
    out = {}
    with connection.cursor() as cursor:
        for table, order in READ_MODEL_TABLES.items():
            cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
            columns = [c.name for c in cursor.description]
            keep = [i for i, name in enumerate(columns) if name != "id"]
            out[table] = [tuple(row[i] for i in keep) for row in cursor.fetchall()]
    return out


def rebuilt_snapshot() -> dict[str, list[tuple]]:
    """Rebuild every projection from position 0 and snapshot the result."""
    from projections.base import registry
    from projections.rebuild import rebuild

    rebuild(registry.projections())
    return read_model_snapshot()


def checkpoints() -> dict[str, tuple[int, int]]:
    """Each projection's checkpoint: its position and how many events it has seen."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, position, events_seen FROM projection_checkpoints")
        return {name: (position, seen) for name, position, seen in cursor.fetchall()}


def settle(timeout: float = 30.0) -> None:
    """Run the projections (and the process manager) in this process until
    none lags behind the log. Tests that read pages or the read API call it
    after writing: projections see only committed events, and another
    transaction open on the PostgreSQL server can hold the gap-safe read back
    for a while (never lost, only delayed)."""
    from projections import runner
    from projections.status import status

    deadline = time.monotonic() + timeout
    while True:
        runner.run_all()
        lagging = [p["name"] for p in status() if p["lag_events"]]
        if not lagging:
            return
        assert time.monotonic() < deadline, f"projections did not catch up: {lagging}"
        time.sleep(0.02)


def run_until_no_new_events(rounds: int = 30) -> None:
    """Run every projection and process manager in this process until a run
    appends no new event (the fulfilment process reserves stock, rejects
    lines, confirms). Unlike ``settle`` it does not wait for every projection
    to reach the head: one may be held back by a failure."""
    from eventstore import EventStore
    from projections import runner

    store = EventStore()
    for _ in range(rounds):
        head = last_position()
        if head:
            wait_visible(store, head)
        runner.run_all()
        if last_position() == head:
            return
    raise AssertionError("the process manager kept producing events")


# -- users -----------------------------------------------------------------------------

ORDER_MANAGERS = "Order managers"


def password_of(username: str) -> str:
    """The password every test user gets, so a test can sign in as them."""
    return f"pw-{username}-123"


def create_user(username: str, *, manager: bool = False, staff: bool = False) -> User:
    """A user with the password ``password_of(username)``. ``manager``: in the
    Order managers group, so they may send order commands; ``staff``: may also
    see the audit trail and the projection pages (and send commands)."""
    user = User.objects.create_user(username, password=password_of(username), is_staff=staff)
    if manager:
        # A transactional test flushes the tables, so the group of the data migration may be gone.
        group, _ = Group.objects.get_or_create(name=ORDER_MANAGERS)
        group.permissions.add(
            Permission.objects.get(codename="manage_orders", content_type__app_label="orders")
        )
        user.groups.add(group)
    return user


def token_for(user: User) -> str:
    """The user's API token (made on first use)."""
    return Token.objects.get_or_create(user=user)[0].key


def token_headers(user: User) -> dict[str, str]:
    """Request headers that authenticate as ``user`` with their API token."""
    return {"Authorization": f"Token {token_for(user)}"}


def login(user: User | None, **client_options) -> Client:
    """A test client with a session signed in as ``user`` (nobody for None).
    A 500 comes back as a response to assert on, not as an exception."""
    client = Client(raise_request_exception=False, **client_options)
    if user is not None:
        client.force_login(user)
    return client


# -- orders through the command handler ------------------------------------------------

WIDGET = ("WIDGET-A", 2, 1999)  # (sku, quantity, price_cents): 39.98
GADGET = ("GADGET-B", 1, 500)  # 5.00


def run_command(command, *, user: User | None = None, at: datetime | None = None, correlation=None):
    """Execute ``command`` through its handler as ``user`` (their id in the
    events' metadata), with the event store's clock frozen at ``at``, under
    the correlation id ``correlation``; each only when given."""
    with ExitStack() as stack:
        if at is not None:
            stack.enter_context(frozen(at))
        context = {"user_id": str(user.pk)} if user else {}
        if correlation:
            context["correlation_id"] = correlation
        stack.enter_context(message_context(**context))
        return commands.execute(command)


def stock_catalogue(lines) -> None:
    """Make the catalogue sell each (sku, quantity, price_cents) line's SKU
    at that price (added, re-priced or reactivated as needed): orders take
    their prices from it."""
    from orders.repository import ProductRepository

    for sku, _quantity, price, *_ in lines:
        product = ProductRepository().get(sku)
        if not product.exists:
            commands.execute(commands.AddProduct(sku, f"Product {sku}", price))
            continue
        if product.price_cents != price:
            commands.execute(commands.ChangeProductPrice(sku, price))
        if not product.active:
            commands.execute(commands.ReactivateProduct(sku))


STANDARD_CATALOGUE = (
    ("WIDGET-A", 1, 1999),
    ("GADGET-B", 1, 500),
    ("NEW-1", 1, 250),
    ("EXTRA-9", 1, 300),
    ("BASE", 1, 10),
    ("NUT-8", 1, 10),
    ("BOLT-7", 1, 25),
)


def add_product(sku: str, price_cents: int, name: str | None = None, **extra) -> commands.CommandResult:
    """Add a product to the catalogue through its command handler."""
    return commands.execute(commands.AddProduct(sku, name or f"Product {sku}", price_cents, **extra))


def place_order(
    customer: str = "cust_1",
    lines=(WIDGET,),
    *,
    order_id: uuid.UUID | None = None,
    user: User | None = None,
    at: datetime | None = None,
    correlation=None,
) -> commands.CommandResult:
    """Place an order of ``lines`` ((sku, quantity, price_cents) each) through
    the command handler, the catalogue first selling each SKU at that price
    (see stock_catalogue); ``user``, ``at`` and ``correlation`` as in run_command."""
    with ExitStack() as stack:
        if at is not None:
            stack.enter_context(frozen(at))
        stock_catalogue(lines)
    command = commands.PlaceOrder(customer, tuple(Line(*line) for line in lines), order_id or uuid.uuid4())
    return run_command(command, user=user, at=at, correlation=correlation)


# The contact and shipping fields of the web's place-order form (personal data).
SHIPPING_FORM = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "address_line1": "12 Analytical Row",
    "address_line2": "",
    "postcode": "N1 9GU",
    "city": "London",
    "country": "GB",
}

# -- the JSON API ----------------------------------------------------------------------

LINE_A = {"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}  # WIDGET as an API line
LINE_B = {"sku": "GADGET-B", "quantity": 1, "price_cents": 500}  # GADGET as an API line


class ApiClient:
    """The JSON API as ``user`` (token authentication; anonymous for None).
    A 500 comes back as a response to assert on, not as an exception. With
    ``settle_reads`` every GET first settles the projections (see settle), so
    a read shows what the commands before it did."""

    def __init__(self, user: User | None = None, *, settle_reads: bool = False):
        self.client = Client(raise_request_exception=False)
        self.headers = token_headers(user) if user else {}
        self.settle_reads = settle_reads

    def _headers(self, headers: dict | None) -> dict:
        return {**self.headers, **(headers or {})}

    def get(self, path: str, headers: dict | None = None, settle_first: bool | None = None, **params):
        if self.settle_reads if settle_first is None else settle_first:
            settle()
        return self.client.get(path, params, headers=self._headers(headers))

    def post(self, path: str, body=None, headers=None, *, raw=None, content_type="application/json"):
        """POST ``body`` as JSON, or ``raw`` as it is (no body if neither)."""
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.client.post(path, data=data, content_type=content_type, headers=self._headers(headers))

    def delete(self, path: str, headers: dict | None = None):
        return self.client.delete(path, headers=self._headers(headers))

    def place(self, customer: str = "cust_1", items=(LINE_A, LINE_B), headers=None) -> dict:
        """POST /api/orders/, which must answer 201; its body. The catalogue
        first sells each item's SKU at its price_cents (see stock_catalogue)."""
        stock_catalogue([(i["sku"], i["quantity"], i["price_cents"]) for i in items if "price_cents" in i])
        response = self.post("/api/orders/", {"customer_id": customer, "items": list(items)}, headers)
        assert response.status_code == 201, response.content
        return response.json()

    def orders(self, **params) -> dict:
        """GET /api/orders/, which must answer 200; its body."""
        response = self.get("/api/orders/", **params)
        assert response.status_code == 200, response.content
        return response.json()


def assert_problem(response, status: int, type_: str | None = None) -> dict:
    """The response is an RFC 9457 problem with this status (and type); its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if type_:
        assert body["type"] == f"/problems/{type_}"
    return body


def cursor_of(payload) -> str:
    """A page cursor made by hand, encoded as the order lists encode theirs
    (unpadded URL-safe base64 of JSON): to send cursors they never handed out."""
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


# -- metrics ---------------------------------------------------------------------------


def metric_key(name: str, **labels: str) -> str:
    """How parse_metrics names one sample: ``name{label="value",...}``, labels sorted."""
    inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return f"{name}{{{inner}}}" if labels else name


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus exposition text (GET /metrics), parsed by prometheus_client's
    own parser: {metric_key(sample): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        metric_key(sample.name, **sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
