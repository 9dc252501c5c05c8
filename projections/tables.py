"""Set-based reads and writes of read-model tables, for PostgreSQL and SQLite.

Projections work in batches: fetch the rows a batch touches, fold the events
into them in memory, write them back with one multi-row upsert. Table names
are resolved through ``Tables`` so a rebuild can aim the same projection code
at shadow tables.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from uuid import UUID

import psycopg
from django.db import connections
from django.db.models import Model

_KINDS = {
    "UUIDField": "uuid",
    "DateTimeField": "datetime",
    "DateField": "date",
    "CharField": "text",
    "TextField": "text",
    "BigAutoField": "int",
    "BigIntegerField": "int",
    "IntegerField": "int",
    "PositiveIntegerField": "int",
}
_PG_TYPES = {"uuid": "uuid", "datetime": "timestamptz", "date": "date", "text": "text", "int": "bigint"}


class TableSpec:
    """Column names and kinds of one read-model table, from its model."""

    def __init__(self, model: type[Model]):
        self.model = model
        self.table = model._meta.db_table
        self.kinds = {
            f.column: _KINDS[f.get_internal_type()]
            for f in model._meta.concrete_fields
            if f.get_internal_type() != "BigAutoField"
        }


class Tables:
    """The tables one projection writes, on one connection, possibly renamed
    (``{"order_list": "order_list__shadow"}``) for a rebuild."""

    def __init__(
        self, specs: dict[str, TableSpec], using: str = "default", rename: dict[str, str] | None = None
    ):
        self.specs = specs
        self.using = using
        self.rename = rename or {}
        self.connection = connections[using]
        self.pg = self.connection.vendor == "postgresql"

    def name(self, logical: str) -> str:
        return self.rename.get(logical, self.specs[logical].table)

    # -- primitives ----------------------------------------------------------

    def _execute(self, query: str, params: Sequence = ()) -> list[tuple]:
        conn = self.connection
        conn.ensure_connection()
        if self.pg:
            with conn.wrap_database_errors, psycopg.Cursor(conn.connection) as cursor:
                cursor.execute(query, params)
                return cursor.fetchall() if cursor.description else []
        with conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def _to_db(self, kind: str, value):
        if value is None or self.pg:
            return value
        if kind == "uuid":
            return value.hex
        if kind == "datetime":
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        if kind == "date":
            return value.isoformat()
        return value

    def _from_db(self, kind: str, value):
        if value is None or self.pg:
            return value
        if kind == "uuid":
            return UUID(value) if isinstance(value, str) else value
        if kind == "datetime":
            value = datetime.fromisoformat(value) if isinstance(value, str) else value
            return value.replace(tzinfo=UTC)
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        return value

    # -- operations ------------------------------------------------------------

    def fetch(self, logical: str, key: str, keys: Iterable) -> list[dict]:
        """Rows whose ``key`` column is in ``keys``, as dicts."""
        spec = self.specs[logical]
        keys = list(keys)
        if not keys:
            return []
        columns = list(spec.kinds)
        select = f"SELECT {', '.join(columns)} FROM {self.name(logical)}"
        rows: list[tuple] = []
        if self.pg:
            rows = self._execute(f"{select} WHERE {key} = ANY(%s::{_PG_TYPES[spec.kinds[key]]}[])", [keys])
        else:
            for start in range(0, len(keys), 500):
                chunk = [self._to_db(spec.kinds[key], k) for k in keys[start : start + 500]]
                rows += self._execute(f"{select} WHERE {key} IN ({', '.join(['%s'] * len(chunk))})", chunk)
        kinds = [spec.kinds[c] for c in columns]
        return [{c: self._from_db(k, v) for c, k, v in zip(columns, kinds, row, strict=True)} for row in rows]

    def upsert(self, logical: str, key: Sequence[str], rows: list[dict]) -> None:
        """Insert rows, or update the existing rows with the same ``key``."""
        if not rows:
            return
        spec = self.specs[logical]
        columns = list(spec.kinds)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        conflict = f"ON CONFLICT ({', '.join(key)}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING")
        table = self.name(logical)
        if self.pg:
            arrays = [[row[c] for row in rows] for c in columns]
            unnest = ", ".join(f"%s::{_PG_TYPES[spec.kinds[c]]}[]" for c in columns)
            self._execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({unnest}) {conflict}",
                arrays,
            )
            return
        placeholders = ", ".join(["%s"] * len(columns))
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) {conflict}"
        with self.connection.cursor() as cursor:
            cursor.executemany(query, [[self._to_db(spec.kinds[c], row[c]) for c in columns] for row in rows])

    def delete(self, logical: str, key: str, keys: Iterable) -> None:
        spec = self.specs[logical]
        keys = list(keys)
        if not keys:
            return
        table = self.name(logical)
        if self.pg:
            self._execute(
                f"DELETE FROM {table} WHERE {key} = ANY(%s::{_PG_TYPES[spec.kinds[key]]}[])", [keys]
            )
            return
        for start in range(0, len(keys), 500):
            chunk = [self._to_db(spec.kinds[key], k) for k in keys[start : start + 500]]
            self._execute(f"DELETE FROM {table} WHERE {key} IN ({', '.join(['%s'] * len(chunk))})", chunk)

    def insert(self, logical: str, rows: list[dict]) -> None:
        if not rows:
            return
        spec = self.specs[logical]
        columns = list(spec.kinds)
        table = self.name(logical)
        if self.pg:
            arrays = [[row[c] for row in rows] for c in columns]
            unnest = ", ".join(f"%s::{_PG_TYPES[spec.kinds[c]]}[]" for c in columns)
            self._execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({unnest})", arrays
            )
            return
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        with self.connection.cursor() as cursor:
            cursor.executemany(query, [[self._to_db(spec.kinds[c], row[c]) for c in columns] for row in rows])

    def truncate(self, logical: str) -> None:
        self._execute(f"DELETE FROM {self.name(logical)}")
