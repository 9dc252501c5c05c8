"""Health endpoints.

- ``GET /healthz``: this process is up and reaches its database. Cheap: for
  load balancers and process supervisors.
- ``GET /readyz``: the system does its job: the database, Redis (when
  ``REDIS_URL`` is set) and what the apps add to ``readiness_checks`` (the
  projections: none held by a failure, none with events waiting longer than
  PROJECTION_LAG_ALERT_SECONDS). 200 when all pass, else 503; the JSON body
  says which check failed and why. It judges the whole system, so the same
  answer comes from every web node: alert and gate deployments on it, and
  leave load-balancer rotation to /healthz.

Anyone may ask /readyz and it runs a few queries per projection, so each
process judges at most once per READYZ_CACHE_SECONDS (default 1) and
answers everyone asking meanwhile with that judgment: however often it is
asked, it costs the database a bounded number of queries per second.
"""

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

log = logging.getLogger(__name__)

# name -> a function answering {"ok": bool, "reasons": [str], ...anything else}.
readiness_checks: dict[str, Callable[[], dict]] = {}

_redis_clients: dict = {}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the app can reach its database (for load balancers and tests)."""
    check = _database()
    if not check["ok"]:
        return JsonResponse({"status": "unavailable", "detail": check["error"]}, status=503)
    return JsonResponse({"status": "ok"})


# (when judged, by time.monotonic; status; body), or None
_judged: tuple[float, int, dict] | None = None
_judging = threading.Lock()
_clock = time.monotonic


def forget() -> None:
    """Judge afresh on the next request (tests)."""
    global _judged
    _judged = None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    global _judged
    # One thread judges at a time; those that waited for it take its answer.
    with _judging:
        # A judgement from a later reading (a test's fake clock) is stale too.
        if _judged is None or not 0 <= _clock() - _judged[0] < settings.READYZ_CACHE_SECONDS:
            status, body = _judge()
            _judged = (_clock(), status, body)
        _, status, body = _judged
    return JsonResponse(body, status=status)


def _judge() -> tuple[int, dict]:
    checks = {"database": _database()}
    if settings.REDIS_URL:
        checks["redis"] = _redis(settings.REDIS_URL)
    if checks["database"]["ok"]:
        for name, check in readiness_checks.items():
            try:
                checks[name] = check()
            except Exception as exc:  # a check that cannot run says "not ready", not 500
                log.warning("readiness check %s failed: %s", name, exc)
                checks[name] = {
                    "ok": False,
                    "reasons": [f"{name} could not be checked ({type(exc).__name__})"],
                }
    reasons = [reason for check in checks.values() for reason in check.get("reasons", [])]
    ready = all(check["ok"] for check in checks.values())
    body = {"status": "ready" if ready else "not ready", "reasons": reasons, "checks": checks}
    return (200 if ready else 503), body


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database failure means "not ready"
        return {
            "ok": False,
            "error": type(exc).__name__,
            "reasons": [f"database unreachable ({type(exc).__name__})"],
        }
    return {"ok": True}


def _redis(url: str) -> dict:
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5
        )
    try:
        client.ping()
    except redis.RedisError as exc:
        return {
            "ok": False,
            "error": type(exc).__name__,
            "reasons": [f"redis unreachable ({type(exc).__name__})"],
        }
    return {"ok": True}
