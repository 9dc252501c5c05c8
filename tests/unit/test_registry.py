import pytest

from eventstore.errors import EventSchemaError, UnknownEventTypeError, UpcastError
from eventstore.registry import EventTypeRegistry

V1 = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}
V2 = {
    "type": "object",
    "properties": {"first": {"type": "string"}, "last": {"type": "string"}},
    "required": ["first", "last"],
    "additionalProperties": False,
}
V3 = {
    "type": "object",
    "properties": {"first": {"type": "string"}, "last": {"type": "string"}, "vip": {"type": "boolean"}},
    "required": ["first", "last", "vip"],
}


def split_name(data):
    first, _, last = data["name"].partition(" ")
    return {"first": first, "last": last}


def add_vip(data):
    return {**data, "vip": False}


@pytest.fixture
def reg():
    r = EventTypeRegistry()
    r.register("CustomerRegistered", V1, aggregate_type="Customer", description="A customer signed up")
    return r


def test_valid_data_passes_and_returns_current_version(reg):
    assert reg.validate("CustomerRegistered", {"name": "Ada Lovelace"}) == 1


def test_data_that_breaks_the_schema_is_refused_with_every_reason(reg):
    with pytest.raises(EventSchemaError) as err:
        reg.validate("CustomerRegistered", {"name": 3, "extra": True})
    assert err.value.event_type == "CustomerRegistered"
    assert len(err.value.errors) == 2
    assert any("name" in e for e in err.value.errors)


def test_unregistered_type_is_refused(reg):
    with pytest.raises(UnknownEventTypeError):
        reg.validate("CustomerDeleted", {})


def test_upcasters_chain_from_any_old_version_to_the_current_one(reg):
    reg.register("CustomerRegistered", V2, version=2, upcast_from_previous=split_name)
    reg.register("CustomerRegistered", V3, version=3, upcast_from_previous=add_vip)
    assert reg.current_versions["CustomerRegistered"] == 3
    assert reg.upcast("CustomerRegistered", 1, {"name": "Ada Lovelace"}) == {
        "first": "Ada",
        "last": "Lovelace",
        "vip": False,
    }
    assert reg.upcast("CustomerRegistered", 2, {"first": "A", "last": "B"}) == {
        "first": "A",
        "last": "B",
        "vip": False,
    }
    # New writes are validated against the newest schema only.
    with pytest.raises(EventSchemaError):
        reg.validate("CustomerRegistered", {"name": "Ada Lovelace"})


def test_a_later_version_needs_an_upcaster_and_versions_come_in_order(reg):
    with pytest.raises(ValueError, match="upcaster"):
        reg.register("CustomerRegistered", V2, version=2)
    with pytest.raises(ValueError, match="in order"):
        reg.register("CustomerRegistered", V3, version=3, upcast_from_previous=add_vip)
    with pytest.raises(ValueError, match="version 1 first"):
        reg.register("Other", V1, version=2, upcast_from_previous=add_vip)


def test_reregistering_the_same_schema_is_harmless_but_a_different_one_is_refused(reg):
    reg.register("CustomerRegistered", V1)
    with pytest.raises(ValueError, match="another schema"):
        reg.register("CustomerRegistered", V2)


def test_an_invalid_json_schema_is_refused_at_registration():
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        EventTypeRegistry().register("Broken", {"type": "no-such-type"})


def test_a_failing_upcaster_names_the_event_and_versions(reg):
    reg.register("CustomerRegistered", V2, version=2, upcast_from_previous=split_name)
    with pytest.raises(UpcastError, match="CustomerRegistered v1 -> v2"):
        reg.upcast("CustomerRegistered", 1, {"no_name": True})
    with pytest.raises(UpcastError, match="no schema version 7"):
        reg.upcast("CustomerRegistered", 7, {})


def test_catalog_is_plain_data_with_every_version(reg):
    reg.register("CustomerRegistered", V2, version=2, upcast_from_previous=split_name)
    reg.register("AddressChanged", {"type": "object"}, aggregate_type="Customer")
    catalog = reg.catalog()
    assert [t["event_type"] for t in catalog] == ["AddressChanged", "CustomerRegistered"]
    customer = catalog[1]
    assert customer["current_version"] == 2
    assert customer["aggregate_type"] == "Customer"
    assert [v["version"] for v in customer["versions"]] == [1, 2]
    assert customer["versions"][0]["schema"] == V1
    import json

    assert json.loads(json.dumps(catalog)) == catalog  # serialisable as it is
