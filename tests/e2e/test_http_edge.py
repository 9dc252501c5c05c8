"""What gunicorn hands the app, as a client sends it: a request body sent
in chunks (no Content-Length) is refused, not read as empty."""

import pytest
import requests

from tests.support import event_count, stock_catalogue

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


def test_a_chunked_command_body_is_refused_with_411_through_gunicorn(stack, token):
    stock_catalogue([("WIDGET-A", 1, 1999)])
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    order = b'{"customer_id": "cust_chunked", "items": [{"sku": "WIDGET-A", "quantity": 1}]}'
    before = event_count()

    # requests sends a generator's pieces with Transfer-Encoding: chunked.
    response = requests.post(
        f"{stack.base_url}/api/orders/", data=iter([order[:20], order[20:]]), headers=headers, timeout=30
    )

    assert response.status_code == 411, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "Content-Length" in response.json()["detail"]
    assert event_count() == before
    # The same body with its length is placed.
    placed = requests.post(f"{stack.base_url}/api/orders/", data=order, headers=headers, timeout=30)
    assert placed.status_code == 201, placed.text
    assert event_count() == before + 1
