"""Personal details a page showed and a form sends back, against the
customer being forgotten in between.

The place-order form fills in a customer's contact and address from their
file (orders.prefill); the change-address form starts from the order's
address. Sent back after that customer was forgotten, either would bring
the erased details back, in clear, under a new key. So the form carries
whose details it showed and how many times that customer had been
forgotten then (``DetailsFrom``, the customer stream's version), and the
command checks that count in its own transaction, under a lock that
forgetting takes too: a forget comes before the command (which is then
refused) or after it (which erases what it wrote), never between its check
and its append."""

import re
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction

from eventstore import EventStore
from orders.domain.customer import customer_stream_id
from orders.domain.errors import DomainError

_STAMP = re.compile(r"([0-9]{1,9}):(.+)")


@dataclass(frozen=True)
class DetailsFrom:
    customer_id: str
    erasures: int

    @property
    def stamp(self) -> str:
        return f"{self.erasures}:{self.customer_id}"

    @classmethod
    def parse(cls, stamp: str | None) -> "DetailsFrom | None":
        """A form's stamp; None for none, or one that is not a stamp."""
        found = _STAMP.fullmatch(stamp or "")
        return cls(found.group(2), int(found.group(1))) if found else None


class DetailsErasedError(DomainError):
    code = "details-erased"

    def __init__(self, customer_id: str):
        self.customer_id = customer_id
        super().__init__(
            f"{customer_id} was forgotten after this page showed their details: those are erased"
            " and were not used. Ask the customer for them again."
        )


def erasures(customer_id: str) -> int:
    """How many times the customer has been forgotten (on the primary)."""
    return EventStore(using="default").stream_version(customer_stream_id(customer_id))


def lock(customer_id: str) -> None:
    """Hold the customer's erasure lock until the transaction ends
    (PostgreSQL; SQLite's writers take turns anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"erasure:{customer_id}"]
            )


@contextmanager
def checked(details_from: DetailsFrom | None):
    """The command's transaction, in which the details it carries are
    checked to be still on file (a no-op without them)."""
    if details_from is None:
        yield
        return
    with transaction.atomic():
        lock(details_from.customer_id)
        if erasures(details_from.customer_id) > details_from.erasures:
            raise DetailsErasedError(details_from.customer_id)
        yield
