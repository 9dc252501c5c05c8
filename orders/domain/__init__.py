"""The order domain: plain Python, no Django. Events, the aggregate and its rules."""

from orders.domain.actions import Action, OrderStatus
from orders.domain.aggregate import OrderAggregate
from orders.domain.errors import (
    DomainError,
    DuplicateOrderError,
    InvalidOrderDataError,
    LastLineRemovalError,
    LineNotFoundError,
    OrderClosedError,
    OrderNotFoundError,
    PriceMismatchError,
    RuleViolationError,
    TooManyLinesError,
)
from orders.domain.events import (
    EVENT_TYPES,
    ItemAdded,
    ItemRemoved,
    Line,
    OrderCancelled,
    OrderConfirmed,
    OrderEvent,
    OrderPlaced,
    OrderShipped,
)

__all__ = [
    "EVENT_TYPES",
    "Action",
    "DomainError",
    "DuplicateOrderError",
    "InvalidOrderDataError",
    "ItemAdded",
    "ItemRemoved",
    "LastLineRemovalError",
    "Line",
    "LineNotFoundError",
    "OrderAggregate",
    "OrderCancelled",
    "OrderClosedError",
    "OrderConfirmed",
    "OrderEvent",
    "OrderNotFoundError",
    "OrderPlaced",
    "OrderShipped",
    "OrderStatus",
    "PriceMismatchError",
    "RuleViolationError",
    "TooManyLinesError",
]
