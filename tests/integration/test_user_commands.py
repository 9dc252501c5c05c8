"""Running the application from the command line: `create_user` gives a
user one of the roles (viewer, manager, staff) and what the web UI lets each
do follows; a missing or unreachable database is one clear line, not a
traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from orders.http import can_manage
from tests.support import login

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def create_user(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "role, staff, manages, audit",
    [("viewer", False, False, 403), ("manager", False, True, 403), ("staff", True, True, 200)],
)
def test_create_user_gives_the_role_and_the_pages_follow(role, staff, manages, audit):
    out = create_user("alice", "--role", role, "--password", "a long pass phrase 42")

    user = User.objects.get(username="alice")
    assert f"Created user 'alice' as {role}" in out and "Password:" not in out
    assert user.check_password("a long pass phrase 42")
    assert (user.is_staff, can_manage(user)) == (staff, manages)
    client = login(None)
    assert client.login(username="alice", password="a long pass phrase 42")
    assert client.get("/orders/").status_code == 200
    assert client.get("/audit/").status_code == audit


def test_create_user_prints_a_generated_password_that_signs_in():
    out = create_user("bob", "--role", "viewer")

    password = next(line for line in out.splitlines() if line.startswith("Password: ")).split(": ", 1)[1]
    assert len(password) >= 12
    assert login(None).login(username="bob", password=password)


def test_create_user_refuses_an_existing_name_unless_updating():
    create_user("carol", "--role", "viewer", "--password", "first pass phrase 1")

    with pytest.raises(CommandError, match="a user 'carol' already exists; pass --update"):
        create_user("carol", "--role", "staff")
    assert not User.objects.get(username="carol").is_staff

    out = create_user("carol", "--role", "manager", "--update")
    carol = User.objects.get(username="carol")
    assert "Updated user 'carol' as manager" in out and "Password:" not in out
    assert can_manage(carol) and not carol.is_staff
    assert carol.check_password("first pass phrase 1")  # kept: no --password given

    create_user("carol", "--role", "viewer", "--update", "--password", "second pass phrase 2")
    carol = User.objects.get(username="carol")
    assert not can_manage(carol) and carol.check_password("second pass phrase 2")


def test_create_user_refuses_a_weak_password_an_unknown_role_and_updating_nobody():
    with pytest.raises(CommandError, match="the password is refused"):
        create_user("dave", "--role", "viewer", "--password", "123")
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        create_user("dave", "--role", "admin")
    with pytest.raises(CommandError, match="no user 'dave' to update"):
        create_user("dave", "--role", "viewer", "--update")
    assert not User.objects.filter(username="dave").exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "url, line",
    [
        (
            "postgres://postgres@127.0.0.1:5432/orders_pages_missing_db",
            "error: the database 'orders_pages_missing_db' does not exist on 127.0.0.1:5432; create it with "
            "`createdb -h 127.0.0.1 -p 5432 -U postgres orders_pages_missing_db` (management commands use "
            "the same DATABASE_URL, from the environment or .env)",
        ),
        (
            "postgres://postgres@127.0.0.1:1/orders",
            "error: cannot reach PostgreSQL at 127.0.0.1:1 (DATABASE_URL); is it running?",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["migrate", "--noinput"], ["showmigrations"], ["create_user", "x", "--role", "viewer"]]
)
def test_a_missing_database_is_one_clear_line_not_a_traceback(url, line, command):
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_DIRECT_URL", None)

    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    assert done.stderr.strip() == line
    assert "Traceback" not in done.stderr
