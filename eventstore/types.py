"""Value types of the event store.

``RecordedEvent`` and ``GlobalPosition`` are NamedTuples rather than frozen
dataclasses on purpose: they are built for every row on the hot read paths
(replay, catch-up), where a tuple is several times cheaper to construct.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

# Expected version of a stream that must not exist yet.
NEW_STREAM = 0


class GlobalPosition(NamedTuple):
    """A place in the global log, in the order projections read it.

    On PostgreSQL the log is ordered by (writing transaction id, position):
    positions are handed out at insert time, not at commit, so position alone
    is not a safe order to follow. On SQLite ``tx_id`` is always 0.
    """

    tx_id: int
    position: int

    @property
    def token(self) -> str:
        """An opaque consistency token for clients. Tokens compare as plain
        strings in the order of the log (fixed-width hex), which bare
        positions do not."""
        return f"{self.tx_id:016x}.{self.position:016x}"

    @classmethod
    def from_token(cls, token: str) -> "GlobalPosition":
        """The position a ``token`` names; ValueError if it is not one."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise ValueError(f"not a consistency token: {token[:40]!r}")
        return cls(int(match.group(1), 16), int(match.group(2), 16))


_TOKEN = re.compile(r"([0-7][0-9a-f]{15})\.([0-7][0-9a-f]{15})")
START = GlobalPosition(0, 0)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its type, JSON data, optional extra metadata and
    an optional id (the store draws one when it is None). A writer that
    derives ids deterministically gets duplicate appends refused: ids are
    unique across the store."""

    event_type: str
    data: dict[str, Any]
    metadata: dict[str, Any] | None = None
    event_id: UUID | None = None


class RecordedEvent(NamedTuple):
    """An event as stored, with its data upcast to the current schema version."""

    position: int
    tx_id: int
    event_id: UUID
    aggregate_type: str
    aggregate_id: UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    created_at: datetime
    stored_schema_version: int

    @property
    def global_position(self) -> GlobalPosition:
        return GlobalPosition(self.tx_id, self.position)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append returns: the stream's new version and the consistency
    token (global position) of the last event written."""

    version: int
    position: int
    tx_id: int

    @property
    def global_position(self) -> GlobalPosition:
        return GlobalPosition(self.tx_id, self.position)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Serialised aggregate state at a stream version."""

    aggregate_id: UUID
    aggregate_type: str
    version: int
    schema_version: int
    state: dict[str, Any]
    created_at: datetime | None = None
