"""The time the event store stamps on events. Tests and the demo seed can set
it (``frozen``) to write a history spread over past days; nothing else should."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: ContextVar[datetime | None] = ContextVar("eventstore_clock", default=None)


def now() -> datetime:
    return _frozen.get() or datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    if at.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    token = _frozen.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _frozen.reset(token)
