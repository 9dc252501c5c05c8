"""Prometheus metrics: the ``/metrics`` endpoint, the event store's and
Celery's metrics, and the list of scrape-time collectors packages add.

prometheus-client, in multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is
set (it must be, before the first import, in every process of a deployment
with more than one: gunicorn's workers, Celery's workers and their pool
processes each write their own files there, and a scrape of any web worker
adds them all up). Without it each process counts for itself (tests, one
process).

Counters and histograms are updated where things happen. Gauges that need
a database query (projection lag, orders waiting for stock) are computed
when Prometheus scrapes, by the collectors in ``collectors``: the same
answer whichever process serves the scrape, and no cost per event.
"""

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.django import PrometheusDjangoView
from structlog.contextvars import bind_contextvars, unbind_contextvars

log = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Objects with a ``collect()`` yielding metric families, asked at each scrape
# (projections.collector adds the read side's). A failing one is logged and
# reported by ``metrics_collector_up``; the others still answer.
collectors: list = []

# -- the event store (counted through eventstore.hooks.append_observers) ---------

APPENDS = Counter("eventstore_appends", "Appends committed (one per command that changed something)",
                  ["aggregate_type"])  # fmt: skip
EVENTS_APPENDED = Counter("eventstore_events_appended", "Events appended and committed", ["event_type"])

# -- Celery ------------------------------------------------------------------------

TASK_RUNS = Counter("celery_task_runs", "Celery task runs that finished, by outcome", ["task", "state"])
TASK_DURATION = Histogram(
    "celery_task_duration_seconds",
    "How long a Celery task ran",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
_TASK_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


def after_commit(action: Callable[[], None], using: str = "default") -> None:
    """Run ``action`` once the current transaction commits (at once outside
    one): what a rolled-back transaction did must not be counted."""
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(action, using=using, robust=True)  # a metric never fails a commit
    else:
        action()


def labelled(metric) -> Callable:
    """``metric.labels`` remembered per label value: ``labels()`` takes a lock
    and builds a key on every call, several times the cost of ``inc()``."""
    return lru_cache(maxsize=1024)(metric.labels)


_appends, _events_appended = labelled(APPENDS), labelled(EVENTS_APPENDED)


def count_appended(aggregate_type: str, events: Iterable, using: str) -> None:
    """An eventstore append observer (called once the append has committed)."""
    _appends(aggregate_type).inc()
    for event in events:
        _events_appended(event.event_type).inc()


def install() -> None:
    """Count the event store's appends (called once, by the projections app)."""
    from eventstore import hooks

    if count_appended not in hooks.append_observers:
        hooks.append_observers.append(count_appended)


# -- Celery's signals (connected by config.celery) -----------------------------------

_started: dict[str, float] = {}


def task_started(task_id: str, task, **kwargs) -> None:
    """Celery's task_prerun: time it, and name it on every line it logs."""
    bind_contextvars(task=task.name, task_id=task_id)
    _started[task_id] = time.perf_counter()


def task_finished(task_id: str, task, state: str | None = None, **kwargs) -> None:
    """Celery's task_postrun: count it by outcome."""
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
    TASK_RUNS.labels(task.name, _TASK_STATES.get(state or "", (state or "unknown").lower())).inc()
    unbind_contextvars("task", "task_id")


def process_exited(pid: int, **kwargs) -> None:
    """A pool process (or gunicorn worker) is gone: its live gauges go too."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# -- the endpoint --------------------------------------------------------------------


class _ThisProcess:
    """The default registry of this process (single-process mode)."""

    def describe(self):
        return []

    def collect(self):
        yield from REGISTRY.collect()


class _ScrapeTime:
    """The collectors of ``collectors``, each guarded."""

    def describe(self):
        return []

    def collect(self):
        up = GaugeMetricFamily(
            "metrics_collector_up",
            "Whether a scrape-time collector answered (1) or failed (0)",
            labels=["collector"],
        )
        for collector in collectors:
            name = getattr(collector, "name", type(collector).__name__)
            try:
                families = list(collector.collect())
            except Exception as exc:  # e.g. the database is down: say so, serve the rest
                log.warning("metrics collector %s failed: %s", name, exc, extra={"collector": name})
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: every process's metrics (multiprocess mode)
    or this one's, and the scrape-time collectors."""
    registry = CollectorRegistry()
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ScrapeTime())
    return registry


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(net.strip(), strict=False) for net in spec if net.strip())


def metrics_access(request: HttpRequest) -> str | None:
    """None if the request may read the metrics, else why not: a bearer
    token equal to METRICS_TOKEN, a client address in
    METRICS_ALLOWED_NETWORKS, or a signed-in staff user may."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        address = None
    if address is not None and any(
        address in net for net in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    ):
        return None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return None if user.is_staff else "forbidden"
    return "unauthenticated"


class MetricsView(PrometheusDjangoView):
    """GET /metrics: the Prometheus text format (OpenMetrics if asked)."""

    registry = None

    def get(self, request, *args, **kwargs):
        denied = metrics_access(request)
        if denied == "forbidden":
            return HttpResponse(
                "Reading the metrics needs a staff user.\n", status=403, content_type="text/plain"
            )
        if denied:
            response = HttpResponse(
                "Send Authorization: Bearer <METRICS_TOKEN>, or sign in as staff.\n",
                status=401,
                content_type="text/plain",
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if MetricsView.registry is None:
            MetricsView.registry = scrape_registry()
        return super().get(request, *args, **kwargs)
