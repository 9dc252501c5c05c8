"""A gap-safe, append-only event store on PostgreSQL (and SQLite for local runs).

It knows nothing of orders. Public API::

    from eventstore import EventStore, NewEvent, ConcurrencyError, registry
"""

from eventstore.errors import (
    ConcurrencyError,
    EventSchemaError,
    EventStoreError,
    ReadOnReplicaError,
    UnknownEventTypeError,
)
from eventstore.registry import EventTypeRegistry, registry
from eventstore.store import EventStore
from eventstore.types import (
    NEW_STREAM,
    START,
    AppendResult,
    GlobalPosition,
    NewEvent,
    RecordedEvent,
    Snapshot,
)

__all__ = [
    "NEW_STREAM",
    "START",
    "AppendResult",
    "ConcurrencyError",
    "EventSchemaError",
    "EventStore",
    "EventStoreError",
    "EventTypeRegistry",
    "GlobalPosition",
    "NewEvent",
    "ReadOnReplicaError",
    "RecordedEvent",
    "Snapshot",
    "UnknownEventTypeError",
    "registry",
]
