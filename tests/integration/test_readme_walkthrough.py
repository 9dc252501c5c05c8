"""The README's walk-through works as written where it computes a value: the
moment noted with `date -u +%FT%TZ` is a time `GET /api/orders/{id}/state`
accepts, and the state answered is the order as it was then."""

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orders import commands
from tests.support import GADGET, WIDGET, ApiClient, place_order, run_command

pytestmark = pytest.mark.django_db

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_moment_noted_with_date_reads_the_order_as_it_was(manager):
    assert "BEFORE=$(date -u +%FT%TZ)" in README and "state?at=$BEFORE" in README
    now = datetime.now(UTC)
    order = place_order(lines=(WIDGET,), at=now - timedelta(seconds=5)).order_id
    before = subprocess.run(
        ["date", "-u", "+%FT%TZ"], capture_output=True, text=True, check=True
    ).stdout.strip()
    run_command(commands.AddItem(order, *GADGET), at=now + timedelta(seconds=5))

    response = ApiClient(manager).get(f"/api/orders/{order}/state", at=before)

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    assert [item["sku"] for item in response.json()["items"]] == ["WIDGET-A"]
