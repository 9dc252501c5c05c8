"""Reads from streaming replicas (``DATABASE_REPLICA_URL``).

A read request (GET or HEAD; ``ReadReplicaMiddleware``) picks a healthy
replica and, for the duration, the database router sends reads of the read
side's tables (read models, checkpoints, the event log for history and
audit) there; everything else (commands, the event store's appends and the
loads they decide on, idempotency, sessions, projections) stays on the
primary ("default"). A replica is skipped when it cannot be reached or
replays far behind (``REPLICA_MAX_LAG_SECONDS``); its health is looked at
again every ``REPLICA_CHECK_SECONDS``. Read-your-writes waits on the
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


def _check(alias: str) -> bool:
    """Reachable, a standby, and replaying within the allowed lag."""
    try:
        with connections[alias].cursor() as cursor:
            # Replay caught up with what it received: no lag, however old the
            # last commit; otherwise the age of the last commit replayed.
            cursor.execute(
                "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
                " THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
            )
            standby, lag = cursor.fetchone()
    except DatabaseError as exc:
        log.warning("replica %s is unreachable, reads skip it: %s", alias, exc)
        mark_down(alias)
        return False
    if not standby:
        log.warning("replica %s is not a standby; reads skip it", alias)
        return False
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        log.warning("replica %s replays %.0f s behind; reads skip it", alias, lag)
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
