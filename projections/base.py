"""What a projection is, and the registry of them."""

from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from eventstore import RecordedEvent
from projections.tables import BufferedTables, Tables, TableSpec

INLINE, ASYNC = "inline", "async"


class ProjectionError(Exception):
    """The event log and a read model disagree (an event for an unknown
    order, a version gap): the projection must stop rather than guess."""


class Projection:
    """A read model kept up to date from the event log.

    ``apply`` receives a batch of events (only of the types in
    ``event_types``, in global order) and must be idempotent: events it has
    already applied (per-row ``version``) change nothing.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    event_types: ClassVar[frozenset[str]]
    models: ClassVar[dict[str, type[Model]]]
    # Whether apply() reads event metadata; reading without it is cheaper.
    needs_metadata: ClassVar[bool] = False
    # Process managers issue commands: each event gets its own transaction
    # (with its checkpoint), and they are never rebuilt (that would repeat
    # their commands).
    transaction_per_event: ClassVar[bool] = False
    rebuildable: ClassVar[bool] = True
    # Inline writers run concurrently; only projections whose rows belong to
    # one stream each (so concurrent commands never touch the same row) may.
    supports_inline: ClassVar[bool] = False

    @property
    def consistency(self) -> str:
        wanted = getattr(settings, "PROJECTION_CONSISTENCY", {}).get(self.name, ASYNC)
        if wanted == INLINE and not self.supports_inline:
            raise ImproperlyConfigured(
                f"projection {self.name} cannot be inline: its rows gather several streams, "
                "and concurrent commands would overwrite each other's counts"
            )
        return wanted

    # The column each table is fetched and deleted by (rebuilds cache by it).
    group_keys: ClassVar[dict[str, str]]

    def tables(self, using: str = "default", rename: dict[str, str] | None = None) -> Tables:
        return Tables({logical: TableSpec(model) for logical, model in self.models.items()}, using, rename)

    def buffered_tables(self, using: str = "default", rename: dict[str, str] | None = None) -> BufferedTables:
        specs = {logical: TableSpec(model) for logical, model in self.models.items()}
        return BufferedTables(specs, using, rename, group_keys=self.group_keys)

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        """Fold ``events`` into the tables; return how many changed something."""
        raise NotImplementedError

    def select(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """The events of a batch this projection must see (process managers
        narrow it further, cheaply, before a transaction per event)."""
        return [e for e in events if e.event_type in self.event_types]


@dataclass
class Registry:
    projections: dict[str, Projection]

    def register(self, projection: Projection) -> None:
        self.projections[projection.name] = projection

    def get(self, name: str) -> Projection:
        try:
            return self.projections[name]
        except KeyError:
            known = ", ".join(sorted(self.projections))
            raise KeyError(f"no projection {name!r}; known: {known}") from None

    def all(self) -> list[Projection]:
        return [self.projections[name] for name in sorted(self.projections)]

    def inline(self) -> list[Projection]:
        return [p for p in self.all() if p.consistency == INLINE]


registry = Registry({})
