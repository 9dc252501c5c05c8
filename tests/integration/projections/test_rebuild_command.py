"""``projections rebuild``: set-based where it can be, ``--in-python`` to
replay every event through the Python folds; both give the live tables. A
set-based rebuild that fails leaves nothing behind."""

from dataclasses import replace

import pytest
from django.core.management import call_command
from django.db import connection
from psycopg.errors import DivisionByZero

from projections import rebuild, set_based
from projections.base import registry
from tests.integration.projections.support import (
    assert_a_rebuild_changes_nothing,
    catch_up,
    order_projections,
)
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


def test_a_slice_that_fails_stops_the_rebuild_and_leaves_no_table_behind(monkeypatch):
    for n in range(12):
        place_order(f"cust_{n}")
    catch_up()
    live = read_model_snapshot()
    projection = registry.get("order_list")
    spec = projection.set_based
    # The second of two slices (stream ids from 8000...) fails after its rows are written.
    failing = "SELECT 1 / 0 WHERE %(lo)s::uuid >= '80000000-0000-0000-0000-000000000000'"
    monkeypatch.setattr(type(projection), "set_based", replace(spec, statements=(*spec.statements, failing)))

    with pytest.raises(DivisionByZero):
        rebuild.rebuild(order_projections(), jobs=2)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE '%%\\_\\_rebuild%%' AND relkind = 'r'"
        )
        assert cursor.fetchall() == []  # no shadow table, no shared table of facts
    assert read_model_snapshot() == live
    monkeypatch.undo()
    rebuild.rebuild(order_projections(), jobs=2)
    assert read_model_snapshot() == live


def test_a_set_based_rebuild_reports_its_progress_slice_by_slice():
    for n in range(6):
        place_order(f"cust_{n}")
    catch_up()
    calls: list[tuple[int, int]] = []
    result = rebuild.rebuild(
        order_projections(), jobs=2, progress=lambda done, total: calls.append((done, total))
    )
    total = result.events
    # Two slices (one per job), then the end of the rebuild.
    assert calls[0] == (total // 2, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (total, total)
