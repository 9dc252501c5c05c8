"""How order errors answer over HTTP: problem types and status codes
(registered with ``config.rest.ERROR_MAPPERS``)."""

from config.rest import Problem
from eventstore import EventSchemaError
from orders.domain import (
    DomainError,
    InvalidOrderDataError,
    LineNotFoundError,
    OrderNotFoundError,
    PriceChangedError,
    ProductDiscontinuedError,
    ProductNotFoundError,
    RuleViolationError,
    UnknownSkuError,
)
from orders.domain.errors import CustomerSpelledOtherwiseError, SkuSpelledOtherwiseError
from orders.errors import ContentionError, IdempotencyKeyReusedError, StaleVersionError


def order_problem(exc: Exception) -> Problem | None:
    if isinstance(exc, CustomerSpelledOtherwiseError):
        return Problem(409, exc.code, "Another customer's id", str(exc), known_customer_id=exc.known)
    if isinstance(exc, SkuSpelledOtherwiseError):
        return Problem(409, exc.code, "Another product's SKU", str(exc), known_sku=exc.known)
    if isinstance(exc, OrderNotFoundError):
        return Problem(404, "order-not-found", "Order not found", str(exc), order_id=str(exc.order_id))
    if isinstance(exc, ProductNotFoundError):
        return Problem(404, exc.code, "Product not found", str(exc), sku=exc.sku)
    if isinstance(exc, UnknownSkuError):
        return Problem(
            400,
            exc.code,
            "Unknown SKU",
            str(exc),
            skus=exc.skus,
            errors={"sku": [str(exc).split(": ", 1)[-1]]},
        )
    if isinstance(exc, PriceChangedError):
        # The client showed a stale price: here is the current one, to show and confirm.
        first = next(iter(exc.current))
        return Problem(
            409,
            exc.code,
            "The price has changed",
            str(exc),
            sku=first,
            current_price_cents=exc.current[first],
            stated_price_cents=exc.stated[first],
            current_prices=exc.current,
        )
    if isinstance(exc, ProductDiscontinuedError):
        return Problem(409, exc.code, "Product discontinued", str(exc), skus=exc.skus)
    if isinstance(exc, InvalidOrderDataError):
        return Problem(
            400,
            "validation-error",
            "Invalid request",
            str(exc),
            errors={exc.field: [str(exc).split(": ", 1)[-1]]},
        )
    if isinstance(exc, LineNotFoundError):
        return Problem(404, exc.code, "Line not found", str(exc))
    if isinstance(exc, RuleViolationError):
        return Problem(409, exc.code, "The order rules forbid this", str(exc))
    if isinstance(exc, DomainError):
        return Problem(409, exc.code, "Conflict", str(exc))
    if isinstance(exc, StaleVersionError):
        extra = {"current_version": exc.current} if exc.current is not None else {}
        return Problem(412, "stale-version", f"The {exc.noun} has changed", str(exc), **extra)
    if isinstance(exc, IdempotencyKeyReusedError):
        return Problem(422, "idempotency-key-reused", "Idempotency-Key reused", str(exc))
    if isinstance(exc, ContentionError):
        return Problem(409, "contention", "Too many concurrent changes", str(exc))
    if isinstance(exc, EventSchemaError):
        return Problem(400, "validation-error", "Invalid request", str(exc), errors={"body": exc.errors})
    return None
