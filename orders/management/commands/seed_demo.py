"""``python manage.py seed_demo``: a demo shop for a first look.

A catalogue of 20 products with names and prices (a few re-priced, one
discontinued halfway), their stock, and about 200 orders over the last 60
days placed from it, made through the real command handlers (so every
event, projection and audit entry is genuine), and a staff user whose
password is printed once. Does nothing if orders exist.
"""

import contextlib
import random
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from config.logs import quiet
from eventstore import clock
from eventstore.metadata import message_context
from eventstore.models import Event
from orders import commands
from orders.domain import DomainError, LineRequest
from orders.domain.shipping import Contact, ShippingAddress
from projections import consistency

# (sku, name, unit price in minor units of SHOP_CURRENCY, stock on hand)
CATALOGUE = [
    ("WIDGET-A", "Widget, blue", 1999, 400),
    ("WIDGET-B", "Widget, red", 2499, 300),
    ("GADGET-B", "Gadget, small", 500, 300),
    ("GADGET-X", "Gadget XL", 4950, 60),  # scarce: some lines are rejected as out of stock
    ("GIZMO-1", "Gizmo", 899, 300),
    ("CABLE-USB-C", "USB-C cable, 1 m", 1299, 250),
    ("CABLE-HDMI", "HDMI cable, 2 m", 1499, 200),
    ("ADAPTER-EU", "Travel adapter (EU)", 750, 250),
    ("ADAPTER-UK", "Travel adapter (UK)", 750, 150),
    ("CASE-BLK", "Phone case, black", 1599, 200),
    ("CASE-CLR", "Phone case, clear", 1499, 200),
    ("CHARGER-65W", "Charger, 65 W", 3999, 150),
    ("CHARGER-20W", "Charger, 20 W", 1999, 200),
    ("POWERBANK-10", "Power bank, 10,000 mAh", 2999, 120),
    ("EARBUDS-1", "Wireless earbuds", 5999, 80),
    ("STAND-ALU", "Laptop stand, aluminium", 3499, 100),
    ("MOUSE-W", "Wireless mouse", 2299, 150),
    ("KEYBOARD-C", "Compact keyboard", 4499, 90),
    ("LAMP-DESK", "Desk lamp, LED", 3999, 70),
    ("MUG-LOGO", "Mug with logo", 1250, 10),  # nearly gone
]
STOCK = {sku: stock for sku, _name, _price, stock in CATALOGUE}
CARRIERS = ["DHL", "UPS", "DPD", "GLS"]
NOTES = [
    "Customer asked for gift wrapping.",
    "Called the customer: delivery after 5 pm only.",
    "Invoice to be sent to the company address.",
]
# Halfway through, the shop changes a few prices and stops selling one product.
# WIDGET-A and GADGET-B keep the prices the API examples use (19.99 and 5.00).
PRICE_CHANGES = [("WIDGET-B", 2699), ("CHARGER-65W", 3799), ("MUG-LOGO", 1450)]
DISCONTINUED = "ADAPTER-UK"
# Made-up people and places for the demo customers' contact and shipping details.
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman"]
PLACES = [
    ("Berlin", "DE", "10115"),
    ("Lyon", "FR", "69001"),
    ("Leeds", "GB", "LS1 4AP"),
    ("Utrecht", "NL", "3511"),
]


def demo_details(customer: str) -> dict:
    """The same made-up contact and address for a demo customer every time."""
    n = int(customer.rsplit("_", 1)[-1])
    first, last = FIRST[n % len(FIRST)], LAST[n % len(LAST)]
    city, country, postcode = PLACES[n % len(PLACES)]
    return {
        "contact": Contact(f"{first} {last}", f"{first}.{last}{n}@example.com".lower()),
        "shipping_address": ShippingAddress(f"{n} Example Street", None, postcode, city, country),
    }


REASONS = [
    "customer changed their mind",
    "payment failed",
    "duplicate order",
    "address could not be verified",
]


