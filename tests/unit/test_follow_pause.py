"""How often a following projection run looks for new events: the poll
interval on a quiet log (freshness), longer on a busy one (fewer, bigger
batches: each batch has a fixed cost)."""

import pytest

from projections.tasks import BUSY_EVENTS, BUSY_FACTOR, poll_pause


@pytest.mark.parametrize("read", [0, 1, BUSY_EVENTS - 1])
def test_a_quiet_log_is_polled_at_the_interval(read):
    assert poll_pause(read, 0.02) == 0.02


@pytest.mark.parametrize("read", [BUSY_EVENTS, 50, 2000])
def test_a_busy_log_is_polled_less_often_for_bigger_batches(read):
    assert poll_pause(read, 0.02) == pytest.approx(0.02 * BUSY_FACTOR)
    assert BUSY_FACTOR > 1 and poll_pause(read, 0.02) <= 0.1  # still well inside W6's freshness
