"""What a projection is, and the registry of projections and process managers."""

from dataclasses import dataclass
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model

from config import partitions
from eventstore import ConcurrencyError, RecordedEvent
from projections.set_based import SetBased
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

    # Relative cost of replaying the log into it: rebuilds in several
    # processes share the work out by it.
    rebuild_weight: ClassVar[int] = 1

    # The column each table is fetched and deleted by (rebuilds cache by it).
    group_keys: ClassVar[dict[str, str]]
    # How a rebuild may build the tables in SQL instead (projections/set_based.py).
    set_based: ClassVar[SetBased | None] = None

    def tables(self, using: str = "default", rename: dict[str, str] | None = None) -> Tables:
        return Tables({logical: TableSpec(model) for logical, model in self.models.items()}, using, rename)

    def buffered_tables(
        self, using: str = "default", rename: dict[str, str] | None = None, max_rows: int = 50_000
    ) -> BufferedTables:
        specs = {logical: TableSpec(model) for logical, model in self.models.items()}
        return BufferedTables(specs, using, rename, group_keys=self.group_keys, max_rows=max_rows)

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        """Fold ``events`` into the tables; return how many changed something."""
        raise NotImplementedError

    def relevant(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """The events of a batch of the types this projection consumes."""
        return [e for e in events if e.event_type in self.event_types]


class ProcessManager:
    """Follows the event log like a projection, but reacts by issuing
    commands (a saga across aggregates) instead of writing a read model.

    The events it handles commit together with its checkpoint, a short run
    of them per transaction (the events of a run in which one fails, one per
    transaction: see ``process_runner``), so a crash resumes after the last
    commit; it is never rebuilt (that would issue its commands again). ``handle`` must be idempotent: an
    event it has handled before changes nothing.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""
    event_types: ClassVar[frozenset[str]]
    needs_metadata: ClassVar[bool] = True
    # Errors that mean "lost a race, try this event again in a new
    # transaction" rather than "this event fails".
    retry_on: ClassVar[tuple[type[Exception], ...]] = (ConcurrencyError,)
    consistency: ClassVar[str] = ASYNC

    def select(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        """The events of a batch it must handle; narrowing this cheaply saves
        reading the metadata of, and handling, events it would ignore anyway."""
        return [e for e in events if e.event_type in self.event_types]

    def handle(self, event: RecordedEvent) -> bool:
        """React to one event; False when it changed nothing (a duplicate)."""
        raise NotImplementedError


class Partition(Projection):
    """One of ``count`` partitions of a projection: the events of the streams
    whose id falls to it (``partition_of``), with a checkpoint and a lock of
    its own, so several runners advance one read model at once. Only a
    projection whose rows each belong to one stream (``supports_inline``)
    may be split: partitions then never write the same row."""

    def __init__(self, base: Projection, index: int, count: int):
        self.base, self.index, self.count = base, index, count
        self.name = partition_name(base.name, index, count)
        self.version = base.version
        self.description = f"{base.description} (partition {index + 1} of {count})"
        self.event_types = base.event_types
        self.models = base.models
        self.group_keys = base.group_keys
        self.needs_metadata = base.needs_metadata
        self.rebuild_weight = base.rebuild_weight

    @property
    def consistency(self) -> str:
        return ASYNC

    def apply(self, events: list[RecordedEvent], tables: Tables) -> int:
        return self.base.apply(events, tables)

    def relevant(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        types, index, count = self.event_types, self.index, self.count
        return [e for e in events if e.event_type in types and e.aggregate_id.int % count == index]


def partition_label(follower) -> str:
    """The ``partition`` of a follower in metrics and readiness: ``2of4`` for
    a partition (as in its checkpoint's name), "0" for a whole projection."""
    return f"{follower.index}of{follower.count}" if isinstance(follower, Partition) else "0"


def partition_name(name: str, index: int, count: int) -> str:
    """e.g. ``order_list.0of4``: the count is part of the name, so changing
    it starts new checkpoints rather than reusing ones that meant other
    streams."""
    return f"{name}.{index}of{count}"


def partition_of(aggregate_id, count: int) -> int:
    """The partition (of ``count``) a stream's events belong to."""
    return aggregate_id.int % count


Follower = Projection | ProcessManager


@dataclass
class Registry:
    """Every projection and process manager, by name."""

    followers: dict[str, Follower]

    def register(self, follower: Follower) -> None:
        self.followers[follower.name] = follower

    def partitionable(self) -> list[str]:
        """The projections PROJECTION_PARTITIONS may split: those whose rows
        each belong to one stream."""
        return sorted(n for n, f in self.followers.items() if isinstance(f, Projection) and f.supports_inline)

    def partition_counts(self) -> dict[str, int]:
        """PROJECTION_PARTITIONS, checked against the registry (the app checks
        it at start, so a wrong value stops the process there): projections
        that may be split, into 1 to MAX_PARTITIONS, neither inline nor in
        the in-process mode (partitions exist to spread work over workers;
        in one web process they only repeat the reading)."""
        counts: dict[str, int] = {}
        for name, count in (getattr(settings, "PROJECTION_PARTITIONS", None) or {}).items():
            follower = self.followers.get(name)
            if not isinstance(follower, Projection):
                raise ImproperlyConfigured(
                    f"PROJECTION_PARTITIONS names {name!r}, which is not a projection; these may be "
                    f"partitioned: {', '.join(self.partitionable())}"
                )
            if not follower.supports_inline:
                raise ImproperlyConfigured(
                    f"PROJECTION_PARTITIONS: projection {name} cannot be partitioned; only read models "
                    f"whose rows each belong to one stream can: {', '.join(self.partitionable())}"
                )
            counts[name] = count = partitions.check_count(name, count)
            if count > 1 and follower.consistency == INLINE:
                raise ImproperlyConfigured(f"projection {name} is inline; it cannot also be partitioned")
            if count > 1 and getattr(settings, "PROJECTIONS_MODE", "") == "inprocess":
                raise ImproperlyConfigured(
                    f"PROJECTION_PARTITIONS ({name}={count}) needs projections run by workers "
                    "(PROJECTIONS_MODE=celery or off); in-process projections run in each web process"
                )
        return counts

    def _expanded(self) -> list[Follower]:
        """Every runnable follower: a partitioned projection as its partitions
        (PROJECTION_PARTITIONS, e.g. ``order_list=4``)."""
        counts = self.partition_counts()
        out: list[Follower] = []
        for name in sorted(self.followers):
            follower = self.followers[name]
            count = counts.get(name, 1)
            if count <= 1 or not isinstance(follower, Projection):
                out.append(follower)
                continue
            out += [Partition(follower, index, count) for index in range(count)]
        return out

    def get(self, name: str) -> Follower:
        if name in self.followers:
            return self.followers[name]
        for follower in self._expanded():
            if follower.name == name:
                return follower
        known = ", ".join(sorted(self.followers))
        raise KeyError(f"no projection {name!r}; known: {known}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.followers or any(f.name == name for f in self._expanded())

    def all(self) -> list[Follower]:
        """Every projection (partitioned ones as their partitions) and
        process manager: what runners advance, each with a checkpoint."""
        return self._expanded()

    def projections(self) -> list[Projection]:
        """The read models as runners advance them (partitions included)."""
        return [f for f in self.all() if isinstance(f, Projection)]

    def read_models(self) -> list[Projection]:
        """The read models, one each (what a rebuild rebuilds)."""
        return [f for name, f in sorted(self.followers.items()) if isinstance(f, Projection)]

    def process_managers(self) -> list[ProcessManager]:
        return [f for f in self.all() if isinstance(f, ProcessManager)]

    def check_consistency(self) -> None:
        """PROJECTION_CONSISTENCY names read models, each inline or async (the
        app checks it at start, so a wrong value stops the process there)."""
        for name, wanted in (getattr(settings, "PROJECTION_CONSISTENCY", None) or {}).items():
            if wanted not in (INLINE, ASYNC):
                raise ImproperlyConfigured(f"PROJECTION_CONSISTENCY: {name}={wanted!r}: inline or async")
            if not isinstance(self.followers.get(name), Projection):
                known = ", ".join(p.name for p in self.read_models())
                raise ImproperlyConfigured(
                    f"PROJECTION_CONSISTENCY names {name!r}, not a read model: {known}"
                )

    def inline(self) -> list[Projection]:
        return [p for p in self.read_models() if p.consistency == INLINE]

    def checkpoint_names(self, name: str) -> tuple[str, ...]:
        """The checkpoints a projection's readers wait on: its own, or its
        partitions'."""
        if name not in self.followers:
            return (name,)
        found = tuple(
            f.name for f in self.all() if f.name == name or (isinstance(f, Partition) and f.base.name == name)
        )
        return found or (name,)


registry = Registry({})
