"""Ctrl-C on `make run`: the terminal sends SIGINT to honcho, which sends
SIGTERM to each Procfile process's group. The Celery worker stops warm: it
finishes the task in flight, prints no traceback and exits 0."""

import contextlib
import os
import re
import signal
import subprocess
import uuid

import pytest

from config.celery import app
from tests.e2e.conftest import BIN, ROOT, Stack
from tests.support import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.mark.skipif(not (ROOT / ".venv/bin/celery").exists(), reason="the Procfile runs .venv/bin/celery")
def test_ctrl_c_stops_the_worker_warm_with_its_task_done(transactional_db, redis_server, tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    env = Stack(redis_server, logdir, beat_seconds=60).env
    # A nudged projection run follows the log until it has been idle this long:
    # a task that is still running when Ctrl-C comes.
    env["PROJECTION_FOLLOW_IDLE"] = "3"
    env["LOG_FORMAT"] = "console"
    log = logdir / "honcho.log"
    # No .env: honcho would lay a checkout's .env over this environment.
    with open(log, "wb") as out:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", "Procfile", "-e", str(tmp_path / "no.env"), "worker"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(lambda: b"ready." in log.read_bytes(), 30, "the Celery worker to start")
        task_id = str(uuid.uuid4())
        with app.connection_for_write(redis_server.url) as connection:
            app.send_task("projections.tasks.run_projections", task_id=task_id, connection=connection)
        wait_until(lambda: f"{task_id}] received".encode() in log.read_bytes(), 10, "the task to arrive")
        # Ctrl-C: SIGINT to the terminal's foreground process group (honcho's).
        os.killpg(honcho.pid, signal.SIGINT)
        honcho.wait(30)
    finally:
        if honcho.poll() is None:  # the worker leads a process group of its own (honcho's "started")
            for pgid in [honcho.pid, *map(int, re.findall(r"started \(pid=(\d+)\)", log.read_text()))]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            honcho.wait(10)
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output
    assert "WorkerLostError" not in output, output
    assert f"{task_id}] succeeded" in output, output
    assert "worker.1 stopped (rc=0)" in output, output
