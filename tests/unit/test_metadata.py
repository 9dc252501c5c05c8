from datetime import UTC, datetime

import pytest

from eventstore.metadata import STANDARD_FIELDS, build_metadata, current_context, message_context
from eventstore.types import START, GlobalPosition


def test_every_event_carries_all_standard_fields_even_when_unknown():
    meta = build_metadata(None)
    assert set(STANDARD_FIELDS) <= meta.keys()
    assert meta["correlation_id"] is None
    assert datetime.fromisoformat(meta["timestamp"]).tzinfo is not None


def test_context_fills_metadata_and_is_restored_after_the_block():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with message_context(correlation_id="corr-1", user_id="7", command="PlaceOrder"):
        with message_context(causation_id="cmd-9"):
            meta = build_metadata({"source": "test"}, at)
    assert meta == {
        "correlation_id": "corr-1",
        "causation_id": "cmd-9",
        "user_id": "7",
        "command": "PlaceOrder",
        "timestamp": "2026-01-02T03:04:05+00:00",
        "source": "test",
    }
    assert current_context().correlation_id is None


def test_an_inner_context_overrides_only_what_it_names_and_unknown_fields_are_refused():
    with message_context(correlation_id="corr-1", user_id="7", command="PlaceOrder"):
        with message_context(user_id=None, command="AddItem") as inner:
            assert (inner.correlation_id, inner.causation_id, inner.user_id, inner.command) == (
                "corr-1",
                None,
                None,
                "AddItem",
            )
        assert current_context().command == "PlaceOrder"
    with pytest.raises(TypeError, match="user"):
        message_context(user="7")


def test_global_positions_order_by_transaction_then_position():
    assert START < GlobalPosition(1, 5) < GlobalPosition(2, 3) < GlobalPosition(2, 4)
