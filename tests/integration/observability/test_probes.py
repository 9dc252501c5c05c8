"""Probes and scrapers: what they get as a matter of course (/readyz not
ready, /metrics without credentials) is not a warning or an error in the
log every few seconds; a real server error still is."""

import logging

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils.log import log_response

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
            "%s: %s", "Answered", path, response=HttpResponse(status=status), request=RequestFactory().get(path)
        )
    assert request_lines(caplog) == [(level, f"Answered: {path}")]
