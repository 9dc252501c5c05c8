"""Defects an adversarial review proved (issue 10), each pinned by a test:
consistency tokens that order like the log, inline projections that lag,
one rebuild at a time with a gap-safe final read, the transaction that holds
projections back, process managers that keep losing races, forms sent
twice, throttles that every process shares, and edge inputs that were 500s."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from eventstore import START, EventStore, GlobalPosition, hooks
from orders import commands, fulfilment
from orders.domain import Line
from projections import batches, checkpoints, failures, inline, locks, process_runner, rebuild, runner, status
from projections.base import registry
from projections.models import OrderSummary
from tests.support import (
    SHIPPING_FORM,
    ApiClient,
    assert_problem,
    create_user,
    event_count,
    login,
    other_connection,
    password_of,
    place_order,
    settle,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("catalogue")]

LINE_NUT = {"sku": "NUT-8", "quantity": 1, "price_cents": 10}


def order_placed_in(ready: threading.Event, go: threading.Event, done: list, order_id: uuid.UUID):
    """In a transaction that takes its id first (then waits for ``go``),
    place an order: its event gets a LOWER transaction id than anything
    committed meanwhile, but a HIGHER position."""

    def run():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")
                ready.set()
                assert go.wait(30)
                done.append(place_order("cust_early", order_id=order_id))
        finally:
            connection.close()

    return threading.Thread(target=run)


# -- consistency tokens ---------------------------------------------------------------------


def test_a_command_answers_a_consistency_token_naming_its_event(staff):
    placed = ApiClient(staff).place()

    event = EventStore().load(uuid.UUID(placed["order_id"]))[-1]
    assert placed["position"] == event.position
    assert placed["consistency_token"] == event.global_position.token


@pytest.mark.postgres
def test_tokens_order_like_the_log_where_bare_positions_do_not(staff, settings):
    """A transaction that took its id before another committed appends
    later, with a higher position but earlier in the log. A read model that
    has applied only that event has a bare position ABOVE the other
    command's, yet does not hold it: the token says so, the position lies."""
    api = ApiClient(staff)
    settle()  # the catalogue's events (set up first) are behind every read model
    ready, go, done, early_id = threading.Event(), threading.Event(), [], uuid.uuid4()
    early = order_placed_in(ready, go, done, early_id)
    early.start()
    assert ready.wait(30)
    late = api.place("cust_late")  # commits first, with the higher transaction id
    go.set()
    early.join(30)
    (early_result,) = done
    assert early_result.position > late["position"]
    assert early_result.consistency_token < late["consistency_token"]

    checkpoints.ensure()
    batches.run_batch(registry.get("order_list"), limit=1)  # applies the earlier-in-the-log event only
    batches.run_batch(registry.get("shipping_details"), limit=1)  # the order API reads it too
    settings.READ_YOUR_WRITES_TIMEOUT = 0.2
    response = api.get(f"/api/orders/{early_id}")
    assert response.status_code == 200
    assert int(response["X-Projection-Position"]) > late["position"]  # the bare number misleads
    assert response["X-Consistency-Token"] < late["consistency_token"]  # the token does not
    waited = api.get(f"/api/orders/{late['order_id']}", {"X-Min-Position": late["consistency_token"]})
    assert_problem(waited, 503, "projection-lagging")

    settle()
    seen = api.get(f"/api/orders/{late['order_id']}", {"X-Min-Position": late["consistency_token"]})
    assert seen.status_code == 200 and seen["X-Consistency-Token"] >= late["consistency_token"]


def test_x_min_position_takes_the_token_or_the_old_bare_position(staff):
    api = ApiClient(staff)
    placed = api.place()
    settle()
    for value in (placed["consistency_token"], str(placed["position"])):
        response = api.get(f"/api/orders/{placed['order_id']}", {"X-Min-Position": value})
        assert response.status_code == 200, value


