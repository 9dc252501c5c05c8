"""Errors the event store raises. Each says what was violated."""

from uuid import UUID


class EventStoreError(Exception):
    """Base class for every error the event store raises."""


class ConcurrencyError(EventStoreError):
    """The stream is not at the version the writer expected; nothing was stored."""

    def __init__(self, aggregate_id: UUID, expected_version: int, actual_version: int | None = None):
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        actual = "unknown" if actual_version is None else actual_version
        super().__init__(
            f"stream {aggregate_id} is at version {actual}, the writer expected {expected_version}"
        )


class UnknownEventTypeError(EventStoreError):
    """An event type that is not registered in the catalog."""

    def __init__(self, event_type: str):
        self.event_type = event_type
        super().__init__(f"event type {event_type!r} is not registered in the event catalog")


class EventSchemaError(EventStoreError):
    """Event data that does not match its registered JSON Schema."""

    def __init__(self, event_type: str, version: int, errors: list[str]):
        self.event_type = event_type
        self.version = version
        self.errors = errors
        super().__init__(f"{event_type} v{version} does not match its schema: " + "; ".join(errors))


class UpcastError(EventStoreError):
    """A stored event could not be brought to the current schema version."""


class ReadOnReplicaError(EventStoreError):
    """The gap-safe global read was asked of a standby (a read replica).

    A standby's snapshot does not list the primary's running transactions, so
    the read could pass an event that a transaction still open on the primary
    commits later with a lower (transaction id, position): a projection would
    skip it for ever. Projections read the global log on the primary."""

    def __init__(self, alias: str):
        self.alias = alias
        super().__init__(
            f"database {alias!r} is a standby (pg_is_in_recovery()): the gap-safe global read must run"
            " on the primary, a standby cannot see which of the primary's transactions are still running"
        )


class MasterKeyError(EventStoreError):
    """The key-encryption key is missing, malformed, or not the one this
    database's data keys are wrapped with."""


class PersonalDataError(EventStoreError):
    """A ciphertext that does not decrypt with its own key: tampered with, or
    moved from where it was written."""
