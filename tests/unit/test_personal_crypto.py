"""The crypto of personal data (no database): envelopes, the master key that
wraps data keys, and which schema fields are personal; and the order
domain's contact and shipping address."""

import base64
import os
import uuid

import pytest

from eventstore.errors import MasterKeyError, PersonalDataError
from eventstore.master_key import Keyring, master_key_id, parse_master_key
from eventstore.personal import ERASED, PersonalFields, is_envelope, open_values, seal_values
from orders.domain import InvalidOrderDataError, OrderAggregate, OrderStatus, rules
from orders.domain.aggregate import SNAPSHOT_SCHEMA_VERSION
from orders.domain.errors import OrderAlreadyCancelledError, ShippingAddressErasedError
from orders.domain.events import ShippingAddressChanged, ShippingDetailsGiven
from orders.domain.shipping import Contact, ShippingAddress

KEY_ID, DATA_KEY = "k1", os.urandom(32)
AAD = uuid.uuid4().bytes
VALUES = {"name": "Ada Lovelace", "email": "ada@example.com", "line2": None}


def test_values_round_trip_through_their_envelopes():
    sealed = seal_values(KEY_ID, DATA_KEY, VALUES, AAD)

    assert is_envelope(sealed["name"]) and is_envelope(sealed["email"])
    assert sealed["line2"] is None  # nothing to hide
    assert "Ada" not in str(sealed) and "example.com" not in str(sealed)
    assert open_values(sealed, AAD, {KEY_ID: DATA_KEY}) == VALUES


def test_each_value_gets_its_own_nonce():
    a, b = (
        seal_values(KEY_ID, DATA_KEY, {"x": "same"}, AAD),
        seal_values(KEY_ID, DATA_KEY, {"x": "same"}, AAD),
    )
    assert a["x"]["n"] != b["x"]["n"] and a["x"]["ct"] != b["x"]["ct"]


def test_a_value_whose_key_is_gone_reads_as_erased():
    sealed = seal_values(KEY_ID, DATA_KEY, VALUES, AAD)
    assert open_values(sealed, AAD, {}) == {"name": ERASED, "email": ERASED, "line2": None}


def test_another_key_is_refused_not_read_as_garbage():
    sealed = seal_values(KEY_ID, DATA_KEY, VALUES, AAD)
    with pytest.raises(PersonalDataError):
        open_values(sealed, AAD, {KEY_ID: os.urandom(32)})


