"""The stack ``bench http`` and ``bench scale`` drive: gunicorn (as ``make
run`` does), a Celery worker and beat, on a database of their own; and what
each of its processes costs (CPU from /proc, the worker's resident memory)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connections

from bench.support import progress
from eventstore.master_key import new_master_key

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# -- the stack -----------------------------------------------------------------------------


def database_url(alias: str) -> str:
    db = connections.databases[alias]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


_MASTER_KEYS: list[str] = []


def _bench_master_key() -> str:
    """One master key for every stack this benchmark process starts."""
    if not _MASTER_KEYS:
        _MASTER_KEYS.append(new_master_key())
    return _MASTER_KEYS[0]


class Stack:
    """gunicorn (the Procfile's web line), a Celery worker and beat."""

    def __init__(
        self,
        alias: str,
        logdir: Path,
        *,
        reservation: bool = False,
        env: dict[str, str] | None = None,
        workers: int = 1,
        concurrency: int = 2,
        beat: bool = True,
    ):
        self.workers, self.concurrency, self.beat = workers, concurrency, beat
        logdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.logdir = logdir
        redis_url = os.environ.get("REDIS_URL") or settings.REDIS_URL or "redis://127.0.0.1:6379/13"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(alias),
            "REDIS_URL": redis_url,
            "PROJECTIONS_MODE": "celery",
            # W5 measures the order commands themselves; a phase with the
            # fulfilment step turns it on.
            "INVENTORY_RESERVATION": "true" if reservation else "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-http-only"),
            # A database of its own: any master key of personal data will do,
            # the same for every stack on it (a second stack must read the
            # data keys the first one wrapped).
            "PII_MASTER_KEY": settings.PII_MASTER_KEY or _bench_master_key(),
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "Stack":
        try:
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start(self) -> None:
        workers = os.environ.get("WEB_CONCURRENCY", "2")
        self._spawn(
            "web",
            [str(BIN / "python"), "-m", "gunicorn", "config.wsgi:application",
             "--bind", f"127.0.0.1:{self.port}", "--workers", workers, "--threads", "4"],
            DJANGO_SETTINGS_MODULE="bench.settings",
        )  # fmt: skip
        for n in range(self.workers):
            self._spawn(
                f"worker{n}",
                [str(BIN / "celery"), "-A", "config", "worker", "-Q", "projections",
                 "--concurrency", str(self.concurrency),
                 "--hostname", f"bench{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                 "--loglevel", "INFO"],
                group="worker",
            )  # fmt: skip
        if self.beat:
            self._spawn(
                "beat",
                [
                    str(BIN / "celery"),
                    "-A",
                    "config",
                    "beat",
                    "--schedule",
                    str(self.logdir / "beat-schedule"),
                ],
            )
        self._wait(self._web_up, "gunicorn to serve")
        for n in range(self.workers):
            log = self.logdir / f"worker{n}.log"
            self._wait(lambda log=log: b"ready." in log.read_bytes(), "the Celery workers")
        progress(f"stack up at {self.base_url} (logs in {self.logdir})")

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if exc[0] is not None:
            for log in sorted(self.logdir.glob("*.log")):
                progress(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")

    def _spawn(self, name: str, args: list[str], group: str | None = None, **env: str) -> None:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        STACK_GROUPS[process.pid] = group or name  # its own session: group id = its pid
        self.processes.append(process)

    def projection_runs(self) -> int:
        """Projection tasks the worker has finished so far (from its log)."""
        return sum(log.read_bytes().count(b"succeeded in") for log in self.logdir.glob("worker*.log"))

    def _web_up(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _wait(self, condition, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"a process of the stack exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.1)


def cpu_by_process(database: str) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each process of the stack (by process
    group) and each PostgreSQL backend connected to the bench database,
    from /proc (Linux): where a command's cost goes."""
    with connections[database].cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        backends = {row[0] for row in cursor.fetchall()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        pid = int(stat.parent.name)
        fields = raw[raw.rindex(")") + 2 :].split()
        group = STACK_GROUPS.get(int(fields[2])) or ("postgres" if pid in backends else None)
        if group:
            out[pid] = (group, (int(fields[11]) + int(fields[12])) / tick)
    return out


def cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """Per group, what each process used between the two readings (one that
    exited meanwhile is left out rather than subtracted)."""
    out: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        out[group] = out.get(group, 0.0) + seconds - before.get(pid, (group, 0.0))[1]
    return out


STACK_GROUPS: dict[int, str] = {}  # process group id -> web, worker, beat


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(group: str) -> float:
    """Resident memory (MiB) of the stack's processes in ``group`` (e.g.
    the Celery worker: its main process and pool children), from /proc."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            raw = (status.parent / "stat").read_text()
            fields = raw[raw.rindex(")") + 2 :].split()
            if STACK_GROUPS.get(int(fields[2])) != group:
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue  # exited meanwhile
    return round(total / 1024, 1)
