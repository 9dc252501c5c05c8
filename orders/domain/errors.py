"""Errors the order rules raise. Each names the rule it enforces."""

from dataclasses import dataclass, field


class DomainError(Exception):
    """Base class of order-domain errors."""

    code = "domain-error"


class InvalidOrderDataError(DomainError, ValueError):
    """A value no order may hold (a negative price, a malformed SKU)."""

    code = "invalid-order-data"

    def __init__(self, field: str, message: str):
        self.field, self.reason = field, message
        super().__init__(f"{field}: {message}")


class CustomerSpelledOtherwiseError(DomainError):
    """A customer id no one has, of a customer known in another case: a
    typo, not a new customer nor someone to forget (ids are case-sensitive).
    ``advice`` says what to do instead."""

    code = "customer-spelled-otherwise"

    def __init__(self, customer_id: str, known: str, advice: str = ""):
        self.customer_id, self.known = customer_id, known
        super().__init__(
            f"There is no customer {customer_id}, but there is {known} (customer ids are case-sensitive)."
            + (f" {advice}" if advice else "")
        )


class SkuSpelledOtherwiseError(DomainError):
    """A new product's SKU is a catalogue SKU in another case: almost
    surely the same product typed otherwise (SKUs are case-sensitive, so
    both would be sold, side by side)."""

    code = "sku-spelled-otherwise"

    def __init__(self, sku: str, known: str):
        self.sku, self.known = sku, known
        super().__init__(
            f"The catalogue has {known}: {sku} differs from it only in case (SKUs are case-sensitive). "
            f"Change {known} instead, or choose another SKU."
        )


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


# -- the catalogue ----------------------------------------------------------------


class ProductNotFoundError(DomainError):
    """A product command names a SKU the catalogue does not have."""

    code = "product-not-found"

    def __init__(self, sku: str):
        self.sku = sku
        super().__init__(f"SKU {sku} is not in the catalogue")


class ProductExistsError(RuleViolationError):
    code = "product-exists"


class LinesRefusedError(DomainError):
    """Order lines the catalogue refuses (the errors below). Raised by the
    pricing checks, it names one kind of problem (what the API answers) and
    carries every problem found in the lines, of every kind, as ``problems``
    (LineProblems, below): a form shows each on its row."""

    problems: "LineProblems | None" = None


class UnknownSkuError(LinesRefusedError, InvalidOrderDataError):
    """An order line names a SKU the catalogue does not have."""

    code = "unknown-sku"

    def __init__(self, skus: list[str]):
        self.skus = skus
        listed = ", ".join(skus)
        super().__init__("sku", f"not in the catalogue: {listed}")


class ProductDiscontinuedError(LinesRefusedError, RuleViolationError):
    code = "product-discontinued"

    def __init__(self, skus: list[str]):
        self.skus = skus
        super().__init__(f"no longer sold (discontinued): {', '.join(skus)}")


class PriceChangedError(LinesRefusedError, RuleViolationError):
    """A line states a unit price that is not the catalogue's: the client
    showed its customer a stale price. ``current`` maps each such SKU to
    the catalogue's price now."""

    code = "price-changed"

    def __init__(self, stated: dict[str, int], current: dict[str, int]):
        self.stated, self.current = stated, current
        listed = "; ".join(f"{sku} is {current[sku]} now, not {stated[sku]}" for sku in current)
        super().__init__(f"the catalogue's price changed: {listed} (minor units); confirm the current price")


@dataclass(frozen=True)
class LineProblems:
    """Everything the catalogue refuses in an order's lines, found in one
    pass: SKUs it does not have, products no longer sold, and unit prices
    stated that are not its own any more (``stated`` and ``current``, by SKU)."""

    unknown: tuple[str, ...] = ()
    discontinued: tuple[str, ...] = ()
    stated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.unknown or self.discontinued or self.current)

    def error(self) -> LinesRefusedError:
        """The error a command raises for them: of the first kind found
        (unknown SKUs, then discontinued ones, then changed prices), as it
        always was, carrying them all (``problems``)."""
        if self.unknown:
            error: LinesRefusedError = UnknownSkuError(list(self.unknown))
        elif self.discontinued:
            error = ProductDiscontinuedError(list(self.discontinued))
        else:
            error = PriceChangedError(dict(self.stated), dict(self.current))
        error.problems = self
        return error


class ShippingAddressErasedError(RuleViolationError):
    """The customer was forgotten: there is no address to ship to (give the
    order a new one, or cancel it)."""

    code = "shipping-address-erased"
