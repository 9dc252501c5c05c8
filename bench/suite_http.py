"""``python manage.py bench http``: W5 and W6 through the real stack.

It starts gunicorn (as ``make run`` does), a Celery worker and beat on Redis,
against a PostgreSQL database of its own, and drives it over loopback HTTP
from separate client processes:

- W5: clients place orders and add items over REST, each command timed from
  request to response; then the same mix against a plain CRUD Django view
  that INSERTs or UPDATEs one row (``bench.crud``) on the same
  server, the yardstick for what event sourcing costs the caller.
- W6: during W5, a prober issues commands and reads each back with
  ``GET /api/orders/{id}`` and the command's ``X-Min-Position`` (the server
  answers once the read models have applied it): the time from the
  command's response to its effect being readable.

Then it checks the result: every command's event is stored once and the
read models, caught up, agree with the log.
"""

import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from bench.support import bench_database, progress
from eventstore.master_key import new_master_key

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WARMUP = 10  # commands per client not timed
FIRST_LINE = {"sku": "BASE-1", "quantity": 1, "price_cents": 999}


def run(options: dict[str, Any]) -> dict[str, Any]:
    scale = options.get("scale", 1.0)
    clients = int(options.get("clients") or 4)
    orders_per_client = max(10, int(100 * scale))
    items_per_order = 4
    with bench_database() as alias, tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        _create_baseline_table(alias)
        token = _token(alias)
        with Stack(alias, Path(tmp)) as stack:
            single = (token, 1, orders_per_client, items_per_order)
            progress("one client alone: the latency a caller sees on an idle stack")
            es_alone = _drive(stack.base_url, "/api/orders/", *single, alias=alias)
            crud_alone = _drive(stack.base_url, "/bench/crud/orders/", *single, alias=alias)
            progress("one client and the W6 prober")
            es_probed = _drive(stack.base_url, "/api/orders/", *single, alias=alias, probe=True)
            shape = f"{clients} clients x {orders_per_client} orders x {1 + items_per_order} commands"
            progress(f"W5 event-sourced: {shape}, and the W6 prober")
            runs_before = stack.projection_runs()
            load = (token, clients, orders_per_client, items_per_order)
            es = _drive(stack.base_url, "/api/orders/", *load, alias=alias, probe=True)
            runs = stack.projection_runs() - runs_before
            progress(f"W5 CRUD baseline: the same mix on {stack.base_url}/bench/crud/")
            crud = _drive(stack.base_url, "/bench/crud/orders/", *load, alias=alias)
            progress("waiting for the projections to catch up, then checking")
            _check(alias, [es_alone, es_probed, es])
    out = {
        "w5_commands_per_s": round(es["commands_per_s"], 1),
        "w5_p50_ms": es["p50_ms"],
        "w5_p99_ms": es["p99_ms"],
        "crud_commands_per_s": round(crud["commands_per_s"], 1),
        "crud_p50_ms": crud["p50_ms"],
        "crud_p99_ms": crud["p99_ms"],
        "w5_p50_vs_crud": round(es["p50_ms"] / crud["p50_ms"], 2),
        "w5_throughput_vs_crud": round(es["commands_per_s"] / crud["commands_per_s"], 2),
        "w6_lag_p50_ms": es["lag_p50_ms"],
        "w6_lag_p99_ms": es["lag_p99_ms"],
        "w6_samples": es["lag_samples"],
        "w5_1client_p50_ms": es_alone["p50_ms"],
        "crud_1client_p50_ms": crud_alone["p50_ms"],
        "w6_1client_lag_p50_ms": es_probed["lag_p50_ms"],
        "w6_1client_lag_p99_ms": es_probed["lag_p99_ms"],
        "w5_events_per_projection_run": round((es["commands"] + es["extra_commands"]) / max(runs, 1), 1),
        **es["cpu"],
        **{f"crud_{key}": value for key, value in crud["cpu"].items()},
        "clients": clients,
        "commands": es["commands"],
    }
    return out


# -- the stack -----------------------------------------------------------------------------


def _database_url(alias: str) -> str:
    db = connections.databases[alias]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


