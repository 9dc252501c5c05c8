"""A command sent from an order page the order has moved on from: run on
the order as it is now when nothing appended since the page was drawn
changes what the form asked for (orders.domain.commuting); otherwise the
``StaleVersionError`` goes to the page, which shows what changed."""

from contextlib import nullcontext
from itertools import count
from typing import Any
from uuid import UUID

from config import logs
from eventstore import EventStore, RecordedEvent
from orders import commands
from orders.domain.commuting import still_meant
from orders.errors import StaleVersionError
from orders.event_words import event_summary
from orders.idempotency import IdempotencyKey
from orders.unit_of_work import CommandResult, stored_result

# Changes the order goes through between one read and the next attempt: a
# busy order may take a few, each a new look at what was appended.
ATTEMPTS = 3

# What went past, for the message after the form: never the personal data
# (the message travels in a cookie) nor a note's text.
_IN_WORDS = {
    "NoteAdded": "a note was added",
    "OrderCancelled": "the order was cancelled",
    "ShippingDetailsGiven": "the contact and shipping address were given",
    "ShippingAddressChanged": "the shipping address was changed",
}


def execute_from_page(
    action: str, command: Any, order_id: UUID, expected: int, idempotency_key: IdempotencyKey
) -> tuple[CommandResult, list[RecordedEvent]]:
    """Run ``command`` from a form whose page showed the order at version
    ``expected``; returns its result and the events appended since then that
    it went past (none when the page was current)."""
    since: list[RecordedEvent] = []
    version = expected
    for attempt in count(1):  # until it goes through, or ATTEMPTS say no
        try:
            with logs.retrying() if since else nullcontext():  # one request line, as it ended
                result = commands.execute(command, expected_version=version, idempotency_key=idempotency_key)
            return result, since
        except StaleVersionError as exc:
            if exc.current is None:  # it lost a race to append: where the order is now
                exc.current = EventStore(using="default").stream_version(order_id)
            if not exc.current or exc.current <= version:  # no such order, or a doctored page
                raise
            # On the primary, where the command saw them (a replica may lag).
            newer = EventStore(using="default").load(order_id, after_version=version)
            if not newer or not still_meant(action, (e.event_type for e in newer)) or attempt == ATTEMPTS:
                # This same form, sent twice, may be what changed the order.
                if (stored := stored_result(command, idempotency_key)) is not None:
                    return stored, since
                raise
            since += newer
            version = newer[-1].version


def went_past(events: list[RecordedEvent]) -> str:
    """The changes a form went past, in words."""
    return "; ".join(_IN_WORDS.get(event.event_type) or _summary(event) for event in events)


def _summary(event: RecordedEvent) -> str:
    """What the history says of it, less what staff wrote (a price
    override's reason): the message travels in a cookie."""
    if "override_reason" in event.data:
        event = event._replace(data={k: v for k, v in event.data.items() if k != "override_reason"})
    return event_summary(event)


def outcome_message(done: str, result: CommandResult, since: list[RecordedEvent]) -> str:
    """What the page says after a form went through: ``done`` ("Note
    added."), unless the order already said what it asked; and the changes
    it went past."""
    text = done if result.changed else "Nothing to change: the order already says that."
    return f"{text} (Since you opened the page: {went_past(since)}.)" if since else text
