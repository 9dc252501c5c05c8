"""A throwaway PgBouncer in transaction pooling mode in front of the test
server, for tests of what must work through a connection pooler.

``pgbouncer`` is a pytest fixture: it writes a config file of its own into a
temporary directory, starts ``pgbouncer`` (Debian package; as the postgres
OS user when we are root, since it refuses to run as root) on a free port of
127.0.0.1 with every database forwarded to the test server, and yields a
``Bouncer`` with the URL to reach a database through it. Skipped only when
the binary is missing (``make test`` installs it).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.replica import _run_as_postgres

BINARY = os.environ.get("PGBOUNCER", shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")
HOST = "127.0.0.1"

CONFIG = """
[databases]
* = host={db_host} port={db_port}

[pgbouncer]
listen_addr = {host}
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {root}/users.txt
pool_mode = transaction
admin_users = {user}
max_client_conn = 200
default_pool_size = 20
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {root}/pgbouncer.log
pidfile = {root}/pgbouncer.pid
"""


@dataclass(frozen=True)
class Bouncer:
    port: int
    root: Path

    def url(self, dbname: str, user: str = "postgres") -> str:
        return f"postgres://{user}@{HOST}:{self.port}/{dbname}"

    def transactions(self, dbname: str) -> int:
        """Transactions PgBouncer has pooled for ``dbname`` so far (SHOW STATS)."""
        with psycopg.connect(self.url("pgbouncer"), autocommit=True) as admin:
            cursor = admin.cursor()
            cursor.execute("SHOW STATS")
            columns = [c.name for c in cursor.description]
            for row in cursor.fetchall():
                stats = dict(zip(columns, row, strict=True))
                if stats["database"] == dbname:
                    return int(stats["total_xact_count"])
        return 0

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text()[-3000:] if path.exists() else ""


@pytest.fixture
def pgbouncer() -> Iterator[Bouncer]:
    if not Path(BINARY).exists():
        pytest.skip(f"pgbouncer not found ({BINARY}); `make test` installs it (Debian package pgbouncer)")
    from django.conf import settings

    db = settings.DATABASES["default"]
    root = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    as_postgres = _run_as_postgres(root)
    port = _free_port()
    (root / "users.txt").write_text(f'"{db.get("USER") or "postgres"}" ""\n')
    (root / "pgbouncer.ini").write_text(
        CONFIG.format(
            user=db.get("USER") or "postgres",
            db_host=db.get("HOST") or HOST,
            db_port=db.get("PORT") or 5432,
            host=HOST,
            port=port,
            root=root,
        )
    )
    if as_postgres:
        for path in root.iterdir():
            shutil.chown(path, "postgres", "postgres")
    process = subprocess.Popen([*as_postgres, BINARY, str(root / "pgbouncer.ini")], stdout=subprocess.DEVNULL)
    bouncer = Bouncer(port, root)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(bouncer.url("postgres"), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start:\n{bouncer.log()}") from None
                time.sleep(0.1)
        yield bouncer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]
