"""Property-based tests of the command API from its own OpenAPI schema:
whatever Schemathesis generates, no 5xx, and every response conforms to the
documented status codes, content types, headers and bodies."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks

from config.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_schema(db):
    # Calling the WSGI app directly would close the test's connection at the
    # end of each request (Django's test client switches that off too).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@schema.include(path_regex=r"^/api/(orders|auth|products)").parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_command_api_never_fails_and_matches_its_schema(case, staff_headers, placed_order_id):
    # About half the cases target a real order, so generated commands reach
    # the rules; the rest keep the generated id.
    if isinstance((case.path_parameters or {}).get("order_id"), str) and len(str(case.body)) % 2 == 0:
        case.path_parameters["order_id"] = str(placed_order_id)
    # X-Min-Position on a read whose projections do not run in this test's
    # transaction waits out its timeout and answers its documented 503
    # (test_read_api covers it); leave it out here.
    if case.headers:
        case.headers.pop("X-Min-Position", None)
    case.call_and_validate(headers=staff_headers, checks=CHECKS)
