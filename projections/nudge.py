"""Starting projections after a commit (an event-store commit listener).

The nudge carries no event data: the event store is the outbox, and a
projection always reads from its own checkpoint. Nudges are coalesced in
Redis so a burst of commands queues one run, not one per command.
"""

import logging

from django.conf import settings

log = logging.getLogger(__name__)

NUDGE_KEY = "projections:nudge-pending"
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
        from projections.runner import catch_up_to

        # Another transaction still open on the server can keep the new event
        # out of the gap-safe read for a moment: keep trying, briefly. (Reads
        # with X-Min-Position also run the projections in this mode.)
        catch_up_to(appended, using=using, timeout=0.5)
    elif mode == "celery":
        try:
            if redis_client().set(NUDGE_KEY, 1, nx=True, ex=5):
                from projections.tasks import run_projections

                run_projections.delay()
        except Exception as exc:  # the command has committed; beat will catch up
            log.warning("could not nudge projections (%s); beat will run them", exc)
