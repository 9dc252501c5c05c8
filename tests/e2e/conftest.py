"""The running system for end-to-end tests: a dedicated Redis server, the web
app under gunicorn, Celery workers and beat, all as real processes against
the test database."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from tests.support import parse_metrics, token_for, wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server that tests may stop and start."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.ping, 10, "redis-server to answer")

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Stack:
    """gunicorn + Celery workers + beat on the test database."""

    METRICS_TOKEN = "e2e-metrics-token"
    LAG_ALERT_SECONDS = 3

    def __init__(self, redis_server: RedisServer, logdir: Path, beat_seconds: float):
        db = django_settings.DATABASES["default"]
        self.redis = redis_server
        self.logdir = logdir
        # Prometheus multiprocess mode, as `make run`: a fresh directory per stack.
        self.metrics_dir = logdir.parent / "prometheus"
        self.metrics_dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": "postgres://{}@{}:{}/{}".format(
                db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["NAME"]
            ),
            "REDIS_URL": redis_server.url,
            "PROJECTIONS_MODE": "celery",
            "PROJECTION_BEAT_SECONDS": str(beat_seconds),
            "PROJECTION_BATCH_SIZE": "50",
            # Tests that are about stock turn it on (stack.reservations(True)).
            "INVENTORY_RESERVATION": "false",
            "SECRET_KEY": "e2e-tests-only",
            "DEBUG": "false",
            "CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
            "LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "METRICS_TOKEN": self.METRICS_TOKEN,
            "PROJECTION_LAG_ALERT_SECONDS": str(self.LAG_ALERT_SECONDS),
        }  # fmt: skip
        self.workers: list[subprocess.Popen] = []
        self.others: list[subprocess.Popen] = []

    def reservations(self, on: bool) -> None:
        """Orders wait for stock (the fulfilment process) in the app's
        processes started from now on, and in this test process."""
        self.env["INVENTORY_RESERVATION"] = "true" if on else "false"
        django_settings.INVENTORY_RESERVATION = on

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        """Another process of the app (e.g. a management command), stopped with the stack."""
        process = self._spawn(name, args)
        self.others.append(process)
        return process

    def start_web(self) -> None:
        self.others.append(
            self._spawn(
                "web",
                [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi:application",
                 "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "1", "--threads", "8", "--timeout", "60"],
            )
        )  # fmt: skip
        wait_until(self._web_up, 30, "gunicorn to serve")

    def _web_up(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        worker = self._spawn(
            f"worker{n}",
            [str(BIN / "celery"), "-A", "config", "worker", "-Q", "projections", "--pool", "solo",
             "--hostname", f"e2e{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
        )  # fmt: skip
        self.workers.append(worker)
        log = self.logdir / f"worker{n}.log"
        wait_until(lambda: b"ready." in log.read_bytes(), 30, "the Celery worker to start")
        return worker

    def start_beat(self) -> None:
        self.others.append(
            self._spawn(
                "beat",
                [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO",
                 "--schedule", str(self.logdir / "beat-schedule")],
            )
        )  # fmt: skip

    def kill(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        for process in self.workers + self.others:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers + self.others:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(process)

    def log_lines(self, name: str) -> list[dict]:
        """The JSON lines of one process's log (``web``, ``worker0``, ``beat``);
        anything else it printed (Celery's banner) left out."""
        lines = []
        for raw in (self.logdir / f"{name}.log").read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
        return lines

    def metrics(self) -> dict[str, float]:
        """GET /metrics (with the token), parsed: {'name{label="value",...}': value}."""
        response = requests.get(
            f"{self.base_url}/metrics", headers={"Authorization": f"Bearer {self.METRICS_TOKEN}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        return parse_metrics(response.text)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logdir.glob("*.log")))


@pytest.fixture
def fast_password_hashing():
    """Overrides the suite-wide MD5 hasher: the app under test runs in its own
    processes with the real hashers, and must verify these passwords."""


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(transactional_db, redis_server, tmp_path, settings, request):
    """The app, one worker and beat (every 0.5 s). Tests add workers or kill
    them through the returned object."""
    settings.PROJECTIONS_MODE = "off"  # this process only writes and checks
    logdir = tmp_path / "logs"
    logdir.mkdir()
    running = Stack(redis_server, logdir, beat_seconds=getattr(request, "param", 0.5))
    marker = request.node.get_closest_marker("reservations")
    if marker is not None:
        running.reservations(True)
        settings.INVENTORY_RESERVATION = True
    try:
        running.start_web()
        yield running
    finally:
        running.stop()
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(running.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def token(transactional_db, staff):
    """The API token of a staff user, who may send commands and read everything."""
    return token_for(staff)
