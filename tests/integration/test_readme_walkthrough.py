"""The README's walk-through works as written where it computes a value: the
moment noted with `date -u +%FT%TZ` is a time `GET /api/orders/{id}/state`
accepts, and the state answered is the order as it was then."""

import io
import re
import shlex
import subprocess
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from eventstore.clock import frozen
from orders import commands
from tests.support import GADGET, WIDGET, ApiClient, place_order, run_command, stock_catalogue

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_moment_noted_with_date_reads_the_order_as_it_was(manager):
    assert "BEFORE=$(date -u +%FT%TZ)" in README and "state?at=$BEFORE" in README
    now = datetime.now(UTC)
    order = place_order(lines=(WIDGET,), at=now - timedelta(seconds=5)).order_id
    before = subprocess.run(
        ["date", "-u", "+%FT%TZ"], capture_output=True, text=True, check=True
    ).stdout.strip()
    run_command(commands.AddItem(order, *GADGET), at=now + timedelta(seconds=5))

    response = ApiClient(manager).get(f"/api/orders/{order}/state", at=before)

    assert response.status_code == 200, response.content
    assert response.json()["version"] == 1
    assert [item["sku"] for item in response.json()["items"]] == ["WIDGET-A"]


# -- the whole API walk-through, pasted ----------------------------------------------------


def _walkthrough() -> str:
    start = README.index("A walk-through you can paste")
    block = README.index("```sh", start)
    return README[block + len("```sh") : README.index("```", block + len("```sh"))]


def _logical_lines(script: str) -> list[str]:
    """The shell lines of the block: continuation lines joined, and a quoted
    body spread over several lines kept whole; comment lines dropped."""
    lines, pending = [], ""
    for raw in script.splitlines():
        if not pending and raw.strip().startswith("#"):
            continue
        pending = f"{pending}\n{raw}" if pending else raw
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        if pending.count("'") % 2:  # inside a quoted body that goes on
            continue
        lines.append(pending.strip())
        pending = ""
    return [line for line in lines if line]


def _run_curl(client: Client, words: list[str], variables: dict[str, str]):
    """Send one curl command line's request through the test client:
    (method, path, response)."""
    method, headers, body, url = "GET", {}, None, None
    words = [w for w in words if w != "-s"]
    i = 1
    while i < len(words):
        word = words[i]
        if word in ("-X", "-H", "-d"):
            value = words[i + 1]
            for name, replacement in variables.items():
                value = value.replace(f"${name}", replacement)
            if word == "-X":
                method = value
            elif word == "-H":
                key, _, header = value.partition(":")
                headers[key.strip()] = header.strip()
            else:
                body = value
            i += 2
            continue
        url = word
        i += 1
    for name, replacement in variables.items():
        url = url.replace(f"${name}", replacement)
    assert url.startswith("localhost:8000/"), url
    path = url.removeprefix("localhost:8000")
    content_type = headers.pop("Content-Type", "application/octet-stream")
    return method, path, client.generic(method, path, body or "", content_type=content_type, headers=headers)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_api_walkthrough_runs_as_pasted_and_prints_what_it_says(settings):
    """Every command of the README's walk-through, in order, against the app
    as `make run` serves it (projections in the web process, stock reserved
    before shipping): each succeeds, and the versions the text names (the
    answer of step 3, the order read back in step 4, the If-Match of step 5)
    are the ones the app answers."""
    settings.PROJECTIONS_MODE = "inprocess"
    settings.INVENTORY_RESERVATION = True
    # What the demo seed sells and stocks, of what the walk-through uses.
    stock_catalogue([("GADGET-B", 1, 500), ("WIDGET-B", 1, 2699)])
    run_command(commands.ReceiveStock("GADGET-B", 10))
    run_command(commands.ReceiveStock("WIDGET-B", 10))
    script = _walkthrough()
    placed_version = int(re.search(r'# \{"order_id":"6f0c\.\.\.","version":(\d+),', script).group(1))
    read_version = int(re.search(r'"status": "confirmed", "version": (\d+)', script).group(1))
    still_at = int(re.search(r"only if it is still at version (\d+)", script).group(1))

    client = Client(raise_request_exception=False)
    variables: dict[str, str] = {}
    answers = []
    with ExitStack() as later:
        for line in _logical_lines(script):
            words = shlex.split(line, comments=True)
            if words[:2] == [".venv/bin/python", "manage.py"]:
                out = io.StringIO()
                call_command(*words[2:], stdout=out, stderr=io.StringIO())
                variables["TOKEN"] = out.getvalue().strip()
            elif "BEFORE=$(date -u +%FT%TZ)" in line:
                moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
                variables["BEFORE"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                later.enter_context(frozen(moment + timedelta(seconds=1)))  # step 5 comes after it
            elif words[0] == "curl":
                method, path, response = _run_curl(client, words, variables)
                assert 200 <= response.status_code < 300, (line, response.status_code, response.content)
                answers.append((method, path, response))
                if method == "POST" and path == "/api/orders/":
                    placed = response.json()
                    assert set(placed) == {"order_id", "version", "position", "consistency_token"}
                    assert response["ETag"] == f'"{placed["version"]}"' and response["Location"]
                    assert placed["version"] == placed_version
                    variables["ORDER"], variables["SEEN"] = placed["order_id"], placed["consistency_token"]
                elif method == "GET" and path == f"/api/orders/{variables.get('ORDER')}":
                    order = response.json()
                    assert (order["status"], order["version"]) == ("confirmed", read_version)
                    assert order["version"] == still_at
                    assert response["X-Consistency-Token"] >= variables["SEEN"]

    methods = [(method, path.split("?")[0].rsplit("/", 1)[-1]) for method, path, _ in answers]
    assert methods[-2:] == [("GET", "events"), ("GET", "state")]
    state = answers[-1][2].json()
    assert (state["status"], state["version"]) == ("confirmed", read_version)  # as it was before step 5
    assert [e["event_type"] for e in answers[-2][2].json()["events"]][-1] == "OrderShipped"
