"""Reads from a real streaming replica (``tests.replica``): the app, started
with DATABASE_REPLICA_URL, serves its read side from the standby (its
transaction count grows), skips a replica that is down, and keeps
read-your-writes while the standby's replay is paused: a read with the
command's consistency token waits on the replica, then answers from the
primary, never with the stale row (read models, and the order's history and
state alike); a replica that far behind is skipped, and so is one cut off
from its primary. After a lost race, the order page lists what the command
lost to from the primary."""

import os
import re
import subprocess
import time

import pytest
import requests
from django.core.management import call_command

from config import replicas
from projections import runner
from projections.base import registry
from tests.e2e.conftest import BIN, ROOT, free_port
from tests.replica import database_alias, streaming_pair  # noqa: F401 (a fixture)
from tests.support import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]

DB = "orders_replica"


def xact_commit(server) -> int:
    with server.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [DB]).fetchone()[0]


@pytest.fixture
def app_on_a_pair(streaming_pair, django_db_blocker, tmp_path, settings):  # noqa: F811
    pair = streaming_pair
    with pair.primary.connect(autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    settings.PROJECTIONS_MODE = "off"
    with django_db_blocker.unblock(), database_alias("rep_primary", pair.primary, DB) as alias:
        call_command("migrate", database=alias, verbosity=0)
        from django.contrib.auth.models import User
        from rest_framework.authtoken.models import Token

        user = User.objects.db_manager(alias).create_user("replica-staff", is_staff=True)
        token = Token.objects.using(alias).create(user=user).key
        port = free_port()
        dead = f"postgres://postgres@127.0.0.1:{free_port()}/{DB}"  # nothing listens there
        env = {
            **os.environ,
            "DATABASE_URL": pair.primary.url(DB),
            "DATABASE_REPLICA_URL": f"{dead},{pair.standby.url(DB)}",
            "REPLICA_WAIT_SECONDS": "0.5",
            "REPLICA_CHECK_SECONDS": "0.5",
            "READ_YOUR_WRITES_TIMEOUT": "5",
            "PROJECTIONS_MODE": "off",
            "REDIS_URL": "",
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": "e2e-tests-only",
            "DEBUG": "false",
            "PYTHONUNBUFFERED": "1",
        }
        log = open(tmp_path / "web.log", "ab")  # noqa: SIM115 - closed below
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--threads", "4"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        try:
            wait_until(lambda: _up(base), 30, "gunicorn to serve")
            yield pair, alias, base, session
        finally:
            web.terminate()
            web.wait(20)
            log.close()
            with pair.standby.connect(autocommit=True) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
            print((tmp_path / "web.log").read_text()[-3000:])


def project(alias: str) -> None:
    """Run the read models on the pair's primary (the app's worker would)."""
    for projection in registry.projections():
        runner.run_projection(projection, using=alias)


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_reads_are_served_by_the_replica_and_read_your_writes_holds_under_replica_lag(
    app_on_a_pair, settings
):
    pair, alias, base, session = app_on_a_pair
    for sku, price in (("WIDGET-A", 1999), ("BOLT-7", 25)):  # orders are priced from the catalogue
        product = {"sku": sku, "name": sku, "price_cents": price}
        assert session.post(f"{base}/api/products/", json=product, timeout=30).status_code == 201
    body = {"customer_id": "cust_rep", "items": [{"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}]}
    placed = session.post(f"{base}/api/orders/", json=body, timeout=30)
    assert placed.status_code == 201, placed.text
    order = placed.json()["order_id"]
    project(alias)
    pair.wait_replayed()

    before = xact_commit(pair.standby)
    for _ in range(10):
        read = session.get(f"{base}/api/orders/{order}", timeout=30)
        assert read.status_code == 200 and read.json()["version"] == 1, read.text
        listed = session.get(f"{base}/api/orders/?customer_id=cust_rep", timeout=30)
        assert [o["order_id"] for o in listed.json()["results"]] == [order]
    wait_until(lambda: xact_commit(pair.standby) >= before + 20, 15, "the standby to count the reads")

    # The standby stops replaying: what the primary commits now is not there.
    with pair.standby.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    added = session.post(
        f"{base}/api/orders/{order}/items",
        json={"sku": "BOLT-7", "quantity": 1, "price_cents": 25},
        timeout=30,
    )
    assert added.status_code == 200, added.text
    project(alias)
    time.sleep(0.5)  # the primary has it, the paused standby cannot
    stale = session.get(f"{base}/api/orders/{order}", timeout=30)
    assert stale.status_code == 200 and stale.json()["version"] == 1  # served by the lagging replica

    token = added.json()["consistency_token"]
    started = time.monotonic()
    fresh = session.get(f"{base}/api/orders/{order}", headers={"X-Min-Position": token}, timeout=30)
    waited = time.monotonic() - started
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["version"] == 2 and len(fresh.json()["items"]) == 2  # never the stale row
    assert fresh.headers["X-Consistency-Token"] >= token
    assert waited >= 0.5  # it gave the replica its chance first

    # A replica replaying further behind than REPLICA_MAX_LAG_SECONDS is skipped.
    with database_alias("replica_paused", pair.standby, DB) as paused:
        settings.REPLICA_MAX_LAG_SECONDS = 60
        assert replicas._check(paused, alias)
        settings.REPLICA_MAX_LAG_SECONDS = 0.2
        assert not replicas._check(paused, alias)

    with pair.standby.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    pair.wait_replayed()
    caught = session.get(f"{base}/api/orders/{order}", headers={"X-Min-Position": token}, timeout=30)
    assert caught.json()["version"] == 2


def place_an_order(base: str, session: requests.Session) -> str:
    for sku, price in (("WIDGET-A", 1999), ("BOLT-7", 25)):  # orders are priced from the catalogue
        product = {"sku": sku, "name": sku, "price_cents": price}
        assert session.post(f"{base}/api/products/", json=product, timeout=30).status_code == 201
    body = {"customer_id": "cust_rep", "items": [{"sku": "WIDGET-A", "quantity": 2, "price_cents": 1999}]}
    placed = session.post(f"{base}/api/orders/", json=body, timeout=30)
    assert placed.status_code == 201, placed.text
    return placed.json()["order_id"]


def add_bolt(base: str, session: requests.Session, order: str) -> requests.Response:
    added = session.post(
        f"{base}/api/orders/{order}/items",
        json={"sku": "BOLT-7", "quantity": 1, "price_cents": 25},
        timeout=30,
    )
    assert added.status_code == 200, added.text
    return added


def test_a_replica_cut_off_from_its_primary_is_skipped(app_on_a_pair):
    pair, alias, base, session = app_on_a_pair
    order = place_an_order(base, session)
    project(alias)
    pair.wait_replayed()
    first = session.get(f"{base}/api/orders/{order}", timeout=30)
    assert first.status_code == 200 and first.json()["version"] == 1, first.text

    with pair.standby_cut_off():
        add_bolt(base, session, order)
        project(alias)
        # The standby has replayed all it received, so its replay looks current:
        # reads must still leave it (within REPLICA_CHECK_SECONDS) for the primary.
        wait_until(
            lambda: session.get(f"{base}/api/orders/{order}", timeout=30).json()["version"] == 2,
            10,
            "reads to leave the replica that is cut off from its primary",
        )
        history = session.get(f"{base}/api/orders/{order}/events", timeout=30).json()["events"]
        assert [e["version"] for e in history] == [1, 2]


def test_an_orders_history_and_state_honour_the_consistency_token_on_a_lagging_replica(app_on_a_pair):
    pair, alias, base, session = app_on_a_pair
    order = place_an_order(base, session)
    project(alias)
    pair.wait_replayed()
    with pair.standby.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    token = add_bolt(base, session, order).json()["consistency_token"]
    project(alias)

    started = time.monotonic()
    history = session.get(f"{base}/api/orders/{order}/events", headers={"X-Min-Position": token}, timeout=30)
    assert history.status_code == 200, history.text
    assert [e["version"] for e in history.json()["events"]] == [1, 2]
    assert history.headers["X-Consistency-Token"] >= token  # from the primary, where the runner has it
    assert time.monotonic() - started >= 0.5  # it gave the replica its chance first

    state = session.get(f"{base}/api/orders/{order}/state", headers={"X-Min-Position": token}, timeout=30)
    assert state.status_code == 200, state.text
    assert state.json()["version"] == 2 and len(state.json()["items"]) == 2
    assert state.headers["X-Consistency-Token"] >= token

    stale = session.get(f"{base}/api/orders/{order}/events", timeout=30)
    assert [e["version"] for e in stale.json()["events"]] == [1]  # the paused replica's, without a token
    assert stale.headers["X-Consistency-Token"] < token  # and it says so

    bad = session.get(f"{base}/api/orders/{order}/state", headers={"X-Min-Position": "nonsense"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-min-position")


def test_after_a_lost_race_the_order_page_lists_the_change_it_lost_to(app_on_a_pair):
    pair, alias, base, session = app_on_a_pair
    from django.contrib.auth.models import User

    User.objects.db_manager(alias).create_user("replica-manager", password="s3cret-pass", is_staff=True)
    order = place_an_order(base, session)
    project(alias)
    pair.wait_replayed()
    browser = requests.Session()
    login = browser.get(f"{base}/accounts/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    signed_in = browser.post(
        f"{base}/accounts/login/",
        data={"username": "replica-manager", "password": "s3cret-pass", "csrfmiddlewaretoken": csrf},
        timeout=30,
    )
    assert signed_in.status_code == 200 and "/accounts/login/" not in signed_in.url

    with pair.standby.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    add_bolt(base, session, order)  # someone else's change, which the replica has not replayed
    project(alias)
    # The page this user had open showed version 1.
    form = {
        "sku": "WIDGET-A",
        "quantity": "1",
        "version": "1",
        "csrfmiddlewaretoken": browser.cookies["csrftoken"],
    }
    page = browser.post(f"{base}/orders/{order}/add", data=form, timeout=30)
    assert page.status_code == 200 and f"/orders/{order}/" in page.url
    assert 'id="conflict"' in page.text  # what changed since: BOLT-7 added
    assert "BOLT-7" in page.text.split('id="conflict"', 1)[1].split("</div>", 1)[0]
    version = re.search(r'id="add-heading".*?name="version" value="([0-9]+)"', page.text, re.S)
    assert version and version.group(1) == "2"  # submitting again acts on what the user now sees