class Stack:
    """gunicorn (the Procfile's web line), a Celery worker and beat."""

    def __init__(self, alias: str, logdir: Path):
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.logdir = logdir
        redis_url = os.environ.get("REDIS_URL") or settings.REDIS_URL or "redis://127.0.0.1:6379/13"
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(alias),
            "REDIS_URL": redis_url,
            "PROJECTIONS_MODE": "celery",
            "INVENTORY_RESERVATION": "false",  # W5 measures the order commands themselves
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-http-only"),
            # A database of its own: any master key of personal data will do.
            "PII_MASTER_KEY": settings.PII_MASTER_KEY or new_master_key(),
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
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
        self._spawn(
            "worker",
            [str(BIN / "celery"), "-A", "config", "worker", "-Q", "projections", "--concurrency", "2",
             "--hostname", f"bench-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
             "--loglevel", "INFO"],
        )  # fmt: skip
        self._spawn(
            "beat",
            [str(BIN / "celery"), "-A", "config", "beat", "--schedule", str(self.logdir / "beat-schedule")],
        )
        self._wait(self._web_up, "gunicorn to serve")
        self._wait(lambda: b"ready." in (self.logdir / "worker.log").read_bytes(), "the Celery worker")
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

    def _spawn(self, name: str, args: list[str], **env: str) -> None:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        STACK_GROUPS[process.pid] = name  # its own session: group id = its pid
        self.processes.append(process)

    def projection_runs(self) -> int:
        """Projection tasks the worker has finished so far (from its log)."""
        return (self.logdir / "worker.log").read_bytes().count(b"succeeded in")

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


def _cpu_by_process(database: str) -> dict[int, tuple[str, float]]:
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


def _cpu_spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """Per group, what each process used between the two readings (one that
    exited meanwhile is left out rather than subtracted)."""
    out: dict[str, float] = {}
    for pid, (group, seconds) in after.items():
        out[group] = out.get(group, 0.0) + seconds - before.get(pid, (group, 0.0))[1]
    return out


STACK_GROUPS: dict[int, str] = {}  # process group id -> web, worker, beat


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_baseline_table(alias: str) -> None:
    from bench.crud import CREATE_TABLE

    with connections[alias].cursor() as cursor:
        cursor.execute(CREATE_TABLE)


def _token(alias: str) -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.db_manager(alias).create_user("bench-http", is_staff=True)
    return Token.objects.using(alias).create(user=user).key


# -- the load ------------------------------------------------------------------------------


def _client(base_url: str, place_path: str, token: str, n: int, orders: int, items: int, go, out) -> None:
    """Place ``orders`` orders and add ``items`` items to each; time each command."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    samples: list[float] = []
    placed: list[str] = []
    go.wait()
    started = time.perf_counter()
    done = 0
    for k in range(orders):
        body = {
            "customer_id": f"cust_{n}_{k % 50}",
            "items": [FIRST_LINE],
        }
        t = time.perf_counter()
        response = session.post(f"{base_url}{place_path}", json=body, timeout=60)
        elapsed = time.perf_counter() - t
        if response.status_code != 201:
            raise RuntimeError(f"place: {response.status_code} {response.text[:300]}")
        order = response.json()["order_id"]
        placed.append(order)
        done += 1
        if done > WARMUP:
            samples.append(elapsed)
        for i in range(items):
            line = {"sku": f"SKU-{i}", "quantity": 1 + i, "price_cents": 250}
            t = time.perf_counter()
            response = session.post(f"{base_url}{place_path}{order}/items", json=line, timeout=60)
            elapsed = time.perf_counter() - t
            if response.status_code != 200:
                raise RuntimeError(f"add item: {response.status_code} {response.text[:300]}")
            done += 1
            if done > WARMUP:
                samples.append(elapsed)
    out.put({"samples": samples, "placed": placed, "seconds": time.perf_counter() - started, "done": done})


def _prober(base_url: str, token: str, go, stop, out) -> None:
    """Command, then read it back with the command's consistency token."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    lags: list[float] = []
    placed: list[str] = []
    commands = 0
    go.wait()
    order, i = None, 0
    while not stop.is_set():
        if order is None or i == 4:
            body = {"customer_id": "cust_probe", "items": [FIRST_LINE]}
            response = session.post(f"{base_url}/api/orders/", json=body, timeout=60)
        else:
            line = {"sku": f"SKU-{i}", "quantity": 1, "price_cents": 250}
            response = session.post(f"{base_url}/api/orders/{order}/items", json=line, timeout=60)
        answered = time.perf_counter()
        if response.status_code not in (200, 201):
            raise RuntimeError(f"probe: {response.status_code} {response.text[:300]}")
        result = response.json()
        if response.status_code == 201:
            order, i = result["order_id"], 0
            placed.append(order)
        else:
            i += 1
        commands += 1
        # The read waits on the server (read-your-writes) until the read
        # models have applied the command's event, then answers.
        headers = {"X-Min-Position": str(result["position"])}
        while True:
            read = session.get(f"{base_url}/api/orders/{order}", headers=headers, timeout=60)
            if read.status_code == 200 and read.json()["version"] >= result["version"]:
                lags.append(time.perf_counter() - answered)
                break
            if read.status_code != 503 or time.perf_counter() - answered > 60:
                raise RuntimeError(f"order {order} version {result['version']}: {read.status_code}")
    out.put({"lags": lags, "placed": placed, "commands": commands})


