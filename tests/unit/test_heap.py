"""What start-up leaves alive is set aside from the garbage collector
(config.heap), and garbage is collected first rather than kept for ever."""

import gc
import weakref

from config import heap


def test_start_up_sets_what_the_apps_loaded_aside():
    # Django is set up for the tests: the last app's ready() froze the heap.
    assert gc.get_freeze_count() > 10_000


def test_garbage_made_before_the_freeze_is_collected_not_kept_for_ever():
    class Node:
        pass

    node = Node()
    node.itself = node  # a cycle: only the cyclic collector frees it
    gone = weakref.ref(node)
    del node
    heap.freeze()
    assert gone() is None


def test_objects_made_after_the_freeze_are_collected_as_usual():
    heap.freeze()

    class Node:
        pass

    node = Node()
    node.itself = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None
