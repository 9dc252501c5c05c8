"""Events a projection could not apply: retried with backoff, then held.

A failing event is recorded with its error and traceback (written by
``config.redact``: a database error without the row values PostgreSQL
quotes, which may be a customer's personal data); the projection
retries it with growing pauses, and after ``MAX_ATTEMPTS`` it is held at that
event (the other projections go on) until an operator retries or skips it.
"""

import logging
from datetime import timedelta

from django.db import connections, transaction
from django.utils import timezone

from config import redact
from config.logs import event_fields
from eventstore import EventStore, GlobalPosition, RecordedEvent
from projections import checkpoints, locks, metrics
from projections.base import registry
from projections.models import ProjectionFailure

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


class SkipError(Exception):
    """A skip that cannot be done (not held there, or running)."""


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 300))


def open_failure(name: str, using: str = "default") -> ProjectionFailure | None:
    return open_failures([name], using).get(name)


def open_failures(names: list[str], using: str = "default") -> dict[str, ProjectionFailure]:
    """The latest unresolved failure of each of ``names`` that has one."""
    out: dict[str, ProjectionFailure] = {}
    if not names:
        return out
    with connections[using].cursor() as cursor:  # the usual answer, cheaply: none
        cursor.execute(
            "SELECT 1 FROM projection_failures"
            f" WHERE resolved_at IS NULL AND projection IN ({checkpoints.placeholders(names)}) LIMIT 1",
            list(names),
        )
        if cursor.fetchone() is None:
            return out
    for failure in (
        ProjectionFailure.objects.using(using)
        .filter(projection__in=names, resolved_at__isnull=True)
        .order_by("-id")
    ):
        out.setdefault(failure.projection, failure)
    return out


def is_waiting(failure: ProjectionFailure | None) -> bool:
    """Held for good (out of retries) or backing off before the next try."""
    return failure is not None and (
        failure.attempts >= MAX_ATTEMPTS
        or (failure.next_attempt_at is not None and failure.next_attempt_at > timezone.now())
    )


def record(name: str, event: RecordedEvent, exc: Exception, failure, using: str) -> None:
    """Record that ``event`` failed in projection ``name`` (another attempt
    of ``failure`` if it is the same event)."""
    now = timezone.now()
    text, tb = redact.describe(exc), redact.format_exception(exc)
    if failure is not None and failure.position == event.position:
        failure.attempts += 1
        failure.error, failure.traceback, failure.last_failed_at = text, tb, now
        failure.next_attempt_at = now + backoff(failure.attempts)
        failure.save(using=using)
        attempts = failure.attempts
    else:
        if failure is not None:
            resolve(failure, "retried", "runner")
        ProjectionFailure.objects.using(using).create(
            projection=name,
            position=event.position,
            tx_id=event.tx_id,
            event_type=event.event_type,
            aggregate_id=event.aggregate_id,
            error=text,
            traceback=tb,
            attempts=1,
            first_failed_at=now,
            last_failed_at=now,
            next_attempt_at=now + backoff(1),
        )
        attempts = 1
    metrics.failed(name)
    # Once at ERROR when it becomes held (a held projection is not tried
    # again until an operator acts); the first failure is a WARNING, the
    # retries in between are INFO.
    fields = event_fields(_with_metadata(event, using), projection=name, attempts=attempts, error=text)
    if attempts >= MAX_ATTEMPTS:
        log.error("projection %s is held at position %s (%s) after %s attempts: %s",
                  name, event.position, event.event_type, attempts, text, extra=fields)  # fmt: skip
    else:
        log.log(logging.WARNING if attempts == 1 else logging.INFO,
                "projection %s failed at position %s (%s), attempt %s of %s, retrying in %s s: %s",
                name, event.position, event.event_type, attempts, MAX_ATTEMPTS,
                int(backoff(attempts).total_seconds()), text, extra=fields)  # fmt: skip


def _with_metadata(event: RecordedEvent, using: str) -> RecordedEvent:
    """The event with its metadata (for its correlation id), if it was read
    without and can still be read."""
    if event.metadata:
        return event
    try:
        with transaction.atomic(using=using):
            return EventStore(using=using).with_metadata([event])[0]
    except Exception:  # the failure may be the database's: log without it
        return event


def resolve(failure: ProjectionFailure, resolution: str, by: str) -> None:
    failure.resolved_at = timezone.now()
    failure.resolution = resolution
    failure.resolved_by = by
    failure.save(using=failure._state.db)


def resolve_all(name: str, resolution: str, by: str, using: str = "default") -> None:
    ProjectionFailure.objects.using(using).filter(projection=name, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolution=resolution, resolved_by=by
    )


# -- operator actions ------------------------------------------------------------


def retry(name: str, by: str, using: str = "default") -> ProjectionFailure | None:
    """Release a held projection: its next run tries the failed event again."""
    registry.get(name)
    failure = open_failure(name, using)
    if failure is not None:
        resolve(failure, "retried", by)
    return failure


def skip(name: str, position: int, by: str, using: str = "default") -> ProjectionFailure:
    """Move a held projection past the failed event at ``position``; the skip
    is recorded with who did it."""
    registry.get(name)
    with transaction.atomic(using=using):
        if not locks.try_lock(name, using):
            raise SkipError(f"projection {name} is running; try again in a moment")
        failure = open_failure(name, using)
        if failure is None or failure.position != position:
            held = f"it is held at position {failure.position}" if failure else "it is not held"
            raise SkipError(f"projection {name} cannot skip position {position}: {held}")
        checkpoints.set_to(name, GlobalPosition(failure.tx_id, failure.position), using=using)
        resolve(failure, "skipped", by)
    log.warning("projection %s: %s skipped the event at position %s", name, by, position)
    return failure