def test_the_start_of_the_log_is_a_position_every_read_has_passed(staff, settings):
    settings.PROJECTIONS_MODE = "off"  # nothing to wait for: answered at once, never 503
    api = ApiClient(staff)
    placed = api.place()
    for value in (START.token, "0"):
        response = api.get("/api/orders/", {"X-Min-Position": value}, settle_first=False)
        assert response.status_code == 200, (value, response.content)
    assert placed["position"] > 0


@pytest.mark.parametrize(
    "value", ["0000000000000001.00000000000f4240", "zz", "1.2", "ffffffffffffffff.0000000000000001", "²"]
)
def test_a_token_that_names_no_event_is_a_400(staff, value):
    placed = ApiClient(staff).place()
    response = ApiClient(staff).get(f"/api/orders/{placed['order_id']}", {"X-Min-Position": value})
    assert_problem(response, 400, "invalid-min-position")


# -- inline projections that lag or are held ---------------------------------------------------


def test_a_lagging_inline_projection_lets_commands_through_and_catches_up_later(staff, settings):
    api = ApiClient(staff)
    placed = api.place()  # before inline mode: order_list has not seen it
    settings.PROJECTION_CONSISTENCY = {"order_list": "inline"}
    hooks.append_listeners.append(inline.apply_inline)
    try:
        added = api.post(
            f"/api/orders/{placed['order_id']}/items", {"sku": "NUT-8", "quantity": 1, "price_cents": 10}
        )
        assert added.status_code == 200, added.content
        assert not OrderSummary.objects.filter(order_id=placed["order_id"]).exists()  # left to the runner
        settings.READ_YOUR_WRITES_TIMEOUT = 0.2
        token = added.json()["consistency_token"]
        assert_problem(api.get(f"/api/orders/{placed['order_id']}", {"X-Min-Position": token}), 503)
        runner.run_all()
        row = OrderSummary.objects.get(order_id=placed["order_id"])
        assert (row.version, row.line_count) == (2, 3)
        assert api.get(f"/api/orders/{placed['order_id']}", {"X-Min-Position": token}).status_code == 200
    finally:
        hooks.append_listeners.remove(inline.apply_inline)


def test_a_held_inline_projection_does_not_block_commands(staff, settings, monkeypatch):
    """order_list is held at an event it cannot apply (a bug that hits every
    event of one order); commands on that order still go through, inline
    mode or not, and wait for the runner like async ones."""
    api = ApiClient(staff)
    bad = api.place("cust_bad")
    projection = registry.get("order_list")
    real = type(projection).apply

    def apply(events, tables):
        if any(str(e.aggregate_id) == bad["order_id"] for e in events):
            raise RuntimeError("cannot project this order")
        return real(projection, events, tables)

    monkeypatch.setattr(projection, "apply", apply)
    monkeypatch.setattr(failures, "backoff", lambda attempts: timedelta(0))
    for _ in range(failures.MAX_ATTEMPTS):
        runner.run_all()
    assert failures.is_waiting(failures.open_failure("order_list"))

    settings.PROJECTION_CONSISTENCY = {"order_list": "inline"}
    hooks.append_listeners.append(inline.apply_inline)
    try:
        added = api.post(f"/api/orders/{bad['order_id']}/items", LINE_NUT)
    finally:
        hooks.append_listeners.remove(inline.apply_inline)
    assert added.status_code == 200, added.content
    assert event_count() == 2