def test_a_tampered_ciphertext_is_refused():
    sealed = seal_values(KEY_ID, DATA_KEY, VALUES, AAD)
    raw = bytearray(base64.b64decode(sealed["name"]["ct"]))
    raw[0] ^= 1
    sealed["name"] = {**sealed["name"], "ct": base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(PersonalDataError):
        open_values(sealed, AAD, {KEY_ID: DATA_KEY})


def test_a_value_moved_to_another_event_is_refused():
    sealed = seal_values(KEY_ID, DATA_KEY, VALUES, AAD)
    with pytest.raises(PersonalDataError):
        open_values(sealed, uuid.uuid4().bytes, {KEY_ID: DATA_KEY})


def test_the_master_key_wraps_and_unwraps_data_keys():
    ring = Keyring.of(os.urandom(32))
    kek_id, wrapped = ring.wrap(KEY_ID, DATA_KEY)
    assert kek_id == ring.current_id
    assert ring.unwrap(kek_id, KEY_ID, wrapped) == DATA_KEY


def test_another_master_key_cannot_unwrap_and_says_so():
    kek_id, wrapped = Keyring.of(os.urandom(32)).wrap(KEY_ID, DATA_KEY)
    with pytest.raises(MasterKeyError, match="neither PII_MASTER_KEY"):
        Keyring.of(os.urandom(32)).unwrap(kek_id, KEY_ID, wrapped)


def test_a_wrapped_key_moved_to_another_row_is_refused():
    ring = Keyring.of(os.urandom(32))
    kek_id, wrapped = ring.wrap(KEY_ID, DATA_KEY)
    with pytest.raises(MasterKeyError, match="altered"):
        ring.unwrap(kek_id, "another-key-id", wrapped)


def test_a_previous_master_key_still_unwraps_during_a_rotation():
    old, new = os.urandom(32), os.urandom(32)
    kek_id, wrapped = Keyring.of(old).wrap(KEY_ID, DATA_KEY)
    ring = Keyring.of(new, [old])
    assert ring.current_id == master_key_id(new)
    assert ring.unwrap(kek_id, KEY_ID, wrapped) == DATA_KEY


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_master_key_is_refused_with_how_to_make_one(text):
    with pytest.raises(MasterKeyError, match="base64 of 32 random bytes"):
        parse_master_key(text)


def test_master_keys_parse_in_either_base64_alphabet():
    raw = bytes(range(250, 256)) * 5 + b"\xfb\xff"
    assert parse_master_key(base64.b64encode(raw).decode()) == raw
    assert parse_master_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw


def test_personal_fields_come_from_the_schema():
    spec = PersonalFields.of_schema("ShippingDetailsGiven", ShippingDetailsGiven.schema)
    assert spec.subject == "customer_id"
    assert spec.fields == {"name", "email", "address_line1", "address_line2", "postcode", "city"}
    assert PersonalFields.of_schema("X", {"type": "object", "properties": {"a": {}}}) is None


def test_personal_fields_without_a_required_subject_are_refused():
    schema = {"type": "object", "properties": {"a": {"x-personal": True}}, "required": []}
    with pytest.raises(ValueError, match="x-personal-subject"):
        PersonalFields.of_schema("X", schema)


# -- the order domain ---------------------------------------------------------------------

CONTACT = Contact("Ada Lovelace", "ada@example.com")
ADDRESS = ShippingAddress("12 Analytical Row", None, "N1 9GU", "London", "GB")


def placed_with_details() -> OrderAggregate:
    order = OrderAggregate(uuid.uuid4())
    order.place("cust_1", [("WIDGET-A", 1, 100)], contact=CONTACT, address=ADDRESS)
    return order


def test_placing_with_details_records_them_beside_the_order_placed():
    order = placed_with_details()
    assert [e.event_type for e in order.pending] == ["OrderPlaced", "ShippingDetailsGiven"]
    details = order.pending[1]
    assert (details.customer_id, details.name, details.city, details.country) == (
        "cust_1",
        "Ada Lovelace",
        "London",
        "GB",
    )
    assert order.contact == CONTACT and order.shipping_address == ADDRESS


def test_the_contact_without_an_address_is_refused():
    order = OrderAggregate(uuid.uuid4())
    with pytest.raises(InvalidOrderDataError, match="both"):
        order.place("cust_1", [("WIDGET-A", 1, 100)], contact=CONTACT)
    assert order.pending == []


def test_an_erased_address_cannot_be_shipped_to_until_a_new_one_is_given():
    order = OrderAggregate.from_history(
        uuid.uuid4(),
        [
            *placed_with_details().pending[:1],
            ShippingDetailsGiven(
                "cust_1", rules.ERASED, rules.ERASED, rules.ERASED, None, None, rules.ERASED, "GB"
            ),
        ],
    )
    with pytest.raises(ShippingAddressErasedError, match="forgotten"):
        order.ship()
    order.change_shipping_address(ShippingAddress("1 Rue", None, "75001", "Paris", "FR"))
    order.ship()
    assert order.status is OrderStatus.SHIPPED


def test_a_closed_order_keeps_its_address():
    order = placed_with_details()
    order.cancel("gone")
    with pytest.raises(OrderAlreadyCancelledError):
        order.change_shipping_address(ADDRESS)


def test_the_snapshot_keeps_personal_values_apart_for_the_store_to_encrypt():
    order = placed_with_details()
    order.change_shipping_address(ShippingAddress("1 Rue", "bis", None, "Paris", "FR"))
    state = order.to_snapshot()
    personal = state.pop("$personal")
    assert personal["subject"] == "cust_1"
    assert "Ada Lovelace" not in str(state) and "Paris" not in str(state)
    assert SNAPSHOT_SCHEMA_VERSION == 3
    back = OrderAggregate.from_snapshot(order.id, {**state, "$personal": personal})
    assert back.state() == order.state()


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: Contact.checked("", "a@b.co"), "name"),
        (lambda: Contact.checked("x" * 201, "a@b.co"), "name"),
        (lambda: Contact.checked("Ada\nLovelace", "a@b.co"), "name"),
        (lambda: Contact.checked(rules.ERASED, "a@b.co"), "name"),
        (lambda: Contact.checked("Ada", "not-an-email"), "email"),
        (lambda: ShippingAddress.checked("", None, None, "City", "GB"), "address_line1"),
        (lambda: ShippingAddress.checked("Line", None, "x" * 21, "City", "GB"), "postcode"),
        (lambda: ShippingAddress.checked("Line", None, None, "City", "gb"), "country"),
    ],
)
def test_details_a_customer_cannot_have_are_refused(build, field):
    with pytest.raises(InvalidOrderDataError) as caught:
        build()
    assert caught.value.field == field


def test_an_address_change_records_the_customer_as_its_subject():
    order = placed_with_details()
    order.pending = []
    order.change_shipping_address(ADDRESS)
    (event,) = order.pending
    assert isinstance(event, ShippingAddressChanged) and event.customer_id == "cust_1"
