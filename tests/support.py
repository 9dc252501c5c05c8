"""Helpers shared by tests."""

from django.db import connection

READ_MODEL_TABLES = {
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

    for projection in registry.all():
        rebuild(projection)
    return read_model_snapshot()


def event_head() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events")
        return cursor.fetchone()


def checkpoints() -> dict[str, tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, position, events_seen FROM projection_checkpoints")
        return {name: (position, seen) for name, position, seen in cursor.fetchall()}
