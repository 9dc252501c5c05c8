"""Extension points for code built on the event store (it imports none of it).

- ``append_listeners``: called inside the appending transaction with the
  events just written, e.g. to update an inline read model atomically.
- ``commit_listeners``: called with (database alias, global position of the
  last appended event) once the appending transaction has committed (never
  before), e.g. to nudge asynchronous projections.
"""

from collections.abc import Callable

append_listeners: list[Callable] = []
commit_listeners: list[Callable] = []


def needs_transaction() -> bool:
    """True when appends must run inside a transaction (an inline listener
    writes beside the events)."""
    return bool(append_listeners)
