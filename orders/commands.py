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

from django.conf import settings
from django.db import transaction

from eventstore import ConcurrencyError, hooks
from eventstore.metadata import current_context, message_context
from orders import idempotency
from orders.domain import DuplicateOrderError, Line
from orders.repository import InventoryRepository, OrderRepository, StaleVersionError

# Each lost race means another command on the stream won, so N clients
# racing on one order all get through within N attempts; ten covers a burst
# of eight with room to spare before a 409 asks the client to retry.
MAX_ATTEMPTS = 10


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
class ConfirmOrder:
    order_id: UUID


@dataclass(frozen=True)
class ReceiveStock:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReserveStock:
    sku: str
    order_id: UUID
    quantity: int
    reference: str


@dataclass(frozen=True)
class ReleaseStock:
    sku: str
    order_id: UUID
    reference: str


@dataclass(frozen=True)
class ShipStock:
    sku: str
    order_id: UUID
    reference: str


@dataclass(frozen=True)
class CommandResult:
    """The stream a command wrote to (an order, or a SKU's inventory), its
    version and the position of its last event. ``changed`` is False when the
    command found nothing to do (a repeated confirmation, a duplicate
    reservation): then no event was appended."""

    order_id: UUID
    version: int
    position: int
    created: bool = False
    replayed: bool = False
    changed: bool = True
    events: tuple[str, ...] = ()

    @property
    def aggregate_id(self) -> UUID:
        return self.order_id

    def to_data(self) -> dict[str, Any]:
        return {"order_id": str(self.order_id), "version": self.version, "position": self.position}


# -- handlers: load, decide, save ----------------------------------------------


def _saved(aggregate, loaded_version: int, result, **flags) -> CommandResult:
    if result is None:  # nothing to do: no event
        return CommandResult(aggregate.id, loaded_version, 0, changed=False, **flags)
    return CommandResult(aggregate.id, result.version, result.position, **flags)


def place_order(cmd: PlaceOrder, expected_version: int | None) -> CommandResult:
    repo = OrderRepository()
    order = repo.new(cmd.order_id)  # a new stream: saving refuses one that exists
    order.place(cmd.customer_id, list(cmd.items), requires_confirmation=settings.INVENTORY_RESERVATION)
    return _saved(order, 0, repo.save(order), created=True)


def add_item(cmd: AddItem, expected_version: int | None) -> CommandResult:
    repo = OrderRepository()
    order = repo.get(cmd.order_id, expected_version)
    loaded = order.version
    order.add_item(cmd.sku, cmd.quantity, cmd.price_cents)
    return _saved(order, loaded, repo.save(order))


def remove_item(cmd: RemoveItem, expected_version: int | None) -> CommandResult:
    repo = OrderRepository()
    order = repo.get(cmd.order_id, expected_version)
    loaded = order.version
    order.remove_item(cmd.sku)
    return _saved(order, loaded, repo.save(order))


def confirm_order(cmd: ConfirmOrder, expected_version: int | None) -> CommandResult:
    repo = OrderRepository()
    order = repo.get(cmd.order_id, expected_version)
    loaded = order.version
    order.confirm()
    return _saved(order, loaded, repo.save(order))


def ship_order(cmd: ShipOrder, expected_version: int | None) -> CommandResult:
    repo = OrderRepository()
    order = repo.get(cmd.order_id, expected_version)
    loaded = order.version
    order.ship(cmd.carrier, cmd.tracking_number)
    return _saved(order, loaded, repo.save(order))


def cancel_order(cmd: CancelOrder, expected_version: int | None) -> CommandResult:
    repo = OrderRepository()
    order = repo.get(cmd.order_id, expected_version)
    loaded = order.version
    order.cancel(cmd.reason)
    return _saved(order, loaded, repo.save(order))


def _inventory(cmd, expected_version: int | None, decide: Callable) -> CommandResult:
    repo = InventoryRepository()
    item = repo.get(cmd.sku)
    if expected_version is not None and item.version != expected_version:
        raise StaleVersionError(item.id, expected_version, item.version)
    loaded = item.version
    decide(item)
    events = tuple(e.event_type for e in item.pending)
    result = _saved(item, loaded, repo.save(item), created=loaded == 0)
    return CommandResult(**{**result.__dict__, "events": events})


def receive_stock(cmd: ReceiveStock, expected_version: int | None) -> CommandResult:
    return _inventory(cmd, expected_version, lambda item: item.receive(cmd.quantity))


