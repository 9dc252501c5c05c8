"""Event ids drawn by the writing process (eventstore.ids): well-formed
random UUIDs, never the same twice, in threads or in forked children."""

import os
import threading
import uuid

from eventstore.ids import new_event_id


def test_an_event_id_is_a_random_version_4_uuid_in_32_hex_digits():
    drawn = [new_event_id() for _ in range(2000)]
    for text in drawn:
        assert len(text) == 32
        parsed = uuid.UUID(text)
        assert parsed.hex == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # Every random bit varies: the variant's free bit and the digits around the version.
    assert {text[16] for text in drawn} == set("89ab")
    assert len({text[:12] for text in drawn}) == len(drawn)


def test_threads_drawing_at_once_never_share_an_id():
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(out):
        out.extend(new_event_id() for _ in range(5000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for out in drawn for text in out]
    assert len(set(every)) == len(every) == 40_000


def test_a_forked_child_draws_other_ids_than_its_parent():
    new_event_id()  # the buffer is filled before the fork, as in a forking server
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, "".join(new_event_id() for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    parent = [new_event_id() for _ in range(100)]
    child_ids = [child[i : i + 32] for i in range(0, len(child), 32)]
    assert len(child_ids) == 100
    assert not set(child_ids) & set(parent)
