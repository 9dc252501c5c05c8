"""Starting projections after a commit (an event-store commit listener).

The nudge carries no event data: the event store is the outbox, and a
projection always reads from its own checkpoint. Nudges are coalesced in
Redis so a burst of commands queues one run, not one per command.
"""

import atexit
import logging
import os
import threading
import time

from celery import current_app
from django.conf import settings

from projections.runner import catch_up_to, running_here

log = logging.getLogger(__name__)

NUDGE_KEY = "projections:nudge-pending"
# Held by the run that follows the log (projections.tasks); while it is,
# other runs leave the log to it.
FOLLOW_KEY = "projections:following"
COALESCE_SECONDS = 0.05
RUN_TASK = "projections.tasks.run_projections"
_redis = None


def redis_client():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    return _redis


def nudge(using: str = "default", appended=None) -> None:
    mode = settings.PROJECTIONS_MODE
    if mode == "inprocess":
        # Another transaction still open on the server can keep the new event
        # out of the gap-safe read for a moment: keep trying, briefly. (Reads
        # with X-Min-Position also run the projections in this mode.)
        catch_up_to(appended, using=using, timeout=0.5)
    elif mode == "celery":
        if running_here():
            return  # a process manager's commit inside a run: that run's loop goes on to it
        _nudger().poke()


def _send(countdown: float | None = None) -> None:
    try:
        if redis_client().set(NUDGE_KEY, 1, nx=True, ex=5):
            # By name: the task module imports this one.
            current_app.send_task(RUN_TASK, countdown=countdown)
    except Exception as exc:  # the command has committed; beat will catch up
        log.warning("could not nudge projections (%s); beat will run them", exc)


def recruit() -> None:
    """Queue one more run now, whatever the nudge flag says: a follower
    asks another worker to follow too."""
    try:
        current_app.send_task(RUN_TASK)
    except Exception as exc:
        log.warning("could not queue another projection run (%s)", exc)


def nudge_later(seconds: float) -> None:
    """Queue a run in ``seconds`` unless one is already pending."""
    _send(countdown=seconds)


class _Nudger:
    """Sends nudges from a background thread of this process, so a command's
    response does not wait on Redis (about a millisecond per publish), and
    pokes that arrive while one is being sent make one more, not many. A
    nudge lost with the process only delays the projections until beat."""

    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projection-nudger", daemon=True)
        self._thread.start()
        atexit.register(self._flush)

    def _flush(self) -> None:
        """At exit (a management command that just wrote events), send
        what is still wanted rather than leave it to beat."""
        if self._wanted.is_set():
            self._wanted.clear()
            _send()

    def poke(self) -> None:
        if not self._wanted.is_set():
            self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            _send()
            # Pokes meanwhile make one more send after this pause, not one
            # each: a busy web process talks to Redis at most this often.
            time.sleep(COALESCE_SECONDS)


_nudger_lock = threading.Lock()
_nudger_instance: tuple[int, _Nudger] | None = None


def _nudger() -> _Nudger:
    """This process's nudger (a forked child starts its own)."""
    global _nudger_instance
    with _nudger_lock:
        if _nudger_instance is None or _nudger_instance[0] != os.getpid():
            _nudger_instance = (os.getpid(), _Nudger())
        return _nudger_instance[1]
