"""The order page: its lines, money and timeline with usernames, the command
forms (only while the order is open, carrying its version), and "as of",
which replays the order at a moment."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from orders import commands
from tests.integration.web.pages import (
    COMMAND_FORM,
    committed,
    messages_shown,
    text,
    timeline,
    timeline_entries,
    version_inputs,
)
from tests.support import GADGET, WIDGET, login, place_order, run_command, settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@committed
def test_order_page_shows_lines_money_and_the_whole_timeline_with_usernames(manager, other):
    order = place_order(lines=(WIDGET, ("BIG-1", 10, 99999)), user=manager).order_id
    run_command(commands.AddItem(order, "GADGET-B", 1, 500), user=other)
    run_command(commands.RemoveItem(order, "GADGET-B"), user=manager)
    settle()

    response = login(manager).get(f"/orders/{order}/")

    assert response.status_code == 200
    body = text(response)
    assert (
        '<td class="mono">WIDGET-A</td><td class="num">2</td>'
        '<td class="num">19.99</td><td class="num">39.98</td>' in body
    )
    assert (
        '<td class="mono">BIG-1</td><td class="num">10</td>'
        '<td class="num">999.99</td><td class="num">9,999.90</td>' in body
    )
    assert '<td class="mono">GADGET-B</td>' not in body
    assert 'id="order-total">10,039.88<' in body
    assert timeline(response) == [("OrderPlaced", 1), ("ItemAdded", 2), ("ItemRemoved", 3)]
    assert timeline_entries(response) == [
        "Placed for cust_1: 2 lines, total 10,039.88",
        "Added 1 \u00d7 GADGET-B at 5.00",
        "Removed GADGET-B (1 \u00d7 5.00)",
    ]
    assert body.count("· by manager\n") == 2 and body.count("· by other\n") == 1


@committed
def test_the_command_forms_carry_the_current_version(manager):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    run_command(commands.AddItem(order, "EXTRA-1", 1, 100))
    settle()

    response = login(manager).get(f"/orders/{order}/")

    assert set(COMMAND_FORM.findall(text(response))) == {"add", "remove", "ship", "cancel", "address"}
    versions = version_inputs(response)
    assert len(versions) == 7  # ship, cancel, add, address and one remove per line
    assert set(versions) == {2}


@committed
@pytest.mark.parametrize("close", ["ship", "cancel"])
def test_closed_orders_have_no_command_forms(manager, close):
    order = place_order(lines=(WIDGET, GADGET)).order_id
    run_command(commands.ShipOrder(order) if close == "ship" else commands.CancelOrder(order, "gone"))
    settle()

    response = login(manager).get(f"/orders/{order}/")

    assert response.status_code == 200
    assert not COMMAND_FORM.search(text(response))
    assert f'id="order-status">{"shipped" if close == "ship" else "cancelled"}<' in text(response)


@committed
def test_as_of_replays_the_order_at_that_moment(reader):
    t0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
    order = place_order(lines=(WIDGET,), at=t0).order_id
    run_command(commands.AddItem(order, "GADGET-B", 1, 500), at=t0 + timedelta(hours=1))
    run_command(commands.ShipOrder(order, "DHL"), at=t0 + timedelta(hours=2))
    settle()
    client = login(reader)

    def as_of(value) -> tuple[str, str]:
        """The replay's one-line summary, and the SKUs of the replayed lines."""
        response = client.get(f"/orders/{order}/", {"as_of": value})
        assert response.status_code == 200, value
        section = text(response).split('id="as-of-result"', 1)[1].split("</section>", 1)[0]
        words = " ".join(re.sub(r"<[^>]+>", "", section.split(">", 1)[1]).split())
        summary = re.match(r".*?(version \d+|yet)\.", words).group(0)
        return summary, " ".join(re.findall(r'<td class="mono">([^<]+)</td>', section))

    assert as_of("2025-03-10T10:30:00Z") == (
        "At 2025-03-10 10:30:00 UTC, after 1 event: placed, total 39.98, version 1.",
        "WIDGET-A",
    )
    assert as_of("2025-03-10T11:30") == (  # no offset: the user's time zone (UTC here)
        "At 2025-03-10 11:30:00 UTC, after 2 events: placed, total 44.98, version 2.",
        "WIDGET-A GADGET-B",
    )
    assert as_of("2025-03-10T14:30:00+02:00") == (  # 12:30 UTC
        "At 2025-03-10 12:30:00 UTC, after 3 events: shipped, total 44.98, version 3.",
        "WIDGET-A GADGET-B",
    )
    assert as_of("2025-03-10T09:59:59") == (
        "At 2025-03-10 09:59:59 UTC this order had not been placed yet.",
        "",
    )


@pytest.mark.parametrize("value", ["garbage", "2025-02-30T10:00", "x" * 5000])
def test_a_garbage_as_of_shows_a_message(reader, value):
    order = place_order().order_id

    response = login(reader).get(f"/orders/{order}/", {"as_of": value})

    assert response.status_code == 200
    assert "“As of” needs a date and time." in messages_shown(response)
    assert 'id="as-of-result"' not in text(response)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_as_of_at_the_edge_of_the_calendar_does_not_give_a_500(reader, value):
    order = place_order().order_id

    response = login(reader).get(f"/orders/{order}/", {"as_of": value})

    assert response.status_code == 200


def test_the_page_of_an_unknown_order_or_of_a_stock_stream_is_404(reader):
    client = login(reader)
    inventory_stream = run_command(commands.ReceiveStock("WIDGET-A", 5)).order_id  # exists, but not an order

    assert client.get(f"/orders/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/orders/{inventory_stream}/").status_code == 404
    assert client.get("/orders/not-a-uuid/").status_code == 404
