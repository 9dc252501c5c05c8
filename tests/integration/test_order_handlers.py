"""Command handlers against the real store: snapshots on the command path."""

import pytest
from django.db import connection

from orders import commands
from orders.domain import Line, OrderAggregate
from orders.repository import OrderRepository
from tests.support import stock_catalogue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def snapshot_versions(order_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version FROM snapshots WHERE aggregate_id = %s ORDER BY version",
            [order_id if connection.vendor == "postgresql" else order_id.hex],
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_snapshot_is_taken_every_n_events_and_loading_from_it_equals_a_full_replay(settings):
    settings.EVENTSTORE_SNAPSHOT_EVERY = 5
    placed = commands.execute(commands.PlaceOrder("c1", (Line("BASE", 1, 10),)))
    stock_catalogue([(f"SKU-{i}", 1, 100 + i) for i in range(4)])
    for i in range(11):
        commands.execute(commands.AddItem(placed.order_id, f"SKU-{i % 4}", 1, 100 + i % 4))
    assert snapshot_versions(placed.order_id) == [5, 10]

    repo = OrderRepository()
    from_snapshot = repo.get(placed.order_id)
    full = OrderAggregate.from_history(placed.order_id, repo.to_domain(repo.store.load(placed.order_id)))
    assert from_snapshot.state() == full.state()
    assert from_snapshot.version == 12


def test_a_snapshot_in_an_old_format_is_ignored(settings):
    settings.EVENTSTORE_SNAPSHOT_EVERY = 2
    placed = commands.execute(commands.PlaceOrder("c1", (Line("BASE", 1, 10),)))
    stock_catalogue([("MORE", 2, 5)])
    commands.execute(commands.AddItem(placed.order_id, "MORE", 2, 5))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE snapshots SET schema_version = 0, state = '{}'")
    assert OrderRepository().get(placed.order_id).total_cents == 20
