"""Event ids drawn by the writing process: random version-4 UUIDs, as the 32
hex digits both databases take, cut from a buffer of the operating system's
randomness (``os.urandom``) refilled every 256 ids.

Drawn here rather than by ``gen_random_uuid()`` in the INSERT: the server's
draw cost ~8 µs of its CPU per append (OpenSSL's generator, called once per
statement, runs cold), this one under 1 µs of the client's (W1 in
docs/benchmarks.md, round seven). Threads take turns on the buffer; a forked
child (gunicorn and Celery workers fork) throws the one it inherited away, so
no two processes draw the same ids. That takes Python's at-fork hooks: a
server forking without them (uWSGI without ``py-call-osafterfork``) must
not append before it forks. The UNIQUE index on ``event_id`` still refuses
a duplicate."""

import os
import threading

_IDS_PER_DRAW = 256
_VARIANT = "89ab"  # RFC 9562: the two bits after the version are 10


class _Buffer:
    def __init__(self):
        self.lock = threading.Lock()
        self.hex, self.offset = "", 0

    def forget(self) -> None:
        self.lock = threading.Lock()
        self.hex, self.offset = "", 0

    def take(self) -> tuple[str, int]:
        """The buffer and where the next id's 32 digits start in it."""
        with self.lock:
            start = self.offset
            if start >= len(self.hex):
                self.hex, start = os.urandom(16 * _IDS_PER_DRAW).hex(), 0
            self.offset = start + 32
            return self.hex, start


_buffer = _Buffer()
os.register_at_fork(after_in_child=_buffer.forget)


def new_event_id() -> str:
    """A new random (version 4) UUID as 32 hex digits."""
    h, i = _buffer.take()
    variant = _VARIANT[int(h[i + 16], 16) & 3]
    return f"{h[i : i + 12]}4{h[i + 13 : i + 16]}{variant}{h[i + 17 : i + 32]}"
