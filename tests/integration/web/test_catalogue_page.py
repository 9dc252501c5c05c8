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


def row_form(page, sku: str, action: str) -> tuple[str, dict[str, str]]:
    row = re.search(rf'<tr id="product-{sku}">(.*?)</tr>', text(page), re.S).group(1)
    form = re.search(rf'<form method="post" action="([^"]*/{action})".*?</form>', row, re.S)
    return form.group(1), dict(re.findall(r'name="([^"]+)"[^>]*?value="([^"]*)"', form.group(0)))


def test_a_row_form_sent_twice_past_a_rename_says_it_was_done(manager, other, monkeypatch):
    """A double click while another person renamed: the first request goes
    past the rename and changes the price; the second, refused meanwhile,
    finds its twin's answer instead of saying nothing was changed."""
    from orders import catalogue_views, commands

    add_product("MUG-1", 1250, "Mug")
    settle()
    client = login(manager)
    at, fields = row_form(client.get("/catalogue/"), "MUG-1", "price")
    someone = login(other)
    rename_at, rename_fields = row_form(someone.get("/catalogue/"), "MUG-1", "rename")
    assert someone.post(rename_at, {**rename_fields, "name": "Big mug"}).status_code == 302
    seen: dict = {}
    real_run, real_since = catalogue_views._run, catalogue_views._since

    def run(request, form, command, version):
        seen["key"], seen["command"] = form.idempotency_key(request), command
        return real_run(request, form, command, version)

    def since_after_the_twin_commits(sku, version):
        if "twin" not in seen:  # the same form, sent again, goes past the rename first
            seen["twin"] = commands.execute(seen["command"], expected_version=2, idempotency_key=seen["key"])
            commands.execute(commands.RenameProduct("MUG-1", "Bigger mug"))  # and more since
        return real_since(sku, version)

    monkeypatch.setattr(catalogue_views, "_run", run)
    monkeypatch.setattr(catalogue_views, "_since", since_after_the_twin_commits)

    shown = messages_shown(client.post(at, {**fields, "price": "13.99"}, follow=True))

    assert seen["twin"].changed and "Price changed: MUG-1." in shown and "nothing was changed" not in shown


@pytest.mark.parametrize("listing", [{"q": "mu\x00g"}, {"show": "everything"}, {"q": "\x00"}])
def test_a_search_the_page_cannot_take_is_not_carried_back_into_it(manager, listing):
    add_product("MUG-1", 1250, "Mug")
    settle()
    client = login(manager)
    at, fields = row_form(client.get("/catalogue/"), "MUG-1", "price")

    changed = client.post(at, {**fields, "price": "13.99", **listing})

    assert (
        changed.status_code == 302
        and "%00" not in changed["Location"]
        and "everything" not in changed["Location"]
    )
    assert client.get(changed["Location"]).status_code == 200
    assert client.get("/catalogue/", listing).status_code == 200


def test_a_new_sku_typed_in_another_case_than_the_catalogue_s_is_refused_on_the_page(manager):
    add_product("MUG-1", 1200, "Stoneware mug")
    settle()
    before = catalogue_event_count()

    page = text(
        login(manager).post(
            "/catalogue/", {"sku": "mug-1", "name": "Mug", "price": "12.00", "description": ""}
        )
    )

    assert "The catalogue has MUG-1: mug-1 differs from it only in case" in html.unescape(page)
    assert catalogue_event_count() == before
