"""Reads from streaming replicas (``DATABASE_REPLICA_URL``).

A read request (GET or HEAD; ``ReadReplicaMiddleware``) picks a healthy
replica and, for the duration, the database router sends reads of the read
side's tables (read models, checkpoints, the event log for history and
audit) there; everything else (commands, the event store's appends and the
loads they decide on, idempotency, sessions, projections) stays on the
primary ("default"). A replica is skipped when it cannot be reached, does
not stream from its primary, or replays far behind
(``REPLICA_MAX_LAG_SECONDS``); its health is looked at again every
``REPLICA_CHECK_SECONDS``. Read-your-writes waits on the
replica's own checkpoints, and falls back to the primary after
``REPLICA_WAIT_SECONDS`` (``projections.consistency``).
"""

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)

# The apps whose reads a read request sends to its replica.
READ_APPS = frozenset({"projections", "eventstore"})

_current: ContextVar[str | None] = ContextVar("read_replica", default=None)
_health: dict[str, tuple[bool, float]] = {}
_lock = threading.Lock()


def aliases() -> list[str]:
    """The database aliases of the configured replicas."""
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


def current() -> str | None:
    """The replica this request reads from, if any."""
    return _current.get()


def read_alias() -> str:
    """Where this request's read-side reads go."""
    return _current.get() or "default"


def use_primary() -> None:
    """The rest of this request reads from the primary (a replica that has
    not caught up with what the request must see)."""
    _current.set(None)


@contextmanager
def reading(alias: str | None) -> Iterator[str | None]:
    token = _current.set(alias)
    try:
        yield alias
    finally:
        _current.reset(token)


def choose() -> str | None:
    """A healthy replica (at random among them), or None."""
    now = time.monotonic()
    healthy = []
    for alias in aliases():
        ok, checked = _health.get(alias, (False, -1e9))
        if now - checked > settings.REPLICA_CHECK_SECONDS:
            ok = _check(alias)
            with _lock:
                _health[alias] = (ok, now)
        if ok:
            healthy.append(alias)
    return random.choice(healthy) if healthy else None


def mark_down(alias: str) -> None:
    with _lock:
        _health[alias] = (False, time.monotonic())
    with suppress(DatabaseError):
        connections[alias].close()


# What a standby says of itself: whether it is one; whether a WAL receiver
# streams from its primary (pg_stat_wal_receiver lists one only while it
# runs; its status needs pg_read_all_stats, so an unknown status counts as
# streaming and the lag below decides); whether it has replayed everything
# the primary had flushed when asked (%s: that LSN, NULL if the primary
# could not say; then: everything it received); the age of the last commit
# it replayed.
STANDBY_STATE = (
    "SELECT pg_is_in_recovery(),"
    " EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status IS NULL OR status = 'streaming'),"
    " COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()),"
    " EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8"
)


def _primary_lsn(primary: str) -> str | None:
    """Where the primary's WAL has been flushed to (what a standby can have)."""
    try:
        with connections[primary].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
            return cursor.fetchone()[0]
    except DatabaseError as exc:
        log.warning("could not ask the primary how far its WAL is: %s", exc)
        return None


def _check(alias: str, primary: str = "default") -> bool:
    """Reachable, a standby streaming from its primary, and replaying within
    the allowed lag (REPLICA_MAX_LAG_SECONDS).

    A standby cut off from its primary (its WAL receiver down or
    reconnecting) is skipped at once: it has replayed all it received, so
    it looks fresh while the primary moves on. The lag is 0 when the
    standby has replayed everything the primary had flushed when asked;
    otherwise the age of the last commit it replayed (what it lacks is
    younger than that), or unknown (skipped) if it has replayed none since
    it started."""
    flushed = _primary_lsn(primary)
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(STANDBY_STATE, [flushed])
            standby, streaming, caught_up, age = cursor.fetchone()
    except DatabaseError as exc:
        log.warning("replica %s is unreachable, reads skip it: %s", alias, exc)
        mark_down(alias)
        return False
    if not standby:
        log.warning("replica %s is not a standby; reads skip it", alias)
        return False
    if not streaming:
        log.warning("replica %s receives no WAL from its primary; reads skip it", alias)
        return False
    lag = 0.0 if caught_up else age
    if lag is None or lag > settings.REPLICA_MAX_LAG_SECONDS:
        shown = "an unknown time" if lag is None else f"{lag:.1f} s"
        log.warning("replica %s replays %s behind; reads skip it", alias, shown)
        return False
    return True


class ReplicaRouter:
    """Reads of the read side go to the request's replica; writes, and
    everything outside a read request, to the primary."""

    def db_for_read(self, model, **hints):
        alias = _current.get()
        if alias and model._meta.app_label in READ_APPS:
            return alias
        return None

    def db_for_write(self, model, **hints):
        return "default" if _current.get() else None

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return None if not db.startswith("replica") else False
