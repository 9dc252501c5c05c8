"""The dashboard: the daily series and the totals it embeds agree with the
orders placed, shipped and cancelled."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from orders import commands
from tests.integration.web.pages import committed, json_script, text
from tests.support import GADGET, WIDGET, login, place_order, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@committed
def test_dashboard_embeds_the_series_and_consistent_totals(reader):
    now = timezone.now()
    a = place_order("cust_a", lines=(WIDGET, GADGET)).order_id  # 44.98, shipped today
    run_command(commands.ShipOrder(a))
    b = place_order("cust_a", lines=[("B-1", 1, 1000)]).order_id  # cancelled today
    run_command(commands.CancelOrder(b, "no"))
    place_order("cust_b", lines=[("C-1", 1, 2500)])  # open
    d = place_order("cust_b", lines=[("D-1", 1, 700)], at=now - timedelta(days=3)).order_id
    run_command(commands.ShipOrder(d), at=now - timedelta(days=2))
    place_order("cust_c", lines=[("E-1", 1, 999)], at=now - timedelta(days=70))  # outside the 60 days, open
    settle()

    response = login(reader).get("/dashboard/")

    assert response.status_code == 200
    series = json_script(response, "series-data")
    assert len(series) == 60
    assert series[-1]["day"] == now.date().isoformat()
    by_day = {s["day"]: s for s in series}
    today = by_day[now.date().isoformat()]
    assert (today["placed"], today["shipped"], today["cancelled"], today["revenue_cents"]) == (3, 1, 1, 4498)
    assert today["booked_cents"] == 4498 + 1000 + 2500
    assert by_day[(now - timedelta(days=3)).date().isoformat()]["placed"] == 1
    assert by_day[(now - timedelta(days=2)).date().isoformat()]["revenue_cents"] == 700
    assert sum(s["placed"] for s in series) == 4
    assert json_script(response, "status-data") == {"placed": 2, "shipped": 2, "cancelled": 1}
    stats = re.findall(r'<div class="stat">([^<]*)</div>', text(response))
    assert stats == ["4", "€51.98", "1", "2"]
