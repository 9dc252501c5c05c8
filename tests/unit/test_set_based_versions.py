"""The set-based rebuild's SQL reads order events at every schema version
so far: a new version of an event, or a new event type on the order
stream, must fail here and point at projections/order_rebuild_sql.py
(until it is changed too, set_based.split leaves the SQL unused)."""

from eventstore import registry as catalog
from projections.base import registry


def test_the_sql_of_each_read_model_reads_every_version_so_far_of_every_event_it_reads():
    built_in_sql = [p for p in registry.read_models() if p.set_based is not None]
    assert {p.name for p in built_in_sql} == {"order_list", "customer_summary", "daily_sales"}
    for projection in built_in_sql:
        versions = projection.set_based.versions
        assert set(versions) == set(projection.event_types), projection.name
        current = {t: catalog.current_versions[t] for t in projection.event_types}
        newest = {t: max(read) for t, read in versions.items()}
        assert newest == current, f"update projections/order_rebuild_sql.py ({projection.name})"
        assert all(read == tuple(range(1, newest[t] + 1)) for t, read in versions.items()), projection.name
