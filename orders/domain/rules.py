"""Limits every order obeys, and the checks of single values."""

import re

from orders.domain.errors import InvalidOrderDataError

MAX_LINES = 100
MIN_QUANTITY, MAX_QUANTITY = 1, 10_000
MIN_PRICE_CENTS, MAX_PRICE_CENTS = 0, 10_000_000
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_REASON_LENGTH = 500
MAX_CARRIER_LENGTH = 100
MAX_TRACKING_LENGTH = 100
MAX_NOTE_LENGTH = 2000

_SKU = re.compile(SKU_PATTERN)
_CUSTOMER = re.compile(CUSTOMER_ID_PATTERN)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_sku(sku: object) -> str:
    if not isinstance(sku, str) or not _SKU.match(sku):
        raise InvalidOrderDataError("sku", "a short code of letters, digits, '-' and '_' (at most 40)")
    return sku


def check_quantity(quantity: object) -> int:
    if not _is_int(quantity) or not MIN_QUANTITY <= quantity <= MAX_QUANTITY:
        raise InvalidOrderDataError("quantity", f"an integer from {MIN_QUANTITY} to {MAX_QUANTITY:,}")
    return quantity


def check_price(price_cents: object) -> int:
    if not _is_int(price_cents) or not MIN_PRICE_CENTS <= price_cents <= MAX_PRICE_CENTS:
        raise InvalidOrderDataError(
            "price_cents", f"an integer number of cents from {MIN_PRICE_CENTS} to {MAX_PRICE_CENTS:,}"
        )
    return price_cents


def check_customer_id(customer_id: object) -> str:
    if not isinstance(customer_id, str) or not _CUSTOMER.match(customer_id):
        raise InvalidOrderDataError(
            "customer_id",
            "letters, digits and '_', '.', ':', '-' (at most 64, starting with a letter or digit)",
        )
    return customer_id


def check_text(field: str, value: object, max_length: int, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidOrderDataError(field, "required")
        return None
    if not isinstance(value, str) or len(value) > max_length or not value.strip():
        raise InvalidOrderDataError(field, f"text of at most {max_length} characters")
    return value.strip()