def reserve_stock(cmd: ReserveStock, expected_version: int | None) -> CommandResult:
    return _inventory(
        cmd, expected_version, lambda item: item.reserve(cmd.order_id, cmd.quantity, cmd.reference)
    )


def release_stock(cmd: ReleaseStock, expected_version: int | None) -> CommandResult:
    return _inventory(cmd, expected_version, lambda item: item.release(cmd.order_id, cmd.reference))


def ship_stock(cmd: ShipStock, expected_version: int | None) -> CommandResult:
    return _inventory(cmd, expected_version, lambda item: item.ship(cmd.order_id, cmd.reference))


HANDLERS: dict[type, Callable[..., CommandResult]] = {
    PlaceOrder: place_order,
    AddItem: add_item,
    RemoveItem: remove_item,
    ConfirmOrder: confirm_order,
    ShipOrder: ship_order,
    CancelOrder: cancel_order,
    ReceiveStock: receive_stock,
    ReserveStock: reserve_stock,
    ReleaseStock: release_stock,
    ShipStock: ship_stock,
}


def _replayed(stored: dict, command) -> CommandResult:
    return CommandResult(
        UUID(stored["order_id"]),
        stored["version"],
        stored["position"],
        created=isinstance(command, PlaceOrder),
        replayed=True,
    )


class ContentionError(Exception):
    """The order kept changing under the command; nothing was appended."""


# -- the one entry point -------------------------------------------------------


def execute(
    command: Any,
    *,
    expected_version: int | None = None,
    idempotency_key: idempotency.IdempotencyKey | None = None,
) -> CommandResult:
    """Run ``command`` through its handler in one transaction.

    With ``expected_version`` (If-Match) a stale version raises
    ``StaleVersionError`` at once; without it a lost race is retried on fresh
    state. With ``idempotency_key`` a repeated request returns the first
    result and appends nothing.
    """
    handler = HANDLERS[type(command)]
    name = type(command).__name__
    command_id = str(uuid.uuid4())
    # Without an idempotency record to keep beside the events, the append is a
    # single atomic statement and needs no surrounding transaction (two round
    # trips fewer); the loaded state is guarded by the expected version.
    # Inside a caller's transaction (a process manager's step) a savepoint
    # keeps a lost race from aborting it, so the retry can run.
    needs_transaction = (
        idempotency_key is not None
        or hooks.needs_transaction()
        or transaction.get_connection().in_atomic_block
    )
    unit_of_work = transaction.atomic if needs_transaction else nullcontext
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            ctx = current_context()
            # A command outside any request or workflow starts its own correlation.
            with (
                unit_of_work(),
                message_context(
                    command=name,
                    causation_id=ctx.causation_id or command_id,
                    correlation_id=ctx.correlation_id or command_id,
                ),
            ):
                if idempotency_key is not None:
                    stored = idempotency.lookup(idempotency_key)
                    if stored is not None:
                        return _replayed(stored, command)
                try:
                    result = handler(command, expected_version)
                except StaleVersionError:
                    # The version moved on after the lookup above: possibly
                    # because this same request, sent earlier, just committed.
                    if idempotency_key is not None and (stored := idempotency.lookup(idempotency_key)):
                        return _replayed(stored, command)
                    raise
                if idempotency_key is not None and result.changed:
                    idempotency.remember(idempotency_key, name, result.to_data())
            return result
        except ConcurrencyError as exc:
            if exc.actual_version == exc.expected_version and transaction.get_connection().in_atomic_block:
                # Refused for global ordering (see EventStore.append): only the
                # caller's transaction, retried anew, can get past it.
                raise
            if isinstance(command, PlaceOrder):
                raise DuplicateOrderError(f"order {command.order_id} already exists") from exc
            if expected_version is not None:
                if idempotency_key is not None:
                    # The winner may be this same request sent earlier: answer it.
                    stored = idempotency.lookup(idempotency_key)
                    if stored is not None:
                        return _replayed(stored, command)
                raise StaleVersionError(exc.aggregate_id, expected_version, exc.actual_version) from exc
        except idempotency.IdempotencyRaceError:
            pass  # the other request committed; the next attempt returns its result
        if attempt < MAX_ATTEMPTS:
            time.sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
    raise ContentionError(f"{name}: the order changed {MAX_ATTEMPTS} times while the command ran; try again")
