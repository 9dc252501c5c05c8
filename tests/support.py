"""Helpers shared by tests."""

from django.db import connection

READ_MODEL_TABLES = {
    "inventory_levels": "sku",
    "order_list": "order_id",
    "order_lines": "order_id, sku",
    "customer_summary": "customer_id",
    "customer_summary_orders": "order_id",
    "daily_sales": "day",
    "daily_sales_orders": "order_id",
}


def read_model_snapshot() -> dict[str, list[tuple]]:
    """Every read-model row (without surrogate ids), in a stable order."""
    out = {}
    with connection.cursor() as cursor:
        for table, order in READ_MODEL_TABLES.items():
            cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
            columns = [c.name for c in cursor.description]
            keep = [i for i, name in enumerate(columns) if name != "id"]
            out[table] = [tuple(row[i] for i in keep) for row in cursor.fetchall()]
    return out


def rebuilt_snapshot() -> dict[str, list[tuple]]:
    """Rebuild every projection from position 0 and snapshot the result."""
    from projections.base import registry
    from projections.rebuild import rebuild

    rebuild(registry.projections())
    return read_model_snapshot()


def event_head() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events")
        return cursor.fetchone()


def checkpoints() -> dict[str, tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, position, events_seen FROM projection_checkpoints")
        return {name: (position, seen) for name, position, seen in cursor.fetchall()}


def wait_visible(store, position: int, timeout: float = 30.0) -> None:
    """Wait until the event at ``position`` is readable by the gap-safe global
    read. Any transaction still open on the PostgreSQL server (another test
    run, a backup) holds new events back for a while: by design, never lost."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        target = store.global_position_of(position)
        if target is not None:
            batch = store.read_all(target._replace(position=target.position - 1), limit=1)
            if batch and batch[0].position == position:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"event {position} did not become readable in {timeout}s")
        time.sleep(0.02)


def other_connection(dbname: str | None = None, *, autocommit: bool = False):
    """A psycopg connection of its own (outside Django's), to the test
    database or to ``dbname`` on the same server: another session."""
    import psycopg
    from django.db import connection as django_connection

    params = django_connection.settings_dict
    return psycopg.connect(
        dbname=dbname or params["NAME"],
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        autocommit=autocommit,
    )
