"""Customer ids are case-sensitive: an id no one has, of a known customer
in another case, is taken for a typo, not for a new customer (placing an
order, by the web form or the API) nor for someone to forget. They all
decide it here."""

from orders import erasure_guard
from orders.domain.errors import CustomerSpelledOtherwiseError
from projections import selectors


def spelled_otherwise(customer_id: str) -> str | None:
    """The known customer whose id is ``customer_id`` in another case, when
    ``customer_id`` itself is no one's; else None. Known: with orders or
    details on file (the read side), or forgotten before (the write side:
    the read side keeps no trace of a customer who never ordered)."""
    known = selectors.customer_spelled_otherwise(customer_id)  # None for most ids: asked first
    if known is None or erasure_guard.erasures(customer_id):
        return None
    return known


def refuse_spelled_otherwise(customer_id: str, advice: str) -> None:
    """Raise ``CustomerSpelledOtherwiseError`` if ``customer_id`` is a known
    customer's in another case; ``advice`` may name them as ``{known}``."""
    if (known := spelled_otherwise(customer_id)) is not None:
        raise CustomerSpelledOtherwiseError(customer_id, known, advice.format(known=known))
