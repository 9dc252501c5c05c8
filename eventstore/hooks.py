"""Extension points for code built on the event store (it imports none of it).

- ``append_listeners``: called inside the appending transaction with the
  events just written, e.g. to update an inline read model atomically.
- ``commit_listeners``: called with (database alias, global position of the
  last appended event) once the appending transaction has committed (never
  before), e.g. to nudge asynchronous projections.
- ``append_observers``: called with (aggregate type, the ``NewEvent``s, database
  alias) once each append has committed, before the commit listeners, e.g. to
  count them (they run on the hot path: keep them cheap).
"""

from collections.abc import Callable

append_listeners: list[Callable] = []
commit_listeners: list[Callable] = []
append_observers: list[Callable] = []


def needs_transaction() -> bool:
    """True when appends must run inside a transaction (an inline listener
    writes beside the events)."""
    return bool(append_listeners)
