"""Log lines as config.logs renders them: JSON (LOG_FORMAT=json) or a
console line, with the message context of eventstore.metadata and the
fields bound around them."""

import json
import logging

import pytest

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
