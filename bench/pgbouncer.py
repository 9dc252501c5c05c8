"""A PgBouncer (transaction pooling) in front of the bench's PostgreSQL, for
``bench scale``; the Debian package's binary, run as the postgres OS user
when we are root (it refuses to run as root)."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.http_stack import STACK_GROUPS

CONFIG = """
[databases]
* = host={db_host} port={db_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {root}/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = {pool_size}
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {root}/pgbouncer.log
pidfile = {root}/pgbouncer.pid
"""


class PgBouncer:
    def __init__(self, db_host: str, db_port: int, user: str, pool_size: int = 20):
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not Path(binary).exists():
            raise SystemExit(
                "bench scale: needs pgbouncer (apt-get install pgbouncer; make test installs it)"
            )
        self.binary, self.user = binary, user
        self.root = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (self.root / "users.txt").write_text(f'"{user}" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            CONFIG.format(
                db_host=db_host, db_port=db_port, port=self.port, root=self.root, pool_size=pool_size
            )
        )
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in [self.root, *self.root.iterdir()]:
                os.chown(path, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.process: subprocess.Popen | None = None

    def url(self, dbname: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def __enter__(self) -> "PgBouncer":
        self.process = subprocess.Popen(
            [*self.prefix, self.binary, str(self.root / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        STACK_GROUPS[self.process.pid] = "pgbouncer"  # its CPU is counted with the stack's
        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
