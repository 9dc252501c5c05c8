"""``projections rebuild``: set-based where it can be, ``--in-python`` to
replay every event through the Python folds; both give the live tables."""

import pytest
from django.core.management import call_command

from projections import set_based
from tests.integration.projections.support import assert_a_rebuild_changes_nothing, catch_up
from tests.support import place_order, read_model_snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def builds(monkeypatch):
    """The projections each set-based build was asked for."""
    calls: list[list[str]] = []
    real = set_based.build

    def spy(projections, *args, **kwargs):
        calls.append(sorted(p.name for p in projections))
        return real(projections, *args, **kwargs)

    monkeypatch.setattr(set_based, "build", spy)
    return calls


def test_a_rebuild_builds_the_order_read_models_in_sql_and_in_python_on_request(builds, capsys):
    for customer in ("cust_1", "cust_2", "cust_1"):
        place_order(customer)
    catch_up()
    live = read_model_snapshot()

    call_command("projections", "rebuild", "--all", "--jobs", "2")
    assert builds == [["customer_summary", "daily_sales", "order_list"]]
    assert read_model_snapshot() == live
    assert "rebuilt from" in capsys.readouterr().out

    call_command("projections", "rebuild", "--all", "--in-python")
    assert len(builds) == 1  # no set-based build this time
    assert read_model_snapshot() == live
    assert_a_rebuild_changes_nothing()
