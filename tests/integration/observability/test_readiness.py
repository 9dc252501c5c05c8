"""GET /readyz: ready when the database, Redis and every projection are
fine; 503 saying why when a projection is held by a poison event (ready
again after a retry or a skip) or has had events waiting longer than
PROJECTION_LAG_ALERT_SECONDS. The projections page and `projections status`
show the same judgment; /healthz stays a cheap liveness check."""

import html
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from eventstore.clock import frozen
from projections import failures
from projections.base import registry
from tests.integration.observability.conftest import hold
from tests.integration.projections.support import catch_up, events
from tests.support import login, place_order, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def readyz() -> tuple[int, dict]:
    response = Client().get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def page_says(staff) -> str:
    """The readiness line of the projections page, as text."""
    content = login(staff).get("/projections/").content.decode()
    start = content.index('id="readiness"')
    line = content[content.index(">", start) + 1 : content.index("</p>", start)]
    return " ".join(html.unescape(line).replace("<strong>", "").replace("</strong>", "").split())


def command_says() -> str:
    out = io.StringIO()
    call_command("projections", "status", stdout=out)
    return out.getvalue().splitlines()[0]


def test_ready_when_the_database_redis_and_every_projection_are_fine(settings, staff):
    place_order("cust_1")
    settle()
    status, body = readyz()
    assert status == 200, body
    assert (body["status"], body["reasons"]) == ("ready", [])
    assert body["checks"]["database"] == {"ok": True}
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == {"ok": True}
    projections = body["checks"]["projections"]
    assert projections["ok"] and projections["lag_alert_seconds"] == settings.PROJECTION_LAG_ALERT_SECONDS
    assert [p["name"] for p in projections["projections"]] == [f.name for f in registry.all()]
    assert all(p["state"] == "running" and p["lag_events"] == 0 for p in projections["projections"])
    assert command_says() == "ready"
    assert page_says(staff).startswith("Ready")


def test_not_ready_while_a_projection_is_held_by_a_poison_event_and_ready_after_a_retry(
    break_projection, monkeypatch, staff
):
    place_order("alice")
    bad = place_order("mallory")
    fix = break_projection("daily_sales", bad.order_id)
    poison = next(e for e in events() if e.aggregate_id == bad.order_id)
    catch_up()
    assert readyz()[0] == 200  # retrying, and not for long yet: still ready

    hold(monkeypatch)
    status, body = readyz()
    reason = f"daily_sales is held at position {poison.position} (OrderPlaced) by RuntimeError"
    assert (status, body["status"], body["reasons"]) == (503, "not ready", [reason])
    assert body["checks"]["database"]["ok"] and not body["checks"]["projections"]["ok"]
    held = {p["name"]: p["state"] for p in body["checks"]["projections"]["projections"]}
    assert held["daily_sales"] == "held" and held["order_list"] == "running"
    assert command_says() == f"not ready: {reason}"
    assert page_says(staff) == f"Not ready: {reason}."
    assert Client().get("/healthz").status_code == 200  # liveness is another question

    fix()
    failures.retry("daily_sales", by="ops")
    catch_up()
    assert readyz()[0] == 200
    assert command_says() == "ready"


def test_skipping_the_poison_event_makes_it_ready_again(break_projection, monkeypatch):
    bad = place_order("mallory")
    break_projection("daily_sales", bad.order_id)
    poison = next(e for e in events() if e.aggregate_id == bad.order_id)
    hold(monkeypatch)
    assert readyz()[0] == 503
    failures.skip("daily_sales", poison.position, by="ops")
    catch_up()
    status, body = readyz()
    assert (status, body["status"]) == (200, "ready")


def test_not_ready_when_events_have_waited_longer_than_the_bound(settings):
    settings.PROJECTION_LAG_ALERT_SECONDS = 30
    with frozen(timezone.now() - timedelta(seconds=90)):
        place_order("cust_1")
    status, body = readyz()
    assert status == 503
    for name in ("order_list", "daily_sales", "fulfilment"):
        assert any(r.startswith(f"{name} has 1 event(s) waiting, the oldest for 9") for r in body["reasons"])
    assert all(r.endswith("(over 30 s)") for r in body["reasons"])
    assert command_says().startswith("not ready: customer_summary has 1 event(s) waiting")

    settle()
    assert readyz()[0] == 200


def test_events_waiting_within_the_bound_are_no_reason(settings):
    settings.PROJECTION_LAG_ALERT_SECONDS = 3600
    place_order("cust_1")
    status, body = readyz()
    assert status == 200, body
    assert all(p["lag_events"] == 1 for p in body["checks"]["projections"]["projections"])


def test_not_ready_when_redis_is_unreachable(settings):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    status, body = readyz()
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["reasons"] == [f"redis unreachable ({body['checks']['redis']['error']})"]
