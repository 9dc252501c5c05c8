"""Personal data on either database (this runs on SQLite too): encrypted on
append, decrypted on read, erased by forgetting, rebuilt without it."""

import pytest

from eventstore import EventStore
from eventstore.models import Event
from eventstore.personal import ERASED
from orders import commands
from orders.domain import Line
from orders.domain.shipping import Contact, ShippingAddress
from projections import selectors
from projections.base import registry
from projections.rebuild import rebuild, snapshot
from tests.support import run_command, settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_forgotten_details_read_as_erased_in_the_log_and_the_read_models():
    placed = run_command(
        commands.PlaceOrder(
            "cust_any",
            (Line("WIDGET-A", 1, 100),),
            contact=Contact("Edsger Dijkstra", "ewd@example.com"),
            shipping_address=ShippingAddress("Plataanstraat 5", None, "5671 AL", "Nuenen", "NL"),
        )
    )
    settle()
    stored = Event.objects.get(event_type="ShippingDetailsGiven").event_data
    assert "Dijkstra" not in str(stored) and stored["name"]["$pii"] == 1
    assert EventStore().load(placed.order_id)[1].data["name"] == "Edsger Dijkstra"
    assert selectors.order_shipping(placed.order_id).city == "Nuenen"

    run_command(commands.ForgetCustomer("cust_any"))
    settle()

    assert EventStore().load(placed.order_id)[1].data["name"] == ERASED
    shipping = selectors.order_shipping(placed.order_id)
    assert (shipping.name, shipping.city, shipping.country, shipping.erased) == (ERASED, ERASED, "NL", True)
    live = {p.name: snapshot(p) for p in registry.projections()}
    rebuild(registry.projections())
    assert {p.name: snapshot(p) for p in registry.projections()} == live
    assert "Dijkstra" not in str(live) and "Nuenen" not in str(live)
    assert run_command(commands.ForgetCustomer("cust_any")).changed is False
