"""The event catalog: every event type, its schema versions and upcasters.

Kept as plain data (``catalog()`` returns lists and dicts) so that the HTTP
catalog endpoint, the docs and tests can all serve it as it is.

Versions of a type are registered in order, 1, 2, ...; each version after the
first comes with an upcaster that turns data of the previous version into its
own shape. Events are always written at the current version and read back
upcast to it, however old they are.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from eventstore.errors import EventSchemaError, UnknownEventTypeError, UpcastError
from eventstore.personal import PersonalFields

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    version: int
    schema: dict[str, Any]
    upcaster: Upcaster | None
    validator: Any = field(repr=False, compare=False)
    personal: PersonalFields | None = None


@dataclass(slots=True)
class EventType:
    name: str
    aggregate_type: str
    description: str
    versions: list[SchemaVersion] = field(default_factory=list)

    @property
    def current(self) -> SchemaVersion:
        return self.versions[-1]


class EventTypeRegistry:
    """Registered event types. One process-wide instance lives in ``registry``."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}
        # event type -> current version; read for every event on hot paths.
        self.current_versions: dict[str, int] = {}
        # Types with personal (encrypted) fields in any version: their
        # envelopes are opened on read.
        self.personal_types: frozenset[str] = frozenset()

    def register(
        self,
        event_type: str,
        schema: dict[str, Any],
        *,
        version: int = 1,
        aggregate_type: str = "",
        description: str = "",
        upcast_from_previous: Upcaster | None = None,
    ) -> None:
        """Register ``version`` of ``event_type``. Re-registering the same
        version with the same schema is a no-op (module reloads, tests)."""
        if not jsonschema_rs.meta.is_valid(schema):
            raise ValueError(f"{event_type} v{version}: not a valid JSON Schema")
        entry = self._types.get(event_type)
        if entry is None:
            if version != 1:
                raise ValueError(f"{event_type}: register version 1 first")
            entry = EventType(event_type, aggregate_type, description)
            self._types[event_type] = entry
        elif version <= len(entry.versions):
            if entry.versions[version - 1].schema == schema:
                return
            raise ValueError(f"{event_type} v{version} is already registered with another schema")
        elif version != len(entry.versions) + 1:
            raise ValueError(f"{event_type}: versions must be registered in order")
        if version > 1 and upcast_from_previous is None:
            raise ValueError(f"{event_type} v{version} needs an upcaster from v{version - 1}")
        personal = PersonalFields.of_schema(event_type, schema)
        validator = jsonschema_rs.validator_for(schema)
        entry.versions.append(SchemaVersion(version, schema, upcast_from_previous, validator, personal))
        if personal is not None:
            self.personal_types = self.personal_types | {event_type}
        if description:
            entry.description = description
        self.current_versions[event_type] = version

    def get(self, event_type: str) -> EventType:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventTypeError(event_type) from None

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._types

    def personal_fields(self, event_type: str) -> PersonalFields | None:
        """The personal fields of the current version (encrypted on append)."""
        return self.get(event_type).current.personal

    def validate(self, event_type: str, data: dict[str, Any]) -> int:
        """Check ``data`` against the current schema; return that version."""
        current = self.get(event_type).current
        if not current.validator.is_valid(data):
            errors = [
                f"{'/'.join(map(str, err.instance_path)) or '(root)'}: {err.message}"
                for err in current.validator.iter_errors(data)
            ]
            raise EventSchemaError(event_type, current.version, errors)
        return current.version

    def upcast(self, event_type: str, stored_version: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring data stored at ``stored_version`` to the current version."""
        entry = self.get(event_type)
        if stored_version < 1 or stored_version > len(entry.versions):
            raise UpcastError(f"{event_type} has no schema version {stored_version}")
        for step in entry.versions[stored_version:]:
            try:
                data = step.upcaster(data)  # type: ignore[misc]
            except Exception as exc:  # an upcaster bug must name the event it broke on
                raise UpcastError(f"{event_type} v{step.version - 1} -> v{step.version}: {exc}") from exc
        return data

    def catalog(self) -> list[dict[str, Any]]:
        """Every registered type with all its schema versions, as plain data."""
        return [
            {
                "event_type": t.name,
                "aggregate_type": t.aggregate_type,
                "description": t.description,
                "current_version": t.current.version,
                "versions": [
                    {
                        "version": v.version,
                        "schema": v.schema,
                        "upcast_from_previous": v.version > 1,
                        "personal_fields": sorted(v.personal.fields) if v.personal else [],
                        "personal_subject": v.personal.subject if v.personal else None,
                    }
                    for v in t.versions
                ],
            }
            for t in sorted(self._types.values(), key=lambda t: t.name)
        ]


registry = EventTypeRegistry()
