"""Event metadata: who and what caused an event, and the request it belongs to.

Every stored event carries the standard fields below (``None`` when an internal
writer has no value). The HTTP edge puts the request's correlation id and user
into ``message_context`` so that everything appended while serving it carries
them without being passed through every call.
"""

from contextvars import ContextVar
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

STANDARD_FIELDS = ("correlation_id", "causation_id", "user_id", "command", "timestamp")


@dataclass(frozen=True, slots=True)
class MessageContext:
    correlation_id: str | None = None
    causation_id: str | None = None
    user_id: str | None = None
    command: str | None = None

    def with_command(self, command: str) -> "MessageContext":
        return replace(self, command=command)


# MessageContext is frozen, so sharing one default instance is safe.
_context: ContextVar[MessageContext] = ContextVar(
    "eventstore_message_context",
    default=MessageContext(),  # noqa: B039
)


def current_context() -> MessageContext:
    return _context.get()


_NAMES = tuple(f.name for f in dataclass_fields(MessageContext))
_FIELDS = frozenset(_NAMES)


class message_context:
    """Set the metadata context for everything appended inside the block."""

    def __init__(self, **fields: Any):
        if unknown := fields.keys() - _FIELDS:
            raise TypeError(f"message_context got unknown fields: {', '.join(sorted(unknown))}")
        self._fields = fields
        self._token = None

    def __enter__(self) -> MessageContext:
        # Built directly: dataclasses.replace costs several times as much,
        # and every command enters two or three of these.
        base, get = current_context(), self._fields.get
        ctx = MessageContext(*[get(name, getattr(base, name)) for name in _NAMES])
        self._token = _context.set(ctx)
        return ctx

    def __exit__(self, *exc: object) -> None:
        _context.reset(self._token)


def new_correlation_id() -> str:
    return str(uuid4())


def build_metadata(extra: dict[str, Any] | None, timestamp: datetime | None = None) -> dict[str, Any]:
    """The metadata stored with one event: standard fields from the context,
    overridden by ``extra``, with a UTC timestamp."""
    ctx = current_context()
    meta: dict[str, Any] = {
        "correlation_id": ctx.correlation_id,
        "causation_id": ctx.causation_id,
        "user_id": ctx.user_id,
        "command": ctx.command,
        "timestamp": (timestamp or datetime.now(UTC)).isoformat(),
    }
    if extra:
        meta.update(extra)
    return meta
