"""Snapshots: saved aggregate states, derived data safe to delete. Part of
EventStore (which provides ``_dialect``, ``_connection``,
``_read_connection``, ``personal`` and ``load_with_streams``)."""

from dataclasses import replace
from uuid import UUID

import orjson

from eventstore.types import RecordedEvent, Snapshot

# Where a snapshot's state keeps personal values (see save_snapshot).
PERSONAL_STATE = "$personal"


class Snapshots:
    """Mixed into EventStore."""

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store a snapshot; saving one that exists already is a no-op.

        Personal values go under ``state["$personal"]`` as ``{"subject",
        "values"}``: they are stored encrypted under the subject's key, like
        events' personal fields, and come back revealed (or ERASED)."""
        dialect = self._dialect
        state = snapshot.state
        if isinstance(state.get(PERSONAL_STATE), dict):
            part = state[PERSONAL_STATE]
            sealed = self.personal.seal(part["subject"], part["values"], snapshot_aad(snapshot))
            state = {**state, PERSONAL_STATE: {"subject": part["subject"], "values": sealed}}
        dialect.fetch(
            self._connection,
            "INSERT INTO snapshots"
            " (aggregate_id, aggregate_type, version, schema_version, state, created_at)"
            f" VALUES (%s, %s, %s, %s, {dialect.json_placeholder}, %s)"
            " ON CONFLICT (aggregate_id, version) DO NOTHING",
            [
                dialect.param_uuid(snapshot.aggregate_id),
                snapshot.aggregate_type,
                snapshot.version,
                snapshot.schema_version,
                orjson.dumps(state).decode(),
                dialect.param_datetime(dialect.now()),
            ],
        )

    def load_snapshot(
        self, aggregate_id: UUID, *, max_version: int | None = None, schema_version: int | None = None
    ) -> Snapshot | None:
        """The latest snapshot at or below ``max_version``; with ``schema_version``
        only snapshots written in that state format count."""
        dialect = self._dialect
        clauses = ["aggregate_id = %s"]
        params: list = [dialect.param_uuid(aggregate_id)]
        if max_version is not None:
            clauses.append("version <= %s")
            params.append(max_version)
        if schema_version is not None:
            clauses.append("schema_version = %s")
            params.append(schema_version)
        rows = dialect.fetch(
            self._read_connection,
            "SELECT aggregate_id, aggregate_type, version, schema_version, state, created_at"
            f" FROM snapshots WHERE {' AND '.join(clauses)} ORDER BY version DESC LIMIT 1",
            params,
        )
        if not rows:
            return None
        row = rows[0]
        return self._revealed(
            Snapshot(
                aggregate_id=dialect.to_uuid(row[0]),
                aggregate_type=row[1],
                version=row[2],
                schema_version=row[3],
                state=orjson.loads(row[4]),
                created_at=dialect.to_datetime(row[5]),
            )
        )

    def _revealed(self, snapshot: Snapshot, known=None) -> Snapshot:
        part = snapshot.state.get(PERSONAL_STATE)
        if not isinstance(part, dict):
            return snapshot
        values = self.personal.reveal_many([(part["values"], snapshot_aad(snapshot))], known)[0]
        state = {**snapshot.state, PERSONAL_STATE: {"subject": part["subject"], "values": values}}
        return replace(snapshot, state=state)

    def load_from_snapshot(
        self, aggregate_id: UUID, *, schema_version: int | None = None
    ) -> tuple[Snapshot | None, list[RecordedEvent]]:
        """The latest snapshot and the events after it: everything needed to
        rebuild the current state without replaying the whole stream. One
        statement, so one round trip: the command path's hot read."""
        snapshot, tail, _ = self.load_with_streams(aggregate_id, (), schema_version=schema_version)
        return snapshot, tail


def snapshot_aad(snapshot: Snapshot) -> bytes:
    return b"snapshot:" + snapshot.aggregate_id.bytes + b":" + str(snapshot.version).encode()
