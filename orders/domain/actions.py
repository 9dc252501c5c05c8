"""What an order in a given state allows, and why not: the one rule book
that the aggregate enforces and the pages show (from the read model's
status, without loading the aggregate)."""

from enum import StrEnum
from uuid import UUID

from orders.domain.errors import (
    OrderAlreadyCancelledError,
    OrderAlreadyShippedError,
    OrderClosedError,
    OrderNotConfirmedError,
    RuleViolationError,
)


class OrderStatus(StrEnum):
    PLACED = "placed"  # open; waiting for stock if it requires confirmation
    CONFIRMED = "confirmed"  # open; stock reserved for every line
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


OPEN_STATUSES = (OrderStatus.PLACED, OrderStatus.CONFIRMED)


class Action(StrEnum):
    ADD_ITEM = "add"
    REMOVE_ITEM = "remove"
    SHIP = "ship"
    CANCEL = "cancel"
    CHANGE_ADDRESS = "address"


def closed(order_id: UUID, status: str) -> OrderClosedError | None:
    """Why an order in ``status`` changes no more, or None while it is open."""
    if status == OrderStatus.SHIPPED:
        return OrderAlreadyShippedError(f"order {order_id} has shipped; it cannot change any more")
    if status == OrderStatus.CANCELLED:
        return OrderAlreadyCancelledError(f"order {order_id} is cancelled; it cannot change any more")
    return None


def refusal(
    order_id: UUID, status: str, requires_confirmation: bool, action: Action
) -> RuleViolationError | None:
    """Why an existing order in ``status`` refuses ``action`` (the error the
    aggregate would raise), or None if the rules allow it."""
    if error := closed(order_id, status):
        return error
    if action == Action.SHIP and requires_confirmation and status != OrderStatus.CONFIRMED:
        return OrderNotConfirmedError(
            f"order {order_id} is waiting for its stock to be reserved; it can ship once confirmed"
        )
    return None


def allowed(status: str, requires_confirmation: bool) -> frozenset[Action]:
    """The actions an order in ``status`` allows."""
    return frozenset(a for a in Action if refusal(UUID(int=0), status, requires_confirmation, a) is None)


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES
