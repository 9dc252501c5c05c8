"""Customers' personal data on the immutable log (issue 12): stored
encrypted under each customer's key, read back decrypted by every reader,
and erased for good by forgetting the customer (crypto-shredding)."""

import json
import re
import uuid
from urllib.parse import quote

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from eventstore import EventStore
from eventstore.models import Event, PersonalDataKey, Snapshot
from eventstore.personal import ERASED
from orders import commands
from orders.errors import ContentionError
from projections import runner, selectors
from projections.base import registry
from tests.integration.web.pages import refused, text
from tests.support import (
    LINE_A,
    LINE_B,
    SHIPPING_FORM,
    ApiClient,
    assert_problem,
    event_count,
    login,
    read_model_snapshot,
    rebuilt_snapshot,
    settle,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("catalogue"),
]

ADA = {
    "contact": {"name": "Ada Lovelace-Byron", "email": "Ada.Lovelace@Example.com"},
    "shipping_address": {
        "line1": "12 Analytical Engine Row",
        "line2": "Flat 3 Difference Wing",
        "postcode": "N1 9GU",
        "city": "Marylebone",
        "country": "GB",
    },
}
ADA_MOVED = {
    "line1": "77 Babbage Lane",
    "line2": None,
    "postcode": "OX1 2JD",
    "city": "Oxfordshire",
    "country": "GB",
}
GRACE = {
    "contact": {"name": "Grace Brewster Hopper", "email": "grace.hopper@navy.example"},
    "shipping_address": {
        "line1": "44 Compiler Court",
        "postcode": "22201",
        "city": "Arlington",
        "country": "US",
    },
}
# What must be nowhere once Ada is forgotten (the web form's details are Ada's too).
ADA_TEXT = [
    "Ada Lovelace",
    "ada.lovelace@example.com",
    "Analytical Engine Row",
    "Difference Wing",
    "Babbage Lane",
    "Marylebone",
    "Oxfordshire",
    "N1 9GU",
    SHIPPING_FORM["address_line1"],
    SHIPPING_FORM["email"],
]


def place(api: ApiClient, customer: str, details: dict, **headers) -> str:
    response = api.post(
        "/api/orders/", {"customer_id": customer, "items": [LINE_A, LINE_B], **details}, headers or None
    )
    assert response.status_code == 201, response.content
    return response.json()["order_id"]


def columns_holding(needles: list[str]) -> list[str]:
    """Every column of every table holding any of ``needles`` (case-
    insensitive), as text: JSON documents included, and the sessions'
    data decoded (it is only signed and base64-encoded, not encrypted)."""
    patterns = [f"%{n.lower()}%" for n in needles]
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        )
        for table, column in cursor.fetchall():
            cursor.execute(
                f'SELECT lower("{column}"::text) FROM "{table}" WHERE lower("{column}"::text) LIKE ANY(%s)',
                [patterns],
            )
            for (value,) in cursor.fetchall():
                found += [f"{table}.{column}: {n}" for n in needles if n.lower() in value]
        cursor.execute("SELECT session_data FROM django_session")
        for (data,) in cursor.fetchall():
            value = json.dumps(SessionStore().decode(data), ensure_ascii=False).lower()
            found += [f"django_session.session_data: {n}" for n in needles if n.lower() in value]
    return sorted(set(found))


def test_personal_fields_are_stored_encrypted_and_read_back_decrypted(staff):
    api = ApiClient(staff)
    order = place(api, "cust_ada", ADA)
    settle()

    stored = Event.objects.get(aggregate_id=order, event_type="ShippingDetailsGiven").event_data
    assert stored["customer_id"] == "cust_ada" and stored["country"] == "GB"
    assert all(stored[f]["$pii"] == 1 for f in ("name", "email", "address_line1", "city"))
    assert columns_holding(ADA_TEXT) == [  # only the read models that pages need
        f"{table}.{column}: {text}"
        for table in ("customer_details", "order_shipping")
        for column, text in [
            ("address_line1", "Analytical Engine Row"),
            ("address_line2", "Difference Wing"),
            ("city", "Marylebone"),
            ("email", "ada.lovelace@example.com"),
            ("name", "Ada Lovelace"),
            ("postcode", "N1 9GU"),
        ]
    ]
    (details,) = [e for e in EventStore().load(uuid.UUID(order)) if e.event_type == "ShippingDetailsGiven"]
    assert (
        details.data["name"] == "Ada Lovelace-Byron"
        and details.data["address_line2"] == "Flat 3 Difference Wing"
    )
    body = api.get(f"/api/orders/{order}").json()
    assert body["contact"] == ADA["contact"] and body["shipping_address"] == ADA["shipping_address"]
    history = api.get(f"/api/orders/{order}/events").json()["events"]
    assert history[1]["data"]["email"] == "Ada.Lovelace@Example.com"
    assert api.get(f"/api/orders/{order}/state").json()["contact"] == ADA["contact"]


def test_forgetting_a_customer_leaves_no_trace_of_them_and_orders_intact(staff, manager, settings):
    settings.EVENTSTORE_SNAPSHOT_EVERY = 2  # so a snapshot holds Ada's details too
    api = ApiClient(staff)
    first = place(api, "cust_ada", ADA, **{"Idempotency-Key": "ada-1"})
    browser = login(manager)
    form = {**SHIPPING_FORM, "customer_id": "cust_ada", "sku_0": "WIDGET-A", "quantity_0": 2}
    assert browser.post("/orders/", {**form, "sku_1": "NO-SUCH", "quantity_1": 1}).status_code == 303
    web = browser.post("/orders/", form | {"price_cents_0": 1999})
    assert web.status_code == 302
    second = web["Location"].split("/")[2]
    moved = api.post(f"/api/orders/{second}/shipping-address", ADA_MOVED)
    assert moved.status_code == 200, moved.content
    grace = place(api, "cust_grace", GRACE)
    settle()
    assert Snapshot.objects.filter(aggregate_id=first).exists()
    before = {o: api.get(f"/api/orders/{o}").json() for o in (first, second)}
    types_before = {o: [e.event_type for e in EventStore().load(uuid.UUID(o))] for o in (first, second)}

    response = api.post("/api/customers/cust_ada/forget")

    assert response.status_code == 200, response.content
    assert response.json()["recorded"] is True and response.json()["forgotten"] is True
    settle()
    assert columns_holding(ADA_TEXT) == []
    assert columns_holding(["Grace Brewster Hopper", "44 Compiler Court"])  # others untouched
    assert api.get(f"/api/orders/{grace}").json()["contact"] == GRACE["contact"]
    for order in (first, second):
        after = api.get(f"/api/orders/{order}").json()
        assert after["contact"] == {"name": ERASED, "email": ERASED}
        assert after["shipping_address"]["line1"] == ERASED
        keep = ("total_cents", "status", "items", "customer_id", "version")
        assert {k: after[k] for k in keep} == {k: before[order][k] for k in keep}
        assert [e.event_type for e in EventStore().load(uuid.UUID(order))] == types_before[order]
        history = api.get(f"/api/orders/{order}/events").json()["events"]
        assert history[1]["data"]["name"] == ERASED and history[1]["data"]["customer_id"] == "cust_ada"
        assert api.get(f"/api/orders/{order}/state").json()["contact"] == {"name": ERASED, "email": ERASED}
    customer = api.get("/api/customers/cust_ada").json()
    assert customer["erased"] is True and customer["orders_placed"] == 2

    live = read_model_snapshot()
    assert rebuilt_snapshot() == live
    assert columns_holding(ADA_TEXT) == []


def test_forgetting_twice_is_idempotent_and_only_staff_may(staff, manager, reader):
    place(ApiClient(staff), "cust_ada", ADA)
    for user in (manager, reader):
        assert_problem(ApiClient(user).post("/api/customers/cust_ada/forget"), 403)
    assert_problem(ApiClient(None).post("/api/customers/cust_ada/forget"), 401)
    assert PersonalDataKey.objects.filter(subject_id="cust_ada").exists()

    first = ApiClient(staff).post("/api/customers/cust_ada/forget")
    count = event_count()
    again = ApiClient(staff).post("/api/customers/cust_ada/forget")

    assert first.status_code == again.status_code == 200
    assert first.json()["recorded"] is True and again.json()["recorded"] is False
    assert event_count() == count
    assert not PersonalDataKey.objects.filter(subject_id="cust_ada").exists()
    assert_problem(ApiClient(staff).post("/api/customers/not%20an%20id/forget"), 400)


def test_a_customer_forgotten_without_ever_giving_details_reads_as_forgotten(staff, manager):
    api = ApiClient(staff)
    place(api, "cust_plain", {})  # an order without contact or address (older clients)

    assert api.post("/api/customers/cust_plain/forget").status_code == 200
    assert api.post("/api/customers/cust_never/forget").status_code == 200  # an erasure on record
    settle()

    for customer, orders in (("cust_plain", 1), ("cust_never", 0)):
        body = api.get(f"/api/customers/{customer}").json()
        assert body["erased"] is True and body["orders_placed"] == orders
        assert body["contact"]["name"] == ERASED
        page = login(staff).get(f"/customers/{customer}/").content.decode()
        assert 'id="forget-heading"' not in page  # nothing left to forget: not offered again
    assert read_model_snapshot() == rebuilt_snapshot()


def test_an_order_whose_address_is_erased_cannot_ship_until_it_has_a_new_one(staff):
    api = ApiClient(staff)
    order = place(api, "cust_ada", ADA)
    api.post("/api/customers/cust_ada/forget")

    refused = api.post(f"/api/orders/{order}/ship", {"carrier": "DHL"})

    assert_problem(refused, 409, "shipping-address-erased")
    assert api.post(f"/api/orders/{order}/items", {**LINE_A, "quantity": 1}).status_code == 200  # still open
    assert api.post(f"/api/orders/{order}/shipping-address", ADA_MOVED).status_code == 200
    assert api.post(f"/api/orders/{order}/ship", {"carrier": "DHL"}).status_code == 200
    settle()
    assert api.get(f"/api/orders/{order}").json()["shipping_address"]["line1"] == "77 Babbage Lane"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"contact": {"name": "Ada", "email": "not-an-email"}}, "email"),
        ({"shipping_address": {**ADA["shipping_address"], "country": "XX"}}, "country"),
        ({"shipping_address": {**ADA["shipping_address"], "country": "gb"}}, "country"),
        ({"contact": {"name": "A" * 201, "email": "a@example.com"}}, "name"),
        ({"shipping_address": {**ADA["shipping_address"], "line1": "x" * 201}}, "line1"),
        ({"shipping_address": {**ADA["shipping_address"], "postcode": "9" * 21}}, "postcode"),
        ({"contact": {"name": "Ada\u0000", "email": "a@example.com"}}, "name"),
    ],
)
def test_bad_details_are_400_field_errors_and_append_nothing(staff, change, field):
    body = {"customer_id": "cust_bad", "items": [LINE_A], **ADA}
    for part, value in change.items():
        body[part] = value

    response = ApiClient(staff).post("/api/orders/", body)

    problem = assert_problem(response, 400)
    assert any(field in path for path in problem["errors"]) or field in str(problem["errors"]), problem
    assert event_count() == 0
    assert not PersonalDataKey.objects.exists()


def test_details_come_both_or_not_at_all_and_old_clients_still_place_orders(staff):
    api = ApiClient(staff)
    problem = assert_problem(
        api.post("/api/orders/", {"customer_id": "c", "items": [LINE_A], "contact": ADA["contact"]}), 400
    )
    assert "shipping_address" in problem["errors"]
    assert event_count() == 0
    legacy = api.place("cust_legacy", [LINE_A])  # without details: deprecated, still accepted
    settle()
    assert api.get(f"/api/orders/{legacy['order_id']}").json()["contact"] is None


def test_the_order_list_finds_orders_by_email_case_insensitively_until_forgotten(staff):
    api = ApiClient(staff)
    ada = place(api, "cust_ada", ADA)
    place(api, "cust_grace", GRACE)
    settle()

    found = api.orders(customer_email="ADA.lovelace@example.COM")["results"]
    assert [o["order_id"] for o in found] == [ada]
    page = login(staff).get("/orders/", {"customer_email": "ada.lovelace@example.com"})
    assert ada[:8] in page.content.decode() and "cust_grace" not in page.content.decode()
    assert api.orders(customer_email="nobody@example.com")["results"] == []
    assert_problem(api.get("/api/orders/", customer_email="not-an-email"), 400)

    api.post("/api/customers/cust_ada/forget")
    settle()
    assert api.orders(customer_email="ada.lovelace@example.com")["results"] == []


def test_the_audit_view_shows_personal_data_decrypted_for_staff_then_erased(staff):
    api = ApiClient(staff)
    place(api, "cust_ada", ADA)
    client = login(staff)

    page = client.get("/audit/", {"event_type": "ShippingDetailsGiven"}).content.decode()
    assert "Ada Lovelace-Byron" in page and "shown decrypted, for staff only" in page

    api.post("/api/customers/cust_ada/forget")
    page = client.get("/audit/", {"event_type": "ShippingDetailsGiven"}).content.decode()
    assert "Ada Lovelace" not in page and ERASED in page and "erased (the customer was forgotten)" in page
    staff.is_superuser = True  # the admin's own permissions
    staff.save()
    detail = client.get(
        f"/admin/eventstore/event/{Event.objects.get(event_type='ShippingDetailsGiven').pk}/change/"
    )
    assert detail.status_code == 200 and ERASED in detail.content.decode()


def test_the_customer_page_shows_details_orders_totals_and_forgets_on_confirmation(staff, manager):
    api = ApiClient(staff)
    order = place(api, "cust_ada", ADA)
    settle()
    page = login(manager).get("/customers/cust_ada/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "Ada Lovelace-Byron" in body and order[:8] in body and 'id="lifetime-total">€44.98<' in body
    assert "Forget customer" not in body  # staff only
    assert 'id="forget-heading"' in login(staff).get("/customers/cust_ada/").content.decode()
    assert 'href="/customers/cust_ada/"' in login(manager).get(f"/orders/{order}/").content.decode()
    assert login(manager).post("/customers/cust_ada/forget", {"confirm": "cust_ada"}).status_code == 403

    staff_client = login(staff)
    wrong = refused(
        staff_client, "/customers/cust_ada/forget", {"confirm": "cust_other"}, shown_at="/customers/cust_ada/"
    )
    assert "nothing was erased" in wrong.content.decode()
    assert PersonalDataKey.objects.filter(subject_id="cust_ada").exists()

    done = staff_client.post("/customers/cust_ada/forget", {"confirm": "cust_ada"})
    assert done.status_code in (302, 303) and "?after=" in done["Location"]
    settle()
    body = staff_client.get(done["Location"]).content.decode()
    assert "Customer forgotten" in body and "Ada Lovelace" not in body and ERASED in body
    assert 'id="forget-heading"' not in body  # nothing left to forget: not offered again
    assert login(manager).get("/customers/nobody/").status_code == 404


def test_the_event_catalog_marks_personal_fields(staff):
    catalog = {t["event_type"]: t for t in ApiClient(staff).get("/api/catalog/events").json()["event_types"]}
    current = catalog["ShippingDetailsGiven"]["versions"][-1]
    assert current["personal_subject"] == "customer_id"
    assert set(current["personal_fields"]) == {
        "name",
        "email",
        "address_line1",
        "address_line2",
        "postcode",
        "city",
    }
    assert current["schema"]["properties"]["email"]["x-personal"] is True
    assert "x-personal" not in current["schema"]["properties"]["country"]
    assert catalog["OrderPlaced"]["versions"][-1]["personal_fields"] == []


def test_selectors_find_the_customer_details(staff):
    place(ApiClient(staff), "cust_ada", ADA)
    settle()
    assert selectors.customer_details("cust_ada").name == "Ada Lovelace-Byron"


def test_the_order_page_changes_the_shipping_address(staff, manager):
    order = place(ApiClient(staff), "cust_ada", ADA)
    settle()
    drawn = re.search(r'id="address-heading".*?</form>', text(login(manager).get(f"/orders/{order}/")), re.S)
    for value in ("12 Analytical Engine Row", "Flat 3 Difference Wing", "N1 9GU", "Marylebone"):
        assert f'value="{value}"' in drawn.group(0)  # starts from the address the order has
    assert '<option value="GB" selected>' in drawn.group(0)
    fields = {f"address_{k}" if k.startswith("line") else k: v or "" for k, v in ADA_MOVED.items()}
    form = {"version": 2, **fields}

    response = login(manager).post(f"/orders/{order}/address", form)

    assert response.status_code in (302, 303), response.content
    events = EventStore().load(uuid.UUID(order))
    assert events[-1].event_type == "ShippingAddressChanged"
    assert (events[-1].data["address_line1"], events[-1].data["city"]) == ("77 Babbage Lane", "Oxfordshire")
    client = login(manager)
    bad = client.post(f"/orders/{order}/address", {**form, "version": 3, "country": "XX"})
    assert bad.status_code == 303 and len(EventStore().load(uuid.UUID(order))) == 3  # nothing appended
    settle()  # the page shows the forms of an order the read model has
    shown = client.get(bad["Location"]).content.decode()
    assert "Select a valid choice" in shown and 'value="77 Babbage Lane"' in shown  # kept, with why


def test_the_change_address_form_never_starts_from_an_address_its_row_has_not_caught_up_with(staff, manager):
    order = place(ApiClient(staff), "cust_ada", ADA)
    settle()
    api_line = {k: v for k, v in ADA_MOVED.items() if v is not None}
    assert ApiClient(staff).post(f"/api/orders/{order}/shipping-address", api_line).status_code == 200
    runner.run_projection(registry.get("order_list"))  # the page's version has it; order_shipping not yet

    page = text(login(manager).get(f"/orders/{order}/"))

    drawn = re.search(r'id="address-heading".*?</form>', page, re.S).group(0)
    assert 'name="version" value="3"' in drawn
    assert "12 Analytical Engine Row" not in drawn  # the old address, sent back, would undo the move
    settle()
    drawn = re.search(r'id="address-heading".*?</form>', text(login(manager).get(f"/orders/{order}/")), re.S)
    assert 'value="77 Babbage Lane"' in drawn.group(0)  # caught up: the address now


def test_a_refused_form_keeps_personal_data_only_sealed_under_the_customers_key(staff, manager):
    """Post/redirect/get keeps a refused form in the session (a durable
    table): its contact and address only encrypted under the customer's
    data key, so forgetting the customer erases them there too."""
    order = place(ApiClient(staff), "cust_ada", ADA)
    settle()  # the order page shows the forms of an order the read model has
    client = login(manager)
    web = {**SHIPPING_FORM, "name": "Charles Babbage"}  # (Ada's name is in the read models)
    form = {**web, "customer_id": "cust_web", "sku_0": "WIDGET-A", "quantity_0": "1"}
    unknown_sku = {**form, "sku_1": "NO-SUCH", "quantity_1": "1"}

    sent = client.post("/orders/", unknown_sku)
    page = client.get(sent["Location"]).content.decode()
    address = {"version": 2, "address_line1": "77 Babbage Lane", "city": "Oxfordshire", "country": "XX"}
    moved = refused(client, f"/orders/{order}/address", address, shown_at=f"/orders/{order}/")
    more_rows = client.post("/orders/", {**form, "add_line": "1"})  # "Add a line" without JavaScript

    assert sent.status_code == 303 and "SKU NO-SUCH is not in the catalogue" in page  # why, and all typed
    assert 'value="cust_web"' in page and 'value="NO-SUCH"' in page
    assert f'value="{web["email"]}"' in page and f'value="{web["name"]}"' in page
    assert 'value="77 Babbage Lane"' in moved.content.decode()
    rows = more_rows.content.decode()  # sent back a row longer, as typed, kept nowhere
    assert more_rows.status_code == 200 and rows.count('class="line-row"') == 2
    assert f'value="{web["email"]}"' in rows
    typed = [web[f] for f in ("name", "email", "address_line1", "city")]
    assert columns_holding([*typed, "Babbage Lane", "Oxfordshire"]) == []
    assert event_count() == 2  # Ada's order only

    assert ApiClient(staff).post("/api/customers/cust_web/forget").status_code == 200
    again = client.get(sent["Location"]).content.decode()
    assert web["email"] not in again and web["name"] not in again
    assert "type them again" in again and 'value="NO-SUCH"' in again and "not-kept@" not in again
    nobody = refused(client, "/orders/", {**unknown_sku, "customer_id": ""}, shown_at="/orders/")
    assert "type them again" in nobody.content.decode()  # no customer to seal them for: not kept
    assert web["email"] not in nobody.content.decode()


def test_every_unprintable_personal_field_is_reported_under_its_own_path(staff):
    body = {
        "customer_id": "cust_tab",
        "items": [LINE_A],
        "contact": {"name": "Ada\tLovelace", "email": "ada@example.com"},
        "shipping_address": {**ADA["shipping_address"], "line1": "12\tRow", "city": "Lon\u202edon"},
    }
    before = event_count()

    problem = assert_problem(ApiClient(staff).post("/api/orders/", body), 400)

    assert set(problem["errors"]) == {"contact.name", "shipping_address.line1", "shipping_address.city"}
    assert event_count() == before


def test_names_and_addresses_in_any_script_are_taken_and_invisible_ones_refused(staff):
    api = ApiClient(staff)
    shirin = {
        # A Persian name with the zero-width non-joiner its words need; a
        # Japanese address with an ideographic space; a pasted no-break space.
        "contact": {
            "name": "\u0634\u06cc\u0631\u06cc\u0646 \u0645\u06cc\u200c\u0632\u0627\u062f\u0647",
            "email": "shirin@example.com",
        },
        "shipping_address": {
            "line1": "\u6e2f\u533a\u829d\u516c\u5712\u3000\uff14\u4e01\u76ee",
            "postcode": "105-0011",
            "city": "T\u00f4ky\u00f4\u00a0Minato",
            "country": "JP",
        },
    }
    order = place(api, "cust_shirin", shirin)
    assert api.get(f"/api/orders/{order}/state").json()["contact"] == shirin["contact"]

    before = event_count()
    blank = {
        "contact": {**shirin["contact"], "name": "\u3164\u3164"},
        "shipping_address": {**shirin["shipping_address"], "city": "Minato\u200b"},
    }
    problem = assert_problem(
        api.post("/api/orders/", {"customer_id": "cust_blank", "items": [LINE_A], **blank}), 400
    )
    assert problem["errors"] == {
        "contact.name": ["no invisible characters"],
        "shipping_address.city": ["no invisible characters"],
    }
    assert event_count() == before


def test_a_malformed_customer_id_is_refused_by_the_page_and_the_api_and_erases_nothing(staff):
    place(ApiClient(staff), "cust_ada", ADA)
    settle()  # the email filter's lookup key ("$lookup") exists now
    count = event_count()
    client = login(staff)
    for bad in ("$lookup", "not an id", "-dash-first", "x" * 65, "cust_ada\n"):
        path = quote(bad, safe="")
        assert client.post(f"/customers/{path}/forget", {"confirm": bad}).status_code == 404, bad
        assert_problem(ApiClient(staff).post(f"/api/customers/{path}/forget"), 400)
    # It takes no body: one that seems to qualify what is erased is refused.
    for raw in ('{"customer_id": "someone_else"}', "[]", "null", "false"):
        assert_problem(
            ApiClient(staff).post("/api/customers/cust_ada/forget", raw=raw), 400, "validation-error"
        )
    assert event_count() == count
    assert PersonalDataKey.objects.filter(subject_id__in=["cust_ada", "$lookup"]).count() == 2


def test_a_forget_the_rules_refuse_is_shown_on_the_customer_page(staff, monkeypatch):
    place(ApiClient(staff), "cust_ada", ADA)
    settle()
    client = login(staff)

    def contended(cmd, expected_version):
        raise ContentionError(
            "ForgetCustomer: the customer changed 10 times while the command ran; try again"
        )

    monkeypatch.setitem(commands.HANDLERS, commands.ForgetCustomer, contended)
    page = refused(
        client, "/customers/cust_ada/forget", {"confirm": "cust_ada"}, shown_at="/customers/cust_ada/"
    )

    assert "try again" in page.content.decode()
    assert PersonalDataKey.objects.filter(subject_id="cust_ada").exists()


def test_forgetting_a_known_customer_s_id_in_another_case_is_refused_naming_them(staff):
    api = ApiClient(staff)
    place(api, "cust_ada", ADA)
    settle()  # the customer is known to the read side
    before = event_count()

    problem = assert_problem(api.post("/api/customers/CUST_ADA/forget"), 409)

    assert problem["type"] == "/problems/customer-spelled-otherwise"
    assert problem["known_customer_id"] == "cust_ada"
    assert event_count() == before and PersonalDataKey.objects.filter(subject_id="cust_ada").exists()
    assert api.post("/api/customers/cust_nobody_ever/forget").json()["recorded"] is True  # in no case


def test_a_customer_the_read_side_has_not_seen_yet_can_be_forgotten_beside_one_in_another_case(
    staff, monkeypatch
):
    api = ApiClient(staff)
    place(api, "cust_ada", ADA)
    settle()
    with monkeypatch.context() as unaware:  # as before place-order refused it, or in a race
        unaware.setattr(selectors, "customer_spelled_otherwise", lambda customer_id: None)
        place(api, "CUST_ADA", GRACE)  # not projected yet: only the primary knows them

    answer = api.post("/api/customers/CUST_ADA/forget")

    assert answer.status_code == 200 and answer.json()["recorded"] is True
    assert not PersonalDataKey.objects.filter(subject_id="CUST_ADA").exists()
    assert PersonalDataKey.objects.filter(subject_id="cust_ada").exists()


def test_a_forget_replayed_with_its_idempotency_key_answers_as_the_first_time(staff):
    api = ApiClient(staff)
    place(api, "cust_ada", ADA)
    key = {"Idempotency-Key": "forget-ada-1"}
    first = api.post("/api/customers/cust_ada/forget", headers=key)

    replayed = api.post("/api/customers/cust_ada/forget", headers=key)

    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json() and first.json()["recorded"] is True


def test_forgetting_again_answers_a_token_that_reads_can_wait_for(staff):
    api = ApiClient(staff)
    place(api, "cust_ada", ADA)
    first = api.post("/api/customers/cust_ada/forget").json()
    again = api.post("/api/customers/cust_ada/forget").json()

    assert again["recorded"] is False
    assert (again["position"], again["consistency_token"]) == (first["position"], first["consistency_token"])
    settle()
    read = api.get("/api/customers/cust_ada", {"X-Min-Position": again["consistency_token"]})
    assert read.status_code == 200 and read.json()["erased"] is True
    page = login(staff).post("/customers/cust_ada/forget", {"confirm": "cust_ada"})
    assert page["Location"].endswith(f"?after={first['consistency_token']}")


def test_without_a_master_key_orders_and_products_without_personal_data_still_work(staff, settings):
    # The catalogue fixture has run with the key; from now on the server has none.
    settings.PII_MASTER_KEY = ""
    api = ApiClient(staff)
    added = api.post("/api/products/", {"sku": "NO-KEY-1", "name": "No key", "price_cents": 100})
    assert added.status_code == 201, added.content
    order = place(api, "cust_no_key", {})
    more = api.post(f"/api/orders/{order}/items", {"sku": "NO-KEY-1", "quantity": 1, "price_cents": 100})
    assert more.status_code == 200, more.content
