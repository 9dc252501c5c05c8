"""The order domain: plain Python, no Django. Events, the aggregate and its rules."""

from orders.domain.aggregate import OrderAggregate, OrderStatus
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
