"""The catalogue page's per-row forms: renaming a product from its row (the
version it was shown at, a one-time key, a label), and a stale row."""

import html
import re

import pytest

from tests.integration.web.pages import committed, messages_shown, text
from tests.support import add_product, catalogue_event_count, login, settle

pytestmark = [pytest.mark.postgres, committed]


def rename_form(page, sku: str) -> tuple[str, dict[str, str]]:
    """The rename form in the product's row: where it posts, and its fields as shown."""
    row = re.search(rf'<tr id="product-{sku}">(.*?)</tr>', text(page), re.S).group(1)
    form = re.search(r'<form method="post" action="([^"]*/rename)".*?</form>', row, re.S)
    assert form is not None, row
    fields = dict(re.findall(r'name="([^"]+)"[^>]*?value="([^"]*)"', form.group(0)))
    assert f'<label class="visually-hidden" for="name-{sku}">New name of {sku}</label>' in form.group(0)
    assert f'id="name-{sku}" name="name"' in form.group(0)
    return form.group(1), fields


def shown_name(page, sku: str) -> str:
    row = re.search(rf'<tr id="product-{sku}">\s*<td class="mono">[^<]*</td>\s*<td>([^<]*)', text(page))
    return html.unescape(row.group(1))


def test_a_product_is_renamed_from_its_row_and_a_stale_row_changes_nothing(manager):
    add_product("MUG-1", 1250, "Mug")
    settle()
    client = login(manager)
    action, fields = rename_form(client.get("/catalogue/"), "MUG-1")
    _, other_tab = rename_form(client.get("/catalogue/"), "MUG-1")  # the page opened twice, at v1
    assert action == "/catalogue/MUG-1/rename"
    assert fields["version"] == "1" and re.fullmatch(r"[0-9a-f]{32}", fields["form_key"])
    assert fields["name"] == "Mug"

    renamed = client.post(action, {**fields, "name": "Stoneware mug"})
    settle()
    page = client.get(renamed["Location"])

    assert "Renamed: MUG-1." in messages_shown(page)
    assert shown_name(page, "MUG-1") == "Stoneware mug"
    assert rename_form(page, "MUG-1")[1]["version"] == "2"

    before = catalogue_event_count()
    stale = client.post(action, {**other_tab, "name": "Tea mug"}, follow=True)

    assert (
        "MUG-1 changed after you opened the page (it was renamed “Stoneware mug”); nothing was changed"
        " (you asked for “Tea mug”). Review and retry."
    ) in messages_shown(stale)
    assert catalogue_event_count() == before
    settle()
    assert shown_name(client.get("/catalogue/"), "MUG-1") == "Stoneware mug"


def test_a_price_form_from_before_a_rename_goes_through_and_the_search_is_kept(manager, other):
    add_product("MUG-1", 1250, "Mug")
    settle()
    client = login(manager)
    page = text(client.get("/catalogue/", {"q": "mug"}))
    form = re.search(r'<form method="post" action="(/catalogue/MUG-1/price)".*?</form>', page, re.S)
    fields = dict(re.findall(r'name="([^"]+)"[^>]*?value="([^"]*)"', form.group(0)))
    assert fields["q"] == "mug" and fields["version"] == "1"
    someone_else = login(other)
    rename_at, rename_fields = rename_form(someone_else.get("/catalogue/"), "MUG-1")
    assert someone_else.post(rename_at, {**rename_fields, "name": "Big mug"}).status_code == 302

    changed = client.post(form.group(1), {**fields, "price": "13.99"})

    assert changed.status_code == 302 and changed["Location"].startswith("/catalogue/?q=mug&after=")
    settle()
    page = client.get(changed["Location"])
    went_past = "Price changed: MUG-1. (Since you opened the page: it was renamed “Big mug”.)"
    assert went_past in messages_shown(page)
    assert "€13.99" in text(page) and shown_name(page, "MUG-1") == "Big mug"
