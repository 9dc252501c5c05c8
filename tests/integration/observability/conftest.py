"""Fixtures of the observability tests: /metrics scraped and parsed, the
log lines the app writes (as JSON), and a projection held by a poison event."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from config.logs import formatter
from projections import failures
from projections.models import ProjectionFailure
from tests.integration.projections.support import catch_up
from tests.support import metric_key, parse_metrics

METRICS_TOKEN = "observability-test-token"


@pytest.fixture
def scrape(settings):
    """GET /metrics with a bearer token, parsed: {metric_key(...): value}."""
    settings.METRICS_TOKEN = METRICS_TOKEN

    def get() -> dict[str, float]:
        response = Client().get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_metrics(response.content.decode())

    return get


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    """How much one sample changed between two scrapes (absent counts as 0)."""
    key = metric_key(name, **labels)
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture
def json_log():
    """The lines logged while the test runs, as LOG_FORMAT=json writes them,
    parsed; call it for those so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    finally:
        root.removeHandler(handler)


def hold(monkeypatch) -> None:
    """Run the projections, with no pause between attempts, until the
    failing one is held (out of retries)."""
    monkeypatch.setattr(failures, "backoff", lambda attempts: timedelta(0))
    for _ in range(failures.MAX_ATTEMPTS + 2):
        ProjectionFailure.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        catch_up()
