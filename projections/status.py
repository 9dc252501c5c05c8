"""What the projections page, ``projections status`` and
``GET /api/projections/`` show: each projection's checkpoint, lag and
failures, and the open transaction holding them back, if one is."""

from datetime import UTC, datetime

from django.db import connections
from django.utils import timezone

from projections.base import Partition, partition_label, registry
from projections.failures import MAX_ATTEMPTS
from projections.models import ProjectionCheckpoint, ProjectionFailure


def status(using: str = "default") -> list[dict]:
    """Each projection with its checkpoint, lag (events and seconds) and
    failures."""
    checkpoints = {c.name: c for c in ProjectionCheckpoint.objects.using(using).all()}
    now = timezone.now()
    return [_one(f, checkpoints.get(f.name), using, now) for f in registry.all()]


# Lag is counted up to this many events (an index-only scan), so asking
# stays cheap however far behind a stalled projection is.
LAG_COUNT_LIMIT = 100_000


def _lag(checkpoint: ProjectionCheckpoint, using: str, now: datetime) -> tuple[int, float]:
    """Events after the checkpoint (up to LAG_COUNT_LIMIT), and how long the
    next one to apply has been waiting (seconds), in one round trip."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        after, params = "(tx_id, position) > (%s, %s)", [checkpoint.tx_id, checkpoint.position]
        order = "tx_id, position"
    else:
        after, params = "position > %s", [checkpoint.position]
        order = "position"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE {after} LIMIT %s) AS waiting),"
            f" (SELECT created_at FROM events WHERE {after} ORDER BY {order} LIMIT 1)",
            [*params, LAG_COUNT_LIMIT, *params],
        )
        events, oldest = cursor.fetchone()
    if isinstance(oldest, str):
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return events, round(max((now - oldest).total_seconds(), 0.0), 3) if oldest else 0.0


def _one(follower, checkpoint: ProjectionCheckpoint | None, using: str, now: datetime) -> dict:
    cp = checkpoint or ProjectionCheckpoint(name=follower.name)
    lag_events, lag_seconds = _lag(cp, using, now)
    failures = list(
        ProjectionFailure.objects.using(using).filter(projection=follower.name).order_by("-id")[:5]
    )
    open_ = next((f for f in failures if f.resolved_at is None), None)
    return {
        "name": follower.name,
        # A partition's metrics and readiness name its projection and which part it is.
        "projection": follower.base.name if isinstance(follower, Partition) else follower.name,
        "partition": partition_label(follower),
        "description": follower.description,
        "event_types": sorted(follower.event_types),
        "consistency": follower.consistency,
        "version": follower.version,
        "checkpoint": {"tx_id": cp.tx_id, "position": cp.position, "updated_at": cp.updated_at},
        "events_seen": cp.events_seen,
        "events_applied": cp.events_applied,
        "lag_events": lag_events,
        "lag_events_capped": lag_events >= LAG_COUNT_LIMIT,
        "lag_seconds": lag_seconds,
        "state": "held" if open_ and open_.attempts >= MAX_ATTEMPTS else "retrying" if open_ else "running",
        "failures": [_failure(f) for f in failures],
    }


def _failure(f: ProjectionFailure) -> dict:
    return {
        "id": f.id,
        "position": f.position,
        "event_type": f.event_type,
        "aggregate_id": str(f.aggregate_id),
        "error": f.error,
        "attempts": f.attempts,
        "first_failed_at": f.first_failed_at,
        "last_failed_at": f.last_failed_at,
        "next_attempt_at": f.next_attempt_at,
        "resolved_at": f.resolved_at,
        "resolution": f.resolution,
        "resolved_by": f.resolved_by,
    }


# A transaction this old that holds a transaction id keeps every event
# written after it out of the gap-safe read: worth naming on the page.
HOLDING_BACK_AFTER_SECONDS = 2.0


def oldest_transaction(using: str = "default") -> dict | None:
    """The oldest transaction in this database that holds a transaction id
    (so holds back the gap-safe read of every event written after it), if it
    is older than a moment; None on SQLite."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, application_name, host(client_addr),"
            " EXTRACT(EPOCH FROM clock_timestamp() - xact_start)"
            " FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL ORDER BY xact_start LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None or row[4] < HOLDING_BACK_AFTER_SECONDS:
        return None
    pid, state, application, client, age = row
    return {"pid": pid, "state": state, "application_name": application, "client_addr": client,
            "age_seconds": round(float(age), 1)}  # fmt: skip


def holding_back(projections: list[dict], using: str = "default") -> dict | None:
    """The oldest open transaction, when projections are behind while it runs."""
    if not any(p["lag_events"] for p in projections):
        return None
    return oldest_transaction(using)
