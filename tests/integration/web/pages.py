"""Reading the server-rendered pages in tests: what a page shows, pulled out
of its HTML, plus the dates and markers the web UI tests share.

Pages read the read models, which projections fill from COMMITTED events
only: tests that look at them commit for real (``committed``) and run the
projections explicitly (tests.support.settle); the others roll back."""

import html
import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from projections import failures
from projections.models import ProjectionFailure

committed = pytest.mark.django_db(transaction=True)

D1 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
D2 = datetime(2025, 3, 11, 12, 0, tzinfo=UTC)
D3 = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)

# The forms of the order page that lead to a command (not "as of", not signing
# out): add, quantity and ship post it, cancel and remove open its confirmation page.
COMMAND_FORM = re.compile(
    r'action="/orders/[0-9a-f-]{36}/(add|remove|quantity|ship|cancel|address)(?:/confirm)?"'
)


def text(response) -> str:
    return response.content.decode()


def visible_text(response) -> str:
    """The page's text as a reader sees it: no tags, scripts or styles,
    entities decoded, runs of white space as one space."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", text(response), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def listed_ids(response) -> list[str]:
    """Order ids in the order list's table, in the order shown."""
    return re.findall(r'<a class="mono" href="/orders/([0-9a-f-]{36})/">', text(response))


def link(response, rel: str) -> str | None:
    """The href of the page link with this rel ("next", "prev"), if shown."""
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', text(response))
    return html.unescape(found.group(1)) if found else None


def result_count(response) -> str:
    """The order list's "N orders" line."""
    return re.search(r'<p class="muted" id="result-count">([^<]*)</p>', text(response)).group(1)


def audit_positions(response) -> list[int]:
    """The event positions in the audit table, in the order shown."""
    return [int(p) for p in re.findall(r'<td class="num mono">(\d+)</td>', text(response))]


def timeline(response) -> list[tuple[str, int]]:
    """The order page's history: (event type, version) of each entry."""
    section = text(response).split('id="timeline"', 1)[1]
    return [(t, int(v)) for t, v in re.findall(r'data-event-type="(\w+)" data-version="(\d+)"', section)]


def timeline_entries(response) -> list[str]:
    """The order page's history: the sentence of each entry, as shown."""
    section = text(response).split('id="timeline"', 1)[1]
    return [html.unescape(s) for s in re.findall(r"<li [^>]*>\s*<div><strong>(.*?)</strong>", section)]


def refused(client, path: str, data: dict, *, shown_at: str):
    """POST a form the server refuses: it must answer with a redirect (post/
    redirect/get) to ``shown_at`` carrying the kept form (``?form=<id>``),
    never a page at the command's address. Returns that page (a GET)."""
    response = client.post(path, data)
    assert response.status_code == 303, (response.status_code, text(response)[:500])
    location = response["Location"]
    assert re.fullmatch(rf"{re.escape(shown_at)}\?form=[A-Za-z0-9_-]+(#[a-z-]+)?", location), location
    page = client.get(location)
    assert page.status_code == 200
    return page


def place_rows(response) -> dict[str, str]:
    """The place-order form's rows, by row key: each row's HTML, entities decoded."""
    found = re.findall(r'(<tr class="line-row" data-row="([^"]+)".*?</tr>)', text(response), re.S)
    return {key: html.unescape(row) for row, key in found}


def place_summary(response) -> str:
    """The alert at the top of the place-order form ("" if none)."""
    section = text(response).split('id="place-heading"', 1)[1].split('<form method="post"', 1)[0]
    found = re.search(r'<div class="alert error" role="alert">(.*?)</div>', section, re.S)
    return html.unescape(found.group(1)) if found else ""


def version_inputs(response) -> list[int]:
    """The version each command form on the page would send."""
    return [int(v) for v in re.findall(r'name="version" value="(\d+)"', text(response))]


def post_forms(response) -> list[str]:
    """Where each POST form on the page sends to."""
    return re.findall(r'<form method="post" action="([^"]*)"', text(response))


def messages_shown(response) -> str:
    """The flash messages on the page, as one string ("" if none)."""
    found = re.search(r'<ul class="messages" role="status">(.*?)</ul>', text(response), re.S)
    return html.unescape(found.group(1)) if found else ""


def json_script(response, element_id: str):
    """The data of the page's <script type="application/json"> with this id."""
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', text(response), re.S
    )
    return json.loads(found.group(1))


def held_failure(name: str = "daily_sales") -> ProjectionFailure:
    """A failure at position 7 that has used up its attempts: ``name`` is held."""
    now = timezone.now()
    return ProjectionFailure.objects.create(
        projection=name,
        position=7,
        tx_id=1,
        event_type="OrderPlaced",
        aggregate_id=uuid.uuid4(),
        error="ValueError: boom",
        traceback="Traceback ...",
        attempts=failures.MAX_ATTEMPTS,
        first_failed_at=now,
        last_failed_at=now,
    )
