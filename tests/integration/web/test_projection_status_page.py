"""The projection status page (staff only): every projection's state, its
htmx partial, and releasing a held projection with "retry"."""

import pytest

from projections.base import registry
from tests.integration.web.pages import held_failure, messages_shown, text
from tests.support import login

ORDER_READ_MODELS = ("order_list", "customer_summary", "daily_sales")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_projection_status_page_lists_every_projection_and_htmx_gets_only_the_table(staff):
    client = login(staff)

    page = client.get("/projections/")
    partial = client.get("/projections/", headers={"HX-Request": "true"})

    assert page.status_code == partial.status_code == 200
    assert "<h1>Projections</h1>" in text(page) and "<html" in text(page)
    body = text(partial).strip()
    assert body.startswith('<div id="projection-status"') and body.endswith("</div>")
    assert "<html" not in body and "<h1>" not in body
    for name in registry.followers:
        assert f"<strong>{name}</strong>" in body
    assert body.count('<span class="badge running">running</span>') >= len(ORDER_READ_MODELS)


def test_retry_releases_a_held_projection(staff):
    failure = held_failure("daily_sales")
    client = login(staff)
    held = text(client.get("/projections/", headers={"HX-Request": "true"}))
    row = held.split("<strong>daily_sales</strong>", 1)[1].split("</tr>", 2)
    assert '<span class="badge held">held</span>' in row[0]
    assert "Failed at position 7" in row[1] and "ValueError: boom" in row[1]

    response = client.post("/projections/daily_sales/retry")

    assert response.status_code == 302
    assert response["Location"] == "/projections/"
    failure.refresh_from_db()
    assert failure.resolved_at is not None
    assert (failure.resolution, failure.resolved_by) == ("retried", "boss")
    page = client.get("/projections/")
    assert "daily_sales will retry the event at position 7." in messages_shown(page)
    after = text(page).split("<strong>daily_sales</strong>", 1)[1].split("</tr>", 1)[0]
    assert '<span class="badge running">running</span>' in after
    assert "Failed at position 7" not in text(page)


def test_retrying_a_projection_that_is_not_held_changes_nothing_and_an_unknown_one_is_404(staff):
    client = login(staff)

    response = client.post("/projections/order_list/retry", follow=True)
    assert response.status_code == 200
    assert "order_list is not held; nothing to retry." in messages_shown(response)
    assert client.post("/projections/nope/retry").status_code == 404
    assert client.get("/projections/order_list/retry").status_code == 405