class Command(BaseCommand):
    help = (
        "Create a demo staff user, a catalogue of 20 products and ~200 orders over the last 60 days "
        "(skipped when orders exist)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=200)
        parser.add_argument("--username", default="admin")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, orders: int, username: str, seed: int, **options):
        if Event.objects.filter(aggregate_type="Order").exists():
            self.stdout.write("Demo data exists already; nothing to seed.")
            return
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username, password=password)
            self.stdout.write(
                self.style.SUCCESS(f"Staff user created: username {username!r}, password {password!r}")
            )
            self.stdout.write("(printed once; change it in the admin, or with: manage.py changepassword)")
        with (
            override_settings(PROJECTIONS_MODE="off", INVENTORY_RESERVATION=True),
            quiet("orders", "projections"),
        ):
            made = self._orders(orders, random.Random(seed), str(user.pk))
        self.stdout.write(f"Seeded {made} orders.")
        self._project()

    def _orders(self, count: int, rng: random.Random, user_id: str) -> int:
        from projections.base import registry
        from projections.runner import run_projection

        fulfilment = registry.get("fulfilment")

        last = {"token": None}

        def run_all():
            """Only the process manager needs to keep up while seeding: run it
            here, and where a worker already runs it (then it is busy here),
            wait until it has handled the last command, as the next step
            (e.g. shipping) depends on its reservations."""
            run_projection(fulfilment)
            if last["token"]:
                consistency.wait_for_token((fulfilment.name,), last["token"], timeout=30)

        now = datetime.now(UTC)
        start = now - timedelta(days=60)
        times = sorted(start + timedelta(seconds=rng.uniform(0, 60 * 86400 - 3600)) for _ in range(count))
        with (
            message_context(correlation_id=str(uuid.uuid4()), user_id=user_id),
            clock.frozen(start - timedelta(days=1)),
        ):
            for sku, name, price, quantity in CATALOGUE:
                commands.execute(commands.AddProduct(sku, name, price))
                commands.execute(commands.ReceiveStock(sku, quantity))
        made = 0
        halfway = start + timedelta(days=30)
        for placed_at in times:
            if halfway and placed_at > halfway:
                with (
                    message_context(correlation_id=str(uuid.uuid4()), user_id=user_id),
                    clock.frozen(halfway),
                ):
                    for sku, price in PRICE_CHANGES:
                        commands.execute(commands.ChangeProductPrice(sku, price))
                    commands.execute(commands.DiscontinueProduct(DISCONTINUED))
                halfway = None
            at = placed_at
            customer = f"cust_{rng.randint(100, 160)}"
            sold = [p for p in CATALOGUE if halfway or p[0] != DISCONTINUED]
            picks = rng.sample(sold, rng.randint(1, 3))
            lines = tuple(LineRequest(sku, rng.randint(1, 4)) for sku, *_ in picks)  # catalogue prices
            with message_context(correlation_id=str(uuid.uuid4()), user_id=user_id):
                with clock.frozen(at):
                    place = commands.PlaceOrder(customer, lines, **demo_details(customer))
                    placed = commands.execute(place)
                    order, last["token"] = placed.order_id, placed.consistency_token
                    run_all()  # the fulfilment process reserves stock and confirms (or cancels)
                made += 1
                steps = []
                if rng.random() < 0.35:
                    sku = rng.choice(sold)[0]
                    steps.append(commands.AddItem(order, sku, rng.randint(1, 3)))
                if rng.random() < 0.15:
                    steps.append(commands.ChangeLineQuantity(order, lines[0].sku, rng.randint(1, 5)))
                if rng.random() < 0.1:
                    steps.append(commands.AddNote(order, rng.choice(NOTES)))
                if len(lines) > 1 and rng.random() < 0.2:
                    steps.append(commands.RemoveItem(order, lines[-1].sku))
                roll = rng.random()
                if roll < 0.55:
                    steps.append(
                        commands.ShipOrder(order, rng.choice(CARRIERS), f"TRK{rng.randint(10**8, 10**9)}")
                    )
                elif roll < 0.7:
                    steps.append(commands.CancelOrder(order, rng.choice(REASONS)))
                for step in steps:
                    at = min(at + timedelta(hours=rng.uniform(0.2, 30)), now)
                    with clock.frozen(at):
                        # e.g. shipping an order cancelled for lack of stock fails, as in life
                        with contextlib.suppress(DomainError):
                            last["token"] = commands.execute(step).consistency_token
                        run_all()
        return made

    def _project(self) -> None:
        mode = settings.PROJECTIONS_MODE
        if mode == "inprocess":
            from projections.runner import run_all

            run_all()
            self.stdout.write("Read models are up to date.")
        elif mode == "celery":
            from projections.nudge import nudge

            nudge()
            self.stdout.write("Projections were nudged; the worker will update the read models.")
