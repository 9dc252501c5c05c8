"""The web UI in a real browser (Playwright driving the system Chromium)
against the running stack: gunicorn, a Celery worker and beat on Redis.
Screenshots of each main page go to test-artifacts/screenshots/."""

import re
import uuid
import zoneinfo
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connections

from eventstore import EventStore
from eventstore.models import Event
from orders import commands
from orders.domain import Line
from orders.domain.shipping import Contact, ShippingAddress
from tests.support import password_of

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the
    # test's own ORM calls are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install -y chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield b
        # Connections opened while Playwright's loop runs live in its context:
        # close them here, or the test database cannot be dropped at the end.
        connections.close_all()
        b.close()


@pytest.fixture
def running(stack):
    stack.start_worker()
    stack.start_beat()
    return stack


def sign_in(browser, base_url, user, viewport=None):
    """A new browser context (Berlin time) signed in as ``user`` through the
    login form; the context and its page, on the order list."""
    context = browser.new_context(
        viewport=viewport or {"width": 1280, "height": 900}, timezone_id="Europe/Berlin"
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password_of(user.username))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/orders/$"))
    return context, page


def shot(page, name):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_for_stock(page) -> None:
    """The stock panel polls while the worker reserves, then reloads the page."""
    page.get_by_text("Stock is reserved for every line.").wait_for(timeout=60_000)


@pytest.mark.reservations
def test_an_order_lives_its_whole_life_in_the_browser(running, browser, transactional_db, staff):
    for sku in ("WIDGET-A", "GADGET-B", "EXTRA-1"):
        commands.execute(commands.ReceiveStock(sku, 50))
    _, page = sign_in(browser, running.base_url, staff)

    # Place an order with two lines.
    form = page.locator("#place")
    form.get_by_label("Customer", exact=True).fill("cust_browser")
    form.get_by_label("Name").fill("Ada Lovelace")
    form.get_by_label("Email").fill("ada@example.com")
    form.get_by_label("Address", exact=True).fill("12 Analytical Row")
    form.get_by_label("Postcode").fill("N1 9GU")
    form.get_by_label("City").fill("London")
    form.get_by_label("Country").select_option("GB")
    form.get_by_label("SKU, line 1").fill("WIDGET-A")
    form.get_by_label("Quantity, line 1").fill("2")
    form.get_by_label("Price in cents, line 1").fill("1999")
    form.get_by_label("SKU, line 2").fill("GADGET-B")
    form.get_by_label("Quantity, line 2").fill("1")
    form.get_by_label("Price in cents, line 2").fill("500")
    form.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r".*/orders/[0-9a-f-]{36}/"))
    order_id = re.search(r"/orders/([0-9a-f-]{36})/", page.url).group(1)
    assert page.locator("#order-total").inner_text() == "44.98"
    assert page.locator("#lines tbody tr").count() == 2
    assert "12 Analytical Row" in page.locator("#shipping").inner_text()
    assert page.locator("#ship-waiting").count() == 1  # cannot ship before its stock is reserved
    wait_for_stock(page)
    assert page.locator("#order-status").inner_text() == "confirmed"

    # It is in the list.
    page.get_by_role("link", name="Orders", exact=True).first.click()
    row = page.locator("table tbody tr", has_text="cust_browser")
    assert row.count() == 1 and "44.98" in row.inner_text()
    shot(page, "order-list")
    page.get_by_label("Order id").fill(order_id[:8])
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(f".*/orders/{order_id}/"))

    # Add an item, then remove one.
    page.get_by_label("SKU", exact=True).fill("EXTRA-1")
    page.get_by_label("Quantity", exact=True).fill("3")
    page.get_by_label("Price (cents)").fill("250")
    page.get_by_role("button", name="Add item").click()
    page.wait_for_selector("text=Item added.")
    assert page.locator("#lines tbody tr").count() == 3
    assert page.locator("#order-total").inner_text() == "52.48"
    # The worker reserves the added units and confirms again (a new version):
    # wait for it, or the next form would be a version behind.
    wait_for_stock(page)
    page.get_by_role("button", name="Remove GADGET-B").click()
    page.wait_for_selector("text=Line removed.")
    assert page.locator("#lines tbody tr").count() == 2
    assert page.locator("#order-total").inner_text() == "47.48"

    # A second tab opens the order now; the first one ships it.
    second = page.context.new_page()
    second.goto(page.url.split("?")[0])
    page.get_by_label("Carrier").fill("DHL")
    page.get_by_role("button", name="Ship order").click()
    page.wait_for_selector("text=Order shipped.")
    assert page.locator("#order-status").inner_text() == "shipped"
    shot(page, "order-detail")

    # The stale tab tries to cancel: a conflict, with what changed; nothing appended.
    second.get_by_label("Reason").fill("customer called")
    second.get_by_role("button", name="Cancel order").click()
    conflict = second.locator("#conflict")
    conflict.wait_for()
    assert "changed after you opened the page" in conflict.inner_text()
    assert "Shipped via DHL" in conflict.inner_text()
    shot(second, "order-conflict")
    # ...and the rule that now forbids it: a shipped order cannot be cancelled,
    # with what was typed kept, and no button to try again.
    error = second.locator("#cancel-error")
    assert "has shipped" in error.inner_text()
    assert second.get_by_label("Reason").input_value() == "customer called"
    assert second.get_by_role("button", name="Cancel order anyway").count() == 0

    history = EventStore().load(uuid.UUID(order_id))
    assert [e.event_type for e in history if e.event_type != "OrderConfirmed"] == [
        "OrderPlaced",
        "ShippingDetailsGiven",
        "ItemAdded",
        "ItemRemoved",
        "OrderShipped",
    ]

    # The timeline shows them all; "as of" just after the item was added replays that state.
    page.goto(f"{running.base_url}/orders/{order_id}/")
    assert page.locator("#timeline li").count() == len(history)
    added = next(e for e in history if e.event_type == "ItemAdded")
    moment = added.created_at + timedelta(milliseconds=1)
    local = moment.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    page.get_by_label("Show the order as it was at").fill(local.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])
    page.get_by_role("button", name="Replay").click()
    result = page.locator("#as-of-result")
    result.wait_for()
    assert "52.48" in result.inner_text() and f"version {added.version}" in result.inner_text()
    shot(page, "order-as-of")

    # The audit trace of the placement's correlation id shows exactly its
    # workflow: the order placed with its shipping details, its stock reserved
    # (other streams), confirmed. Staff see the personal data decrypted, marked.
    correlation = history[0].metadata["correlation_id"]
    page.goto(f"{running.base_url}/audit/?correlation_id={correlation}")
    rows = page.locator("#audit-table tbody tr")
    expected = list(Event.objects.filter(metadata__correlation_id=correlation).order_by("-position"))
    assert {e.event_type for e in expected} == {
        "OrderPlaced",
        "ShippingDetailsGiven",
        "StockReserved",
        "OrderConfirmed",
    }
    assert "Personal data: " in page.content() and "12 Analytical Row" in page.content()
    assert rows.count() == len(expected)
    for row, event in zip(rows.all(), expected, strict=True):
        assert event.event_type in row.inner_text() and str(event.position) in row.inner_text()
    page.goto(f"{running.base_url}/audit/")
    shot(page, "audit")

    page.goto(f"{running.base_url}/dashboard/")
    page.wait_for_selector("body[data-charts-ready='true']")
    shot(page, "dashboard")
    page.goto(f"{running.base_url}/projections/")
    assert page.locator("#projection-status tbody tr").count() >= 3
    shot(page, "projections")


