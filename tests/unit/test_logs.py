"""Log lines as config.logs renders them: JSON (LOG_FORMAT=json) or a
console line, with the message context of eventstore.metadata and the
fields bound around them."""

import io
import json
import logging
import sys

import pytest
from django.test import RequestFactory

from config.logs import bound, formatter, logging_config
from eventstore.metadata import message_context


def render(fmt: str, **extra) -> str:
    record = logging.LogRecord("orders.test", logging.INFO, __file__, 1, "placed %s", ("order-1",), None)
    record.__dict__.update(extra)
    return formatter(fmt).format(record)


def test_a_json_line_carries_the_message_context_bound_fields_and_extras():
    with message_context(correlation_id="corr-1", causation_id="cause-1", user_id="7", command="PlaceOrder"):
        with bound(projection="order_list", event_position=42):
            line = json.loads(render("json", sku="WIDGET-A"))
    assert line["message"] == "placed order-1"
    assert (line["level"], line["logger"]) == ("info", "orders.test")
    assert (line["correlation_id"], line["causation_id"], line["user_id"], line["command"]) == (
        "corr-1",
        "cause-1",
        "7",
        "PlaceOrder",
    )
    assert (line["projection"], line["event_position"], line["sku"]) == ("order_list", 42, "WIDGET-A")
    assert line["timestamp"].endswith("Z") and "process" in line


def test_fields_given_with_the_line_win_over_the_context():
    with message_context(correlation_id="from-context"):
        line = json.loads(render("json", correlation_id="from-event"))
    assert line["correlation_id"] == "from-event"


def test_outside_any_context_a_line_has_no_correlation_id():
    line = json.loads(render("json"))
    assert "correlation_id" not in line and "user_id" not in line


def test_the_console_format_is_one_readable_line_with_the_same_fields():
    with message_context(correlation_id="corr-2"):
        text = render("console")
    assert "placed order-1" in text and "correlation_id=corr-2" in text and "\n" not in text.strip()


def test_log_format_must_be_json_or_console():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logging_config(fmt="xml")
    assert logging_config(fmt="json")["formatters"]["structured"]["fmt"] == "json"


def test_a_request_is_logged_as_its_method_and_path_never_its_query_string():
    request = RequestFactory().get("/orders/", {"customer_email": "someone@example.com"})
    for fmt in ("json", "console"):
        text = render(fmt, request=request, status_code=400)
        assert "someone" not in text and "customer_email" not in text, text
    assert json.loads(render("json", request=request))["request"] == "GET /orders/"


def test_the_development_servers_request_line_loses_its_query_string():
    line = '"GET /orders/?customer_email=someone%40example.com HTTP/1.1" 200 5120'
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, "%s", (line,), None)
    record.request = object()  # its socket
    text = json.loads(formatter("json").format(record))
    assert text["message"] == '"GET /orders/ HTTP/1.1" 200 5120' and "request" not in text


def test_a_database_errors_row_values_are_never_logged():
    class CheckViolation(Exception):  # as psycopg raises it: the row in DETAIL, the diagnostics apart
        sqlstate = "23514"

        class diag:
            message_primary = 'new row for relation "order_shipping" violates check constraint "c"'

    detail = "DETAIL:  Failing row contains (Ada)."  # (a traceback shows the line that raises)
    try:
        try:
            raise CheckViolation(f"{CheckViolation.diag.message_primary}\n{detail}")
        except CheckViolation as exc:
            raise RuntimeError(str(exc)) from exc  # a wrapper that repeats it (as Django's does)
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    for fmt in ("json", "console"):
        text = formatter(fmt).format(record)
        text = json.loads(text)["exception"] if fmt == "json" else text
        assert "Ada" not in text and "Failing row" not in text, text
        assert 'CheckViolation: new row for relation "order_shipping" violates check constraint' in text
        assert "The above exception was the direct cause" in text and "RuntimeError" in text


def test_a_refusal_logged_by_django_security_has_no_traceback_a_server_error_keeps_its():
    """The console handler's filter: Django's 400 for a bad Host header is
    one line; a 500's traceback is what finds its bug."""
    from config.logs import RefusalsWithoutTraceback

    assert logging_config("INFO", "json")["handlers"]["console"]["filters"] == ["refusals_without_traceback"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    handler.addFilter(RefusalsWithoutTraceback())
    logger = logging.getLogger("django.security.DisallowedHost")
    logger.addHandler(handler)
    try:
        for status in (400, 500):
            try:
                raise ValueError(f"answered {status}")
            except ValueError:
                logger.error("Invalid HTTP_HOST header", exc_info=True, extra={"status_code": status})
    finally:
        logger.removeHandler(handler)
    refusal, error = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert refusal["message"] == "Invalid HTTP_HOST header" and "exception" not in refusal
    assert "ValueError: answered 500" in error["exception"]
