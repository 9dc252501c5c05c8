"""A cut of the log: every event readable now (gap-safe) and nothing after,
for a rebuild that reads the log by several means (set-based SQL, a stream
through Python) and must have them all stop at the same event."""

from dataclasses import dataclass

from django.db import connections

from eventstore.sql import Postgres, raw_cursor, rows_of
from eventstore.types import START, GlobalPosition

# One statement, so one snapshot: the readable bound, the last event below
# it, and what lies below it by type and schema version. Every transaction
# id under the bound has ended, so the events at or before ``checkpoint``
# are a set that no later commit changes; any later snapshot reads exactly
# them with ``(tx_id, position) <= checkpoint``.
_CUT = (
    f"WITH bound AS ({Postgres.READABLE_BOUND}),"
    " last AS (SELECT tx_id, position FROM events WHERE tx_id < (SELECT * FROM bound)"
    " ORDER BY tx_id DESC, position DESC LIMIT 1)"
    " SELECT (SELECT tx_id FROM last), (SELECT position FROM last), event_type, schema_version, COUNT(*)"
    " FROM events WHERE tx_id < (SELECT * FROM bound) GROUP BY event_type, schema_version"
)


@dataclass(frozen=True)
class LogCut:
    """Where a cut ends, and how many events of each type and schema
    version it holds."""

    checkpoint: GlobalPosition  # the last event of the cut (START for none)
    counts: dict[tuple[str, int], int]  # (event type, schema version) -> events

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def of_types(self, types) -> int:
        return sum(n for (event_type, _), n in self.counts.items() if event_type in types)

    def versions(self, event_type: str) -> set[int]:
        return {version for (found, version), _ in self.counts.items() if found == event_type}


def readable_cut(using: str = "default") -> LogCut:
    """The cut at the events readable now (PostgreSQL)."""
    connection = connections[using]
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = raw_cursor(connection)
        cursor.execute(_CUT)
        rows = rows_of(cursor)
    if not rows:
        return LogCut(START, {})
    tx_id, position = rows[0][0], rows[0][1]
    return LogCut(GlobalPosition(tx_id, position), {(t, v): n for _, _, t, v, n in rows})
