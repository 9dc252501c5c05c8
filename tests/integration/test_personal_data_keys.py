"""The master key of personal data (start-up check, rotation) and erasures
after a restore (reapply_erasures)."""

import base64
import io
import os
import subprocess
import sys
import uuid
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from eventstore import EventStore
from eventstore.errors import MasterKeyError
from eventstore.master_key import master_key_id, new_master_key, verify_master_key
from eventstore.models import Event, PersonalDataKey
from eventstore.personal import ERASED
from orders.domain.shipping import Contact, ShippingAddress
from tests.integration.test_personal_data import ADA, GRACE, place
from tests.support import ApiClient, read_model_snapshot, rebuilt_snapshot, settle

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]
ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path, command: list[str], **env) -> subprocess.CompletedProcess:
    """Start a process of the app on the test database, as a server would."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    environment = {**os.environ, "DATABASE_URL": url, "VAR_DIR": str(tmp_path), "DEBUG": "false", **env}
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


WSGI = ["-c", "import config.wsgi"]


def test_a_wrong_or_missing_master_key_stops_the_server_at_start_up(tmp_path, staff):
    place(ApiClient(staff), "cust_ada", ADA)  # the database holds personal data now
    verify_master_key()

    wrong = start(tmp_path, WSGI, PII_MASTER_KEY=new_master_key())
    missing = start(tmp_path, WSGI, PII_MASTER_KEY="")
    malformed = start(tmp_path, WSGI, PII_MASTER_KEY="not-a-key")
    right = start(tmp_path, WSGI)

    assert wrong.returncode != 0 and "PII_MASTER_KEY is not the master key of this database" in wrong.stderr
    assert missing.returncode != 0 and "PII_MASTER_KEY is not set" in missing.stderr
    assert malformed.returncode != 0 and "base64 of 32 random bytes" in malformed.stderr
    assert right.returncode == 0, right.stderr
    check = start(tmp_path, ["manage.py", "check"], PII_MASTER_KEY=new_master_key())
    assert check.returncode != 0 and "eventstore.E001" in check.stderr
    # A Celery worker and beat too (a signal handler's error did not stop them).
    for process in (["worker", "--pool=solo"], ["beat", f"--schedule={tmp_path}/beat-schedule"]):
        celery = start(tmp_path, ["-m", "celery", "-A", "config", *process], PII_MASTER_KEY=new_master_key())
        assert celery.returncode != 0, process
        assert "not starting: PII_MASTER_KEY is not the master key of this database" in celery.stderr, process


def test_rotating_the_master_key_rewraps_every_data_key_and_leaves_events_alone(staff, settings, monkeypatch):
    api = ApiClient(staff)
    ada = place(api, "cust_ada", ADA)
    place(api, "cust_grace", GRACE)
    settle()
    events_before = list(Event.objects.order_by("position").values_list("event_data", flat=True))
    keys_before = dict(PersonalDataKey.objects.values_list("subject_id", "wrapped_key"))
    old, new = settings.PII_MASTER_KEY, new_master_key()
    monkeypatch.setenv("NEW_PII_MASTER_KEY", new)
    out = io.StringIO()

    call_command("rotate_pii_master_key", stdout=out)

    assert (
        f"Re-wrapped {len(keys_before)} data key(s) under master key {master_key_id_of(new)}"
        in out.getvalue()
    )
    keys_after = dict(PersonalDataKey.objects.values_list("subject_id", "wrapped_key"))
    assert keys_after.keys() == keys_before.keys() == {"cust_ada", "cust_grace", "$lookup"}
    assert all(keys_after[s] != keys_before[s] for s in keys_before)
    assert list(Event.objects.order_by("position").values_list("event_data", flat=True)) == events_before
    with pytest.raises(MasterKeyError):
        verify_master_key()  # the old key is not this database's any more

    settings.PII_MASTER_KEY = new
    verify_master_key()
    details = EventStore().load(uuid.UUID(ada))[1]
    assert details.data["name"] == ADA["contact"]["name"]
    assert [o["order_id"] for o in api.orders(customer_email=ADA["contact"]["email"])["results"]] == [ada]
    live = read_model_snapshot()
    assert rebuilt_snapshot() == live

    # A rolling rotation: processes run with the next key as current and
    # this one as previous until the rotation has re-wrapped every key.
    settings.PII_MASTER_KEY, settings.PII_MASTER_KEY_PREVIOUS = new_master_key(), [new]
    assert EventStore().load(uuid.UUID(ada))[1].data["name"] == ADA["contact"]["name"]
    assert old != new


ADDRESS = ShippingAddress("12 Analytical Row", None, "N1 9GU", "London", "GB")


def place_order(customer: str, **details):
    from orders import commands
    from orders.domain import Line

    return commands.execute(commands.PlaceOrder(customer, (Line("WIDGET-A", 1, 1999),), **details))


def test_a_process_left_on_the_old_key_through_a_rotation_seals_no_key_the_new_one_cannot_open(
    staff, settings, monkeypatch
):
    """It verified its key at start; the rotation then moved the database to
    a new one. Its next new customer is refused (an error saying why), and
    no data key is left wrapped under the old key."""
    from eventstore.personal import PersonalData

    place(ApiClient(staff), "cust_ada", ADA)
    PersonalData().data_key("cust_before")  # verified (once per process) and sealed under the old key
    monkeypatch.setenv("NEW_PII_MASTER_KEY", new := new_master_key())
    call_command("rotate_pii_master_key", stdout=io.StringIO())

    with pytest.raises(MasterKeyError, match="not the master key of this database"):
        PersonalData().data_key("cust_after")  # this process still holds only the old key
    events = Event.objects.count()
    with pytest.raises(MasterKeyError, match="not the master key of this database"):
        place_order("cust_after", contact=Contact("Ada", "ada@example.com"), shipping_address=ADDRESS)
    assert Event.objects.count() == events  # nor its events (one statement with the key)
    assert not PersonalDataKey.objects.filter(subject_id="cust_after").exists()
    new_id = master_key_id_of(new)
    assert set(PersonalDataKey.objects.values_list("kek_id", flat=True)) == {new_id}
    # Restarted on the new key, the same customer is sealed under it.
    settings.PII_MASTER_KEY = new
    PersonalData().data_key("cust_after")
    assert PersonalDataKey.objects.get(subject_id="cust_after").kek_id == new_id


def master_key_id_of(text: str) -> str:
    return master_key_id(base64.b64decode(text))


def test_reapplying_erasures_after_a_restore_erases_the_restored_keys_again(staff, tmp_path):
    api = ApiClient(staff)
    ada = place(api, "cust_ada", ADA)
    grace = place(api, "cust_grace", GRACE)
    backup = PersonalDataKey.objects.get(subject_id="cust_ada")
    api.post("/api/customers/cust_ada/forget")
    PersonalDataKey.objects.create(  # a backup from before the erasure brings the key back
        subject_id=backup.subject_id,
        key_id=backup.key_id,
        kek_id=backup.kek_id,
        wrapped_key=backup.wrapped_key,
        created_at=backup.created_at,
    )
    assert EventStore().load(uuid.UUID(ada))[1].data["name"] == ADA["contact"]["name"]
    ids = tmp_path / "erased.txt"
    ids.write_text("# kept apart from the database\ncust_grace 2099-01-01T00:00:00+00:00\n")

    out = io.StringIO()
    call_command("reapply_erasures", "--ids", str(ids), stdout=out)

    assert "erasing cust_ada" in out.getvalue() and "erasing cust_grace" in out.getvalue()
    assert not PersonalDataKey.objects.filter(subject_id__in=["cust_ada", "cust_grace"]).exists()
    for order in (ada, grace):
        assert EventStore().load(uuid.UUID(order))[1].data["name"] == ERASED
    listed = io.StringIO()
    call_command("reapply_erasures", "--list", stdout=listed)
    assert {line.split("\t")[0] for line in listed.getvalue().splitlines()} == {"cust_ada", "cust_grace"}


def test_a_customer_who_came_back_after_being_forgotten_keeps_their_new_details(staff):
    api = ApiClient(staff)
    old = place(api, "cust_ada", ADA)
    api.post("/api/customers/cust_ada/forget")
    new = place(api, "cust_ada", GRACE)  # new details: a new key

    out = io.StringIO()
    call_command("reapply_erasures", stdout=out)

    assert "0 customer(s) erased again" in out.getvalue()
    assert EventStore().load(uuid.UUID(old))[1].data["name"] == ERASED
    assert EventStore().load(uuid.UUID(new))[1].data["name"] == GRACE["contact"]["name"]
    settle()
    assert api.get(f"/api/orders/{new}").json()["contact"] == GRACE["contact"]
    assert api.get("/api/customers/cust_ada").json()["contact"] == GRACE["contact"]


def test_reapplying_erasures_reads_times_without_an_offset_as_utc(staff, tmp_path):
    api = ApiClient(staff)
    ada, grace = place(api, "cust_ada", ADA), place(api, "cust_grace", GRACE)
    made = PersonalDataKey.objects.get(subject_id="cust_ada").created_at.astimezone(UTC)
    ids = tmp_path / "erased.txt"
    before, after = made - timedelta(minutes=30), made + timedelta(minutes=30)
    ids.write_text(  # an erasure before Ada's key was made leaves it; one after erases Grace's
        f"cust_ada {before.replace(tzinfo=None).isoformat()}\n"
        f"cust_grace {after.replace(tzinfo=None).isoformat()}\n"
    )

    out = io.StringIO()
    call_command("reapply_erasures", "--ids", str(ids), stdout=out)

    assert "erasing cust_grace" in out.getvalue() and "cust_ada" not in out.getvalue()
    assert EventStore().load(uuid.UUID(ada))[1].data["name"] == ADA["contact"]["name"]
    assert EventStore().load(uuid.UUID(grace))[1].data["name"] == ERASED


@pytest.mark.parametrize(
    "line, why",
    [
        ("cust_ada 2024-13-45T00:00:00", "is not an ISO date-time"),
        ("cust_ada yesterday", "is not an ISO date-time"),
        ("$lookup", "not a customer id"),
        ("not/an/id 2024-01-01", "not a customer id"),
        ("cust_ada 2024-01-01T00:00:00 extra", "not a customer id"),
    ],
)
def test_a_bad_list_of_erasures_is_a_command_error_and_erases_nothing(staff, tmp_path, line, why):
    place(ApiClient(staff), "cust_ada", ADA)
    settle()  # the email filter's lookup key exists too
    ids = tmp_path / "erased.txt"
    ids.write_text(f"cust_grace\n{line}\n")

    with pytest.raises(CommandError, match=f"erased.txt:2: .*{why}"):
        call_command("reapply_erasures", "--ids", str(ids), stdout=io.StringIO())

    assert set(PersonalDataKey.objects.values_list("subject_id", flat=True)) == {"cust_ada", "$lookup"}
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00cust")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("reapply_erasures", "--ids", str(binary), stdout=io.StringIO())
