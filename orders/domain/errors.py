"""Errors the order rules raise. Each names the rule it enforces."""


class DomainError(Exception):
    """Base class of order-domain errors."""

    code = "domain-error"


class InvalidOrderDataError(DomainError, ValueError):
    """A value no order may hold (a negative price, a malformed SKU)."""

    code = "invalid-order-data"

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class OrderNotFoundError(DomainError):
    code = "order-not-found"

    def __init__(self, order_id):
        self.order_id = order_id
        super().__init__(f"order {order_id} does not exist")


class RuleViolationError(DomainError):
    """The order exists but its current state forbids the command."""

    code = "rule-violation"


class DuplicateOrderError(RuleViolationError):
    code = "order-already-placed"


class OrderClosedError(RuleViolationError):
    """Nothing changes on a shipped or cancelled order."""

    code = "order-closed"


class OrderAlreadyShippedError(OrderClosedError):
    code = "order-already-shipped"


class OrderAlreadyCancelledError(OrderClosedError):
    code = "order-already-cancelled"


class TooManyLinesError(RuleViolationError):
    code = "too-many-lines"


class LineNotFoundError(RuleViolationError):
    code = "line-not-found"


class LastLineRemovalError(RuleViolationError):
    code = "last-line"


class PriceMismatchError(RuleViolationError):
    code = "price-mismatch"


class QuantityLimitError(RuleViolationError):
    code = "quantity-limit"


class OrderNotConfirmedError(RuleViolationError):
    """Only a confirmed order (stock reserved) can ship."""

    code = "order-not-confirmed"


class ShippingAddressErasedError(RuleViolationError):
    """The customer was forgotten: there is no address to ship to (give the
    order a new one, or cancel it)."""

    code = "shipping-address-erased"
