"""Probes and scrapers: what they get as a matter of course (/readyz not
ready, /metrics without credentials) is not a warning or an error in the
log every few seconds; a real server error still is. /readyz, which anyone
may ask, costs the database a bounded number of queries however often it
is asked."""

import logging

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils.log import log_response

from config import health
from tests.support import login

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:9/0"  # nothing listens there


def request_lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "django.request"]


def test_probes_and_scrapes_answered_as_expected_log_no_warning(caplog, settings, reader):
    settings.REDIS_URL = DEAD_REDIS
    settings.METRICS_TOKEN = "s3cret"
    with caplog.at_level(logging.INFO):
        assert Client().get("/readyz").status_code == 503
        assert Client().get("/metrics").status_code == 401
        assert login(reader).get("/metrics").status_code == 403
    assert request_lines(caplog) == []


def test_with_django_request_at_debug_they_are_debug_lines(caplog, settings):
    settings.REDIS_URL = DEAD_REDIS
    with caplog.at_level(logging.DEBUG, logger="django.request"):
        assert Client().get("/readyz").status_code == 503
        assert Client().get("/metrics").status_code == 401
    assert request_lines(caplog) == [
        ("DEBUG", "Service Unavailable: /readyz"),
        ("DEBUG", "Unauthorized: /metrics"),
    ]


@pytest.mark.parametrize(
    ("path", "status", "level"),
    [
        ("/api/orders/", 503, "ERROR"),
        ("/api/orders/", 401, "WARNING"),
        ("/metrics", 500, "ERROR"),
        ("/readyz", 500, "ERROR"),
        ("/healthz", 503, "ERROR"),
    ],
)
def test_other_answers_keep_their_level(caplog, path, status, level):
    with caplog.at_level(logging.INFO):
        log_response(
            "%s: %s",
            "Answered",
            path,
            response=HttpResponse(status=status),
            request=RequestFactory().get(path),
        )
    assert request_lines(caplog) == [(level, f"Answered: {path}")]


def test_readyz_judges_once_per_window_however_often_it_is_asked(settings, monkeypatch):
    settings.READYZ_CACHE_SECONDS = 1.0
    settings.REDIS_URL = ""
    now = [1000.0]
    monkeypatch.setattr(health, "_clock", lambda: now[0])
    health.forget()
    with CaptureQueriesContext(connection) as judging:
        first = Client().get("/readyz")
    assert first.status_code == 200, first.json()
    assert len(judging) >= 2  # the database, and the projections' checkpoints and lag

    settings.REDIS_URL = DEAD_REDIS  # from now on, not ready
    with CaptureQueriesContext(connection) as asked:
        answers = [Client().get("/readyz") for _ in range(50)]
        now[0] += 0.9
        answers.append(Client().get("/readyz"))
    assert len(asked) == 0
    assert {(a.status_code, a.content) for a in answers} == {(200, first.content)}

    now[0] += 0.1
    later = Client().get("/readyz")
    assert later.status_code == 503 and later.json()["checks"]["redis"]["ok"] is False
