"""Order commands and their handlers: the only code that appends order events.

The REST API and the web forms both build a command and call ``execute``.
Each handler loads the order, calls one method on it and saves it; ``execute``
wraps a handler in a transaction, retries a lost race on fresh state (unless
the caller pinned a version with If-Match) and records idempotency keys.
"""

import random
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.db import transaction

from eventstore import ConcurrencyError, hooks
from eventstore.metadata import message_context
from orders import idempotency
from orders.domain import DuplicateOrderError, Line
from orders.repository import OrderRepository, StaleVersionError

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    items: tuple[Line, ...]
    order_id: UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class AddItem:
    order_id: UUID
    sku: str
    quantity: int
    price_cents: int


@dataclass(frozen=True)
class RemoveItem:
    order_id: UUID
    sku: str


@dataclass(frozen=True)
class ShipOrder:
    order_id: UUID
    carrier: str | None = None
    tracking_number: str | None = None


@dataclass(frozen=True)
class CancelOrder:
    order_id: UUID
    reason: str


@dataclass(frozen=True)
class CommandResult:
    order_id: UUID
    version: int
    position: int
    created: bool = False
    replayed: bool = False

    def to_data(self) -> dict[str, Any]:
        return {"order_id": str(self.order_id), "version": self.version, "position": self.position}


# -- handlers: load, decide, save ----------------------------------------------


def place_order(cmd: PlaceOrder, repo: OrderRepository, expected_version: int | None) -> CommandResult:
    order = repo.new(cmd.order_id)  # a new stream: saving refuses one that exists
    order.place(cmd.customer_id, list(cmd.items))
    result = repo.save(order)
    return CommandResult(order.id, result.version, result.position, created=True)


def add_item(cmd: AddItem, repo: OrderRepository, expected_version: int | None) -> CommandResult:
    order = repo.get(cmd.order_id, expected_version)
    order.add_item(cmd.sku, cmd.quantity, cmd.price_cents)
    result = repo.save(order)
    return CommandResult(order.id, result.version, result.position)


def remove_item(cmd: RemoveItem, repo: OrderRepository, expected_version: int | None) -> CommandResult:
    order = repo.get(cmd.order_id, expected_version)
    order.remove_item(cmd.sku)
    result = repo.save(order)
    return CommandResult(order.id, result.version, result.position)


def ship_order(cmd: ShipOrder, repo: OrderRepository, expected_version: int | None) -> CommandResult:
    order = repo.get(cmd.order_id, expected_version)
    order.ship(cmd.carrier, cmd.tracking_number)
    result = repo.save(order)
    return CommandResult(order.id, result.version, result.position)


def cancel_order(cmd: CancelOrder, repo: OrderRepository, expected_version: int | None) -> CommandResult:
    order = repo.get(cmd.order_id, expected_version)
    order.cancel(cmd.reason)
    result = repo.save(order)
    return CommandResult(order.id, result.version, result.position)


HANDLERS: dict[type, Callable[..., CommandResult]] = {
    PlaceOrder: place_order,
    AddItem: add_item,
    RemoveItem: remove_item,
    ShipOrder: ship_order,
    CancelOrder: cancel_order,
}


class ContentionError(Exception):
    """The order kept changing under the command; nothing was appended."""


# -- the one entry point -------------------------------------------------------


def execute(
    command: Any,
    *,
    expected_version: int | None = None,
    idempotency_key: idempotency.IdempotencyKey | None = None,
    repo: OrderRepository | None = None,
) -> CommandResult:
    """Run ``command`` through its handler in one transaction.

    With ``expected_version`` (If-Match) a stale version raises
    ``StaleVersionError`` at once; without it a lost race is retried on fresh
    state. With ``idempotency_key`` a repeated request returns the first
    result and appends nothing.
    """
    handler = HANDLERS[type(command)]
    repo = repo or OrderRepository()
    name = type(command).__name__
    command_id = str(uuid.uuid4())
    # Without an idempotency record to keep beside the events, the append is a
    # single atomic statement and needs no surrounding transaction (two round
    # trips fewer); the loaded state is guarded by the expected version.
    needs_transaction = idempotency_key is not None or hooks.needs_transaction()
    unit_of_work = transaction.atomic if needs_transaction else nullcontext
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with unit_of_work(), message_context(command=name, causation_id=command_id):
                if idempotency_key is not None:
                    stored = idempotency.lookup(idempotency_key)
                    if stored is not None:
                        return CommandResult(
                            UUID(stored["order_id"]),
                            stored["version"],
                            stored["position"],
                            created=isinstance(command, PlaceOrder),
                            replayed=True,
                        )
                result = handler(command, repo, expected_version)
                if idempotency_key is not None:
                    idempotency.remember(idempotency_key, name, result.to_data())
            return result
        except ConcurrencyError as exc:
            if isinstance(command, PlaceOrder):
                raise DuplicateOrderError(f"order {command.order_id} already exists") from exc
            if expected_version is not None:
                raise StaleVersionError(exc.aggregate_id, expected_version, exc.actual_version) from exc
        except idempotency.IdempotencyRaceError:
            pass  # the other request committed; the next attempt returns its result
        if attempt < MAX_ATTEMPTS:
            time.sleep(random.uniform(0, 0.005 * attempt))
    raise ContentionError(f"{name}: the order changed {MAX_ATTEMPTS} times while the command ran; try again")