def _drive(base_url, place_path, token, clients, orders, items, *, alias, probe=False) -> dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    connections.close_all()  # the children only speak HTTP
    go, stop, out, probe_out = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(target=_client, args=(base_url, place_path, token, n, orders, items, go, out))
        for n in range(clients)
    ]
    prober = ctx.Process(target=_prober, args=(base_url, token, go, stop, probe_out)) if probe else None
    everyone = procs + ([prober] if prober else [])
    for p in everyone:
        p.start()
    time.sleep(1.0)  # let them import
    _caught_up(alias)
    cpu_before = _cpu_by_process(alias)
    start = time.perf_counter()
    go.set()
    results = [_collect(out, everyone) for _ in procs]
    wall = time.perf_counter() - start
    stop.set()
    probed = _collect(probe_out, everyone) if prober else {"lags": [], "placed": [], "commands": 0}
    _caught_up(alias)  # the projections' share of the work is part of the cost
    cpu_after = _cpu_by_process(alias)
    for p in everyone:
        p.join(30)
        if p.exitcode != 0:
            raise RuntimeError(f"a client process exited with {p.exitcode}")
    samples = sorted(s for r in results for s in r["samples"])
    lags = sorted(probed["lags"])
    total = sum(r["done"] for r in results)
    commands = total + probed["commands"]
    spent = _cpu_spent(cpu_before, cpu_after)
    cpu = {
        f"cpu_ms_per_command_{group}": round(spent.get(group, 0.0) * 1000 / commands, 2)
        for group in ("web", "worker", "postgres")
    }
    return {
        "cpu": cpu,
        "commands": total,
        "commands_per_s": total / wall,
        "p50_ms": _ms(statistics.median(samples)),
        "p99_ms": _ms(_quantile(samples, 0.99)),
        "lag_p50_ms": _ms(statistics.median(lags)) if lags else None,
        "lag_p99_ms": _ms(_quantile(lags, 0.99)) if lags else None,
        "lag_samples": len(lags),
        "placed": [o for r in results for o in r["placed"]] + probed["placed"],
        "extra_commands": probed["commands"],
    }


def _collect(queue, processes, timeout: float = 900) -> dict[str, Any]:
    """The next result, or an error as soon as a client process has died."""
    import queue as queues

    deadline = time.monotonic() + timeout
    while True:
        try:
            return queue.get(timeout=1)
        except queues.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"a client process failed (exit codes {dead})") from None


def _caught_up(alias: str, timeout: float = 120) -> None:
    """Wait until every projection has reached the head of the log, in
    (transaction id, position) order."""
    deadline = time.monotonic() + timeout
    with connections[alias].cursor() as cursor:
        while True:
            cursor.execute("SELECT tx_id, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1")
            head = cursor.fetchone()
            cursor.execute("SELECT tx_id, position FROM projection_checkpoints")
            checkpoints = cursor.fetchall()
            if head is None or (checkpoints and all(tuple(cp) >= tuple(head) for cp in checkpoints)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"projections did not reach {head} in {timeout} s")
            time.sleep(0.05)


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# -- the check -----------------------------------------------------------------------------


def _check(alias: str, phases: list[dict[str, Any]]) -> None:
    """Every command stored once; the read models reach the head and agree."""
    expected_events = sum(p["commands"] + p["extra_commands"] for p in phases)
    placed = sum(len(p["placed"]) for p in phases)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events WHERE aggregate_type = 'Order'"
        )
        stored, _ = cursor.fetchone()
        if stored != expected_events:
            raise RuntimeError(f"{expected_events} commands answered but {stored} order events stored")
        _caught_up(alias)
        cursor.execute(
            "SELECT COUNT(*) FROM order_list o WHERE o.version ="
            " (SELECT MAX(version) FROM events e WHERE e.aggregate_id = o.order_id)"
        )
        (agreeing,) = cursor.fetchone()
        if agreeing != placed:
            raise RuntimeError(f"order_list agrees with the log on {agreeing} of {placed} orders")
    progress(f"checked: {stored} events, {agreeing} orders in the read model at their latest version")
