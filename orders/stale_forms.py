"""A command sent from an order page the order has moved on from: run on
the order as it is now when nothing appended since the page was drawn
changes what the form asked for (orders.domain.commuting); otherwise the
``StaleVersionError`` goes to the page, which shows what changed."""

from typing import Any
from uuid import UUID

from eventstore import EventStore, RecordedEvent
from orders import commands
from orders.domain.commuting import still_meant
from orders.errors import StaleVersionError
from orders.idempotency import IdempotencyKey
from orders.unit_of_work import CommandResult


def execute_from_page(
    action: str, command: Any, order_id: UUID, expected: int, idempotency_key: IdempotencyKey
) -> tuple[CommandResult, list[RecordedEvent]]:
    """Run ``command`` from a form whose page showed the order at version
    ``expected``; returns its result and the events appended since then that
    it went past (none when the page was current)."""
    try:
        return commands.execute(command, expected_version=expected, idempotency_key=idempotency_key), []
    except StaleVersionError as exc:
        if not exc.current or exc.current <= expected:  # no such order, or a doctored page
            raise
        # On the primary, where the command saw them (a replica may lag).
        since = EventStore(using="default").load(order_id, after_version=expected)
        if not since or not still_meant(action, (event.event_type for event in since)):
            raise
        result = commands.execute(
            command, expected_version=since[-1].version, idempotency_key=idempotency_key
        )
        return result, since
