"""A throwaway PostgreSQL primary with a streaming hot standby, for tests of
what must (or must not) happen on a read replica.

``streaming_pair`` is a session-scoped pytest fixture: it initdb's a primary
into a temporary directory, starts it on a free port of 127.0.0.1 (trust
authentication, replication allowed), clones it with ``pg_basebackup -R``,
starts the clone as a hot standby on another port, and yields both as a
``StreamingPair``. Both are stopped and removed afterwards. It is skipped
only when the PostgreSQL server binaries are missing (``PG_BIN``, default
/usr/lib/postgresql/15/bin). Startup takes a few seconds: small buffers, no
fsync.

Use it from a test module with ``from tests.replica import streaming_pair``
(or list ``tests.replica`` in ``pytest_plugins``); ``database_alias`` gives a
server a Django database alias for the duration of a ``with`` block. Neither
server is the test database: tests migrate what they need
(``call_command("migrate", database=alias)``, about a second) and open DB
access themselves (``django_db_blocker.unblock()``).
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
HOST = "127.0.0.1"

CONF = """
listen_addresses = '{host}'
unix_socket_directories = '{sockets}'
shared_buffers = 16MB
max_connections = 30
fsync = off
synchronous_commit = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
"""
HBA = f"""
local all all trust
host all all {HOST}/32 trust
host replication all {HOST}/32 trust
"""


@dataclass(frozen=True)
class Server:
    port: int
    datadir: Path

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={HOST} port={self.port} user=postgres dbname={dbname}"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), **kwargs)


@dataclass(frozen=True)
class StreamingPair:
    primary: Server
    standby: Server

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary has
        committed so far."""
        with self.primary.connect(autocommit=True) as primary:
            # The primary commits asynchronously: the last commit's record may
            # still sit in its WAL buffers, past pg_current_wal_lsn(). One
            # synchronous commit of a transaction that wrote WAL (a message
            # for logical decoding, which nothing reads) flushes it all.
            primary.execute("SET synchronous_commit = on")
            primary.execute("SELECT pg_logical_emit_message(true, 'wait_replayed', '')")
            [(lsn,)] = primary.execute("SELECT pg_current_wal_lsn()").fetchall()
        deadline = time.monotonic() + timeout
        with self.standby.connect(autocommit=True) as standby:
            while not standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the standby did not replay up to {lsn} in {timeout}s")
                time.sleep(0.02)

    @contextmanager
    def standby_cut_off(self, timeout: float = 30.0) -> Iterator[None]:
        """Inside the block the standby streams from nothing: its
        primary_conninfo names a port where no server listens, so its WAL
        receiver stops and keeps failing to reconnect (a primary it can no
        longer reach). Afterwards it streams from the primary again and has
        replayed everything."""
        with self.standby.connect(autocommit=True) as standby:
            [(conninfo,)] = standby.execute("SHOW primary_conninfo").fetchall()
            nowhere = f"host={HOST} port={_free_port()} user=postgres"
            try:
                standby.execute(f"ALTER SYSTEM SET primary_conninfo = '{nowhere}'")
                standby.execute("SELECT pg_reload_conf()")
                _wait_streaming(standby, False, timeout)
                yield
            finally:
                escaped = conninfo.replace("'", "''")
                standby.execute(f"ALTER SYSTEM SET primary_conninfo = '{escaped}'")
                standby.execute("SELECT pg_reload_conf()")
                _wait_streaming(standby, True, timeout)
        self.wait_replayed(timeout)


def _wait_streaming(standby: psycopg.Connection, streaming: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    query = "SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')"
    while standby.execute(query).fetchone()[0] != streaming:
        if time.monotonic() > deadline:
            raise AssertionError(f"the standby's WAL receiver did not {'' if streaming else 'stop '}stream")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def streaming_pair() -> Iterator[StreamingPair]:
    missing = [tool for tool in TOOLS if not (PG_BIN / tool).exists()]
    if missing:
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} ({', '.join(missing)}); set PG_BIN")
    root = Path(tempfile.mkdtemp(prefix="pg-pair-"))
    as_postgres = _run_as_postgres(root)
    started: list[Path] = []
    try:
        primary = Server(_free_port(), root / "primary")
        _run([*as_postgres, PG_BIN / "initdb", "-D", primary.datadir, "-U", "postgres", "--auth=trust",
              "--encoding=UTF8", "--no-sync"])  # fmt: skip
        with open(primary.datadir / "postgresql.conf", "a") as conf:
            conf.write(CONF.format(host=HOST, sockets=root))
        (primary.datadir / "pg_hba.conf").write_text(HBA)
        _start(as_postgres, primary, root)
        started.append(primary.datadir)

        standby = Server(_free_port(), root / "standby")
        _run([*as_postgres, PG_BIN / "pg_basebackup", "-h", HOST, "-p", str(primary.port), "-U", "postgres",
              "-D", standby.datadir, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])  # fmt: skip
        _start(as_postgres, standby, root)
        started.append(standby.datadir)
        yield StreamingPair(primary, standby)
    finally:
        for datadir in reversed(started):
            subprocess.run(
                [*as_postgres, PG_BIN / "pg_ctl", "stop", "-D", datadir, "-m", "immediate", "-w"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def database_alias(alias: str, server: Server, dbname: str = "postgres") -> Iterator[str]:
    """``server`` as the Django database ``alias`` inside the block."""
    from django.db import connections

    connections.databases[alias] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": dbname,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": HOST,
        "PORT": str(server.port),
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {},
        "TIME_ZONE": None,
        "TEST": {"CHARSET": None, "COLLATION": None, "MIGRATE": True, "MIRROR": None, "NAME": None},
    }
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.databases[alias]


def _run_as_postgres(root: Path) -> list[str]:
    """The command prefix that runs a server tool as the ``postgres`` OS user
    when we are root (the server refuses to run as root), else nothing."""
    if os.geteuid() != 0:
        return []
    user = pwd.getpwnam("postgres")
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def _start(as_postgres: list, server: Server, root: Path) -> None:
    log = root / f"{server.datadir.name}.log"
    try:
        _run([*as_postgres, PG_BIN / "pg_ctl", "start", "-D", server.datadir, "-l", log,
              "-o", f"-p {server.port}", "-w", "-t", "60"])  # fmt: skip
    except RuntimeError as exc:
        tail = log.read_text()[-2000:] if log.exists() else "(no log)"
        raise RuntimeError(f"{exc}\n--- {log.name} ---\n{tail}") from None


def _run(command: list) -> None:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        shown = " ".join(str(part) for part in command)
        raise RuntimeError(f"{shown} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]
