"""PROJECTION_PARTITIONS is checked when a process starts: a malformed
value, a projection that cannot be split (its rows gather several streams
or keys), an inline projection or the in-process mode stop it there with
ImproperlyConfigured, instead of failing requests later (no database)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import partitions
from projections.base import registry

ROOT = Path(__file__).resolve().parents[2]


def test_counts_are_read_from_name_count_pairs():
    assert partitions.parse("") == {}
    assert partitions.parse("order_list=4, products=2,") == {"order_list": 4, "products": 2}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("order_list", "'order_list' is not name=count"),
        ("order_list=abc", "'order_list=abc' is not name=count"),
        ("order_list=-1", "'order_list=-1' is not name=count"),
        ("order_list=0", "order_list=0; a count is a whole number from 1 to 64"),
        ("order_list=65", "order_list=65; a count is a whole number from 1 to 64"),
        ("order_list=2,order_list=3", "names order_list twice"),
    ],
)
def test_malformed_counts_are_refused(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        partitions.parse(raw)


@pytest.mark.parametrize(
    ("counts", "mode", "message"),
    [
        ({"inventory": 2}, "celery", "inventory cannot be partitioned; .* can: order_list, products"),
        ({"customer_summary": 2}, "off", "customer_summary cannot be partitioned"),
        ({"no_such_thing": 2}, "celery", "'no_such_thing', which is not a projection"),
        ({"fulfilment": 2}, "celery", "'fulfilment', which is not a projection"),
        ({"order_list": 2}, "inprocess", r"needs projections run by workers"),
        ({"order_list": "2"}, "celery", "a count is a whole number"),
    ],
)
def test_partitions_the_registry_cannot_have_are_refused(settings, counts, mode, message):
    settings.PROJECTION_PARTITIONS = counts
    settings.PROJECTIONS_MODE = mode
    with pytest.raises(ImproperlyConfigured, match=message):
        registry.partition_counts()
    with pytest.raises(ImproperlyConfigured):
        registry.all()


def test_an_inline_projection_cannot_also_be_partitioned(settings):
    settings.PROJECTION_CONSISTENCY = {"order_list": "inline"}
    settings.PROJECTION_PARTITIONS = {"order_list": 2}
    with pytest.raises(ImproperlyConfigured, match="order_list is inline"):
        registry.partition_counts()


def test_partitions_of_the_projections_that_allow_them(settings):
    settings.PROJECTION_PARTITIONS = {"order_list": 3, "products": 1}
    assert registry.partition_counts() == {"order_list": 3, "products": 1}
    assert [f.name for f in registry.all() if f.name.startswith("order_list")] == [
        "order_list.0of3",
        "order_list.1of3",
        "order_list.2of3",
    ]
    assert registry.partitionable() == ["order_list", "products"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("inventory=2", "projection inventory cannot be partitioned"),
        ("order_list=lots", "'order_list=lots' is not name=count"),
        ("order_list=2", None),
    ],
)
def test_a_process_with_wrong_partitions_stops_at_start(tmp_path, value, message):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(tmp_path), DEBUG="true", PROJECTIONS_MODE="celery", PROJECTION_PARTITIONS=value)
    wsgi = [sys.executable, "-c", "import config.wsgi"]  # what gunicorn does first
    started = subprocess.run(wsgi, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if message is None:
        assert started.returncode == 0, started.stderr
    else:
        assert started.returncode != 0
        assert "ImproperlyConfigured" in started.stderr and message in started.stderr
