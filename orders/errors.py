"""Errors of the write side's machinery (the order rules' own errors live in
``orders.domain.errors``). How each answers over HTTP: ``orders.problems``."""

from uuid import UUID

from eventstore import ConcurrencyError


class StaleVersionError(Exception):
    """The client's If-Match version is not the stream's current version.
    ``noun`` is what the stream is to the client ("order", "product",
    "stock", "customer"), ``subject`` how it named it ("product LAMP-1")."""

    def __init__(
        self, order_id: UUID, expected: int, current: int | None, noun: str = "order", subject: str = ""
    ):
        self.order_id, self.expected, self.current, self.noun = order_id, expected, current, noun
        now = "unknown" if current is None else current
        super().__init__(
            f"{subject or f'{noun} {order_id}'} is at version {now}, not {expected}; reload and try again"
        )


class ContentionError(Exception):
    """The stream kept changing under the command; nothing was appended."""


class IdempotencyKeyReusedError(Exception):
    """The key was used before with a different request."""

    def __init__(self, key: str):
        super().__init__(f"Idempotency-Key {key!r} was already used for a different request")


class IdempotencyRaceError(Exception):
    """A concurrent request with the same key committed first; retry to read it."""


class StreamRaceLost(ConcurrencyError):
    """The event store's ``ConcurrencyError`` for a stream the client knows by
    a name: ``noun`` ("order", "product", "stock") and ``subject`` ("product
    LAMP-1"), should a 412 or a 409 come of it."""

    def __init__(self, cause: ConcurrencyError, noun: str, subject: str):
        super().__init__(cause.aggregate_id, cause.expected_version, cause.actual_version)
        self.noun, self.subject = noun, subject
