"""Benchmark plumbing shared by the suites of ``python manage.py bench``.

A suite is a function ``(options) -> dict`` registered under a name; apps
register theirs in ``AppConfig.ready`` so that ``eventstore`` needs to know
nothing of the apps built on it. Each suite runs in a database of its own,
created and dropped here.
"""

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connections

Suite = Callable[[dict[str, Any]], dict[str, Any]]
SUITES: dict[str, Suite] = {}


def register_suite(name: str, suite: Suite) -> None:
    SUITES[name] = suite


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


class Timer:
    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


@contextmanager
def bench_database(alias: str = "bench") -> Iterator[str]:
    """A new, migrated PostgreSQL database under ``alias``; dropped afterwards."""
    default = connections.databases["default"]
    if default["ENGINE"] != "django.db.backends.postgresql":
        raise SystemExit("bench: needs PostgreSQL; set DATABASE_URL=postgres://...")
    name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = connections["default"]
    with admin._nodb_cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connections.databases[alias] = {**default, "NAME": name, "CONN_MAX_AGE": None, "TEST": {}}
    try:
        progress(f"created database {name}; migrating")
        call_command("migrate", database=alias, verbosity=0, interactive=False)
        yield alias
    finally:
        connections[alias].close()
        connections.databases.pop(alias, None)
        with admin._nodb_cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        progress(f"dropped database {name}")


@contextmanager
def as_default_database() -> Iterator[None]:
    """A new bench database that code using the "default" alias (the ORM,
    command handlers, the test client) works against for the duration."""
    with bench_database("default_bench") as alias:
        saved = connections.databases["default"]
        connections["default"].close()
        del connections["default"]
        connections.databases["default"] = connections.databases[alias]
        try:
            yield
        finally:
            connections["default"].close()
            del connections["default"]
            connections.databases["default"] = saved


def run_in_processes(target, shares: list, prepare=None) -> float:
    """Run ``target(share) -> count`` in one forked process per share, all
    started together once each has run ``prepare()`` (e.g. connected);
    the total count per second of wall time."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    connections.close_all()
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()

    def child(share):
        state = prepare() if prepare else None
        ready.release()
        go.wait()
        out.put(target(share, state) if prepare else target(share))
        connections.close_all()

    procs = [ctx.Process(target=child, args=(share,)) for share in shares]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    start = time.perf_counter()
    go.set()
    total = sum(out.get(timeout=600) for _ in procs)
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a benchmark process exited with {p.exitcode}")
    return total / elapsed


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a PostgreSQL backend has used so far, from
    Linux's /proc, in clock ticks (10 ms); None when the server is not a
    process of this machine (remote, or in a container of its own)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    if not raw[raw.index("(") + 1 :].startswith("postgres"):
        return None  # another process with that number: not the backend
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
