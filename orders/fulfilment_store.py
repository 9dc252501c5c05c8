"""The fulfilment process manager's memory of each order (``FulfilmentProcess``
rows), read and written in plain SQL on the event store's prepared-statement
path: the process manager loads and saves one row per event it handles, and
the ORM spent more CPU compiling those two queries than the rest of the step
(pages and the admin keep using the model)."""

from uuid import UUID

import orjson
from django.db import connections

from eventstore.sql import dialect_for
from orders.models import FulfilmentProcess

TABLE = FulfilmentProcess._meta.db_table
_COLUMNS = (
    "order_id",
    "status",
    "lines",
    "order_version",
    "correlation_id",
    "outcome",
    "handled",
    "created_at",
    "updated_at",
)
_JSON = frozenset({"lines", "handled"})


def _connection():
    return connections["default"]


def followed(order_ids: set[UUID]) -> set[UUID]:
    """Which of the orders have a process. On PostgreSQL one array
    parameter (one query text, prepared), not a placeholder per order: a
    projection batch asks for hundreds."""
    if not order_ids:
        return set()
    connection = _connection()
    if connection.vendor != "postgresql":
        return set(
            FulfilmentProcess.objects.filter(order_id__in=order_ids).values_list("order_id", flat=True)
        )
    rows = dialect_for(connection).fetch(
        connection, f"SELECT order_id FROM {TABLE} WHERE order_id = ANY(%s::uuid[])", [list(order_ids)]
    )
    return {row[0] for row in rows}


def load(order_id: UUID) -> FulfilmentProcess | None:
    """The order's process, or None when fulfilment does not follow it."""
    connection = _connection()
    dialect = dialect_for(connection)
    rows = dialect.fetch(
        connection,
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} WHERE order_id = %s",
        [dialect.param_uuid(order_id)],
    )
    if not rows:
        return None
    values = dict(zip(_COLUMNS, rows[0], strict=True))
    for column in _JSON:
        if isinstance(values[column], str | bytes):
            values[column] = orjson.loads(values[column])
    values["order_id"] = order_id
    values["created_at"] = dialect.to_datetime(values["created_at"])
    values["updated_at"] = dialect.to_datetime(values["updated_at"])
    process = FulfilmentProcess(**values)
    process._state.adding = False  # as if loaded by the ORM
    return process


def save(process: FulfilmentProcess) -> None:
    """Insert the process, or replace the stored one (in the caller's
    transaction, with the commands it issued and the checkpoint)."""
    connection = _connection()
    dialect = dialect_for(connection)
    params = []
    placeholders = []
    for column in _COLUMNS:
        value = getattr(process, column)
        placeholders.append(dialect.json_placeholder if column in _JSON else "%s")
        if column in _JSON:
            value = orjson.dumps(value).decode()
        elif column == "order_id":
            value = dialect.param_uuid(value)
        elif column in ("created_at", "updated_at"):
            value = dialect.param_datetime(value)
        params.append(value)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("order_id", "created_at"))
    dialect.fetch(
        connection,
        f"INSERT INTO {TABLE} ({', '.join(_COLUMNS)}) VALUES ({', '.join(placeholders)})"
        f" ON CONFLICT (order_id) DO UPDATE SET {updates}",
        params,
    )
