"""Set-based reads and writes of read-model tables, for PostgreSQL and SQLite.

Projections work in batches: fetch the rows a batch touches, fold the events
into them in memory, write them back with one multi-row upsert. Table names
are resolved through ``Tables`` so a rebuild can aim the same projection code
at shadow tables.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from uuid import UUID

import orjson
from django.db import connections
from django.db.models import Model

from eventstore.sql import raw_cursor, rows_of

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
    "BooleanField": "bool",
}
_PG_TYPES = {
    "uuid": "uuid",
    "datetime": "timestamptz",
    "date": "date",
    "text": "text",
    "int": "bigint",
    "bool": "boolean",
}


# smallint and integer columns: the magnitude their values stay under.
_INT_BOUNDS = {21: 2**15, 23: 2**31}


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
            with conn.wrap_database_errors:
                cursor = raw_cursor(conn)
                cursor.execute(query, params)
                return rows_of(cursor)
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
        if kind == "bool":
            return int(value)
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
        if kind == "bool":
            return bool(value)
        return value

    # -- PostgreSQL: many rows or keys travel as one JSON document, which orjson
    # writes and the server parses in C (faster than psycopg adapting arrays
    # element by element in Python).

    @staticmethod
    def _in_json(spec: TableSpec, key: str) -> str:
        pg_type = _PG_TYPES[spec.kinds[key]]
        return f"{key} IN (SELECT value::{pg_type} FROM json_array_elements_text(%s::json))"

    @staticmethod
    def _insert_json(spec: TableSpec, table: str) -> str:
        columns = ", ".join(spec.kinds)
        record = ", ".join(f"{c} {_PG_TYPES[k]}" for c, k in spec.kinds.items())
        return (
            f"INSERT INTO {table} ({columns}) SELECT {columns}"
            f" FROM json_to_recordset(%s::json) AS r({record})"
        )

    @staticmethod
    def _rows_json(columns: list[str], rows: list[dict]) -> str:
        return orjson.dumps([{c: row[c] for c in columns} for row in rows]).decode()

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
            rows = self._execute(f"{select} WHERE {self._in_json(spec, key)}", [orjson.dumps(keys).decode()])
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
            self._execute(f"{self._insert_json(spec, table)} {conflict}", [self._rows_json(columns, rows)])
            return
        placeholders = ", ".join(["%s"] * len(columns))
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) {conflict}"
        with self.connection.cursor() as cursor:
            cursor.executemany(query, [[self._to_db(spec.kinds[c], row[c]) for c in columns] for row in rows])

    def upsert_newer(self, logical: str, key: str, rows: list[dict], version: str = "version") -> set:
        """``upsert`` by one ``key`` column, except that a stored row is only
        replaced by one of a higher ``version``: a runner that read a row
        before another committed a newer one never puts the older back.
        Returns the keys of the rows written."""
        if not rows:
            return set()
        spec = self.specs[logical]
        columns = list(spec.kinds)
        table = self.name(logical)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
        conflict = (
            f"ON CONFLICT ({key}) DO UPDATE SET {updates} WHERE {table}.{version} < EXCLUDED.{version}"
            f" RETURNING {key}"
        )
        # One order for every writer: concurrent runners lock rows alike, never in a cycle.
        rows = sorted(rows, key=lambda row: row[key])
        if self.pg:
            insert = self._insert_json(spec, table)
            return {r[0] for r in self._execute(f"{insert} {conflict}", [self._rows_json(columns, rows)])}
        placeholders = ", ".join(["%s"] * len(columns))
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) {conflict}"
        written = set()
        with self.connection.cursor() as cursor:
            for row in rows:
                cursor.execute(query, [self._to_db(spec.kinds[c], row[c]) for c in columns])
                written |= {self._from_db(spec.kinds[key], r[0]) for r in cursor.fetchall()}
        return written

    def delete(self, logical: str, key: str, keys: Iterable) -> None:
        spec = self.specs[logical]
        keys = list(keys)
        if not keys:
            return
        table = self.name(logical)
        if self.pg:
            self._execute(
                f"DELETE FROM {table} WHERE {self._in_json(spec, key)}", [orjson.dumps(keys).decode()]
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
            self._execute(self._insert_json(spec, table), [self._rows_json(columns, rows)])
            return
        placeholders = ", ".join(["%s"] * len(columns))
        query = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
        with self.connection.cursor() as cursor:
            cursor.executemany(query, [[self._to_db(spec.kinds[c], row[c]) for c in columns] for row in rows])

    def update(self, logical: str, key: str, value, changes: dict) -> None:
        """Set ``changes`` on every row whose ``key`` column is ``value``."""
        spec = self.specs[logical]
        assignments = ", ".join(f"{column} = %s" for column in changes)
        params = [self._to_db(spec.kinds[c], v) for c, v in changes.items()]
        self._execute(
            f"UPDATE {self.name(logical)} SET {assignments} WHERE {key} = %s",
            [*params, self._to_db(spec.kinds[key], value)],
        )

    def truncate(self, logical: str) -> None:
        self._execute(f"DELETE FROM {self.name(logical)}")


class BufferedTables(Tables):
    """A write-behind cache over freshly created (empty) tables, for rebuilds.

    Rows live in memory, grouped by each table's group key (``group_keys``:
    the column projections fetch and delete by), and reach the database by
    COPY when ``flush`` is called, or when the cache grows past ``max_rows``.
    After a flush the cache starts over and misses are read back from the
    table, so memory stays bounded however long the log is.
    """

    def __init__(
        self, specs, using="default", rename=None, *, group_keys: dict[str, str], max_rows: int = 250_000
    ):
        super().__init__(specs, using, rename)
        self.group_keys = group_keys
        self.max_rows = max_rows
        self.groups: dict[str, dict] = {logical: {} for logical in specs}
        self.dirty: dict[str, set] = {logical: set() for logical in specs}
        self.flushed: set[str] = set()  # tables that have rows in the database
        # Hashes of the group keys written out: a key not among them has no
        # rows in the database, so a miss on it needs no query (a hash seen
        # twice only costs a query that finds nothing). A few MB per million.
        self.written: dict[str, set[int]] = {logical: set() for logical in specs}
        self.cached_rows = 0
        self._types: dict[str, list[int]] = {}  # table -> its columns' type oids, for COPY

    def _group(self, logical: str, key: str):
        if key != self.group_keys[logical]:
            raise ValueError(f"{logical} is grouped by {self.group_keys[logical]}, not {key}")
        return self.groups[logical]

    def fetch(self, logical: str, key: str, keys: Iterable) -> list[dict]:
        groups = self._group(logical, key)
        keys = list(keys)
        missing = [k for k in keys if k not in groups]
        if missing:
            for k in missing:
                groups[k] = []
            written = self.written[logical]
            stored = [k for k in missing if hash(k) in written]
            if stored:
                for row in super().fetch(logical, key, stored):
                    groups[row[key]].append(row)
        return [row for k in keys for row in groups[k]]

    def upsert(self, logical: str, key: Sequence[str], rows: list[dict]) -> None:
        group_key = self.group_keys[logical]
        groups, dirty = self.groups[logical], self.dirty[logical]
        for row in rows:
            g = row[group_key]
            group = groups.setdefault(g, [])
            for i, existing in enumerate(group):
                if all(existing[c] == row[c] for c in key):
                    group[i] = row
                    break
            else:
                group.append(row)
                self.cached_rows += 1
            dirty.add(g)

    def upsert_newer(self, logical: str, key: str, rows: list[dict], version: str = "version") -> set:
        # A rebuild is the tables' only writer: every row it folds is the newest.
        self.upsert(logical, [key], rows)
        return {row[key] for row in rows}

    def delete(self, logical: str, key: str, keys: Iterable) -> None:
        groups, dirty = self._group(logical, key), self.dirty[logical]
        for k in keys:
            self.cached_rows -= len(groups.get(k, ()))
            groups[k] = []
            dirty.add(k)

    def insert(self, logical: str, rows: list[dict]) -> None:
        group_key = self.group_keys[logical]
        groups, dirty = self.groups[logical], self.dirty[logical]
        for row in rows:
            groups.setdefault(row[group_key], []).append(row)
            dirty.add(row[group_key])
        self.cached_rows += len(rows)

    def update(self, logical: str, key: str, value, changes: dict) -> None:
        # Rows of any group may match: write the cache out, update in SQL,
        # and read back what is needed next.
        self.flush()
        Tables.update(self, logical, key, value, changes)

    def maybe_flush(self) -> None:
        if self.cached_rows > self.max_rows:
            self.flush()

    def flush(self) -> None:
        """Write every changed group (replacing what the table had for it)."""
        for logical, dirty in self.dirty.items():
            if not dirty:
                continue
            spec, groups = self.specs[logical], self.groups[logical]
            written = self.written[logical]
            stored = [g for g in dirty if hash(g) in written]
            if stored:
                Tables.delete(self, logical, self.group_keys[logical], stored)
            rows = [row for g in dirty for row in groups[g]]
            self._copy(logical, spec, rows)
            self.flushed.add(logical)
            written.update(hash(g) for g in dirty if groups[g])
        self.groups = {logical: {} for logical in self.specs}
        self.dirty = {logical: set() for logical in self.specs}
        self.cached_rows = 0

    def _copy(self, logical: str, spec: TableSpec, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(spec.kinds)
        if not self.pg:
            Tables.insert(self, logical, rows)
            return
        conn = self.connection
        conn.ensure_connection()
        table = self.name(logical)
        # Binary COPY: psycopg formats each row in C once it knows the
        # columns' types (text COPY formats every value in Python).
        values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        with conn.wrap_database_errors:
            cursor = raw_cursor(conn)
            types = self._types.get(table)
            if types is None:
                cursor.execute(
                    "SELECT attname, atttypid FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    [table],
                )
                oids = dict(rows_of(cursor))
                if missing := [c for c in columns if c not in oids]:
                    raise LookupError(f"{table} has no column {', '.join(missing)}: migrate first")
                types = self._types[table] = [oids[c] for c in columns]
            # Binary COPY would wrap an integer too large for its column
            # (text COPY and the live path refuse it): refuse it here too.
            for column, oid in zip(columns, types, strict=True):
                if bound := _INT_BOUNDS.get(oid):
                    found = [row[column] for row in rows if row[column] is not None]
                    if found and (min(found) < -bound or max(found) >= bound):
                        raise OverflowError(
                            f"{table}.{column}: a value does not fit the column's integer type"
                        )
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(values(row))
