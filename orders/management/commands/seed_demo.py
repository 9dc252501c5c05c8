"""``python manage.py seed_demo``: a demo shop for a first look.

About 200 orders over the last 60 days, made through the real command
handlers (so every event, projection and audit entry is genuine), and a
staff user whose password is printed once. Does nothing if orders exist.
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
from orders.domain import DomainError, Line
from orders.domain.shipping import Contact, ShippingAddress

CATALOGUE = [
    ("WIDGET-A", 1999),
    ("WIDGET-B", 2499),
    ("GADGET-X", 4950),
    ("GIZMO-1", 899),
    ("CABLE-USB-C", 1299),
    ("ADAPTER-EU", 750),
    ("CASE-BLK", 1599),
    ("CHARGER-65W", 3999),
]
# Stock on hand before the first order; GADGET-X is scarce, so some orders
# for it are cancelled as out of stock by the fulfilment process.
STOCK = {
    "WIDGET-A": 400,
    "WIDGET-B": 300,
    "GADGET-X": 110,
    "GIZMO-1": 300,
    "CABLE-USB-C": 250,
    "ADAPTER-EU": 250,
    "CASE-BLK": 200,
    "CHARGER-65W": 150,
}
CARRIERS = ["DHL", "UPS", "DPD", "GLS"]
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
    help = "Create a demo staff user and ~200 orders over the last 60 days (skipped when orders exist)."

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

        def run_all():  # only the process manager needs to keep up while seeding
            run_projection(fulfilment)

        now = datetime.now(UTC)
        start = now - timedelta(days=60)
        times = sorted(start + timedelta(seconds=rng.uniform(0, 60 * 86400 - 3600)) for _ in range(count))
        with (
            message_context(correlation_id=str(uuid.uuid4()), user_id=user_id),
            clock.frozen(start - timedelta(days=1)),
        ):
            for sku, quantity in STOCK.items():
                commands.execute(commands.ReceiveStock(sku, quantity))
        made = 0
        for placed_at in times:
            at = placed_at
            customer = f"cust_{rng.randint(100, 160)}"
            picks = rng.sample(CATALOGUE, rng.randint(1, 3))
            lines = tuple(Line(sku, rng.randint(1, 4), price) for sku, price in picks)
            with message_context(correlation_id=str(uuid.uuid4()), user_id=user_id):
                with clock.frozen(at):
                    place = commands.PlaceOrder(customer, lines, **demo_details(customer))
                    order = commands.execute(place).order_id
                    run_all()  # the fulfilment process reserves stock and confirms (or cancels)
                made += 1
                steps = []
                if rng.random() < 0.35:
                    sku, price = rng.choice(CATALOGUE)
                    steps.append(commands.AddItem(order, sku, rng.randint(1, 3), price))
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
                            commands.execute(step)
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