def test_an_order_manager_who_is_not_staff_cannot_reach_the_audit_view(
    running, browser, transactional_db, manager
):
    _, page = sign_in(browser, running.base_url, manager, viewport={"width": 390, "height": 844})
    assert page.get_by_role("link", name="Audit").count() == 0
    shot(page, "order-list-phone")
    page.goto(f"{running.base_url}/audit/")
    assert "/audit/" not in page.url or page.locator("#audit-table").count() == 0
    assert page.locator("#audit-table").count() == 0
    page.goto(f"{running.base_url}/projections/")
    assert page.locator("#projection-status").count() == 0


def test_staff_forget_a_customer_from_their_page_after_confirming(running, browser, transactional_db, staff):
    placed = commands.execute(
        commands.PlaceOrder(
            "cust_forget",
            (Line("WIDGET-A", 1, 1999),),
            contact=Contact("Grace Hopper", "grace@example.com"),
            shipping_address=ShippingAddress("44 Compiler Court", None, "22201", "Arlington", "US"),
        )
    )
    _, page = sign_in(browser, running.base_url, staff)
    page.goto(f"{running.base_url}/orders/{placed.order_id}/?after={placed.consistency_token}")
    page.locator("#customer-link").click()
    page.wait_for_url(re.compile(r".*/customers/cust_forget/"))
    assert "Grace Hopper" in page.content() and "Arlington" in page.content()
    shot(page, "customer")

    page.get_by_label("Type cust_forget to confirm").fill("cust_forget")
    page.get_by_role("button", name="Forget customer").click()
    page.wait_for_selector("text=Customer forgotten")
    assert "Grace Hopper" not in page.content() and "[erased]" in page.content()
    page.goto(f"{running.base_url}/orders/{placed.order_id}/")
    assert "[erased]" in page.locator("#shipping").inner_text()
    assert page.locator("#order-total").inner_text() == "19.99"
