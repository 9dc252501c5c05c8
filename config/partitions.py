"""``PROJECTION_PARTITIONS``: which projections are split into how many
partitions, e.g. ``order_list=4,products=2``.

Read when the settings load, so a malformed value stops every process at
start with ImproperlyConfigured instead of failing requests later. Which
projections may be partitioned is the projections app's to say (it checks
the names when it starts, ``projections.base.Registry.partition_counts``):
only those whose rows each belong to one stream (``order_list``,
``products``).
"""

import re

from django.core.exceptions import ImproperlyConfigured

# Each partition reads the whole log (and applies its share): beyond a few
# per core of the primary they only add reads.
MAX_PARTITIONS = 64

_ENTRY = re.compile(r"^([a-z][a-z0-9_]*)=([0-9]{1,4})$")


def parse(raw: str) -> dict[str, int]:
    """``name=count`` pairs, comma-separated (blank: none)."""
    counts: dict[str, int] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        match = _ENTRY.match(entry.replace(" ", ""))
        if match is None:
            raise ImproperlyConfigured(
                f"PROJECTION_PARTITIONS: {entry!r} is not name=count (e.g. order_list=4)"
            )
        name, count = match.group(1), int(match.group(2))
        if name in counts:
            raise ImproperlyConfigured(f"PROJECTION_PARTITIONS names {name} twice")
        counts[name] = check_count(name, count)
    return counts


def check_count(name: str, count) -> int:
    """A partition count: a whole number from 1 (not split) to MAX_PARTITIONS."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PARTITIONS:
        raise ImproperlyConfigured(
            f"PROJECTION_PARTITIONS: {name}={count!r}; a count is a whole number from 1 to {MAX_PARTITIONS}"
        )
    return count
