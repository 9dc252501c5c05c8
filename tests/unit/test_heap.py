"""What start-up leaves alive is set aside from the garbage collector
(config.heap), garbage is collected first rather than kept for ever, and
what is made later is collected as usual. Each case runs in a process of
its own: freezing is for the whole life of a process."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_setting_django_up_freezes_what_the_apps_loaded():
    found = _run(
        "import gc, json, django\n"
        "before = gc.get_freeze_count()\n"
        "django.setup()\n"
        "print(json.dumps({'before': before, 'after': gc.get_freeze_count()}))\n"
    )
    assert found["before"] == 0
    assert found["after"] > 10_000


def test_the_web_server_also_freezes_its_urls_and_views():
    found = _run(
        "import gc, json, sys, django\n"
        "django.setup()\n"
        "apps = gc.get_freeze_count()\n"
        "import config.wsgi\n"
        "print(json.dumps({'apps': apps, 'wsgi': gc.get_freeze_count(),"
        " 'urls': 'orders.urls' in sys.modules}))\n"
    )
    assert found["urls"]  # loaded at start, not by the first request
    assert found["wsgi"] > found["apps"]


def test_garbage_is_collected_before_the_freeze_and_later_objects_as_usual():
    found = _run(
        "import gc, json, weakref\n"
        "from config import heap\n"
        "class Node: pass\n"
        "def cycle():\n"
        "    node = Node(); node.itself = node; return weakref.ref(node)\n"
        "before = cycle()\n"  # garbage only the cyclic collector frees
        "heap.freeze()\n"
        "after = cycle()\n"
        "gc.collect()\n"
        "print(json.dumps({'before': before() is None, 'after': after() is None}))\n"
    )
    assert found == {"before": True, "after": True}