# -- rebuilds ---------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_second_rebuild_of_a_projection_is_refused_while_one_runs():
    place_order()
    key = locks.lock_key("rebuild:order_list")
    with other_connection(autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        with pytest.raises(rebuild.RebuildError, match="order_list is being rebuilt by another process"):
            rebuild.rebuild(registry.get("order_list"))
        assert connection.cursor().execute("SELECT to_regclass('order_list__rebuild')").fetchone() == (None,)
        # Released before the session goes: the server drops a closed
        # session's locks a moment after the client has let go.
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    rebuild.rebuild(registry.get("order_list"))  # free again
    assert OrderSummary.objects.count() == 1


@pytest.mark.postgres
def test_a_rebuild_thinking_itself_inline_still_reads_gap_safe_at_the_end(settings):
    """The web processes are not inline (no shared lock on their writes), the
    rebuilding process thinks it is: an event committed after one still
    open must not be read past, or the open one is skipped for good."""
    ready, go, done, early_id = threading.Event(), threading.Event(), [], uuid.uuid4()
    early = order_placed_in(ready, go, done, early_id)
    early.start()
    assert ready.wait(30)
    late = place_order("cust_late")  # committed, transaction id above the open one
    settings.PROJECTION_CONSISTENCY = {"order_list": "inline"}
    rebuild.rebuild(registry.get("order_list"))
    settings.PROJECTION_CONSISTENCY = {}
    go.set()
    early.join(30)
    settle()
    assert set(OrderSummary.objects.values_list("order_id", flat=True)) == {early_id, late.order_id}


# -- what holds projections back ----------------------------------------------------------------


@pytest.mark.postgres
def test_an_open_transaction_holding_projections_back_is_named(staff, monkeypatch):
    monkeypatch.setattr(status, "HOLDING_BACK_AFTER_SECONDS", 0.1)
    with other_connection() as stuck:
        pid = stuck.execute("SELECT pg_backend_pid()").fetchone()[0]
        stuck.execute("SELECT pg_current_xact_id()")  # holds a transaction id, stays open
        place_order()
        runner.run_all()
        held = wait_until(
            lambda: ApiClient(staff).get("/api/projections/").json()["held_back_by"], 10, "held"
        )
        assert held["pid"] == pid and held["age_seconds"] >= 0.1
        assert held["client_addr"] == "127.0.0.1"  # the address, without a netmask
        page = login(staff).get("/projections/")
        assert f"process {pid}" in page.content.decode()
        out = call_command_output("projections", "status")
        assert f"held back by transaction of pid {pid}" in out
    settle()
    assert ApiClient(staff).get("/api/projections/").json()["held_back_by"] is None


def call_command_output(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# -- a process manager that keeps losing races ----------------------------------------------------


@pytest.mark.postgres
def test_a_process_manager_out_of_retries_is_held_and_the_others_go_on(settings, monkeypatch):
    from eventstore import ConcurrencyError

    settings.INVENTORY_RESERVATION = True

    def always_loses(step, fact):
        raise ConcurrencyError(step.order_id, 0, 1)

    monkeypatch.setitem(fulfilment.REACTIONS, fulfilment.events.OrderPlaced, always_loses)
    monkeypatch.setattr(process_runner, "EVENT_ATTEMPTS", 2)
    placed = place_order()

    runner.run_all()

    failure = failures.open_failure("fulfilment")
    assert failure is not None and "ConcurrencyError" in failure.error
    assert failure.position == placed.position
    assert OrderSummary.objects.filter(order_id=placed.order_id).exists()  # the read models went on
    assert checkpoints.read(["order_list"], "default")["order_list"].position == placed.position


# -- forms sent twice -----------------------------------------------------------------------------


def place_form(key: str) -> dict:
    form = {
        **SHIPPING_FORM,
        "customer_id": "cust_twice",
        "form_key": key,
        "sku_0": "WIDGET-A",
        "quantity_0": "1",
    }
    form["price_cents_0"] = "1999"
    for i in range(1, 5):
        form |= {f"sku_{i}": "", f"quantity_{i}": "", f"price_cents_{i}": ""}
    return form


def test_a_place_order_form_sent_twice_places_one_order(manager):
    browser = login(manager)
    key = uuid.uuid4().hex
    first = browser.post("/orders/", place_form(key))
    second = browser.post("/orders/", place_form(key))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert event_count() == 2  # one order: OrderPlaced and ShippingDetailsGiven


def test_a_command_form_sent_twice_runs_once(manager):
    order = place_order().order_id
    browser = login(manager)
    form = {"version": "1", "form_key": uuid.uuid4().hex, "carrier": "DHL", "tracking_number": ""}
    first = browser.post(f"/orders/{order}/ship", form)
    second = browser.post(f"/orders/{order}/ship", form)
    assert first.status_code == second.status_code == 302
    assert [e.event_type for e in EventStore().load(order)] == ["OrderPlaced", "OrderShipped"]


def test_a_form_key_reused_for_other_values_is_refused(manager):
    browser = login(manager)
    key = uuid.uuid4().hex
    browser.post("/orders/", place_form(key))
    changed = place_form(key) | {"customer_id": "cust_other"}
    response = browser.post("/orders/", changed)
    assert response.status_code == 303  # back to the list (post/redirect/get), which says why
    assert b"already used for a different request" in browser.get(response["Location"]).content
    assert event_count() == 2  # the first order's OrderPlaced and ShippingDetailsGiven


# -- throttles every process shares ------------------------------------------------------------


def test_sign_in_failures_count_where_every_process_sees_them(settings, client):
    """Redis when there is one, else files under var/ (every process of one
    machine): never a per-process memory that multiplies the limit."""
    client.post("/accounts/login/", {"username": "someone", "password": "wrong"})
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.REDIS_URL:
        import redis

        assert backend == "django.core.cache.backends.redis.RedisCache"
        assert redis.Redis.from_url(settings.REDIS_URL).keys("orders:*login-failures*")
    else:
        from pathlib import Path

        assert backend == "django.core.cache.backends.filebased.FileBasedCache"
        assert list(Path(settings.CACHES["default"]["LOCATION"]).glob("*.djcache"))


def test_spraying_passwords_across_usernames_is_limited_per_client(settings, client):
    settings.LOGIN_FAILURES_ALLOWED = 100
    settings.LOGIN_FAILURES_PER_CLIENT = 3
    create_user("victim")
    for name in ("a", "b", "c"):
        assert client.post("/accounts/login/", {"username": name, "password": "x"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "victim", "password": "anything"})
    assert blocked.status_code == 429


def test_behind_a_proxy_sign_in_limits_count_each_client_not_the_proxy(settings, client):
    """With NUM_PROXIES=1 every request comes from the proxy's address; the
    limits count the client the proxy names, so one client's failures do not
    lock out the others (and without NUM_PROXIES the header is ignored)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.LOGIN_FAILURES_ALLOWED = 100
    settings.LOGIN_FAILURES_PER_CLIENT = 2
    create_user("victim")
    for _ in range(2):
        client.post(
            "/accounts/login/", {"username": "x", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.9"
        )
    refused = client.post(
        "/accounts/login/", {"username": "victim", "password": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert refused.status_code == 429
    other = client.post(
        "/accounts/login/",
        {"username": "victim", "password": password_of("victim")},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert other.status_code == 302


# -- edge inputs that were 500s -------------------------------------------------------------------


def test_non_ascii_digits_in_after_are_ignored_not_a_500(reader):
    order = place_order().order_id
    browser = login(reader)
    assert browser.get(f"/orders/{order}/", {"after": "²"}).status_code == 200
    assert browser.get("/inventory/", {"after": "²"}).status_code == 200


@pytest.mark.parametrize("at", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_a_state_at_a_time_outside_utcs_calendar_is_a_400(staff, at):
    order = place_order().order_id
    response = ApiClient(staff).get(f"/api/orders/{order}/state", at=at)
    assert_problem(response, 400, "validation-error")


def test_placing_orders_keeps_working_after_all_this(staff):
    """The commands above did not leave the store in a state that refuses more."""
    assert commands.execute(commands.PlaceOrder("cust_end", (Line("WIDGET-A", 1, 1999),))).version == 1
    assert GlobalPosition(0, 0).token < EventStore().global_position_of(last()).token


def last() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(position) FROM events")
        return cursor.fetchone()[0]
